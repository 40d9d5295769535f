"""Forms (modals): what a bot may open, checked as Discord checks it, and the fields a member fills in.

A bot answers an interaction with a type-9 callback whose ``data`` is a modal: ``custom_id``, ``title``
and 1-5 top-level components, each a Label (18) wrapping one input, a Text Display (10), or (deprecated)
an Action Row (1) holding one Text Input. :func:`validate_modal` refuses what Discord refuses, with
400/50035 and the nested error path discord.py prints (``In data.components.0.label: ...``).
:func:`form_fields` lists the inputs as :class:`FormField` for whoever fills the form in: the sandbox's
``submit_modal`` (``forms_submit``) and the console's Chat pane.

The limits come from Discord's component reference (discord-api-docs,
``developers/components/reference.mdx``: Label, Text Input, the selects, File Upload, Radio Group,
Checkbox Group, Checkbox) and the interaction response's modal (title max 45, 1-5 components).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .component_types import (
    ACTION_ROW,
    CHANNEL_SELECT,
    CHECKBOX,
    CHECKBOX_GROUP,
    FILE_UPLOAD,
    LABEL,
    MENTIONABLE_SELECT,
    RADIO_GROUP,
    ROLE_SELECT,
    SELECTS,
    STRING_SELECT,
    TEXT_DISPLAY,
    TEXT_INPUT,
    USER_SELECT,
)
from .rest_http import ApiError
from .world import Json

ENTITY_SELECTS = (USER_SELECT, ROLE_SELECT, MENTIONABLE_SELECT, CHANNEL_SELECT)
# What a Label may wrap (reference.mdx, "Label Child Components").
LABEL_CHILDREN = (TEXT_INPUT, *SELECTS, FILE_UPLOAD, RADIO_GROUP, CHECKBOX_GROUP, CHECKBOX)
TOP_LEVEL = (ACTION_ROW, TEXT_DISPLAY, LABEL)
KIND_NAMES = {
    TEXT_INPUT: "text input",
    STRING_SELECT: "select",
    USER_SELECT: "user select",
    ROLE_SELECT: "role select",
    MENTIONABLE_SELECT: "mentionable select",
    CHANNEL_SELECT: "channel select",
    FILE_UPLOAD: "file upload",
    RADIO_GROUP: "radio group",
    CHECKBOX_GROUP: "checkbox group",
    CHECKBOX: "checkbox",
}

# Discord's limits on a modal, each from discord-api-docs as named above.
MODAL_LIMITS: dict[str, int] = {
    "custom_id": 100,  # every custom_id: 1-100 characters ("Anatomy of a Component")
    "title": 45,  # interaction response, modal: "title of the popup modal, max 45 characters"
    "components": 5,  # modal: "between 1 and 5" components
    "label": 45,  # Label: "The label text; max 45 characters" (also a Text Input's deprecated label)
    "description": 100,  # Label: "max 100 characters"
    "text_length": 4000,  # Text Input: min_length 0-4000, max_length 1-4000, value max 4000
    "placeholder": 100,  # Text Input: placeholder max 100 characters
    "select_placeholder": 150,  # selects: placeholder max 150 characters
    "select_options": 25,  # String Select: max 25 options; min/max_values up to 25
    "upload_values": 10,  # File Upload: min_values 0-10, max_values 1-10
    "radio_options_min": 2,  # Radio Group: options min 2, max 10
    "group_options": 10,  # Radio Group and Checkbox Group: max 10 options
    "option_text": 100,  # an option's label, value and description: max 100 characters
}


def form_error(path: str, code: str, message: str) -> ApiError:
    """400/50035 Invalid Form Body with one error at ``path`` (``data.components.0.label``), nested as
    Discord nests it: ``{"data": {"components": {"0": {"label": {"_errors": [...]}}}}}``."""
    errors: Json = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path.split(".")):
        errors = {key: errors}
    return ApiError(400, 50035, "Invalid Form Body", errors)


def _too_long(path: str, limit: int) -> ApiError:
    return form_error(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _required(path: str) -> ApiError:
    return form_error(path, "BASE_TYPE_REQUIRED", "This field is required")


def _text(value: Any, path: str, limit: int, *, required: bool) -> None:
    if value is None:
        if required:
            raise _required(path)
        return
    if not isinstance(value, str):
        raise form_error(path, "BASE_TYPE_STRING", "Must be a string.")
    if required and not value:
        raise form_error(path, "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {limit} in length.")
    if len(value) > limit:
        raise _too_long(path, limit)


def _number(component: Json, key: str, path: str, low: int, high: int) -> int | None:
    value = component.get(key)
    if value is None:  # discord.py sends null for an unset min_values / max_values
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise form_error(f"{path}.{key}", "NUMBER_TYPE_COERCE", f"Value {value!r} is not int.")
    if value < low:
        raise form_error(
            f"{path}.{key}", "NUMBER_TYPE_MIN", f"int value should be greater than or equal to {low}."
        )
    if value > high:
        raise form_error(
            f"{path}.{key}", "NUMBER_TYPE_MAX", f"int value should be less than or equal to {high}."
        )
    return value


def _options(component: Json, path: str, low: int, high: int) -> list[Json]:
    options = component.get("options")
    if not isinstance(options, list) or not low <= len(options) <= high:
        raise form_error(
            f"{path}.options", "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length."
        )
    values: set[str] = set()
    limit = MODAL_LIMITS["option_text"]
    for index, option in enumerate(options):
        where = f"{path}.options.{index}"
        if not isinstance(option, dict):
            raise form_error(where, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        _text(option.get("label"), f"{where}.label", limit, required=True)
        _text(option.get("value"), f"{where}.value", limit, required=True)
        _text(option.get("description"), f"{where}.description", limit, required=False)
        if option["value"] in values:
            raise form_error(
                f"{where}.value", "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED", "Option values must be unique"
            )
        values.add(option["value"])
    return options


def _counts(component: Json, path: str, high: int, *, options: int | None = None) -> None:
    """min_values / max_values within 0-high and 1-high, min <= max, and a required input at least 1."""
    low_value = _number(component, "min_values", path, 0, high)
    high_value = _number(component, "max_values", path, 1, high)
    if low_value is not None and high_value is not None and low_value > high_value:
        raise form_error(
            f"{path}.min_values",
            "BASE_TYPE_BAD_VALUE",
            "min_values must be less than or equal to max_values.",
        )
    if options is not None and high_value is not None and high_value > options:
        raise form_error(
            f"{path}.max_values",
            "BASE_TYPE_BAD_VALUE",
            f"max_values must be less than or equal to the number of options ({options}).",
        )
    # reference.mdx: "min_values must be either omitted or at least 1 if required is omitted or true".
    if low_value == 0 and component.get("required", True):
        raise form_error(
            f"{path}.min_values",
            "BASE_TYPE_BAD_VALUE",
            "min_values must be at least 1 when required is true.",
        )


def _validate_input(component: Any, path: str, custom_ids: dict[str, str], *, in_row: bool) -> None:
    if not isinstance(component, dict):
        raise _required(path)
    kind = component.get("type")
    allowed = (TEXT_INPUT,) if in_row else LABEL_CHILDREN
    if kind not in allowed:
        choices = ", ".join(str(k) for k in allowed)
        raise form_error(
            f"{path}.type", "UNION_TYPE_CHOICES", f'Value of field "type" must be one of ({choices}).'
        )
    _text(component.get("custom_id"), f"{path}.custom_id", MODAL_LIMITS["custom_id"], required=True)
    custom_id = component["custom_id"]
    if custom_id in custom_ids:
        raise form_error(
            f"{path}.custom_id", "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
        )
    custom_ids[custom_id] = path
    if component.get("disabled"):  # reference.mdx: "Using disabled in a modal will result in an error"
        raise form_error(f"{path}.disabled", "BASE_TYPE_BAD_VALUE", "Modal components cannot be disabled.")
    if kind == TEXT_INPUT:
        length = MODAL_LIMITS["text_length"]
        if component.get("style") not in (1, 2):
            raise form_error(f"{path}.style", "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")
        # The deprecated label on the input itself: required in an action row, unused in a Label.
        _text(component.get("label"), f"{path}.label", MODAL_LIMITS["label"], required=in_row)
        low = _number(component, "min_length", path, 0, length)
        high = _number(component, "max_length", path, 1, length)
        if low is not None and high is not None and low > high:
            raise form_error(
                f"{path}.min_length", "BASE_TYPE_BAD_VALUE", "min_length must not exceed max_length."
            )
        _text(component.get("value"), f"{path}.value", length, required=False)
        _text(
            component.get("placeholder"), f"{path}.placeholder", MODAL_LIMITS["placeholder"], required=False
        )
    elif kind in SELECTS:
        limit = MODAL_LIMITS["select_options"]
        _text(
            component.get("placeholder"),
            f"{path}.placeholder",
            MODAL_LIMITS["select_placeholder"],
            required=False,
        )
        count = len(_options(component, path, 1, limit)) if kind == STRING_SELECT else None
        _counts(component, path, limit, options=count)
    elif kind == FILE_UPLOAD:
        _counts(component, path, MODAL_LIMITS["upload_values"])
    elif kind == RADIO_GROUP:
        _options(component, path, MODAL_LIMITS["radio_options_min"], MODAL_LIMITS["group_options"])
    elif kind == CHECKBOX_GROUP:
        count = len(_options(component, path, 1, MODAL_LIMITS["group_options"]))
        _counts(component, path, MODAL_LIMITS["group_options"], options=count)
    elif kind == CHECKBOX and not isinstance(component.get("default", False), bool):
        raise form_error(f"{path}.default", "BASE_TYPE_BOOLEAN", "Must be either true or false.")


def validate_modal(data: Any) -> None:
    """Refuse a modal callback's ``data`` as Discord does (ApiError 400/50035 with the field's path)."""
    if not isinstance(data, dict):
        raise _required("data")
    _text(data.get("custom_id"), "data.custom_id", MODAL_LIMITS["custom_id"], required=True)
    _text(data.get("title"), "data.title", MODAL_LIMITS["title"], required=True)
    components = data.get("components")
    if not isinstance(components, list) or not 1 <= len(components) <= MODAL_LIMITS["components"]:
        raise form_error(
            "data.components",
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between 1 and {MODAL_LIMITS['components']} in length.",
        )
    custom_ids: dict[str, str] = {}
    for index, top in enumerate(components):
        path = f"data.components.{index}"
        kind = top.get("type") if isinstance(top, dict) else None
        if kind not in TOP_LEVEL:
            choices = ", ".join(str(k) for k in TOP_LEVEL)
            raise form_error(
                f"{path}.type", "UNION_TYPE_CHOICES", f'Value of field "type" must be one of ({choices}).'
            )
        if kind == LABEL:
            _text(top.get("label"), f"{path}.label", MODAL_LIMITS["label"], required=True)
            _text(top.get("description"), f"{path}.description", MODAL_LIMITS["description"], required=False)
            _validate_input(top.get("component"), f"{path}.component", custom_ids, in_row=False)
        elif kind == ACTION_ROW:
            row = top.get("components")
            if not isinstance(row, list) or len(row) != 1:
                raise form_error(
                    f"{path}.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 1 in length."
                )
            _validate_input(row[0], f"{path}.components.0", custom_ids, in_row=True)
        else:
            _text(top.get("content"), f"{path}.content", MODAL_LIMITS["text_length"], required=True)


# --- the fields a member fills in -----------------------------------------------------------------


@dataclass(frozen=True)
class FormField:
    """One input of a modal as a member sees it: what it is, what it is called, what it accepts.

    ``options`` are ``(label, value)`` of a string select, radio group or checkbox group; ``defaults``
    the values pre-selected (or a text input's pre-filled ``value``, a checkbox's ``default``).
    ``min_values`` / ``max_values`` are Discord's defaults where the bot sent none.
    """

    kind: int
    custom_id: str
    label: str
    component: Json
    description: str | None = None
    required: bool = True
    options: tuple[tuple[str, str], ...] = ()
    defaults: tuple[str, ...] = ()
    min_values: int = 1
    max_values: int = 1

    @property
    def kind_name(self) -> str:
        """``"text input"``, ``"user select"``, ``"checkbox group"``..."""
        return KIND_NAMES.get(self.kind, f"component {self.kind}")

    @property
    def name(self) -> str:
        """How errors name the field: its label and custom_id."""
        return f"{self.label!r} ({self.custom_id})" if self.label != self.custom_id else repr(self.label)


@dataclass(frozen=True)
class FormText:
    """A Text Display of a modal: text shown between the inputs."""

    content: str


def _field(component: Json, label: str | None, description: str | None) -> FormField:
    kind = int(component["type"])
    custom_id = str(component["custom_id"])
    options = tuple(
        (str(o.get("label", o["value"])), str(o["value"])) for o in component.get("options") or []
    )
    defaults = tuple(str(o["value"]) for o in component.get("options") or [] if o.get("default"))
    defaults += tuple(str(d["id"]) for d in component.get("default_values") or [] if "id" in d)
    low, high = component.get("min_values"), component.get("max_values")
    required = bool(component.get("required", True))
    if kind == TEXT_INPUT:
        defaults = (str(component["value"]),) if component.get("value") else ()
    elif kind == CHECKBOX:
        defaults = ("true",) if component.get("default") else ()
        required = False  # a checkbox cannot be required (reference.mdx, Checkbox)
    if kind == CHECKBOX_GROUP:
        # Checkbox Group: min_values defaults to 1, max_values to the number of options.
        low, high = 1 if low is None else low, len(options) if high is None else high
    elif kind == RADIO_GROUP:
        low, high = 1, 1
    return FormField(
        kind=kind,
        custom_id=custom_id,
        label=label or component.get("label") or custom_id,
        component=component,
        description=description,
        required=required,
        options=options,
        defaults=defaults,
        min_values=1 if low is None else int(low),
        max_values=1 if high is None else int(high),
    )


def form_items(modal: Json) -> Iterator[FormField | FormText]:
    """The modal's inputs and texts in order (Labels, action rows' text inputs, text displays)."""
    for top in modal.get("components") or []:
        kind = top.get("type")
        if kind == LABEL and isinstance(top.get("component"), dict):
            yield _field(top["component"], top.get("label"), top.get("description"))
        elif kind == ACTION_ROW:
            for component in top.get("components") or []:
                if component.get("custom_id"):
                    yield _field(component, None, None)
        elif kind == TEXT_DISPLAY:
            yield FormText(str(top.get("content", "")))


def form_fields(modal: Json) -> list[FormField]:
    """The modal's inputs, in order."""
    return [item for item in form_items(modal) if isinstance(item, FormField)]


def field_keys(fields: Sequence[FormField]) -> list[str]:
    """How a submission may name each field (its label, else its custom_id), for error messages."""
    return [field.label for field in fields]
