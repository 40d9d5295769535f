"""Discord messages as Rich renderables: what the sandbox Chat pane shows for each message.

Pure functions of sandbox data, without Textual: the pane (``chat.py``) turns them into widgets and
tests read them as text. Components are described here as :class:`ComponentSpec` rows; the pane
builds the Textual buttons and selects from those. Markdown, mentions and embeds are drawn by
:mod:`tui_bot.tui.discord_text`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Literal

from rich.console import Console, Group, RenderableType
from rich.style import Style
from rich.text import Text

from tui_bot.sandbox.component_types import (
    BUTTON,
    CHANNEL_SELECT,
    ROLE_SELECT,
    SELECTS,
    STRING_SELECT,
    TEXT_DISPLAY,
    USER_SELECT,
)
from tui_bot.sandbox.interaction_components import walk
from tui_bot.sandbox.world import Json, Message

from .discord_text import Directory, discord_markdown, embed_panel, rgb

EPHEMERAL = 1 << 6
LOADING = 1 << 7  # a deferred interaction's "thinking" placeholder

# Discord's button styles that are not pressed in the chat.
LINK_STYLE, PREMIUM_STYLE = 5, 6
# Discord's button styles as Textual Button variants: primary (blurple), secondary, success, danger.
ButtonVariant = Literal["default", "primary", "success", "warning", "error"]
BUTTON_VARIANTS: Mapping[int, ButtonVariant] = {1: "primary", 2: "default", 3: "success", 4: "error"}


# --- messages -----------------------------------------------------------------------------------


def is_ephemeral(message: Message) -> bool:
    """Whether only one member sees ``message`` (an ephemeral interaction reply)."""
    return bool(message.flags & EPHEMERAL)


def ephemeral_viewer(message: Message) -> int | None:
    """Who an ephemeral message is for: the member whose interaction it answers."""
    user = (message.interaction_metadata or {}).get("user") or {}
    return int(user["id"]) if "id" in user else None


def message_header(
    message: Message,
    directory: Directory | None = None,
    *,
    timezone: tzinfo | None = None,
    deleted: bool = False,
) -> Text:
    """``Alice  BOT  14:05  (edited)``: the author in their role colour, a bot tag, the time, and
    ``(deleted)`` for a message deleted since (the chat keeps it, so a reply that deletes itself
    does not leave its command looking unanswered)."""
    directory = directory or Directory()
    author = message.author
    colour = directory.colours.get(author.id)
    header = Text(
        directory.users.get(author.id, author.display_name),
        style=Style(bold=True, color=rgb(colour) if colour else None),
    )
    if author.bot:
        header.append(" ")
        header.append(" BOT ", style="bold white on #5865f2")
    moment = message.timestamp.astimezone(timezone) if timezone else message.timestamp.astimezone()
    header.append(f"  {moment:%H:%M}", style="dim")
    if message.edited_timestamp is not None:
        header.append("  (edited)", style="dim")
    if deleted:
        header.append("  (deleted)", style="italic")
    return header


def message_context(
    message: Message, directory: Directory | None = None, *, viewer_id: int | None = None
) -> Text | None:
    """The line Discord shows above an interaction's reply (``↳ Alice used /help``) and, for an
    ephemeral reply, who can see it. None for an ordinary message."""
    directory = directory or Directory()
    lines: list[Text] = []
    legacy = message.interaction or {}
    if legacy.get("type") == 2 and legacy.get("name"):  # an application command's reply
        user_id = int((legacy.get("user") or {}).get("id", 0))
        lines.append(Text(f"↳ {directory.user(user_id)} used /{legacy['name']}", style="dim"))
    if is_ephemeral(message):
        viewer = ephemeral_viewer(message)
        who = "you" if viewer is not None and viewer == viewer_id else directory.user(viewer or 0)
        lines.append(Text(f"👁 Only {who} can see this", style="italic #949ba4"))
    return Text("\n").join(lines) if lines else None


def message_body(message: Message, directory: Directory | None = None) -> list[RenderableType]:
    """The message's text, "thinking" placeholder, text displays, embeds, attachments and reactions."""
    parts: list[RenderableType] = []
    if message.flags & LOADING:
        parts.append(Text(f"{message.author.display_name} is thinking…", style="italic dim"))
    if message.content:
        parts.append(discord_markdown(message.content, directory))
    parts.extend(discord_markdown(text, directory) for text in component_texts(message.components))
    parts.extend(embed_panel(embed, directory) for embed in message.embeds)
    for attachment in message.attachments:
        size = attachment.get("size")
        suffix = f" ({size:,} bytes)" if isinstance(size, int) else ""
        parts.append(Text(f"📎 {attachment.get('filename', 'file')}{suffix}", style="#00a8fc"))
    if message.reactions:
        parts.append(reactions_line(message.reactions))
    return parts


def reactions_line(reactions: Mapping[str, Sequence[int]]) -> Text:
    """``👍 2  🎲 1``."""
    line = Text()
    for emoji, users in reactions.items():
        if line:
            line.append("  ")
        line.append(f" {emoji.split(':')[0]} {len(users)} ", style="on #2b2d31")
    return line


