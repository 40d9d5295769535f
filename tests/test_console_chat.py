"""The console's sandbox Chat pane: a member's Discord client inside the console.

The functional tests host ``ChatPane`` in a small app, with a real TuiBot (the shipped extensions and
the two of ``test_help_menu``) connected to the sandbox, and drive it as an operator would: typing,
keys and clicks. What the pane shows is read back from its widgets as plain text. The renderers and
the slash-command parser are pure and tested directly; a snapshot test pins the look.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from helpers.waiting import wait_until
from rich.console import Group, RenderableType
from rich.constrain import Constrain
from rich.panel import Panel
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from tests.conftest import BotHarness
from tests.test_help_menu import start_bot
from tui_bot.core.responses import Colour
from tui_bot.sandbox import EventKind, Sandbox, SnowflakeGenerator, demo_world
from tui_bot.sandbox.world import Message
from tui_bot.tui import chat
from tui_bot.tui.chat import ChatPane
from tui_bot.tui.chat_render import as_text, component_rows, message_renderable
from tui_bot.tui.chat_widgets import ChatMessage, ChatNotice, ComponentButton, ComponentSelect
from tui_bot.tui.discord_text import Directory, discord_markdown, embed_panel
from tui_bot.tui.slash_line import SlashCall, mention_names, parse_slash

SIZE = (110, 60)  # tall enough that the whole help menu and its buttons are on screen to be clicked
EPHEMERAL = 64


class ChatApp(App[None]):
    """The pane alone, recording the notifications it raises."""

    def __init__(self, sandbox: Sandbox, **pane_options: Any) -> None:
        super().__init__()
        self.sandbox = sandbox
        self.pane_options = pane_options
        self.notes: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        yield ChatPane(self.sandbox, **self.pane_options)

    def notify(self, message: str, *, severity: Any = "information", **options: Any) -> None:  # type: ignore[override]
        self.notes.append((str(message), str(severity)))
        super().notify(message, severity=severity, **options)


# --- reading the pane -------------------------------------------------------------------------------


def text_of(widget: ChatMessage) -> str:
    # A message being re-rendered (an edit, a deletion) has no body for a moment: it reads as empty.
    body = next(widget.query(".chat-body").results(Static), None)
    return "" if body is None else as_text(body.content)


def shown(pane: ChatPane) -> list[ChatMessage]:
    return list(pane.query(ChatMessage))


def component(widget: ChatMessage, custom_id: str) -> ComponentButton | ComponentSelect:
    return next(w for w in widget.components if w.spec.custom_id == custom_id)


def panels(renderable: Any) -> Iterator[Panel]:
    """The embed panels inside a message's renderable."""
    if isinstance(renderable, Panel):
        yield renderable
    elif isinstance(renderable, Group):
        for child in renderable.renderables:
            yield from panels(child)
    elif isinstance(renderable, Constrain):
        yield from panels(renderable.renderable)


def border_colour(widget: ChatMessage) -> str:
    panel = next(panels(widget.query_one(".chat-body", Static).content))
    style = panel.border_style
    assert not isinstance(style, str) and style.color is not None and style.color.triplet is not None
    return style.color.triplet.hex


async def message_with(pilot: Pilot[Any], pane: ChatPane, needle: str) -> ChatMessage:
    """The (newest) message showing ``needle``, once it does."""

    def found() -> ChatMessage | None:
        return next((w for w in reversed(shown(pane)) if needle in text_of(w)), None)

    await wait_until(lambda: found() is not None, what=f"a message showing {needle!r}", pilot=pilot)
    widget = found()
    assert widget is not None
    return widget


async def type_line(pilot: Pilot[Any], text: str) -> None:
    """Enter ``text`` in the pane's input (set at once: a key press per character is slow)."""
    field = pilot.app.query_one("#chat-input", Input)
    field.focus()
    field.value = text
    await pilot.press("enter")


async def menu_changes(harness: BotHarness, action: Awaitable[Any]) -> None:
    """Do ``action`` and wait until the bot has re-rendered the help menu and listens to its new
    components (a click sent before that would be dropped by discord.py)."""
    assert harness.bot is not None
    updated = asyncio.ensure_future(harness.bot.wait_for("help_menu_update", timeout=5))
    await action
    await updated


