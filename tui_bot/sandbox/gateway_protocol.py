"""Discord's gateway protocol (v10, JSON) as data: opcodes, close codes, intents and the payloads built
from the world (READY, presences, GUILD_MEMBERS_CHUNK).

No sockets here: ``gateway_session`` sends frames and ``gateway`` (the hub) runs connections.
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any

from aiohttp import web

from .payloads import member_payload, user_payload
from .world import Guild, Json, User, World

GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
MEMBERS_PER_CHUNK = 1000  # GUILD_MEMBERS_CHUNK size, as on Discord
TRACE = '["tui-bot-sandbox",{"micros":0}]'


class Op(IntEnum):
    """Gateway opcodes."""

    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    VOICE_STATE_UPDATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


class CloseCode(IntEnum):
    """Gateway close codes the sandbox uses (discord.py treats 4004 and 4010-4014 as fatal)."""

    UNKNOWN_ERROR = 4000
    DECODE_ERROR = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    RATE_LIMITED = 4008  # over the send limit (gateway_guard); resumable, as on Discord
    SESSION_TIMED_OUT = 4009  # missed heartbeats (gateway_guard); the sandbox keeps it resumable
    INVALID_SHARD = 4010
    INVALID_INTENTS = 4013
    DISALLOWED_INTENTS = 4014


CLOSE_REASONS = {
    CloseCode.DECODE_ERROR: "Decode error.",
    CloseCode.NOT_AUTHENTICATED: "Not authenticated.",
    CloseCode.AUTHENTICATION_FAILED: "Authentication failed.",
    CloseCode.ALREADY_AUTHENTICATED: "Already authenticated.",
    CloseCode.RATE_LIMITED: "Rate limited.",
    CloseCode.SESSION_TIMED_OUT: "Session timed out.",
    CloseCode.INVALID_SHARD: "Invalid shard.",
    CloseCode.INVALID_INTENTS: "Invalid intent(s).",
    CloseCode.DISALLOWED_INTENTS: "Disallowed intent(s).",
}


def gateway_url_for(request: web.Request) -> str:
    """This server's gateway URL as the client reached it (used for ``url`` and ``resume_gateway_url``)."""
    scheme = "wss" if request.secure else "ws"
    return f"{scheme}://{request.host}/gateway"


def parse_payload(text: str) -> tuple[Op | int, Any] | None:
    """``(op, d)`` from a client's text frame (unknown ops stay ints), or None if it is not a payload."""
    try:
        payload = json.loads(text)
        op = payload["op"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(op, int):
        return None
    return (Op(op) if op in Op._value2member_map_ else op), payload.get("d")


def ready_payload(
    world: World,
    user: User,
    session_id: str,
    guilds: list[Guild],
    *,
    resume_gateway_url: str,
    shard: tuple[int, int] | None,
) -> Json:
    """READY's ``d`` for ``user``: its ``guilds`` unavailable (each GUILD_CREATE follows), ``shard`` if
    the client named one in IDENTIFY."""
    ready: Json = {
        "v": 10,
        "user": user_payload(user, me=True),
        "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
        "session_id": session_id,
        "session_type": "normal",
        "resume_gateway_url": resume_gateway_url,
        "application": {"id": str(world.application.id), "flags": world.application.flags},
        "private_channels": [],
        "relationships": [],
        "presences": [],
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": [],
        "user_settings": {},
        "_trace": [TRACE],
    }
    if shard is not None:
        ready["shard"] = list(shard)
    return ready


def presence_from(d: Json) -> Json:
    """A presence in one shape (``status``, ``activities``, ``since``, ``afk``) from IDENTIFY or op 3.

    IDENTIFY's presence uses the legacy ``game`` key (discord.py gateway.py ``identify()``); op 3 uses
    ``activities``. Normalised so tests and the console read one shape.
    """
    activities = d.get("activities")
    if activities is None:
        activities = [d["game"]] if d.get("game") else []
    return {
        "status": d.get("status") or "online",
        "activities": activities,
        "since": d.get("since"),
        "afk": bool(d.get("afk", False)),
    }


def member_chunks(guild: Guild, d: Json, *, has_members_intent: bool) -> list[Json] | None:
    """GUILD_MEMBERS_CHUNK payloads answering REQUEST_GUILD_MEMBERS ``d`` (op 8), in order.

    By ``user_ids`` needs no intent (discord.py's MemberConverter and fetch paths rely on it), nor does
    a ``query`` prefix; the whole member list (query "" / limit 0) needs GUILD_MEMBERS, and without it
    Discord sends nothing: None.
    """
    members = list(guild.members.values())
    not_found: list[str] = []
    user_ids = d.get("user_ids")
    if user_ids:
        wanted = [int(u) for u in (user_ids if isinstance(user_ids, list) else [user_ids])]
        members = [guild.members[u] for u in wanted if u in guild.members]
        not_found = [str(u) for u in wanted if u not in guild.members]
    elif d.get("query"):
        prefix = str(d["query"]).casefold()
        members = [
            m
            for m in members
            if m.user.username.casefold().startswith(prefix) or (m.nick or "").casefold().startswith(prefix)
        ]
    elif not has_members_intent:
        return None
    if d.get("limit"):
        members = members[: int(d["limit"])]
    # Discord answers with chunks of up to 1000 members.
    size = MEMBERS_PER_CHUNK
    batches = [members[i : i + size] for i in range(0, len(members), size)] or [[]]
    chunks: list[Json] = []
    for index, batch in enumerate(batches):
        chunk: Json = {
            "guild_id": str(guild.id),
            "members": [member_payload(m) for m in batch],
            "chunk_index": index,
            "chunk_count": len(batches),
            "not_found": not_found if index == 0 else [],
        }
        if d.get("nonce"):
            chunk["nonce"] = d["nonce"]
        chunks.append(chunk)
    return chunks
