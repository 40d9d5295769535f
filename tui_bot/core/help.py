"""The help command: ``!help`` / ``/help`` opens an interactive menu, ``help <command>`` explains one command.

discord.py's ``HelpCommand`` cannot be a slash command, so help is a hybrid command in its own cog and
:func:`install_help` swaps it for discord.py's default. What a command needs (Discord permissions, the
guild's role rules, bot owner) is read from the command's checks, so extension authors document their
commands just by declaring them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from tui_bot.core.checks import identify_check
from tui_bot.core.errors import permission_names
from tui_bot.core.help_views import HelpMenu, build_categories, usage, viewer_can_run
from tui_bot.core.hybrid import hybrid_command
from tui_bot.core.replies import send_reply
from tui_bot.core.responses import Colour, error_embed, make_embed

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot

DEFAULT_MENU_TIMEOUT = 180.0  # seconds without a click before the menu's components are disabled
HELP_COOLDOWN = (1, 10.0)  # one help per user every ten seconds: menus are large messages

_BUCKET_NAMES = {
    commands.BucketType.default: "for everyone together",
    commands.BucketType.user: "per user",
    commands.BucketType.guild: "per server",
    commands.BucketType.channel: "per channel",
    commands.BucketType.member: "per member",
    commands.BucketType.category: "per channel category",
    commands.BucketType.role: "per role",
}


# -- what a command requires, read from its checks ---------------------------------------------


def _permission_names(perms: dict[str, bool]) -> str:
    # Named as Discord's UI names them, like the error handler's refusals ("Manage Server").
    return permission_names([name for name, wanted in perms.items() if wanted])


def _check_facts(check: Callable[..., Any]) -> tuple[str, dict[str, Any]]:
    """The decorator that made ``check`` (``"has_permissions"``...) and the values it closed over.

    Reading the checks themselves keeps the help in step with what is actually enforced; owner-bypass
    wrappers are seen through.
    """
    known = identify_check(check)
    return (known.kind, known.arguments) if known is not None else ("", {})


def is_owner_only(command: commands.Command[Any, ..., Any]) -> bool:
    """Whether ``command`` (or a parent group) carries ``@commands.is_owner()``."""
    current: commands.Command[Any, ..., Any] | None = command
    while current is not None:
        if any(_check_facts(check)[0] == "is_owner" for check in current.checks):
            return True
        parent = current.parent  # a Group (a Command), or None at the top
        current = parent if isinstance(parent, commands.Command) else None
    return False


# The order requirement lines are shown in, whatever order the decorators were written in.
_ORDER = ("where", "owner", "user", "role", "bot")


async def requirements(
    bot: TuiBot, guild: discord.Guild | None, command: commands.Command[Any, ..., Any]
) -> list[str]:
    """Readable lines: where the command works, who may run it, and what the bot itself needs."""
    found: list[tuple[str, str]] = []
    for check in command.checks:
        origin, values = _check_facts(check)
        if origin == "is_owner":
            found.append(("owner", "Bot owner only"))
        elif origin in ("has_permissions", "has_guild_permissions"):
            found.append(("user", f"You need: {_permission_names(values.get('perms', {}))}"))
        elif origin in ("bot_has_permissions", "bot_has_guild_permissions"):
            found.append(("bot", f"The bot needs: {_permission_names(values.get('perms', {}))}"))
        elif origin == "has_role":
            found.append(("user", f"Role: {values.get('item')}"))
        elif origin == "has_any_role":
            found.append(("user", "One of the roles: " + ", ".join(str(i) for i in values.get("items", ()))))
        elif origin == "guild_only":
            found.append(("where", "Servers only (not in DMs)"))
        elif origin == "is_nsfw":
            found.append(("where", "Age-restricted channels only"))
    rules = bot.permission_rules
    if guild is not None:
        refs = await rules.required_roles(guild, command.qualified_name)
        if refs:
            names = ", ".join(rules.describe(guild, refs))
            found.append(
                ("role", f"Role rule in this server: one of {names} (server owner and bot owner always may)")
            )
    found.sort(key=lambda item: _ORDER.index(item[0]))  # stable: same-kind lines keep their order
    return [line for _, line in found]


def _cooldown_text(command: commands.Command[Any, ..., Any]) -> str:
    cooldown = command.cooldown
    if cooldown is None:
        return "None"
    bucket = command._buckets.type
    per = _BUCKET_NAMES.get(bucket, "per caller") if isinstance(bucket, commands.BucketType) else "custom"
    uses = "1 use" if cooldown.rate == 1 else f"{cooldown.rate} uses"
    return f"{uses} every {cooldown.per:g} s, {per}"


def _slash_text(command: commands.Command[Any, ..., Any]) -> str:
    hybrid = isinstance(command, commands.HybridCommand | commands.HybridGroup)
    if hybrid and getattr(command, "app_command", None) is not None:
        return f"Yes: `/{command.qualified_name}`"
    if hybrid and command.parent is not None and getattr(command.root_parent, "app_command", None):
        return f"Yes: `/{command.qualified_name}`"
    return "No, prefix only"


def prefix_of(ctx: commands.Context[TuiBot]) -> str:
    """The guild's prefix: the one to show even when help was opened as a slash command."""
    return ctx.bot.prefix_for_guild(ctx.guild.id if ctx.guild else None)


