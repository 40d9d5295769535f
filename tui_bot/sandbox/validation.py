"""Message bodies checked against Discord's limits (``limits.LIMITS``), refused as Discord refuses them.

Discord answers a body that breaks its limits with 400 and ``{"code": 50035, "message": "Invalid Form
Body", "errors": {...}}``: every error at once, each nested under its path (``{"embeds": {"0":
{"fields": {"_errors": [{"code", "message"}]}}}}``); discord.py's ``HTTPException`` flattens them to
``In embeds.0.fields: Must be 25 or fewer in length.``. :class:`FormErrors` collects them;
:func:`check_message` checks a message body (created, edited, sent as an interaction response or a
webhook follow-up), :func:`check_callback` an interaction callback's ``data`` (errors under
``data.``). Application commands are in ``validation_commands``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .component_types import ACTION_ROW, BUTTON, IS_COMPONENTS_V2, SELECTS, STRING_SELECT, TEXT_DISPLAY
from .limits import limit
from .rest_http import ApiError
from .world import Json

# Discord's answer to a row holding too much (what bots log: "In components.0.components.5: The
# specified component exceeds the maximum width").
TOO_WIDE = "The specified component exceeds the maximum width"

Path = tuple[str | int, ...]


def max_length(value: int) -> tuple[str, str]:
    """Discord's BASE_TYPE_MAX_LENGTH error (code, message) for a limit of ``value``."""
    return "BASE_TYPE_MAX_LENGTH", f"Must be {value} or fewer in length."


def bad_length(low: int, high: int) -> tuple[str, str]:
    """Discord's BASE_TYPE_BAD_LENGTH error (code, message) for a length range."""
    return "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length."


class FormErrors:
    """Errors of one request body, nested by path as Discord nests them."""

    def __init__(self) -> None:
        self.tree: Json = {}

    def __bool__(self) -> bool:
        return bool(self.tree)

    def add(self, path: Path, error: tuple[str, str]) -> None:
        """Add ``error`` (code, message) at ``path`` (``()`` is the body itself)."""
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": error[0], "message": error[1]})

    def too_long(self, path: Path, value: Any, name: str) -> None:
        """An error at ``path`` if ``value`` (text) is longer than the limit ``name``."""
        if isinstance(value, str) and len(value) > limit(name):
            self.add(path, max_length(limit(name)))

    def raise_if_any(self) -> None:
        """Raise 400/50035 Invalid Form Body with every error collected, if there is one."""
        if self.tree:
            raise ApiError(400, 50035, "Invalid Form Body", self.tree)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def check_message(body: Json, *, flags: int = 0, prefix: Path = ()) -> None:
    """Refuse (400/50035) a message body breaking Discord's limits; ``flags`` are the message's flags
    (IS_COMPONENTS_V2 changes the rules), ``prefix`` where the body sits (``("data",)`` in callbacks)."""
    errors = FormErrors()
    message_errors(errors, body, flags=flags, prefix=prefix)
    errors.raise_if_any()


def message_errors(errors: FormErrors, body: Json, *, flags: int, prefix: Path) -> None:
    """Add the errors of message ``body`` to ``errors`` (see :func:`check_message`)."""
    if not isinstance(body, dict):
        return
    v2 = bool(flags & IS_COMPONENTS_V2)
    content = body.get("content")
    if v2 and content:
        errors.add((*prefix, "content"), _legacy_field("content"))
    elif content is not None:
        errors.too_long((*prefix, "content"), str(content), "content")
    embeds = _list(body.get("embeds"))
    if v2 and embeds:
        errors.add((*prefix, "embeds"), _legacy_field("embeds"))
    elif embeds:
        _embed_errors(errors, embeds, (*prefix, "embeds"))
    components = _list(body.get("components"))
    if components:
        _component_errors(errors, components, (*prefix, "components"), v2=v2)
    mentions = body.get("allowed_mentions")
    if isinstance(mentions, dict):
        _mention_errors(errors, mentions, (*prefix, "allowed_mentions"))


def _legacy_field(field: str) -> tuple[str, str]:
    return (
        "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
        f"The '{field}' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
    )


def _embed_errors(errors: FormErrors, embeds: list[Any], path: Path) -> None:
    if len(embeds) > limit("embeds"):
        errors.add(path, max_length(limit("embeds")))
    total = 0
    for index, raw in enumerate(embeds):
        embed, at = _dict(raw), (*path, index)
        footer, author = _dict(embed.get("footer")), _dict(embed.get("author"))
        errors.too_long((*at, "title"), embed.get("title"), "embed.title")
        errors.too_long((*at, "description"), embed.get("description"), "embed.description")
        errors.too_long((*at, "footer", "text"), footer.get("text"), "embed.footer.text")
        errors.too_long((*at, "author", "name"), author.get("name"), "embed.author.name")
        fields = _list(embed.get("fields"))
        if len(fields) > limit("embed.fields"):
            errors.add((*at, "fields"), max_length(limit("embed.fields")))
        for number, raw_field in enumerate(fields):
            field = _dict(raw_field)
            errors.too_long((*at, "fields", number, "name"), field.get("name"), "embed.field.name")
            errors.too_long((*at, "fields", number, "value"), field.get("value"), "embed.field.value")
            total += len(_text(field.get("name"))) + len(_text(field.get("value")))
        total += sum(
            len(_text(text))
            for text in (embed.get("title"), embed.get("description"), footer.get("text"), author.get("name"))
        )
    # Discord: "The combined sum of characters in all title, description, field.name, field.value,
    # footer.text, and author.name fields across all embeds attached to a message must not exceed 6000".
    if total > limit("embeds.total"):
        size = limit("embeds.total")
        errors.add(path, ("MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {size}"))


