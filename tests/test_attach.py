"""``tui-bot attach``: the console of a bot running in another process, through its admin endpoint.

The bot is ``python -m tui_bot --sandbox --headless`` in a folder made by ``tui-bot init``, as an operator
runs it; the consoles are the real attached console (``make_attached_console``, as ``tui-bot attach``
builds it) driven by Textual's pilot in this process, or ``python -m tui_bot attach`` itself where its exit
code and its one line matter. What the bot did is read from its own output, never from the client.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import stat
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from console_harness import GREETER, RecordingConsoleApp, console  # noqa: F401 - console is a fixture
from helpers.bot_process import BotProcess, child_environment, free_port, new_bot_folder
from helpers.postgres import postgres_url  # noqa: F401 - a fixture
from helpers.waiting import wait_until
from textual.widgets import DataTable, Static

from tui_bot.config.validation import parse_config
from tui_bot.runtime.admin import AdminClient, AdminRefused, Target, socket_path
from tui_bot.runtime.admin.log_stream import ClientLogQueue
from tui_bot.runtime.admin.socket_file import AdminSocketError, bind_private_socket, length_problem
from tui_bot.tui import make_attached_console
from tui_bot.tui.connection import ConnectionState
from tui_bot.tui.modals import SyncPlanScreen
from tui_bot.tui.panes import ClusterPane, ExtensionsPane, GuildsPane, LogsPane, StatusBar

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Unix sockets, SO_PEERCRED")
module_loop = pytest.mark.asyncio(loop_scope="module")

TOKEN = "attach-test-token-0123456789abcdef"
NOBODY = 65534
PROBE = """
import logging
import os

VERSION = {version}


async def setup(bot):
    logging.getLogger("tui_bot.probe").warning("probe version %d set up in pid %d", VERSION, os.getpid())
