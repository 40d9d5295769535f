"""The framework's built-in commands, one cog per audience.

- :mod:`.info`: ``stats``, ``extensions``, ``discordbotframework`` (everyone);
- :mod:`.guild_settings`: ``setprefix``, ``config`` (server owners and admins);
- :mod:`.owner`: ``sync``, ``load``, ``unload``, ``reload``, ``backup``, ``autoreload``, ``atomictest``
  (the bot owner).

Each cog is a category of the help menu. Owner commands call ``bot.actions``, the same code the
console's keys run.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from tui_bot.core.builtins.guild_settings import ServerSettings
from tui_bot.core.builtins.info import Information
from tui_bot.core.builtins.owner import Owner

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot  # the bot calls install_builtins: no import at run time

BUILTIN_COGS = (Information, ServerSettings, Owner)


def install_builtins(bot: TuiBot) -> None:
    """Add the built-in cogs at the start of ``setup_hook`` (adding a cog is a coroutine), before
    extensions load: an extension that defines a command of the same name then fails loudly instead
    of silently replacing a built-in."""
    original: Callable[[], Coroutine[Any, Any, None]] = bot.setup_hook

    async def setup_hook() -> None:
        for cog in BUILTIN_COGS:
            await bot.add_cog(cog(bot))
        await original()

    # Wraps this one instance's hook (TuiBot's own method stays as written): mypy forbids assigning to
    # a method, which is exactly what this is meant to do.
    bot.setup_hook = setup_hook  # type: ignore[method-assign]