def message_renderable(
    message: Message,
    directory: Directory | None = None,
    *,
    viewer_id: int | None = None,
    timezone: tzinfo | None = None,
    deleted: bool = False,
) -> RenderableType:
    """Everything of a message but its buttons and selects, as one renderable."""
    parts: list[RenderableType] = []
    context = message_context(message, directory, viewer_id=viewer_id)
    if context is not None:
        parts.append(context)
    parts.append(message_header(message, directory, timezone=timezone, deleted=deleted))
    parts.extend(message_body(message, directory))
    return Group(*parts)


def fingerprint(message: Message, *, deleted: bool = False) -> str:
    """What the pane renders of ``message``, as a string: unchanged means no re-render is needed.

    World messages are edited in place, so the pane keeps this string rather than the object.
    """
    return json.dumps(
        [
            message.content,
            message.embeds,
            message.components,
            message.flags,
            message.reactions,
            [a.get("id") for a in message.attachments],
            message.edited_timestamp,
            deleted,
        ],
        default=str,
        sort_keys=True,
    )


def as_text(renderable: RenderableType, width: int = 100) -> str:
    """``renderable`` as plain text (tests and logs)."""
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None, legacy_windows=False)
    console.print(renderable)
    return console.export_text()


# --- components ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentSpec:
    """One button or select of a message, as the pane shows it."""

    kind: Literal["button", "link", "select"]
    custom_id: str | None
    label: str
    disabled: bool = False
    variant: ButtonVariant = "default"
    url: str | None = None
    options: tuple[tuple[str, str], ...] = ()  # (label, value) for selects
    default: str | None = None  # the select's pre-selected value
    placeholder: str = ""
    max_values: int = 1


def component_texts(components: Sequence[Json]) -> list[str]:
    """The text displays of a components-v2 message."""
    return [str(c.get("content", "")) for c in walk(components) if c.get("type") == TEXT_DISPLAY]


def component_rows(
    components: Sequence[Json], directory: Directory | None = None
) -> list[list[ComponentSpec]]:
    """One row per top-level component (an action row, or a section or container) of its buttons and
    selects; rows with neither are left out."""
    directory = directory or Directory()
    rows = []
    for top in components:
        row = [spec for c in walk([top]) if (spec := component_spec(c, directory)) is not None]
        if row:
            rows.append(row)
    return rows


def component_spec(component: Json, directory: Directory) -> ComponentSpec | None:
    """A button or select as a :class:`ComponentSpec`; None for anything else."""
    kind = component.get("type")
    if kind == BUTTON:
        return _button_spec(component)
    if kind in SELECTS:
        options = select_options(component, directory)
        defaults = [o["value"] for o in component.get("options") or [] if o.get("default")]
        defaults += [str(d["id"]) for d in component.get("default_values") or [] if "id" in d]
        return ComponentSpec(
            "select",
            component.get("custom_id"),
            label=component.get("placeholder") or "Make a selection",
            disabled=bool(component.get("disabled")),
            options=options,
            default=defaults[0] if defaults and any(value == defaults[0] for _, value in options) else None,
            placeholder=component.get("placeholder") or "Make a selection",
            max_values=int(component.get("max_values") or 1),
        )
    return None


def _button_spec(component: Json) -> ComponentSpec:
    emoji = component.get("emoji") or {}
    emoji_text = emoji.get("name", "") if not emoji.get("id") else f":{emoji.get('name', 'emoji')}:"
    label = " ".join(part for part in (emoji_text, component.get("label") or "") if part) or "·"
    style = int(component.get("style") or 2)
    if style == LINK_STYLE:
        return ComponentSpec(
            "link", None, f"{label} ↗", url=component.get("url"), disabled=bool(component.get("disabled"))
        )
    variant = BUTTON_VARIANTS.get(style, "default")
    return ComponentSpec(
        "button",
        component.get("custom_id"),
        label,
        # Premium buttons open Discord's store: nothing the sandbox can do with them.
        disabled=bool(component.get("disabled")) or style == PREMIUM_STYLE,
        variant=variant,
    )


def select_options(component: Json, directory: Directory) -> tuple[tuple[str, str], ...]:
    """A string select's own options; for user, role, channel and mentionable selects the guild's
    members, roles or channels, as Discord's client offers them."""
    kind = component.get("type")
    if kind == STRING_SELECT:
        return tuple(
            (_option_label(option), str(option["value"])) for option in component.get("options") or []
        )
    users = tuple((f"@{directory.user(uid)}", str(uid)) for uid in directory.members)
    roles = tuple((f"@{name}", str(rid)) for rid, name in directory.roles.items())
    if kind == USER_SELECT:
        return users
    if kind == ROLE_SELECT:
        return roles
    if kind == CHANNEL_SELECT:
        return tuple((f"#{name}", str(cid)) for cid, name in directory.channels.items())
    return users + roles


def _option_label(option: Json) -> str:
    emoji = (option.get("emoji") or {}).get("name")
    label = str(option.get("label", option.get("value", "")))
    description = option.get("description")
    text = f"{emoji} {label}" if emoji else label
    return f"{text} — {description}" if description else text
