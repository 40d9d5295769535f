"""The README's extension examples, copied from README.md as written, loaded into a bot on the sandbox."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers.postgres import fresh_database

if TYPE_CHECKING:
    from conftest import BotHarness

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_extensions() -> dict[str, str]:
    """Every ```python block of the README that is a whole extension (has ``async def setup``), by cog."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    extensions = {}
    for block in blocks:
        if "async def setup(bot)" in block:
            cog = re.search(r"^class (\w+)\(commands\.Cog\)", block, flags=re.MULTILINE)
            assert cog is not None, block
            extensions[cog.group(1)] = block
    return extensions


def test_the_readme_has_the_examples_this_file_tests() -> None:
    assert set(readme_extensions()) == {"Greeter", "Notes"}


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_readme_extensions_work_as_written(
    harness: BotHarness,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    engine: str,
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        database = (
            {"url": await stack.enter_async_context(fresh_database())} if engine == "postgresql" else {}
        )
        try:
            await _run_the_readme_extensions(harness, tmp_path, monkeypatch, database)
        finally:
            await harness.stop()  # before the database is dropped: the usage counts are saved on close


async def _run_the_readme_extensions(
    harness: BotHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: dict[str, str]
) -> None:
    monkeypatch.chdir(tmp_path)  # the examples write to ./data/
    for cog, source in readme_extensions().items():
        harness.write_extension(cog.lower(), source)
    bot = await harness.start(cooldowns={"default_rate": 100, "default_per": 1}, database=database)
    sb = harness.sandbox
    guild_id = bot.guilds[0].id
    assert {"greeter", "notes"} <= set(bot.extension_manager.states)

    async def reply_to(author: str, content: str):  # type: ignore[no-untyped-def]
        await sb.send_message(author, "general", content)
        return await sb.wait_for_bot_message(timeout=10, check=lambda m: m.webhook_id is None)

    assert (await reply_to("alice", "!hello")).content == "Hello, Alice!"

    noted = await reply_to("alice", "!note buy milk")
    assert noted.embeds[0]["title"] == "✅ Noted" and noted.embeds[0]["description"] == "1 note(s) here."
    notes_file = tmp_path / "data" / f"notes_{guild_id}.json"
    assert json.loads(notes_file.read_text()) == [
        {"author": sb.world.find_user("alice").id, "text": "buy milk"}
    ]

    assert (await reply_to("bob", "!visit")).content == "Visit number 1."
    assert (await reply_to("bob", "!visit")).content == "Visit number 2."
    bob = sb.world.find_user("bob").id
    assert await bot.db.fetch("SELECT user_id, visits FROM note_visits") == [{"user_id": bob, "visits": 2}]

    busy = (await reply_to("bob", "!busy")).content
    assert re.fullmatch(r"\d+ commands and \d+ messages so far\.", busy)

    await bot.tree.sync()
    response = await (await sb.invoke_slash("alice", "general", "hello")).response()
    assert response.content == "Hello, Alice!"
    response = await (await sb.invoke_slash("bob", "general", "note", text="second")).response()
    assert response.embeds[0]["description"] == "2 note(s) here."

    # The button follows the "note" command's rules: restricted to Moderators, bob is refused.
    await reply_to("operator", "!config note Moderator")
    menu = await reply_to("operator", "!notesmenu")
    # discord.py registers a view once the send has returned; one more round trip makes sure it has.
    assert (await reply_to("operator", "!hello")).content == "Hello, Operator!"
    refused = await (await sb.click_button("bob", menu, label="Clear notes")).response()
    assert refused.ephemeral and "Moderator" in refused.embeds[0]["description"]
    assert len(json.loads(notes_file.read_text())) == 2
    cleared = await (await sb.click_button("alice", menu, label="Clear notes")).response()
    assert cleared.ephemeral and cleared.content == "Notes cleared."
    assert json.loads(notes_file.read_text()) == []
