"""Syncing slash commands with a diff: see what would change, and skip the API call when nothing does.

Discord rate-limits command syncs tightly (a bulk overwrite per scope is cheap to call but easy to
overdo), so the framework never syncs at start-up: an owner syncs on purpose, and a sync first compares
the local tree with what Discord has. The comparison uses normalised payloads: name, type, description,
options (recursively), default_member_permissions, nsfw, contexts, integration_types, and dm_permission
for global commands. Fields Discord fills with its own defaults when the bot leaves them unset
(``contexts``, ``integration_types``) only count when the bot sets them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from tui_bot.core.results import ActionResult

log = logging.getLogger("tui_bot.sync")

_OPTION_FIELDS = ("min_value", "max_value", "min_length", "max_length")
_DISCORD_DEFAULTS = ("contexts", "integration_types")


def _localised(value: Any) -> dict[str, str] | None:
    return dict(sorted(value.items())) if value else None


def normalise_option(option: dict[str, Any]) -> dict[str, Any]:
    """An option payload reduced to what Discord keeps, with defaults made explicit."""
    out: dict[str, Any] = {
        "type": option.get("type"),
        "name": option.get("name"),
        "description": option.get("description") or "",
        "required": bool(option.get("required", False)),
        "autocomplete": bool(option.get("autocomplete", False)),
        "choices": [(c.get("name"), c.get("value")) for c in option.get("choices") or []],
        "channel_types": sorted(option.get("channel_types") or []),
        "options": [normalise_option(o) for o in option.get("options") or []],
        "name_localizations": _localised(option.get("name_localizations")),
        "description_localizations": _localised(option.get("description_localizations")),
    }
    for key in _OPTION_FIELDS:
        out[key] = option.get(key)
    return out


def normalise_command(payload: Mapping[str, Any], *, global_scope: bool) -> dict[str, Any]:
    """A command payload (local ``to_dict`` or fetched from Discord) in a comparable form."""
    permissions = payload.get("default_member_permissions")
    contexts = payload.get("contexts")
    installs = payload.get("integration_types")
    out: dict[str, Any] = {
        "type": payload.get("type", 1),
        "name": payload.get("name"),
        "description": payload.get("description") or "",
        "options": [normalise_option(o) for o in payload.get("options") or []],
        "default_member_permissions": str(permissions) if permissions is not None else None,
        "nsfw": bool(payload.get("nsfw", False)),
        "contexts": sorted(contexts) if contexts is not None else None,
        "integration_types": sorted(installs) if installs is not None else None,
        "name_localizations": _localised(payload.get("name_localizations")),
        "description_localizations": _localised(payload.get("description_localizations")),
    }
    if global_scope:
        out["dm_permission"] = bool(payload.get("dm_permission", True))
    return out


def _key(payload: Mapping[str, Any]) -> tuple[int, str]:
    return int(payload.get("type", 1)), str(payload.get("name"))


def _label(key: tuple[int, str]) -> str:
    kind, name = key
    return f"/{name}" if kind == 1 else f"{name} ({'user' if kind == 2 else 'message'} menu)"


def _differs(local: dict[str, Any], remote: dict[str, Any]) -> bool:
    for name in _DISCORD_DEFAULTS:
        if local.get(name) is None:
            remote = {**remote, name: None}  # unset locally: whatever default Discord applied is fine
    return local != remote


@dataclass(frozen=True)
class SyncPlan(ActionResult):
    """What a sync of one scope would change on Discord."""

    scope: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0

    ok = True

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def describe(self) -> str:
        """``global: 2 added (/ban, /kick), 1 changed (/hello), 0 removed`` or ``...: no changes``."""
        if not self.has_changes:
            return f"{self.scope}: no changes ({self.unchanged} command(s) up to date)"
        parts = []
        for label, names in (("added", self.added), ("changed", self.changed), ("removed", self.removed)):
            parts.append(f"{len(names)} {label}" + (f" ({', '.join(names)})" if names else ""))
        return f"{self.scope}: " + ", ".join(parts)


@dataclass(frozen=True)
class SyncResult(ActionResult):
    """The outcome of :func:`sync`: the plan, whether Discord was called, and any error."""

    plan: SyncPlan | None
    synced: bool
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        if self.error is not None:
            return f"sync failed: {self.error}"
        assert self.plan is not None
        if not self.synced:
            return f"sync skipped, {self.plan.describe()}"
        return f"synced {self.plan.describe()}"


def scope_name(guild: discord.abc.Snowflake | None) -> str:
    return "global" if guild is None else f"guild {guild.id}"


async def local_payloads(bot: commands.Bot, guild: discord.abc.Snowflake | None) -> list[dict[str, Any]]:
    """The payloads ``tree.sync(guild=...)`` would send (translated if the tree has a translator)."""
    tree: app_commands.CommandTree = bot.tree
    scoped = tree.get_commands(guild=guild)
    translator = tree.translator
    if translator is not None:
        return [await command.get_translated_payload(tree, translator) for command in scoped]
    return [command.to_dict(tree) for command in scoped]


def _tree_label(
    command: app_commands.Command[Any, ..., Any] | app_commands.Group | app_commands.ContextMenu,
) -> str:
    kind = command.type.value if isinstance(command, app_commands.ContextMenu) else 1  # 1: a slash command
    return _label((kind, command.name))


def tree_commands(bot: commands.Bot) -> set[str]:
    """Every application command in the bot's local tree, global and per guild, as labels (``/greet``,
    ``/setup (guild 123)``, ``Report (message menu)``): what the next sync sends, and what a load that
    adds commands grows (they reach Discord only with that sync)."""
    tree: app_commands.CommandTree = bot.tree
    labels = {_tree_label(command) for command in tree.get_commands()}
    for guild in bot.guilds:
        labels |= {f"{_tree_label(command)} (guild {guild.id})" for command in tree.get_commands(guild=guild)}
    return labels


async def remote_payloads(bot: commands.Bot, guild: discord.abc.Snowflake | None) -> list[Mapping[str, Any]]:
    """What Discord has for the scope, as raw payloads (``AppCommand`` objects drop fields we compare)."""
    app_id = bot.application_id
    if app_id is None:  # not logged in yet: as tree.sync() says
        raise app_commands.MissingApplicationID
    if guild is None:
        return list(await bot.http.get_global_commands(app_id))
    return list(await bot.http.get_guild_commands(app_id, guild.id))


async def plan_sync(bot: commands.Bot, guild: discord.abc.Snowflake | None) -> SyncPlan:
    """Compare the local tree's commands for the scope with Discord's. One GET, no writes."""
    global_scope = guild is None
    local = {
        _key(p): normalise_command(p, global_scope=global_scope) for p in await local_payloads(bot, guild)
    }
    remote = {
        _key(p): normalise_command(p, global_scope=global_scope) for p in await remote_payloads(bot, guild)
    }
    added = sorted(_label(k) for k in local.keys() - remote.keys())
    removed = sorted(_label(k) for k in remote.keys() - local.keys())
    both = local.keys() & remote.keys()
    changed = sorted(_label(k) for k in both if _differs(local[k], remote[k]))
    return SyncPlan(scope_name(guild), added, changed, removed, unchanged=len(both) - len(changed))


async def sync(
    bot: commands.Bot, guild: discord.abc.Snowflake | None = None, *, force: bool = False
) -> SyncResult:
    """Plan, then bulk-overwrite the scope's commands only if something changed (or ``force``)."""
    try:
        plan = await plan_sync(bot, guild)
        if not plan.has_changes and not force:
            log.info("Slash command sync skipped: %s", plan.describe())
            return SyncResult(plan, synced=False)
        await bot.tree.sync(guild=guild)
    except (discord.HTTPException, app_commands.AppCommandError) as error:
        log.error("Slash command sync of %s failed: %s", scope_name(guild), error)
        return SyncResult(None, synced=False, error=str(error))
    log.info("Slash commands synced: %s", plan.describe())
    return SyncResult(plan, synced=True)
