"""The default per-user cooldown for commands that declare none (``cooldowns`` in config.json)."""

from __future__ import annotations

from discord.ext import commands

from tui_bot.config.model import CooldownConfig


def apply_default_cooldown(command: commands.Command, config: CooldownConfig) -> bool:
    """Give ``command`` (and its subcommands) the default cooldown unless a decorator set one.

    discord.py keeps a command's cooldown in ``Command._buckets``; a ``@commands.cooldown`` decorator
    makes it valid. Setting it here, at registration, means the cooldown runs exactly where discord.py
    runs declared ones: on invocation, not when the help menu asks whether a command can run.
    Returns whether any command was given the default.
    """
    applied = False
    targets = [command]
    if isinstance(command, commands.Group):
        targets.extend(command.walk_commands())
    for target in targets:
        if not target._buckets.valid:
            target._buckets = commands.CooldownMapping(
                commands.Cooldown(config.default_rate, config.default_per), commands.BucketType.user
            )
            applied = True
    return applied
