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


def own_cooldowns(cog: commands.Cog) -> None:
    """Give each of ``cog``'s decorated cooldowns a fresh, empty bucket table.

    A ``@commands.cooldown`` decorator stores one mapping on the function, and discord.py hands that
    same mapping to every copy of the command (one per cog instance): without this, a bot restarted in
    the same process (the console, the tests) would inherit the previous bot's cooldowns.
    """
    for command in cog.walk_commands():
        mapping = command._buckets
        if mapping.valid and type(mapping) is commands.CooldownMapping:
            command._buckets = commands.CooldownMapping(mapping._cooldown, mapping.type)
