"""Per-server settings: ``setprefix`` and ``config`` (command permission rules)."""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from tui_bot.config.readers import hidden_character
from tui_bot.core.hybrid import hybrid_command
from tui_bot.core.replies import send_reply
from tui_bot.core.responses import Colour, error_embed, make_embed, success_embed

if TYPE_CHECKING:
    # discord.py's type for what commands.check() returns; it is not exported elsewhere.
    from discord.ext.commands._types import Check

    from tui_bot.core.bot import TuiBot  # the bot installs these cogs: no import at run time

MAX_PREFIX_LENGTH = 5
# A mention (<@id>, <@!id>, <@&id>, <#id>) or a mass ping: as a prefix it would ping or never match.
_MENTION = re.compile(r"<[@#][!&]?\d*>?|@(everyone|here)", re.IGNORECASE)
# Words that are not role names in ``config <command> <role>``.
UNRESTRICT_WORDS = ("none", "everyone-allowed")
RESET_WORDS = ("default", "reset")


def prefix_problem(prefix: str) -> str | None:
    """Why ``prefix`` cannot be a server prefix, or None if it can."""
    if not prefix:
        return "The prefix cannot be empty."
    if any(character.isspace() for character in prefix):
        return "The prefix cannot contain spaces or other whitespace."
    # The same rule as config.json's prefix: no zero-width, bidi or control characters.
    hidden = hidden_character(prefix)
    if hidden is not None:
        return f"The prefix must be visible characters only: it contains {hidden}."
    if _MENTION.search(prefix):
        return "The prefix cannot be or contain a mention."
    if "`" in prefix:
        return "The prefix cannot contain a backtick (`)."
    if len(prefix) > MAX_PREFIX_LENGTH:
        shown = _code(prefix, 20)
        return f"The prefix can be at most {MAX_PREFIX_LENGTH} characters long; `{shown}` is {len(prefix)}."
    return None


def server_managers_only() -> Check[commands.Context[Any]]:
    """Allow the server owner, members with Administrator, and bot owners (the ``config`` rule)."""

    async def predicate(ctx: commands.Context[Any]) -> bool:
        if ctx.guild is None:
            raise commands.NoPrivateMessage()
        if ctx.guild.owner_id == ctx.author.id or await ctx.bot.is_owner(ctx.author):
            return True
        if ctx.permissions.administrator:
            return True
        raise commands.CheckFailure(
            "Only the server owner, members with the Administrator permission and the bot owner "
            "can view or change command permissions."
        )

    return commands.check(predicate)


def _code(text: str, limit: int = 50) -> str:
    """``text`` safe inside a code span: only a backtick could break out of it."""
    return text[:limit].replace("`", "'")


def _rule_text(roles: list[str] | str) -> str:
    return "everyone (explicitly unrestricted)" if roles == "everyone" else ", ".join(roles)


def _known_commands(bot: commands.Bot) -> list[str]:
    return sorted({command.qualified_name for command in bot.walk_commands()})


