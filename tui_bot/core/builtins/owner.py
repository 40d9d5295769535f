"""Bot-owner commands: ``sync``, ``load``, ``unload``, ``reload``, ``backup``, ``autoreload`` and
``atomictest``.

Each one calls one ``bot.actions`` method, the code behind the console's keys, and turns its result into
an embed: a change made from Discord and one made from the terminal behave and log the same way, and
the keys and the commands are the same set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from tui_bot.core.actions import BatchResult, ExtensionChange, PlainResult, SelfTestResult
from tui_bot.core.clustering import ClusterActionResult
from tui_bot.core.extensions import ExtensionResult
from tui_bot.core.hybrid import hybrid_command
from tui_bot.core.replies import ReplyKind, send_reply
from tui_bot.core.responses import Colour, error_embed, make_embed, success_embed, warning_embed
from tui_bot.core.results import ALL_EXTENSIONS, ActionResult
from tui_bot.core.sync import SyncResult

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot  # the bot installs this cog: no import at run time

TRACEBACK_SHOWN = 900  # characters of a failing extension's traceback shown in Discord (the log has all)
_PAST = {"load": "loaded", "unload": "unloaded", "reload": "reloaded"}

Redact = Callable[[str], str]


def _kind(ok: bool) -> ReplyKind:
    return "success" if ok else "error"


def _names(items: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in items) or "none"


def sync_embed(result: SyncResult, redact: Redact) -> discord.Embed:
    """What a sync did: the differences it sent, or that there were none."""
    if result.error is not None:
        return error_embed("Sync failed", redact(result.error))
    plan = result.plan
    assert plan is not None
    if not result.synced:
        return make_embed(
            "🔄 No change to sync",
            f"The {plan.scope} slash commands on Discord are up to date "
            f"({plan.unchanged} command(s)); nothing was sent.",
            colour=Colour.MAIN_MENU,
        )
    embed = success_embed("Slash commands synced", f"Scope: {plan.scope}.")
    embed.add_field(name="Added", value=_names(plan.added))
    embed.add_field(name="Changed", value=_names(plan.changed))
    embed.add_field(name="Removed", value=_names(plan.removed))
    embed.set_footer(text="Discord clients may take a moment to show the new commands.")
    return embed


def extension_embed(result: ExtensionResult, redact: Redact, prefix: str = "!") -> discord.Embed:
    """A load/unload/reload outcome; a failure shows the error and the end of its traceback. New slash
    commands are named with how to sync them (``prefix``: the one the owner typed)."""
    if result.ok:
        text = f"`{result.name}` {_PAST.get(result.action, result.action)} in {result.seconds * 1000:.0f} ms."
        hint = result.sync_hint(f"use `{prefix}sync`") if isinstance(result, ExtensionChange) else None
        if hint is not None:
            text += f"\n{hint} to show them in Discord."
        return success_embed(f"Extension {_PAST.get(result.action, result.action)}", text)
    text = redact(result.error or "unknown error")
    if result.traceback:
        tail = redact(result.traceback)[-TRACEBACK_SHOWN:].replace("```", "'''")
        text += f"\n```py\n{tail}\n```"
    return error_embed(f"Could not {result.action} `{result.name}`", text)


def cluster_action_embed(result: ClusterActionResult, redact: Redact) -> discord.Embed:
    """A load/unload/reload run on every worker of the cluster: one line per worker."""
    done = sum(reply.ok for reply in result.replies)
    past = _PAST.get(result.action, result.action)
    lines = [redact(reply.describe()) for reply in result.replies]
    text = "\n".join(lines)[:4000] or "No worker answered."
    if result.ok:
        what = "Every loaded extension" if result.name == ALL_EXTENSIONS else "Extension"
        return success_embed(f"{what} {past} on {done}/{len(result.replies)} workers", text)
    return error_embed(f"`{result.name}`: {past} on {done} of {len(result.replies)} workers", text)


def batch_embed(result: BatchResult, redact: Redact, prefix: str = "!") -> discord.Embed:
    """``reload all``: one line per extension, and how to sync the slash commands it added."""
    lines = [
        f"✅ `{r.name}` in {r.seconds * 1000:.0f} ms" if r.ok else f"❌ `{r.name}`: {redact(r.error or '')}"
        for r in result.results
    ]
    if (hint := result.sync_hint(f"use `{prefix}sync`")) is not None:
        lines.append(f"\n{hint} to show them in Discord.")
    title = "Extensions reloaded" if result.ok else "Some extensions failed to reload"
    text = "\n".join(lines) or "No extension is loaded."
    return (success_embed if result.ok else error_embed)(title, text[:4000])


def backup_embed(result: PlainResult, redact: Redact) -> discord.Embed:
    """The backup file written, or why there is none."""
    if result.ok and result.path is None:  # PostgreSQL: the message says to use pg_dump
        return warning_embed("No backup file on PostgreSQL", redact(result.message))
    if not result.ok or result.path is None:
        return error_embed("Backup failed", redact(result.message))
    return success_embed(
        "Database backed up",
        f"Saved `{result.path.name}` next to the database: a verified online backup.",
    )


def auto_reload_embed(result: PlainResult, on: bool, redact: Redact) -> discord.Embed:
    """Auto-reload turned on or off (and saved), or why it could not be."""
    if not result.ok:
        return error_embed("Auto-reload unchanged", redact(result.message))
    if on:
        return success_embed(
            "Auto-reload on", "An extension reloads when its file changes. Saved in config.json."
        )
    return success_embed("Auto-reload off", "Extensions reload only when asked. Saved in config.json.")


def selftest_embed(result: SelfTestResult) -> discord.Embed:
    """Each check of the atomic file self-test with its time, and the handler's cache counters."""
    lines = [
        f"{'✅' if check.ok else '❌'} **{check.name}** ({check.seconds * 1000:.1f} ms): {check.detail}"
        for check in result.checks
    ]
    build = success_embed if result.ok else error_embed
    embed = build("Atomic file test passed" if result.ok else "Atomic file test failed", "\n".join(lines))
    stats = result.stats
    embed.set_footer(
        text=f"{len(result.checks)} checks in {result.seconds * 1000:.1f} ms · cache ttl "
        f"{stats['cache_ttl']:g} s, {stats['hits']} hits / {stats['misses']} misses since start"
    )
    return embed


