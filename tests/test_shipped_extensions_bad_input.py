"""Every bad argument to the shipped extensions gets a clear answer, never an error id (issue 10).

Each case is one command, by prefix or by slash, with input a member could type: missing, of the
wrong type, out of range, empty, huge, very long, a role or channel where a member is expected, an id
of a user who is not in the server, a member the bot (or the invoker) cannot act on. The reply must
say what to fix and carry no "error id", and nothing may have happened (nobody kicked or banned, no
message deleted).

The world: alice is a Moderator, bob has no role, the operator owns the server; dave holds "Head", a
role above the bot's; zed is a user who is not a member.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import pytest

from tests.conftest import BotHarness
from tui_bot.sandbox import EventKind, InteractionError, Sandbox
from tui_bot.sandbox.world import Member, Message, Role, User

REPO = Path(__file__).resolve().parent.parent
GENERAL = "general"
HUGE = "9" * 4400  # more digits than Python reads as an integer by default (a slash option holds 6,000)
# A member's message holds at most 2,000 characters (Discord, without Nitro; the sandbox refuses more),
# so a prefix command gets the longest number that fits.
MESSAGE_DIGITS = "9" * 1980
BEYOND_64_BITS = "99999999999999999999"  # 20 digits: looks like an id, but no snowflake is this big
LONG = "x" * 1900  # about as long as a member's message can be


@dataclass(frozen=True)
class Case:
    """``command`` sent by ``author`` (a prefix message, or ``/name`` with ``options``); the reply's
    embed title must be ``title`` and its text must contain ``hint``, what to fix."""

    author: str
    command: str
    title: str
    hint: str
    options: dict[str, Any] = field(default_factory=dict)


NOT_A_MEMBER = "`member` must be a member of this server (mention, id or name)."
AMOUNT = "`amount` must be a whole number from 1 to 100."
DICE = "Write dice as `NdM`"
TWO_OPTIONS = "Separate them with commas or spaces"


def kick_and_ban_cases() -> list[Any]:
    cases = []
    for action in ("kick", "ban"):
        title = f"❌ Can't {action}"
        rows = {
            "missing": Case("alice", f"!{action}", "❌ Missing argument", "`member` is required."),
            "unknown-name": Case("alice", f"!{action} nobody", "❌ Invalid argument", NOT_A_MEMBER),
            "short-number": Case("alice", f"!{action} 123", "❌ Invalid argument", NOT_A_MEMBER),
            "unknown-id": Case("alice", f"!{action} 123456789012345678", "❌ Invalid argument", NOT_A_MEMBER),
            "id-beyond-64-bits": Case(
                "alice", f"!{action} {BEYOND_64_BITS}", "❌ Invalid argument", NOT_A_MEMBER
            ),
            "mention-beyond-64-bits": Case(
                "alice", f"!{action} <@{BEYOND_64_BITS}>", "❌ Invalid argument", NOT_A_MEMBER
            ),
            "longest-number": Case(
                "alice", f"!{action} {MESSAGE_DIGITS}", "❌ Invalid argument", NOT_A_MEMBER
            ),
            "empty-string": Case("alice", f'!{action} ""', "❌ Invalid argument", NOT_A_MEMBER),
            "role-mention": Case(
                "alice", f"!{action} <@&{{moderator}}>", "❌ Invalid argument", NOT_A_MEMBER
            ),
            "channel-mention": Case(
                "alice", f"!{action} <#{{general}}>", "❌ Invalid argument", NOT_A_MEMBER
            ),
            "everyone": Case("alice", f"!{action} @everyone", "❌ Invalid argument", NOT_A_MEMBER),
            "user-not-in-server-by-name": Case(
                "alice", f"!{action} zed", "❌ Invalid argument", NOT_A_MEMBER
            ),
            "user-not-in-server-by-id": Case(
                "alice", f"!{action} {{zed}}", "❌ Invalid argument", NOT_A_MEMBER
            ),
            "user-not-in-server-by-mention": Case(
                "alice", f"!{action} <@{{zed}}>", "❌ Invalid argument", NOT_A_MEMBER
            ),
            "member-above-the-bot": Case(
                "operator", f"!{action} dave", f"{title} Dave", "Move my role higher"
            ),
            "member-above-the-invoker": Case(
                "alice", f"!{action} dave", f"{title} Dave", "is equal to or higher than yours"
            ),
            "the-bot": Case("alice", f"!{action} tui-bot", f"{title} tui-bot", f"I can't {action} myself."),
            "oneself": Case("alice", f"!{action} alice", f"{title} Alice", f"You can't {action} yourself."),
            "the-owner": Case("alice", f"!{action} operator", f"{title} Operator", "owns this server"),
            "no-permission": Case(
                "bob", f"!{action} alice", "❌ Missing permission", f"{action.title()} Members"
            ),
            "slash-user-not-in-server": Case(
                "alice",
                f"/{action}",
                "❌ Invalid argument",
                "`zed` is not a member of this server.",
                {"member": "zed"},
            ),
            "slash-member-above-the-bot": Case(
                "operator", f"/{action}", f"{title} Dave", "Move my role higher", {"member": "dave"}
            ),
            "slash-the-bot": Case(
                "alice", f"/{action}", f"{title} tui-bot", f"I can't {action} myself.", {"member": "tui-bot"}
            ),
        }
        cases += [pytest.param(case, id=f"{action}-{name}") for name, case in rows.items()]
    return cases


OTHER_CASES = {
    "purge-missing": Case("alice", "!purge", "❌ Missing argument", "`amount` is required."),
    "purge-word": Case("alice", "!purge abc", "❌ Invalid argument", AMOUNT),
    "purge-zero": Case("alice", "!purge 0", "❌ Invalid argument", AMOUNT),
    "purge-101": Case("alice", "!purge 101", "❌ Invalid argument", AMOUNT),
    "purge-negative": Case("alice", "!purge -5", "❌ Invalid argument", AMOUNT),
    "purge-fraction": Case("alice", "!purge 1.5", "❌ Invalid argument", AMOUNT),
    "purge-20-digits": Case("alice", f"!purge {BEYOND_64_BITS}", "❌ Invalid argument", AMOUNT),
    "purge-longest-number": Case("alice", f"!purge {MESSAGE_DIGITS}", "❌ Invalid argument", AMOUNT),
    "purge-empty-string": Case("alice", '!purge ""', "❌ Invalid argument", AMOUNT),
    "purge-role-mention": Case("alice", "!purge <@&{moderator}>", "❌ Invalid argument", AMOUNT),
    "purge-no-permission": Case("bob", "!purge 5", "❌ Missing permission", "Manage Messages"),
    "roll-word": Case("bob", "!roll abc", "❌ Can't roll `abc`", DICE),
    "roll-empty-string": Case("bob", '!roll ""', "❌ Nothing to roll", DICE),
    "roll-backticks": Case("bob", "!roll " + "`" * 50, "❌ Can't roll `" + "'" * 40 + "`", DICE),
    "roll-negative": Case("bob", "!roll -1", "❌ Can't roll `-1`", DICE),
    "roll-exponent": Case("bob", "!roll 1e5", "❌ Can't roll `1e5`", DICE),
    "roll-too-many-dice": Case("bob", "!roll 101d6", "❌ Can't roll `101d6`", DICE),
    "roll-too-many-sides": Case("bob", "!roll 1d1001", "❌ Can't roll `1d1001`", DICE),
    "roll-one-side": Case("bob", "!roll 2d1", "❌ Can't roll `2d1`", DICE),
    "roll-longest-number": Case(
        "bob", f"!roll {MESSAGE_DIGITS}", f"❌ Can't roll `{MESSAGE_DIGITS[:40]}`", DICE
    ),
    "roll-longest-sides": Case(
        "bob", f"!roll 2d{MESSAGE_DIGITS}", f"❌ Can't roll `2d{MESSAGE_DIGITS[:38]}`", DICE
    ),
    "roll-very-long": Case("bob", f"!roll {LONG}", f"❌ Can't roll `{LONG[:40]}`", DICE),
    "roll-role-mention": Case("bob", "!roll <@&{moderator}>", "❌ Can't roll `<@&{moderator}>`", DICE),
    "roll-slash-empty": Case("bob", "/roll", "❌ Nothing to roll", DICE, {"dice": ""}),
    "roll-slash-4400-digits": Case("bob", "/roll", f"❌ Can't roll `{HUGE[:40]}`", DICE, {"dice": HUGE}),
    "choose-missing": Case("bob", "!choose", "❌ Missing argument", "`options` is required."),
    "choose-empty-string": Case("bob", '!choose ""', "❌ Give me at least two options", TWO_OPTIONS),
    "choose-one-option": Case("bob", "!choose pizza", "❌ Give me at least two options", TWO_OPTIONS),
    "choose-only-commas": Case("bob", "!choose ,,,,", "❌ Give me at least two options", TWO_OPTIONS),
    "choose-only-bars": Case("bob", "!choose ||", "❌ Give me at least two options", TWO_OPTIONS),
    "choose-unbalanced-quote": Case("bob", '!choose "pizza', "❌ Give me at least two options", TWO_OPTIONS),
    "choose-slash-empty": Case(
        "bob", "/choose", "❌ Give me at least two options", TWO_OPTIONS, {"options": ""}
    ),
    "choose-slash-one": Case(
        "bob", "/choose", "❌ Give me at least two options", TWO_OPTIONS, {"options": "tea"}
    ),
    "8ball-missing": Case("bob", "!8ball", "❌ Missing argument", "`question` is required."),
    "8ball-slash-blank": Case(
        "bob", "/8ball", "❌ Ask me something", "Write a yes/no question", {"question": " "}
    ),
}

CASES = kick_and_ban_cases() + [pytest.param(case, id=name) for name, case in OTHER_CASES.items()]


@pytest.fixture
async def bot_harness(harness: BotHarness) -> BotHarness:
    """The three shipped extensions on the demo world, plus dave (above the bot) and zed (not a member)."""
    world = harness.sandbox.world
    guild = next(iter(world.guilds.values()))
    head = Role(world.snowflakes(), "Head", discord.Permissions(administrator=True).value, position=5)
    guild.roles[head.id] = head
    dave = User(world.snowflakes(), "dave", "Dave")
    world.users[dave.id] = dave
    guild.members[dave.id] = Member(dave, [head.id])
    zed = User(world.snowflakes(), "zed", "Zed")
    world.users[zed.id] = zed
    for name in ("moderation", "fun", "example"):
        harness.write_extension(
            name, (REPO / "tui_bot" / "starter" / "extensions" / f"{name}.py").read_text(encoding="utf-8")
        )
    bot = await harness.start(replies={"delete_after": 0})
    await bot.tree.sync()
    return harness


def fill_in(sb: Sandbox, text: str) -> str:
    """The world's ids in place of ``{zed}``, ``{moderator}`` and ``{general}``."""
    guild = sb.find_guild()
    moderator = guild.find_role("Moderator")
    assert moderator is not None
    ids = {"zed": sb.world.find_user("zed").id, "moderator": moderator.id}
    return text.format(**ids, general=sb.world.find_channel(GENERAL).id) if "{" in text else text


