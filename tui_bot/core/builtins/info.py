"""Commands anyone may run: ``stats``, ``extensions`` and ``discordbotframework``."""

from __future__ import annotations

import dataclasses
import logging
import platform
from collections import Counter
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from tui_bot import __version__
from tui_bot.cluster.status import ClusterStatus, ids_text
from tui_bot.core.extensions import ExtensionManager, ExtensionNameError, ExtensionStatus
from tui_bot.core.health import states_text
from tui_bot.core.hybrid import hybrid_command
from tui_bot.core.metrics import format_duration
from tui_bot.core.replies import send_reply
from tui_bot.core.responses import Colour, error_embed, make_embed
from tui_bot.logs.redaction import redact

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot  # the bot installs these cogs: no import at run time
    from tui_bot.core.clustering import BotClusterMember

log = logging.getLogger("tui_bot.cluster")

INFO_COOLDOWN = (1, 10.0)  # per user: these replies are large embeds
TOP_SHOWN = 5
SHARDS_SHOWN = 15  # lines of the owner's gateway field; the rest are counted by state
EMBED_TEXT_LIMIT = 4000  # Discord allows 4096 characters in a description; keep a margin
ERROR_SUMMARY_LENGTH = 150  # what everyone sees of a failed extension's error in `extensions`
DETAIL_TRACEBACK_SHOWN = 3000  # the end of the traceback in the owner's `extensions <name>`

ORIGINAL_AUTHOR = "TheHolyOneZ"
ORIGINAL_REPOSITORY = "https://github.com/TheHolyOneZ/discord-bot-framework"

FEATURES = (
    "Hybrid commands: every built-in works as `!command` and `/command`",
    "One permission hierarchy for prefix, slash and buttons: bot owner > server owner > role rules "
    "> Discord permissions",
    "Per-server prefixes, cached in memory",
    "Interactive help menu with categories and pages",
    "Extensions auto-loaded from `extensions/`, hot reload on save",
    "SQLite (WAL) with batched stats and online backups; atomic JSON files with a read cache",
    "Live terminal console, or headless for servers",
    "A local sandbox Discord for trying the bot and testing it",
)

_STATUS_ICONS = {
    ExtensionStatus.LOADED: "🟢",
    ExtensionStatus.FAILED: "🔴",
    ExtensionStatus.BLACKLISTED: "⛔",
    ExtensionStatus.UNLOADED: "⚪",
}


def _ranking(counts: dict[str, int] | list[tuple[str, int]]) -> str:
    items = list(counts.items() if isinstance(counts, dict) else counts)[:TOP_SHOWN]
    return "\n".join(f"`{name}` × {uses}" for name, uses in items) or "none yet"


def _plural(count: int, one: str, many: str, more: bool = False) -> str:
    return f"{count:,}{'+' if more else ''} {one if count == 1 and not more else many}"


def gateway_text(gateway: dict[str, dict[str, Any]]) -> str:
    """A line per shard: state, latency, identifies and resumes in the last 24 h (the first ones, then
    a count of the rest by state, so the field stays within Discord's 1024 characters)."""
    lines = []
    shards = sorted(gateway.items(), key=lambda item: int(item[0]))
    for shard, entry in shards[:SHARDS_SHOWN]:
        latency = entry.get("latency_ms")
        identifies = _plural(
            entry.get("identifies_24h", 0), "identify", "identifies", bool(entry.get("identifies_24h_more"))
        )
        resumes = _plural(
            entry.get("resumes_24h", 0), "resume", "resumes", bool(entry.get("resumes_24h_more"))
        )
        lines.append(
            f"`{shard}` {entry.get('state', '?')}"
            + (f" · {latency:,.0f} ms" if latency is not None else "")
            + f" · {identifies}, {resumes}"
        )
    rest = shards[SHARDS_SHOWN:]
    if rest:
        lines.append(f"… and {len(rest)} more: " + states_text(entry.get("state", "?") for _s, entry in rest))
    return "\n".join(lines) or "no shard yet"


def rate_limit_text(limits: dict[str, Any]) -> str:
    """429s in the last hour (global ones among them), whether a global limit is in force, the waits."""
    recent = limits.get("429_last_hour", 0)
    more = "+" if limits.get("429_last_hour_more") else ""
    global_recent = limits.get("global_429_last_hour", 0)
    in_force = limits.get("global_limit_in_force")
    waited = sum((limits.get("wait_seconds") or {}).values())
    lines = [
        f"429s in the last hour: {recent:,}{more}"
        + (f" ({global_recent:,} global)" if global_recent else ""),
        "Global limit: **in force**" if in_force else "Global limit: none in force",
        f"Waited for rate limits: {waited:,.1f} s in all",
    ]
    worst = limits.get("429_by_route_last_hour") or {}
    if worst:
        route, count = next(iter(worst.items()))
        lines.append(f"Most limited: `{route}` × {count:,}")
    return "\n".join(lines)


