"""The bot's way out to Discord as a redaction boundary: no secret is sent in a request body.

discord.py sends everything over two doors, and both are wrapped here, once per process:

- ``HTTPClient.request``: messages sent and edited (``ctx.send``, ``channel.send``, ``message.edit``),
  threads, DMs, and every other REST call of the bot;
- ``AsyncWebhookAdapter.request``: interaction responses and follow-ups (``interaction.response``,
  ``interaction.followup``, ``ctx.send`` in a slash invocation) and webhooks; these do not go through
  the bot's ``HTTPClient``, so wrapping that alone would miss every slash command answer.

The JSON body (content, embeds with their title, description, fields, footer and author, component
labels, modal texts, everything), the ``payload_json`` of multipart requests (messages with files) and
the audit-log reason pass :data:`~tui_bot.logs.redaction.PROCESS_REDACTOR`. The bot's own token is
added to it at its first request, so a token that came from anywhere (.env, the sandbox, a test) is
known. The cost is one walk over the body's strings with a substring check each: small, and the same
for every message. File contents and the URL are sent as they are.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from discord.http import HTTPClient
from discord.webhook.async_ import AsyncWebhookAdapter

from tui_bot.logs.redaction import PROCESS_REDACTOR, SecretRedactor

_MARK = "__tui_redacting__"

Request = Callable[..., Coroutine[Any, Any, Any]]


def _redact_payload_json(text: str, redactor: SecretRedactor) -> str:
    # Parsed rather than searched as text: a secret holding a quote or a backslash is escaped in JSON.
    try:
        payload = json.loads(text)
    except ValueError:
        return redactor.redact(text)
    clean = redactor.redact_data(payload)
    return text if clean is payload else json.dumps(clean, separators=(",", ":"))


def redact_form(form: Iterable[dict[str, Any]], redactor: SecretRedactor) -> list[dict[str, Any]]:
    """A multipart form (discord.py's list of field dicts) with ``payload_json`` and file names redacted."""
    cleaned = []
    for params in form:
        params = dict(params)
        value = params.get("value")
        if isinstance(value, str):
            if params.get("name") == "payload_json":
                params["value"] = _redact_payload_json(value, redactor)
            else:
                params["value"] = redactor.redact(value)
        if isinstance(params.get("filename"), str):
            params["filename"] = redactor.redact(params["filename"])
        cleaned.append(params)
    return cleaned


def _redacting_http_request(original: Request, redactor: SecretRedactor) -> Request:
    @functools.wraps(original)
    async def request(self: HTTPClient, route: Any, *, form: Any = None, **kwargs: Any) -> Any:
        redactor.add_secret(self.token)  # a no-op after the first request
        if "json" in kwargs:
            kwargs["json"] = redactor.redact_data(kwargs["json"])
        if isinstance(kwargs.get("reason"), str):
            kwargs["reason"] = redactor.redact(kwargs["reason"])
        if form:
            form = redact_form(form, redactor)
        return await original(self, route, form=form, **kwargs)

    setattr(request, _MARK, True)
    return request


def _redacting_webhook_request(original: Request, redactor: SecretRedactor) -> Request:
    @functools.wraps(original)
    async def request(self: AsyncWebhookAdapter, route: Any, session: Any, **kwargs: Any) -> Any:
        redactor.add_secret(kwargs.get("auth_token"))
        if kwargs.get("payload") is not None:
            kwargs["payload"] = redactor.redact_data(kwargs["payload"])
        if kwargs.get("multipart"):
            kwargs["multipart"] = redact_form(kwargs["multipart"], redactor)
        if isinstance(kwargs.get("reason"), str):
            kwargs["reason"] = redactor.redact(kwargs["reason"])
        return await original(self, route, session, **kwargs)

    setattr(request, _MARK, True)
    return request


def install_http_redaction(redactor: SecretRedactor = PROCESS_REDACTOR) -> None:
    """Wrap discord.py's two request methods (idempotent; every bot in the process is covered).

    Class-level on purpose: interaction responses use a process-wide webhook adapter that no bot
    instance owns, and a bot created by any code path (tests, a custom runner) is covered the same.
    """
    if not getattr(HTTPClient.request, _MARK, False):
        # Replacing discord.py's methods is the point (see above); mypy forbids assigning to a method.
        HTTPClient.request = _redacting_http_request(HTTPClient.request, redactor)  # type: ignore[method-assign]
    if not getattr(AsyncWebhookAdapter.request, _MARK, False):
        AsyncWebhookAdapter.request = _redacting_webhook_request(  # type: ignore[method-assign]
            AsyncWebhookAdapter.request, redactor
        )
