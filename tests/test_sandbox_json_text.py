"""The sandbox's JSON encoder (orjson) sends what ``json.dumps`` would: same values, same refusals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING

import pytest

from tui_bot.sandbox import demo_world
from tui_bot.sandbox.json_text import compact_json
from tui_bot.sandbox.payloads import message_payload

if TYPE_CHECKING:
    from conftest import BotHarness

ECHO = """
from discord.ext import commands


@commands.command()
async def echo(ctx, *, text: str):
    await ctx.send(f"{text} | {ctx.author.display_name}")


async def setup(bot):
    bot.add_command(echo)
"""


class Colour(StrEnum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


def test_ascii_payloads_are_byte_for_byte_what_json_dumps_writes() -> None:
    world = demo_world()
    alice = world.find_user("alice")
    message = world.create_message(world.find_channel("general"), alice, f"hi <@{alice.id}>")
    payload = {"op": 0, "d": message_payload(world, message, gateway=True), "s": 7, "t": "MESSAGE_CREATE"}
    assert payload["d"]["mentions"] and payload["d"]["member"]  # a realistic dispatch, nested objects
    assert compact_json(payload) == json.dumps(payload, separators=(",", ":"))


@pytest.mark.parametrize(
    "value",
    [
        {"content": "héllo ✓ 🎉 \u2028", "nested": [{"a": None, "b": 1.5, "c": True}]},
        {1: "int keys become strings", 2: [1, 2]},
        {"beyond 64 bits": 2**70, "lowest int64": -(2**63)},
        {"str enum": Colour.RED, "int enum": Level.HIGH, "tuple": (1, "x")},
    ],
)
def test_every_value_decodes_to_what_json_dumps_encodes(value: object) -> None:
    assert json.loads(compact_json(value)) == json.loads(json.dumps(value, separators=(",", ":")))


@dataclass
class NotJson:
    field: int


@pytest.mark.parametrize("value", [{"x": {1, 2}}, {"x": NotJson(1)}])
def test_what_json_refuses_is_refused_with_the_same_error(value: object) -> None:
    with pytest.raises(TypeError) as expected:
        json.dumps(value)
    with pytest.raises(TypeError) as got:
        compact_json(value)
    assert str(got.value) == str(expected.value)


async def test_non_ascii_text_survives_the_gateway_and_rest_both_ways(harness: BotHarness) -> None:
    harness.write_extension("echo", ECHO)
    await harness.start()
    text = "héllo ✓ 🎉 naïve 日本"
    await harness.sandbox.send_message("alice", "general", f"!echo {text}")
    reply = await harness.sandbox.wait_for_bot_message(timeout=10)
    assert reply.content == f"{text} | Alice"
