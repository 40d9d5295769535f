"""Recognising the framework's bot where discord.py hands over a bare ``discord.Client``.

The bot's parts (lifecycle, metrics, error handler, cogs) are given what they need by ``TuiBot``, or are
typed against it. A few helpers are also reached with an object discord.py types as any client (an
interaction's ``client``): they ask :func:`is_tui_bot` before using the framework's parts, so the same
helpers keep working for a plain discord.py bot. Importing ``core/bot.py`` here would be an import
cycle (the bot imports these helpers), hence the marker class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeGuard

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot


class FrameworkBot:
    """Marks ``TuiBot`` (its first base) for :func:`is_tui_bot`; it adds nothing else."""

    __slots__ = ()


def is_tui_bot(client: object) -> TypeGuard[TuiBot]:
    """Whether ``client`` is the framework's bot, with its config, lifecycle, metrics and handlers."""
    return isinstance(client, FrameworkBot)
