"""A bot's form (a Discord modal) as a Textual modal screen: the Chat pane opens it, the operator fills
it in and submits it as the member the bot showed it to.

Each input of the modal (``tui_bot.sandbox.forms.form_items``) becomes the Textual widget closest to
Discord's: an ``Input`` for a short text input and a ``TextArea`` for a paragraph, a ``Select`` for a
one-value select and a ``SelectionList`` for a multi-value one or a checkbox group (user, role,
channel and mentionable selects offer the guild's members, roles and channels), a ``RadioSet`` for a
radio group, a ``Checkbox``, and an ``Input`` of file paths for a file upload. Text displays are shown
as Discord markdown.

Submit (the button or Ctrl+S) hands the values to the pane's ``submit`` coroutine; if the sandbox
refuses them (a required field left empty, a text too short...), the reason is shown in the form,
which stays open, as Discord's client keeps a form open until it is valid. Cancel (the button or Esc)
dismisses it and nothing is sent, as on Discord.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    RadioButton,
    RadioSet,
    Select,
    SelectionList,
    Static,
    TextArea,
)

from tui_bot.sandbox.forms import (
    CHECKBOX,
    CHECKBOX_GROUP,
    ENTITY_SELECTS,
    FILE_UPLOAD,
    RADIO_GROUP,
    TEXT_INPUT,
    FormField,
    FormText,
    form_items,
)
from tui_bot.sandbox.interaction_model import InteractionHandle
from tui_bot.sandbox.world import Json

from .chat_render import select_options
from .discord_text import Directory, discord_markdown

PARAGRAPH = 2  # a text input's style for several lines

Submit = Callable[[dict[str, Any]], Awaitable[None]]


def field_widget(field: FormField, directory: Directory, widget_id: str) -> Widget:
    """The Textual widget a member fills ``field`` in with."""
    component = field.component
    default = field.defaults[0] if field.defaults else ""
    if field.kind == TEXT_INPUT:
        if component.get("style") == PARAGRAPH:
            return TextArea(default, id=widget_id, classes="form-paragraph")
        return Input(
            default,
            placeholder=str(component.get("placeholder") or ""),
            max_length=int(component.get("max_length") or 0),
            id=widget_id,
        )
    if field.kind == CHECKBOX:
        return Checkbox(field.label, value=bool(field.defaults), id=widget_id)
    if field.kind == RADIO_GROUP:
        return RadioSet(
            *(RadioButton(Text(label), value=value in field.defaults) for label, value in field.options),
            id=widget_id,
        )
    if field.kind == FILE_UPLOAD:
        return Input(placeholder="Paths of the files to upload, separated by commas", id=widget_id)
    options = field.options if field.kind not in ENTITY_SELECTS else select_options(component, directory)
    if field.kind == CHECKBOX_GROUP or field.max_values > 1:
        return SelectionList[str](
            *((Text(label), value, value in field.defaults) for label, value in options), id=widget_id
        )
    return Select(
        [(Text(label), value) for label, value in options],
        prompt=str(component.get("placeholder") or "Make a selection"),
        value=default if any(value == default for _, value in options) else Select.NULL,
        id=widget_id,
    )


def field_value(field: FormField, widget: Widget) -> Any:
    """What the member filled ``field`` in with, as ``Sandbox.submit_modal`` takes it."""
    if isinstance(widget, TextArea):
        return widget.text
    if isinstance(widget, Checkbox):
        return widget.value
    if isinstance(widget, RadioSet):
        index = widget.pressed_index
        return field.options[index][1] if index >= 0 else None
    if isinstance(widget, SelectionList):
        return list(widget.selected)
    if isinstance(widget, Select):
        return [] if widget.is_blank() else [widget.value]
    assert isinstance(widget, Input)
    if field.kind == FILE_UPLOAD:
        return [path.strip() for path in widget.value.split(",") if path.strip()]
    return widget.value


class FormOpened(TextualMessage):
    """The bot answered ``handle`` (sent as ``member_id``) with a form: the pane opens it."""

    def __init__(self, handle: InteractionHandle, member_id: int) -> None:
        super().__init__()
        self.handle = handle
        self.member_id = member_id
        self.modal: Json = handle.modal or {}
        self.title = str(self.modal.get("title", ""))


class FormScreen(ModalScreen[bool]):
    """A bot's form; dismissed with True once submitted, False if cancelled (nothing sent)."""

    DEFAULT_CSS = """
    FormScreen {
        align: center middle;
    }
    FormScreen #form-dialog {
        width: 84;
        max-width: 100%;
        height: auto;
        max-height: 95%;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    FormScreen #form-title {
        text-style: bold;
        width: 1fr;
    }
    FormScreen #form-fields {
        height: auto;
        max-height: 70vh;
    }
    FormScreen .form-label, FormScreen .form-text, FormScreen Checkbox {
        margin-top: 1;
    }
    FormScreen .form-paragraph {
        height: 5;
    }
    FormScreen SelectionList {
        height: auto;
        max-height: 8;
    }
    FormScreen #form-error {
        display: none;
        color: $text-error;
        margin-top: 1;
    }
    FormScreen #form-error.-shown {
        display: block;
    }
    FormScreen #form-buttons {
        height: auto;
        margin-top: 1;
    }
    FormScreen #form-buttons Button {
        margin-right: 2;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Submit"),
    ]

    def __init__(self, modal: Json, directory: Directory, member_name: str, submit: Submit) -> None:
        super().__init__()
        self.modal = modal
        self.directory = directory
        self.member_name = member_name
        self._submit = submit
        self.items = list(form_items(modal))
        # The widget of each field, by the field's custom_id.
        self.fields: dict[str, tuple[FormField, str]] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="form-dialog"):
            yield Label(Text(str(self.modal.get("title", ""))), id="form-title")
            yield Static(Text(f"Filled in as {self.member_name}", style="dim"), id="form-member")
            with VerticalScroll(id="form-fields"):
                for index, item in enumerate(self.items):
                    if isinstance(item, FormText):
                        yield Static(discord_markdown(item.content, self.directory), classes="form-text")
                        continue
                    widget_id = f"form-field-{index}"
                    self.fields[item.custom_id] = (item, widget_id)
                    if item.kind != CHECKBOX:  # a checkbox carries its own label
                        title = Text(item.label, style="bold")
                        if item.required:
                            title.append(" *", style="red")
                        yield Label(title, classes="form-label")
                    if item.description:
                        yield Static(Text(item.description, style="dim"), classes="form-description")
                    yield field_widget(item, self.directory, widget_id)
            yield Static("", id="form-error")
            with Horizontal(id="form-buttons"):
                yield Button("Submit (Ctrl+S)", variant="primary", id="form-submit")
                yield Button("Cancel (Esc)", id="form-cancel")

    def on_mount(self) -> None:
        first = next(iter(self.fields.values()), None)
        if first is not None:
            self.query_one(f"#{first[1]}").focus()

    def values(self) -> dict[str, Any]:
        """Every field's value, by custom_id."""
        return {
            custom_id: field_value(field, self.query_one(f"#{widget_id}"))
            for custom_id, (field, widget_id) in self.fields.items()
        }

    def show_error(self, text: str) -> None:
        """Say why the form was not sent; it stays open to be corrected."""
        error = self.query_one("#form-error", Static)
        error.update(Text(f"⚠ {text}"))
        error.add_class("-shown")

    @on(Button.Pressed, "#form-submit")
    def action_submit(self) -> None:
        """Send the form as the member (the pane's ``submit``); stay open if it is refused."""
        self.send(self.values())

    @on(Button.Pressed, "#form-cancel")
    def action_cancel(self) -> None:
        """Close the form without sending anything, as Discord does."""
        self.dismiss(False)

    @work(exclusive=True, group="form-submit", exit_on_error=False, name="submit the form")
    async def send(self, values: dict[str, Any]) -> None:
        try:
            await self._submit(values)
        except Exception as error:  # any refusal (or failure) is the operator's to read, in the form
            self.show_error(str(error))
            return
        self.dismiss(True)
