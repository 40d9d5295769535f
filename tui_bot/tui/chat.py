"""The sandbox Chat pane: talk to the bot as a member of the demo world, from the console.

Pick a channel and a member, type a message (or ``/command option:value``), and the bot's replies
appear as Discord shows them: embeds as coloured panels, buttons and selects that work with the
keyboard and the mouse (acting as the chosen member), forms the bot opens as a dialog to fill in and
submit as that member (:mod:`tui_bot.tui.chat_form`), ephemeral replies marked as such, edits in place,
deleted messages kept but marked. The input has the keyboard; ``Up`` (from an empty input) or
``Shift+Tab`` reaches the replies' buttons and selects, ``Esc`` comes back.

One worker follows the sandbox's event log: it waits for new events (no polling) and posts each batch
to the pane. The pane then re-reads the channel from the sandbox's world, which is the source of
truth, and re-renders only the messages that changed. Everything the pane asks of the sandbox runs
in a worker; a failure becomes a notification and a line in the chat, never an app crash.

The pane's widgets are in :mod:`tui_bot.tui.chat_widgets`, the history (following the newest
message) in :mod:`tui_bot.tui.chat_log`, the message line's slash command parser and mentions in
:mod:`tui_bot.tui.slash_line`, how a message looks in :mod:`tui_bot.tui.chat_render` and its CSS in
``chat.tcss``. What remains here is the pane itself, one widget with many handlers (about 500 lines): its
pickers, the event follower, the input, its keys and the component clicks share its state.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import tzinfo
from itertools import islice
from pathlib import Path
from typing import Any, ClassVar

from textual import events, on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import HorizontalGroup, Vertical
from textual.message import Message as TextualMessage
from textual.reactive import var
from textual.widget import Widget
from textual.widgets import Button, Input, Select, Static
from textual.worker import Worker, WorkerState

from tui_bot.sandbox import CallbackType, EventKind, InteractionHandle, Sandbox, SandboxEvent
from tui_bot.sandbox.validation import check_member_content
from tui_bot.sandbox.world import Channel, Guild, Json, Message

from .chat_form import FormOpened, FormScreen
from .chat_log import ChatLog
from .chat_widgets import ChatNotice, ComponentButton, ComponentSelect, MessageView
from .discord_text import Directory
from .slash_line import SLASH_HELP, SlashCall, mention_names, parse_slash

log = logging.getLogger("tui_bot.console.chat")

MAX_SHOWN = 100  # the newest messages of a channel the pane keeps on screen
INTERACTION_TIMEOUT = 5.0  # seconds to wait for the bot to answer a command, click or pick
TEXT_CHANNEL_TYPES = (0, 5)  # text and announcement channels: the ones members type in
ACTIONS = "chat-actions"  # the worker group of everything the pane asks of the sandbox
CHAT_CSS_PATH = Path(__file__).with_name("chat.tcss")
MAX_NOTICES = 20  # the pane's own lines (errors) kept per channel
# Events after which the channel and member pickers may be out of date.
MEMBERSHIP_EVENTS = frozenset(
    {EventKind.MEMBER_ADD, EventKind.MEMBER_REMOVE, EventKind.GUILD_JOIN, EventKind.GUILD_LEAVE}
)


class ChatPane(Vertical):
    """Talk to the bot in the sandbox as any member of the demo world: pick a channel and a member,
    type messages or ``/commands``, operate the bot's buttons and selects."""

    # In chat.tcss; kept as the widget's default CSS so that any app hosting the pane (the console, a
    # test's small app) styles it the same, without listing the file in its CSS_PATH.
    DEFAULT_CSS = CHAT_CSS_PATH.read_text(encoding="utf-8")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("pageup", "scroll_log(-1)", "Scroll up", show=False),
        Binding("pagedown", "scroll_log(1)", "Scroll down", show=False),
        # Typing stays in the input; the replies' buttons and selects are one key away, and Esc
        # comes back (Shift+Tab from the input reaches the newest one too).
        Binding("up", "focus_history", "Replies' buttons", show=False),
        Binding("escape", "focus_input", "Back to typing", show=False),
        Binding("ctrl+end", "jump_to_newest", "Newest message", show=False),
    ]

    channel_id: var[int] = var(0, init=False)
    member_id: var[int] = var(0, init=False)

    class SandboxActivity(TextualMessage):
        """New sandbox events (a batch, oldest first), from the worker following the event log."""

        def __init__(self, events: list[SandboxEvent]) -> None:
            super().__init__()
            self.events = events

        def can_replace(self, message: TextualMessage) -> bool:
            # While the pane is busy re-rendering, batches queue up: the next one absorbs this one's
            # events, so a flood of bot messages costs one re-read of the world, not one per batch.
            if isinstance(message, ChatPane.SandboxActivity):
                message.events[:0] = self.events
                return True
            return False

    class Notice(TextualMessage):
        """Something to tell the operator: a notification plus a line in the chat."""

        def __init__(self, text: str, severity: str = "error") -> None:
            super().__init__()
            self.text = text
            self.severity = severity

    def __init__(self, sandbox: Sandbox, *, timezone: tzinfo | None = None, id: str | None = None) -> None:
        """``timezone`` fixes the clock messages are shown in (local time by default; tests use UTC)."""
        super().__init__(id=id)
        self.sandbox = sandbox
        self.timezone = timezone
        self._sync_lock = asyncio.Lock()
        self._offered: dict[str, list[tuple[str, int]]] = {}  # picker id -> the choices it offers
        # Ephemeral messages the bot deleted (as they were): the world keeps deleted channel
        # messages, but ephemeral ones live outside it, so the pane remembers these itself.
        self._deleted_private: dict[int, Message] = {}
        channels = self._channel_choices()
        if channels:
            self.set_reactive(ChatPane.channel_id, channels[0][1])
            self.set_reactive(ChatPane.member_id, self._default_member())

    # -- world lookups --

    @property
    def channel(self) -> Channel | None:
        """The channel shown (None if the world has no text channel)."""
        return self.sandbox.world.channel(self.channel_id)

    @property
    def guild(self) -> Guild | None:
        """The guild of the channel shown."""
        channel = self.channel
        return None if channel is None else self.sandbox.world.guilds.get(channel.guild_id)

    def _channel_choices(self) -> list[tuple[str, int]]:
        guilds = list(self.sandbox.world.guilds.values())
        return [
            (f"{guild.name} · #{channel.name}" if len(guilds) > 1 else f"#{channel.name}", channel.id)
            for guild in guilds
            for channel in sorted(guild.channels.values(), key=lambda c: c.position)
            if channel.type in TEXT_CHANNEL_TYPES
        ]

    def _member_choices(self) -> list[tuple[str, int]]:
        guild = self.guild
        if guild is None:
            return []
        return [
            (member.nick or member.user.display_name, member.id)
            for member in guild.members.values()
            if not member.user.bot
        ]

    def _default_member(self) -> int:
        # The operator (the bot's owner) first: every built-in command works for them.
        ids = [member_id for _, member_id in self._member_choices()]
        owner = self.sandbox.world.owner_id
        return owner if owner in ids else (ids[0] if ids else 0)

    def _view(self) -> MessageView:
        guild = self.guild
        directory = Directory() if guild is None else Directory.of_guild(self.sandbox.world, guild)
        return MessageView(directory, self.member_id, self.timezone)

    def _wanted_messages(self) -> tuple[list[Message], set[int]]:
        """The channel's newest messages, the ephemeral ones sent in it and the deleted ones, oldest
        first; and the ids of the deleted ones."""
        stored = self.sandbox.world.messages.get(self.channel_id, {})
        # Messages are stored in id order, so the newest are the last inserted: no full sort.
        newest = list(islice(reversed(stored.values()), MAX_SHOWN))
        private = [m for m in self.sandbox.interactions.ephemeral.values() if m.channel_id == self.channel_id]
        deleted = self.sandbox.world.deleted_messages(self.channel_id)
        deleted += [m for m in self._deleted_private.values() if m.channel_id == self.channel_id]
        wanted = sorted([*newest, *private, *deleted], key=lambda m: m.id)[-MAX_SHOWN:]
        return wanted, {m.id for m in deleted}

    def _slash_commands(self) -> list[Json]:
        channel = self.channel
        commands = self.sandbox.world.commands
        return [*commands.get(channel.guild_id if channel else None, []), *commands.get(None, [])]

    # -- layout --

    def compose(self) -> ComposeResult:
        channels = self._channel_choices()
        members = self._member_choices()
        self._offered = {"#chat-channel": channels, "#chat-member": members}
        with HorizontalGroup(id="chat-bar"):
            yield Select(
                channels,
                prompt="Channel",
                allow_blank=not channels,
                value=self.channel_id if channels else Select.NULL,
                compact=True,
                id="chat-channel",
                tooltip="The channel to read and write in",
            )
            yield Select(
                members,
                prompt="Member",
                allow_blank=not members,
                value=self.member_id if members else Select.NULL,
                compact=True,
                id="chat-member",
                tooltip="Who you are: messages, commands and clicks are theirs",
            )
        yield ChatLog(id="chat-log")
        yield Static("↓ New messages below · click or Ctrl+End", id="chat-unseen")
        yield Input(placeholder=self._placeholder(), id="chat-input", tooltip=SLASH_HELP)

    def _placeholder(self) -> str:
        channel, guild = self.channel, self.guild
        if channel is None or guild is None:
            return "The sandbox world has no text channel"
        member = guild.members.get(self.member_id)
        name = (member.nick or member.user.display_name) if member else "nobody"
        return f"Message #{channel.name} as {name} · /command option:value runs a slash command"

    @property
    def chat_log(self) -> ChatLog:
        """The history."""
        return self.query_one("#chat-log", ChatLog)

    async def on_mount(self) -> None:
        self.watch(self.chat_log, "unseen", self._show_unseen_marker)
        # The cursor is taken before the first read of the world, so nothing falls between the two.
        self.follow_events(len(self.sandbox.event_log))
        await self.sync_log()

    # -- following the sandbox --

    @work(exclusive=True, group="chat-events", exit_on_error=False, name="follow the sandbox")
    async def follow_events(self, cursor: int) -> None:
        """Wait for sandbox events and post them to the pane in batches (it never touches widgets)."""
        events = self.sandbox.event_log
        while True:
            await events.wait_for(lambda _event: True, start=cursor, timeout=None)
            batch = events.since(cursor)
            cursor = len(events)
            self.post_message(self.SandboxActivity(batch))

    def on_show(self) -> None:
        # Shown (the pane alone, or its tab picked by any means): the keyboard is for typing, also
        # over the screen's first focusable widget (the channel picker) that Textual focused.
        focused = self.screen.focused
        if focused is None or self.chat_log not in focused.ancestors:
            self.focus_input()

    @on(SandboxActivity)
    async def _on_activity(self, activity: SandboxActivity) -> None:
        for event in activity.events:
            if event.kind is EventKind.INTERACTION_MESSAGE_DELETE and event.data.get("ephemeral"):
                self._remember_deleted_private(event.message)
        if any(event.kind in MEMBERSHIP_EVENTS for event in activity.events):
            self._offer_channels()
            self._offer_members()
        if any(self._concerns_channel(event) for event in activity.events):
            await self.sync_log()

    def _concerns_channel(self, event: SandboxEvent) -> bool:
        channel_id = event.data.get("channel_id")
        if channel_id is None and event.message is not None:
            channel_id = event.message.channel_id
        return channel_id == self.channel_id

    def _remember_deleted_private(self, message: Message | None) -> None:
        if message is None:
            return
        self._deleted_private[message.id] = message
        if len(self._deleted_private) > MAX_SHOWN:  # the oldest deletion goes
            del self._deleted_private[next(iter(self._deleted_private))]

    async def sync_log(self, *, viewer_changed: bool = False) -> None:
        """Make the log show the channel's messages as they are now: mount new ones in order,
        re-render changed ones in place (deleted ones marked so), drop those out of the window.
        ``viewer_changed``: the member changed, so ephemeral messages ("only you can see this") are
        re-rendered too."""
        async with self._sync_lock:
            wanted, deleted = self._wanted_messages()
            await self.chat_log.show_messages(
                wanted,
                self._view(),
                deleted=deleted,
                channel_id=self.channel_id,
                viewer_changed=viewer_changed,
            )

    # -- the channel and member pickers --

    @on(Select.Changed, "#chat-channel")
    def _channel_picked(self, event: Select.Changed) -> None:
        if isinstance(event.value, int):
            self.channel_id = event.value
            self._back_to_typing(event.select)

    @on(Select.Changed, "#chat-member")
    def _member_picked(self, event: Select.Changed) -> None:
        if isinstance(event.value, int):
            self.member_id = event.value
            self._back_to_typing(event.select)

    def _back_to_typing(self, picker: Widget) -> None:
        # Picked by the operator (the picker has focus, not a world change): on to writing, as Discord does.
        focused = self.screen.focused
        if focused is not None and picker in focused.ancestors_with_self:
            self.focus_input()

    async def watch_channel_id(self, _old: int, _new: int) -> None:
        self._offer_members()
        self.query_one("#chat-input", Input).placeholder = self._placeholder()
        await self.sync_log()
        self.chat_log.jump_to_newest()  # another channel opens at its newest message

    async def watch_member_id(self, _old: int, _new: int) -> None:
        self.query_one("#chat-input", Input).placeholder = self._placeholder()
        await self.sync_log(viewer_changed=True)

    def _offer_channels(self) -> None:
        """Offer the guilds' channels as they are now; keep the chosen one if it is still there."""
        keep = self._offer("#chat-channel", self._channel_choices(), self.channel_id)
        if keep is not None:
            self.channel_id = keep

    def _offer_members(self) -> None:
        """Offer the members of the channel's guild; keep the chosen one if they are in it."""
        keep = self._offer("#chat-member", self._member_choices(), self.member_id)
        if keep is not None:
            self.member_id = keep

    def _offer(self, picker_id: str, choices: list[tuple[str, int]], current: int) -> int | None:
        """Put ``choices`` in a picker (if they changed); return the value to keep, None if none."""
        if not choices:
            return None
        keep = current if any(value == current for _, value in choices) else choices[0][1]
        if self._offered.get(picker_id) != choices:
            self._offered[picker_id] = choices
            picker = self.query_one(picker_id, Select)
            # Not a choice the operator made: the pane sets channel_id / member_id itself.
            with picker.prevent(Select.Changed):
                picker.set_options(choices)
                picker.value = keep
        return keep

    # -- typing --

    def focus_input(self) -> None:
        """Put the cursor in the message input (for the app, e.g. when the pane is shown)."""
        self.query_one("#chat-input", Input).focus()

    def action_focus_input(self) -> None:
        """Back to typing, from the history or the pickers (Esc)."""
        field = self.query_one("#chat-input", Input)
        if field.has_focus:
            raise SkipAction()  # already there: Esc is the app's
        field.focus()

    def action_focus_history(self) -> None:
        """From an empty input, focus the newest enabled button or select of the chat (Up)."""
        field = self.query_one("#chat-input", Input)
        reachable = [w for w in self.chat_log.query("ComponentButton, ComponentSelect") if w.focusable]
        if not field.has_focus or field.value or not reachable:
            raise SkipAction()
        reachable[-1].focus()

    def action_jump_to_newest(self) -> None:
        """Scroll to the newest message (Ctrl+End, or a click on the "new messages" marker)."""
        self.chat_log.jump_to_newest()

    @on(events.Click, "#chat-unseen")
    def _unseen_clicked(self, event: events.Click) -> None:
        event.stop()
        self.chat_log.jump_to_newest()

    def _show_unseen_marker(self, unseen: bool) -> None:
        self.query_one("#chat-unseen").set_class(unseen, "-shown")

    def _mentions(self) -> dict[str, int]:
        """The names a member can type after ``@`` in this channel, and whose id each stands for."""
        guild = self.guild
        if guild is None:
            return {}
        names: dict[str, int] = {}
        for member in guild.members.values():
            for name in (member.user.username, member.user.global_name, member.nick):
                if name:
                    names.setdefault(name, member.id)
        return names

    @on(Input.Submitted, "#chat-input")
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        if not text.startswith("/") or text.startswith("//"):
            try:  # Discord refuses a member's message over its limit: keep the text to shorten it
                check_member_content(text[1:] if text.startswith("//") else text)
            except ValueError as error:
                self.report(f"Not sent: {error}. Shorten it and press Enter again")
                return
        event.input.clear()
        self.chat_log.jump_to_newest()  # as on Discord: what you send, you see
        if text.startswith("//"):  # "//shrug" sends "/shrug" as a plain message
            self.send_text(self.member_id, self.channel_id, mention_names(text[1:], self._mentions()))
        elif text.startswith("/"):
            try:
                call = parse_slash(text, self._slash_commands())
            except ValueError as error:
                self.report(f"Cannot run {text.split()[0]}: {error}")
                return
            self.run_slash(self.member_id, self.channel_id, call)
        else:
            # "@tui-bot help" typed: sent as the bot's mention, which the bot takes as a prefix.
            self.send_text(self.member_id, self.channel_id, mention_names(text, self._mentions()))

    @work(group=ACTIONS, exit_on_error=False, name="send the message")
    async def send_text(self, member_id: int, channel_id: int, text: str) -> None:
        await self.sandbox.send_message(member_id, channel_id, text)

    @work(group=ACTIONS, exit_on_error=False, name="run the slash command")
    async def run_slash(self, member_id: int, channel_id: int, call: SlashCall) -> None:
        handle = await self.sandbox.invoke_slash(member_id, channel_id, call.command, options=call.options)
        await self._await_answer(handle, member_id)

    # -- components --

    @on(Button.Pressed, "ComponentButton")
    def _button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        button = event.button
        assert isinstance(button, ComponentButton)
        if button.spec.kind == "link":  # link buttons open a browser on Discord: nothing to send
            self.notify(f"This button opens {button.spec.url}", title="Link", markup=False)
            return
        self.click(self.member_id, button.message_id, button.spec.custom_id)

    @on(Select.Changed, "ComponentSelect")
    def _component_picked(self, event: Select.Changed) -> None:
        event.stop()
        select = event.select
        assert isinstance(select, ComponentSelect)
        # Mounting a select with the message's default value posts Changed too: not a pick.
        if not isinstance(event.value, str) or event.value == select.spec.default:
            return
        self.pick(self.member_id, select.message_id, select.spec.custom_id, event.value)
        # As on Discord, the menu shows the message's state until the bot changes the message.
        select.show_message_state()

    @work(group=ACTIONS, exit_on_error=False, name="press the button")
    async def click(self, member_id: int, message_id: int, custom_id: str | None) -> None:
        await self._await_answer(await self.sandbox.click_button(member_id, message_id, custom_id), member_id)

    @work(group=ACTIONS, exit_on_error=False, name="pick the option")
    async def pick(self, member_id: int, message_id: int, custom_id: str | None, value: str) -> None:
        handle = await self.sandbox.select(member_id, message_id, custom_id, [value])
        await self._await_answer(handle, member_id)

    async def _await_answer(self, handle: InteractionHandle, member_id: int) -> None:
        # What the bot sends shows up through the event log; waiting here turns "the application did
        # not respond" and refused callbacks into errors the operator sees.
        response = await handle.response(timeout=INTERACTION_TIMEOUT)
        if response.type is CallbackType.MODAL:
            self.post_message(FormOpened(handle, member_id))

    # -- forms --

    @on(FormOpened)
    def _open_form(self, opened: FormOpened) -> None:
        """Show the bot's form as a dialog, submitted as the member the bot showed it to."""
        member = self.guild.members.get(opened.member_id) if self.guild is not None else None
        name = (member.nick or member.user.display_name) if member is not None else str(opened.member_id)
        title = opened.title
        opened_line = f"📝 The bot opened the form {title!r} for {name}"
        self.chat_log.mount(ChatNotice(opened_line, self.channel_id, "info"))

        async def submit(values: dict[str, Any]) -> None:
            answer = await self.sandbox.submit_modal(opened.member_id, opened.handle, values)
            self.await_form_answer(answer, opened.member_id)

        def closed(submitted: bool | None) -> None:
            if not submitted:  # as on Discord: a closed form sends nothing
                closed_line = f"Form {title!r} closed: nothing was sent"
                self.chat_log.mount(ChatNotice(closed_line, self.channel_id, "info"))
            self.focus_input()

        self.app.push_screen(FormScreen(opened.modal, self._view().directory, name, submit), closed)

    @work(group=ACTIONS, exit_on_error=False, name="submit the form")
    async def await_form_answer(self, handle: InteractionHandle, member_id: int) -> None:
        await self._await_answer(handle, member_id)

    # -- errors and notices --

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed sandbox call (refused, timed out, bad reference) is reported, never raised."""
        if event.state is WorkerState.ERROR:
            self.report(f"Could not {event.worker.name}: {event.worker.error}")

    @on(Notice)
    def _on_notice(self, notice: Notice) -> None:
        self.report(notice.text, notice.severity)

    def report(self, text: str, severity: str = "error") -> None:
        """Tell the operator: a notification, a line in the chat and a line in the console's log."""
        log.log(logging.WARNING if severity == "error" else logging.INFO, "chat: %s", text)
        chat_log = self.chat_log
        notices = list(chat_log.query_children(ChatNotice))
        if len(notices) >= MAX_NOTICES:
            notices[0].remove()
        # markup=False: errors quote what bots and members typed, brackets included.
        self.notify(text, title="Chat", severity="error" if severity == "error" else "warning", markup=False)
        chat_log.mount(ChatNotice(f"⚠ {text}", self.channel_id, severity=severity))

    def action_scroll_log(self, pages: int) -> None:
        """Page the chat up (negative) or down, wherever focus is in the pane."""
        chat_log = self.chat_log
        if pages > 0:
            chat_log.scroll_page_down()
        else:
            chat_log.scroll_page_up()
