"""Bot-owner commands: ``sync``, ``load``, ``unload``, ``reload`` and ``atomictest``.

They run ``bot.actions``, the code behind the console's keys, so a change made from Discord and one
made from the terminal behave and log the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from tui_bot.core.actions import BatchResult
from tui_bot.core.extensions import ExtensionResult
from tui_bot.core.replies import ReplyKind, send_reply
from tui_bot.core.responses import Colour, error_embed, make_embed, success_embed
from tui_bot.core.sync import SyncResult
from tui_bot.storage.selftest import run_atomic_selftest

TRACEBACK_SHOWN = 900  # characters of a failing extension's traceback shown in Discord (the log has all)
_PAST = {"load": "loaded", "unload": "unloaded", "reload": "reloaded"}


def _kind(ok: bool) -> ReplyKind:
    return "success" if ok else "error"


def _names(items: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in items) or "none"


def sync_embed(result: SyncResult, redact: Any) -> discord.Embed:
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


def extension_embed(result: ExtensionResult, redact: Any) -> discord.Embed:
    """A load/unload/reload outcome; a failure shows the error and the end of its traceback."""
    if result.ok:
        return success_embed(
            f"Extension {_PAST.get(result.action, result.action)}",
            f"`{result.name}` {_PAST.get(result.action, result.action)} in {result.seconds * 1000:.0f} ms.",
        )
    text = redact(result.error or "unknown error")
    if result.traceback:
        tail = redact(result.traceback)[-TRACEBACK_SHOWN:].replace("```", "'''")
        text += f"\n```py\n{tail}\n```"
    return error_embed(f"Could not {result.action} `{result.name}`", text)


def batch_embed(result: BatchResult, redact: Any) -> discord.Embed:
    lines = [
        f"✅ `{r.name}` in {r.seconds * 1000:.0f} ms" if r.ok else f"❌ `{r.name}`: {redact(r.error or '')}"
        for r in result.results
    ]
    title = "Extensions reloaded" if result.ok else "Some extensions failed to reload"
    text = "\n".join(lines) or "No extension is loaded."
    return (success_embed if result.ok else error_embed)(title, text[:4000])


class Owner(commands.Cog, name="Bot owner"):
    """Bot owner tools: slash command sync, extensions, storage self-test."""

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    def _redact(self, text: str) -> str:
        return self.bot.error_handler.redact(text)  # type: ignore[attr-defined]

    # -- slash commands -------------------------------------------------------------------------

    @commands.hybrid_command(name="sync", description="Sync slash commands with Discord (owner)")
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
        result = await self.bot.actions.sync(guild_id)  # type: ignore[attr-defined]
        await send_reply(ctx, embed=sync_embed(result, self._redact), kind=_kind(result.ok))

    # -- extensions -----------------------------------------------------------------------------

    @commands.hybrid_command(name="load", description="Load an extension from the extensions folder (owner)")
    @commands.is_owner()
    @app_commands.default_permissions(administrator=True)
    @app_commands.describe(extension="The extension's name, e.g. example")
    async def load(self, ctx: commands.Context[Any], extension: str) -> None:
        """Load an extension by its name in the extensions folder (no paths)."""
        await self._extension_action(ctx, "load", extension)

    @commands.hybrid_command(name="unload", description="Unload a loaded extension (owner)")
    @commands.is_owner()
    @app_commands.default_permissions(administrator=True)
    @app_commands.describe(extension="The extension's name, e.g. example")
    async def unload(self, ctx: commands.Context[Any], extension: str) -> None:
        """Unload a loaded extension."""
        await self._extension_action(ctx, "unload", extension)

    @commands.hybrid_command(name="reload", description="Reload an extension, or all of them (owner)")
    @commands.is_owner()
    @app_commands.default_permissions(administrator=True)
    @app_commands.describe(extension="The extension's name, or 'all'")
    async def reload(self, ctx: commands.Context[Any], extension: str) -> None:
        """Reload an extension (`reload all` reloads every loaded one); a failure keeps the old version."""
        if extension.strip().lower() == "all":
            result = await self.bot.actions.reload_all()  # type: ignore[attr-defined]
            await send_reply(ctx, embed=batch_embed(result, self._redact), kind=_kind(result.ok))
            return
        await self._extension_action(ctx, "reload", extension)

    @load.autocomplete("extension")
    @unload.autocomplete("extension")
    @reload.autocomplete("extension")
    async def _complete_extension(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        names = [*self.bot.extension_manager.discover(), "all"]  # type: ignore[attr-defined]
        typed = current.strip().lower()
        return [app_commands.Choice(name=n, value=n) for n in names if typed in n.lower()][:25]

    async def _extension_action(self, ctx: commands.Context[Any], action: str, name: str) -> None:
        result: ExtensionResult = await getattr(self.bot.actions, action)(name)  # type: ignore[attr-defined]
        await send_reply(ctx, embed=extension_embed(result, self._redact), kind=_kind(result.ok))

    # -- storage --------------------------------------------------------------------------------

    @commands.hybrid_command(name="atomictest", description="Test the atomic file handler (owner)")
    @commands.is_owner()
    @app_commands.default_permissions(administrator=True)
    async def atomictest(self, ctx: commands.Context[Any]) -> None:
        """Write, read, cache and concurrency checks of the atomic file handler, with timings."""
        await ctx.defer()
        # Next to the database: the file system the bot's data actually lives on.
        data_folder = Path(self.bot.config.model.database.path).parent  # type: ignore[attr-defined]
        results = await run_atomic_selftest(self.bot.file_handler, data_folder)  # type: ignore[attr-defined]
        passed = all(result.ok for result in results)
        lines = [
            f"{'✅' if r.ok else '❌'} **{r.name}** ({r.seconds * 1000:.1f} ms): {r.detail}" for r in results
        ]
        total = sum(r.seconds for r in results) * 1000
        build = success_embed if passed else error_embed
        embed = build("Atomic file test passed" if passed else "Atomic file test failed", "\n".join(lines))
        stats = self.bot.file_handler.stats()  # type: ignore[attr-defined]
        embed.set_footer(
            text=f"{len(results)} checks in {total:.1f} ms · cache ttl {stats['cache_ttl']:g} s, "
            f"{stats['hits']} hits / {stats['misses']} misses since start"
        )
        await send_reply(ctx, embed=embed, kind=_kind(passed))