async def stats_embed(bot: TuiBot, *, owner: bool = False) -> discord.Embed:
    """This run's numbers from ``bot.metrics`` and the all-time usage from the database; for a bot
    owner (``owner``) also the gateway's health per shard and the REST rate limits."""
    stats = bot.metrics.get_stats()
    latency = stats["gateway_latency_ms"]
    embed = make_embed("📊 Bot statistics", colour=Colour.MAIN_MENU)
    embed.add_field(name="Uptime", value=format_duration(stats["uptime"]))
    embed.add_field(name="Gateway latency", value=f"{latency:.0f} ms" if latency is not None else "n/a")
    embed.add_field(name="Servers", value=str(stats["guilds"]))
    embed.add_field(name="Users", value=str(stats["users"]))
    embed.add_field(name="Commands processed", value=str(stats["commands_processed"]))
    embed.add_field(name="Messages seen", value=str(stats["messages_seen"]))
    embed.add_field(name="Errors", value=str(stats["error_count"]))
    embed.add_field(name="Refusals", value=str(stats["refusal_count"]))
    embed.add_field(name="Commands last minute", value=str(stats["commands_per_minute"][-1]))
    states = bot.extension_manager.states.values()
    loaded = sum(state.status is ExtensionStatus.LOADED for state in states)
    embed.add_field(name="Extensions loaded", value=str(loaded))
    if owner:
        embed.add_field(name="Gateway (last 24 h)", value=gateway_text(stats["gateway"]), inline=False)
        embed.add_field(name="Rate limits", value=rate_limit_text(stats["rate_limits"]), inline=False)
    if bot.cluster is not None:
        await _add_cluster_fields(bot.cluster, embed)
    embed.add_field(name="Top commands (this run)", value=_ranking(stats["top_commands"]), inline=False)
    all_time = await bot.metrics.top_commands_all_time(TOP_SHOWN)
    embed.add_field(name="Top commands (all time)", value=_ranking(all_time), inline=False)
    embed.set_footer(text=f"tui-bot {__version__} · discord.py {discord.__version__}")
    return embed


async def _add_cluster_fields(cluster: BotClusterMember, embed: discord.Embed) -> None:
    """A cluster worker's numbers above are its own; these say which part it is and how the whole is."""
    settings = cluster.settings
    embed.add_field(
        name="This worker",
        value=f"shards {ids_text(settings.shard_ids)} of {settings.shard_count} · `{cluster.node.worker_id}`",
        inline=False,
    )
    try:
        workers = await cluster.node.workers()
        # This worker's own row may be a heartbeat old (guilds still arriving): use what it knows now.
        me = cluster.node.worker_id
        now = cluster.state()
        workers = [dataclasses.replace(w, state=now) if w.worker_id == me else w for w in workers]
        totals = ClusterStatus(workers).totals()
    except Exception as error:  # the database is away: this worker's own numbers are still worth showing
        log.warning("!stats: the cluster status could not be read (%s)", error)
        totals = f"unavailable ({type(error).__name__})"
    embed.add_field(name="Cluster", value=totals, inline=False)


def _extension_line(manager: ExtensionManager, name: str, status: ExtensionStatus) -> str:
    state = manager.states.get(name)
    line = f"{_STATUS_ICONS[status]} `{name}` {status.value}"
    if status is ExtensionStatus.LOADED and state and state.load_seconds is not None:
        line += f" in {state.load_seconds * 1000:.0f} ms"
    if state and state.last_error:
        line += f"\n  last error: {error_summary(state.last_error)}"
    return line


def error_summary(error: str) -> str:
    """A failed extension's error as anyone may see it: its first line, redacted, then shortened (in
    that order, so that the cut never leaves part of a secret); never the traceback."""
    line = redact(error).partition("\n")[0]
    return line if len(line) <= ERROR_SUMMARY_LENGTH else line[: ERROR_SUMMARY_LENGTH - 1] + "…"


def extensions_embed(bot: TuiBot) -> discord.Embed:
    """Every extension and its state, for everyone: a failed one's error only as a short summary."""
    manager = bot.extension_manager
    statuses = {name: manager.status_of(name) for name in manager.known_names()}
    text = "\n".join(_extension_line(manager, name, status) for name, status in statuses.items())
    text = text or f"No extension in `{manager.package}/` yet."
    if len(text) > EMBED_TEXT_LIMIT:
        text = text[: EMBED_TEXT_LIMIT - 1] + "…"
    embed = make_embed(f"🧩 Extensions ({manager.package}/)", text, colour=Colour.CATEGORIES)
    counts = Counter(statuses.values())
    embed.set_footer(text=" · ".join(f"{counts[status]} {status.value}" for status in ExtensionStatus))
    return embed


