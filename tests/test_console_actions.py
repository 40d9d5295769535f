"""Every console action, driven by its key, through the same ``bot.actions`` as the owner commands."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from console_harness import GREETER, QUIET, console, running  # noqa: F401 - console is a fixture
from helpers.waiting import wait_until
from textual.binding import Binding
from textual.widgets import DataTable, Static

from tui_bot.sandbox import EventKind
from tui_bot.tui.app import TABS, ConsoleApp
from tui_bot.tui.commands import console_commands
from tui_bot.tui.modals import SyncPlanScreen
from tui_bot.tui.panes import ExtensionsPane


def state_of(app, name: str) -> str:  # type: ignore[no-untyped-def]
    return str(app.query_one(ExtensionsPane).query_one(DataTable).get_row(name)[1])


async def test_extension_keys_load_unload_reload_and_reload_all(console) -> None:  # noqa: F811
    console.write_extension("greeter", GREETER)
    spare = console.write_extension("spare", QUIET)
    app = console.build()
    async with running(app) as pilot:
        bot = app.bot
        await pilot.press("4", "down")  # the Extensions pane; "spare" is the second row
        assert app.selected_extension() == "spare"
        assert app.check_action("load_extension", ()) is None  # already loaded

        await pilot.press("u")
        await wait_until(lambda: state_of(app, "spare") == "unloaded")
        assert not any(name.endswith(".spare") for name in bot.extensions)
        assert any(m.startswith("unload spare: ok") and s == "information" for m, s in app.notified)
        assert app.check_action("unload_extension", ()) is None  # nothing to unload now

        await pilot.press("l")
        await wait_until(lambda: state_of(app, "spare") == "loaded")
        assert any(m.startswith("load spare: ok") for m, _ in app.notified)

        # Reload picks up the new code.
        spare.write_text(
            textwrap.dedent(
                """
                from discord.ext import commands

                @commands.command()
                async def extra(ctx):
                    await ctx.send("extra")

                async def setup(bot):
                    bot.add_command(extra)
                """
            ),
            encoding="utf-8",
        )
        await pilot.press("r")
        await wait_until(lambda: bot.get_command("extra") is not None)
        await wait_until(lambda: any(m.startswith("reload spare: ok") for m, _ in app.notified))

        await pilot.press("R")
        await wait_until(lambda: ("reload all: 2 ok", "information") in app.notified)
        assert not any("slash command" in m for m, _ in app.notified)

        # A reload of everything that brings a new slash command says to sync, as a load does.
        spare.write_text(
            textwrap.dedent(
                """
                from discord.ext import commands

                @commands.command()
                async def extra(ctx):
                    await ctx.send("extra")

                @commands.hybrid_command(description="Extra, as a slash command")
                async def extraslash(ctx):
                    await ctx.send("extra")

                async def setup(bot):
                    bot.add_command(extra)
                    bot.add_command(extraslash)
                """
            ),
            encoding="utf-8",
        )
        await pilot.press("R")
        await wait_until(
            lambda: ("reload all added 1 slash command(s): press s to sync", "warning") in app.notified
        )

        # A reload that fails is an error notification; the previous version keeps running.
        spare.write_text("def broken(:\n", encoding="utf-8")
        await pilot.press("r")
        await wait_until(
            lambda: any(m.startswith("reload spare failed: SyntaxError") for m in app.errors_notified())
        )
        assert state_of(app, "spare") == "loaded" and bot.get_command("extra") is not None
        detail = app.query_one("#extension-detail-text", Static)
        await wait_until(lambda: "The last reload failed" in str(detail.render()))
        # The action's own error is notified once (its result), not again by the error-log hook.
        assert len([m for m in app.errors_notified() if "spare" in m]) == 1
        # And every result is in the logs too.
        lines = "\n".join(app.query_one("#log").lines)
        for text in ("Extension spare: unload ok", "Extension spare: load ok", "reload all: 2 ok"):
            assert text in lines


async def test_sync_shows_the_plan_and_sends_only_when_confirmed(console) -> None:  # noqa: F811
    console.write_extension("greeter", GREETER)
    console.write_config(extensions={"blacklist": ["greeter"]})
    app = console.build()
    async with running(app) as pilot:
        sandbox = app.runtime.sandbox
        # In sandbox mode the runtime syncs once at start-up (Discord itself is only synced on demand).
        await sandbox.wait_for_event(EventKind.COMMANDS_SYNC)
        synced_at_start = len([e for e in sandbox.events if e.kind is EventKind.COMMANDS_SYNC])
        # Something to sync: an extension with a new slash (hybrid) command.
        assert (await app.bot.actions.load("greeter")).ok

        def syncs() -> list[dict]:
            return [e.data for e in sandbox.events if e.kind is EventKind.COMMANDS_SYNC][synced_at_start:]

        # Cancelled: the diff is shown, nothing is sent.
        await pilot.press("s")
        await wait_until(lambda: isinstance(app.screen, SyncPlanScreen))
        plan_text = str(app.screen.query_one("#sync-plan", Static).render())
        assert plan_text.startswith("1 added\n  + /greet\n0 changed\n0 removed\n")
        assert app.check_action("backup", ()) is None  # no other bot action while the modal is open
        await pilot.press("n")
        await wait_until(lambda: not isinstance(app.screen, SyncPlanScreen))
        await wait_until(lambda: any("cancelled: nothing was sent" in m for m, _ in app.notified))
        assert syncs() == []

        # Confirmed: Discord (the sandbox) receives the commands.
        await pilot.press("s")
        await wait_until(lambda: isinstance(app.screen, SyncPlanScreen))
        await pilot.press("y")
        await wait_until(lambda: len(syncs()) == 1)
        await wait_until(
            lambda: ("synced global: 1 added (/greet), 0 changed, 0 removed", "information") in app.notified
        )
        assert "greet" in [c["name"] for c in sandbox.world.commands.get(None, [])]

        # The selected guild: no guild commands, so the plan says so and offers to sync anyway.
        await pilot.press("3")
        assert app.check_action("sync_guild", ()) is True
        await pilot.press("g")
        await wait_until(lambda: isinstance(app.screen, SyncPlanScreen))
        guild_id = sandbox.find_guild().id
        assert str(app.screen.query_one("#sync-plan", Static).render()).startswith("Nothing to change")
        await pilot.click("#sync-confirm")
        await wait_until(lambda: len(syncs()) == 2)
        assert syncs()[-1].get("guild_id") == guild_id
        await wait_until(lambda: any(m.startswith(f"synced guild {guild_id}") for m, _ in app.notified))


async def test_auto_reload_backup_and_quit(console, tmp_path: Path) -> None:  # noqa: F811
    app = console.build()
    async with running(app) as pilot:
        bot = app.bot
        assert not bot.actions.watching

        await pilot.press("a")
        await wait_until(lambda: bot.actions.watching)
        assert json.loads((tmp_path / "config.json").read_text())["auto_reload"] is True
        await wait_until(lambda: "auto-reload on" in app.status.render().plain)
        await pilot.press("a")
        await wait_until(lambda: not bot.actions.watching)
        assert json.loads((tmp_path / "config.json").read_text())["auto_reload"] is False
        assert ("auto reload: off (saved in config.json)", "information") in app.notified

        await pilot.press("b")
        await wait_until(lambda: any(m.startswith("backup: saved bot.db.backup_") for m, _ in app.notified))
        backups = list((tmp_path / "data").glob("bot.db.backup_*"))
        assert len(backups) == 1

        # The same action from the command palette (Ctrl+P), found by typing part of its name.
        await pilot.press("ctrl+p", *"back up", "enter")
        await wait_until(lambda: len(list((tmp_path / "data").glob("bot.db.backup_*"))) == 2)

        await pilot.press("q")
        await wait_until(lambda: app.return_code is not None)
    assert app.return_code == 0
    assert bot.is_closed() and not bot.db.connected
    # The shutdown backup as well.
    assert len(list((tmp_path / "data").glob("bot.db.backup_*"))) == 3


async def test_the_command_palette_offers_what_can_run_now(console) -> None:  # noqa: F811
    console.write_extension("greeter", GREETER)
    app = console.build()
    async with running(app) as pilot:
        titles = {command.title for command in app.palette_commands()}
        assert {"Reload all extensions", "Sync slash commands (global)", "Back up the database now"} <= titles
        assert {"Reload extension greeter", "Unload extension greeter", "Show Chat"} <= titles
        assert "Load extension greeter" not in titles  # loaded already: not offered
        assert "Sync slash commands of Sandbox Guild" in titles

        # Found by name from any pane: reload one extension without selecting it first.
        await pilot.press("ctrl+p", *"reload extension gree", "enter")
        await wait_until(lambda: any(m.startswith("reload greeter: ok") for m, _ in app.notified))


def test_the_readme_lists_every_key() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The console", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("| `")]
    keys_documented = " ".join(line.split(" | ", 1)[0] for line in table)
    for binding in ConsoleApp.BINDINGS:
        assert isinstance(binding, Binding)
        assert f"`{binding.key}`" in keys_documented, binding.key


async def test_the_palette_runs_the_atomic_file_test_of_the_owner_command(console) -> None:  # noqa: F811
    app = console.build()
    async with running(app) as pilot:
        assert "Test the atomic file handler" in {command.title for command in app.palette_commands()}
        await pilot.press("ctrl+p", *"atomic file", "enter")
        await wait_until(
            lambda: any(m.startswith("atomictest: 5 checks passed in ") for m, _ in app.notified)
        )
        assert list((console.root / "data").glob("atomictest-*")) == []  # its scratch folder is gone


def test_every_key_and_palette_entry_names_an_action_of_the_console() -> None:
    # Textual runs a key's or a palette entry's action by name: each name must be a real method.
    names = {
        binding.action.partition("(")[0] for binding in ConsoleApp.BINDINGS if isinstance(binding, Binding)
    }
    names |= {command.action for command in console_commands(None, TABS)}
    missing = sorted(name for name in names if not callable(getattr(ConsoleApp, f"action_{name}", None)))
    assert missing == []
