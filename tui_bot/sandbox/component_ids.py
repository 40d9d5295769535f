"""Component ids as Discord assigns them: every component of a message carries a numeric ``id``.

Discord's component reference ("Anatomy of a Component"): ``id`` is a 32-bit integer, unique within the
message; when the sender leaves it out it is "generated sequentially", never reusing an id another
component of the message already has. The numbering goes through the tree in order, a parent before its
children (an action row, then its buttons; a section, its texts, then its accessory; a label, then its
component). The sandbox stores what the bot sent and numbers it when it writes the message out, so every
response and gateway event carries the same ids.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

from .world import Json

CHILD_KEYS = ("components", "component", "accessory")  # rows, containers, sections; labels; sections


def _walk(components: list[Json]) -> Iterator[Json]:
    for component in components:
        if not isinstance(component, dict):
            continue
        yield component
        for key in CHILD_KEYS:
            child = component.get(key)
            if isinstance(child, list):
                yield from _walk(child)
            elif isinstance(child, dict):
                yield from _walk([child])


def with_component_ids(components: list[Json]) -> list[Json]:
    """A deep copy of a message's ``components`` with an ``id`` on each one that had none."""
    if not components:
        return []
    numbered = copy.deepcopy(components)
    taken = {c["id"] for c in _walk(numbered) if isinstance(c.get("id"), int)}
    next_id = 1
    for component in _walk(numbered):
        if isinstance(component.get("id"), int):
            continue
        while next_id in taken:
            next_id += 1
        component["id"] = next_id
        taken.add(next_id)
    return numbered
