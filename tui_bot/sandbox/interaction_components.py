"""Message components as a member uses them: find what was clicked and check the values picked for the
``data`` of MESSAGE_COMPONENT interactions (modals, forms, are in ``forms`` and ``forms_submit``).

Components are walked through every layout Discord has: action rows (1), sections (9, with an
``accessory``), containers (17) and labels (18, wrapping one ``component``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from .component_types import (
    BUTTON,
    CHANNEL_SELECT,
    ROLE_SELECT,
    STRING_SELECT,
    USER_SELECT,
)
from .interaction_refs import InteractionError, Resolved, find_channel, find_role, find_user
from .world import Guild, Json, Message, World

LINK_STYLE, PREMIUM_STYLE = 5, 6


def walk(components: Sequence[Json]) -> Iterator[Json]:
    """Every component, depth first, containers before their children."""
    for component in components:
        yield component
        yield from walk(component.get("components") or [])
        for key in ("accessory", "component"):
            if isinstance(component.get(key), dict):
                yield from walk([component[key]])


def _describe(component: Json) -> str:
    label = component.get("label") or component.get("placeholder")
    return f"{component.get('custom_id')!r}" + (f" ({label})" if label else "")


def find_component(
    message: Message, custom_id: str | None, *, label: str | None = None, types: tuple[int, ...]
) -> Json:
    """The enabled component of one of ``types`` on ``message`` with ``custom_id`` (or button ``label``).

    ``custom_id=None`` and no label picks the only one there is. Refuses what a member cannot click:
    a missing custom_id, a disabled component, a link or premium button.
    """
    kind = "button" if types == (BUTTON,) else "select menu"
    candidates = [c for c in walk(message.components) if c.get("type") in types]
    if custom_id is not None:
        matches = [c for c in candidates if c.get("custom_id") == custom_id]
    elif label is not None:
        matches = [c for c in candidates if c.get("label") == label]
    else:
        matches = candidates
    if len(matches) != 1:
        available = ", ".join(_describe(c) for c in candidates) or "none"
        wanted = (
            f"custom_id {custom_id!r}" if custom_id is not None else f"label {label!r}" if label else "one"
        )
        problem = "several match" if matches else "none matches"
        raise InteractionError(
            f"message {message.id} has no single {kind} with {wanted} ({problem}; its {kind}s: {available})"
        )
    component = matches[0]
    if component.get("type") == BUTTON and component.get("style") in (LINK_STYLE, PREMIUM_STYLE):
        raise InteractionError(
            f"button {_describe(component)} is a link/premium button: it sends no interaction"
        )
    if component.get("disabled"):
        raise InteractionError(f"{kind} {_describe(component)} on message {message.id} is disabled")
    return component


def select_values(
    world: World, guild: Guild, component: Json, values: Sequence[Any], resolved: Resolved
) -> list[str]:
    """The wire ``values`` for picking ``values`` in a select (ids for user/role/channel selects)."""
    kind = component["type"]
    low, high = component.get("min_values", 1), component.get("max_values", 1)
    if not low <= len(values) <= high:
        raise InteractionError(
            f"select {_describe(component)} takes {low}-{high} values, got {len(values)}: {list(values)!r}"
        )
    picked: list[str] = []
    for value in values:
        if kind == STRING_SELECT:
            options = component.get("options") or []
            option = next((o for o in options if o["value"] == value), None) or next(
                (o for o in options if o["label"] == value), None
            )
            if option is None:
                listed = ", ".join(repr(o["value"]) for o in options)
                raise InteractionError(f"select {_describe(component)} has no option {value!r} ({listed})")
            picked.append(option["value"])
        elif kind == USER_SELECT:
            picked.append(resolved.add_user(*find_user(world, guild, value)))
        elif kind == ROLE_SELECT:
            picked.append(resolved.add_role(find_role(guild, value)))
        elif kind == CHANNEL_SELECT:
            channel = find_channel(guild, value)
            allowed = component.get("channel_types")
            if allowed and channel.type not in allowed:
                raise InteractionError(f"#{channel.name} is not one of channel types {allowed}")
            picked.append(resolved.add_channel(channel))
        else:  # mentionable: a user or member first, else a role
            try:
                picked.append(resolved.add_user(*find_user(world, guild, value)))
            except InteractionError:
                picked.append(resolved.add_role(find_role(guild, value)))
    if len(set(picked)) != len(picked):
        raise InteractionError(f"select {_describe(component)}: the same value was picked twice")
    return picked
