"""Discord REST URLs as route templates: ``POST /channels/{id}/messages``, a bounded set of labels.

The REST counters (``bot.health.rest``, Prometheus' ``route`` label) see each request as aiohttp sends it,
a full URL with ids, tokens and emoji in it. Counting by URL would grow one counter per channel, and an
interaction or webhook token in a label would leak a credential, so each path is reduced to its template:
ids become ``{id}``, the segment after ``webhooks/{id}`` or ``interactions/{id}`` becomes ``{token}``,
after ``reactions`` ``{emoji}``, after ``invites`` or ``templates`` ``{code}``; any other segment that is
not a short lower-case word (Discord's path words: ``messages``, ``@me``, ``bulk-delete``...) becomes
``{param}``. :class:`RouteLabels` caps the number of distinct templates (past it: ``other``).
"""

from __future__ import annotations

import re

MAX_ROUTES = 200  # distinct templates counted; Discord's API has fewer routes than this that a bot uses
OTHER_ROUTE = "other"

_API_PATH = re.compile(r"/api/v\d+(/[^?#]*)$")
_ID = re.compile(r"^\d{1,20}$")
_WORD = re.compile(r"^(?:@me|@original|[a-z][a-z0-9._-]{0,31})$")
# The segment after these is never a path word (a token, an emoji, an invite or template code).
_OPAQUE_AFTER = {"reactions": "{emoji}", "invites": "{code}", "templates": "{code}"}
_TOKEN_AFTER_ID = frozenset({"webhooks", "interactions"})
MAX_SEGMENTS = 12


def route_template(method: str, path: str) -> str | None:
    """``("POST", "/api/v10/channels/12/messages")`` -> ``"POST /channels/{id}/messages"``.

    ``path`` is the URL's path (any API base: Discord's ``/api/v10`` or a proxy's ``/x/api/v10``); None
    when it is not a REST call (the gateway's websocket, the CDN).
    """
    match = _API_PATH.search(path)
    if match is None:
        return None
    segments = [segment for segment in match.group(1).split("/") if segment]
    if len(segments) > MAX_SEGMENTS:
        return f"{method.upper()} {OTHER_ROUTE}"
    template: list[str] = []
    for index, segment in enumerate(segments):
        previous = segments[index - 1] if index >= 1 else ""
        before_previous = segments[index - 2] if index >= 2 else ""
        if previous in _OPAQUE_AFTER:
            template.append(_OPAQUE_AFTER[previous])
        elif before_previous in _TOKEN_AFTER_ID and _ID.match(previous):
            template.append("{token}")
        elif _ID.match(segment):
            template.append("{id}")
        elif _WORD.match(segment):
            template.append(segment)
        else:
            template.append("{param}")
    return f"{method.upper()} /" + "/".join(template)


class RouteLabels:
    """Hands out route templates as labels, at most :data:`MAX_ROUTES` different ones (then ``other``)."""

    def __init__(self, limit: int = MAX_ROUTES) -> None:
        self.limit = limit
        self._known: set[str] = set()

    def label(self, method: str, path: str) -> str | None:
        """The label for a request (None: not a REST call)."""
        template = route_template(method, path)
        if template is None or template in self._known:
            return template
        if len(self._known) >= self.limit:
            return OTHER_ROUTE
        self._known.add(template)
        return template