async def command_embed(
    ctx: commands.Context[TuiBot], command: commands.Command[Any, ..., Any]
) -> discord.Embed:
    """Everything about one command: usage, description, aliases, cooldown, requirements, slash."""
    prefix = prefix_of(ctx)
    description = command.help or command.description or command.brief or "No description."
    embed = make_embed(f"❔ {command.qualified_name}", description, colour=Colour.CATEGORIES)
    embed.add_field(name="Usage", value=f"`{usage(prefix, command)}`", inline=False)
    aliases = ", ".join(f"`{alias}`" for alias in command.aliases) or "None"
    embed.add_field(name="Aliases", value=aliases, inline=True)
    embed.add_field(name="Cooldown", value=_cooldown_text(command), inline=True)
    embed.add_field(name="Slash command", value=_slash_text(command), inline=True)
    needed = await requirements(ctx.bot, ctx.guild, command)
    embed.add_field(name="Requirements", value="\n".join(needed) or "None", inline=False)
    if isinstance(command, commands.Group):
        subs = [f"`{sub.name}`" for sub in await _visible(ctx, command.commands)]
        if subs:
            embed.add_field(name="Subcommands", value=", ".join(subs), inline=False)
    allowed = await viewer_can_run(ctx, command)
    embed.set_footer(text="You can run it here." if allowed else "You cannot run it here.")
    return embed


async def _visible(
    ctx: commands.Context[TuiBot], candidates: Iterable[commands.Command[Any, ..., Any]]
) -> list[commands.Command[Any, ..., Any]]:
    return [c for c in candidates if await viewer_can_run(ctx, c)]


async def _discoverable(ctx: commands.Context[TuiBot]) -> list[commands.Command[Any, ..., Any]]:
    """Commands whose details the viewer may read: not hidden, and owner-only ones only for owners."""
    owner = await ctx.bot.is_owner(ctx.author)
    return [c for c in ctx.bot.walk_commands() if not c.hidden and (owner or not is_owner_only(c))]


def suggestions(name: str, known: list[commands.Command[Any, ..., Any]], limit: int = 3) -> list[str]:
    """Names (or aliases) close to ``name``, best first."""
    names = {c.qualified_name for c in known} | {
        f"{c.full_parent_name} {alias}".strip() for c in known for alias in c.aliases
    }
    return difflib.get_close_matches(name.lower(), sorted(names), n=limit, cutoff=0.5)


# -- the cog -----------------------------------------------------------------------------------