def extension_detail_embed(bot: TuiBot, name: str) -> discord.Embed:
    """One extension for the bot owner: state, load time, commands, and its last error with the end of
    its traceback (redacted; the console's Extensions pane and the log have the whole of it)."""
    manager = bot.extension_manager
    status = manager.status_of(name)
    state = manager.states.get(name)
    lines = [f"{_STATUS_ICONS[status]} {status.value}"]
    if status is ExtensionStatus.LOADED and state and state.load_seconds is not None:
        lines[0] += f" in {state.load_seconds * 1000:.0f} ms"
    qualified = manager.qualified(name)
    commands_added = sorted(
        command.qualified_name
        for command in bot.walk_commands()
        if command.module == qualified or command.module.startswith(qualified + ".")
    )
    if commands_added:
        lines.append("Commands: " + ", ".join(f"`{command}`" for command in commands_added))
    if state and state.last_error:
        if status is ExtensionStatus.LOADED:
            lines.append("The last reload failed; the previous version is still running.")
        lines.append(f"**Last error:** {redact(state.last_error)[:500]}")
    text = "\n".join(lines)
    if state and state.traceback:
        room = min(DETAIL_TRACEBACK_SHOWN, EMBED_TEXT_LIMIT - len(text) - 20)
        tail = redact(state.traceback)[-room:].replace("```", "'''")
        text += f"\n```py\n{tail}\n```"
    colour = Colour.ERROR if status is ExtensionStatus.FAILED else Colour.CATEGORIES
    return make_embed(f"🧩 Extension `{name}`", text, colour=colour)


def framework_embed(bot: TuiBot) -> discord.Embed:
    """What the framework is, its version and features, and who it credits."""
    embed = make_embed(
        "🤖 tui-bot: a Discord bot framework",
        "A discord.py framework with a live terminal console, built so that nothing is lost, "
        "nothing blocks and everything is visible.",
        colour=Colour.CREDITS,
    )
    embed.add_field(name="Version", value=f"tui-bot {__version__}")
    embed.add_field(name="discord.py", value=discord.__version__)
    embed.add_field(name="Python", value=platform.python_version())
    embed.add_field(name="Features", value="\n".join(f"• {line}" for line in FEATURES), inline=False)
    embed.add_field(
        name="Credits",
        value=f"Re-creates the Discord Bot Framework by **{ORIGINAL_AUTHOR}**: {ORIGINAL_REPOSITORY}\n"
        "Built on discord.py (Rapptz), Textual and Rich (Textualize), aiosqlite and watchfiles.",
        inline=False,
    )
    embed.set_footer(text=f"Serving {len(bot.guilds)} server(s) with {len(bot.commands)} commands")
    return embed


class Information(commands.Cog):
    """Statistics, extensions and the framework itself."""

    def __init__(self, bot: TuiBot) -> None:
        self.bot = bot

    @hybrid_command(name="stats", description="Show the bot's statistics and metrics")
    @commands.cooldown(*INFO_COOLDOWN, commands.BucketType.user)
    async def stats(self, ctx: commands.Context[Any]) -> None:
        """Uptime, latency, servers, commands run and the most used commands (and, for the bot owner,
        the gateway's health per shard and the rate limits)."""
        owner = await self.bot.is_owner(ctx.author)
        await send_reply(ctx, embed=await stats_embed(self.bot, owner=owner))

    @hybrid_command(name="extensions", description="List the extensions and their state")
    @app_commands.describe(name="An extension: its details and traceback (bot owner only)")
    @commands.cooldown(*INFO_COOLDOWN, commands.BucketType.user)
    async def extensions(self, ctx: commands.Context[Any], name: str | None = None) -> None:
        """Every extension in the folder: loaded, failed, blacklisted or not loaded. With a name (bot
        owner only): that extension's details and the end of its traceback."""
        if name is None:
            await send_reply(ctx, embed=extensions_embed(self.bot))
            return
        if not await self.bot.is_owner(ctx.author):
            text = (
                "An extension's details and traceback are for the bot owner. "
                "`extensions` alone lists every extension and its state."
            )
            await send_reply(ctx, embed=error_embed("Bot owner only", text), kind="error")
            return
        try:
            bare = self.bot.extension_manager.resolve(name)
        except ExtensionNameError as error:
            await send_reply(ctx, embed=error_embed("No such extension", str(error)), kind="error")
            return
        # As a slash command only the owner sees it; as a prefix command, where the owner asked.
        await send_reply(ctx, embed=extension_detail_embed(self.bot, bare), ephemeral=True)

    @hybrid_command(
        name="discordbotframework",
        aliases=["framework", "botinfo"],
        description="Framework information, version, features and credits",
    )
    @commands.cooldown(*INFO_COOLDOWN, commands.BucketType.user)
    async def discordbotframework(self, ctx: commands.Context[Any]) -> None:
        """About the framework this bot runs on: version, features and credits."""
        view = discord.ui.View()
        view.add_item(discord.ui.Button(label="Original framework", url=ORIGINAL_REPOSITORY))
        await send_reply(ctx, embed=framework_embed(self.bot), view=view)