async def choose(pilot: Pilot[Any], select: Select[Any], label_start: str) -> None:
    """Pick an option of ``select`` with the keyboard: focus, open with enter, arrows, enter."""
    select.focus()
    await pilot.press("enter")
    await pilot.pause()
    overlay_options = [prompt for prompt, _ in select._options]
    current = next(
        (i for i, (_, value) in enumerate(select._options) if value == select.value),
        0,
    )
    target = next(i for i, prompt in enumerate(overlay_options) if str(prompt).startswith(label_start))
    steps = target - current
    await pilot.press(*(["down" if steps > 0 else "up"] * abs(steps)), "enter")


# --- the help menu, end to end --------------------------------------------------------------------------


async def test_help_menu_with_keyboard_and_mouse(harness: BotHarness) -> None:
    await start_bot(harness)
    app = ChatApp(harness.sandbox)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        app.query_one("#chat-input", Input).focus()
        await pilot.press(*"!help", "enter")  # typed key by key, once
        menu = await message_with(pilot, pane, "📖 Help")
        typed = shown(pane)[0]
        assert text_of(typed).splitlines()[0].startswith("Operator") and "!help" in text_of(typed)
        assert text_of(menu).startswith("tui-bot  BOT ")
        assert border_colour(menu) == f"#{Colour.MAIN_MENU:06x}"
        assert [w.spec.custom_id for w in menu.components] == ["help:category"]

        # The category select, with the keyboard: the same message is re-rendered in place.
        select = component(menu, "help:category")
        assert isinstance(select, ComponentSelect)
        await menu_changes(harness, choose(pilot, select, "Many"))
        await wait_until(lambda: "Page 1/2" in text_of(menu), what="page 1 of Many", pilot=pilot)
        assert shown(pane) == [typed, menu]
        assert "📂 Many" in text_of(menu) and "!c1" in text_of(menu) and "!c7" not in text_of(menu)
        assert border_colour(menu) == f"#{Colour.CATEGORIES:06x}"
        buttons = {w.spec.custom_id: w for w in menu.components}
        assert list(buttons) == ["help:category", "help:prev", "help:page", "help:next", "help:home"]
        assert buttons["help:prev"].disabled and buttons["help:page"].disabled
        assert not buttons["help:next"].disabled
        assert component(menu, "help:category").value == "Many"  # the message's default option
        assert app.focused is component(menu, "help:category")  # focus survived the re-render

        # Next, with the keyboard: focus and enter.
        component(menu, "help:next").focus()
        await menu_changes(harness, pilot.press("enter"))
        await wait_until(lambda: "Page 2/2" in text_of(menu), what="page 2", pilot=pilot)
        assert "!c7" in text_of(menu) and "!c1" not in text_of(menu)
        assert component(menu, "help:next").disabled
        # "next" is disabled on the last page: focus moved to the nearest enabled component.
        assert app.focused in menu.components and not app.focused.disabled

        # Back, with the mouse.
        await menu_changes(harness, pilot.click(component(menu, "help:prev")))
        await wait_until(lambda: "Page 1/2" in text_of(menu), what="page 1 again", pilot=pilot)
        await menu_changes(harness, pilot.click(component(menu, "help:home")))
        await wait_until(lambda: "📖 Help" in text_of(menu), what="the main menu again", pilot=pilot)
        assert [w.spec.custom_id for w in menu.components] == ["help:category"]
        assert app.notes == []


async def test_another_member_is_refused_privately(harness: BotHarness) -> None:
    await start_bot(harness)
    app = ChatApp(harness.sandbox)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        await type_line(pilot, "!help")
        menu = await message_with(pilot, pane, "📖 Help")
        before = text_of(menu)

        await choose(pilot, app.query_one("#chat-member", Select), "Bob")
        await wait_until(
            lambda: pane.member_id == harness.sandbox.world.find_user("bob").id, what="bob", pilot=pilot
        )
        assert "as Bob" in str(app.query_one("#chat-input", Input).placeholder)
        await choose(pilot, component(menu, "help:category"), "Fun")

        refusal = await message_with(pilot, pane, "can use this menu")
        assert "Only Operator can use this menu; run /help yourself." in text_of(refusal)
        assert "👁 Only you can see this" in text_of(refusal)
        assert refusal.has_class("-ephemeral")
        # The menu did not change, and its select shows the message's state, not bob's pick.
        assert text_of(menu) == before and component(menu, "help:category").value == Select.NULL

        # The operator is told whose it is.
        await choose(pilot, app.query_one("#chat-member", Select), "Operator")
        await wait_until(
            lambda: "Only Bob can see this" in text_of(refusal), what="the viewer's label", pilot=pilot
        )
        assert app.notes == []


