"""The Chat pane's widgets: one message on screen (text, embeds, components) and the pane's own notices.

A message is rendered by :mod:`tui_bot.tui.chat_render`; its buttons and selects are Textual widgets
that remember which message and component they stand for, so the pane can click or pick them in the
sandbox as the chosen member.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import TypeGuard

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import HorizontalGroup, VerticalGroup
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Button, Select, Static

from tui_bot.sandbox.world import Message

from .chat_render import ComponentSpec, component_rows, fingerprint, is_ephemeral, message_renderable
from .discord_text import Directory


@dataclass(frozen=True)
class MessageView:
    """How messages are rendered right now: names in the guild, who is looking, which clock."""

    directory: Directory
    viewer_id: int | None
    timezone: tzinfo | None = None


class ComponentButton(Button):
    """A button of a bot message; pressing it clicks it in the sandbox as the chosen member."""

    def __init__(self, message_id: int, spec: ComponentSpec) -> None:
        super().__init__(
            Content(spec.label),  # Content, not str: a label like "[1/2]" is not markup
            variant=spec.variant,
            disabled=spec.disabled,
            compact=True,
            tooltip=spec.url,
        )
        self.message_id = message_id
        self.spec = spec


class ComponentSelect(Select[str]):
    """A select menu of a bot message; picking a value picks it in the sandbox as the chosen member.

    Only one value is picked at a time (``max_values`` above one is not offered yet).
    """

    def __init__(self, message_id: int, spec: ComponentSpec) -> None:
        super().__init__(
            [(Text(label), value) for label, value in spec.options],
            prompt=spec.placeholder,
            allow_blank=spec.default is None,
            value=spec.default if spec.default is not None else Select.NULL,
            disabled=spec.disabled,
            compact=True,
        )
        self.message_id = message_id
        self.spec = spec

    def show_message_state(self) -> None:
        """Back to what the message says is selected (Discord's client does so after a pick)."""
        if self.spec.default is None:
            self.clear()
        else:
            self.value = self.spec.default


def component_widget(message_id: int, spec: ComponentSpec) -> Widget:
    """The Textual widget for one component of message ``message_id``."""
    if spec.kind == "select":
        return ComponentSelect(message_id, spec)
    return ComponentButton(message_id, spec)


class ChatMessage(VerticalGroup):
    """One message: its text and embeds, then a row of widgets per row of components.

    A deleted message stays, dimmed and marked "(deleted)", without its components (nothing can
    click them any more).
    """

    def __init__(self, message: Message, view: MessageView, *, deleted: bool = False) -> None:
        super().__init__()
        self.message = message
        self.message_id = message.id
        self.view = view
        self.deleted = deleted
        self.fingerprint = fingerprint(message, deleted=deleted)
        self._set_classes()

    def _set_classes(self) -> None:
        self.set_class(is_ephemeral(self.message), "-ephemeral")
        self.set_class(self.deleted, "-deleted")

    def compose(self) -> ComposeResult:
        body = message_renderable(
            self.message,
            self.view.directory,
            viewer_id=self.view.viewer_id,
            timezone=self.view.timezone,
            deleted=self.deleted,
        )
        yield Static(body, classes="chat-body")
        if self.deleted:
            return
        for row in component_rows(self.message.components, self.view.directory):
            with HorizontalGroup(classes="chat-components"):
                for spec in row:
                    yield component_widget(self.message.id, spec)

    @property
    def components(self) -> list[ComponentButton | ComponentSelect]:
        """The message's buttons and selects, in order."""
        return [w for w in self.query("ComponentButton, ComponentSelect") if _is_component(w)]

    async def show(self, message: Message, view: MessageView, *, deleted: bool = False) -> None:
        """Re-render after an edit (or a deletion), keeping keyboard focus on the same component if
        it still works."""
        focused = self._focused_index()
        self.message, self.view, self.deleted = message, view, deleted
        self.fingerprint = fingerprint(message, deleted=deleted)
        await self.recompose()
        self._set_classes()  # after the body: a "-deleted" message already reads "(deleted)"
        if focused is not None:
            self._refocus(*focused)

    def _focused_index(self) -> tuple[int, str | None] | None:
        focused = self.screen.focused if self.is_attached else None
        if focused is None:
            return None
        for node in focused.ancestors_with_self:
            if _is_component(node) and node.message_id == self.message_id:
                return self.components.index(node), node.spec.custom_id
        return None

    def _refocus(self, index: int, custom_id: str | None) -> None:
        # The same component if it is still there and enabled (the help menu's "next" button on page
        # one), else the enabled one nearest where focus was (on the last page "next" is disabled).
        widgets = self.components
        usable = [(i, w) for i, w in enumerate(widgets) if w.focusable]
        same = [w for _, w in usable if w.spec.custom_id == custom_id and custom_id is not None]
        if same:
            same[0].focus()
        elif usable:
            min(usable, key=lambda pair: abs(pair[0] - index))[1].focus()


def _is_component(node: object) -> TypeGuard[ComponentButton | ComponentSelect]:
    return isinstance(node, ComponentButton | ComponentSelect)


class ChatNotice(Static):
    """A line from the console itself in the chat: an error (``"error"``), a warning, or news such as a
    form the bot opened (``"info"``)."""

    def __init__(self, text: str, channel_id: int | None, severity: str = "error") -> None:
        super().__init__(Text(text), classes=f"chat-notice -{severity}")
        self.channel_id = channel_id
