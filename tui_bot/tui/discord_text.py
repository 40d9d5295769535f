"""Discord's text as Rich renderables: inline markdown, mentions and embeds.

Pure functions of sandbox data, without Textual. A :class:`Directory` says what the ids in a guild's
messages stand for (names, role colours); :mod:`tui_bot.tui.chat_render` builds whole messages from
these pieces.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from rich.console import Group, RenderableType
from rich.constrain import Constrain
from rich.panel import Panel
from rich.style import Style
from rich.table import Table
from rich.text import Text

from tui_bot.sandbox.world import Guild, Json, World

EMBED_WIDTH = 72  # Discord caps an embed's width; a wide terminal should not stretch it edge to edge
DEFAULT_EMBED_COLOUR = 0x4E5058  # the grey bar Discord draws when an embed sets no colour
INLINE_FIELDS_PER_ROW = 3  # Discord puts up to three inline fields side by side


# --- who is who ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Directory:
    """Names and colours a guild's messages refer to: mentions, authors' role colours, select choices."""

    users: Mapping[int, str] = field(default_factory=dict)  # user id -> display name (nick first)
    roles: Mapping[int, str] = field(default_factory=dict)  # role id -> name (@everyone left out)
    channels: Mapping[int, str] = field(default_factory=dict)  # channel id -> name
    colours: Mapping[int, int] = field(default_factory=dict)  # user id -> colour of their top role
    members: tuple[int, ...] = ()  # the guild's members, in join order (what a user select offers)

    @classmethod
    def of_guild(cls, world: World, guild: Guild) -> Directory:
        """The directory of ``guild``; users outside it still resolve by their global name."""
        users = {user.id: user.display_name for user in world.users.values()}
        colours: dict[int, int] = {}
        for member in guild.members.values():
            users[member.id] = member.nick or member.user.display_name
            coloured = [guild.roles[r] for r in member.role_ids if r in guild.roles and guild.roles[r].colour]
            if coloured:
                colours[member.id] = max(coloured, key=lambda role: role.position).colour
        roles = {role.id: role.name for role in guild.roles.values() if role.id != guild.id}
        channels = {channel.id: channel.name for channel in guild.channels.values()}
        return cls(users, roles, channels, colours, tuple(guild.members))

    def user(self, user_id: int) -> str:
        """A user's display name, or a placeholder for someone the world does not know."""
        return self.users.get(user_id, f"unknown user {user_id}")


def rgb(colour: int) -> str:
    """A Discord colour int as a Rich colour."""
    return f"#{colour & 0xFFFFFF:06x}"


# --- Discord's inline markdown --------------------------------------------------------------------

# Order matters: code first (nothing is formatted inside it), then the longer markers before the
# shorter ones they contain (** before *, __ before _).
_MARKDOWN = re.compile(
    r"```(?:[\w+-]*\n)?(?P<block>.*?)```"
    r"|`(?P<code>[^`\n]+)`"
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|__(?P<underline>.+?)__"
    r"|~~(?P<strike>.+?)~~"
    r"|\|\|(?P<spoiler>.+?)\|\|"
    r"|\*(?P<italic>[^*\s](?:[^*]*[^*\s])?)\*"
    r"|(?<!\w)_(?P<italic2>[^_\s](?:[^_]*[^_\s])?)_(?!\w)"
    r"|<@!?(?P<user>\d{15,21})>"
    r"|<@&(?P<role>\d{15,21})>"
    r"|<#(?P<channel>\d{15,21})>"
    r"|\[(?P<label>[^\]\n]+)\]\((?P<url>https?://[^)\s]+)\)",
    re.DOTALL,
)
_NESTED_STYLES: Mapping[str, str] = {
    "bold": "bold",
    "underline": "underline",
    "strike": "strike",
    "italic": "italic",
    "italic2": "italic",
    "spoiler": "reverse",
}
CODE_STYLE = "bold #e3e5e8 on #2b2d31"
MENTION_STYLE = "bold #c9cdfb on #3c4270"


def discord_markdown(text: str, directory: Directory | None = None) -> Text:
    """``text`` with Discord's inline markdown applied: bold, italics, code, links and mentions."""
    directory = directory or Directory()
    result = Text()
    position = 0
    for match in _MARKDOWN.finditer(text):
        result.append(text[position : match.start()])
        result.append_text(_markdown_piece(match, directory))
        position = match.end()
    result.append(text[position:])
    return result


