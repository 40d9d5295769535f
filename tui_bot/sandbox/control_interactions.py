"""The control API's interaction endpoints: a member uses the bot's slash commands and components.

``POST /_sandbox/interactions/{slash,button,select,modal,autocomplete}`` forward to the ``Sandbox``'s
Python API (``invoke_slash``, ``click_button``, ``select``, ``submit_modal``, ``autocomplete``); see
``control`` for the request and answer shapes.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

from aiohttp import web

from .control_http import (
    MAX_WAIT,
    ControlError,
    ControlRoute,
    jsonable,
    message_json,
    message_ref,
    number,
    read_object,
    required,
    respond,
)
from .interaction_model import InteractionHandle
from .world import Json

if TYPE_CHECKING:
    from .server import Sandbox


class InteractionControls:
    """The ``/_sandbox/interactions/...`` routes for one sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.world = sandbox.world
        # Interactions sent through this API, for modal submissions that name them by id.
        self._handles: dict[int, InteractionHandle] = {}

    def routes(self) -> list[ControlRoute]:
        """The endpoints, in the order the index lists them."""
        return [
            ControlRoute("POST", "/interactions/slash", self.slash),
            ControlRoute("POST", "/interactions/button", self.button),
            ControlRoute("POST", "/interactions/select", self.select),
            ControlRoute("POST", "/interactions/modal", self.modal),
            ControlRoute("POST", "/interactions/autocomplete", self.autocomplete),
        ]

    async def _answer(self, handle: InteractionHandle, body: Json) -> web.Response:
        self._handles[handle.id] = handle
        wait = number(body, "wait", 0.0, 0.0, MAX_WAIT, integer=False)
        response: Json | None = None
        if wait > 0:
            try:
                answered = await handle.response(timeout=wait)
            except TimeoutError:
                answered = None
            if answered is not None:
                message = answered.message
                response = {
                    "type": int(answered.type),
                    "data": jsonable(answered.data),
                    "latency": answered.latency,
                    "message": None if message is None else message_json(self.world, message),
                }
        interaction = {
            "id": str(handle.id),
            "token": handle.token,
            "type": int(handle.type),
            "name": handle.name,
        }
        return respond({"interaction": interaction, "response": response})

    async def slash(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise ControlError(400, '"options" must be an object of option name to value')
        handle = await self.sandbox.invoke_slash(
            required(body, "author", '"alice"'),
            required(body, "channel", '"general"'),
            required(body, "command", '"ping"'),
            guild=body.get("guild"),
            options=options,
        )
        return await self._answer(handle, body)

    async def autocomplete(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        choices = await self.sandbox.autocomplete(
            required(body, "author", '"alice"'),
            required(body, "channel", '"general"'),
            required(body, "command", '"search"'),
            required(body, "focused", '"query"'),
            options=body.get("options") or {},
        )
        return respond({"choices": jsonable(choices)})

    async def button(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        author = required(body, "author", '"alice"')
        message = message_ref(self.world, body)
        handle = await self.sandbox.click_button(
            author, message, body.get("custom_id"), label=body.get("label")
        )
        return await self._answer(handle, body)

    async def select(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        author = required(body, "author", '"alice"')
        values = required(body, "values", '["a", "b"]')
        if not isinstance(values, list):
            raise ControlError(400, '"values" must be a list, e.g. "values": ["red"]')
        handle = await self.sandbox.select(
            author, message_ref(self.world, body), body.get("custom_id"), values
        )
        return await self._answer(handle, body)

    async def modal(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        author = required(body, "author", '"alice"')
        raw_id = required(body, "interaction_id", '"1191..."')
        values = required(body, "values", '{"name": "Alice"}')
        if not isinstance(values, dict):
            raise ControlError(
                400,
                '"values" must be an object of field custom_id (or label) to value: text, a list of '
                'option values or names, true/false, or files as {"filename", "text" or "base64"}',
            )
        try:
            interaction_id = int(raw_id)
        except (TypeError, ValueError):
            raise ControlError(400, f'"interaction_id" must be an interaction id, got {raw_id!r}') from None
        # An interaction sent some other way (the Python API, the console) is named by its id alone.
        opened_by = self._handles.get(interaction_id) or SimpleNamespace(id=interaction_id)
        handle = await self.sandbox.submit_modal(author, opened_by, values)
        return await self._answer(handle, body)
