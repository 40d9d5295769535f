"""The framework's embed colours and the embeds its replies are built from."""

from __future__ import annotations

import enum

import discord


class Colour(enum.IntEnum):
    """The colour scheme users of the original framework know."""

    MAIN_MENU = 0x2B2D31  # dark grey: menus and neutral information
    CATEGORIES = 0x5865F2  # blurple: help categories and listings
    SUCCESS = 0x00FF00
    ERROR = 0xFF0000
    WARNING = 0xFFFF00
    CREDITS = 0xFFD700  # gold


def make_embed(
    title: str, description: str | None = None, *, colour: Colour = Colour.MAIN_MENU
) -> discord.Embed:
    """An embed in the framework's style."""
    return discord.Embed(title=title, description=description, colour=int(colour))


def success_embed(title: str, description: str | None = None) -> discord.Embed:
    """A green confirmation, e.g. "✅ Prefix changed"."""
    return make_embed(f"✅ {title}", description, colour=Colour.SUCCESS)


def error_embed(title: str, description: str | None = None) -> discord.Embed:
    """A red refusal or failure that says what to do instead."""
    return make_embed(f"❌ {title}", description, colour=Colour.ERROR)


def warning_embed(title: str, description: str | None = None) -> discord.Embed:
    """A yellow notice, e.g. a cooldown."""
    return make_embed(f"⚠️ {title}", description, colour=Colour.WARNING)
