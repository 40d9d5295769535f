"""Slash commands, autocomplete, buttons, selects and modals: the sandbox as a member's Discord client.

Every bot is an unmodified ``commands.Bot`` that syncs its command tree against the sandbox; members'
actions go through ``Sandbox.invoke_slash`` / ``click_button`` / ``select`` / ``submit_modal`` and the
bot answers through discord.py's real interaction, webhook and gateway code.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest
from discord import app_commands
from discord.ext import commands

from tui_bot.sandbox import EventKind, Sandbox
from tui_bot.sandbox.interactions import CallbackType, InteractionError, InteractionType

GUILD_ID = 1191168935198720000
BOT_ID = 1191168918421504000
ALICE_ID = 1191168926810112000
BOB_ID = 1191168931004416000
MODERATOR_ID = 1191168939393024000
GENERAL_ID = 1191168947781632000
BOT_COMMANDS_ID = 1191168951975936000
EPHEMERAL, LOADING = 64, 128


@pytest.fixture(autouse=True)
def restore_discord_endpoints() -> Any:
    """discord.py's endpoints are process-wide class attributes: put them back after every test."""
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    async with Sandbox() as sandbox:
        sandbox.point_discord_py_here()
        yield sandbox


def make_bot() -> commands.Bot:
    intents = discord.Intents.default()
    intents.message_content = True
    return commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.01)


@asynccontextmanager
async def running(bot: commands.Bot, sb: Sandbox, *, sync: bool = True) -> AsyncIterator[commands.Bot]:
    """Start ``bot`` against ``sb``, sync its global commands, and close it on exit."""
    task = asyncio.create_task(bot.start(sb.token))
    ready = asyncio.create_task(bot.wait_until_ready())
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        assert ready in done, "the bot never became ready"
        if sync:
            await bot.tree.sync()
        yield bot
    finally:
        ready.cancel()
        await bot.close()
        await asyncio.wait_for(task, timeout=5)


