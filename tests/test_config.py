"""config.json: generation, validation, atomic saves, dotted keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui_bot.config import BotConfig, ConfigFileError, ConfigStore, ConfigValueError
from tui_bot.config.model import OPTIONAL_KEYS
from tui_bot.config.validation import parse_config

EXPECTED_DEFAULTS = {
    "prefix": "!",
    "owner_ids": [],
    "auto_reload": True,
    "status": {"type": "watching", "text": "{guilds} servers"},
    "database": {"path": "./data/bot.db"},
    "logging": {"level": "INFO", "max_bytes": 10485760, "backup_count": 5},
    "extensions": {"auto_load": True, "blacklist": []},
    "cooldowns": {"default_rate": 3, "default_per": 5.0},
    "command_permissions": {},
}


def test_first_run_generates_exactly_the_default_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    store = ConfigStore.load(path)
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert on_disk == EXPECTED_DEFAULTS
    # Same types too: 5.0 stays a float, 3 an int, true a bool.
    assert isinstance(on_disk["cooldowns"]["default_per"], float)
    assert on_disk["auto_reload"] is True
    assert store.created and store.warnings == []
    assert store.model.prefix == "!"
    assert store.model.database.path == "./data/bot.db"


def test_a_generated_file_loads_again_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    ConfigStore.load(path)
    before = path.read_bytes()
    again = ConfigStore.load(path)
    assert not again.created
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("content", "expected_fragments"),
    [
        ('{"prefix": "!",, }', ["not valid JSON", "line 1, column 16"]),
        ('{\n  "prefix": "!"\n  "owner_ids": []\n}', ["not valid JSON", "line 3, column 3"]),
        ("", ["not valid JSON", "line 1, column 1"]),
    ],
)
def test_invalid_json_is_reported_with_line_and_column_and_never_overwritten(
    tmp_path: Path, content: str, expected_fragments: list[str]
) -> None:
    path = tmp_path / "config.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigFileError) as caught:
        ConfigStore.load(path)
    for fragment in expected_fragments:
        assert fragment in str(caught.value)
    assert path.read_text(encoding="utf-8") == content
    assert not (tmp_path / "config.json.bak").exists()


@pytest.mark.parametrize(
    ("key_path", "value", "message_fragments"),
    [
        (["prefix"], 5, ["'prefix'", "5", "1 to 5 characters"]),
        (["prefix"], "too-long", ["'prefix'", '"too-long"', "1 to 5 characters"]),
        (["prefix"], "a b", ["'prefix'", "without spaces"]),
        (["auto_reload"], "yes", ["'auto_reload'", '"yes"', "true or false"]),
        (["owner_ids"], [123, "abc"], ["'owner_ids[1]'", '"abc"', "Discord id"]),
        (["owner_ids"], 123, ["'owner_ids'", "list of Discord user ids"]),
        (["status", "type"], "streaming", ["'status.type'", '"streaming"', '"playing"', '"competing"']),
        (["logging", "level"], "LOUD", ["'logging.level'", '"LOUD"', '"DEBUG"']),
        (["logging", "max_bytes"], -1, ["'logging.max_bytes'", "-1", "at least 1024"]),
        (["logging", "backup_count"], 2.5, ["'logging.backup_count'", "2.5", "whole number"]),
        (["cooldowns", "default_rate"], 0, ["'cooldowns.default_rate'", "at least 1"]),
        (["cooldowns", "default_per"], "5", ["'cooldowns.default_per'", "greater than 0"]),
        (["extensions", "blacklist"], "debug_cog", ["'extensions.blacklist'", "list of extension names"]),
        (["extensions", "auto_load"], 1, ["'extensions.auto_load'", "true or false"]),
        (["database", "path"], "", ["'database.path'", "non-empty text"]),
        (["command_permissions"], {"ban": "Moderator"}, ["'command_permissions.ban'", "list of role names"]),
        (["status"], "watching", ["'status'", "an object"]),
        (["sharding"], {"shard_count": 0}, ["'sharding.shard_count'", '"auto"', "at least 1"]),
    ],
)
def test_wrong_type_or_value_names_key_value_and_expectation_and_leaves_file(
    tmp_path: Path, key_path: list[str], value: object, message_fragments: list[str]
) -> None:
    raw = json.loads(json.dumps(EXPECTED_DEFAULTS))
    node = raw
    for part in key_path[:-1]:
        node = node[part]
    node[key_path[-1]] = value
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw, indent=2), encoding="utf-8")
    before = path.read_bytes()

    with pytest.raises(ConfigFileError) as caught:
        ConfigStore.load(path)
    message = str(caught.value)
    for fragment in message_fragments:
        assert fragment in message, message
    assert "left unchanged" in message
    assert path.read_bytes() == before


def test_unknown_keys_are_warnings_with_a_hint_not_errors(tmp_path: Path) -> None:
    raw = dict(EXPECTED_DEFAULTS, prefx="?", status={"type": "playing", "text": "hi", "colour": "red"})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    store = ConfigStore.load(path)
    assert store.model.status.type == "playing"
    joined = "\n".join(store.warnings)
    assert "prefx (did you mean 'prefix'?)" in joined
    assert "status.colour" in joined


def test_missing_keys_take_their_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"prefix": "?"}', encoding="utf-8")
    model = ConfigStore.load(path).model
    assert model.prefix == "?"
    assert model.cooldowns.default_rate == 3
    assert model.logging.max_bytes == 10485760
    assert model.extensions.directory == "./extensions"
    assert path.read_text(encoding="utf-8") == '{"prefix": "?"}'


def test_the_dataclass_defaults_are_the_only_defaults() -> None:
    # An empty file, the generated file and the model built with no arguments are the same settings;
    # the keys a fresh file leaves out have the model's defaults too.
    assert parse_config({}) == parse_config(json.loads(json.dumps(EXPECTED_DEFAULTS))) == BotConfig()
    model = BotConfig()
    assert OPTIONAL_KEYS["storage.cache_ttl"] == model.cache_ttl == 300.0
    assert OPTIONAL_KEYS["cache.max_messages"] == model.cache.max_messages == 100
    assert set(OPTIONAL_KEYS).isdisjoint(
        f"{s}.{k}" for s, v in EXPECTED_DEFAULTS.items() if isinstance(v, dict) for k in v
    )


def test_optional_keys_are_understood() -> None:
    raw = dict(
        EXPECTED_DEFAULTS,
        discord={"api_base": "http://127.0.0.1:8080/api/v10/", "gateway_url": "ws://127.0.0.1:8080/gateway"},
        storage={"cache_ttl": 60},
        command_permissions={"Ban": ["Moderator", 1234, "5678"]},
    )
    model = parse_config(raw)
    assert model.discord.api_base == "http://127.0.0.1:8080/api/v10"
    assert model.cache_ttl == 60.0
    assert model.command_permissions == {"ban": ("Moderator", 1234, 5678)}
    with pytest.raises(ConfigValueError, match=r"discord\.gateway_url"):
        parse_config(dict(raw, discord={"gateway_url": "http://x"}))


async def test_set_by_dotted_key_saves_atomically_and_keeps_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    store = ConfigStore.load(path)
    original = path.read_bytes()

    model = await store.set("status.type", "playing")
    assert model.status.type == "playing"
    assert store.get("status.type") == "playing"
    assert json.loads(path.read_text())["status"] == {"type": "playing", "text": "{guilds} servers"}
    assert (tmp_path / "config.json.bak").read_bytes() == original

    await store.set("prefix", "?")
    assert json.loads((tmp_path / "config.json.bak").read_text())["status"]["type"] == "playing"
    assert ConfigStore.load(path).model.prefix == "?"
    # No temporary files are left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "config.json.bak"]


async def test_set_rejects_a_bad_value_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    store = ConfigStore.load(path)
    before = path.read_bytes()
    with pytest.raises(ConfigValueError, match=r"status\.type"):
        await store.set("status.type", "dancing")
    assert path.read_bytes() == before
    assert store.model.status.type == "watching"
    assert store.get("status.type") == "watching"
    assert store.get("no.such.key", "fallback") == "fallback"
