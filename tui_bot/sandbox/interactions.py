"""Interactions: slash commands, autocomplete, buttons, selects and modals against a real bot.

The sandbox plays a member's Discord client and Discord's side of the answer. :class:`InteractionApi`
(``Sandbox.interactions``) puts three parts together:

* ``interaction_model``: the types, the per-interaction records and the store they live in, and what
  tests see (:class:`InteractionHandle`, :class:`InteractionResponse`);
* ``interaction_sender``: the member's side, building INTERACTION_CREATE and sending it to the bot;
* ``interaction_routes`` (with ``interaction_messages``): the bot's side, the callback and webhook
  routes a bot answers with, and the messages they make.

Non-ephemeral messages are real channel messages (stored, dispatched, in history); ephemeral ones
(flag 64) are kept in :attr:`InteractionApi.ephemeral`, outside the channel, and never dispatched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from .events import EventLog
from .gateway import GatewayHub
from .interaction_model import (
    CallbackType,
    InteractionHandle,
    InteractionRecord,
    InteractionResponse,
    InteractionStore,
    InteractionType,
)
from .interaction_refs import InteractionError
from .interaction_routes import InteractionRoutes
from .interaction_sender import InteractionSender
from .rest import RestApi
from .world import Json, Message, World

__all__ = [
    "CallbackType",
    "InteractionApi",
    "InteractionError",
    "InteractionHandle",
    "InteractionResponse",
    "InteractionType",
]


class InteractionApi:
    """Sends interactions to bots and serves the callback and webhook routes they answer with."""

    def __init__(
        self, world: World, events: EventLog, hub: GatewayHub, rest: RestApi, base_url: Callable[[], str]
    ) -> None:
        self.world = world
        self.events = events
        self.hub = hub
        self.rest = rest
        self.store = InteractionStore(world, events)
        self.sender = InteractionSender(self.store, hub, base_url)
        self.routes = InteractionRoutes(self.store, hub, rest)

    def install(self, app: web.Application) -> None:
        """Add the callback and webhook routes (through ``RestApi.extra_routes``: before the catch-all)."""
        self.routes.install(app)

    # -- settings and state (kept in the store, shared by both sides) --

    @property
    def response_deadline(self) -> float | None:
        """Seconds a bot has for its first callback (Discord: 3.0), else 404/10062; None: no limit."""
        return self.store.response_deadline

    @response_deadline.setter
    def response_deadline(self, seconds: float | None) -> None:
        self.store.response_deadline = seconds

    @property
    def token_lifetime(self) -> float:
        """Seconds an interaction token works for callbacks and follow-ups (15 minutes, as on Discord)."""
        return self.store.token_lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: float) -> None:
        self.store.token_lifetime = seconds

    @property
    def records(self) -> dict[int, InteractionRecord]:
        """The interactions sent and not yet expired, by id."""
        return self.store.records

    @property
    def ephemeral(self) -> dict[int, Message]:
        """Ephemeral messages by id (never in channel history)."""
        return self.store.ephemeral

    def find_message(self, message_id: int) -> Message | None:
        """A message by id: an ephemeral one, or one in any channel."""
        return self.store.find_message(message_id)

    def handle(self, interaction_id: int) -> InteractionHandle:
        """A handle on an interaction sent earlier (e.g. one seen in the event log)."""
        return self.store.handle(interaction_id)

    # -- the member's side --

    async def invoke_slash(
        self, author: Any, channel: Any, command: str, *, guild: Any = None, options: Mapping[str, Any]
    ) -> InteractionHandle:
        """Run ``/command`` (``"config set"`` for subcommands) as ``author`` in ``channel``."""
        return await self.sender.invoke_slash(author, channel, command, guild=guild, options=options)

    async def autocomplete(
        self,
        author: Any,
        channel: Any,
        command: str,
        focused: str,
        *,
        options: Mapping[str, Any],
        timeout: float = 5.0,  # noqa: ASYNC109 - test API
    ) -> list[Json]:
        """The choices the bot offers while ``author`` types ``options[focused]`` into ``/command``."""
        return await self.sender.autocomplete(
            author, channel, command, focused, options=options, timeout=timeout
        )

    async def click_button(
        self, author: Any, message: Any, custom_id: str | None = None, *, label: str | None = None
    ) -> InteractionHandle:
        """Click a button on ``message`` (a Message or its id) by ``custom_id`` or ``label``."""
        return await self.sender.click_button(author, message, custom_id, label=label)

    async def select(
        self, author: Any, message: Any, custom_id: str | None, values: Sequence[Any]
    ) -> InteractionHandle:
        """Pick ``values`` in a select menu on ``message`` (``custom_id=None``: its only select)."""
        return await self.sender.select(author, message, custom_id, values)

    async def submit_modal(self, author: Any, opened_by: Any, values: Mapping[str, Any]) -> InteractionHandle:
        """Submit the modal a bot answered ``opened_by`` (a handle or its response) with."""
        return await self.sender.submit_modal(author, opened_by, values)