async def answer_to(sb: Sandbox, case: Case) -> tuple[str, dict[str, Any]]:
    """The reply's plain text and its embed, by prefix or by slash."""
    if case.command.startswith("/"):
        handle = await sb.invoke_slash(case.author, GENERAL, case.command[1:], options=case.options)
        response = await handle.response(timeout=10)
        if response.deferred:
            message: Message = await handle.wait_for_followup(timeout=10)
            return message.content, message.embeds[0]
        return response.content or "", response.embeds[0]
    await sb.send_message(case.author, GENERAL, fill_in(sb, case.command))
    reply = await sb.wait_for_bot_message(
        channel=GENERAL, check=lambda m: m.interaction_metadata is None, timeout=10
    )
    return reply.content, reply.embeds[0]


@pytest.mark.parametrize("case", CASES)
async def test_a_bad_argument_gets_a_clear_reply(bot_harness: BotHarness, case: Case) -> None:
    sb = bot_harness.sandbox
    members_before = set(sb.find_guild().members)
    content, embed = await answer_to(sb, case)

    shown = " ".join([content, embed.get("title", ""), embed.get("description", "")])
    shown += " ".join(f"{f['name']} {f['value']}" for f in embed.get("fields", []))
    assert "error id" not in shown and "Something went wrong" not in shown
    assert embed["title"] == fill_in(sb, case.title)
    assert case.hint in embed["description"]
    # A refusal changes nothing.
    assert set(sb.find_guild().members) == members_before and not sb.find_guild().bans
    done = (
        EventKind.MEMBER_REMOVE,
        EventKind.BAN_ADD,
        EventKind.MESSAGE_DELETE_BULK,
        EventKind.MESSAGE_DELETE,
    )
    assert not any(e.kind in done for e in sb.events)


