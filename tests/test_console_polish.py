"""Console polish: the Extensions pane's states, the palette's entries, the keys panel, the invite link and
the slash commands a hot-loaded extension adds. Each is checked as the operator sees it."""

from __future__ import annotations

import io
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from console_harness import BROKEN, GREETER, QUIET, console, running  # noqa: F401 - console is a fixture
from helpers.waiting import wait_until
from rich.console import Console
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import DataTable, KeyPanel, Static
from textual.widgets._key_panel import BindingsTable

from tui_bot.tui.app import ConsoleApp
from tui_bot.tui.keys_panel import KeysPanel
from tui_bot.tui.modals import SyncPlanScreen
from tui_bot.tui.panes import ExtensionsPane, GuildsPane

SYNC_HINT = "greeter added 1 slash command(s): press s to sync"


def table_lines(table: DataTable) -> list[str]:
    """What the table draws, line by line (a cell too narrow for its text shows it cut)."""
    return [table.render_line(y).text for y in range(table.size.height)]


def log_lines(app: ConsoleApp) -> list[str]:
    return list(app.query_one("#log").lines)  # type: ignore[attr-defined]


async def until_the_watcher_watches(pilot: Pilot[Any], app: ConsoleApp, quiet: Path) -> None:
    """watchfiles gives no signal when its watch is in place: edit a loaded extension until it reloads."""
    assert app.bot is not None
    for attempt in range(40):
        quiet.write_text(textwrap.dedent(QUIET) + f"# edit {attempt}\n", encoding="utf-8")
        try:
            await wait_until(
                lambda: any("quiet: reload ok" in line for line in log_lines(app)), 0.5, pilot=pilot
            )
            return
        except AssertionError:
            continue
    pytest.fail("the extension watcher never saw an edit")


async def palette_titles(pilot: Pilot[Any], query: str) -> list[str]:
    """The entries the command palette lists for ``query`` once every provider has answered."""
    app = pilot.app
    await pilot.press("ctrl+p", *query)
    await wait_until(lambda: isinstance(app.screen, CommandPalette), pilot=pilot)
    palette = app.screen
    results = palette.query_one(CommandList)

    def settled() -> bool:
        gathering = [w for w in app.workers if w.group == CommandPalette._GATHER_COMMANDS_GROUP]
        return results.option_count > 0 and all(w.is_finished for w in gathering)

    await wait_until(settled, pilot=pilot, what="the palette's results")
    titles = [str(results.get_option_at_index(i).prompt).split("\n")[0] for i in range(results.option_count)]
    await pilot.press("escape")
    await wait_until(lambda: not isinstance(app.screen, CommandPalette), pilot=pilot)
    return titles


def keys_panel_lines(app: ConsoleApp) -> list[str]:
    """The keys panel's rows: the key(s), then what it does (``l Load Load the selected extension``)."""
    table = app.screen.query_one(KeyPanel).query_one(BindingsTable).render_bindings_table()
    rendering = Console(width=100, file=io.StringIO(), record=True)
    rendering.print(table)
    return [" ".join(line.split()) for line in rendering.export_text().splitlines() if line.strip()]


def lists_key(lines: list[str], key: str, description: str) -> bool:
    return any(re.search(rf"(^| ){re.escape(key)} {re.escape(description)}", line) for line in lines)


# -- the Extensions pane --------------------------------------------------------------------------------


async def test_the_state_column_shows_unloaded_in_full_after_an_unload(console) -> None:  # noqa: F811
    console.write_extension("greeter", GREETER)
    app = console.build()
    async with running(app) as pilot:
        await pilot.press("4")
        table = app.query_one(ExtensionsPane).query_one(DataTable)
        await wait_until(lambda: table.row_count == 1, pilot=pilot)
        assert any(line.split()[:2] == ["greeter", "loaded"] for line in table_lines(table))

        await pilot.press("u")
        await wait_until(
            lambda: any(m.startswith("unload greeter: ok") for m, _ in app.notified), pilot=pilot
        )
        await wait_until(lambda: str(table.get_row("greeter")[1]) == "unloaded", pilot=pilot)
        await pilot.pause()
        row = next(line for line in table_lines(table) if line.split()[:1] == ["greeter"])
        assert row.split()[1] == "unloaded", row


@pytest.mark.parametrize("auto_reload", [False, True], ids=["auto-reload off", "auto-reload on"])
async def test_a_failed_extension_whose_file_is_deleted_leaves_the_pane(console, auto_reload: bool) -> None:  # noqa: F811
    console.write_extension("quiet", QUIET)
    broken = console.write_extension("broken", BROKEN)
    console.write_config(auto_reload=auto_reload)
    app = console.build()
    async with running(app) as pilot:
        await pilot.press("4")
        table = app.query_one(ExtensionsPane).query_one(DataTable)
        await wait_until(lambda: table.row_count == 2, pilot=pilot)
        assert str(table.get_row("broken")[1]) == "failed"

        if auto_reload:
            await until_the_watcher_watches(pilot, app, console.extensions / "quiet.py")
        broken.unlink()
        await wait_until(lambda: table.row_count == 1, pilot=pilot, what="the broken row to go")
        if auto_reload:
            removed = "Extension broken: its file was removed"
            await wait_until(lambda: any(removed in line for line in log_lines(app)), pilot=pilot)
        assert [key.value for key in table.rows] == ["quiet"]
        assert not any("broken" in line for line in table_lines(table))
        assert not any("Hot reload skipped" in line for line in log_lines(app))  # a deletion is no error


