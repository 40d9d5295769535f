"""Slash command sync with a diff, and the operator actions layer (``bot.actions``), on the sandbox."""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING

from tui_bot.core.actions import SelfTestResult
from tui_bot.core.extensions import ExtensionStatus
from tui_bot.core.results import ActionResult
from tui_bot.core.sync import SyncPlan, normalise_command
from tui_bot.sandbox import EventKind

if TYPE_CHECKING:
    from conftest import BotHarness

SLASHY = """
import discord
from discord import app_commands
from discord.ext import commands


class Slashy(commands.Cog):
    @commands.hybrid_command(description="Say hi")
    async def hi(self, ctx, name: str = "you"):
        await ctx.send(f"hi {name}")

    @app_commands.command(description="Roll a die")
    @app_commands.describe(sides="How many sides")
    async def roll(self, interaction, sides: app_commands.Range[int, 2, 100] = 6):
        await interaction.response.send_message(str(sides))


async def setup(bot):
    await bot.add_cog(Slashy())
"""


def syncs(harness: BotHarness) -> list[dict]:
    return [e.data for e in harness.sandbox.events if e.kind is EventKind.COMMANDS_SYNC]


async def test_sync_plans_first_and_skips_the_api_call_when_nothing_changed(harness: BotHarness) -> None:
    harness.write_extension("slashy", SLASHY)
    bot = await harness.start()
    assert syncs(harness) == []  # never synced at start-up
    # The framework's own global commands (/help) are part of the tree too.
    local = sorted(f"/{command.name}" for command in bot.tree.get_commands())
    assert {"/hi", "/roll"} <= set(local)

    plan = await bot.actions.plan_sync()
    assert isinstance(plan, SyncPlan) and plan.ok
    assert (plan.added, plan.changed, plan.removed) == (local, [], [])
    assert plan.describe() == f"global: {len(local)} added ({', '.join(local)}), 0 changed, 0 removed"

    first = await bot.actions.sync()
    assert first.ok and first.synced and first.plan is not None and first.plan.added == local
    assert len(syncs(harness)) == 1 and syncs(harness)[0]["guild_id"] is None
    assert first.describe() == f"synced {plan.describe()}"

    second = await bot.actions.sync()
    assert second.ok and not second.synced and not second.plan.has_changes  # type: ignore[union-attr]
    assert second.describe() == f"sync skipped, global: no changes ({len(local)} command(s) up to date)"
    assert len(syncs(harness)) == 1  # no PUT

    # A changed description, then a removed command, each show up and are synced.
    bot.tree.get_command("roll").description = "Roll a die (changed)"  # type: ignore[union-attr]
    plan = await bot.actions.plan_sync()
    assert (plan.added, plan.changed, plan.removed) == ([], ["/roll"], [])  # type: ignore[union-attr]
    assert (await bot.actions.sync()).synced and len(syncs(harness)) == 2
    bot.tree.remove_command("roll")
    plan = await bot.actions.plan_sync()
    assert (plan.added, plan.changed, plan.removed) == ([], [], ["/roll"])  # type: ignore[union-attr]
    assert (await bot.actions.sync()).synced and len(syncs(harness)) == 3
    assert not (await bot.actions.plan_sync()).has_changes  # type: ignore[union-attr]

    # force=True overwrites even without changes.
    forced = await bot.actions.sync(force=True)
    assert forced.synced and len(syncs(harness)) == 4


async def test_per_guild_scope(harness: BotHarness) -> None:
    harness.write_extension("slashy", SLASHY)
    bot = await harness.start()
    guild = bot.guilds[0]
    assert not (await bot.actions.plan_sync(guild.id)).has_changes  # type: ignore[union-attr]
    local = sorted(f"/{command.name}" for command in bot.tree.get_commands())
    bot.tree.copy_global_to(guild=guild)
    plan = await bot.actions.plan_sync(guild.id)
    assert plan.scope == f"guild {guild.id}" and plan.added == local  # type: ignore[union-attr]
    result = await bot.actions.sync(guild.id)
    assert result.synced and [s["guild_id"] for s in syncs(harness)] == [guild.id]
    assert not (await bot.actions.sync(guild.id)).synced
    assert (await bot.actions.plan_sync()).added == local  # type: ignore[union-attr]
    # And the synced guild commands work.
    handle = await harness.sandbox.invoke_slash("bob", "general", "roll", sides=20)
    assert (await handle.response()).content == "20"


