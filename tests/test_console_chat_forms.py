"""The console's Chat pane shows a bot's form (a Discord modal) as a dialog and submits it.

The whole console runs on a sandbox-backed runtime (``console_harness``) with an extension whose
``/survey`` opens a modal with a text input, a select and a checkbox. The operator, in the Chat tab,
runs the command, fills the form in with the keyboard and submits it as the member chosen in the
chat; the bot's ``on_submit`` answers with the values it received, and that answer appears in the chat.
A refused submission keeps the form open with the reason; a cancelled one sends nothing.
"""

from __future__ import annotations

from typing import Any

from console_harness import console, running  # noqa: F401 - console is a fixture
from helpers.waiting import wait_until
from textual.widgets import Checkbox, Input, Select, Static

from tests.test_console_chat import choose, message_with, text_of, type_line
from tui_bot.sandbox import EventKind
from tui_bot.tui.chat import ChatPane
from tui_bot.tui.chat_form import FormScreen
from tui_bot.tui.chat_widgets import ChatNotice

SURVEY = """
    import discord
    from discord import app_commands, ui
    from discord.ext import commands


    class Survey(ui.Modal, title="Survey"):
        name = ui.Label(text="Your name", component=ui.TextInput(custom_id="name", max_length=20))
        colour = ui.Label(
            text="Favourite colour",
            description="Pick one",
            component=ui.Select(
                custom_id="colour",
                options=[
                    discord.SelectOption(label="Red", value="red"),
                    discord.SelectOption(label="Green", value="green"),
                    discord.SelectOption(label="Blue", value="blue"),
                ],
            ),
        )
        news = ui.Label(text="Newsletter", component=ui.Checkbox(custom_id="news"))

        async def on_submit(self, interaction):
            await interaction.response.send_message(
                f"Thanks {self.name.component.value} ({interaction.user.name}): "
                f"colour={self.colour.component.values[0]} newsletter={self.news.component.value}"
            )


    class Surveys(commands.Cog):
        @app_commands.command(description="Fill in a survey")
        async def survey(self, interaction: discord.Interaction):
            await interaction.response.send_modal(Survey())


    async def setup(bot):
        await bot.add_cog(Surveys())
"""


def notices(pane: ChatPane) -> list[str]:
    return [str(notice.render()) for notice in pane.query(ChatNotice)]


async def open_survey(pilot: Any, pane: ChatPane) -> FormScreen:
    await type_line(pilot, "/survey")
    await wait_until(lambda: isinstance(pilot.app.screen, FormScreen), what="the form", pilot=pilot)
    screen = pilot.app.screen
    assert isinstance(screen, FormScreen)
    await wait_until(lambda: any("opened the form 'Survey'" in n for n in notices(pane)), pilot=pilot)
    return screen


async def test_a_form_is_filled_in_and_submitted_from_the_chat(console) -> None:  # noqa: F811
    console.write_extension("survey", SURVEY)
    app = console.build()
    async with running(app, size=(120, 50)) as pilot:
        bot, sandbox = app.runtime.bot, app.runtime.sandbox
        assert bot is not None and sandbox is not None
        await bot.tree.sync()
        await pilot.press("5")
        pane = app.query_one(ChatPane)
        await choose(pilot, pane.query_one("#chat-member", Select), "Bob")
        await wait_until(lambda: pane.member_id == sandbox.world.find_user("bob").id, what="bob", pilot=pilot)

        screen = await open_survey(pilot, pane)
        assert str(screen.query_one("#form-title").render()) == "Survey"
        assert "Filled in as Bob" in str(screen.query_one("#form-member", Static).render())
        assert "Pick one" in [str(w.render()) for w in screen.query(".form-description")]
        name = screen.query_one("#form-field-0", Input)
        assert app.focused is name  # the first field has the keyboard

        # Submitted empty: the sandbox refuses as Discord's client would, and the form stays open.
        await pilot.click("#form-submit")
        error = screen.query_one("#form-error", Static)
        await wait_until(lambda: "'Your name' is required" in str(error.render()), pilot=pilot)
        assert app.screen is screen

        name.focus()
        await pilot.press(*"Robert")
        await choose(pilot, screen.query_one("#form-field-1", Select), "Blue")
        newsletter = screen.query_one("#form-field-2", Checkbox)
        newsletter.focus()
        await pilot.press("space")
        assert newsletter.value is True
        await pilot.press("ctrl+s")

        reply = await message_with(pilot, pane, "Thanks Robert")
        assert "Thanks Robert (bob): colour=blue newsletter=True" in text_of(reply)
        assert app.screen is not screen
        submits = [
            e for e in sandbox.events if e.kind is EventKind.INTERACTION_CREATE and e.data["type"] == 5
        ]
        assert len(submits) == 1 and submits[0].data["user_id"] == sandbox.world.find_user("bob").id
        assert not app.errors_notified()


async def test_a_cancelled_form_sends_nothing(console) -> None:  # noqa: F811
    console.write_extension("survey", SURVEY)
    app = console.build()
    async with running(app, size=(120, 50)) as pilot:
        bot, sandbox = app.runtime.bot, app.runtime.sandbox
        assert bot is not None and sandbox is not None
        await bot.tree.sync()
        await pilot.press("5")
        pane = app.query_one(ChatPane)
        screen = await open_survey(pilot, pane)
        await pilot.press(*"Nobody")
        await pilot.press("escape")
        await wait_until(lambda: app.screen is not screen, what="the form to close", pilot=pilot)
        await wait_until(lambda: any("closed: nothing was sent" in n for n in notices(pane)), pilot=pilot)
        assert app.focused is pane.query_one("#chat-input", Input)
        assert not [
            e for e in sandbox.events if e.kind is EventKind.INTERACTION_CREATE and e.data["type"] == 5
        ]
        assert not app.errors_notified()