class Help(commands.Cog):
    """Browse the commands you can use."""

    def __init__(self, bot: TuiBot, *, menu_timeout: float | None = DEFAULT_MENU_TIMEOUT) -> None:
        self.bot = bot
        # Seconds without a click before a menu is disabled; None keeps menus alive until a restart.
        self.menu_timeout = menu_timeout

    @hybrid_command("help", description="Show the commands you can use, or one command's details")
    @commands.cooldown(*HELP_COOLDOWN, commands.BucketType.user)
    @app_commands.describe(command="A command name, e.g. ban")
    async def help_command(self, ctx: commands.Context[TuiBot], *, command: str | None = None) -> None:
        """Open the help menu, or show how to use one command (`help ban`)."""
        if command:
            await self._send_command_help(ctx, command)
            return
        await self.open_menu(ctx)

    @help_command.autocomplete("command")
    async def _complete_command(
        self, interaction: discord.Interaction[TuiBot], current: str
    ) -> list[app_commands.Choice[str]]:
        # Offer only what the member could run: the same filter as the menu.
        ctx = await commands.Context.from_interaction(interaction)
        typed = current.strip().lower()
        names = [c.qualified_name for c in await _visible(ctx, self.bot.walk_commands())]
        ranked = sorted(
            (n for n in names if typed in n.lower()), key=lambda n: (not n.lower().startswith(typed), n)
        )
        return [app_commands.Choice(name=n, value=n) for n in ranked[:25]]

    async def open_menu(self, ctx: commands.Context[TuiBot]) -> HelpMenu:
        """Send the interactive menu for ``ctx.author`` and return its view.

        Dispatches ``help_menu_open`` (``on_help_menu_open(menu)``) once the menu is live, i.e. once
        discord.py has registered its view: clicks before that would be ignored.
        """
        menu = HelpMenu(
            opener=ctx.author,
            categories=await build_categories(ctx),
            prefix=prefix_of(ctx),
            guild_name=ctx.guild.name if ctx.guild else None,
            timeout=self.menu_timeout,
        )
        menu.message = await send_reply(ctx, embed=menu.embed(), view=menu)
        if menu.message is None:  # Discord refused the message: no menu to drive
            menu.stop()
        else:
            self.bot.dispatch("help_menu_open", menu)
        return menu

    async def _send_command_help(self, ctx: commands.Context[TuiBot], name: str) -> None:
        known = await _discoverable(ctx)
        target = self.bot.get_command(name.strip())
        if target is None or target not in known:
            close = suggestions(name.strip(), known)
            hint = (
                "Did you mean " + ", ".join(f"`{n}`" for n in close) + "?"
                if close
                else "No command has a similar name."
            )
            embed = error_embed(
                f"Unknown command `{_clip(name)}`",
                f"{hint}\nRun `{prefix_of(ctx)}help` to see every command you can use.",
            )
            await send_reply(ctx, embed=embed, kind="error")
            return
        await send_reply(ctx, embed=await command_embed(ctx, target))


def _clip(text: str, limit: int = 60) -> str:
    # Shown inside a code span: only a backtick could break out of it.
    text = text.strip().replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def install_help(bot: TuiBot, *, menu_timeout: float | None = DEFAULT_MENU_TIMEOUT) -> None:
    """Replace discord.py's default help with the :class:`Help` cog (``!help`` and ``/help``).

    Called from ``TuiBot.__init__``. Adding a cog is a coroutine, so the cog is added at the start of
    ``setup_hook`` (before extensions load: an extension's own ``help`` command would then fail to
    register, loudly, instead of silently replacing this one).
    """
    bot.help_command = None  # removes discord.py's plain-text "help" command
    original: Callable[[], Coroutine[Any, Any, None]] = bot.setup_hook

    async def setup_hook() -> None:
        await bot.add_cog(Help(bot, menu_timeout=menu_timeout))
        await original()

    bot.setup_hook = setup_hook  # type: ignore[method-assign]  # wraps this bot's own setup_hook
