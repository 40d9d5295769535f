"""One redaction boundary: no secret leaves the process, whichever way out an extension takes.

Messages, embeds, components and interaction replies (the bot's HTTP layer), `!extensions` (a short
summary for everyone, the traceback for the owner), stdout/stderr/warnings/uncaught exceptions of a
real `tui-bot --headless` process and its log files, and the console's Extensions pane, notifications
and captured prints.

Most bot tests here log in with a token that is *not* shaped like a Discord token, so only the boundary's
knowledge of the secret (learnt at login) can hide it, not the token-shaped pattern.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from console_harness import console  # noqa: F401 - console is a fixture
from helpers.waiting import wait_until
from textual.widgets import DataTable, Static

from tui_bot.config.env import read_env
from tui_bot.config.model import LoggingConfig
from tui_bot.logs.redaction import REDACTED, SecretRedactor
from tui_bot.logs.setup import configure_logging
from tui_bot.sandbox import Sandbox, demo_world
from tui_bot.sandbox.world import SANDBOX_TOKEN
from tui_bot.tui.connection import ConnectionState
from tui_bot.tui.log_buffer import BufferedLogHandler
from tui_bot.tui.panes import ExtensionsPane

if TYPE_CHECKING:
    from conftest import BotHarness

# Not token-shaped: the pattern would not catch it, only the secret learnt at login does.
PLAIN_TOKEN = "plain-bot-token-for-redaction-tests-0123456789"

LEAKY_SETUP = """
async def setup(bot):
    raise RuntimeError(f"could not start with token {bot.http.token}")
"""

TALKER = """
import io

import discord
from discord import app_commands
from discord.ext import commands


class Talker(commands.Cog):
    def __init__(self, bot):
        self.bot = bot
        self.sent_embed = None

    @commands.command()
    async def leak(self, ctx):
        token = self.bot.http.token
        embed = discord.Embed(title=f"title {token}", description=f"description {token}")
        embed.add_field(name=f"field {token}", value=f"value {token}")
        embed.set_footer(text=f"footer {token}")
        embed.set_author(name=f"author {token}")
        view = discord.ui.View()
        view.add_item(discord.ui.Button(label=f"label {token}"[:80], custom_id="leak-button"))
        self.sent_embed = embed
        message = await ctx.send(f"content {token}", embed=embed, view=view)
        await message.edit(content=f"edited {token}")

    @commands.command()
    async def leakfile(self, ctx):
        data = discord.File(io.BytesIO(b"attached"), filename="notes.txt")
        await ctx.send(f"with a file {self.bot.http.token}", file=data)

    @app_commands.command(name="leakslash", description="Answer with the token")
    async def leakslash(self, interaction):
        token = self.bot.http.token
        await interaction.response.send_message(f"reply {token}", embed=discord.Embed(description=token))
        await interaction.followup.send(f"followup {token}")


async def setup(bot):
    await bot.add_cog(Talker(bot))
