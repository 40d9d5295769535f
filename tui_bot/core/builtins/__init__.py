"""The framework's built-in commands, one cog per audience.

- :mod:`.info`: ``stats``, ``extensions``, ``discordbotframework`` (everyone);
- :mod:`.guild_settings`: ``setprefix``, ``config`` (server owners and admins);
- :mod:`.owner`: ``sync``, ``load``, ``unload``, ``reload``, ``atomictest`` (the bot owner).

Each cog is a category of the help menu. Owner commands call ``bot.actions``, the same code the
console's keys run.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from discord.ext import commands

from tui_bot.core.builtins.guild_settings import ServerSettings
from tui_bot.core.builtins.info import Information
from tui_bot.core.builtins.owner import Owner

BUILTIN_COGS = (Information, ServerSettings, Owner)


def install_builtins(bot: commands.Bot) -> None:
    """Add the built-in cogs at the start of ``setup_hook`` (adding a cog is a coroutine), before
    extensions load: an extension that defines a command of the same name then fails loudly instead
    of silently replacing a built-in."""
    original: Callable[[], Coroutine[Any, Any, None]] = bot.setup_hook

    async def setup_hook() -> None:
        for cog in BUILTIN_COGS:
            await bot.add_cog(cog(bot))
        await original()

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
