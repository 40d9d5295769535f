"""Forms (modals) end to end: every modal component discord.py 2.7 offers, through the real client.

A ``commands.Bot`` opens modals built from discord.py's own ``ui`` items (Label, TextInput, the five
selects, FileUpload, RadioGroup, CheckboxGroup, Checkbox, TextDisplay); members fill them in through
``Sandbox.submit_modal`` and the control API, and the bot's ``on_submit`` replies with what discord.py
parsed, so each assertion reads what a bot sees. Modals Discord refuses fail in discord.py with
``HTTPException`` 50035 naming the field; submissions Discord's client would not send are refused.
The callback answers with ``with_response`` are checked as Discord shapes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest
from discord import app_commands, ui
from discord.ext import commands

from tui_bot.sandbox import EventKind, Sandbox
from tui_bot.sandbox.forms import form_fields
from tui_bot.sandbox.interactions import CallbackType, InteractionError

GENERAL_ID = 1191168947781632000


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


# --- the bot's forms ------------------------------------------------------------------------------


class Profile(ui.Modal, title="Profile"):
    """Text input, string select, user select, checkbox and checkbox group, each in a Label."""

    name: ui.Label[Profile] = ui.Label(
        text="Name", description="As others see it", component=ui.TextInput(custom_id="name", min_length=2)
    )
    colours: ui.Label[Profile] = ui.Label(
        text="Colours",
        component=ui.Select(
            custom_id="colours",
            max_values=2,
            options=[
                discord.SelectOption(label="Red", value="red"),
                discord.SelectOption(label="Green", value="green", default=True),
                discord.SelectOption(label="Blue", value="blue"),
            ],
        ),
    )
    friend: ui.Label[Profile] = ui.Label(text="Best friend", component=ui.UserSelect(custom_id="friend"))
    agree: ui.Label[Profile] = ui.Label(text="I agree", component=ui.Checkbox(custom_id="agree"))
    days: ui.Label[Profile] = ui.Label(
        text="Free days",
        component=ui.CheckboxGroup(
            custom_id="days",
            max_values=2,
            options=[
                discord.CheckboxGroupOption(label="Monday", value="mon"),
                discord.CheckboxGroupOption(label="Tuesday", value="tue"),
                discord.CheckboxGroupOption(label="Friday", value="fri"),
            ],
        ),
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert isinstance(self.name.component, ui.TextInput)
        assert isinstance(self.colours.component, ui.Select)
        assert isinstance(self.friend.component, ui.UserSelect)
        assert isinstance(self.agree.component, ui.Checkbox)
        assert isinstance(self.days.component, ui.CheckboxGroup)
        friends = [f"{type(u).__name__}:{u.name}" for u in self.friend.component.values]
        await interaction.response.send_message(
            f"name={self.name.component.value} colours={self.colours.component.values} "
            f"friend={friends} agree={self.agree.component.value} days={self.days.component.values}"
        )


class Setup(ui.Modal, title="Setup"):
    """Role, channel and mentionable selects, a radio group and a file upload."""

    role: ui.Label[Setup] = ui.Label(text="Role", component=ui.RoleSelect(custom_id="role"))
    channel: ui.Label[Setup] = ui.Label(
        text="Channel",
        component=ui.ChannelSelect(custom_id="channel", channel_types=[discord.ChannelType.text]),
    )
    ping: ui.Label[Setup] = ui.Label(
        text="Ping", component=ui.MentionableSelect(custom_id="ping", max_values=2)
    )
    size: ui.Label[Setup] = ui.Label(
        text="Size",
        component=ui.RadioGroup(
            custom_id="size",
            options=[
                discord.RadioGroupOption(label="Small", value="s"),
                discord.RadioGroupOption(label="Large", value="l"),
            ],
        ),
    )
    files: ui.Label[Setup] = ui.Label(text="Files", component=ui.FileUpload(custom_id="files", max_values=2))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert isinstance(self.role.component, ui.RoleSelect)
        assert isinstance(self.channel.component, ui.ChannelSelect)
        assert isinstance(self.ping.component, ui.MentionableSelect)
        assert isinstance(self.size.component, ui.RadioGroup)
        assert isinstance(self.files.component, ui.FileUpload)
        files = [f"{a.filename}:{(await a.read()).decode()}" for a in self.files.component.values]
        await interaction.response.send_message(
            f"role={[r.name for r in self.role.component.values]} "
            f"channel={[c.name for c in self.channel.component.values]} "
            f"ping={sorted(type(m).__name__ + ':' + m.name for m in self.ping.component.values)} "
            f"size={self.size.component.value} files={files}"
        )


class Notes(ui.Modal, title="Notes"):
    """A text display, a deprecated action-row text input, optional inputs left as the bot set them."""

    intro = ui.TextDisplay("Tell us **anything**.")
    legacy: ui.TextInput[Notes] = ui.TextInput(label="Legacy", custom_id="legacy", default="pre-filled")
    extra: ui.Label[Notes] = ui.Label(
        text="Extra", component=ui.TextInput(custom_id="extra", required=False, style=discord.TextStyle.long)
    )
    maybe: ui.Label[Notes] = ui.Label(
        text="Maybe",
        component=ui.RadioGroup(
            custom_id="maybe",
            required=False,
            options=[
                discord.RadioGroupOption(label="Yes", value="y"),
                discord.RadioGroupOption(label="No", value="n"),
            ],
        ),
    )
    ticked: ui.Label[Notes] = ui.Label(text="Ticked", component=ui.Checkbox(custom_id="ticked", default=True))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert isinstance(self.extra.component, ui.TextInput)
        assert isinstance(self.maybe.component, ui.RadioGroup)
        assert isinstance(self.ticked.component, ui.Checkbox)
        await interaction.response.send_message(
            f"legacy={self.legacy.value} extra={self.extra.component.value!r} "
            f"maybe={self.maybe.component.value} ticked={self.ticked.component.value}"
        )


FORMS: dict[str, Callable[[], ui.Modal]] = {"profile": Profile, "setup": Setup, "notes": Notes}


def make_bot() -> commands.Bot:
    intents = discord.Intents.default()
    bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.01)

    @bot.tree.command(description="Opens a form")
    @app_commands.describe(form="which form")
    async def form(interaction: discord.Interaction, form: str) -> None:
        await interaction.response.send_modal(FORMS[form]())

    return bot


@asynccontextmanager
async def running(bot: commands.Bot, sb: Sandbox) -> AsyncIterator[commands.Bot]:
    """Start ``bot`` against ``sb``, sync its commands, and close it on exit."""
    task = asyncio.create_task(bot.start(sb.token))
    ready = asyncio.create_task(bot.wait_until_ready())
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        assert ready in done, "the bot never became ready"
        await bot.tree.sync()
        yield bot
    finally:
        ready.cancel()
        await bot.close()
        await asyncio.wait_for(task, timeout=5)


async def open_form(sb: Sandbox, form: str, author: str = "alice") -> Any:
    handle = await sb.invoke_slash(author, "general", "form", form=form)
    response = await handle.response()
    assert response.type is CallbackType.MODAL and handle.modal is not None
    return handle


# --- submitting every kind ------------------------------------------------------------------------


async def test_every_component_kind_reaches_on_submit_through_the_python_api(sb: Sandbox) -> None:
    async with running(make_bot(), sb):
        opened = await open_form(sb, "profile")
        fields = form_fields(opened.modal)
        assert [(f.kind_name, f.label) for f in fields] == [
            ("text input", "Name"),
            ("select", "Colours"),
            ("user select", "Best friend"),
            ("checkbox", "I agree"),
            ("checkbox group", "Free days"),
        ]
        submitted = await sb.submit_modal(
            "alice",
            opened,
            {
                "Name": "Alice",
                "colours": ["Red", "blue"],
                "Best friend": "bob",
                "agree": True,
                "days": ["mon"],
            },
        )
        reply = await submitted.response()
        assert reply.content == (
            "name=Alice colours=['red', 'blue'] friend=['Member:bob'] agree=True days=['mon']"
        )
        # The wire shape Discord sends: Labels numbered 1, 3, 5... their inputs 2, 4, 6...
        data = submitted.payload["data"]
        assert data["components"][0] == {
            "type": 18,
            "id": 1,
            "component": {"type": 4, "id": 2, "custom_id": "name", "value": "Alice"},
        }
        assert data["components"][3]["component"] == {
            "type": 23,
            "id": 8,
            "custom_id": "agree",
            "value": True,
        }
        bob = str(sb.world.find_user("bob").id)
        assert data["components"][2]["component"]["values"] == [bob]
        assert set(data["resolved"]) == {"users", "members"} and bob in data["resolved"]["members"]
        assert opened.modal_submitted

        setup = await open_form(sb, "setup")
        submitted = await sb.submit_modal(
            "alice",
            setup,
            {
                "Role": "Moderator",
                "Channel": "#bot-commands",
                "Ping": ["bob", "@Moderator"],
                "Size": "Large",
                "Files": [("notes.txt", b"hello"), ("more.txt", b"world")],
            },
        )
        reply = await submitted.response()
        assert reply.content == (
            "role=['Moderator'] channel=['bot-commands'] ping=['Member:bob', 'Role:Moderator'] "
            "size=l files=['notes.txt:hello', 'more.txt:world']"
        )
        resolved = submitted.payload["data"]["resolved"]
        assert {"roles", "channels", "attachments", "users", "members"} <= set(resolved)


async def test_fields_left_alone_submit_what_the_bot_set(sb: Sandbox) -> None:
    async with running(make_bot(), sb):
        opened = await open_form(sb, "notes")
        submitted = await sb.submit_modal("alice", opened, {})
        reply = await submitted.response()
        assert reply.content == "legacy=pre-filled extra='' maybe=None ticked=True"
        components = submitted.payload["data"]["components"]
        assert components[0] == {"type": 10, "id": 1}  # a text display answers with its id alone
        assert components[1]["type"] == 1 and components[1]["components"][0]["value"] == "pre-filled"
        assert components[3]["component"] == {"type": 21, "id": 7, "custom_id": "maybe", "value": None}
        # A string select left alone submits its default option (Profile marks Green so).
        profile = await open_form(sb, "profile")
        submitted = await sb.submit_modal(
            "alice", profile, {"Name": "Al", "Best friend": "alice", "days": "tue"}
        )
        assert "colours=['green']" in (await submitted.response()).content


async def test_the_control_api_submits_every_kind(sb: Sandbox) -> None:
    async with running(make_bot(), sb), aiohttp.ClientSession() as http:

        async def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
            async with http.post(f"{sb.base_url}/_sandbox{path}", json=body) as response:
                return response.status, await response.json()

        status, opened = await post(
            "/interactions/slash",
            {
                "author": "bob",
                "channel": "general",
                "command": "form",
                "options": {"form": "setup"},
                "wait": 5,
            },
        )
        assert status == 200 and opened["response"]["type"] == 9
        assert opened["response"]["data"]["title"] == "Setup"
        values = {
            "role": "Moderator",
            "channel": "general",
            "ping": ["alice"],
            "size": "s",
            "files": [{"filename": "a.txt", "text": "plain"}, {"filename": "b.bin", "base64": "AAE="}],
        }
        refused = await post(
            "/interactions/modal",
            {
                "author": "bob",
                "interaction_id": opened["interaction"]["id"],
                "values": {**values, "size": "xl"},
            },
        )
        assert refused[0] == 400 and "radio group 'Size' (size) has no option 'xl'" in refused[1]["error"]
        status, answer = await post(
            "/interactions/modal",
            {"author": "bob", "interaction_id": opened["interaction"]["id"], "values": values, "wait": 5},
        )
        assert status == 200 and answer["response"]["type"] == 4
        assert answer["response"]["message"]["content"] == (
            "role=['Moderator'] channel=['general'] ping=['Member:alice'] size=s "
            "files=['a.txt:plain', 'b.bin:\\x00\\x01']"
        )

        status, opened = await post(
            "/interactions/slash",
            {
                "author": "bob",
                "channel": "general",
                "command": "form",
                "options": {"form": "profile"},
                "wait": 5,
            },
        )
        status, answer = await post(
            "/interactions/modal",
            {
                "author": "bob",
                "interaction_id": opened["interaction"]["id"],
                "values": {
                    "name": "Bob",
                    "colours": ["red"],
                    "friend": ["alice"],
                    "agree": False,
                    "days": [],
                },
                "wait": 5,
            },
        )
        assert status == 400 and "modal field 'Free days' is required" in answer["error"]
        status, answer = await post(
            "/interactions/modal",
            {
                "author": "bob",
                "interaction_id": opened["interaction"]["id"],
                "values": {
                    "name": "Bob",
                    "colours": ["red"],
                    "friend": ["alice"],
                    "agree": False,
                    "days": ["fri"],
                },
                "wait": 5,
            },
        )
        assert status == 200
        assert answer["response"]["message"]["content"] == (
            "name=Bob colours=['red'] friend=['Member:alice'] agree=False days=['fri']"
        )


async def test_submissions_discords_client_would_not_send_are_refused(sb: Sandbox) -> None:
    async with running(make_bot(), sb):
        opened = await open_form(sb, "profile")
        good = {"Name": "Alice", "Best friend": "bob", "days": ["mon"]}
        refusals = [
            ({**good, "Age": "3"}, "has no field 'Age'"),
            ({**good, "Name": "A"}, "'Name' must be 2-4000 characters, got 1"),
            ({**good, "Name": ""}, "modal field 'Name' is required"),
            ({**good, "colours": ["purple"]}, "select 'Colours' (colours) has no option 'purple'"),
            ({**good, "colours": ["red", "green", "blue"]}, "takes 1-2 values, got 3"),
            ({**good, "days": ["mon", "tue", "fri"]}, "checkbox group 'Free days' (days) takes 1-2 values"),
            ({**good, "days": ["sun"]}, "has no option 'sun'"),
            ({**good, "agree": "yes"}, "checkbox 'I agree' (agree) takes True or False"),
            ({**good, "Best friend": "nobody"}, "user select 'Best friend' (friend): no user 'nobody'"),
            ({**good, "Best friend": ["bob", "alice"]}, "takes 1-1 values, got 2"),
            ({**good, "Name": "Al", "name": "Al"}, "given twice"),
        ]
        for values, message in refusals:
            with pytest.raises(InteractionError, match=message.replace("(", r"\(").replace(")", r"\)")):
                await sb.submit_modal("alice", opened, values)
        assert not opened.modal_submitted  # a refused submission leaves the form open
        setup = await open_form(sb, "setup")
        fine = {"Role": "Moderator", "Channel": "general", "Ping": "bob", "Size": "s", "Files": [b"1"]}
        setup_refusals = [
            ({**fine, "Channel": "nowhere"}, r"channel select 'Channel' \(channel\): no channel 'nowhere'"),
            ({**fine, "Size": ["s", "l"]}, r"radio group 'Size' \(size\) takes one value"),
            ({**fine, "Size": None}, r"modal field 'Size' is required"),
            ({**fine, "Files": [b"1", b"2", b"3"]}, r"file upload 'Files' \(files\) takes 1-2 values, got 3"),
            ({**fine, "Files": "/no/such/file"}, r"file upload 'Files' \(files\): no file '/no/such/file'"),
            ({**fine, "Ping": ["bob", "bob"]}, r"picked twice"),
        ]
        for values, pattern in setup_refusals:
            with pytest.raises(InteractionError, match=pattern):
                await sb.submit_modal("alice", setup, values)
        # Refused submissions sent nothing: the bot never saw a MODAL_SUBMIT.
        assert not [e for e in sb.events if e.kind is EventKind.INTERACTION_CREATE and e.data["type"] == 5]


# --- modals Discord refuses -----------------------------------------------------------------------


def too_long_label() -> ui.Modal:
    modal = ui.Modal(title="Fine")
    modal.add_item(ui.Label(text="L" * 46, component=ui.TextInput(custom_id="t")))
    return modal


def too_long_description() -> ui.Modal:
    modal = ui.Modal(title="Fine")
    modal.add_item(ui.Label(text="ok", description="d" * 101, component=ui.TextInput(custom_id="t")))
    return modal


def one_radio_option() -> ui.Modal:
    modal = ui.Modal(title="Fine")
    group = ui.RadioGroup(custom_id="r", options=[discord.RadioGroupOption(label="Only")])
    modal.add_item(ui.TextDisplay("first"))
    modal.add_item(ui.Label(text="ok", component=group))
    return modal


def required_but_min_zero() -> ui.Modal:
    modal = ui.Modal(title="Fine")
    options = [discord.CheckboxGroupOption(label="A"), discord.CheckboxGroupOption(label="B")]
    modal.add_item(
        ui.Label(text="ok", component=ui.CheckboxGroup(custom_id="c", min_values=0, options=options))
    )
    return modal


def too_many_select_values() -> ui.Modal:
    modal = ui.Modal(title="Fine")
    modal.add_item(ui.Label(text="ok", component=ui.UserSelect(custom_id="u", max_values=26)))
    return modal


def select_in_a_row() -> ui.Modal:
    modal = ui.Modal(title="Fine")
    modal.add_item(ui.Select(custom_id="s", options=[discord.SelectOption(label="A")]))
    return modal


def long_title() -> ui.Modal:
    modal = ui.Modal(title="T" * 46)
    modal.add_item(ui.Label(text="ok", component=ui.TextInput(custom_id="t")))
    return modal


BAD_MODALS: dict[str, tuple[Callable[[], ui.Modal], str]] = {
    "title": (long_title, "In data.title: Must be 45 or fewer in length."),
    "label": (too_long_label, "In data.components.0.label: Must be 45 or fewer in length."),
    "description": (
        too_long_description,
        "In data.components.0.description: Must be 100 or fewer in length.",
    ),
    "radio": (
        one_radio_option,
        "In data.components.1.component.options: Must be between 2 and 10 in length.",
    ),
    "min_zero": (
        required_but_min_zero,
        "In data.components.0.component.min_values: min_values must be at least 1",
    ),
    "max_values": (
        too_many_select_values,
        "In data.components.0.component.max_values: int value should be less",
    ),
    "row_select": (
        select_in_a_row,
        'In data.components.0.components.0.type: Value of field "type" must be one of',
    ),
}


async def test_modals_discord_refuses_fail_in_discord_py_with_the_field_path(sb: Sandbox) -> None:
    bot = make_bot()
    outcomes: asyncio.Queue[Any] = asyncio.Queue()

    @bot.tree.command(description="Opens a broken form")
    async def broken(interaction: discord.Interaction, which: str) -> None:
        try:
            await interaction.response.send_modal(BAD_MODALS[which][0]())
        except discord.HTTPException as exc:
            await outcomes.put((exc.status, exc.code, exc.text))
        else:
            await outcomes.put("accepted")

    async with running(bot, sb):
        for which, (_, expected) in BAD_MODALS.items():
            handle = await sb.invoke_slash("alice", "general", "broken", which=which)
            status, code, text = await asyncio.wait_for(outcomes.get(), 5)
            assert (status, code) == (400, 50035), which
            assert expected in text, (which, text)
            assert not handle.responded and handle.refusals[-1][:2] == (400, 50035)


# --- callback answers with with_response ----------------------------------------------------------


async def test_callback_responses_carry_a_resource_only_for_messages(sb: Sandbox) -> None:
    bot = make_bot()
    callbacks: asyncio.Queue[Any] = asyncio.Queue()

    @bot.tree.command(description="Deferred")
    async def later(interaction: discord.Interaction) -> None:
        callback = await interaction.response.defer(thinking=True)
        await callbacks.put(("defer", callback.resource, callback.message_id))
        await interaction.followup.send("done")

    @bot.tree.command(description="Answered at once")
    async def now(interaction: discord.Interaction) -> None:
        callback = await interaction.response.send_message("now")
        await callbacks.put(("message", callback.resource, callback.message_id))

    async def suggest(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name="one", value="1")]

    @bot.tree.command(description="Autocompleted")
    @app_commands.autocomplete(query=suggest)
    async def search(interaction: discord.Interaction, query: str) -> None:
        await interaction.response.send_message(query)

    async with running(bot, sb):
        handles = {
            "later": await sb.invoke_slash("alice", "general", "later"),
            "now": await sb.invoke_slash("alice", "general", "now"),
            "form": await open_form(sb, "notes"),
        }
        assert await sb.autocomplete("alice", "general", "search", "query", query="o") == [
            {"name": "one", "value": "1"}
        ]
        kind, resource, message_id = await asyncio.wait_for(callbacks.get(), 5)
        kind2, resource2, message_id2 = await asyncio.wait_for(callbacks.get(), 5)
        got = {kind: (resource, message_id), kind2: (resource2, message_id2)}
        assert got["defer"][0] is None and got["defer"][1] is not None  # the placeholder's id, no resource
        assert isinstance(got["message"][0], discord.InteractionMessage)
        assert got["message"][0].content == "now"
        for handle in handles.values():
            await handle.response()

        bodies = {
            e.data["type"]: e.data["callback_response"]
            for e in sb.events
            if e.kind is EventKind.INTERACTION_RESPONSE
        }
        assert set(bodies) == {4, 5, 8, 9}
        for kind_number in (5, 8, 9):
            assert "resource" not in bodies[kind_number], kind_number
        assert bodies[5]["interaction"]["response_message_loading"] is True
        assert "response_message_id" not in bodies[9]["interaction"]
        assert bodies[4]["resource"]["type"] == 4 and bodies[4]["resource"]["message"]["content"] == "now"
