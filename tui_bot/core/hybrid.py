"""``hybrid_command`` for cog methods, typed so that mypy can check the commands it decorates.

discord.py's ``commands.hybrid_command`` accepts a callback typed as a union of two ``Concatenate``
signatures (with and without the cog); mypy cannot solve that union and rejects every decorated method
("expected def (Never, Never, /, ...)"). This decorator takes the cog-method form only and builds the
same :class:`~discord.ext.commands.HybridCommand` that ``commands.hybrid_command(...)`` builds, so the
command's parameters stay typed (``HybridCommand[Cog, [extension: str], None]``) and nothing needs a
``type: ignore``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from discord.ext import commands

CogT = TypeVar("CogT", bound=commands.Cog)
P = ParamSpec("P")
T = TypeVar("T")

CogCommandCallback = Callable[Concatenate[CogT, commands.Context[Any], P], Coroutine[Any, Any, T]]


def hybrid_command(
    name: str, *, description: str, aliases: Sequence[str] = ()
) -> Callable[[CogCommandCallback[CogT, P, T]], commands.HybridCommand[CogT, P, T]]:
    """Make a cog method a prefix and slash command, like ``@commands.hybrid_command(name, ...)``.

    Checks (``@commands.is_owner()``) and app command decorators (``@app_commands.describe``) go
    below it, as with discord.py's decorator.
    """

    def decorate(callback: CogCommandCallback[CogT, P, T]) -> commands.HybridCommand[CogT, P, T]:
        if isinstance(callback, commands.Command):
            raise TypeError("Callback is already a command.")
        return commands.HybridCommand(callback, name=name, description=description, aliases=list(aliases))

    return decorate