async def history(sb: Sandbox, channel_id: int) -> list[tuple[str, str]]:
    """(author, content) newest first, as GET channels/{id}/messages shows them to the bot."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{sb.api_base}/channels/{channel_id}/messages", headers={"Authorization": f"Bot {sb.token}"}
        ) as response,
    ):
        return [(m["author"]["username"], m["content"]) for m in await response.json()]


# --- slash commands -----------------------------------------------------------------------------


async def test_slash_command_options_are_converted_and_the_reply_is_a_channel_message(sb: Sandbox) -> None:
    bot = make_bot()
    seen: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    own_messages: asyncio.Queue[discord.Message] = asyncio.Queue()

    @bot.tree.command(description="Greet someone")
    async def greet(
        interaction: discord.Interaction,
        text: str,
        times: app_commands.Range[int, 1, 5],
        who: discord.Member,
        role: discord.Role,
        where: discord.TextChannel,
    ) -> None:
        await seen.put((text, times, who, role, where, interaction))
        await interaction.response.send_message(f"{text} x{times} {who.name} @{role.name} #{where.name}")

    @bot.listen()
    async def on_message(message: discord.Message) -> None:
        if message.author.id == BOT_ID:
            await own_messages.put(message)

    async with running(bot, sb):
        handle = await sb.invoke_slash(
            "alice",
            "general",
            "greet",
            text="hi",
            times=3,
            who="bob",
            role="@Moderator",
            where="#bot-commands",
        )
        assert handle.type is InteractionType.APPLICATION_COMMAND and handle.name == "greet"
        text, times, who, role, where, interaction = await asyncio.wait_for(seen.get(), 5)
        assert (text, times) == ("hi", 3)
        assert isinstance(who, discord.Member) and who.id == BOB_ID and who.guild.id == GUILD_ID
        assert isinstance(role, discord.Role) and role.id == MODERATOR_ID
        assert isinstance(where, discord.TextChannel) and where.id == BOT_COMMANDS_ID
        assert interaction.user.id == ALICE_ID and isinstance(interaction.user, discord.Member)
        assert interaction.permissions.ban_members and not interaction.permissions.administrator
        assert interaction.app_permissions.send_messages and interaction.channel.id == GENERAL_ID
        assert interaction.guild_locale is discord.Locale.american_english

        response = await handle.response()
        assert response.type is CallbackType.CHANNEL_MESSAGE_WITH_SOURCE and not response.ephemeral
        assert response.content == "hi x3 bob @Moderator #bot-commands"
        assert handle.response_latency is not None and 0 < handle.response_latency < 5
        reply = await sb.wait_for_bot_message(channel="general")
        assert reply.id == response.message.id and reply.type == 20  # CHAT_INPUT_COMMAND
        assert reply.interaction_metadata["user"]["id"] == str(ALICE_ID)
        assert (await history(sb, GENERAL_ID))[0] == ("tui-bot", "hi x3 bob @Moderator #bot-commands")

        # The bot got its own MESSAGE_CREATE, shaped so discord.py knows which interaction it answered.
        message = await asyncio.wait_for(own_messages.get(), 5)
        assert message.id == reply.id and message.type is discord.MessageType.chat_input_command
        assert message.interaction_metadata is not None and message.interaction_metadata.user.id == ALICE_ID
        assert message.application_id == BOT_ID and message.webhook_id == BOT_ID

        # The client refuses what Discord's client would not send.
        with pytest.raises(InteractionError, match=r"outside 1\.\.5"):
            await sb.invoke_slash(
                "alice", "general", "greet", text="x", times=9, who="bob", role="1", where=1
            )
        with pytest.raises(InteractionError, match="'times' of /greet \\(integer\\)"):
            await sb.invoke_slash(
                "alice", "general", "greet", text="x", times="many", who="bob", role="a", where=1
            )
        with pytest.raises(InteractionError, match="needs option 'where'"):
            await sb.invoke_slash("alice", "general", "greet", text="x", times=1, who="bob", role="Moderator")
        with pytest.raises(InteractionError, match="has no option 'colour'"):
            await sb.invoke_slash("alice", "general", "greet", colour="red")
        with pytest.raises(InteractionError, match="no user 'carol'"):
            await sb.invoke_slash(
                "alice", "general", "greet", text="x", times=1, who="carol", role="Moderator", where="general"
            )


async def test_unsynced_command_is_a_clear_error(sb: Sandbox) -> None:
    bot = make_bot()

    @bot.tree.command(description="Synced")
    async def synced(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("ok")

    async with running(bot, sb):

        @bot.tree.command(description="Added after the sync")
        async def later(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("never")

        with pytest.raises(InteractionError, match=r"/later is not a slash command .* \(synced: /synced\)"):
            await sb.invoke_slash("alice", "general", "later")
        assert not [e for e in sb.events if e.kind is EventKind.INTERACTION_CREATE]
        assert (await (await sb.invoke_slash("bob", "general", "synced")).response()).content == "ok"


async def test_ephemeral_reply_is_flagged_and_kept_out_of_history(sb: Sandbox) -> None:
    bot = make_bot()

    @bot.tree.command(description="A secret")
    async def secret(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("only you can see this", ephemeral=True)

    async with running(bot, sb):
        handle = await sb.invoke_slash("bob", "general", "secret")
        response = await handle.response()
        assert response.ephemeral and response.flags & EPHEMERAL
        assert response.content == "only you can see this"
        original = await handle.original()
        assert original is not None and original.id == response.message.id
        assert await history(sb, GENERAL_ID) == []
        assert sb.sent_messages == []
        event = await sb.wait_for_event(EventKind.INTERACTION_RESPONSE, timeout=0)
        assert event.data["ephemeral"] and event.data["interaction_id"] == handle.id


async def test_defer_then_followups_and_edit_original(sb: Sandbox) -> None:
    bot = make_bot()
    results: asyncio.Queue[Any] = asyncio.Queue()

    @bot.tree.command(description="Takes a while")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        first = await interaction.followup.send("done", wait=True)
        extra = await interaction.followup.send("psst", ephemeral=True, wait=True)
        await interaction.edit_original_response(content="done (edited)")
        original = await interaction.original_response()
        await results.put((first.id, extra.flags.ephemeral, original.id, original.content))

    async with running(bot, sb):
        handle = await sb.invoke_slash("alice", "bot-commands", "slow")
        response = await handle.response()
        assert response.type is CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE and response.deferred
        placeholder = response.message
        assert placeholder is not None and placeholder.flags == LOADING and placeholder.content == ""

        first_id, extra_ephemeral, original_id, original_content = await asyncio.wait_for(results.get(), 5)
        # The first follow-up after a thinking deferral replaces the placeholder, as on Discord.
        assert first_id == original_id == placeholder.id
        assert extra_ephemeral and original_content == "done (edited)"
        assert (await handle.wait_for_followup()).content == "done"
        secret = await handle.wait_for_followup()
        assert secret.content == "psst" and secret.flags & EPHEMERAL
        assert secret.interaction_metadata["original_response_message_id"] == str(placeholder.id)
        original = await handle.original()
        assert original is not None and original.content == "done (edited)" and original.flags == 0
        assert [m.content for m in handle.followups] == ["done (edited)", "psst"]
        assert await history(sb, BOT_COMMANDS_ID) == [("tui-bot", "done (edited)")]
        kinds = [e.kind for e in sb.events if e.data.get("message_id") == placeholder.id]
        assert kinds[:2] == [EventKind.MESSAGE_CREATE, EventKind.INTERACTION_RESPONSE]
        assert EventKind.MESSAGE_UPDATE in kinds and EventKind.INTERACTION_MESSAGE_EDIT in kinds


async def test_hybrid_command_invoked_as_slash(sb: Sandbox) -> None:
    bot = make_bot()

    @bot.hybrid_command(description="Echo text")
    async def echo(ctx: commands.Context[commands.Bot], *, text: str) -> None:
        await ctx.send(f"echo: {text} ({'slash' if ctx.interaction else 'prefix'})")

    async with running(bot, sb):
        response = await (await sb.invoke_slash("alice", "general", "echo", text="hello")).response()
        assert response.content == "echo: hello (slash)" and not response.ephemeral
        await sb.send_message("alice", "general", "!echo hi there")
        reply = await sb.wait_for_bot_message(check=lambda m: "prefix" in m.content)
        assert reply.content == "echo: hi there (prefix)"


async def test_subcommand_groups_numbers_booleans_mentionables_and_attachments(sb: Sandbox) -> None:
    bot = make_bot()
    seen: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    config = app_commands.Group(name="config", description="Settings")

    @config.command(name="set", description="Set a value")
    @app_commands.choices(key=[app_commands.Choice(name="Volume", value="volume")])
    async def config_set(
        interaction: discord.Interaction,
        key: str,
        value: float,
        public: bool = False,
        target: discord.Member | discord.Role | None = None,
        file: discord.Attachment | None = None,
    ) -> None:
        data = await file.read() if file is not None else b""
        await seen.put((key, value, public, target, data))
        await interaction.response.send_message(f"{key}={value}", ephemeral=not public)

    bot.tree.add_command(config, guild=discord.Object(GUILD_ID))
    async with running(bot, sb, sync=False):
        await bot.tree.sync(guild=discord.Object(GUILD_ID))
        handle = await sb.invoke_slash(
            "alice",
            "general",
            "config set",
            key="Volume",
            value="0.5",
            public="true",
            target="@Moderator",
            file=("notes.txt", b"hello"),
        )
        assert handle.name == "config set"
        assert handle.payload["data"]["guild_id"] == str(GUILD_ID)
        key, value, public, target, data = await asyncio.wait_for(seen.get(), 5)
        assert (key, value, public, data) == ("volume", 0.5, True, b"hello")
        assert isinstance(target, discord.Role) and target.id == MODERATOR_ID
        assert not (await handle.response()).ephemeral

        await sb.invoke_slash("bob", "general", "config set", key="volume", value=2, target="alice")
        _key, value, public, target, _data = await asyncio.wait_for(seen.get(), 5)
        assert (
            value == 2.0 and public is False and isinstance(target, discord.Member) and target.id == ALICE_ID
        )

        with pytest.raises(InteractionError, match="needs a subcommand: /config set"):
            await sb.invoke_slash("alice", "general", "config")
        with pytest.raises(InteractionError, match="not one of its choices"):
            await sb.invoke_slash("alice", "general", "config set", key="bass", value=1)


async def test_autocomplete_returns_the_bots_choices(sb: Sandbox) -> None:
    bot = make_bot()
    fruits = ["apple", "banana", "cherry", "mango"]

    async def fruit_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=f.title(), value=f) for f in fruits if current in f]

    @bot.tree.command(description="Pick a fruit")
    @app_commands.autocomplete(fruit=fruit_choices)
    async def pick(interaction: discord.Interaction, fruit: str, count: int = 1) -> None:
        await interaction.response.send_message(f"{count} {fruit}")

    async with running(bot, sb):
        choices = await sb.autocomplete("alice", "general", "pick", "fruit", fruit="an", count=2)
        assert choices == [{"name": "Banana", "value": "banana"}, {"name": "Mango", "value": "mango"}]
        assert await sb.autocomplete("alice", "general", "pick", "fruit") == [
            {"name": f.title(), "value": f} for f in fruits
        ]
        created = [e for e in sb.events if e.kind is EventKind.INTERACTION_CREATE]
        assert [e.data["type"] for e in created] == [4, 4]
        with pytest.raises(InteractionError, match="option 'count' of /pick has no autocomplete"):
            await sb.autocomplete("alice", "general", "pick", "count")


# --- components -----------------------------------------------------------------------------------


class Counter(discord.ui.View):
    """A counter only its owner may press; the others get an ephemeral refusal."""

    def __init__(self, owner_id: int) -> None:
        super().__init__(timeout=None)
        self.owner_id = owner_id
        self.count = 0

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message("This counter is not yours.", ephemeral=True)
            return False
        return True

    @discord.ui.button(label="+1", custom_id="counter:inc", style=discord.ButtonStyle.primary)
    async def increment(self, interaction: discord.Interaction, button: discord.ui.Button[Counter]) -> None:
        self.count += 1
        await interaction.response.edit_message(content=f"count: {self.count}", view=self)

    @discord.ui.button(label="Reset", custom_id="counter:reset", disabled=True)
    async def reset(self, interaction: discord.Interaction, button: discord.ui.Button[Counter]) -> None:
        raise AssertionError("a disabled button cannot be clicked")

    @discord.ui.select(
        custom_id="counter:colour",
        options=[
            discord.SelectOption(label="Red", value="red"),
            discord.SelectOption(label="Blue", value="blue"),
        ],
        max_values=2,
    )
    async def colour(self, interaction: discord.Interaction, select: discord.ui.Select[Counter]) -> None:
        await interaction.response.send_message(f"colours: {','.join(select.values)}")

    @discord.ui.select(cls=discord.ui.UserSelect, custom_id="counter:who")
    async def who(self, interaction: discord.Interaction, select: discord.ui.UserSelect[Counter]) -> None:
        member = select.values[0]
        assert isinstance(member, discord.Member)
        await interaction.response.send_message(f"picked {member.name} ({len(member.roles) - 1} roles)")


async def test_buttons_and_selects_update_and_answer(sb: Sandbox) -> None:
    bot = make_bot()
    updates: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    view_stored = asyncio.Event()

    @bot.tree.command(description="A counter")
    async def counter(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("count: 0", view=Counter(interaction.user.id))
        # discord.py registers the view only once the callback's HTTP response is back; a click that
        # arrives earlier finds no view and is dropped (on Discord, no human clicks that fast).
        view_stored.set()

    @bot.listen()
    async def on_message_edit(before: discord.Message, after: discord.Message) -> None:
        await updates.put((before.content, after.content))

    async with running(bot, sb):
        message = (await (await sb.invoke_slash("alice", "general", "counter")).response()).message
        assert message is not None and message.components[0]["type"] == 1
        await asyncio.wait_for(view_stored.wait(), 5)

        click = await sb.click_button("alice", message, "counter:inc")
        assert click.type is InteractionType.MESSAGE_COMPONENT
        response = await click.response()
        assert response.type is CallbackType.UPDATE_MESSAGE and response.content == "count: 1"
        assert await asyncio.wait_for(updates.get(), 5) == ("count: 0", "count: 1")
        assert (await sb.wait_for_event(EventKind.MESSAGE_UPDATE)).data["message_id"] == message.id
        assert (await history(sb, GENERAL_ID))[0] == ("tui-bot", "count: 1")
        await (await sb.click_button("alice", message.id, label="+1")).response()
        assert (await history(sb, GENERAL_ID))[0] == ("tui-bot", "count: 2")

        # interaction_check refuses bob with an ephemeral message; the count does not move.
        refused = await (await sb.click_button("bob", message, "counter:inc")).response()
        assert refused.ephemeral and refused.content == "This counter is not yours."
        assert (await history(sb, GENERAL_ID))[0] == ("tui-bot", "count: 2")

        picked = await (await sb.select("alice", message, "counter:colour", ["Blue", "red"])).response()
        assert picked.content == "colours: blue,red"
        assert picked.message is not None and picked.message.type == 19  # a reply to the component's message
        assert picked.message.message_reference["message_id"] == str(message.id)
        assert picked.message.interaction_metadata["interacted_message_id"] == str(message.id)
        chosen = await (await sb.select("alice", message, "counter:who", ["alice"])).response()
        assert chosen.content == "picked alice (1 roles)"

        with pytest.raises(InteractionError, match="is disabled"):
            await sb.click_button("alice", message, "counter:reset")
        with pytest.raises(InteractionError, match="no single button with custom_id 'nope'"):
            await sb.click_button("alice", message, "nope")
        with pytest.raises(InteractionError, match="has no option 'green'"):
            await sb.select("alice", message, "counter:colour", ["green"])
        with pytest.raises(InteractionError, match="takes 1-2 values"):
            await sb.select("alice", message, "counter:colour", [])


class Approval(discord.ui.View):
    """Sent with ``ctx.send``: its button defers the update, edits the message, then follows up."""

    @discord.ui.button(label="Approve", custom_id="approval:yes", style=discord.ButtonStyle.success)
    async def approve(self, interaction: discord.Interaction, button: discord.ui.Button[Approval]) -> None:
        await interaction.response.defer()  # DEFERRED_UPDATE_MESSAGE: nothing visible yet
        await interaction.edit_original_response(content=f"approved by {interaction.user.name}", view=None)
        await interaction.followup.send("noted", ephemeral=True)


async def test_component_on_a_plain_message_defers_then_edits_it(sb: Sandbox) -> None:
    bot = make_bot()
    sent: asyncio.Queue[discord.Message] = asyncio.Queue()

    @bot.command()
    async def request(ctx: commands.Context[commands.Bot]) -> None:
        await sent.put(await ctx.send("approve?", view=Approval(timeout=None)))

    async with running(bot, sb, sync=False):
        await sb.send_message("alice", "general", "!request")
        message = await asyncio.wait_for(sent.get(), 5)  # ctx.send returned: the view is registered
        handle = await sb.click_button("operator", message.id)
        response = await handle.response()
        assert response.type is CallbackType.DEFERRED_UPDATE_MESSAGE and response.message is None
        note = await handle.wait_for_followup()
        assert note.content == "noted" and note.flags & EPHEMERAL
        original = await handle.original()
        assert original is not None and original.id == message.id
        assert original.content == "approved by operator" and original.components == []
        assert (await history(sb, GENERAL_ID))[0] == ("tui-bot", "approved by operator")
        with pytest.raises(InteractionError, match="no single button"):
            await sb.click_button("operator", message.id)


class Feedback(discord.ui.Modal, title="Feedback"):
    name: discord.ui.TextInput[Feedback] = discord.ui.TextInput(label="Name", max_length=20)
    body: discord.ui.TextInput[Feedback] = discord.ui.TextInput(
        label="Body", style=discord.TextStyle.paragraph, required=False
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"thanks {self.name.value}: {self.body.value or '-'}")


class FeedbackButton(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.stored = asyncio.Event()  # set once discord.py has registered what it sent (see above)

    @discord.ui.button(label="Give feedback", custom_id="feedback:open")
    async def open(self, interaction: discord.Interaction, button: discord.ui.Button[FeedbackButton]) -> None:
        await interaction.response.send_modal(Feedback())
        self.stored.set()


async def test_modal_opened_from_a_button_and_submitted(sb: Sandbox) -> None:
    bot = make_bot()
    view = FeedbackButton()
    view_stored = asyncio.Event()

    @bot.tree.command(description="Ask for feedback")
    async def feedback(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Tell us!", view=view)
        view_stored.set()

    async with running(bot, sb):
        message = (await (await sb.invoke_slash("alice", "general", "feedback")).response()).message
        assert message is not None
        await asyncio.wait_for(view_stored.wait(), 5)
        opened = await sb.click_button("bob", message, label="Give feedback")
        modal = (await opened.response()).modal
        await asyncio.wait_for(view.stored.wait(), 5)
        assert modal is not None and modal["title"] == "Feedback"

        with pytest.raises(InteractionError, match="shown to bob, not alice"):
            await sb.submit_modal("alice", opened, {"Name": "Alice"})
        with pytest.raises(InteractionError, match="'Name' is required"):
            await sb.submit_modal("bob", opened, {"Body": "no name"})
        with pytest.raises(InteractionError, match="has no field 'Age'"):
            await sb.submit_modal("bob", opened, {"Name": "Bob", "Age": "3"})

        submitted = await sb.submit_modal("bob", opened, {"Name": "Bob", "Body": "Great bot"})
        assert submitted.type is InteractionType.MODAL_SUBMIT
        reply = await submitted.response()
        assert reply.content == "thanks Bob: Great bot"
        meta = reply.message.interaction_metadata
        assert meta["type"] == 5 and meta["triggering_interaction_metadata"]["id"] == str(opened.id)
        assert (await history(sb, GENERAL_ID))[0] == ("tui-bot", "thanks Bob: Great bot")
        with pytest.raises(InteractionError, match="already submitted"):
            await sb.submit_modal("bob", opened, {"Name": "Bob"})


# --- acknowledgement rules ------------------------------------------------------------------------


async def test_double_acknowledgement_is_refused(sb: Sandbox) -> None:
    bot = make_bot()
    outcomes: asyncio.Queue[Any] = asyncio.Queue()

    @bot.tree.command(description="Answered twice")
    async def twice(interaction: discord.Interaction) -> None:
        try:
            await interaction.response.send_message("from the command")
        except discord.HTTPException as exc:
            await outcomes.put(("command", exc.status, exc.code))
        else:
            await outcomes.put(("command", "ok"))
        try:
            await interaction.response.send_message("again")
        except discord.InteractionResponded:
            await outcomes.put(("command", "InteractionResponded"))

    # A second handler for the same interaction (a common bug): both check is_done() before either
    # request returns, so discord.py sends two callbacks and Discord refuses the second.
    @bot.listen()
    async def on_interaction(interaction: discord.Interaction) -> None:
        try:
            await interaction.response.send_message("from the listener")
        except discord.HTTPException as exc:
            await outcomes.put(("listener", exc.status, exc.code))
        else:
            await outcomes.put(("listener", "ok"))

    async with running(bot, sb):
        handle = await sb.invoke_slash("alice", "general", "twice")
        results = {await asyncio.wait_for(outcomes.get(), 5) for _ in range(3)}
        refusals = {r for r in results if r[1] == 400}
        assert len(refusals) == 1 and next(iter(refusals))[2] == 40060
        assert ("command", "InteractionResponded") in results
        assert len({r for r in results if r[1] == "ok"}) == 1
        assert handle.refusals == [(400, 40060, "Interaction has already been acknowledged.")]
        assert (await handle.response()).content in ("from the command", "from the listener")
        assert len(sb.sent_messages) == 1


async def test_unknown_and_late_interactions_are_404_10062(sb: Sandbox) -> None:
    bot = make_bot()
    outcome: asyncio.Queue[Any] = asyncio.Queue()

    @bot.tree.command(description="Too slow")
    async def sluggish(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.2)  # the bot being slow, not synchronisation
        try:
            await interaction.response.send_message("late")
        except discord.NotFound as exc:
            await outcome.put((exc.status, exc.code, exc.text))

    async with running(bot, sb):
        sb.interactions.response_deadline = 0.05
        handle = await sb.invoke_slash("alice", "general", "sluggish")
        assert await asyncio.wait_for(outcome.get(), 5) == (404, 10062, "Unknown interaction")
        with pytest.raises(InteractionError, match="refused: Unknown interaction"):
            await handle.response()

        # A forged token, and the raw shape of the answer: no bot token is needed on these routes.
        async with aiohttp.ClientSession() as session:
            url = f"{sb.api_base}/interactions/{handle.id}/not-the-token/callback"
            async with session.post(url, json={"type": 4, "data": {"content": "x"}}) as response:
                assert response.status == 404 and response.headers["Content-Type"] == "application/json"
                assert await response.json() == {"message": "Unknown interaction", "code": 10062}
            url = f"{sb.api_base}/webhooks/{BOT_ID}/not-a-token/messages/@original"
            async with session.get(url) as response:
                assert (response.status, (await response.json())["code"]) == (401, 50027)


async def test_interactions_go_to_the_guilds_shard_only(sb: Sandbox) -> None:
    intents = discord.Intents.default()
    bot = commands.AutoShardedBot(
        command_prefix="!", intents=intents, shard_count=2, guild_ready_timeout=0.01
    )

    # discord.py waits 5 s before every non-initial IDENTIFY; the hook is documented as overridable.
    async def no_identify_delay(shard_id: int | None, *, initial: bool = False) -> None:
        return None

    bot.before_identify_hook = no_identify_delay  # type: ignore[method-assign]

    @bot.tree.command(description="Which shard?")
    async def shard(interaction: discord.Interaction) -> None:
        assert interaction.guild is not None
        await interaction.response.send_message(f"shard {interaction.guild.shard_id}")

    async with running(bot, sb):
        handle = await sb.invoke_slash("alice", "general", "shard")
        expected = (GUILD_ID >> 22) % 2
        assert (await handle.response()).content == f"shard {expected}"
        created = await sb.wait_for_event(EventKind.INTERACTION_CREATE, timeout=0)
        assert created.data["shard"] == [expected, 2]
        identified = [e.data for e in sb.events if e.kind is EventKind.IDENTIFY]
        assert sorted(d["shard"][0] for d in identified) == [0, 1]
        assert created.data["session_id"] in {
            d["session_id"] for d in identified if d["shard"][0] == expected
        }
