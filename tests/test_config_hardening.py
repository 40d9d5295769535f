"""Config values that used to pass validation and then break the bot (a NaN cooldown, a rotation loop over
10**30 files, a status with a field that does not exist, a million shards, an invisible prefix), or that
stopped start-up with a traceback (a 5,000-digit number, JSON nested 100,000 deep, a NUL in a path).

Each is written as a real config.json and run through ``tui-bot --check-config`` and a real start:
exit 78, a message naming the key, no traceback, and the file byte for byte as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord
import pytest

from tui_bot.config import ConfigFileError, ConfigStore, ConfigValueError
from tui_bot.config.model import ConfigErrors, unknown_keys
from tui_bot.config.validation import parse_config
from tui_bot.core.presence import render_status_text
from tui_bot.sandbox.world import Member, Role, User

if TYPE_CHECKING:
    from conftest import BotHarness


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "BOT_OWNER_ID")}
    return subprocess.run(
        [sys.executable, "-m", "tui_bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# (id, the file's text, fragments the report must contain)
BAD_FILES = [
    ("default_per NaN", '{"cooldowns": {"default_per": NaN}}', ["'cooldowns.default_per'", "NaN", "604,800"]),
    (
        "default_per Infinity",
        '{"cooldowns": {"default_per": Infinity}}',
        ["'cooldowns.default_per'", "Infinity"],
    ),
    ("cache_ttl NaN", '{"storage": {"cache_ttl": NaN}}', ["'storage.cache_ttl'", "NaN", "86,400"]),
    ("cache_ttl -Infinity", '{"storage": {"cache_ttl": -Infinity}}', ["'storage.cache_ttl'", "-Infinity"]),
    (
        "backup_count 10**30",
        f'{{"logging": {{"backup_count": {10**30}}}}}',
        ["'logging.backup_count'", "at most 1000"],
    ),
    (
        "5000-digit number",
        '{"database": {"backup_keep": ' + "9" * 5000 + "}}",
        ["'database.backup_keep'", "more than 4,300 digits"],
    ),
    ("nested 100,000 deep", '{"status": {"text": ' + nested(100_000) + "}}", ["nested too deeply"]),
    ("nested 500 deep", '{"owner_ids": ' + nested(500) + "}", ["'owner_ids[0][0]", "at most 20 levels"]),
    ("NUL in a path", json.dumps({"database": {"path": "data/bot\0.db"}}), ["'database.path'", "U+0000"]),
    (
        "extensions folder not a package name",
        json.dumps({"extensions": {"directory": "./my-extensions"}}),
        ["'extensions.directory'", "Python identifier", '"my_extensions"', "imported as a package"],
    ),
    (
        "status.text unbalanced",
        json.dumps({"status": {"text": "{guilds"}}),
        ["'status.text'", "braces do not match"],
    ),
    (
        "status.text unknown field",
        json.dumps({"status": {"text": "{members}"}}),
        ["'status.text'", "{members} is not a field", "only {guilds}, {users}, {commands}"],
    ),
    (
        "status.text attribute",
        json.dumps({"status": {"text": "{guilds.real}"}}),
        ["'status.text'", "{guilds.real}", "only {guilds}, {users}, {commands}"],
    ),
    ("status.text positional", json.dumps({"status": {"text": "{}"}}), ["'status.text'", "positional"]),
    (
        "shard_count 1000000",
        json.dumps({"sharding": {"shard_count": 1_000_000}}),
        ["'sharding.shard_count'", "16,384"],
    ),
    (
        "prefix bidi override",
        json.dumps({"prefix": "\u202e!"}),
        ["'prefix'", "visible characters only", "U+202E RIGHT-TO-LEFT OVERRIDE"],
    ),
    ("prefix zero-width", json.dumps({"prefix": "\u200b"}), ["'prefix'", "U+200B ZERO WIDTH SPACE"]),
    ("prefix isolate", json.dumps({"prefix": "\u2066!\u2069"}), ["'prefix'", "U+2066 LEFT-TO-RIGHT ISOLATE"]),
    ("prefix NUL", json.dumps({"prefix": "!\u0000"}), ["'prefix'", "visible characters only", "U+0000"]),
]


@pytest.mark.parametrize("mode", ["check-config", "start"])
@pytest.mark.parametrize(("content", "fragments"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_a_bad_file_exits_78_names_the_key_and_stays_byte_identical(
    tmp_path: Path, mode: str, content: str, fragments: list[str]
) -> None:
    config = tmp_path / "config.json"
    config.write_bytes(content.encode("utf-8"))
    before = config.read_bytes()

    args = ("--check-config", "--sandbox") if mode == "check-config" else ("--headless", "--sandbox")
    result = run_cli(tmp_path, *args)

    assert result.returncode == 78, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    # What the terminal shows is escaped: no raw bidi, zero-width or NUL character reaches it.
    assert not any(ch in result.stderr for ch in "\u202e\u200b\u2066\0")
    assert len(result.stderr) < 2000  # values are clipped, not reprinted
    assert config.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]  # no log folder, no database


def test_check_config_lists_every_problem_at_once(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        '{"prefix": "\\u200b", "cooldowns": {"default_per": NaN}, "status": {"text": "{members} here"}}'
    )
    before = config.read_bytes()
    for args in (("--check-config", "--sandbox"), ("--headless", "--sandbox")):
        result = run_cli(tmp_path, *args)
        assert result.returncode == 78
        assert "config.json has 3 problems; the file was left unchanged:" in result.stderr
        lines = [line for line in result.stderr.splitlines() if line.startswith("  - config key")]
        assert [line.split("'")[1] for line in lines] == ["prefix", "status.text", "cooldowns.default_per"]
        assert "Traceback" not in result.stderr
        assert config.read_bytes() == before


def test_config_errors_holds_every_problem_and_stays_a_config_value_error() -> None:
    with pytest.raises(ConfigValueError) as caught:
        parse_config(
            {"prefix": 5, "owner_ids": [1, "x", 2**63], "logging": {"level": "LOUD", "backup_count": -1}}
        )
    error = caught.value
    assert isinstance(error, ConfigErrors)
    assert [e.key for e in error.errors] == [
        "prefix",
        "owner_ids[1]",
        "owner_ids[2]",
        "logging.level",
        "logging.backup_count",
    ]
    assert (error.key, error.value) == ("prefix", 5)
    assert str(error).splitlines() == [str(e) for e in error.errors]


def test_a_failed_key_does_not_cause_a_second_report_about_a_rule_that_depends_on_it() -> None:
    with pytest.raises(ConfigErrors) as caught:
        parse_config({"cache": {"members": "everyone", "chunk_guilds_at_startup": True}})
    assert [e.key for e in caught.value.errors] == ["cache.members"]


# --- bounds -------------------------------------------------------------------------------------------


def set_at(raw: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    *parents, last = dotted.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return raw


@pytest.mark.parametrize(
    ("dotted", "largest", "too_large"),
    [
        ("database.backup_keep", 1000, 1001),
        ("logging.max_bytes", 10 * 1024**3, 10 * 1024**3 + 1),
        ("logging.backup_count", 1000, 1001),
        ("cooldowns.default_rate", 1000, 1001),
        ("cooldowns.default_per", 604800, 604800.5),
        ("storage.cache_ttl", 86400, 86401),
        ("replies.delete_after", 86400, 86400.1),
        ("sharding.shard_count", 16384, 16385),
        ("cache.max_messages", 100_000, 100_001),
        ("status.text", "x" * 128, "x" * 129),
        ("owner_ids", [2**63 - 1], [2**63]),
        ("extensions.blacklist", ["x"] * 1000, ["x"] * 1001),
        (
            "command_permissions",
            {f"c{i}": ["Mod"] for i in range(1000)},
            {f"c{i}": ["Mod"] for i in range(1001)},
        ),
        ("command_permissions", {"ban": list(range(1, 251))}, {"ban": list(range(1, 252))}),
        ("command_permissions", {"ban": ["r" * 100]}, {"ban": ["r" * 101]}),
        ("command_permissions", {"b" * 100: ["Mod"]}, {"b" * 101: ["Mod"]}),
    ],
)
def test_every_count_and_size_has_an_upper_bound(dotted: str, largest: Any, too_large: Any) -> None:
    parse_config(set_at({}, dotted, largest))
    with pytest.raises(ConfigValueError) as caught:
        parse_config(set_at({}, dotted, too_large))
    assert caught.value.key.startswith(dotted.split(".")[0]), caught.value
    assert "at most" in str(caught.value)


@pytest.mark.parametrize("dotted", ["cooldowns.default_per", "storage.cache_ttl", "replies.delete_after"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 10**400])
def test_seconds_are_finite_everywhere(dotted: str, value: float) -> None:
    with pytest.raises(ConfigValueError, match=rf"'{dotted}'.*a number of seconds"):
        parse_config(set_at({}, dotted, value))


def test_zero_seconds_only_where_it_means_something() -> None:
    assert parse_config({"replies": {"delete_after": 0}}).replies.delete_after == 0.0
    assert (
        parse_config({"storage": {"cache_ttl": 0}}).cache_ttl == 0.0
    )  # 0 = no caching, as the handler has it
    with pytest.raises(ConfigValueError, match=r"'cooldowns\.default_per'.*greater than 0"):
        parse_config({"cooldowns": {"default_per": 0}})


def test_ids_in_quotes_are_ascii_digits_only() -> None:
    assert parse_config({"owner_ids": ["123", 456]}).owner_ids == (123, 456)
    # "²" and "٣" are digits to str.isdigit() but int() refuses them: a message, not a crash.
    for odd in ("²", "٣", "9" * 5000):
        with pytest.raises(ConfigValueError, match=r"'owner_ids\[0\]'.*Discord id"):
            parse_config({"owner_ids": [odd]})
    assert parse_config({"command_permissions": {"ban": ["²"]}}).command_permissions == {"ban": ("²",)}


# --- the status template ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        ("{guilds} servers", "1234 servers"),
        ("{users:,} users in {guilds:,} servers", "56,789 users in 1,234 servers"),
        ("{{commands}} = {commands:>4}", "{commands} =   42"),
        ("no fields at all", "no fields at all"),
    ],
)
def test_status_templates_with_known_fields_are_accepted(template: str, rendered: str) -> None:
    text = parse_config({"status": {"text": template}}).status.text
    assert render_status_text(text, guilds=1234, users=56789, commands=42) == rendered


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("guilds}", "braces do not match"),
        ("{0} servers", "positional"),
        ("{guilds[0]}", "{guilds[0]} reaches into a field"),
        ("{guilds!r}", "conversion"),
        ("{guilds:s}", "does not format a count"),
        ("{guilds:{users}}", "field inside its format"),
        ("{guilds:>1000000000}", "width above 128"),
        ("{Guilds}", "{Guilds} is not a field"),
    ],
)
def test_status_templates_are_checked_against_the_fields_that_exist(template: str, fragment: str) -> None:
    with pytest.raises(ConfigValueError) as caught:
        parse_config({"status": {"text": template}})
    message = str(caught.value)
    assert "'status.text'" in message and fragment in message, message
    assert "only {guilds}, {users}, {commands}" in message


# --- prefixes, paths, the extensions folder ----------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "found"),
    [
        ("\u061c!", "U+061C ARABIC LETTER MARK"),
        ("!\u200d", "U+200D ZERO WIDTH JOINER"),
        ("\ue000", "U+E000 (a private-use character)"),
        ("!\x7f", "U+007F (a control character)"),
    ],
)
def test_a_prefix_is_made_of_visible_characters(prefix: str, found: str) -> None:
    with pytest.raises(ConfigValueError) as caught:
        parse_config({"prefix": prefix})
    message = str(caught.value)
    assert "visible characters only" in message and found in message, message
    assert prefix not in message  # shown escaped


def test_a_prefix_cannot_start_with_a_combining_mark() -> None:
    with pytest.raises(
        ConfigValueError, match=r"visible characters only.*U\+0301 COMBINING ACUTE ACCENT at the start"
    ):
        parse_config({"prefix": "\u0301!"})
    assert parse_config({"prefix": "e\u0301!"}).prefix == "e\u0301!"  # attached to a letter, it is visible


def test_visible_prefixes_are_still_welcome() -> None:
    for prefix in ("!", "?", "é!", "bot.", "∆", "!!"):
        assert parse_config({"prefix": prefix}).prefix == prefix
    with pytest.raises(ConfigValueError, match=r"without spaces.*U\+00A0 NO-BREAK SPACE"):
        parse_config({"prefix": "!\u00a0"})


@pytest.mark.parametrize("key", ["database.path", "logging.directory", "extensions.directory"])
@pytest.mark.parametrize("value", ["", "  ", "a\nb", "a\0b", "x" * 4097, 7])
def test_paths_are_short_printable_text(key: str, value: Any) -> None:
    with pytest.raises(
        ConfigValueError, match=rf"'{key}'.*a path: non-empty text without control characters"
    ):
        parse_config(set_at({}, key, value))


@pytest.mark.parametrize("folder", ["./my-extensions", "2extensions", "class", "extensiöns", "plugins/"])
def test_the_extensions_folder_must_be_importable_as_a_package(folder: str) -> None:
    if folder == "plugins/":  # a trailing slash is fine: the package is the last component
        assert parse_config({"extensions": {"directory": folder}}).extensions.directory == folder
        return
    with pytest.raises(ConfigValueError, match=r"'extensions\.directory'.*Python identifier"):
        parse_config({"extensions": {"directory": folder}})


# --- loading safely ------------------------------------------------------------------------------------


def test_values_in_messages_are_clipped(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps({"status": {"text": "y" * 100_000}, "extensions": {"blacklist": ["z"] * 5000}})
    )
    with pytest.raises(ConfigFileError) as caught:
        ConfigStore.load(path)
    message = str(caught.value)
    assert "'status.text'" in message and "'extensions.blacklist'" in message
    assert len(message) < 1000 and "..." in message


def test_thousands_of_unknown_keys_give_a_short_report(tmp_path: Path) -> None:
    raw = {f"key{i}": i for i in range(10_000)} | {"prefx": "?", "k" * 100_000: 1}
    warnings = unknown_keys(raw)
    assert len(warnings) == 51 and warnings[-1] == "... and 9,952 more"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    assert len(ConfigStore.load(path).warnings) == 51


# --- ConfigStore.set refuses the same values with the same messages -----------------------------------


@pytest.mark.parametrize(
    ("dotted", "value"),
    [
        ("cooldowns.default_per", float("nan")),
        ("storage.cache_ttl", float("inf")),
        ("logging.backup_count", 10**30),
        ("status.text", "{members}"),
        ("sharding.shard_count", 1_000_000),
        ("prefix", "\u202e!"),
        ("database.path", "a\0b"),
        ("extensions.directory", "./my-extensions"),
    ],
)
async def test_set_refuses_what_loading_refuses_with_the_same_message(
    tmp_path: Path, dotted: str, value: Any
) -> None:
    store = ConfigStore.load(tmp_path / "config.json")
    before = store.path.read_bytes()
    model = store.model
    with pytest.raises(ConfigValueError) as refused:
        await store.set(dotted, value)
    assert store.path.read_bytes() == before and store.model is model
    assert not store.backup_path.exists()

    on_disk = tmp_path / "other.json"
    on_disk.write_text(json.dumps(set_at({}, dotted, value)))
    with pytest.raises(ConfigFileError) as loaded:
        ConfigStore.load(on_disk)
    assert str(refused.value) in str(loaded.value)


async def test_set_survives_values_that_cannot_be_copied_or_written(tmp_path: Path) -> None:
    store = ConfigStore.load(tmp_path / "config.json")
    before = store.path.read_bytes()
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(ConfigValueError, match=r"'status\.text\[0\]\[0\].*at most 20 levels"):
        await store.set("status.text", deep)
    with pytest.raises(ConfigValueError, match=r"'database\.backup_keep'.*about 5,000 digits"):
        await store.set("database.backup_keep", 10**5000)
    with pytest.raises(ConfigValueError, match=r"'notes'.*a JSON value"):
        await store.set("notes", {1, 2})
    assert store.path.read_bytes() == before
    assert (await store.set("status.text", "{guilds:,} servers")).status.text == "{guilds:,} servers"


# --- the same rule for a server's own prefix, end to end -------------------------------------------------


async def test_setprefix_refuses_invisible_characters(harness: BotHarness) -> None:
    world = harness.sandbox.world
    guild = next(iter(world.guilds.values()))
    admin = Role(world.snowflakes(), "Admin", discord.Permissions(administrator=True).value, position=1)
    guild.roles[admin.id] = admin
    carol = User(world.snowflakes(), "carol", "Carol")
    world.users[carol.id] = carol
    guild.members[carol.id] = Member(carol, [admin.id])
    bot = await harness.start(replies={"delete_after": 0})

    for prefix, found in (
        ("\u202e!", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("\u200b", "U+200B ZERO WIDTH SPACE"),
    ):
        await harness.sandbox.send_message("carol", "general", f"!setprefix {prefix}")
        reply = await harness.sandbox.wait_for_bot_message(channel="general", timeout=10)
        embed = reply.embeds[0]
        assert embed["title"] == "❌ Invalid prefix"
        assert embed["description"] == f"The prefix must be visible characters only: it contains {found}."
    assert await bot.db.get_guild_prefix(guild.id) is None