@pytest.mark.parametrize(
    ("command", "options", "refusal"),
    [
        ("purge", {"amount": 0}, "0 is outside 1..100"),
        ("purge", {"amount": 101}, "101 is outside 1..100"),
        ("purge", {"amount": "abc"}, "(integer)"),
        ("purge", {"amount": 10**30}, "out of Discord's integer range"),
        ("kick", {}, "needs option 'member'"),
        ("choose", {}, "needs option 'options'"),
    ],
)
async def test_discord_itself_refuses_slash_options_the_command_declares_invalid(
    bot_harness: BotHarness, command: str, options: dict[str, Any], refusal: str
) -> None:
    """Bounds and required options are part of the synced command: the Discord client refuses these."""
    with pytest.raises(InteractionError, match=refusal.replace("(", r"\(").replace(")", r"\)")):
        await bot_harness.sandbox.invoke_slash("alice", GENERAL, command, options=options)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("!hello there " + MESSAGE_DIGITS, "Hello, Bob!"),
        ("!coinflip " + LONG, "🪙 **"),
        ("!roll 1d1 extra words", None),
        ("!8ball " + LONG, "🎱 "),
    ],
    ids=["hello", "coinflip", "roll", "8ball"],
)
async def test_extra_or_long_words_are_no_error(
    bot_harness: BotHarness, command: str, expected: str | None
) -> None:
    """Words after a command's arguments are ignored, and a long question is still a question."""
    sb = bot_harness.sandbox
    await sb.send_message("bob", GENERAL, command)
    reply = await sb.wait_for_bot_message(channel=GENERAL, timeout=10)
    if expected is None:  # 1d1 is not a die: a clear refusal, not a crash
        assert reply.embeds[0]["title"] == "❌ Can't roll `1d1`"
    else:
        assert reply.content.startswith(expected) and not reply.embeds


async def test_a_reason_longer_than_an_embed_field_is_cut_to_fit(bot_harness: BotHarness) -> None:
    """Discord refuses an embed field over 1,024 characters: the confirmation must still be sent."""
    sb = bot_harness.sandbox
    await sb.send_message("alice", GENERAL, f"!kick bob {LONG}")
    reply = await sb.wait_for_bot_message(channel=GENERAL, timeout=10)
    assert reply.embeds[0]["title"] == "✅ Kicked Bob"
    reason = next(f["value"] for f in reply.embeds[0]["fields"] if f["name"] == "Reason")
    assert len(reason) == 1024 and reason.endswith("…")
    assert "bob" not in {m.user.username for m in sb.find_guild().members.values()}
