"""Refusals and errors counted apart, this run's uses agreeing with the database's, and the Metrics pane
at 80x24: end to end, the bot running against the sandbox inside the console."""

from __future__ import annotations

from typing import Any

import pytest
from console_harness import FAULTY, GREETER, ConsoleHarness, console, running  # noqa: F401 - a fixture
from discord import app_commands
from discord.ext import commands
from helpers.waiting import wait_until
from textual.widgets import DataTable, Static

from tui_bot.core.errors import is_refusal
from tui_bot.core.role_rules import MissingConfiguredRole
from tui_bot.tui.panes import MetricsPane

# "alice" is a Moderator, "bob" has no role, "operator" owns the guild and the bot.
ROLE_LOCKED_PING = {"command_permissions": {"ping": ["Moderator"]}}


def cards(pane: MetricsPane) -> dict[str, str]:
    """Every card's value as shown: ``{"errors": "0", ...}``."""
    return {
        str(card.id).removeprefix("card-"): str(card.query_one(".card-value", Static).render())
        for card in pane.query(".card")
    }


def rows(table: DataTable[Any]) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]


def fields(message: Any) -> dict[str, str]:
    return {field["name"]: field["value"] for field in message.embeds[0].get("fields", [])}


def with_extensions(harness: ConsoleHarness) -> ConsoleHarness:
    harness.write_extension("greeter", GREETER)  # ping (prefix), greet (hybrid)
    harness.write_extension("faulty", FAULTY)  # boom raises ZeroDivisionError
    harness.write_config(**ROLE_LOCKED_PING)
    return harness


def test_is_refusal_tells_the_bot_saying_no_from_a_failure() -> None:
    cooldown = commands.Cooldown(1, 10)
    refusals = [
        MissingConfiguredRole("ping", ["Moderator"]),
        commands.MissingRole("Moderator"),
        commands.MissingPermissions(["ban_members"]),
        app_commands.MissingPermissions(["ban_members"]),
        commands.CheckFailure("no"),
        commands.CommandOnCooldown(cooldown, 4.2, commands.BucketType.user),
        commands.BadArgument("not a number"),
        commands.TooManyArguments(),
    ]
    errors = [
        commands.CommandInvokeError(ZeroDivisionError("the command blew up")),
        RuntimeError("anything else"),
    ]
    assert [type(e).__name__ for e in refusals if not is_refusal(e)] == []
    assert [type(e).__name__ for e in errors if is_refusal(e)] == []


async def test_a_refused_command_is_a_refusal_and_a_raising_one_an_error(console) -> None:  # noqa: F811
    app = with_extensions(console).build()
    async with running(app) as pilot:
        sandbox = app.runtime.sandbox
        assert sandbox is not None
        await pilot.press("2")
        pane = app.query_one(MetricsPane)

        # bob lacks the Moderator role that ping requires: the bot says no, nothing went wrong.
        await sandbox.send_message("bob", "general", "!ping")
        refused = await sandbox.wait_for_bot_message()
        assert refused.embeds[0]["title"].endswith("Missing role")
        await wait_until(lambda: cards(pane)["refusals"] == "1", pilot=pilot, what="the refusal shown")
        assert cards(pane)["errors"] == "0" and not pane.query_one("#card-errors").has_class("-alert")
        stats = app.bot.metrics.get_stats()
        assert (stats["refusal_count"], stats["error_count"]) == (1, 0)

        # A command that raises is an error (and the card turns red); the refusal count stays.
        await sandbox.send_message("alice", "general", "!boom")
        assert "error id" in (await sandbox.wait_for_bot_message()).embeds[0]["description"]
        await wait_until(lambda: cards(pane)["errors"] == "1", pilot=pilot, what="the error shown")
        assert cards(pane)["refusals"] == "1" and pane.query_one("#card-errors").has_class("-alert")
        stats = app.bot.metrics.get_stats()
        assert (stats["refusal_count"], stats["error_count"]) == (1, 1)

        # !stats shows both, apart.
        await sandbox.send_message("operator", "general", "!stats")
        shown = fields(await sandbox.wait_for_bot_message())
        assert (shown["Refusals"], shown["Errors"]) == ("1", "1")


async def test_this_runs_top_commands_and_all_time_count_the_same_uses(console) -> None:  # noqa: F811
    app = with_extensions(console).build()
    async with running(app) as pilot:
        sandbox = app.runtime.sandbox
        assert sandbox is not None
        for author in ("alice", "alice", "bob"):  # twice run, once refused
            await sandbox.send_message(author, "general", "!ping")
            await sandbox.wait_for_bot_message()
        await sandbox.send_message("alice", "general", "!boom")  # failed: a use of neither
        await sandbox.wait_for_bot_message()
        metrics = app.bot.metrics
        await wait_until(lambda: metrics.commands_processed == 4, what="the four invocations to end")

        assert metrics.top_commands() == {"ping": 2} == await metrics.top_commands_all_time()
        await sandbox.send_message("operator", "general", "!stats")
        shown = fields(await sandbox.wait_for_bot_message())
        assert shown["Top commands (this run)"] == "`ping` × 2"
        assert shown["Top commands (all time)"] == "`ping` × 2"
        assert shown["Commands processed"] == "4"  # every invocation, refused and failed ones too

        # The pane's tables agree: two uses, two timed runs (the latency of a refusal is not kept).
        await pilot.press("2")
        pane = app.query_one(MetricsPane)
        top = pane.query_one("#top-commands", DataTable)
        await wait_until(lambda: top.row_count > 0, pilot=pilot, what="the top commands")
        assert rows(top)[0] == ["ping", "2"]
        latency = rows(pane.query_one("#command-latency", DataTable))
        assert [row[:2] for row in latency if row[0] == "ping"] == [["ping", "2"]]  # stats has its row too


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_every_card_and_latency_column_is_in_view(console, size: tuple[int, int]) -> None:  # noqa: F811
    app = with_extensions(console).build()
    async with running(app, size=size) as pilot:
        sandbox = app.runtime.sandbox
        assert sandbox is not None
        # The longest built-in name, and an error so that the Errors card has its alert style.
        await sandbox.send_message("alice", "general", "!discordbotframework")
        await sandbox.wait_for_bot_message()
        await sandbox.send_message("alice", "general", "!boom")
        await sandbox.wait_for_bot_message()
        await pilot.press("2")
        pane = app.query_one(MetricsPane)
        latency = pane.query_one("#command-latency", DataTable)
        await wait_until(
            lambda: any(row[0].startswith("discordbotframew") for row in rows(latency)),
            pilot=pilot,
            what="the latency row",
        )
        await wait_until(lambda: cards(pane)["errors"] == "1", pilot=pilot, what="the error")
        await pilot.pause()

        for card in pane.query(".card"):
            value = card.query_one(".card-value", Static)
            assert value.region.height == 1 and card.region.contains_region(value.region), card.id
        for table in (latency, pane.query_one("#top-commands", DataTable)):
            # Nothing to scroll sideways to: every column (Runs, Avg, p95, Max) is on screen.
            assert table.virtual_size.width <= table.scrollable_content_region.width, table.id
        assert [str(column.label) for column in latency.ordered_columns] == [
            "Command",
            "Runs",
            "Avg",
            "p95",
            "Max",
        ]
        assert rows(latency)[0][0] == "discordbotframew…"  # cut rather than push the numbers out
