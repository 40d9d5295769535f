"""The sandbox's message nonces (``enforce_nonce``) and the REST faults that exactly-once replies meet:
a failure after the message was created, every other request failing, a 503 with ``Retry-After``."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import discord
import pytest
from sandbox_bots import make_bot, running

from tui_bot.sandbox import EventKind, Sandbox
from tui_bot.sandbox.nonces import NonceRegistry


async def raw(sandbox: Sandbox, method: str, path: str, **kwargs: Any) -> tuple[int, Any, Any]:
    """(status, headers, parsed body) of one request with the bot's token."""
    headers = {"Authorization": f"Bot {sandbox.token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, sandbox.api_base + path, headers=headers, **kwargs) as response,
    ):
        text = await response.text()
        return response.status, response.headers, json.loads(text) if text else None


MESSAGES = "POST channels/*/messages"


def messages_path(sandbox: Sandbox, channel: str = "general") -> str:
    return f"/channels/{sandbox.world.find_channel(channel).id}/messages"


def stored(sandbox: Sandbox, content: str, channel: str = "general") -> list[Any]:
    """The messages with ``content`` in the world (what a member scrolling the channel would see)."""
    target = sandbox.world.find_channel(channel).id
    return [m for m in sandbox.world.messages[target].values() if m.content == content]


def created_events(sandbox: Sandbox, content: str) -> int:
    return sum(1 for m in sandbox.sent_messages if m.content == content)


def post_statuses(sandbox: Sandbox) -> list[int]:
    return [status for method, path, status in sandbox.requests if method == "POST" and "messages" in path]


# --- enforce_nonce -------------------------------------------------------------------------------


async def test_same_nonce_and_author_with_enforce_nonce_returns_the_first_message(sandbox: Sandbox) -> None:
    body = {"content": "once", "nonce": "1234", "enforce_nonce": True}
    status, _headers, first = await raw(sandbox, "POST", messages_path(sandbox), json=body)
    assert status == 200 and first["nonce"] == "1234"  # echoed, as Discord does
    status, _headers, second = await raw(sandbox, "POST", messages_path(sandbox), json=body)
    assert status == 200 and second["id"] == first["id"] and second["content"] == "once"
    assert len(stored(sandbox, "once")) == 1 and created_events(sandbox, "once") == 1
    # Another nonce is another message.
    status, _headers, third = await raw(sandbox, "POST", messages_path(sandbox), json={**body, "nonce": 99})
    assert status == 200 and third["id"] != first["id"] and third["nonce"] == 99
    assert len(stored(sandbox, "once")) == 2


async def test_without_enforce_nonce_the_same_nonce_creates_two_messages(sandbox: Sandbox) -> None:
    for _ in range(2):
        status, _headers, _body = await raw(
            sandbox, "POST", messages_path(sandbox), json={"content": "twice", "nonce": "77"}
        )
        assert status == 200
    assert [m.nonce for m in stored(sandbox, "twice")] == ["77", "77"]
    status, _headers, _body = await raw(
        sandbox, "POST", messages_path(sandbox), json={"content": "twice", "enforce_nonce": True}
    )
    assert status == 200 and len(stored(sandbox, "twice")) == 3  # enforce_nonce without a nonce: no effect


async def test_discord_py_sends_enforce_nonce_with_its_nonce(sandbox: Sandbox) -> None:
    bot = make_bot()
    async with running(bot, sandbox):
        channel = bot.get_channel(sandbox.world.find_channel("general").id)
        assert isinstance(channel, discord.TextChannel)
        first = await channel.send("same", nonce=424242)
        second = await channel.send("same", nonce=424242)
        assert second.id == first.id and second.nonce == "424242"
        third = await channel.send("same")  # discord.py draws a new random nonce per call
        assert third.id != first.id
    assert len(stored(sandbox, "same")) == 2


async def test_nonces_expire_a_deleted_message_does_not_block_and_memory_is_bounded(
    sandbox: Sandbox,
) -> None:
    now = [1000.0]
    sandbox.rest.nonces = NonceRegistry(window=300.0, max_remembered=3, clock=lambda: now[0])
    body = {"content": "n", "nonce": "a", "enforce_nonce": True}
    _s, _h, first = await raw(sandbox, "POST", messages_path(sandbox), json=body)
    now[0] += 299.0
    assert (await raw(sandbox, "POST", messages_path(sandbox), json=body))[2]["id"] == first["id"]
    now[0] += 2.0  # past the window: a new message
    _s, _h, later = await raw(sandbox, "POST", messages_path(sandbox), json=body)
    assert later["id"] != first["id"]
    status, _h, _b = await raw(sandbox, "DELETE", f"{messages_path(sandbox)}/{later['id']}")
    assert status == 204
    _s, _h, after_delete = await raw(sandbox, "POST", messages_path(sandbox), json=body)
    assert after_delete["id"] not in (first["id"], later["id"])
    for nonce in "bcdef":
        await raw(sandbox, "POST", messages_path(sandbox), json={**body, "nonce": nonce})
    assert len(sandbox.rest.nonces) == 3  # the oldest are forgotten first