# -- the command palette ----------------------------------------------------------------------------------


async def test_the_palette_screenshot_saves_even_without_a_downloads_folder(
    console,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for variable in ("XDG_DOWNLOAD_DIR", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(variable, raising=False)
    app = console.build()
    async with running(app) as pilot:
        await pilot.press("ctrl+p", *"screenshot")
        await wait_until(lambda: isinstance(app.screen, CommandPalette), pilot=pilot)
        await pilot.press("enter")
        await wait_until(lambda: any("Screenshot" in m for m, _ in app.notified), pilot=pilot)
        saved = list((home / "Downloads").glob("*.svg"))
        assert len(saved) == 1
        assert saved[0].read_text(encoding="utf-8").startswith("<svg")
        assert (f"Screenshot saved to {saved[0]}", "information") in app.notified
        assert app.errors_notified() == []


async def test_the_palette_screenshot_falls_back_to_the_working_folder(
    console,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    not_a_folder = tmp_path / "home-file"
    not_a_folder.write_text("a file where the home folder should be", encoding="utf-8")
    monkeypatch.setenv("HOME", str(not_a_folder))  # ~/Downloads cannot be created
    for variable in ("XDG_DOWNLOAD_DIR", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(variable, raising=False)
    app = console.build()
    async with running(app) as pilot:
        await pilot.press("ctrl+p", *"screenshot")
        await wait_until(lambda: isinstance(app.screen, CommandPalette), pilot=pilot)
        await pilot.press("enter")
        await wait_until(lambda: any("Screenshot" in m for m, _ in app.notified), pilot=pilot)
        saved = list(tmp_path.glob("*.svg"))  # tmp_path is the working folder
        assert len(saved) == 1
        assert (f"Screenshot saved to {saved[0]}", "information") in app.notified


async def test_the_palette_lists_quit_once(console) -> None:  # noqa: F811
    app = console.build()
    async with running(app) as pilot:
        titles = await palette_titles(pilot, "quit")
        assert titles.count("Quit") == 1, titles


# -- the keys panel ---------------------------------------------------------------------------------------


async def test_question_mark_shows_the_keys_of_the_shown_pane(console) -> None:  # noqa: F811
    console.write_extension("greeter", GREETER)
    app = console.build()
    async with running(app) as pilot:
        await pilot.press("4")
        await pilot.press("question_mark")
        await wait_until(lambda: bool(app.screen.query(KeyPanel)), pilot=pilot, what="the keys panel")
        await pilot.pause()
        lines = keys_panel_lines(app)
        # The pane's own keys and the app's, each with what it does.
        for key, description in (
            ("l", "Load Load the selected extension"),
            ("u", "Unload"),
            ("r", "Reload"),
            ("R", "Reload all"),
            ("s", "Sync"),
            ("q", "Quit"),
            ("?", "Keys"),
        ):
            assert lists_key(lines, key, description), (key, description, lines)
        assert not lists_key(lines, "g", "Sync guild")  # the Guilds pane's key: not this pane's

        await pilot.press("escape")
        await wait_until(lambda: not app.screen.query(KeyPanel), pilot=pilot, what="Esc to close it")

        await pilot.press("3", "question_mark")
        await wait_until(lambda: bool(app.screen.query(KeyPanel)), pilot=pilot)
        await pilot.pause()
        lines = keys_panel_lines(app)
        assert lists_key(lines, "g", "Sync guild") and not lists_key(lines, "u", "Unload")
        await pilot.press("question_mark")
        await wait_until(lambda: not app.screen.query(KeyPanel), pilot=pilot, what="? to close it")

        # The palette's "Keys" opens the same panel.
        assert (await palette_titles(pilot, "keys")).count("Keys") == 1
        await pilot.press("ctrl+p", *"keys", "enter")
        await wait_until(lambda: bool(app.screen.query(KeysPanel)), pilot=pilot)
        await pilot.press("escape")
        await wait_until(lambda: not app.screen.query(KeyPanel), pilot=pilot)


# -- the invite link --------------------------------------------------------------------------------------


async def test_the_invite_link_is_offered_in_the_palette_and_in_an_empty_guilds_pane(console) -> None:  # noqa: F811
    app = console.build()
    async with running(app) as pilot:
        sandbox = app.runtime.sandbox
        assert sandbox is not None
        application_id = sandbox.world.application.id
        expected = (
            f"https://discord.com/oauth2/authorize?client_id={application_id}&scope=bot+applications.commands"
        )

        assert "Invite link" in await palette_titles(pilot, "invite")
        await pilot.press("ctrl+p", *"invite link")
        await wait_until(lambda: isinstance(app.screen, CommandPalette), pilot=pilot)
        await pilot.press("enter")
        await wait_until(lambda: any(expected in m for m, _ in app.notified), pilot=pilot)
        assert app.clipboard.startswith(expected)
        assert any(expected in line for line in log_lines(app))

        # A bot in no guild: the Guilds pane says so and shows the link that adds it to one.
        await pilot.press("3")
        await sandbox.leave_guild(None)
        guilds = app.query_one(GuildsPane)
        details = guilds.query_one("#guild-detail-text", Static)
        await wait_until(lambda: guilds.query_one(DataTable).row_count == 0, pilot=pilot)
        await wait_until(lambda: expected in str(details.render()).replace("\n", ""), pilot=pilot)
        assert "in no guild" in str(details.render())


# -- slash commands of a hot-loaded extension -------------------------------------------------------------


async def test_a_hot_loaded_extension_with_slash_commands_says_to_sync(console) -> None:  # noqa: F811
    quiet = console.write_extension("quiet", QUIET)
    console.write_config(auto_reload=True)
    app = console.build()
    async with running(app) as pilot:
        await until_the_watcher_watches(pilot, app, quiet)
        console.write_extension("greeter", GREETER)
        await wait_until(lambda: any(SYNC_HINT in m for m, _ in app.notified), pilot=pilot, what="the hint")
        await wait_until(lambda: any(SYNC_HINT in line for line in log_lines(app)), pilot=pilot)
        assert app.errors_notified() == []


async def test_loading_with_l_says_to_sync_and_the_owner_load_reply_says_use_sync(console) -> None:  # noqa: F811
    console.write_extension("greeter", GREETER)
    console.write_extension("quiet", QUIET)
    console.write_config(extensions={"blacklist": ["greeter", "quiet"]})
    app = console.build()
    async with running(app) as pilot:
        sandbox = app.runtime.sandbox
        assert sandbox is not None
        await pilot.press("4")
        table = app.query_one(ExtensionsPane).query_one(DataTable)
        await wait_until(lambda: table.row_count == 2, pilot=pilot)
        assert table.cursor_row == 0  # greeter
        await pilot.press("l")
        await wait_until(lambda: any(SYNC_HINT in m for m, _ in app.notified), pilot=pilot)
        await wait_until(lambda: any(SYNC_HINT in line for line in log_lines(app)), pilot=pilot)

        # An extension without slash commands: no hint.
        await sandbox.send_message("operator", "general", "!load quiet")
        quiet = await sandbox.wait_for_bot_message()
        assert "sync" not in quiet.embeds[0]["description"]

        # From Discord: the owner's !load reply says the same, in Discord's terms.
        await pilot.press("u")
        await wait_until(
            lambda: any(m.startswith("unload greeter: ok") for m, _ in app.notified), pilot=pilot
        )
        await sandbox.send_message("operator", "general", "!load greeter")
        reply = await sandbox.wait_for_bot_message()
        description = reply.embeds[0]["description"]
        assert description.startswith("`greeter` loaded in ")
        assert "greeter added 1 slash command(s): use `!sync`" in description


async def test_an_unsynced_slash_command_in_the_chat_says_how_to_sync_and_works_once_synced(console) -> None:  # noqa: F811
    console.write_extension("greeter", GREETER)
    console.write_config(extensions={"blacklist": ["greeter"]})
    app = console.build()
    async with running(app) as pilot:
        sandbox = app.runtime.sandbox
        assert sandbox is not None and app.bot is not None
        assert (await app.bot.actions.load("greeter")).ok
        await pilot.press("5")
        await pilot.press(*"/greet", "enter")
        await wait_until(
            lambda: any("/greet is not a slash command" in m for m in app.errors_notified()), pilot=pilot
        )
        refusal = next(m for m in app.errors_notified() if "/greet" in m)
        assert "sync them (in tui-bot, press s in the console or use !sync), then try again" in refusal
        assert "bot.tree.sync" not in refusal

        app.action_show_tab("logs")  # in the chat's input, s is text
        await pilot.press("s")
        await wait_until(lambda: isinstance(app.screen, SyncPlanScreen), pilot=pilot)
        await pilot.press("y")
        await wait_until(
            lambda: any(m.startswith("synced global: 1 added (/greet)") for m, _ in app.notified), pilot=pilot
        )
        app.action_show_tab("chat")
        await pilot.press(*"/greet", "enter")
        reply = await sandbox.wait_for_bot_message(check=lambda message: message.content == "hello")
        assert reply.content == "hello"
