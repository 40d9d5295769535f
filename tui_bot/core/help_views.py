"""The interactive help menu: categories built from the cogs, pages of commands, and the view driving them.

What a viewer sees is decided once, when the menu opens, by asking discord.py whether the viewer may run
each command (:func:`visible_commands`): hidden commands, owner-only commands for non-owners, commands a
role rule or a permission check refuses are never listed. Only the member who opened the menu can
operate it; it disables itself after ``timeout`` seconds without a click.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from tui_bot.core.permissions import can_use_command
from tui_bot.core.responses import Colour, make_embed

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot

log = logging.getLogger("tui_bot.help")

PAGE_SIZE = 6  # commands per category page: six fields keep an embed readable on a phone
NO_CATEGORY = "Other"  # the category of commands that belong to no cog
_SELECT_LIMIT = 25  # Discord's maximum number of options in a select menu

# A prefix (or hybrid) command; named here because HelpCategory has a field called ``commands``.
PrefixCommand = commands.Command[Any, ..., Any]
ComponentCallback = Callable[[discord.Interaction[Any]], Coroutine[Any, Any, None]]


@dataclass
class HelpCategory:
    """One cog (or the commands of no cog) as the viewer sees it."""

    name: str
    description: str
    commands: list[PrefixCommand] = field(default_factory=list)

    @property
    def pages(self) -> int:
        """How many pages the category's commands fill (at least one)."""
        return max(1, -(-len(self.commands) // PAGE_SIZE))

    def page(self, index: int) -> list[PrefixCommand]:
        """The commands shown on page ``index`` (0-based)."""
        return self.commands[index * PAGE_SIZE : (index + 1) * PAGE_SIZE]


async def viewer_can_run(ctx: commands.Context[TuiBot], command: PrefixCommand) -> bool:
    """Whether the viewer (``ctx.author`` in ``ctx.channel``) may run ``command``; hidden ones never.

    :func:`~tui_bot.core.permissions.can_use_command` applies what an invocation would (bot owners
    first, the guild's role rules, the command's and its cog's checks) without consuming a cooldown.
    Checks about the bot itself are left out on purpose: ``help ban`` then says what the bot lacks
    instead of the command silently vanishing.
    """
    if command.hidden:
        return False
    return await can_use_command(ctx.bot, ctx.author, ctx.guild, ctx.channel, command)


async def visible_commands(
    ctx: commands.Context[TuiBot], candidates: Iterable[PrefixCommand]
) -> list[PrefixCommand]:
    """``candidates`` the viewer may run, sorted by name."""
    shown = [command for command in candidates if await viewer_can_run(ctx, command)]
    return sorted(shown, key=lambda c: c.qualified_name)


async def build_categories(ctx: commands.Context[TuiBot]) -> list[HelpCategory]:
    """One category per cog with at least one command the viewer may run, sorted by name."""
    bot = ctx.bot
    categories: list[HelpCategory] = []
    for cog_name, cog in bot.cogs.items():
        shown = await visible_commands(ctx, cog.get_commands())
        if shown:
            description = cog.description or f"Commands from {cog_name}."
            categories.append(HelpCategory(cog_name, description, shown))
    loose = await visible_commands(ctx, (c for c in bot.commands if c.cog is None))
    if loose:
        categories.append(HelpCategory(NO_CATEGORY, "Commands that belong to no category.", loose))
    categories.sort(key=lambda category: category.name.casefold())
    return categories


def usage(prefix: str, command: PrefixCommand) -> str:
    """``!ban <member> [reason]``: how to type the command."""
    return f"{prefix}{command.qualified_name} {command.signature}".rstrip()


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def main_menu_embed(
    *, prefix: str, categories: Sequence[HelpCategory], guild_name: str | None, timeout: float | None
) -> discord.Embed:
    """The overview: the prefix, how many commands the viewer has, how to use the menu."""
    total = sum(len(category.commands) for category in categories)
    where = f" in **{guild_name}**" if guild_name else ""
    embed = make_embed(
        "📖 Help",
        f"The prefix{where} is `{prefix}`; most commands also work as slash commands (`/`).\n"
        f"Pick a category below, or run `{prefix}help <command>` for the details of one command.",
        colour=Colour.MAIN_MENU,
    )
    if categories:
        lines = [
            f"**{category.name}** ({len(category.commands)}): {_short(category.description, 80)}"
            for category in categories
        ]
        embed.add_field(name="Categories", value=_short("\n".join(lines), 1024), inline=False)
    else:
        embed.add_field(name="Categories", value="No command is available to you here.", inline=False)
    plural = "" if total == 1 else "s"
    footer = f"{total} command{plural} available to you"
    if timeout:
        footer += f" · the menu closes after {round(timeout)} s without use"
    embed.set_footer(text=footer)
    return embed


def category_embed(category: HelpCategory, page: int, *, prefix: str) -> discord.Embed:
    """One page of a category: up to PAGE_SIZE commands with their usage and summary."""
    embed = make_embed(f"📂 {category.name}", category.description, colour=Colour.CATEGORIES)
    for command in category.page(page):
        summary = command.short_doc or "No description."
        if isinstance(command, commands.Group) and command.commands:
            names = ", ".join(sorted(sub.name for sub in command.commands if not sub.hidden))
            if names:
                summary += f"\nSubcommands: {names}"
        embed.add_field(name=_short(usage(prefix, command), 256), value=_short(summary, 1024), inline=False)
    plural = "" if len(category.commands) == 1 else "s"
    embed.set_footer(
        text=f"Page {page + 1}/{category.pages} · {len(category.commands)} command{plural} · "
        f"{prefix}help <command> for details"
    )
    return embed


class _MenuButton(discord.ui.Button["HelpMenu"]):
    """A button of the menu whose press runs ``on_press`` (a method of the menu)."""

    def __init__(self, on_press: ComponentCallback, **options: Any) -> None:
        super().__init__(**options)
        self._on_press = on_press

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await self._on_press(interaction)


class HelpMenu(discord.ui.View):
    """The menu's components and state: the main page, or a page of one category.

    Items are rebuilt on every render, so the page buttons appear only when a category has more than
    one page and the back button only away from the main menu. ``message`` is set by whoever sent it,
    so that the timeout can disable the components. After each change the bot dispatches
    ``help_menu_update`` with the menu.
    """

    def __init__(
        self,
        *,
        opener: discord.abc.User,
        categories: list[HelpCategory],
        prefix: str,
        guild_name: str | None,
        timeout: float | None,
    ) -> None:
        super().__init__(timeout=timeout)
        self.opener = opener
        self.categories = categories[:_SELECT_LIMIT]
        self.prefix = prefix
        self.guild_name = guild_name
        self.category: HelpCategory | None = None  # None: the main menu
        self.page = 0
        self.message: discord.Message | None = None
        self.render()

    # -- state -> embed and components --

    def embed(self) -> discord.Embed:
        if self.category is None:
            return main_menu_embed(
                prefix=self.prefix,
                categories=self.categories,
                guild_name=self.guild_name,
                timeout=self.timeout,
            )
        return category_embed(self.category, self.page, prefix=self.prefix)

    def render(self) -> None:
        """Rebuild the components for the current state."""
        self.clear_items()
        if self.categories:
            select: discord.ui.Select[HelpMenu] = discord.ui.Select(
                custom_id="help:category",
                placeholder="Choose a category",
                options=[
                    discord.SelectOption(
                        label=_short(category.name, 100),
                        value=category.name,
                        description=_short(category.description, 100),
                        default=category is self.category,
                    )
                    for category in self.categories
                ],
                row=0,
            )
            # discord.py's documented way to give a component its callback (typed as a method).
            select.callback = self._on_select  # type: ignore[method-assign]
            self.add_item(select)
        if self.category is None:
            return
        if self.category.pages > 1:
            self._button("help:prev", "◀", self._on_previous, disabled=self.page == 0)
            indicator: discord.ui.Button[HelpMenu] = discord.ui.Button(
                custom_id="help:page",
                label=f"{self.page + 1}/{self.category.pages}",
                disabled=True,
                row=1,
            )
            self.add_item(indicator)
            self._button("help:next", "▶", self._on_next, disabled=self.page >= self.category.pages - 1)
        self._button("help:home", "Main menu", self._on_home, emoji="🏠", style=discord.ButtonStyle.primary)

    def _button(
        self,
        custom_id: str,
        label: str,
        callback: ComponentCallback,
        *,
        disabled: bool = False,
        emoji: str | None = None,
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ) -> None:
        button = _MenuButton(
            callback, custom_id=custom_id, label=label, emoji=emoji, style=style, disabled=disabled, row=1
        )
        self.add_item(button)

    async def _show(self, interaction: discord.Interaction) -> None:
        self.render()
        await interaction.response.edit_message(embed=self.embed(), view=self)
        # edit_message has returned, so discord.py now listens to the new components: announce it
        # (``on_help_menu_update(menu)``), e.g. for a test that clicks next.
        interaction.client.dispatch("help_menu_update", self)

    # -- callbacks --

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Only the opener operates the menu; anyone else is told so privately and nothing changes."""
        if interaction.user.id == self.opener.id:
            return True
        await interaction.response.send_message(
            f"Only **{self.opener.display_name}** can use this menu; run `/help` yourself.", ephemeral=True
        )
        return False

    async def _on_select(self, interaction: discord.Interaction) -> None:
        data: Mapping[str, Any] = interaction.data or {}
        chosen = data.get("values", [None])[0]
        self.category = next((c for c in self.categories if c.name == chosen), None)
        self.page = 0
        await self._show(interaction)

    async def _on_previous(self, interaction: discord.Interaction) -> None:
        self.page = max(0, self.page - 1)
        await self._show(interaction)

    async def _on_next(self, interaction: discord.Interaction) -> None:
        if self.category is not None:
            self.page = min(self.category.pages - 1, self.page + 1)
        await self._show(interaction)

    async def _on_home(self, interaction: discord.Interaction) -> None:
        self.category = None
        self.page = 0
        await self._show(interaction)

    async def on_timeout(self) -> None:
        """Grey out every component so nobody clicks a menu that no longer answers."""
        for item in self.children:
            if isinstance(item, discord.ui.Button | discord.ui.Select):
                item.disabled = True
        if self.message is None:
            return
        try:
            await self.message.edit(view=self)
        except discord.HTTPException as error:
            # Deleted meanwhile, or an interaction token that expired: nothing left to disable.
            log.debug("Could not disable the help menu %s: %s", self.message.id, error)