class Owner(commands.Cog, name="Bot owner"):
    """Bot owner tools: slash command sync, extensions, backups, hot reload, storage self-test."""

    def __init__(self, bot: TuiBot) -> None:
        self.bot = bot

    def _redact(self, text: str) -> str:
        return self.bot.error_handler.redact(text)

    # -- slash commands -------------------------------------------------------------------------

    @hybrid_command(name="sync", description="Sync slash commands with Discord (owner)")
    @commands.is_owner()
    @app_commands.default_permissions(administrator=True)
    @app_commands.describe(scope="global (default) or guild (this server's own commands)")
    async def sync(self, ctx: commands.Context[Any], scope: Literal["global", "guild"] = "global") -> None:
        """Compare the slash commands with Discord's, then send only if something changed."""
        if scope == "guild" and ctx.guild is None:
            text = "`sync guild` syncs this server's commands: run it in a server."
            await send_reply(ctx, embed=error_embed("Server only", text), kind="error")
            return
        await ctx.defer()  # comparing and syncing can outlast the 3 s Discord gives an interaction
        guild_id = ctx.guild.id if scope == "guild" and ctx.guild else None
        result = await self.bot.actions.sync(guild_id)
        await send_reply(ctx, embed=sync_embed(result, self._redact), kind=_kind(result.ok))

    # -- extensions -----------------------------------------------------------------------------

    @hybrid_command(name="load", description="Load an extension from the extensions folder (owner)")
    @commands.is_owner()
    @app_commands.default_permissions(administrator=True)
    @app_commands.describe(extension="The extension's name, e.g. example")
    async def load(self, ctx: commands.Context[Any], extension: str) -> None:
        """Load an extension by its name in the extensions folder (no paths)."""
        await self._reply_extension(ctx, await self.bot.actions.everywhere("load", extension))

    @hybrid_command(name="unload", description="Unload a loaded extension (owner)")
    @commands.is_owner()
    @app_commands.default_permissions(administrator=True)
    @app_commands.describe(extension="The extension's name, e.g. example")
    async def unload(self, ctx: commands.Context[Any], extension: str) -> None:
        """Unload a loaded extension."""
        await self._reply_extension(ctx, await self.bot.actions.everywhere("unload", extension))

    @hybrid_command(name="reload", description="Reload an extension, or all of them (owner)")
    @commands.is_owner()
    @app_commands.default_permissions(administrator=True)
    @app_commands.describe(extension="The extension's name, or 'all'")
    async def reload(self, ctx: commands.Context[Any], extension: str) -> None:
        """Reload an extension (`reload all` reloads every loaded one); a failure keeps the old version."""
        if extension.strip().lower() == ALL_EXTENSIONS:
            result = await self.bot.actions.reload_all_everywhere()
            if isinstance(result, BatchResult):
                embed = batch_embed(result, self._redact, ctx.clean_prefix)
                await send_reply(ctx, embed=embed, kind=_kind(result.ok))
            else:
                await self._reply_extension(ctx, result)
            return
        await self._reply_extension(ctx, await self.bot.actions.everywhere("reload", extension))

    @load.autocomplete("extension")
    @unload.autocomplete("extension")
    @reload.autocomplete("extension")
    async def _complete_extension(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        names = [*self.bot.extension_manager.discover(), "all"]
        typed = current.strip().lower()
        return [app_commands.Choice(name=n, value=n) for n in names if typed in n.lower()][:25]

    async def _reply_extension(self, ctx: commands.Context[Any], result: ActionResult) -> None:
        if isinstance(result, ClusterActionResult):
            embed = cluster_action_embed(result, self._redact)
        else:
            assert isinstance(result, ExtensionResult)
            embed = extension_embed(result, self._redact, ctx.clean_prefix)
        await send_reply(ctx, embed=embed, kind=_kind(result.ok))

    @hybrid_command(name="autoreload", description="Turn hot reload of extensions on or off (owner)")
    @commands.is_owner()
    @app_commands.default_permissions(administrator=True)
    @app_commands.describe(state="on: reload an extension when its file changes; off: only when asked")
    async def autoreload(self, ctx: commands.Context[Any], state: Literal["on", "off"]) -> None:
        """Turn auto-reload on or off now; the choice is saved in config.json (`auto_reload`)."""
        on = state == "on"
        result = await self.bot.actions.set_auto_reload(on)
        await send_reply(ctx, embed=auto_reload_embed(result, on, self._redact), kind=_kind(result.ok))

    # -- storage --------------------------------------------------------------------------------

    @hybrid_command(name="backup", description="Back up the database now (owner)")
    @commands.is_owner()
    @app_commands.default_permissions(administrator=True)
    async def backup(self, ctx: commands.Context[Any]) -> None:
        """A verified online backup of the database, next to it in the data folder."""
        await ctx.defer()  # a large database can take longer than the 3 s an interaction is given
        result = await self.bot.actions.backup()
        await send_reply(ctx, embed=backup_embed(result, self._redact), kind=_kind(result.ok))

    @hybrid_command(name="atomictest", description="Test the atomic file handler (owner)")
    @commands.is_owner()
    @app_commands.default_permissions(administrator=True)
    async def atomictest(self, ctx: commands.Context[Any]) -> None:
        """Write, read, cache and concurrency checks of the atomic file handler, with timings."""
        await ctx.defer()
        result = await self.bot.actions.atomictest()
        await send_reply(ctx, embed=selftest_embed(result), kind=_kind(result.ok))