"""


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def bot() -> AsyncIterator[BotProcess]:
    folder = await new_bot_folder("attach-")
    port = free_port()
    config = {"auto_reload": False, "admin": {"tcp_port": port}}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with (folder / ".env").open("a", encoding="utf-8") as env:
        env.write(f"\nADMIN_TOKEN={TOKEN}\n")
    (folder / "extensions" / "probe.py").write_text(PROBE.format(version=1), encoding="utf-8")
    running = BotProcess(folder, port)
    try:
        await running.start()
        yield running
    finally:
        if running.running:
            await running.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def attach(bot: BotProcess) -> RecordingConsoleApp:
    """The console ``tui-bot attach data/admin.sock`` opens (connected, not yet running)."""
    client = AdminClient(Target(path=bot.socket))
    await client.connect()
    app = make_attached_console(client, app_class=RecordingConsoleApp)
    assert isinstance(app, RecordingConsoleApp)
    return app


def log_text(app: RecordingConsoleApp) -> str:
    return "\n".join(app.query_one(LogsPane).log_view.lines)


def notified(app: RecordingConsoleApp, start: str) -> bool:
    return any(message.startswith(start) for message, _severity in app.notified)


# Run as another user: the interpreter lives under /root (mode 0700), so the child imports what `tui-bot
# attach` needs as root, then gives up root for good (os.setuid) before it runs the command.
AS_USER = """
import encodings.utf_8_sig, os, sys
import tui_bot.attach_cli, tui_bot.cli, tui_bot.config, tui_bot.loop
import tui_bot.logs.streams, tui_bot.runtime.admin
os.setgroups([])
os.setgid({user})
os.setuid({user})
sys.exit(tui_bot.cli.main(sys.argv[1:]))
"""


async def run_attach(*arguments: str, cwd: Path, user: int | None = None, **env: str) -> tuple[int, str, str]:
    """``python -m tui_bot attach ARGUMENTS`` as an operator runs it (as ``user``, if given)."""
    start = ["-m", "tui_bot"] if user is None else ["-c", AS_USER.format(user=user)]
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, *start, "attach", *arguments],
        cwd=cwd,
        env=child_environment(HOME="/tmp", **env),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


# --- a console attached to the bot -------------------------------------------------------------------


@module_loop
async def test_an_attached_console_shows_the_bots_logs_guilds_and_extensions_and_reloads_in_the_bot(
    bot: BotProcess,
) -> None:
    app = await attach(bot)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(lambda: app.connection is ConnectionState.READY, what="ready", pilot=pilot)
        assert app.sub_title == f"attached to {bot.socket}"
        status = str(app.query_one(StatusBar).render())
        assert "ready" in status and "sandbox, attached" in status and "1 guild" in status
        # The bot's logs, from before this console attached on.
        await wait_until(
            lambda: "Extension example: load ok" in log_text(app), what="start-up lines", pilot=pilot
        )
        assert "tui_bot.bot: Connected as tui-bot" in log_text(app)

        await pilot.press("3")
        guilds = app.query_one(GuildsPane).query_one(DataTable)
        await wait_until(lambda: guilds.row_count == 1, what="the guild row", pilot=pilot)
        assert "Sandbox Guild" in [str(cell) for cell in guilds.get_row_at(0)]

        await pilot.press("4")
        table = app.query_one(ExtensionsPane).query_one(DataTable)
        await wait_until(lambda: table.row_count == 4, what="the extension rows", pilot=pilot)
        states = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(table.row_count)}
        assert states == {"example": "loaded", "fun": "loaded", "moderation": "loaded", "probe": "loaded"}

        # r on the probe row reloads it in the bot's process: its new version runs there.
        (bot.folder / "extensions" / "probe.py").write_text(PROBE.format(version=2), encoding="utf-8")
        table.move_cursor(row=table.get_row_index("probe"))
        await pilot.pause()
        assert app.selected_extension() == "probe" and app.check_action("reload_extension", ()) is True
        mark = len(bot.output)
        await pilot.press("r")
        pid = bot.process.pid if bot.process is not None else 0
        await bot.wait_for_line(f"probe version 2 set up in pid {pid}", after=mark)
        await wait_until(lambda: notified(app, "reload probe: ok"), what="the result", pilot=pilot)
        await wait_until(lambda: "probe version 2 set up" in log_text(app), what="the line", pilot=pilot)

        await pilot.press("q")
        await wait_until(lambda: app.return_code is not None, what="the console to quit", pilot=pilot)
    assert app.return_code == 0
    # Quitting left the bot running, and it still answers.
    assert bot.running
    client = AdminClient(Target(path=bot.socket))
    await client.connect()
    assert (await client.request("status"))["connection"] == "ready"
    await client.close()


@module_loop
async def test_two_consoles_attach_at_once_and_one_quitting_leaves_the_bot_and_the_other_running(
    bot: BotProcess,
) -> None:
    first, second = await attach(bot), await attach(bot)
    both_ready, first_gone = asyncio.Event(), asyncio.Event()
    ready: list[str] = []

    async def run_first() -> None:
        async with first.run_test() as pilot:
            await wait_until(lambda: first.connection is ConnectionState.READY, pilot=pilot)
            ready.append("first")
            await both_ready.wait()
            await pilot.press("q")
            await wait_until(lambda: first.return_code is not None, pilot=pilot)
        first_gone.set()

    async def run_second() -> None:
        async with second.run_test() as pilot:
            await wait_until(lambda: second.connection is ConnectionState.READY, pilot=pilot)
            ready.append("second")
            await wait_until(lambda: len(ready) == 2, pilot=pilot)
            both_ready.set()
            await first_gone.wait()
            # Still updating after the other left: the bot's next log lines and a fresh action.
            mark = len(bot.output)
            await pilot.press("b")
            await bot.wait_for_line("Database backed up to", after=mark)
            await wait_until(lambda: notified(second, "backup: saved"), pilot=pilot)
            await wait_until(lambda: log_text(second).count("Database backed up to") >= 1, pilot=pilot)
            assert second.connection is ConnectionState.READY

    await asyncio.wait_for(asyncio.gather(run_first(), run_second()), 60)
    assert first.return_code == 0 and bot.running
    assert bot.output.count("Admin endpoint: console attached") >= 2


@module_loop
async def test_an_attached_console_syncs_through_the_diff_dialog_and_turns_auto_reload_on_in_the_bot(
    bot: BotProcess,
) -> None:
    (bot.folder / "extensions" / "greeter.py").write_text(textwrap.dedent(GREETER), encoding="utf-8")
    app = await attach(bot)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(lambda: app.connection is ConnectionState.READY, what="ready", pilot=pilot)
        await pilot.press("4")
        table = app.query_one(ExtensionsPane).query_one(DataTable)
        await wait_until(lambda: "greeter" in extension_names(table), what="the new file", pilot=pilot)
        table.move_cursor(row=table.get_row_index("greeter"))
        await pilot.pause()
        mark = len(bot.output)
        await pilot.press("l")
        await bot.wait_for_line("Extension greeter: load ok", after=mark)

        # s: the bot plans the sync, the attached console shows its diff; y: the bot sends it.
        await pilot.press("s")
        await wait_until(lambda: isinstance(app.screen, SyncPlanScreen), what="the dialog", pilot=pilot)
        plan = str(app.screen.query_one("#sync-plan", Static).render())
        assert plan.startswith("1 added\n  + /greet\n0 changed\n0 removed"), plan
        mark = len(bot.output)
        await pilot.press("y")
        await bot.wait_for_line("Slash commands synced: global: 1 added (/greet)", after=mark)
        await wait_until(lambda: notified(app, "synced global: 1 added (/greet)"), pilot=pilot)

        # a: auto-reload turned on in the bot (its config.json, its file watcher), then off again.
        def auto_reload_saved() -> bool:
            return bool(json.loads((bot.folder / "config.json").read_text(encoding="utf-8"))["auto_reload"])

        mark = len(bot.output)
        await pilot.press("a")
        await bot.wait_for_line("for changes (auto_reload is on)", after=mark)
        assert auto_reload_saved()
        await wait_until(lambda: "auto-reload on" in str(app.query_one(StatusBar).render()), pilot=pilot)
        await pilot.press("a")
        await wait_until(lambda: not auto_reload_saved(), what="auto_reload off", pilot=pilot)
        await pilot.press("q")
        await wait_until(lambda: app.return_code is not None, pilot=pilot)
    assert bot.running


def extension_names(table: DataTable) -> list[str]:
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


# --- who may connect --------------------------------------------------------------------------------


@module_loop
async def test_a_user_without_the_sockets_permission_is_refused_and_so_is_its_uid_by_the_bot(
    bot: BotProcess,
) -> None:
    assert stat.S_IMODE(bot.socket.stat().st_mode) == 0o600
    code, _out, err = await run_attach(cwd=bot.folder, user=NOBODY)
    assert code == 1, err
    assert err.strip().splitlines() == [
        "tui-bot attach: permission denied on data/admin.sock: only the user the bot runs as may attach "
        "(run attach as that user, e.g. sudo -u USER tui-bot attach)"
    ]
    # Should the file ever be opened up, the bot still checks who is at the other end (SO_PEERCRED).
    mark = len(bot.output)
    bot.socket.chmod(0o666)
    try:
        code, _out, err = await run_attach(str(bot.socket), cwd=bot.folder, user=NOBODY)
    finally:
        bot.socket.chmod(0o600)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "refused the connection: a process of user id 65534" in lines[0]
    assert "is not the bot's user (0)" in lines[0]
    await bot.wait_for_line("Admin endpoint: refused a connection: a process of user id 65534", after=mark)


@module_loop
async def test_tcp_needs_the_admin_token_and_a_wrong_one_is_refused(bot: BotProcess, tmp_path: Path) -> None:
    url = f"tcp://127.0.0.1:{bot.port}"
    mark = len(bot.output)
    code, out, err = await run_attach(url, cwd=tmp_path, ADMIN_TOKEN="not-the-right-token-at-all")
    assert code == 1
    assert err.strip() == (
        f"tui-bot attach: the bot at {url} refused the connection: wrong admin token (ADMIN_TOKEN in the "
        "bot's .env)"
    )
    await bot.wait_for_line("wrong admin token", after=mark)
    assert "not-the-right-token-at-all" not in bot.output + out + err and TOKEN not in bot.output

    code, _out, err = await run_attach(url, cwd=tmp_path)  # no ADMIN_TOKEN anywhere
    assert code == 78 and err.startswith("tui-bot attach: ADMIN_TOKEN is not set")
    code, _out, err = await run_attach(f"tcp://192.0.2.1:{bot.port}", cwd=tmp_path, ADMIN_TOKEN=TOKEN)
    assert code == 78 and "ssh -L" in err

    client = AdminClient(Target(host="127.0.0.1", port=bot.port), token=TOKEN)
    hello = await client.connect()
    assert hello["target"] == "sandbox" and hello["pid"] == (bot.process.pid if bot.process else 0)
    await client.close()


@module_loop
async def test_a_client_sending_garbage_is_dropped_with_a_log_line_and_the_bot_answers_on(
    bot: BotProcess,
) -> None:
    mark = len(bot.output)
    reader, writer = await asyncio.open_unix_connection(bot.socket)
    writer.write(b"this is not json\n")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the bot
    writer.close()
    await bot.wait_for_line("it sent something that is not a request", after=mark)
    client = AdminClient(Target(path=bot.socket))
    await client.connect()
    assert (await client.request("status"))["closed"] is False
    await client.close()


@module_loop
async def test_an_attached_console_says_when_the_bot_goes_away_and_reattaches_when_it_is_back(
    bot: BotProcess,
) -> None:
    app = await attach(bot)
    async with app.run_test() as pilot:
        await wait_until(lambda: app.connection is ConnectionState.READY, pilot=pilot)
        assert await bot.stop() == 0
        assert not bot.socket.exists()  # removed on shutdown
        await wait_until(lambda: app.connection is ConnectionState.DISCONNECTED, pilot=pilot)
        await wait_until(lambda: notified(app, f"The bot at {bot.socket} went away"), pilot=pilot)
        assert "reconnecting" in str(app.query_one(StatusBar).render())
        assert app.return_code is None  # the console is still there
        await bot.start()
        await wait_until(lambda: notified(app, f"Attached again to {bot.socket}"), pilot=pilot)
        await wait_until(lambda: app.connection is ConnectionState.READY, pilot=pilot)


# --- the socket file, the client queue, the settings: no bot needed -------------------------------


def test_the_socket_is_private_from_the_start_and_a_stale_one_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "admin.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # what a killed bot leaves: a socket file nobody listens on
    bound = bind_private_socket(path)
    try:
        assert stat.S_ISSOCK(path.lstat().st_mode) and stat.S_IMODE(path.lstat().st_mode) == 0o600
        assert sorted(p.name for p in tmp_path.iterdir()) == ["admin.sock"]  # no temporary folder left
        bound.sock.listen()
        # A second bot on the same path finds this one listening and leaves it alone.
        with pytest.raises(AdminSocketError, match="another bot is already listening at"):
            bind_private_socket(path)
        assert path.exists()
    finally:
        bound.sock.close()
        bound.remove_file()
    assert not path.exists()


def test_a_file_in_the_way_and_a_path_too_long_for_a_socket_are_said_plainly(tmp_path: Path) -> None:
    (tmp_path / "admin.sock").write_text("not a socket")
    with pytest.raises(AdminSocketError, match="exists and is not a socket"):
        bind_private_socket(tmp_path / "admin.sock")
    deep = tmp_path / ("d" * 120) / "admin.sock"
    problem = length_problem(deep)
    assert problem is not None and "bytes long" in problem
    assert "set admin.socket in config.json to a shorter path" in problem
    with pytest.raises(AdminSocketError, match="a Unix socket's path has room for"):
        bind_private_socket(deep)


def test_a_slow_clients_log_queue_keeps_the_newest_and_counts_what_it_dropped() -> None:
    queue = ClientLogQueue(capacity=100)
    queue.extend([{"seq": n} for n in range(1, 151)])
    queue.extend([{"seq": 151}], lost=5)  # 5 more were gone before they reached this client
    batch, dropped = queue.take(limit=1000)
    assert [record["seq"] for record in batch] == list(range(52, 152)) and dropped == 56
    assert queue.take() == ([], 0)


def test_the_admin_settings_are_checked() -> None:
    admin = parse_config({"admin": {"tcp_port": 8790, "socket": "/run/bot/admin.sock"}}).admin
    assert (admin.enabled, admin.socket, admin.tcp_port, admin.tcp_host) == (
        True,
        "/run/bot/admin.sock",
        8790,
        "127.0.0.1",
    )
    with pytest.raises(ValueError) as refused:
        parse_config({"admin": {"tcp_port": 0, "tcp_host": "0.0.0.0", "enabled": "yes"}})
    message = str(refused.value)
    assert "'admin.tcp_port' has the value 0, but it must be null (no TCP) or a port number" in message
    assert "'admin.tcp_host' has the value \"0.0.0.0\", but it must be a loopback address" in message
    assert "'admin.enabled' has the value \"yes\", but it must be true or false" in message


async def test_attaching_where_no_bot_runs_is_one_line_and_exit_code_1(tmp_path: Path) -> None:
    code, _out, err = await run_attach(cwd=tmp_path)
    assert code == 1
    assert err.splitlines() == [
        "tui-bot attach: no bot is running here: data/admin.sock does not exist (start the bot, or name its "
        "socket)"
    ]
    with pytest.raises(AdminRefused, match=r"nothing listens on tcp://127\.0\.0\.1"):
        await AdminClient(Target(host="127.0.0.1", port=free_port()), token=TOKEN).connect()


async def test_in_a_folder_of_cluster_workers_attach_names_their_sockets(tmp_path: Path) -> None:
    config = parse_config({})
    assert socket_path(config, (0, 1)) == Path("data/admin-shards-0-1.sock")  # each worker its own
    assert socket_path(config, (0, 2, 4)) == Path("data/admin-shards-0_2_4.sock")
    (tmp_path / "data").mkdir()
    for name in ("admin-shards-0-1.sock", "admin-shards-2-3.sock"):
        (tmp_path / "data" / name).touch()
    code, _out, err = await run_attach(cwd=tmp_path)
    assert code == 1
    assert err.splitlines() == [
        "tui-bot attach: data/admin.sock does not exist; the cluster workers here listen on "
        "data/admin-shards-0-1.sock, data/admin-shards-2-3.sock: attach to one"
    ]


async def test_attached_to_a_cluster_worker_the_console_shows_the_cluster_and_reloads_on_every_worker(
    console,  # noqa: F811
    postgres_url: str,  # noqa: F811
) -> None:
    console.write_extension("greeter", GREETER)
    timings = {"heartbeat": 0.5, "stale_after": 3, "identify_window": 0.1, "action_timeout": 5}
    console.write_config(database={"url": postgres_url}, sharding={"shard_count": 2}, cluster=timings)
    runtime = console.runtime()  # a cluster worker run here, as `tui-bot --headless` runs it
    run = asyncio.create_task(runtime.run())
    try:

        def worker_ready() -> bool:
            bot = runtime.bot
            return bot is not None and bot.is_ready() and bot.cluster is not None and bot.cluster.node.started

        await wait_until(worker_ready, what="the worker")
        assert (
            runtime.bot is not None and runtime.bot.cluster is not None and runtime.admin.socket is not None
        )
        me = runtime.bot.cluster.node.worker_id
        client = AdminClient(Target(path=runtime.admin.socket.path))
        await client.connect()
        app = make_attached_console(client, app_class=RecordingConsoleApp)
        assert isinstance(app, RecordingConsoleApp)
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_until(lambda: bool(app.query("TabPane#cluster")), what="the Cluster tab", pilot=pilot)
            await pilot.press("6")
            table = app.query_one(ClusterPane).query_one(DataTable)
            await wait_until(lambda: table.row_count == 1, what="the worker row", pilot=pilot)
            assert [str(cell) for cell in table.get_row(me)][:3] == [f"{me} (this)", "up", "0-1"]

            await pilot.press("4")
            extensions = app.query_one(ExtensionsPane).query_one(DataTable)
            await wait_until(lambda: extensions.row_count == 1, pilot=pilot)
            await pilot.press("r")
            # Through bot.actions.everywhere: one reply per worker of the cluster.
            await wait_until(lambda: notified(app, "reload greeter: 1/1 worker(s) ok"), pilot=pilot)
            await pilot.press("q")
            await wait_until(lambda: app.return_code is not None, pilot=pilot)
        assert not run.done()  # the worker runs on
    finally:
        await runtime.stop()
        await asyncio.wait_for(run, 30)