def _children(component: Json, path: Path) -> list[tuple[list[Any], Path]]:
    """The component lists inside ``component`` (rows, sections, containers; a section's accessory and
    a label's component as one-element lists), with their paths."""
    found: list[tuple[list[Any], Path]] = []
    inner = component.get("components")
    if isinstance(inner, list):
        found.append((inner, (*path, "components")))
    for key in ("accessory", "component"):
        if isinstance(component.get(key), dict):
            found.append(([component[key]], (*path, key)))
    return found


def _component_errors(errors: FormErrors, components: list[Any], path: Path, *, v2: bool) -> None:
    if not v2 and len(components) > limit("components.rows"):
        errors.add(path, max_length(limit("components.rows")))
    counted = _walk_components(errors, components, path)
    if v2:
        count, text = counted
        if count > limit("cv2.components"):
            errors.add(
                path, ("COMPONENT_COUNT_EXCEEDED", f"Must be {limit('cv2.components')} or fewer in length.")
            )
        if text > limit("cv2.text"):
            errors.add(
                path,
                (
                    "COMPONENT_TEXT_LENGTH_EXCEEDED",
                    f"The text of all text displays must be {limit('cv2.text')} or fewer characters.",
                ),
            )


def _walk_components(errors: FormErrors, components: Sequence[Any], path: Path) -> tuple[int, int]:
    """Check every component under ``path``; (how many there are, how long their text displays are)."""
    count = text = 0
    for index, raw in enumerate(components):
        component, at = _dict(raw), (*path, index)
        count += 1
        kind = component.get("type")
        if kind == TEXT_DISPLAY:
            text += len(_text(component.get("content")))
        if kind == ACTION_ROW:
            _row_errors(errors, _list(component.get("components")), (*at, "components"))
        _one_component_errors(errors, component, at)
        for inner, inner_path in _children(component, at):
            inner_count, inner_text = _walk_components(errors, inner, inner_path)
            count, text = count + inner_count, text + inner_text
    return count, text


def _row_errors(errors: FormErrors, row: list[Any], path: Path) -> None:
    """An action row holds up to 5 buttons or one select; what does not fit is "too wide"."""
    has_select = any(_dict(c).get("type") in SELECTS for c in row)
    room = limit("action_row.select") if has_select else limit("action_row.buttons")
    for index in range(room, len(row)):
        errors.add((*path, index), ("COMPONENT_LAYOUT_WIDTH_EXCEEDED", TOO_WIDE))


def _one_component_errors(errors: FormErrors, component: Json, path: Path) -> None:
    errors.too_long((*path, "custom_id"), component.get("custom_id"), "component.custom_id")
    kind = component.get("type")
    if kind == BUTTON:
        errors.too_long((*path, "label"), component.get("label"), "button.label")
    if kind not in SELECTS:
        return
    errors.too_long((*path, "placeholder"), component.get("placeholder"), "select.placeholder")
    options = component.get("options")
    if kind == STRING_SELECT and (
        not isinstance(options, list) or not 1 <= len(options) <= limit("select.options")
    ):
        errors.add((*path, "options"), bad_length(1, limit("select.options")))
    most = limit("select.max_values")
    for key, least in (("min_values", 0), ("max_values", 1)):
        value = component.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            if value < least:
                errors.add(
                    (*path, key),
                    ("NUMBER_TYPE_MIN", f"int value should be greater than or equal to {least}."),
                )
            elif value > most:
                errors.add(
                    (*path, key), ("NUMBER_TYPE_MAX", f"int value should be less than or equal to {most}.")
                )


def _mention_errors(errors: FormErrors, mentions: Json, path: Path) -> None:
    parse = _list(mentions.get("parse"))
    for kind in ("users", "roles"):
        ids = mentions.get(kind)
        if kind in parse and ids:
            errors.add(
                path,
                (
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                ),
            )
        if isinstance(ids, list) and len(ids) > limit(f"allowed_mentions.{kind}"):
            errors.add((*path, kind), max_length(limit(f"allowed_mentions.{kind}")))


# -- interaction callbacks --


def check_callback(kind: int, data: Any, *, flags: int | None = None) -> None:
    """Refuse (400/50035, errors under ``data.``) a callback whose ``data`` breaks Discord's limits.

    Types 4 and 7 carry a message (``flags``: the message's flags when ``data`` has none), 8
    autocomplete choices. Modals (type 9) are checked by ``forms.validate_modal``, with the numbers
    of :data:`~.limits.LIMITS`.
    """
    if not isinstance(data, dict):
        return
    errors = FormErrors()
    at: Path = ("data",)
    if kind in (4, 7):
        own = data.get("flags")
        message_flags = int(own) if isinstance(own, int) else (flags or 0)
        message_errors(errors, data, flags=message_flags, prefix=at)
    elif kind == 8:
        choices = data.get("choices")
        if isinstance(choices, list) and len(choices) > limit("autocomplete.choices"):
            errors.add((*at, "choices"), max_length(limit("autocomplete.choices")))
    errors.raise_if_any()


# -- members' messages (the Python and control APIs) --


def check_member_content(content: str) -> None:
    """Refuse (ValueError) a member's message over Discord's limit (2,000 characters without Nitro)."""
    most = limit("member.content")
    if len(content) > most:
        raise ValueError(
            f"a member's message is limited to {most} characters on Discord (without Nitro); "
            f"this one has {len(content)}"
        )
