"""Discord's limits the sandbox enforces on REST bodies, in one table, and the configurable command limits.

:data:`LIMITS` lists every limit the validators (``validation``, ``validation_commands``) apply: its
number, what it applies to, the error path Discord reports it under (``N`` and ``M`` stand for list
indexes) and Discord's error code. A body breaking one is refused as Discord refuses it: 400 with
``{"code": 50035, "message": "Invalid Form Body", "errors": {...}}``, the errors nested by path, several
at once. The command counts (30032) and the daily creates (30034) are answered with their own codes.

Sources: Discord's API documentation (discord/discord-api-docs: ``docs/resources/message`` "Create
Message" and the embed limits table, ``docs/components/reference.mdx``, ``docs/interactions/
application-commands.mdx`` "Application Command Naming" and "Registering a Command",
``receiving-and-responding`` for modals and autocomplete) and, for error codes the documentation does
not list, Discord's answers as bots and libraries have logged them (e.g. ``In embeds.0.fields: Must be
25 or fewer in length.``, ``In components.0.components.5: The specified component exceeds the maximum
width``, ``400 Bad Request (error code: 30032): Maximum number of application commands reached (100)``).

The application-command numbers can change per sandbox (:class:`CommandLimits`, ``Sandbox(command_
limits=...)`` or ``sandbox.command_limits.daily_creates = 3``), so tests reach them quickly. The
daily creates limit is bookkeeping with an injectable clock, like ``identify_limits``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .model import Json


@dataclass(frozen=True)
class Limit:
    """One limit: ``name`` (stable, for tests and docs), ``value``, what it ``applies_to``, the error
    ``path`` Discord reports it under and Discord's error ``code``."""

    name: str
    value: int
    applies_to: str
    path: str
    code: str


# Where a limit applies: a bot's message (create, edit, webhook follow-up, interaction response).
MESSAGE = "bot messages: create, edit, interaction responses and follow-ups"
CV2 = "messages with the IS_COMPONENTS_V2 flag (1 << 15)"
COMMANDS = "application commands: PUT applications/{id}[/guilds/{id}]/commands"