def _markdown_piece(match: re.Match[str], directory: Directory) -> Text:
    kind = match.lastgroup
    value = match.group(kind) if kind else match.group(0)
    if kind in ("block", "code"):
        return Text(value.strip("\n") if kind == "block" else value, style=CODE_STYLE)
    nested_style = _NESTED_STYLES.get(kind) if kind is not None else None
    if nested_style is not None:
        inner = discord_markdown(value, directory)
        inner.stylize(nested_style)
        return inner
    if kind == "user":
        return Text(f"@{directory.user(int(value))}", style=MENTION_STYLE)
    if kind == "role":
        return Text(f"@{directory.roles.get(int(value), 'deleted-role')}", style=MENTION_STYLE)
    if kind == "channel":
        return Text(f"#{directory.channels.get(int(value), 'unknown')}", style=MENTION_STYLE)
    if kind == "url":
        return Text(match.group("label"), style=Style(color="#00a8fc", underline=True, link=value))
    return Text(match.group(0))


# --- embeds -------------------------------------------------------------------------------------


def embed_colour(embed: Json) -> int:
    """The embed's colour (Discord's default grey when it sets none)."""
    colour = embed.get("color")
    return int(colour) if isinstance(colour, int) and colour else DEFAULT_EMBED_COLOUR


def embed_panel(embed: Json, directory: Directory | None = None) -> RenderableType:
    """An embed as a panel whose border has the embed's colour: author, title, description, fields,
    image links and footer, as Discord lays them out."""
    head: list[RenderableType] = []
    if author := (embed.get("author") or {}).get("name"):
        head.append(Text(author, style="bold"))
    if title := embed.get("title"):
        title_text = discord_markdown(title, directory)
        title_text.stylize(Style(bold=True, color="#00a8fc" if embed.get("url") else None))
        head.append(title_text)
    if description := embed.get("description"):
        head.append(discord_markdown(description, directory))
    media: list[RenderableType] = [
        Text(f"[{key}: {url}]", style="dim")
        for key in ("image", "thumbnail", "video")
        if (url := (embed.get(key) or {}).get("url"))
    ]
    footer = _footer(embed)
    sections: list[list[RenderableType]] = [
        head,
        list(_field_blocks(embed.get("fields") or [], directory)),
        media,
        [Text(footer, style="dim")] if footer else [],
    ]
    parts = list(_spaced([Group(*section) for section in sections if section]))
    panel = Panel(
        Group(*parts) if parts else Text(""),
        border_style=Style(color=rgb(embed_colour(embed))),
        expand=False,
        padding=(0, 1),
    )
    return Constrain(panel, EMBED_WIDTH)


def _footer(embed: Json) -> str:
    pieces = []
    if text := (embed.get("footer") or {}).get("text"):
        pieces.append(text)
    if stamp := embed.get("timestamp"):
        try:
            pieces.append(datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M"))
        except ValueError:
            pieces.append(str(stamp))
    return " • ".join(pieces)


def _spaced(parts: Sequence[RenderableType]) -> Iterator[RenderableType]:
    # A blank line between an embed's sections (text, fields, media, footer), as Discord spaces them.
    for index, part in enumerate(parts):
        if index:
            yield Text("")
        yield part


def _field_blocks(fields: Sequence[Json], directory: Directory | None) -> Iterator[RenderableType]:
    """Fields in order: each non-inline one alone, runs of inline ones side by side (three per row)."""
    run: list[Json] = []
    for embed_field in fields:
        if embed_field.get("inline"):
            run.append(embed_field)
            if len(run) == INLINE_FIELDS_PER_ROW:
                yield _inline_row(run, directory)
                run = []
            continue
        if run:
            yield _inline_row(run, directory)
            run = []
        yield _field(embed_field, directory)
    if run:
        yield _inline_row(run, directory)


def _field(embed_field: Json, directory: Directory | None) -> RenderableType:
    name = discord_markdown(str(embed_field.get("name", "")), directory)
    name.stylize("bold")
    return Group(name, discord_markdown(str(embed_field.get("value", "")), directory))


def _inline_row(fields: Sequence[Json], directory: Directory | None) -> RenderableType:
    grid = Table.grid(padding=(0, 3))
    for _ in fields:
        grid.add_column()
    grid.add_row(*(_field(embed_field, directory) for embed_field in fields))
    return grid
