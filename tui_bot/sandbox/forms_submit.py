"""A member submits a form: the values they filled in become MODAL_SUBMIT ``data`` as Discord sends it.

``data`` is ``{"custom_id", "components", "resolved"?}``. ``components`` mirrors the modal: a Label
becomes ``{"type": 18, "id", "component": {...}}``, an action row ``{"type": 1, "id", "components":
[...]}``, a text display ``{"type": 10, "id"}``; each input answers with its ``type``, ``id``,
``custom_id`` and its value (discord-api-docs, ``developers/components/reference.mdx``, each
component's "Interaction Response Structure"):

======================  ===========================  =====================================
input                   what ``values`` takes         on the wire
======================  ===========================  =====================================
text input (4)          a string                      ``value``: the string
select (3)              a value or label, or a list   ``values``: option values
user/role/channel/      a name, id or object, or a    ``values``: ids, and ``resolved``
mentionable (5-8)       list of them                  users/members/roles/channels
file upload (19)        bytes, (filename, bytes),     ``values``: attachment ids, and
                        a Path, or a list of them      ``resolved.attachments``
radio group (21)        a value or label (or None)    ``value``: the option's value or null
checkbox group (22)     a list of values or labels    ``values``: option values
checkbox (23)           True or False                 ``value``: the boolean
======================  ===========================  =====================================

A field left out is submitted as the member found it: a text input's pre-filled value, the options
marked ``default``, a checkbox's ``default``. What Discord's client would not let through is refused
with :class:`InteractionError` naming the field: an unknown field, a required field left empty, a
value not among the options, too few or too many values, a text of the wrong length.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .forms import (
    ACTION_ROW,
    CHANNEL_SELECT,
    CHECKBOX,
    CHECKBOX_GROUP,
    FILE_UPLOAD,
    LABEL,
    MODAL_LIMITS,
    RADIO_GROUP,
    ROLE_SELECT,
    STRING_SELECT,
    TEXT_INPUT,
    USER_SELECT,
    FormField,
    form_fields,
)
from .interaction_refs import InteractionError, Resolved, find_channel, find_role, find_user
from .world import Guild, Json, World

_MISSING = object()


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple) and not _is_file_tuple(value):
        return list(value)
    return [value]


def _is_file_tuple(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) in (2, 3) and isinstance(value[1], bytes | bytearray)


def _option(field: FormField, pick: Any) -> str:
    """The option value a member picked by value or label."""
    for label, value in field.options:
        if pick in (value, label):
            return value
    listed = ", ".join(repr(value) for _, value in field.options)
    raise InteractionError(f"{field.kind_name} {field.name} has no option {pick!r} (options: {listed})")


def _check_count(field: FormField, picked: Sequence[Any]) -> None:
    if not picked:
        if field.required:
            raise InteractionError(
                f"modal field {field.label!r} is required ({field.kind_name} {field.custom_id})"
            )
        return
    if not field.min_values <= len(picked) <= field.max_values:
        raise InteractionError(
            f"{field.kind_name} {field.name} takes {field.min_values}-{field.max_values} values, "
            f"got {len(picked)}: {list(picked)!r}"
        )
    if len(set(map(str, picked))) != len(picked):
        raise InteractionError(f"{field.kind_name} {field.name}: the same value was picked twice")


def json_file(value: Mapping[str, Any]) -> tuple[str, bytes]:
    """A file as JSON carries it (the control API): ``{"filename", "text"}`` or ``{"filename", "base64"}``."""
    filename = value.get("filename")
    if not isinstance(filename, str) or not filename:
        raise InteractionError('a file needs a "filename" and a "text" or "base64" content')
    if isinstance(value.get("text"), str):
        return filename, value["text"].encode()
    try:
        return filename, base64.b64decode(str(value["base64"]), validate=True)
    except (KeyError, binascii.Error):
        raise InteractionError(f'file {filename!r} needs a "text" or a valid "base64" content') from None


class Submission:
    """Builds one MODAL_SUBMIT's ``data`` from a member's values (see the module docstring)."""

    def __init__(self, world: World, guild: Guild, modal: Json, resolved: Resolved) -> None:
        self.world, self.guild, self.modal, self.resolved = world, guild, modal, resolved
        # Discord numbers a modal's components 1, 2, 3... in order, skipping ids the bot set itself.
        self._taken = {c["id"] for c in self._every_component() if isinstance(c.get("id"), int) and c["id"]}
        self._next = 0

    def _every_component(self) -> list[Json]:
        found: list[Json] = []
        for top in self.modal.get("components") or []:
            found.append(top)
            found.extend(top.get("components") or [])
            if isinstance(top.get("component"), dict):
                found.append(top["component"])
        return found

    def _id(self, component: Json) -> int:
        if isinstance(component.get("id"), int) and component["id"]:
            return int(component["id"])
        self._next += 1
        while self._next in self._taken:
            self._next += 1
        return self._next

    def data(self, values: Mapping[str, Any]) -> Json:
        """``data`` of the MODAL_SUBMIT: every field answered from ``values`` (by custom_id or label)."""
        fields = {field.custom_id: field for field in form_fields(self.modal)}
        by_key: dict[str, FormField] = {}
        for field in fields.values():
            for key in (field.label, field.component.get("label")):
                if isinstance(key, str):
                    by_key.setdefault(key, field)
        by_key.update(fields)
        given: dict[str, Any] = {}
        for key, value in values.items():
            named = by_key.get(key)
            if named is None:
                names = [f.label for f in fields.values()]
                raise InteractionError(
                    f"modal {self.modal.get('title')!r} has no field {key!r} (fields: {names})"
                )
            if named.custom_id in given:
                raise InteractionError(f"modal field {named.name} is given twice (by label and by custom_id)")
            given[named.custom_id] = value
        components: list[Json] = []
        for top in self.modal.get("components") or []:
            top_id = self._id(top)
            if top.get("type") == LABEL and isinstance(top.get("component"), dict):
                inner = top["component"]
                answer = self._answer(fields[inner["custom_id"]], given.get(inner["custom_id"], _MISSING))
                components.append({"type": LABEL, "id": top_id, "component": answer})
            elif top.get("type") == ACTION_ROW:
                row = [
                    self._answer(fields[c["custom_id"]], given.get(c["custom_id"], _MISSING))
                    for c in top.get("components") or []
                ]
                components.append({"type": ACTION_ROW, "id": top_id, "components": row})
            else:
                components.append({"type": top.get("type"), "id": top_id})
        data: Json = {"custom_id": self.modal["custom_id"], "components": components}
        if resolved := self.resolved.payload():
            data["resolved"] = resolved
        return data

    def _answer(self, field: FormField, value: Any) -> Json:
        answer: Json = {"type": field.kind, "id": self._id(field.component), "custom_id": field.custom_id}
        kind = field.kind
        if kind == TEXT_INPUT:
            answer["value"] = self._text(field, value)
        elif kind == CHECKBOX:
            if value is _MISSING:
                value = bool(field.component.get("default", False))
            if not isinstance(value, bool):
                raise InteractionError(f"checkbox {field.name} takes True or False, not {value!r}")
            answer["value"] = value
        elif kind == RADIO_GROUP:
            picks = list(field.defaults) if value is _MISSING else _as_list(value)
            if len(picks) > 1:
                raise InteractionError(f"radio group {field.name} takes one value, got {picks!r}")
            chosen = [_option(field, pick) for pick in picks]
            _check_count(field, chosen)
            answer["value"] = chosen[0] if chosen else None
        elif kind in (STRING_SELECT, CHECKBOX_GROUP):
            picks = list(field.defaults) if value is _MISSING else _as_list(value)
            chosen = [_option(field, pick) for pick in picks]
            _check_count(field, chosen)
            answer["values"] = chosen
        elif kind == FILE_UPLOAD:
            files = [] if value is _MISSING else _as_list(value)
            _check_count(field, files)
            answer["values"] = [self._file(field, item) for item in files]
        else:  # user, role, mentionable, channel selects
            picks = list(field.defaults) if value is _MISSING else _as_list(value)
            _check_count(field, picks)
            answer["values"] = [self._entity(field, pick) for pick in picks]
            if len(set(answer["values"])) != len(answer["values"]):
                raise InteractionError(f"{field.kind_name} {field.name}: the same value was picked twice")
        return answer

    def _text(self, field: FormField, value: Any) -> str:
        if value is _MISSING or value is None:
            value = field.defaults[0] if field.defaults else ""
        if not isinstance(value, str):
            raise InteractionError(f"text input {field.name} takes a string, not {type(value).__name__}")
        if not value:
            if field.required:
                raise InteractionError(f"modal field {field.label!r} is required")
            return value
        low = field.component.get("min_length")
        high = field.component.get("max_length") or MODAL_LIMITS["text_length"]
        if (low is not None and len(value) < low) or len(value) > high:
            raise InteractionError(
                f"modal field {field.label!r} must be {low or 0}-{high} characters, got {len(value)}"
            )
        return value

    def _entity(self, field: FormField, pick: Any) -> str:
        world, guild, resolved = self.world, self.guild, self.resolved
        try:
            if field.kind == USER_SELECT:
                return resolved.add_user(*find_user(world, guild, pick))
            if field.kind == ROLE_SELECT:
                return resolved.add_role(find_role(guild, pick))
            if field.kind == CHANNEL_SELECT:
                channel = find_channel(guild, pick)
                allowed = field.component.get("channel_types")
                if allowed and channel.type not in allowed:
                    raise InteractionError(f"#{channel.name} is not one of channel types {allowed}")
                return resolved.add_channel(channel)
            try:  # mentionable: a user or member first, else a role
                return resolved.add_user(*find_user(world, guild, pick))
            except InteractionError:
                return resolved.add_role(find_role(guild, pick))
        except InteractionError as error:
            raise InteractionError(f"{field.kind_name} {field.name}: {error}") from None

    def _file(self, field: FormField, item: Any) -> str:
        if isinstance(item, Mapping):
            item = json_file(item)
        elif isinstance(item, str):
            item = Path(item)
        if isinstance(item, Path) and not item.is_file():
            raise InteractionError(f"file upload {field.name}: no file {str(item)!r}")
        try:
            return self.resolved.add_attachment(item)
        except InteractionError as error:
            raise InteractionError(f"file upload {field.name}: {error}") from None


def modal_submit_data(
    world: World, guild: Guild, modal: Json, values: Mapping[str, Any], resolved: Resolved
) -> Json:
    """MODAL_SUBMIT ``data`` answering ``modal`` (a type-9 callback's data) with ``values``."""
    return Submission(world, guild, modal, resolved).data(values)