LIMITS: tuple[Limit, ...] = (
    # Messages (docs/resources/message: content up to 2000 characters, up to 10 embeds).
    Limit("content", 2000, MESSAGE, "content", "BASE_TYPE_MAX_LENGTH"),
    Limit("embeds", 10, MESSAGE, "embeds", "BASE_TYPE_MAX_LENGTH"),
    # Embeds (docs/resources/message, "Embed Limits").
    Limit("embed.title", 256, MESSAGE, "embeds.N.title", "BASE_TYPE_MAX_LENGTH"),
    Limit("embed.description", 4096, MESSAGE, "embeds.N.description", "BASE_TYPE_MAX_LENGTH"),
    Limit("embed.fields", 25, MESSAGE, "embeds.N.fields", "BASE_TYPE_MAX_LENGTH"),
    Limit("embed.field.name", 256, MESSAGE, "embeds.N.fields.M.name", "BASE_TYPE_MAX_LENGTH"),
    Limit("embed.field.value", 1024, MESSAGE, "embeds.N.fields.M.value", "BASE_TYPE_MAX_LENGTH"),
    Limit("embed.footer.text", 2048, MESSAGE, "embeds.N.footer.text", "BASE_TYPE_MAX_LENGTH"),
    Limit("embed.author.name", 256, MESSAGE, "embeds.N.author.name", "BASE_TYPE_MAX_LENGTH"),
    # Title, description, field names and values, footer text and author name of all embeds together.
    Limit("embeds.total", 6000, MESSAGE, "embeds", "MAX_EMBED_SIZE_EXCEEDED"),
    # Components (docs/components/reference.mdx: Action Row, Button, String Select).
    Limit("components.rows", 5, MESSAGE + " without IS_COMPONENTS_V2", "components", "BASE_TYPE_MAX_LENGTH"),
    Limit("action_row.buttons", 5, MESSAGE, "components.N.components.M", "COMPONENT_LAYOUT_WIDTH_EXCEEDED"),
    Limit("action_row.select", 1, MESSAGE, "components.N.components.M", "COMPONENT_LAYOUT_WIDTH_EXCEEDED"),
    Limit("component.custom_id", 100, MESSAGE, "components.N...custom_id", "BASE_TYPE_MAX_LENGTH"),
    Limit("button.label", 80, MESSAGE, "components.N.components.M.label", "BASE_TYPE_MAX_LENGTH"),
    Limit("select.options", 25, MESSAGE, "components.N.components.M.options", "BASE_TYPE_BAD_LENGTH"),
    Limit(
        "select.placeholder", 150, MESSAGE, "components.N.components.M.placeholder", "BASE_TYPE_MAX_LENGTH"
    ),
    Limit("select.min_values", 25, MESSAGE, "components.N.components.M.min_values", "NUMBER_TYPE_MAX"),
    Limit("select.max_values", 25, MESSAGE, "components.N.components.M.max_values", "NUMBER_TYPE_MAX"),
    # Components V2 (docs/components/reference.mdx: "content and embeds fields will no longer work",
    # "Messages allow up to 40 total components"; 4000 characters of text displays per message).
    Limit("cv2.content", 0, CV2, "content", "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2"),
    Limit("cv2.embeds", 0, CV2, "embeds", "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2"),
    Limit("cv2.components", 40, CV2, "components", "COMPONENT_COUNT_EXCEEDED"),
    Limit("cv2.text", 4000, CV2, "components", "COMPONENT_TEXT_LENGTH_EXCEEDED"),
    # Allowed mentions (docs/resources/message, "Allowed Mentions Object").
    Limit(
        "allowed_mentions.parse", 0, MESSAGE, "allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"
    ),
    Limit("allowed_mentions.users", 100, MESSAGE, "allowed_mentions.users", "BASE_TYPE_MAX_LENGTH"),
    Limit("allowed_mentions.roles", 100, MESSAGE, "allowed_mentions.roles", "BASE_TYPE_MAX_LENGTH"),
    # Interaction callbacks (receiving-and-responding: modal title max 45, 1-5 components; autocomplete
    # max 25 choices); message callbacks follow the message rules under "data.". Modals are checked,
    # with these numbers, by forms.validate_modal (which also checks each modal component).
    Limit("modal.title", 45, "modal callbacks (type 9)", "data.title", "BASE_TYPE_MAX_LENGTH"),
    Limit("modal.custom_id", 100, "modal callbacks (type 9)", "data.custom_id", "BASE_TYPE_MAX_LENGTH"),
    Limit("modal.components", 5, "modal callbacks (type 9)", "data.components", "BASE_TYPE_BAD_LENGTH"),
    Limit(
        "autocomplete.choices", 25, "autocomplete callbacks (type 8)", "data.choices", "BASE_TYPE_MAX_LENGTH"
    ),
    # Application commands (application-commands.mdx).
    Limit("command.name", 32, COMMANDS, "N.name", "APPLICATION_COMMAND_INVALID_NAME"),
    Limit("command.description", 100, COMMANDS, "N.description", "BASE_TYPE_BAD_LENGTH"),
    Limit("command.options", 25, COMMANDS, "N.options", "BASE_TYPE_MAX_LENGTH"),
    Limit("option.name", 32, COMMANDS, "N.options.M.name", "APPLICATION_COMMAND_INVALID_NAME"),
    Limit("option.description", 100, COMMANDS, "N.options.M.description", "BASE_TYPE_BAD_LENGTH"),
    Limit("option.choices", 25, COMMANDS, "N.options.M.choices", "BASE_TYPE_MAX_LENGTH"),
    Limit("choice.name", 100, COMMANDS, "N.options.M.choices.K.name", "BASE_TYPE_BAD_LENGTH"),
    Limit("option.nesting", 0, COMMANDS, "N.options", "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID"),
    Limit(
        "option.required_first", 0, COMMANDS, "N.options.M", "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID"
    ),
    Limit("command.unique_names", 0, COMMANDS, "N", "APPLICATION_COMMANDS_DUPLICATE_NAME"),
    # Per scope (global, or one guild); configurable (CommandLimits). 30032 is a 400, 30034 a 429.
    Limit("commands.chat_input", 100, COMMANDS, "", "30032"),
    Limit("commands.user", 15, COMMANDS, "", "30032"),
    Limit("commands.message", 15, COMMANDS, "", "30032"),
    Limit("commands.daily_creates", 200, COMMANDS, "", "30034"),
    # Members' messages injected by the Python and control APIs (without Nitro, as in the demo world).
    Limit(
        "member.content", 2000, "Sandbox.send_message, POST /_sandbox/messages", "content", "ValueError/400"
    ),
)

LIMIT_BY_NAME: dict[str, Limit] = {limit.name: limit for limit in LIMITS}


def limit(name: str) -> int:
    """The value of the limit called ``name`` in :data:`LIMITS`."""
    return LIMIT_BY_NAME[name].value