async def test_a_nonce_discord_would_refuse_is_refused(sandbox: Sandbox) -> None:
    for nonce in ["x" * 26, 1.5, True]:
        status, _headers, body = await raw(
            sandbox, "POST", messages_path(sandbox), json={"content": "bad", "nonce": nonce}
        )
        assert status == 400 and body["code"] == 50035 and "nonce" in body["errors"]
    assert stored(sandbox, "bad") == []


# --- faults --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503, None])
async def test_fail_after_create_creates_the_message_then_fails_the_answer(
    sandbox: Sandbox, status: int | None
) -> None:
    fault = sandbox.fail_after_create("POST channels/*/messages", status=status)
    body = {"content": "created", "nonce": "5", "enforce_nonce": True}
    if status is None:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await raw(sandbox, "POST", messages_path(sandbox), json=body)
    else:
        answer, _headers, error = await raw(sandbox, "POST", messages_path(sandbox), json=body)
        assert answer == status and error["code"] == 0 and error["message"].startswith(f"{status}: ")
    [message] = stored(sandbox, "created")  # created and dispatched all the same
    assert created_events(sandbox, "created") == 1
    assert fault.hits == 1 and sandbox.rest.faults.faults == []  # count=1 by default
    # The retry with the same nonce gets that message; nothing new is created.
    answer, _headers, again = await raw(sandbox, "POST", messages_path(sandbox), json=body)
    assert answer == 200 and again["id"] == str(message.id)
    assert len(stored(sandbox, "created")) == 1
    assert post_statuses(sandbox) == [0 if status is None else status, 200]
    hits = [e.data for e in sandbox.events if e.kind is EventKind.FAULT and e.data["action"] == "hit"]
    assert [(h["fault"], h["status"]) for h in hits] == [("fail_after_create", status)]


async def test_fail_after_create_applies_to_other_routes_that_answer_after_the_work(sandbox: Sandbox) -> None:
    _s, _h, message = await raw(sandbox, "POST", messages_path(sandbox), json={"content": "pin me"})
    sandbox.fail_after_create("PUT channels/*/pins/*", status=502)
    status, _h, _b = await raw(sandbox, "PUT", f"/channels/{message['channel_id']}/pins/{message['id']}")
    assert status == 502 and sandbox.world.get_message(int(message["channel_id"]), int(message["id"])).pinned


async def test_fail_route_every_other_request_and_retry_after(sandbox: Sandbox) -> None:
    fault = sandbox.fail_route("POST channels/*/messages", 503, every=2, retry_after=1.5)
    results = []
    for index in range(6):
        status, headers, _body = await raw(
            sandbox, "POST", messages_path(sandbox), json={"content": f"m{index}"}
        )
        results.append((status, headers.get("Retry-After")))
    assert results == [(200, None), (503, "1.5"), (200, None), (503, "1.5"), (200, None), (503, "1.5")]
    assert fault.hits == 3 and fault.describe()["every"] == 2
    sandbox.clear_faults()
    sandbox.fail_route(MESSAGES, status=None, count=1)  # drop the connection, handling nothing
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await raw(sandbox, "POST", messages_path(sandbox), json={"content": "never"})
    assert stored(sandbox, "never") == [] and post_statuses(sandbox)[-1] == 0
    with pytest.raises(ValueError):
        sandbox.fail_route(None, 503, every=0)
    with pytest.raises(ValueError):
        sandbox.fail_after_create(None, status=404)


async def test_control_api_sets_the_new_faults(sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession() as http:
        url = sandbox.base_url + "/_sandbox/faults/rest"
        after = {"kind": "after_create", "route": "POST channels/*/messages", "status": None}
        async with http.post(url, json=after) as response:
            described = await response.json()
        assert response.status == 200 and described["fault"] == "fail_after_create"
        assert described["status"] is None and described["remaining"] == 1
        every = {"kind": "status", "route": "GET users/@me", "status": 503, "every": 3, "retry_after": 2}
        async with http.post(url, json=every) as response:
            described = await response.json()
        assert response.status == 200 and (described["every"], described["retry_after"]) == (3, 2.0)
        async with http.post(url, json={"kind": "after_create", "status": 418}) as response:
            assert response.status == 400 and "5xx" in (await response.json())["error"]
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await raw(sandbox, "POST", messages_path(sandbox), json={"content": "dropped"})
    assert len(stored(sandbox, "dropped")) == 1
