"""Gateway and rate-limit health (``bot.health``): per shard state, identifies, resumes and reconnects
from discord.py's own events; 429s, global limits and waits from REST responses; shown by the Metrics
pane and the owner's ``!stats``. End to end against the sandbox, whose gateway drops and 429s are real."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from console_harness import GREETER, console, running  # noqa: F401 - console is a fixture
from helpers.waiting import wait_until
from test_builtins import embed_of, fields
from textual.widgets import DataTable, Static

from tui_bot.core.health import EVENTS_KEPT, GatewayHealth, RestHealth
from tui_bot.core.health_check import health_report
from tui_bot.core.rest_routes import OTHER_ROUTE, RouteLabels, route_template
from tui_bot.tui.panes import MetricsPane

if TYPE_CHECKING:
    from conftest import BotHarness

    from tui_bot.core.bot import TuiBot

MESSAGES = "POST channels/*/messages"
MESSAGES_ROUTE = "POST /channels/{id}/messages"


def shard(bot: TuiBot, shard_id: int = 0) -> dict[str, Any]:
    return bot.metrics.get_stats()["gateway"][str(shard_id)]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


# -- route templates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("post", "/api/v10/channels/123/messages", "POST /channels/{id}/messages"),
        (
            "PUT",
            "/api/v10/channels/1/messages/2/reactions/👍/@me",
            "PUT /channels/{id}/messages/{id}/reactions/{emoji}/@me",
        ),
        (
            "POST",
            "/api/v10/interactions/9/aW50ZXJhY3Rpb246c2VjcmV0/callback",
            "POST /interactions/{id}/{token}/callback",
        ),
        (
            "PATCH",
            "/api/v10/webhooks/5/tokenlowercase/messages/@original",
            "PATCH /webhooks/{id}/{token}/messages/@original",
        ),
        ("GET", "/api/v10/invites/python", "GET /invites/{code}"),
        ("GET", "/proxy/api/v9/users/@me", "GET /users/@me"),
        ("GET", "/api/v10/guilds/1/members/search", "GET /guilds/{id}/members/search"),
        ("GET", "/api/v10/guilds/1/Weird Segment", "GET /guilds/{id}/{param}"),
        ("GET", "/gateway", None),  # the websocket, not REST
    ],
)
def test_a_rest_url_becomes_its_route_template_without_ids_or_tokens(
    method: str, path: str, template: str | None
) -> None:
    assert route_template(method, path) == template


def test_route_labels_are_bounded() -> None:
    labels = RouteLabels(limit=3)
    seen = {labels.label("GET", f"/api/v10/route{index}") for index in range(10)}
    assert seen == {"GET /route0", "GET /route1", "GET /route2", OTHER_ROUTE}
    assert labels.label("GET", "/api/v10/route1") == "GET /route1"  # a known one stays itself


# -- bounded history ------------------------------------------------------------------------------


def test_a_shard_reconnecting_in_a_loop_keeps_bounded_history_and_exact_totals() -> None:
    clock = Clock()
    health = GatewayHealth(clock)
    for _ in range(EVENTS_KEPT * 5):
        clock.now += 1
        health.disconnected(0, closing=False)
        health.resumed(0)
    kept = health.shards[0]
    assert len(kept.reconnects.times) == len(kept.resumes.times) == EVENTS_KEPT
    entry = health.summary()["0"]
    assert entry["reconnects_total"] == entry["resumes_total"] == EVENTS_KEPT * 5
    # Within 24 h there were more than the ring keeps: the count says "at least".
    assert (entry["resumes_24h"], entry["resumes_24h_more"]) == (EVENTS_KEPT, True)
    clock.now += 2 * 86_400  # a day later nothing is recent, and nothing claims to be
    entry = health.summary()["0"]
    assert (entry["resumes_24h"], entry["resumes_24h_more"], entry["resumes_total"]) == (0, False, 5000)


def test_429s_age_out_of_the_last_hour_and_a_global_limit_ends() -> None:
    clock = Clock()
    rest = RestHealth(clock)
    rest.record_429(MESSAGES_ROUTE, scope="route", retry_after=0.5)
    rest.record_429(MESSAGES_ROUTE, scope="global", retry_after=2.0)
    summary = rest.summary()
    assert summary["429_last_hour"] == 2 and summary["global_429_last_hour"] == 1
    assert summary["global_limit_in_force"] is True
    assert summary["429_by_route_last_hour"] == {MESSAGES_ROUTE: 2}
    clock.now += 3
    assert rest.summary()["global_limit_in_force"] is False
    clock.now += 3_600
    summary = rest.summary()
    assert (summary["429_last_hour"], summary["429_total"]) == (0, 2)
    assert summary["wait_seconds"]["429"] == 2.5


# -- end to end: the gateway ----------------------------------------------------------------------


async def test_a_held_gateway_drop_shows_resuming_and_unhealthy_until_it_resumes(harness: BotHarness) -> None:
    harness.write_extension("greeter", GREETER)
    bot = await harness.start()
    first = shard(bot)
    assert (first["state"], first["identifies_24h"], first["resumes_24h"]) == ("ready", 1, 0)
    assert first["latency_ms"] is not None
    assert (await health_report(bot))["status"] == "ok"

    await harness.sandbox.drop_gateway(hold=True)
    await wait_until(lambda: shard(bot)["state"] == "resuming", what="the shard to be resuming")
    report = await health_report(bot)
    assert report["status"] == "unhealthy" and report["shards"] == {"0": "resuming"}
    assert report["problems"] == ["shard 0 is resuming"] and report["database"] == "ok"
    # The drop lasts: a message sent meanwhile is not answered until the gateway is released.
    await harness.sandbox.send_message("alice", "general", "!ping")
    with pytest.raises(TimeoutError):
        await harness.sandbox.wait_for_bot_message(timeout=0.5)
    assert shard(bot)["state"] == "resuming"

    harness.sandbox.release_gateway()
    assert (await harness.sandbox.wait_for_bot_message()).content == "pong"  # replayed by the RESUME
    await wait_until(lambda: shard(bot)["state"] == "ready", what="the shard to resume")
    after = shard(bot)
    assert (after["identifies_24h"], after["resumes_24h"], after["reconnects_24h"]) == (1, 1, 1)
    assert (await health_report(bot))["status"] == "ok"


async def test_the_stats_an_attached_console_receives_survive_json(harness: BotHarness) -> None:
    bot = await harness.start()
    harness.sandbox.force_429(1, route="GET users/*", global_=True, retry_after=0.05)
    await bot.fetch_user(bot.user.id if bot.user else 0)
    stats = bot.metrics.get_stats()
    assert stats["rate_limits"]["global_429_last_hour"] == 1 and stats["gateway"]["0"]["state"] == "ready"
    assert json.loads(json.dumps(stats)) == stats


async def test_each_shard_of_a_sharded_bot_is_tracked_apart(harness: BotHarness) -> None:
    bot = await harness.start(sharding={"shard_count": 2})
    await wait_until(lambda: all(s["state"] == "ready" for s in bot.metrics.get_stats()["gateway"].values()))
    await harness.sandbox.drop_gateway(shard_id=1, hold=True)
    await wait_until(lambda: shard(bot, 1)["state"] == "resuming", what="shard 1 to be resuming")
    assert shard(bot, 0)["state"] == "ready" and shard(bot, 0)["reconnects_total"] == 0
    assert (await health_report(bot))["problems"] == ["shard 1 is resuming"]
    harness.sandbox.release_gateway()
    await wait_until(lambda: shard(bot, 1)["state"] == "ready", what="shard 1 to resume")
    assert (shard(bot, 1)["resumes_total"], shard(bot, 0)["resumes_total"]) == (1, 0)


async def test_a_closed_bot_is_disconnected_not_resuming(harness: BotHarness) -> None:
    bot = await harness.start()
    await harness.stop()
    assert shard(bot)["state"] == "disconnected"
    assert shard(bot)["reconnects_total"] == 0  # closing is not a reconnect


# -- end to end: REST -----------------------------------------------------------------------------


async def test_forced_429s_are_counted_by_route_with_the_wait_discord_asked_for(harness: BotHarness) -> None:
    harness.write_extension("greeter", GREETER)
    bot = await harness.start()
    sandbox = harness.sandbox
    sandbox.force_429(2, route=MESSAGES, retry_after=0.05)
    await sandbox.send_message("alice", "general", "!ping")
    assert (await sandbox.wait_for_bot_message()).content == "pong"  # retried through both
    limits = bot.metrics.get_stats()["rate_limits"]
    assert limits["429_last_hour"] == 2 and limits["global_429_last_hour"] == 0
    assert limits["429_by_route_last_hour"] == {MESSAGES_ROUTE: 2}
    assert limits["wait_seconds"]["429"] == pytest.approx(0.1)
    requests = bot.health.rest.requests
    # The sandbox shows the message before the bot has read the answer: wait for the 200 to count.
    await wait_until(lambda: (MESSAGES_ROUTE, "200") in requests, what="the 200 counted")
    assert (requests[(MESSAGES_ROUTE, "429")], requests[(MESSAGES_ROUTE, "200")]) == (2, 1)


async def test_a_global_429_is_in_force_while_discord_py_waits_it_out(harness: BotHarness) -> None:
    harness.write_extension("greeter", GREETER)
    bot = await harness.start()
    sandbox = harness.sandbox
    sandbox.force_429(1, route=MESSAGES, global_=True, retry_after=1.0)
    await sandbox.send_message("alice", "general", "!ping")
    limits = bot.health.rest
    await wait_until(lambda: limits.summary()["global_limit_in_force"], what="the global limit")
    assert bot.metrics.get_stats()["rate_limits"]["global_429_last_hour"] == 1
    assert (await sandbox.wait_for_bot_message()).content == "pong"
    await wait_until(lambda: not limits.summary()["global_limit_in_force"], what="the global limit to end")
    assert limits.limited == {(MESSAGES_ROUTE, "global"): 1}


async def test_waits_on_an_exhausted_bucket_are_counted(harness: BotHarness) -> None:
    harness.write_extension("greeter", GREETER)
    bot = await harness.start()
    sandbox = harness.sandbox
    sandbox.set_rate_limit(MESSAGES, 1, 0.2)  # every reply empties its bucket: discord.py waits it out
    started = time.monotonic()
    for _ in range(2):
        await sandbox.send_message("alice", "general", "!ping")
        await sandbox.wait_for_bot_message()
    waited = bot.health.rest.wait_seconds["bucket"]
    assert 0.2 <= waited <= 0.45 and time.monotonic() - started >= 0.2
    assert bot.health.rest.limited == {}  # waiting before sending is no 429


# -- shown to the operator ------------------------------------------------------------------------


async def test_the_owners_stats_show_gateway_and_rate_limit_health(harness: BotHarness) -> None:
    harness.write_extension("greeter", GREETER)
    await harness.start()
    sandbox = harness.sandbox
    sandbox.force_429(1, route=MESSAGES, retry_after=0.1)
    await sandbox.send_message("alice", "general", "!ping")
    await sandbox.wait_for_bot_message()

    shown = fields(await embed_of(harness, "operator", "!stats"))
    gateway = shown["Gateway (last 24 h)"]
    assert gateway.startswith("`0` ready · ") and gateway.endswith(" ms · 1 identify, 0 resumes")
    assert shown["Rate limits"].splitlines() == [
        "429s in the last hour: 1",
        "Global limit: none in force",
        "Waited for rate limits: 0.1 s in all",
        f"Most limited: `{MESSAGES_ROUTE}` × 1",
    ]
    everyone = fields(await embed_of(harness, "bob", "!stats"))
    assert "Gateway (last 24 h)" not in everyone and "Rate limits" not in everyone
    assert everyone["Servers"] == "1"


async def test_the_metrics_pane_shows_each_shard_and_the_rate_limits(console) -> None:  # noqa: F811
    console.write_extension("greeter", GREETER)
    app = console.build()
    async with running(app, size=(80, 24)) as pilot:
        sandbox = app.runtime.sandbox
        assert sandbox is not None
        await pilot.press("2")
        pane = app.query_one(MetricsPane)
        table = pane.query_one("#gateway-shards", DataTable)
        await wait_until(lambda: table.row_count == 1, pilot=pilot, what="the shard row")
        row = [str(cell) for cell in table.get_row_at(0)]
        assert row[:2] == ["0", "ready"] and row[2].endswith(" ms") and row[3:] == ["1", "0"]

        sandbox.force_429(3, route=MESSAGES, retry_after=0.1)
        await sandbox.send_message("alice", "general", "!ping")
        await sandbox.wait_for_bot_message()
        limits = pane.query_one("#rate-limits", Static)
        await wait_until(lambda: "429s (1 h): 3" in str(limits.render()), pilot=pilot, what="the 429s")
        assert str(limits.render()).splitlines() == ["429s (1 h): 3", "Global limit: none", "Waited: 0.3 s"]

        await sandbox.drop_gateway(hold=True)
        await wait_until(
            lambda: [str(c) for c in table.get_row_at(0)][1] == "resuming", pilot=pilot, what="resuming shown"
        )
        assert pane.query_one("#gateway-box").has_class("-alert")
        sandbox.release_gateway()
        await wait_until(
            lambda: [str(c) for c in table.get_row_at(0)][1:5:3] == ["ready", "1"],
            pilot=pilot,
            what="the resume shown",
        )
        assert not pane.query_one("#gateway-box").has_class("-alert")


# -- the sandbox's lasting drop, over its control API ---------------------------------------------


async def test_the_control_api_holds_a_drop_until_released(harness: BotHarness) -> None:
    bot = await harness.start()
    sandbox = harness.sandbox
    url = f"{sandbox.base_url}/_sandbox/faults/gateway"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"action": "drop", "hold": "yes"}) as response:
            assert response.status == 400
            assert (await response.json())["error"].startswith('"hold" must be true')
        async with http.post(url, json={"action": "drop", "hold": True}) as response:
            assert response.status == 200 and len((await response.json())["sessions"]) == 1
        await wait_until(lambda: shard(bot)["state"] == "resuming", what="the drop")
        assert sandbox.hub.held
        async with http.post(url, json={"action": "release"}) as response:
            assert response.status == 200
    await wait_until(lambda: shard(bot)["state"] == "ready", what="the resume after the release")
    assert not sandbox.hub.held and shard(bot)["resumes_total"] == 1