"""


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """The demo world, its bot logging in with PLAIN_TOKEN (overrides conftest's fixture here)."""
    world = demo_world()
    world.tokens = {PLAIN_TOKEN: world.application.bot_id}
    async with Sandbox(world) as server:
        server.point_discord_py_here()
        yield server


def all_text(*parts: Any) -> str:
    return json.dumps(parts, default=str)


async def say(harness: BotHarness, author: str, content: str) -> Any:
    await harness.sandbox.send_message(author, "general", content)
    return await harness.sandbox.wait_for_bot_message(channel="general", timeout=10)


# -- what the bot sends -----------------------------------------------------------------------------


async def test_a_token_sent_in_content_embeds_components_and_edits_arrives_redacted(
    harness: BotHarness,
) -> None:
    harness.write_extension("talker", TALKER)
    bot = await harness.start()
    assert bot.http.token == PLAIN_TOKEN

    message = await say(harness, "bob", "!leak")
    assert message.content == f"content {REDACTED}"
    embed = message.embeds[0]
    assert embed["title"] == f"title {REDACTED}" and embed["description"] == f"description {REDACTED}"
    assert (
        embed["fields"][0]["name"] == f"field {REDACTED}"
        and embed["fields"][0]["value"] == f"value {REDACTED}"
    )
    assert embed["footer"]["text"] == f"footer {REDACTED}" and embed["author"]["name"] == f"author {REDACTED}"
    assert message.components[0]["components"][0]["label"] == f"label {REDACTED}"
    edited = await harness.sandbox.wait_for_event("message_update", timeout=10)
    assert edited.message is not None and edited.message.content == f"edited {REDACTED}"
    # The extension's own Embed object is untouched: the boundary copies what it changes.
    assert bot.get_cog("Talker").sent_embed.title == f"title {PLAIN_TOKEN}"  # type: ignore[union-attr]

    # A message with a file is sent as multipart: its payload_json is redacted too.
    with_file = await say(harness, "bob", "!leakfile")
    assert with_file.content == f"with a file {REDACTED}" and with_file.attachments

    # Interaction responses and follow-ups go through discord.py's webhook adapter, not bot.http.
    await bot.tree.sync()
    handle = await harness.sandbox.invoke_slash("bob", "general", "leakslash")
    response = await handle.response()
    assert response.content == f"reply {REDACTED}" and response.embeds[0]["description"] == REDACTED
    assert (await handle.wait_for_followup(timeout=10)).content == f"followup {REDACTED}"

    assert PLAIN_TOKEN not in all_text([vars(m) for m in harness.sandbox.sent_messages])


async def test_extensions_shows_members_a_redacted_summary_and_the_owner_the_redacted_traceback(
    harness: BotHarness,
) -> None:
    # One request per user (the command's cooldown is 1 per 10 s): alice is a second bot owner.
    harness.write_extension("leaky", LEAKY_SETUP)
    alice = harness.sandbox.world.find_user("alice").id
    bot = await harness.start(owner_ids=[alice])

    listing = (await say(harness, "bob", "!extensions")).embeds[0]["description"]
    assert listing.splitlines() == [
        "🔴 `leaky` failed",
        f"  last error: RuntimeError: could not start with token {REDACTED}",
    ]
    assert "Traceback" not in listing

    await harness.sandbox.add_member(None, "carol")
    refused = (await say(harness, "carol", "!extensions leaky")).embeds[0]
    assert refused["title"] == "❌ Bot owner only" and "Traceback" not in refused["description"]

    detail = (await say(harness, "operator", "!extensions leaky")).embeds[0]["description"]
    assert "Traceback (most recent call last)" in detail and 'raise RuntimeError(f"could not start' in detail
    assert f"RuntimeError: could not start with token {REDACTED}" in detail
    assert PLAIN_TOKEN not in detail

    await bot.tree.sync()
    handle = await harness.sandbox.invoke_slash("alice", "general", "extensions", options={"name": "leaky"})
    private = await handle.response()
    assert private.ephemeral and "Traceback" in private.embeds[0]["description"]

    # What the bot holds is the truth (the console and the log show it, redacted); only what leaves changes.
    assert PLAIN_TOKEN in (bot.extension_manager.states["leaky"].last_error or "")
    assert PLAIN_TOKEN not in all_text([vars(m) for m in harness.sandbox.sent_messages])


# -- stdout, stderr, warnings, uncaught exceptions and log files of a real process -----------------

HEADLESS_LEAKS = """
import asyncio
import sys
import threading
import warnings

from dotenv import dotenv_values


async def setup(bot):
    token = bot.http.token
    env = dotenv_values(".env")
    print("printed", token, env["ADMIN_TOKEN"], env["ARCHIVE_URL"])
    sys.stderr.write(f"to stderr {token}\\n")
    warnings.warn(f"warned {token}")

    def crash():
        raise RuntimeError(f"thread {token}")

    thread = threading.Thread(target=crash, name="leaky-thread")
    thread.start()
    thread.join()

    def callback():
        raise RuntimeError(f"callback {token}")

    asyncio.get_running_loop().call_soon(callback)
    print("leaks done", flush=True)
"""

ADMIN_TOKEN = "admin-secret-value-42"
ARCHIVE_PASSWORD = "pw-secret-123"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_headless_stdout_stderr_and_log_files_never_show_a_secret(tmp_path: Path) -> None:
    (tmp_path / "extensions").mkdir()
    (tmp_path / "extensions" / "leaks.py").write_text(textwrap.dedent(HEADLESS_LEAKS))
    (tmp_path / ".env").write_text(
        f"ADMIN_TOKEN={ADMIN_TOKEN}\nARCHIVE_URL=https://bot:{ARCHIVE_PASSWORD}@archive.example/bot\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "BOT_OWNER"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_bot", "--headless", "--sandbox"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if "Connected as" in line:
                break
        proc.send_signal(signal.SIGTERM)
        rest, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stdout = "".join(seen) + rest
    logs = {path.name: path.read_text() for path in (tmp_path / "botlogs").glob("*.log")}
    assert proc.returncode == 0, stdout + stderr

    for where, text in {"stdout": stdout, "stderr": stderr, **logs}.items():
        for secret in (SANDBOX_TOKEN, ADMIN_TOKEN, ARCHIVE_PASSWORD):
            assert secret not in text, (where, secret)
    assert f"printed {REDACTED} {REDACTED} https://bot:{REDACTED}@archive.example/bot" in stdout
    assert "leaks done" in stdout
    assert f"to stderr {REDACTED}" in stderr
    for text in (stdout, logs["current_run.log"]):
        assert f"UserWarning: warned {REDACTED}" in text  # warnings are logged (py.warnings)
        assert "Uncaught exception in thread" in text and f"RuntimeError: thread {REDACTED}" in text
        assert f"RuntimeError: callback {REDACTED}" in text  # the event loop's exception handler


UNCAUGHT = """
import threading
from tui_bot.logs.setup import install_redaction_boundary

install_redaction_boundary(["%(secret)s"])

def crash():
    raise RuntimeError("thread %(secret)s")

thread = threading.Thread(target=crash)
thread.start()
thread.join()
print("printed %(secret)s", flush=True)
raise RuntimeError("main %(secret)s")
"""


def test_uncaught_exceptions_without_logging_reach_stderr_redacted(tmp_path: Path) -> None:
    # Before logging is set up, or after it is closed, the hooks' records fall through to stderr.
    secret = "a-secret-that-is-not-token-shaped"
    done = subprocess.run(
        [sys.executable, "-c", UNCAUGHT % {"secret": secret}],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert secret not in done.stdout + done.stderr
    assert done.stdout == f"printed {REDACTED}\n"
    assert f"RuntimeError: thread {REDACTED}" in done.stderr
    assert f"RuntimeError: main {REDACTED}" in done.stderr
    assert done.stderr.count("Traceback (most recent call last)") == 2


# -- secrets the framework knows, and the console's log pane -----------------------------------------


def test_env_secrets_other_than_the_token_are_known(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "DISCORD_TOKEN=the-bot-token-value\nBOT_OWNER_ID=42\nADMIN_TOKEN=admin-value-123\n"
        "STATS_URL=postgresql://bot:db-password-9@db/bot\nGREETING=hello everyone\n"
    )
    environ = {
        "DATABASE_URL": "postgresql://u:env-password-7@db/x",
        "WEBHOOK_SECRET": "hook-secret-5",
        "PATH": "/bin",
    }
    secrets = read_env(env_file, require_secrets=True, environ=environ)
    assert set(secrets.values_to_redact()) == {
        "the-bot-token-value",
        "admin-value-123",
        "db-password-9",
        "env-password-7",
        "hook-secret-5",
    }
    assert "admin-value-123" not in repr(secrets)


def test_the_consoles_log_handler_gets_redacted_records_and_tracebacks(tmp_path: Path) -> None:
    # run_console configures logging exactly so: the Logs pane and its notifications read this handler.
    handler = BufferedLogHandler()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    session = configure_logging(
        LoggingConfig(directory=str(tmp_path)), secrets=["console-secret-value"], extra_handlers=[handler]
    )
    try:
        log = logging.getLogger("tui_bot.test")
        log.error("failed with %s", "console-secret-value")
        try:
            raise ValueError("console-secret-value")
        except ValueError:
            log.exception("boom")
    finally:
        session.close()
        root.handlers[:] = handlers
        root.setLevel(level)
    entries = handler.drain()
    assert [entry.first_line for entry in entries] == [f"failed with {REDACTED}", "boom"]
    assert f"ValueError: {REDACTED}" in entries[1].text
    assert "console-secret-value" not in all_text([entry.text for entry in entries])


def test_redactor_leaves_clean_text_and_data_untouched() -> None:
    redactor = SecretRedactor(["secret-value-1"])
    text = "nothing to see. here"
    assert redactor.redact(text) is text
    payload = {"content": "hi", "embeds": [{"fields": [{"name": "a", "value": "b"}]}]}
    assert redactor.redact_data(payload) is payload
    leaking: dict[str, Any] = {
        "content": "hi",
        "embeds": [{"fields": [{"name": "a", "value": "x secret-value-1"}]}],
    }
    clean = redactor.redact_data(leaking)
    assert clean["embeds"][0]["fields"][0]["value"] == f"x {REDACTED}"
    assert leaking["embeds"][0]["fields"][0]["value"] == "x secret-value-1"
    assert clean["content"] is leaking["content"]


# -- the console ------------------------------------------------------------------------------------------


async def test_console_extensions_pane_notifications_and_prints_are_redacted(
    console: Any,  # noqa: F811
    capfd: pytest.CaptureFixture[str],
) -> None:
    console.write_extension("leaky", LEAKY_SETUP)
    app = console.build()
    # Like console_harness.running, with the toasts on screen (run_test hides them by default).
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await wait_until(lambda: app.connection is ConnectionState.READY)
        token = app.runtime.sandbox.token
        await pilot.press("4")
        pane = app.query_one(ExtensionsPane)
        table = pane.query_one(DataTable)
        await wait_until(lambda: table.row_count == 1)
        cell = str(table.get_row("leaky")[4])
        assert cell.startswith("RuntimeError: could not start with token [RED")
        detail = str(pane.query_one("#extension-detail-text", Static).render())
        assert "Traceback (most recent call last)" in detail
        assert f"RuntimeError: could not start with token {REDACTED}" in detail
        assert token not in cell + detail

        # The start-up failure (from the log) and the operator's failed reload are notified, redacted.
        await pilot.press("r")
        await wait_until(lambda: any("load leaky failed" in m for m in app.errors_notified()))
        await pilot.pause()
        toasts = [str(toast.render()) for toast in app.screen.query("Toast")]
        assert len([text for text in toasts if f"could not start with token {REDACTED}" in text]) == 2, toasts
        assert token not in "".join(toasts)

        # While the app runs, Textual captures print(): what it passes on is redacted.
        print(f"printed {token}")
        assert sys.__stdout__ is not None
        sys.__stdout__.flush()
        await app.runtime.stop()
        await wait_until(lambda: app.connection is ConnectionState.DISCONNECTED)
    captured = capfd.readouterr()
    assert f"printed {REDACTED}" in captured.out
    assert token not in captured.out + captured.err