class ServerSettings(commands.Cog, name="Server settings"):
    """This server's prefix and who may use which command."""

    def __init__(self, bot: TuiBot) -> None:
        self.bot = bot

    # -- setprefix ------------------------------------------------------------------------------

    @hybrid_command(name="setprefix", description="Set this server's command prefix")
    @commands.guild_only()
    @commands.has_permissions(administrator=True)
    @app_commands.describe(prefix=f"1 to {MAX_PREFIX_LENGTH} characters, no spaces or mentions, e.g. ?")
    async def setprefix(self, ctx: commands.Context[Any], prefix: str) -> None:
        """Change the prefix of commands in this server (mentioning the bot always works too)."""
        assert ctx.guild is not None
        problem = prefix_problem(prefix)
        if problem is not None:
            await send_reply(ctx, embed=error_embed("Invalid prefix", problem), kind="error")
            return
        default = self.bot.config.model.prefix
        # Choosing the default again removes the server's own prefix: a later change of the default applies.
        await self.bot.set_guild_prefix(ctx.guild.id, None if prefix == default else prefix)
        embed = success_embed(
            "Prefix changed",
            f"Commands in **{discord.utils.escape_markdown(ctx.guild.name)}** now start with `{prefix}`, "
            f"e.g. `{prefix}help`. Mentioning me works as a prefix too.",
        )
        await send_reply(ctx, embed=embed, kind="success")

    # -- config ---------------------------------------------------------------------------------

    @hybrid_command(name="config", description="View or set which roles may use a command here")
    @commands.guild_only()
    @server_managers_only()
    @app_commands.describe(
        command="The command to configure, e.g. ban (leave empty to list every rule)",
        role="A role to allow; 'none' opens the command to everyone; 'default' removes this server's rule",
    )
    async def config(
        self, ctx: commands.Context[Any], command: str | None = None, *, role: str | None = None
    ) -> None:
        """`config` lists the rules, `config ban` shows one, `config ban @Moderator` allows a role
        (repeat to allow more), `config ban none` opens it to everyone, `config ban default` goes back
        to config.json's default."""
        assert ctx.guild is not None
        if command is None:
            await send_reply(ctx, embed=await self._all_rules_embed(ctx.guild))
            return
        target = self.bot.get_command(command.strip().lower())
        if target is None:
            await send_reply(ctx, embed=self._unknown_command(command), kind="error")
            return
        name = target.qualified_name
        if role is None:
            await send_reply(ctx, embed=await self._one_rule_embed(ctx.guild, name))
            return
        await self._change_rule(ctx, name, role.strip())

    @config.autocomplete("command")
    async def _complete_command(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower()
        names = [n for n in _known_commands(self.bot) if typed in n]
        names.sort(key=lambda n: (not n.startswith(typed), n))
        return [app_commands.Choice(name=n, value=n) for n in names[:25]]

    @config.autocomplete("role")
    async def _complete_role(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower()
        guild = interaction.guild
        roles = [r.name for r in guild.roles if not r.is_default()] if guild else []
        options = [*roles, UNRESTRICT_WORDS[0], RESET_WORDS[0]]
        return [app_commands.Choice(name=o, value=o) for o in options if typed in o.lower()][:25]

    async def _change_rule(self, ctx: commands.Context[Any], name: str, role_text: str) -> None:
        assert ctx.guild is not None
        rules = self.bot.permission_rules
        word = role_text.lower()
        if word in UNRESTRICT_WORDS:
            await rules.set_unrestricted(ctx.guild.id, name)
            embed = success_embed("Permission updated", f"Everyone in this server may now use `{name}`.")
        elif word in RESET_WORDS:
            await rules.clear(ctx.guild.id, name)
            _, refs = await rules.rule_for(ctx.guild.id, name)
            default = ", ".join(rules.describe(ctx.guild, refs)) if refs else ""
            now = f"config.json's default applies: {default}" if refs else "no role is required"
            embed = success_embed("Permission reset", f"This server's rule for `{name}` is removed; {now}.")
        else:
            try:
                role = await commands.RoleConverter().convert(ctx, role_text)
            except commands.RoleNotFound:
                embed = error_embed(
                    "Unknown role",
                    f"No role here matches `{_code(role_text)}`. Mention it, or give "
                    "its exact name or id; `none` opens the command to everyone.",
                )
                await send_reply(ctx, embed=embed, kind="error")
                return
            await rules.add_role(ctx.guild.id, name, role.id)
            allowed = (await rules.describe_rules(ctx.guild)).get(name, [])
            embed = success_embed(
                "Permission updated",
                f"`{name}` may now be used by members with: **{_rule_text(allowed)}** "
                "(plus the server owner and the bot owner).",
            )
        await send_reply(ctx, embed=embed, kind="success")

    async def _all_rules_embed(self, guild: discord.Guild) -> discord.Embed:
        described = await self.bot.permission_rules.describe_rules(guild)
        lines = [f"`{name}`: {_rule_text(roles)}" for name, roles in described.items()]
        text = "\n".join(lines) if lines else "No command is restricted to roles in this server."
        embed = make_embed("🔐 Command permissions", text[:4000], colour=Colour.CATEGORIES)
        embed.set_footer(text="config <command> <role> allows a role · config <command> none opens it")
        return embed

    async def _one_rule_embed(self, guild: discord.Guild, name: str) -> discord.Embed:
        rules = self.bot.permission_rules
        source, refs = await rules.rule_for(guild.id, name)
        if refs:
            where = "set in this server" if source == "guild" else "default from config.json"
            text = f"Roles allowed: **{', '.join(rules.describe(guild, refs))}** ({where})."
        elif source == "guild":
            text = "Everyone may use it: this server opened it explicitly."
        else:
            text = "No role is required."
        return make_embed(f"🔐 Permissions for `{name}`", text, colour=Colour.CATEGORIES)

    def _unknown_command(self, name: str) -> discord.Embed:
        close = difflib.get_close_matches(name.lower(), _known_commands(self.bot), n=3, cutoff=0.5)
        hint = ("Did you mean " + ", ".join(f"`{n}`" for n in close) + "?") if close else ""
        return error_embed("Unknown command", f"There is no command `{_code(name)}`. {hint}".strip())
