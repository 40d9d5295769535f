"""A second client: the sandbox driven by a minimal Discord client written with aiohttp alone.

No discord.py here. The client finds the gateway over REST, connects, reads HELLO, IDENTIFYs,
heartbeats, gets READY and GUILD_CREATE, posts a message over REST, receives a member's message and a
slash command as gateway dispatches, and answers the command with an interaction callback. Whatever
works for it works for any library that speaks Discord's protocol, which is what ``sandbox serve``
promises.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from tui_bot.sandbox import EventKind, Sandbox

GUILDS = 1 << 0
GUILD_MESSAGES = 1 << 9
MESSAGE_CONTENT = 1 << 15
HELLO, HEARTBEAT, IDENTIFY, DISPATCH, HEARTBEAT_ACK = 10, 1, 2, 0, 11
CHANNEL_MESSAGE_WITH_SOURCE = 4
TIMEOUT = 5.0


class RawClient:
    """The least a bot needs: a REST session with the token and one gateway connection."""

    def __init__(self, session: aiohttp.ClientSession, api: str, token: str) -> None:
        self.session = session
        self.api = api
        self.token = token
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.sequence: int | None = None

    async def rest(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> tuple[int, Any]:
        headers = {"Authorization": f"Bot {self.token}"} if auth else {}
        async with self.session.request(method, self.api + path, json=body, headers=headers) as response:
            text = await response.text()
            return response.status, json.loads(text) if text else None

    async def receive(self) -> dict[str, Any]:
        assert self.ws is not None
        async with asyncio.timeout(TIMEOUT):
            message = await self.ws.receive()
        assert message.type is aiohttp.WSMsgType.TEXT, f"not a JSON text frame: {message}"
        payload: dict[str, Any] = json.loads(message.data)
        if payload["s"] is not None:
            self.sequence = payload["s"]
        return payload

    async def dispatch(self, event: str) -> dict[str, Any]:
        """The next dispatch named ``event`` (others, and heartbeat ACKs, are skipped)."""
        while True:
            payload = await self.receive()
            if payload["op"] == DISPATCH and payload["t"] == event:
                return payload["d"]  # type: ignore[no-any-return]

    async def send(self, op: int, d: Any) -> None:
        assert self.ws is not None
        await self.ws.send_str(json.dumps({"op": op, "d": d}))


@asynccontextmanager
async def raw_client(sb: Sandbox) -> AsyncIterator[RawClient]:
    async with aiohttp.ClientSession() as session:
        yield RawClient(session, sb.api_base, sb.token)


async def test_a_client_written_with_aiohttp_alone(sandbox: Sandbox) -> None:
    sb = sandbox
    general = sb.world.find_channel("general")
    guild = sb.world.guilds[general.guild_id]
    app_id = sb.world.application.id
    async with raw_client(sb) as client:
        # REST: who am I, and where is the gateway.
        status, me = await client.rest("GET", "/users/@me")
        assert (status, me["id"], me["bot"]) == (200, str(app_id), True)
        status, gateway = await client.rest("GET", "/gateway/bot")
        assert status == 200 and gateway["shards"] == 1 and gateway["session_start_limit"]["remaining"] > 0

        # Gateway: HELLO, IDENTIFY, a heartbeat and its ACK, READY, GUILD_CREATE (plain JSON frames:
        # the URL asks for no compression).
        async with client.session.ws_connect(gateway["url"] + "?v=10&encoding=json") as client.ws:
            hello = await client.receive()
            assert hello["op"] == HELLO and hello["d"]["heartbeat_interval"] > 0
            await client.send(
                IDENTIFY,
                {
                    "token": client.token,
                    "intents": GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT,
                    "properties": {"os": "linux", "browser": "raw-aiohttp", "device": "raw-aiohttp"},
                },
            )
            ready = await client.dispatch("READY")
            assert ready["user"]["id"] == str(app_id) and ready["application"]["id"] == str(app_id)
            assert [g["id"] for g in ready["guilds"]] == [str(guild.id)]
            created = await client.dispatch("GUILD_CREATE")
            assert created["id"] == str(guild.id)
            assert {c["name"] for c in created["channels"]} >= {"general", "bot-commands"}
            await client.send(HEARTBEAT, client.sequence)
            assert (await client.receive())["op"] == HEARTBEAT_ACK

            # A message over REST, seen as the world and the gateway see it.
            status, posted = await client.rest(
                "POST", f"/channels/{general.id}/messages", {"content": "hello from aiohttp"}
            )
            assert status == 200 and posted["author"]["id"] == str(app_id)
            echoed = await client.dispatch("MESSAGE_CREATE")
            assert (echoed["id"], echoed["guild_id"]) == (posted["id"], str(guild.id))
            sent = await sb.wait_for_bot_message()
            assert (sent.id, sent.content) == (int(posted["id"]), "hello from aiohttp")

            # A member's message, injected through the Sandbox API, arrives as MESSAGE_CREATE.
            injected = await sb.send_message("alice", "general", "hi raw bot")
            received = await client.dispatch("MESSAGE_CREATE")
            assert (received["id"], received["content"]) == (str(injected.id), "hi raw bot")
            assert received["author"]["username"] == "alice" and "member" in received

            # A slash command registered over REST, invoked by a member, answered by callback.
            status, commands = await client.rest(
                "PUT",
                f"/applications/{app_id}/guilds/{guild.id}/commands",
                [{"name": "hello", "description": "Say hello", "type": 1}],
            )
            assert status == 200 and [c["name"] for c in commands] == ["hello"]
            handle = await sb.invoke_slash("alice", "general", "hello")
            interaction = await client.dispatch("INTERACTION_CREATE")
            assert interaction["data"]["name"] == "hello" and interaction["id"] == str(handle.id)
            assert interaction["member"]["user"]["username"] == "alice"
            status, _ = await client.rest(
                "POST",
                f"/interactions/{interaction['id']}/{interaction['token']}/callback",
                {"type": CHANNEL_MESSAGE_WITH_SOURCE, "data": {"content": "hello, alice"}},
                auth=False,  # the token in the URL is the credential, as on Discord
            )
            assert status == 204
            response = await handle.response()
            assert (response.type, response.content) == (CHANNEL_MESSAGE_WITH_SOURCE, "hello, alice")
            event = await sb.wait_for_event(EventKind.INTERACTION_RESPONSE)
            assert event.data["interaction_id"] == handle.id
