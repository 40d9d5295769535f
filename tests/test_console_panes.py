"""Every pane shows the live bot: status bar, logs, metrics, guilds, extensions, and the sandbox chat."""

from __future__ import annotations

import asyncio

from console_harness import (  # noqa: F401 - console is a fixture
    BROKEN,
    FAULTY,
    GREETER,
    QUIET,
    console,
    running,
)
from helpers.waiting import wait_until
from textual.widgets import DataTable, Sparkline, Static, TabPane

from tui_bot.tui.panes import ExtensionsPane, GuildsPane, LogsPane, MetricsPane


def cell_text(table: DataTable, key: str) -> list[str]:
    return [str(cell) for cell in table.get_row(key)]


async def test_every_pane_shows_the_running_bot(console) -> None:  # noqa: F811
    console.write_extension("greeter", GREETER)
    console.write_extension("broken", BROKEN)
    console.write_extension("quiet", QUIET)
    console.write_extension("faulty", FAULTY)
    console.write_config(
        extensions={"blacklist": ["quiet"]},
        command_permissions={"ping": ["Moderator"]},
    )
    app = console.build()
    async with running(app) as pilot:
        sandbox = app.runtime.sandbox
        assert sandbox is not None

        # The status bar: state from discord.py's events, the target, shards, latency, guilds.
        status = app.status.render().plain
        assert status.startswith("● ready")
        for part in ("sandbox", "1 shard", "latency", "1 guild", "auto-reload off"):
            assert part in status

        # Logs: the start-up lines arrived (in batches, through the buffered handler).
        log_lines = app.query_one(LogsPane).log_view.lines
        await wait_until(lambda: any("Connected as tui-bot" in line for line in log_lines))
        # The extension that failed to import was notified as an error, with its reason.
        await wait_until(lambda: any("broken on purpose" in m for m in app.errors_notified()))

        # Metrics: a command run by a member shows up in the counters, the sparkline and both tables.
        await sandbox.send_message("alice", "general", "!ping")
        assert (await sandbox.wait_for_bot_message()).content == "pong"
        await pilot.press("2")
        assert app.tabs.active == "metrics"
        metrics = app.query_one(MetricsPane)
        top = metrics.query_one("#top-commands", DataTable)
        await wait_until(lambda: top.row_count == 1)
        assert [str(c) for c in top.get_row_at(0)] == ["ping", "1"]
        latency = metrics.query_one("#command-latency", DataTable)
        assert [str(c) for c in latency.get_row_at(0)][:2] == ["ping", "1"]
        assert float(str(latency.get_row_at(0)[2]).replace(",", "")) >= 0  # ms, as the title says
        # Summed: the command may fall in the minute before the one now ending the sparkline.
        assert sum(metrics.query_one(Sparkline).data or []) == 1
        cards = {
            card.id: str(card.query_one(".card-value", Static).render()) for card in metrics.query(".card")
        }
        assert cards["card-commands"] == "1"
        assert int(cards["card-messages"]) >= 1
        assert cards["card-guilds"] == "1 · 4"
        assert cards["card-errors"] == "0"

        # Guilds: the sandbox guild with its prefix and shard; details list channels, roles, rules.
        await pilot.press("3")
        guilds = app.query_one(GuildsPane)
        table = guilds.query_one(DataTable)
        await wait_until(lambda: table.row_count == 1)
        guild = sandbox.find_guild()
        assert cell_text(table, str(guild.id)) == ["Sandbox Guild", str(guild.id), "4", "!", "0"]
        details = guilds.query_one("#guild-detail-text", Static)
        await wait_until(lambda: "Permission rules" in str(details.render()))
        text = str(details.render())
        assert "#general" in text and "#bot-commands" in text
        assert "Moderator" in text.split("Roles")[1]
        assert any(line.split() == ["ping", "Moderator"] for line in text.splitlines())

        # Extensions: every state, with load time and last reload; a failed one shows its traceback.
        await pilot.press("4")
        extensions = app.query_one(ExtensionsPane)
        table = extensions.query_one(DataTable)
        await wait_until(lambda: table.row_count == 4)
        states = {name: cell_text(table, name)[1] for name in ("broken", "faulty", "greeter", "quiet")}
        assert states == {"broken": "failed", "faulty": "loaded", "greeter": "loaded", "quiet": "blacklisted"}
        greeter = cell_text(table, "greeter")
        assert greeter[2].endswith(" ms") and greeter[3].count(":") == 2
        assert "RuntimeError: broken on purpose" in cell_text(table, "broken")[4]
        detail = extensions.query_one("#extension-detail-text", Static)
        assert str(detail.render()).startswith("broken")  # the first row is highlighted
        assert "Traceback (most recent call last)" in str(detail.render())
        await pilot.press("down", "down")
        assert "Commands (2): greet, ping" in str(detail.render())

        # Sandbox mode adds the Chat pane (tui_bot.tui.chat.ChatPane) as a fifth tab.
        from tui_bot.tui.chat import ChatPane

        assert app.query_one("TabPane#chat", TabPane).query_one(ChatPane)
        await pilot.press("5")
        assert app.tabs.active == "chat"


async def test_the_help_menu_from_the_consoles_chat_tab(console) -> None:  # noqa: F811
    """A newcomer's first steps in ``tui-bot --sandbox``: the Chat tab, ``!help``, a category, back."""
    from tests.test_console_chat import choose, component, message_with, text_of
    from tui_bot.tui.chat import ChatPane

    app = console.build()
    async with running(app, size=(120, 60)) as pilot:
        await pilot.press("5")
        assert app.tabs.active == "chat"
        pane = app.query_one(ChatPane)
        assert app.focused is pane.query_one("#chat-input")  # the tab puts the cursor in the input
        await pilot.press(*"!help", "enter")
        menu = await message_with(pilot, pane, "📖 Help")
        bot = app.runtime.bot
        assert bot is not None

        updated = asyncio.ensure_future(bot.wait_for("help_menu_update", timeout=5))
        await choose(pilot, component(menu, "help:category"), "Information")
        await updated
        await message_with(pilot, pane, "📂 Information")
        assert "!stats" in text_of(menu) and "!discordbotframework" in text_of(menu)

        updated = asyncio.ensure_future(bot.wait_for("help_menu_update", timeout=5))
        await pilot.click(component(menu, "help:home"))
        await updated
        await message_with(pilot, pane, "📖 Help")
        assert [w.spec.custom_id for w in menu.components] == ["help:category"]
        assert not app.errors_notified()


async def test_a_process_running_some_shards_shows_its_own_shards_in_the_status_bar(
    console,  # noqa: F811
) -> None:
    # Shards 2 and 3 of 4, as a cluster worker or `--shard-count 4 --shard-ids 2-3` runs them.
    console.write_config(sharding={"shard_count": 4, "shard_ids": [2, 3]})
    app = console.build()
    async with running(app):
        status = app.status
        await wait_until(lambda: "shards 2-3 of 4: 2/2 ready" in status.render().plain, what="both ready")
        # A drop of one of them shows as one of this process's two, not as two of four down.
        sandbox = app.runtime.sandbox
        assert sandbox is not None
        await sandbox.drop_gateway(shard_id=3, hold=True)
        await wait_until(lambda: "shards 2-3 of 4: 1/2 ready" in status.render().plain, what="shard 3 down")
        sandbox.release_gateway()
        await wait_until(lambda: "shards 2-3 of 4: 2/2 ready" in status.render().plain, what="back")