async def test_slash_commands_typed_in_the_input(harness: BotHarness) -> None:
    await start_bot(harness)
    assert harness.bot is not None
    await harness.bot.tree.sync()
    app = ChatApp(harness.sandbox)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        await type_line(pilot, "/help")
        menu = await message_with(pilot, pane, "📖 Help")
        assert text_of(menu).startswith("↳ Operator used /help")
        assert [w.spec.custom_id for w in menu.components] == ["help:category"]

        # help allows one use per member every 10 s: the next ones come from alice and bob.
        # A positional option, and an embed with inline fields side by side.
        await choose(pilot, app.query_one("#chat-member", Select), "Alice")
        await type_line(pilot, "/help ban")
        details = await message_with(pilot, pane, "❔ ban")
        assert border_colour(details) == f"#{Colour.CATEGORIES:06x}"
        lines = text_of(details).splitlines()
        assert any("!ban <member> [reason]" in line for line in lines)
        inline = next(line for line in lines if "Aliases" in line)
        assert "Cooldown" in inline and "Slash command" in inline
        assert "You can run it here." in text_of(details)

        # An ephemeral answer to a slash command.
        await choose(pilot, app.query_one("#chat-member", Select), "Bob")
        await type_line(pilot, "/help command:nonexistent")
        unknown = await message_with(pilot, pane, "Unknown command nonexistent")
        assert "👁 Only you can see this" in text_of(unknown) and unknown.has_class("-ephemeral")
        assert border_colour(unknown) == f"#{Colour.ERROR:06x}"
        assert app.notes == []