def test_normalisation_ignores_what_discord_adds_and_sees_what_matters() -> None:
    local = {"name": "x", "description": "d", "type": 1, "options": [], "nsfw": False, "dm_permission": True}
    remote = {**local, "id": "1", "application_id": "2", "version": "3", "default_member_permissions": None}
    assert normalise_command(local, global_scope=True) == normalise_command(remote, global_scope=True)
    changed = {**remote, "default_member_permissions": "4"}
    assert normalise_command(local, global_scope=True) != normalise_command(changed, global_scope=True)
    option = {"type": 4, "name": "n", "description": "d", "required": False}
    assert normalise_command({**local, "options": [option]}, global_scope=True) != normalise_command(
        {**local, "options": [{**option, "min_value": 2}]}, global_scope=True
    )


async def test_actions_extensions_backup_and_auto_reload(harness: BotHarness) -> None:
    harness.write_extension("slashy", SLASHY)
    bot = await harness.start()
    actions = bot.actions

    unloaded = await actions.unload("slashy")
    assert unloaded.ok and unloaded.describe().startswith("unload slashy: ok in")
    assert bot.get_command("hi") is None
    loaded = await actions.load("slashy")
    assert loaded.ok and bot.get_command("hi") is not None
    assert not (await actions.load("slashy")).ok  # already loaded: a result, not an exception
    bad = await actions.load("../etc/passwd")
    assert not bad.ok and "is not an extension name" in bad.describe()
    reloaded = await actions.reload("slashy")
    assert reloaded.ok and reloaded.action == "reload"
    batch = await actions.reload_all()
    assert batch.ok and batch.describe() == "reload all: 1 ok"

    backup = await actions.backup()
    assert backup.ok and backup.path is not None and backup.path.exists()
    assert backup.describe() == f"backup: saved {backup.path.name}"

    # auto_reload: saved in config.json and the watcher really reloads a changed file.
    assert not actions.watching
    turned_on = await actions.set_auto_reload(True)
    assert turned_on.ok and actions.watching
    assert json.loads(harness.config_path.read_text())["auto_reload"] is True
    before = bot.extension_manager.state("slashy").last_loaded_at
    deadline = time.monotonic() + 10
    while bot.extension_manager.state("slashy").last_loaded_at == before:
        # Rewritten until seen: the watcher's thread may not be watching yet when the first write lands.
        assert time.monotonic() < deadline, "the watcher did not reload the changed extension"
        harness.write_extension("slashy", SLASHY.replace("Say hi", "Say hello"))
        for _ in range(20):
            await asyncio.sleep(0.05)
            if bot.extension_manager.state("slashy").last_loaded_at != before:
                break
    assert bot.get_command("hi").description == "Say hello"  # type: ignore[union-attr]
    assert bot.extension_manager.state("slashy").status is ExtensionStatus.LOADED

    turned_off = await actions.set_auto_reload(False)
    assert (
        turned_off.ok
        and not actions.watching
        and turned_off.describe() == ("auto reload: off (saved in config.json)")
    )
    assert json.loads(harness.config_path.read_text())["auto_reload"] is False
    assert bot.config.model.auto_reload is False


async def test_every_action_returns_an_action_result_and_atomictest_runs_through_the_layer(
    harness: BotHarness,
) -> None:
    harness.write_extension("slashy", SLASHY)
    bot = await harness.start()
    actions = bot.actions
    results = [
        await actions.unload("slashy"),
        await actions.load("slashy"),
        await actions.reload("slashy"),
        await actions.reload_all(),
        await actions.plan_sync(),
        await actions.sync(),
        await actions.backup(),
        await actions.set_auto_reload(True),
        await actions.set_auto_reload(False),
        await actions.atomictest(),
    ]
    assert all(isinstance(result, ActionResult) and result.ok for result in results), results

    selftest = results[-1]
    assert isinstance(selftest, SelfTestResult)
    assert [check.name for check in selftest.checks] == ["write", "read", "cache", "concurrency", "cleanup"]
    assert selftest.describe().startswith("atomictest: 5 checks passed in ")
    # In a scratch folder next to the database, removed afterwards.
    assert list(harness.db_path.parent.glob("atomictest-*")) == []