# Discord's command counts per scope and type (application-commands.mdx, "Registering a Command":
# 100 CHAT_INPUT, 15 USER, 15 MESSAGE, 1 PRIMARY_ENTRY_POINT; discord.py 2.7 still refuses more than
# 5 context menus before sending, an older limit) and "200 application command creates per day, per
# guild"; bulk overwrites count only commands that did not exist yet.
PRIMARY_ENTRY_POINT_LIMIT = 1
DAILY_RESET_AFTER = 86_400.0


def _whole(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}, not {value!r}")
    return value


@dataclass
class _CreateWindow:
    used: int = 0
    started_at: float | None = None


class CommandLimits:
    """The application-command limits of one sandbox: counts per scope and type, and daily creates.

    Every setting may change at any time. Changing ``daily_creates`` or ``daily_reset_after`` starts
    every scope's window afresh.
    """

    def __init__(
        self,
        *,
        chat_input: int = limit("commands.chat_input"),
        user: int = limit("commands.user"),
        message: int = limit("commands.message"),
        daily_creates: int = limit("commands.daily_creates"),
        daily_reset_after: float = DAILY_RESET_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._windows: dict[int | None, _CreateWindow] = {}  # scope (guild id, None: global) -> window
        self.chat_input = chat_input
        self.user = user
        self.message = message
        self._daily_creates = _whole("daily_creates", daily_creates, 0)
        self._reset_after = DAILY_RESET_AFTER
        self.daily_reset_after = daily_reset_after

    @property
    def chat_input(self) -> int:
        """CHAT_INPUT (slash) commands per scope (Discord: 100)."""
        return self._chat_input

    @chat_input.setter
    def chat_input(self, value: int) -> None:
        self._chat_input = _whole("chat_input", value, 0)

    @property
    def user(self) -> int:
        """USER context-menu commands per scope (Discord: 15)."""
        return self._user

    @user.setter
    def user(self, value: int) -> None:
        self._user = _whole("user", value, 0)

    @property
    def message(self) -> int:
        """MESSAGE context-menu commands per scope (Discord: 15)."""
        return self._message

    @message.setter
    def message(self, value: int) -> None:
        self._message = _whole("message", value, 0)

    @property
    def daily_creates(self) -> int:
        """Commands that may be created per scope per :attr:`daily_reset_after` seconds (Discord: 200)."""
        return self._daily_creates

    @daily_creates.setter
    def daily_creates(self, value: int) -> None:
        self._daily_creates = _whole("daily_creates", value, 0)
        self._windows.clear()

    @property
    def daily_reset_after(self) -> float:
        """Seconds from a scope's first create until its creates are all available again (a day)."""
        return self._reset_after

    @daily_reset_after.setter
    def daily_reset_after(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"daily_reset_after must be a number of seconds above 0, not {value!r}")
        self._reset_after = float(value)
        self._windows.clear()

    def per_type(self) -> dict[int, int]:
        """The most commands of each type (1 CHAT_INPUT, 2 USER, 3 MESSAGE, 4 PRIMARY_ENTRY_POINT)."""
        return {1: self.chat_input, 2: self.user, 3: self.message, 4: PRIMARY_ENTRY_POINT_LIMIT}

    def _window(self, scope: int | None) -> _CreateWindow:
        window = self._windows.setdefault(scope, _CreateWindow())
        if window.started_at is not None and self._clock() >= window.started_at + self._reset_after:
            window.used, window.started_at = 0, None
        return window

    def remaining_creates(self, scope: int | None) -> int:
        """Creates ``scope`` (a guild id, or None for global commands) has left in its window."""
        return max(self._daily_creates - self._window(scope).used, 0)

    def admit_creates(self, scope: int | None, count: int) -> float | None:
        """Count ``count`` new commands in ``scope``; if that is more than remain, count none and return
        the seconds until the window resets (Discord's ``retry_after``)."""
        if count <= 0:
            return None
        now = self._clock()
        window = self._window(scope)
        if window.used + count > self._daily_creates:
            started = now if window.started_at is None else window.started_at
            return max(started + self._reset_after - now, 0.0)
        if window.started_at is None:
            window.started_at = now
        window.used += count
        return None

    def settings(self) -> Json:
        """The current settings, as the control API would show them."""
        return {
            "chat_input": self.chat_input,
            "user": self.user,
            "message": self.message,
            "daily_creates": self._daily_creates,
            "daily_reset_after": self._reset_after,
        }