async def test_errors_are_notifications_and_chat_lines(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await start_bot(harness)
    app = ChatApp(harness.sandbox)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        # The sandbox refuses: the command was never synced.
        await type_line(pilot, "/nosuchcommand")
        await wait_until(lambda: bool(app.notes), what="a notification", pilot=pilot)
        text, severity = app.notes[0]
        assert severity == "error"
        assert text.startswith("Could not run the slash command: /nosuchcommand is not a slash command")
        notice = pane.query_one(ChatNotice)
        assert "is not a slash command the bot has synced" in str(notice.content)
        # A line the pane cannot read: nothing is sent.
        await type_line(pilot, "/")
        await wait_until(lambda: len(app.notes) == 2, what="a second notification", pilot=pilot)
        assert "type a command name after /" in app.notes[1][0]
        # "//" sends a message that starts with "/", and the app is still alive.
        await type_line(pilot, "//shrug")
        said = await message_with(pilot, pane, "/shrug")
        assert said.message.content == "/shrug"

        # The bot goes away while its menu is on screen: picking a category is not answered.
        await type_line(pilot, "!help")
        menu = await message_with(pilot, pane, "📖 Help")
        await harness.stop()
        monkeypatch.setattr(chat, "INTERACTION_TIMEOUT", 0.2)
        await choose(pilot, component(menu, "help:category"), "Fun")
        await wait_until(lambda: len(app.notes) == 3, what="a third notification", pilot=pilot)
        assert app.notes[2] == (
            "Could not pick the option: the bot did not answer interaction 'help:category' within 0.2s "
            "(Discord would show 'The application did not respond')",
            "error",
        )
        assert len(pane.query(ChatNotice)) == 3 and app.is_running


async def test_a_message_over_discords_limit_is_kept_in_the_input_and_not_sent(harness: BotHarness) -> None:
    await start_bot(harness)
    app = ChatApp(harness.sandbox)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        messages_before = len(harness.sandbox.events)
        long_text = "x" * 2001
        await type_line(pilot, long_text)
        await wait_until(lambda: bool(app.notes), what="a notification", pilot=pilot)
        text, severity = app.notes[0]
        assert severity == "error"
        assert text == (
            "Not sent: a member's message is limited to 2000 characters on Discord (without Nitro); this "
            "one has 2001. Shorten it and press Enter again"
        )
        # Nothing reached the sandbox, and what was typed is still there to shorten.
        assert not [
            e for e in harness.sandbox.events[messages_before:] if e.kind is EventKind.MESSAGE_CREATE
        ]
        assert app.query_one("#chat-input", Input).value == long_text
        # At the limit it goes through.
        await type_line(pilot, "y" * 2000)
        said = await message_with(pilot, pane, "y" * 100)
        assert said.message.content == "y" * 2000


async def test_channels_and_members_follow_the_world(harness: BotHarness) -> None:
    await start_bot(harness)
    sb = harness.sandbox
    await sb.send_message("alice", "bot-commands", "hello from **Alice**")
    app = ChatApp(sb)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        await type_line(pilot, "in general")
        await message_with(pilot, pane, "in general")
        await choose(pilot, app.query_one("#chat-channel", Select), "#bot-commands")
        hello = await message_with(pilot, pane, "hello from Alice")
        assert [w.message.content for w in shown(pane)] == ["hello from **Alice**"]
        assert "Message #bot-commands as Operator" in str(app.query_one("#chat-input", Input).placeholder)
        # Deleted in the world (by a bot or a moderator): still shown, marked as deleted.
        deleted = asyncio.ensure_future(sb.wait_for_event("message_delete"))
        assert harness.bot is not None
        channel = harness.bot.get_channel(sb.world.find_channel("bot-commands").id)
        await channel.get_partial_message(hello.message_id).delete()  # type: ignore[union-attr]
        await deleted
        await wait_until(lambda: "(deleted)" in text_of(hello), what="the deletion", pilot=pilot)
        assert shown(pane) == [hello] and hello.has_class("-deleted")
        assert text_of(hello).splitlines()[0].endswith("(deleted)")

        # Someone joins: the member picker offers them at once.
        picker = app.query_one("#chat-member", Select)
        await sb.add_member(None, "carol")
        await wait_until(
            lambda: any(str(label) == "carol" for label, _ in picker._options), what="carol", pilot=pilot
        )
        await choose(pilot, picker, "carol")
        await type_line(pilot, "hi, I'm new")
        said = await message_with(pilot, pane, "hi, I'm new")
        assert text_of(said).startswith("carol")


CHATTY = """
from discord.ext import commands


class Chatty(commands.Cog):
    \"\"\"Replies to read in the chat.\"\"\"

    @commands.command()
    async def ping(self, ctx):
        \"\"\"Pong.\"\"\"
        await ctx.send("pong")

    @commands.hybrid_command(description="Say something, then take it back")
    async def flash(self, ctx):
        \"\"\"Say something, then take it back.\"\"\"
        await ctx.send("now you see me", ephemeral=True, delete_after=0.3)


async def setup(bot):
    await bot.add_cog(Chatty())
"""


async def start_chatty_bot(harness: BotHarness) -> None:
    harness.write_extension("chatty", CHATTY)
    await start_bot(harness)


async def test_the_input_keeps_the_keyboard_and_up_and_esc_reach_the_replies(harness: BotHarness) -> None:
    await start_bot(harness)
    app = ChatApp(harness.sandbox)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        field = app.query_one("#chat-input", Input)
        await wait_until(lambda: app.focused is field, what="the input focused when shown", pilot=pilot)
        await pilot.press(*"!help", "enter")  # no click, no Tab: the keys go to the input
        menu = await message_with(pilot, pane, "📖 Help")
        assert app.focused is field and field.value == ""  # still typing after sending

        # Up from the empty input: the newest reply's last button or select.
        await pilot.press("up")
        assert app.focused is component(menu, "help:category")
        await pilot.press("escape")
        assert app.focused is field
        # Shift+Tab from the input goes there too; Esc comes back from a picker as well.
        await pilot.press("shift+tab")
        assert app.focused is component(menu, "help:category")
        app.query_one("#chat-member", Select).focus()
        await pilot.press("escape")
        assert app.focused is field
        # With text in the input, Up is not a way out of it.
        await pilot.press("x", "up")
        assert app.focused is field and field.value == "x"

        # Picking a member with the keyboard puts the cursor back in the input, ready to write.
        await choose(pilot, app.query_one("#chat-member", Select), "Alice")
        await wait_until(lambda: app.focused is field, what="back to the input", pilot=pilot)
        assert "as Alice" in str(field.placeholder)


async def test_new_messages_below_a_scrolled_up_view_are_announced() -> None:
    sb = frozen_sandbox()
    general = sb.world.find_channel("general")
    for number in range(40):
        sb.world.create_message(general, sb.world.find_user("alice"), f"message {number}")
    app = ChatApp(sb, timezone=UTC)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(ChatPane)
        chat_log = app.query_one("#chat-log")
        marker = app.query_one("#chat-unseen")

        def at_bottom() -> bool:
            return chat_log.scroll_y == chat_log.max_scroll_y > 0

        def caught_up() -> bool:
            return at_bottom() and not marker.display

        async def scroll_up() -> float:
            """Page up, and where the view stops (PageUp scrolls with an animation)."""
            await pilot.press("pageup")
            await wait_until(
                lambda: chat_log.scroll_y == chat_log.scroll_target_y < chat_log.max_scroll_y,
                what="scrolled up",
                pilot=pilot,
            )
            return chat_log.scroll_y

        async def arrives(text: str) -> ChatMessage:
            await sb.send_message("bob", "general", text)
            return await message_with(pilot, pane, text)

        await wait_until(at_bottom, what="the newest message in view", pilot=pilot)
        # At the bottom, a new message keeps the view there; no marker.
        await arrives("first reply")
        await wait_until(at_bottom, what="the view following the new message", pilot=pilot)
        assert not marker.display

        # Scrolled up: the view stays where the operator put it, and the marker says what came.
        reading = await scroll_up()
        await arrives("second reply")
        await wait_until(lambda: marker.display, what="the new-messages marker", pilot=pilot)
        assert chat_log.scroll_y == reading
        assert "New messages below" in str(marker.render())
        # A click on it shows the newest messages; the marker goes.
        await pilot.click(marker)
        await wait_until(caught_up, what="the jump to the newest", pilot=pilot)

        # Ctrl+End does the same; so does scrolling down by hand.
        await scroll_up()
        await arrives("third reply")
        await wait_until(lambda: marker.display, what="the marker again", pilot=pilot)
        await pilot.press("ctrl+end")
        await wait_until(caught_up, what="ctrl+end", pilot=pilot)
        await scroll_up()
        await arrives("fourth reply")
        await wait_until(lambda: marker.display, what="the marker once more", pilot=pilot)
        await pilot.press("pagedown", "pagedown", "pagedown")
        await wait_until(caught_up, what="scrolled down by hand", pilot=pilot)

        # What the operator sends is shown, wherever the view was.
        await scroll_up()
        await type_line(pilot, "my own words")
        await message_with(pilot, pane, "my own words")
        await wait_until(caught_up, what="the sent message in view", pilot=pilot)


async def test_replies_that_delete_themselves_stay_marked_deleted(harness: BotHarness) -> None:
    await start_chatty_bot(harness)
    assert harness.bot is not None
    await harness.bot.tree.sync()
    app = ChatApp(harness.sandbox)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        # A reply with delete_after: the command does not look unanswered once it is gone.
        await type_line(pilot, "!flash")
        reply = await message_with(pilot, pane, "now you see me")
        await wait_until(lambda: reply.has_class("-deleted"), what="the reply deleted", pilot=pilot)
        header = text_of(reply).splitlines()[0]
        assert header.startswith("tui-bot  BOT ") and header.endswith("(deleted)")
        assert "now you see me" in text_of(reply)
        assert [w.message.content for w in shown(pane)] == ["!flash", "now you see me"]
        assert harness.sandbox.world.get_message(reply.message.channel_id, reply.message_id) is None

        # An ephemeral reply the bot deletes: the same.
        await type_line(pilot, "/flash")
        private = await message_with(pilot, pane, "Only you can see this")
        assert "now you see me" in text_of(private)
        await wait_until(lambda: private.has_class("-deleted"), what="the ephemeral one deleted", pilot=pilot)
        assert "(deleted)" in text_of(private) and private.has_class("-ephemeral")
        assert app.notes == []


async def test_a_typed_mention_of_the_bot_works_as_a_prefix(harness: BotHarness) -> None:
    await start_chatty_bot(harness)
    sb = harness.sandbox
    app = ChatApp(sb)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        await type_line(pilot, f"@{sb.world.bot_user.username} ping")
        said = await message_with(pilot, pane, "ping")
        assert said.message.content == f"<@{sb.world.bot_user.id}> ping"
        assert text_of(said).splitlines()[1] == "@tui-bot ping"  # shown as Discord shows a mention
        reply = await message_with(pilot, pane, "pong")
        assert text_of(reply).startswith("tui-bot  BOT ")

        # Any member by name, in any case; unknown names and e-mail addresses are left as typed.
        await type_line(pilot, "@ALICE and @bob, meet @nobody at me@example.org")
        said = await message_with(pilot, pane, "meet")
        alice, bob = sb.world.find_user("alice").id, sb.world.find_user("bob").id
        assert said.message.content == f"<@{alice}> and <@{bob}>, meet @nobody at me@example.org"
        assert app.notes == []


# --- renderers and parser, without Textual -----------------------------------------------------------


COMMANDS = [
    {"name": "help", "type": 1, "options": [{"type": 3, "name": "command"}]},
    {
        "name": "ban",
        "type": 1,
        "options": [{"type": 6, "name": "member", "required": True}, {"type": 3, "name": "reason"}],
    },
    {
        "name": "config",
        "type": 1,
        "options": [
            {"type": 1, "name": "set", "options": [{"type": 3, "name": "key"}, {"type": 3, "name": "value"}]}
        ],
    },
]


def test_parse_slash() -> None:
    assert parse_slash("/help", COMMANDS) == SlashCall("help")
    assert parse_slash("/help ban", COMMANDS) == SlashCall("help", {"command": "ban"})
    assert parse_slash("/help command:kick", COMMANDS) == SlashCall("help", {"command": "kick"})
    # Positional words fill options in order; the last one takes the rest.
    assert parse_slash("/ban bob being rude", COMMANDS) == SlashCall(
        "ban", {"member": "bob", "reason": "being rude"}
    )
    assert parse_slash('/ban reason:"too loud" @bob', COMMANDS) == SlashCall(
        "ban", {"reason": "too loud", "member": "@bob"}
    )
    assert parse_slash("/config set prefix ?", COMMANDS) == SlashCall(
        "config set", {"key": "prefix", "value": "?"}
    )
    assert parse_slash("/ban bob isn't nice", COMMANDS) == SlashCall(
        "ban", {"member": "bob", "reason": "isn't nice"}
    )
    # Unknown commands go to the sandbox as they are: it says which commands are synced.
    assert parse_slash("/nope a b", COMMANDS) == SlashCall("nope")
    for bad, error in (("/", "type a command name"), ("/config set a b c:d", None)):
        if error is None:
            assert parse_slash(bad, COMMANDS) == SlashCall("config set", {"key": "a", "value": "b c:d"})
            continue
        try:
            parse_slash(bad, COMMANDS)
        except ValueError as exc:
            assert error in str(exc)
        else:
            raise AssertionError(f"{bad!r} parsed")


def test_typed_mentions_become_ids() -> None:
    names = {"tui-bot": 10, "tui": 11, "bob": 12, "Ann Lee": 13}
    assert mention_names("@tui-bot stats", names) == "<@10> stats"
    assert mention_names("@tui hi, @TUI-BOT!", names) == "<@11> hi, <@10>!"
    assert mention_names("@bobby @bob. @Ann Lee", names) == "@bobby <@12>. <@13>"
    assert mention_names("mail bob@x.org or <@12> or @@bob", names) == "mail bob@x.org or <@12> or @@bob"
    assert mention_names("@bob", {}) == "@bob"


def test_markdown_and_mentions() -> None:
    world = demo_world()
    guild = next(iter(world.guilds.values()))
    directory = Directory.of_guild(world, guild)
    alice = world.find_user("alice").id
    moderator = guild.find_role("Moderator")
    assert moderator is not None
    text = discord_markdown(
        f"**bold _it_** `x*y*` ~~old~~ <@{alice}> <@&{moderator.id}> [docs](https://example.org) snake_case",
        directory,
    )
    assert text.plain == "bold it x*y* old @Alice @Moderator docs snake_case"
    styles = {text.plain[span.start : span.end]: str(span.style) for span in text.spans}
    assert "bold" in styles["bold it"] and "italic" in styles["it"]
    assert "strike" in styles["old"] and "link https://example.org" in styles["docs"]


def test_embed_panel_colour_fields_and_footer() -> None:
    embed = {
        "title": "Stats",
        "description": "How it **goes**",
        "color": 0x00FF00,
        "fields": [
            {"name": "Guilds", "value": "1", "inline": True},
            {"name": "Users", "value": "4", "inline": True},
            {"name": "Latency", "value": "3 ms", "inline": True},
            {"name": "Uptime", "value": "5 min", "inline": True},
            {"name": "Note", "value": "not inline"},
        ],
        "footer": {"text": "tui-bot"},
        "timestamp": "2024-02-01T12:00:00+00:00",
    }
    rendered = embed_panel(embed)
    panel = next(panels(rendered))
    assert str(panel.border_style) == "#00ff00"
    lines = [line.strip("│ ").rstrip() for line in as_text(rendered).splitlines()]
    # Three inline fields per row, as Discord shows them; the fourth starts a new row.
    assert lines[1:4] == ["Stats", "How it goes", ""]
    assert lines[4].split() == ["Guilds", "Users", "Latency"]
    assert lines[5].split() == ["1", "4", "3", "ms"]
    assert lines[6:10] == ["Uptime", "5 min", "Note", "not inline"]
    assert lines[-2] == "tui-bot • 2024-02-01 12:00"
    # No colour: Discord's default grey.
    assert str(next(panels(embed_panel({"title": "x"}))).border_style) == "#4e5058"


def test_components_become_specs() -> None:
    directory = Directory(users={1: "Alice", 2: "Bob"}, members=(1, 2))
    rows = component_rows(
        [
            {
                "type": 1,
                "components": [
                    {"type": 2, "style": 1, "custom_id": "go", "label": "Go", "emoji": {"name": "▶"}},
                    {"type": 2, "style": 4, "custom_id": "stop", "label": "Stop", "disabled": True},
                    {"type": 2, "style": 5, "url": "https://example.org", "label": "Docs"},
                ],
            },
            {"type": 1, "components": [{"type": 5, "custom_id": "who", "placeholder": "Pick someone"}]},
            {"type": 10, "content": "just text"},
        ],
        directory,
    )
    assert len(rows) == 2
    go, stop, docs = rows[0]
    assert (go.kind, go.label, go.variant, go.disabled) == ("button", "▶ Go", "primary", False)
    assert (stop.variant, stop.disabled) == ("error", True)
    assert (docs.kind, docs.url, docs.label) == ("link", "https://example.org", "Docs ↗")
    (who,) = rows[1]
    assert who.kind == "select" and who.options == (("@Alice", "1"), ("@Bob", "2"))
    assert who.placeholder == "Pick someone" and who.default is None


# --- the look, pinned -------------------------------------------------------------------------------


FROZEN = datetime(2024, 2, 1, 12, 30, tzinfo=UTC).timestamp()


def frozen_sandbox() -> Sandbox:
    """A sandbox (never started: the pane reads its world) with a conversation at a fixed time."""
    sb = Sandbox(demo_world())
    world = sb.world
    world.snowflakes = SnowflakeGenerator(clock=lambda: FROZEN)  # fixed ids, so fixed timestamps
    general = world.find_channel("general")
    operator, alice, bob = (world.find_user(name) for name in ("operator", "alice", "bob"))
    world.create_message(general, operator, "!help")
    menu_components = [
        {
            "type": 1,
            "components": [
                {
                    "type": 3,
                    "custom_id": "help:category",
                    "placeholder": "Choose a category",
                    "options": [
                        {"label": "Fun", "value": "Fun", "default": True},
                        {"label": "Moderation", "value": "Moderation"},
                    ],
                }
            ],
        },
        {
            "type": 1,
            "components": [
                {"type": 2, "style": 2, "custom_id": "help:prev", "label": "◀", "disabled": True},
                {"type": 2, "style": 2, "custom_id": "help:page", "label": "1/2", "disabled": True},
                {"type": 2, "style": 2, "custom_id": "help:next", "label": "▶"},
                {
                    "type": 2,
                    "style": 1,
                    "custom_id": "help:home",
                    "label": "Main menu",
                    "emoji": {"name": "🏠"},
                },
            ],
        },
    ]
    world.create_message(
        general,
        world.bot_user,
        embeds=[
            {
                "title": "📂 Fun",
                "description": "Games and **random** answers.",
                "color": int(Colour.CATEGORIES),
                "fields": [
                    {"name": "!coinflip", "value": "Heads or tails.", "inline": True},
                    {"name": "!roll [dice=1d6]", "value": "Roll dice.", "inline": True},
                    {"name": "!choose <options>", "value": "Pick one of several options."},
                ],
                "footer": {"text": "Page 1/2 · 8 commands · !help <command> for details"},
            }
        ],
        components=menu_components,
    )
    world.create_message(general, alice, f"<@{bob.id}> try `!roll 2d6` — it's *fun*")
    # A reply that deleted itself (delete_after): still shown, dimmed and marked.
    world.delete_message(world.create_message(general, world.bot_user, "🎲 Rolled 2d6: **7** (4 + 3)"))
    refusal = world.create_message(
        general,
        world.bot_user,
        "Only **Operator** can use this menu; run `/help` yourself.",
        flags=EPHEMERAL,
        store=False,
    )
    refusal.interaction_metadata = {"id": "1", "type": 3, "user": {"id": str(bob.id)}}
    sb.interactions.ephemeral[refusal.id] = refusal
    return sb


def test_renderer_reads_the_frozen_conversation() -> None:
    sb = frozen_sandbox()
    general = sb.world.find_channel("general")
    messages: list[Message] = list(sb.world.messages[general.id].values())
    directory = Directory.of_guild(sb.world, sb.world.guilds[general.guild_id])
    alice_line: RenderableType = message_renderable(messages[2], directory, timezone=UTC)
    assert as_text(alice_line).splitlines() == ["Alice  12:30", "@Bob try !roll 2d6 — it's fun"]


def test_chat_pane_snapshot(snap_compare: Any) -> None:
    async def settle(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        pilot.app.query_one("#chat-log").scroll_home(animate=False)
        await pilot.pause()

    app = ChatApp(frozen_sandbox(), timezone=UTC)
    assert snap_compare(app, terminal_size=(100, 42), run_before=settle)


async def test_page_keys_scroll_the_chat_from_the_input() -> None:
    sb = frozen_sandbox()
    general = sb.world.find_channel("general")
    for number in range(40):
        sb.world.create_message(general, sb.world.find_user("alice"), f"message {number}")
    app = ChatApp(sb, timezone=UTC)
    async with app.run_test(size=(100, 30)) as pilot:
        chat_log = app.query_one("#chat-log")
        app.query_one(ChatPane).focus_input()
        await pilot.pause()
        bottom = chat_log.scroll_y
        assert bottom == chat_log.max_scroll_y > 0  # anchored: the newest message is in view
        await pilot.press("pageup")
        await wait_until(lambda: chat_log.scroll_y < bottom, what="scrolling up", pilot=pilot)
        await pilot.press("pagedown")
        await wait_until(lambda: chat_log.scroll_y == bottom, what="back at the bottom", pilot=pilot)


async def test_a_late_ephemeral_reply_is_shown_in_id_order() -> None:
    sb = frozen_sandbox()
    world = sb.world
    general = world.find_channel("general")
    # Answered before alice spoke, but known to the pane only after her message is on screen.
    early = world.create_message(general, world.bot_user, "early answer", flags=EPHEMERAL, store=False)
    early.interaction_metadata = {"id": "2", "type": 2, "user": {"id": str(world.owner_id)}}
    world.create_message(general, world.find_user("alice"), "later question")
    app = ChatApp(sb, timezone=UTC)
    async with app.run_test(size=(100, 40)) as pilot:
        pane = app.query_one(ChatPane)
        await message_with(pilot, pane, "later question")
        sb.interactions.ephemeral[early.id] = early
        sb.event_log.record(EventKind.INTERACTION_RESPONSE, {"interaction_id": 2}, message=early)
        await message_with(pilot, pane, "early answer")
        contents = [w.message.content for w in shown(pane)]
        assert contents[-2:] == ["early answer", "later question"]
        assert "👁 Only you can see this" in text_of(shown(pane)[-2])
