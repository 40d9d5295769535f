"""``tui-bot cluster status`` and ``tui-bot cluster run`` as an operator runs them: real processes.

``status`` reads ``tui_cluster_workers`` in a fresh PostgreSQL database whose rows are written here the
way workers write them (a live one, one killed minutes ago, one that stopped cleanly); what is checked
is what it prints, its JSON and its exit code (0 when every shard has a live worker, 1 otherwise).
``run`` supervises two real workers (``python -m tui_bot --headless``) of two shards each against an
in-test sandbox, in a bot folder made by test_cluster's helpers: a worker killed with SIGKILL is
restarted and its shards answer again; SIGTERM stops everything, leaving no process and no claim.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from helpers.postgres import fresh_database, postgres_url, query  # noqa: F401 - postgres_url is a fixture
from test_cluster import (
    Worker,
    ask,
    child_environment,
    cluster_cli,
    cluster_sandbox,
    general,
    pong,
    shard_of,
    write_bot_folder,
)

from tui_bot import exit_codes
from tui_bot.cluster.schema import ensure_schema
from tui_bot.cluster.supervisor import ids_argument, shard_ranges
from tui_bot.sandbox import Guild, Sandbox

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and process groups")

PASSWORD = "s3cretpw"
DEGRADED = 1
STARTED = re.compile(r"tui-bot cluster: worker (\d+) \(shards ([\d-]+)\) started \(pid (\d+)\)")


async def tui_bot(
    folder: Path, *arguments: str, environment: dict[str, str] | None = None, seconds: float = 30
) -> tuple[int, str, str]:
    """``tui-bot ARGUMENTS`` run in ``folder`` (no DISCORD_* or DATABASE_URL from this process unless
    ``environment`` adds it): its exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tui_bot",
        *arguments,
        cwd=folder,
        env={**child_environment(), **(environment or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(seconds):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:  # timed out: the command and whatever it started
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def insert_worker(
    url: str,
    worker_id: str,
    shard_ids: Sequence[int],
    shard_count: int,
    *,
    seen_seconds_ago: float = 0.0,
    stopped: bool = False,
    guilds: int = 1,
    version: str = "1.2.3",
) -> None:
    """A row of ``tui_cluster_workers`` as a worker leaves it (the schema created as a worker creates
    it): each of its shards ready with a latency, last seen ``seen_seconds_ago``."""
    state = {
        "shards": {str(s): {"state": "ready", "latency_ms": 10.0 + s} for s in shard_ids},
        "guilds": guilds,
    }
    connection = await asyncpg.connect(url)
    try:
        await ensure_schema(connection)
        await connection.execute(
            "INSERT INTO tui_cluster_workers (worker_id, host, pid, shard_ids, shard_count, version, state, "
            "started_at, last_seen, stopped) VALUES ($1, 'host-a', $2, $3, $4, $5, $6::jsonb, "
            "clock_timestamp() - make_interval(secs => $7) - interval '1 minute', "
            "clock_timestamp() - make_interval(secs => $7), $8)",
            worker_id,
            4000 + len(worker_id),
            list(shard_ids),
            shard_count,
            version,
            json.dumps(state),
            seen_seconds_ago,
            stopped,
        )
    finally:
        await connection.close()


async def status(folder: Path, url: str, *arguments: str) -> tuple[int, str, dict[str, Any]]:
    """``cluster status`` as a table and as ``--json`` (same options): exit codes must agree."""
    (code, text), (json_code, printed) = await asyncio.gather(
        cluster_cli(folder, url, *arguments), cluster_cli(folder, url, "--json", *arguments)
    )
    assert code == json_code, (text, printed)
    return code, text, json.loads(printed)


def row(text: str, worker_id: str) -> str:
    rows = [line for line in text.splitlines() if line.startswith(worker_id + " ")]
    assert len(rows) == 1, text
    return rows[0]


# --- where the URL comes from, and the password never printed ---------------------------------------


async def test_status_without_any_database_url_says_where_to_set_one(tmp_path: Path) -> None:
    code, out, err = await tui_bot(tmp_path, "cluster", "status")
    assert code == exit_codes.CONFIG_ERROR == 78
    assert out == ""
    assert err.splitlines() == [
        "tui-bot cluster: no PostgreSQL URL: cluster mode keeps its state in PostgreSQL. Set DATABASE_URL "
        "in .env or database.url in config.json, or pass --url"
    ]


async def test_status_refuses_a_url_that_is_not_postgresql_without_printing_its_password(
    tmp_path: Path,
) -> None:
    code, out, err = await tui_bot(tmp_path, "cluster", "status", "--url", f"mysql://root:{PASSWORD}@db/x")
    assert code == exit_codes.CONFIG_ERROR
    assert "must be a PostgreSQL URL starting with postgresql:// or postgres://" in err
    assert "Traceback" not in err and PASSWORD not in out + err


@pytest.mark.parametrize("source", ["--url", ".env", "environment", "config.json"])
async def test_status_never_prints_the_password_of_the_database_url(tmp_path: Path, source: str) -> None:
    async with fresh_database(password=PASSWORD) as url:
        assert PASSWORD in url
        database = url.rpartition("/")[2]
        for target, readable in ((url, True), (url + "_gone", False)):  # the second does not exist
            arguments: list[str] = []
            environment = {}
            (tmp_path / ".env").unlink(missing_ok=True)
            (tmp_path / "config.json").unlink(missing_ok=True)
            if source == "--url":
                arguments = ["--url", target]
            elif source == ".env":
                (tmp_path / ".env").write_text(f"DATABASE_URL={target}\n")
            elif source == "environment":
                environment = {"DATABASE_URL": target}
            else:
                (tmp_path / "config.json").write_text(json.dumps({"database": {"url": target}}))
            code, out, err = await tui_bot(tmp_path, "cluster", "status", *arguments, environment=environment)
            assert PASSWORD not in out + err
            shown = f"postgresql://postgres:***@127.0.0.1:5432/{database}" + ("" if readable else "_gone")
            if readable:
                assert (code, err) == (DEGRADED, "")
                assert out.splitlines() == [f"Cluster at {shown}", "No worker has joined this cluster yet."]
            else:
                assert code == 1 and out == ""
                assert err.startswith(f"tui-bot cluster: could not read the cluster status from {shown} (")
                assert "does not exist" in err and "Traceback" not in err


# --- what status reports ---------------------------------------------------------------------------


async def test_status_of_a_cluster_no_worker_joined_is_degraded_and_creates_nothing(
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
) -> None:
    code, text, printed = await status(tmp_path, postgres_url)
    assert code == DEGRADED
    assert text.splitlines()[1:] == ["No worker has joined this cluster yet."]
    assert printed == {
        "healthy": False,
        "shard_count": None,
        "shards_served": [],
        "shards_not_served": [],
        "guilds": 0,
        "workers": [],
    }
    # A read-only command: the cluster tables are a worker's to create.
    assert await query(postgres_url, "SELECT to_regclass('tui_cluster_workers') AS t") == [{"t": None}]


async def test_status_lists_every_live_worker_and_exits_0_when_every_shard_is_served(
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
) -> None:
    await insert_worker(postgres_url, "host-a:101:aaaaaa", [0, 1], 4, guilds=3)
    await insert_worker(postgres_url, "host-a:102:bbbbbb", [2, 3], 4, guilds=2, seen_seconds_ago=1)
    code, text, printed = await status(tmp_path, postgres_url)
    assert code == exit_codes.OK, text
    lines = text.splitlines()
    assert lines[:3] == [
        f"Cluster at {postgres_url}",
        "2 worker(s) up, 0 stale; 4/4 shards served; 5 guild(s)",
        "",
    ]
    assert lines[3].split() == [
        "WORKER",
        "STATUS",
        "SHARDS",
        "GUILDS",
        "LAST",
        "SEEN",
        "VERSION",
        "SHARD",
        "STATES",
    ]
    assert re.fullmatch(
        r"host-a:101:aaaaaa\s+up\s+0-1\s+3\s+\d s ago\s+1\.2\.3\s+0 ready 10 ms, 1 ready 11 ms",
        row(text, "host-a:101:aaaaaa"),
    )
    assert re.fullmatch(
        r"host-a:102:bbbbbb\s+up\s+2-3\s+2\s+\d s ago\s+1\.2\.3\s+2 ready 12 ms, 3 ready 13 ms",
        row(text, "host-a:102:bbbbbb"),
    )
    assert len(lines) == 6
    assert (printed["healthy"], printed["shard_count"], printed["guilds"]) == (True, 4, 5)
    assert (printed["shards_served"], printed["shards_not_served"]) == ([0, 1, 2, 3], [])
    assert [(w["worker_id"], w["status"], w["shard_ids"], w["guilds"]) for w in printed["workers"]] == [
        ("host-a:101:aaaaaa", "up", [0, 1], 3),
        ("host-a:102:bbbbbb", "up", [2, 3], 2),
    ]
    assert printed["workers"][0]["shards"] == {
        "0": {"state": "ready", "latency_ms": 10.0},
        "1": {"state": "ready", "latency_ms": 11.0},
    }


async def test_status_marks_a_stale_worker_and_exits_1_naming_the_shards_not_served(
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
) -> None:
    await insert_worker(postgres_url, "host-a:101:aaaaaa", [0, 1], 4)
    await insert_worker(postgres_url, "host-b:666:dead00", [2, 3], 4, seen_seconds_ago=300)
    code, text, printed = await status(tmp_path, postgres_url)
    assert code == DEGRADED, text
    assert text.splitlines()[1] == (
        "1 worker(s) up, 1 stale; 2/4 shards served; 1 guild(s); NOT SERVED: shard(s) 2-3"
    )
    assert re.match(r"host-a:101:aaaaaa\s+up\s+0-1\s", row(text, "host-a:101:aaaaaa"))
    assert re.match(r"host-b:666:dead00\s+stale\s+2-3\s+1\s+5 min ago\s", row(text, "host-b:666:dead00"))
    assert (printed["healthy"], printed["shards_served"], printed["shards_not_served"]) == (
        False,
        [0, 1],
        [2, 3],
    )
    assert {w["worker_id"]: w["status"] for w in printed["workers"]} == {
        "host-a:101:aaaaaa": "up",
        "host-b:666:dead00": "stale",
    }
    assert next(w for w in printed["workers"] if w["status"] == "stale")["last_seen_seconds_ago"] >= 300


async def test_status_exits_1_when_a_shard_has_no_worker_at_all(
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
) -> None:
    await insert_worker(postgres_url, "host-a:101:aaaaaa", [0, 1, 3], 4)
    code, text, printed = await status(tmp_path, postgres_url)
    assert code == DEGRADED
    assert text.splitlines()[1] == (
        "1 worker(s) up, 0 stale; 3/4 shards served; 1 guild(s); NOT SERVED: shard(s) 2"
    )
    assert re.match(r"host-a:101:aaaaaa\s+up\s+0,1,3\s", row(text, "host-a:101:aaaaaa"))
    assert (printed["healthy"], printed["shards_not_served"]) == (False, [2])


async def test_status_judges_staleness_by_the_folders_cluster_stale_after(
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
) -> None:
    await insert_worker(postgres_url, "host-a:101:aaaaaa", [0, 1], 2, seen_seconds_ago=8)
    code, text, _ = await status(tmp_path, postgres_url)  # no config.json: stale after 15 s
    assert code == exit_codes.OK and "up" in row(text, "host-a:101:aaaaaa").split()
    (tmp_path / "config.json").write_text(json.dumps({"cluster": {"heartbeat": 0.5, "stale_after": 3}}))
    code, text, printed = await status(tmp_path, postgres_url)
    assert code == DEGRADED and "stale" in row(text, "host-a:101:aaaaaa").split()
    assert printed["workers"][0]["status"] == "stale"


async def test_status_hides_workers_that_stopped_cleanly_unless_asked_for_all(
    tmp_path: Path,
    postgres_url: str,  # noqa: F811
) -> None:
    await insert_worker(postgres_url, "host-a:101:aaaaaa", [0, 1], 4)
    await insert_worker(postgres_url, "host-a:102:bbbbbb", [2, 3], 4)
    await insert_worker(postgres_url, "host-a:99:c0ffee", [2, 3], 4, seen_seconds_ago=1800, stopped=True)
    code, text, printed = await status(tmp_path, postgres_url)
    assert code == exit_codes.OK, text  # a stopped worker is neither stale nor missing
    assert "host-a:99:c0ffee" not in text
    assert [w["worker_id"] for w in printed["workers"]] == ["host-a:101:aaaaaa", "host-a:102:bbbbbb"]

    code, text, printed = await status(tmp_path, postgres_url, "--all")
    assert code == exit_codes.OK
    assert (
        text.splitlines()[1] == "2 worker(s) up, 0 stale; 4/4 shards served; 2 guild(s)"
    )  # its own not counted
    assert re.match(r"host-a:99:c0ffee\s+stopped\s+2-3\s+1\s+30 min ago\s", row(text, "host-a:99:c0ffee"))
    assert {w["worker_id"]: w["status"] for w in printed["workers"]} == {
        "host-a:101:aaaaaa": "up",
        "host-a:102:bbbbbb": "up",
        "host-a:99:c0ffee": "stopped",
    }


# --- cluster run: options refused before anything starts -------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--workers", "0", "--shard-count", "4"], "--workers must be at least 1, not 0"),
        (
            ["--workers", "5", "--shard-count", "4"],
            "--shard-count 4 is fewer shards than --workers 5: every worker needs a shard",
        ),
        (
            ["--workers", "2", "--shard-count", "4", "--", "--shard-ids", "0"],
            "--shard-ids cannot be passed to the workers: the supervisor sets them",
        ),
        (
            ["--workers", "2", "--shard-count", "4", "--", "--sandbox"],
            "--sandbox cannot be passed to the workers: the supervisor sets them",
        ),
    ],
)
async def test_run_with_impossible_options_exits_78_with_one_line_and_starts_no_worker(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    code, out, err = await tui_bot(tmp_path, "cluster", "run", *arguments)
    assert code == exit_codes.CONFIG_ERROR
    assert out == ""  # not even "starting"
    assert err.splitlines() == [f"tui-bot cluster: {message}"]


async def test_run_exits_78_once_every_worker_has_a_configuration_error(tmp_path: Path) -> None:
    # An empty folder: no token, so each worker exits 78. Restarting would not help, and a supervisor
    # left waiting for Ctrl+C with nothing running would look healthy to systemd.
    code, out, err = await tui_bot(tmp_path, "cluster", "run", "--workers", "2", "--shard-count", "2")
    assert code == exit_codes.CONFIG_ERROR, out + err
    assert "[0:0] tui-bot: DISCORD_TOKEN not found in .env!" in out
    assert "[1:1] tui-bot: DISCORD_TOKEN not found in .env!" in out
    for name in ("worker 0 (shards 0)", "worker 1 (shards 1)"):
        assert f"tui-bot cluster: {name} has a configuration error (exit 78); not restarting it" in out
    assert out.splitlines()[-1] == (
        "tui-bot cluster: no worker left running (configuration errors above); exiting"
    )
    assert "restarting in" not in out and err == ""


# --- cluster run: two real workers against the sandbox ---------------------------------------------


def started(supervisor: Worker) -> list[tuple[int, str, int]]:
    """Every ``worker I (shards A-B) started (pid N)`` line so far: (index, shards, pid)."""
    return [(int(i), ids, int(pid)) for i, ids, pid in STARTED.findall(supervisor.output)]


def pid_of(supervisor: Worker, index: int) -> int:
    return [pid for i, _ids, pid in started(supervisor) if i == index][-1]


def connected(supervisor: Worker, prefix: str) -> int:
    return sum(1 for line in supervisor.lines if line.startswith(prefix) and "Connected as" in line)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def wait_for_count(supervisor: Worker, count: Any, wanted: int, what: str, seconds: float = 40) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while count() < wanted:
        if supervisor.reader is not None and supervisor.reader.done():
            raise AssertionError(f"cluster run exited before {what}:\n{supervisor.output}")
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what}:\n{supervisor.output}")
        await asyncio.sleep(0.05)


async def ping_all(sandbox: Sandbox, guilds: list[Guild], pids: dict[int, int]) -> None:
    """Every guild answers ``!ping`` once, from the worker serving its shard (by pid)."""
    for guild in guilds:
        reply = await ask(sandbox, "alice", guild, "!ping", pong)
        shard = shard_of(guild, 4)
        assert reply.content == f"pong from shard {shard} pid {pids[shard]}"
    for guild in guilds:
        answers = [m for m in sandbox.world.history(general(guild), limit=100) if pong(m)]
        assert len({m.id for m in answers}) == len(answers)


async def test_run_serves_every_shard_restarts_a_killed_worker_and_stops_cleanly_on_sigterm(
    tmp_path: Path,
) -> None:
    sandbox, guilds = cluster_sandbox(4, 1, max_concurrency=1, identify_window=1.0)
    async with fresh_database() as url, sandbox:
        folder = write_bot_folder(tmp_path, sandbox, url)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tui_bot",
            "cluster",
            "run",
            "--workers",
            "2",
            "--shard-count",
            "4",
            "--",
            "--config",
            "config.json",
            cwd=folder,
            env=child_environment(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        supervisor = Worker("cluster run", process)
        supervisor.reader = asyncio.create_task(supervisor._read())
        try:
            # Both workers up: each one's output prefixed with its index and shards.
            await wait_for_count(supervisor, lambda: connected(supervisor, "[0:0-1] "), 1, "worker 0 ready")
            await wait_for_count(supervisor, lambda: connected(supervisor, "[1:2-3] "), 1, "worker 1 ready")
            assert supervisor.lines[0] == "tui-bot cluster: starting 2 worker(s); Ctrl+C stops them all\n"
            assert sorted((i, ids) for i, ids, _pid in started(supervisor)) == [(0, "0-1"), (1, "2-3")]
            first, second = pid_of(supervisor, 0), pid_of(supervisor, 1)
            sessions = sorted(s.shard for s in sandbox.hub.identified_sessions if s.connected)
            assert sessions == [(shard, 4) for shard in range(4)]
            await ping_all(sandbox, guilds, {0: first, 1: first, 2: second, 3: second})
            rows = await query(url, "SELECT pid, shard_ids FROM tui_cluster_workers ORDER BY pid")
            assert sorted((r["pid"], r["shard_ids"]) for r in rows) == sorted(
                [(first, [0, 1]), (second, [2, 3])]
            )
            code, text = await cluster_cli(folder, url)
            assert code == exit_codes.OK, text
            assert "2 worker(s) up, 0 stale; 4/4 shards served; 4 guild(s)" in text

            # SIGKILL worker 1: no release, its claim stays until stale_after; the supervisor restarts it
            # (a start refused while the claim is fresh exits 75 and is restarted again).
            os.kill(second, signal.SIGKILL)
            await wait_for_count(
                supervisor,
                lambda: connected(supervisor, "[1:2-3] "),
                2,
                "the restarted worker 1 to be ready",
            )
            exited = (
                f"tui-bot cluster: worker 1 (shards 2-3) exited with -{signal.SIGKILL:d}; restarting in 1 s"
            )
            assert exited + "\n" in supervisor.lines
            replacement = pid_of(supervisor, 1)
            assert replacement != second and not alive(second)
            assert pid_of(supervisor, 0) == first and connected(supervisor, "[0:0-1] ") == 1  # untouched
            sessions = sorted(s.shard for s in sandbox.hub.identified_sessions if s.connected)
            assert sessions == [(shard, 4) for shard in range(4)]
            await ping_all(sandbox, guilds, {0: first, 1: first, 2: replacement, 3: replacement})
            claims = await query(url, "SELECT shard_id, worker_id FROM tui_cluster_shards ORDER BY shard_id")
            assert [(c["shard_id"], c["worker_id"].split(":")[1]) for c in claims] == [
                (0, str(first)),
                (1, str(first)),
                (2, str(replacement)),
                (3, str(replacement)),
            ]

            # SIGTERM to the supervisor: every worker stops cleanly and releases its shards.
            process.send_signal(signal.SIGTERM)
            assert await supervisor.exit_code(40) == exit_codes.OK, supervisor.output[-3000:]
            assert "tui-bot cluster: stopping every worker\n" in supervisor.lines
            assert not alive(first) and not alive(replacement)
            assert await query(url, "SELECT shard_id FROM tui_cluster_shards") == []
            stopped = await query(url, "SELECT pid FROM tui_cluster_workers WHERE stopped ORDER BY pid")
            assert sorted(r["pid"] for r in stopped) == sorted([first, replacement])
            assert sandbox.token not in supervisor.output and "Traceback" not in supervisor.output
        finally:
            pids = [pid for _i, _ids, pid in started(supervisor)]
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            for pid in pids:  # each worker runs in a session of its own
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            await supervisor.exit_code(30)


# --- shard_ranges ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("workers", "shards"), [(1, 1), (1, 4), (2, 4), (3, 6), (3, 7), (3, 8), (4, 4), (5, 12), (7, 100)]
)
def test_shard_ranges_are_contiguous_cover_every_shard_once_and_differ_by_one_at_most(
    workers: int, shards: int
) -> None:
    ranges = shard_ranges(workers, shards)
    assert len(ranges) == workers
    assert [shard for part in ranges for shard in part] == list(range(shards))  # in order, no gap
    assert all(part.step == 1 and len(part) >= 1 for part in ranges)
    sizes = [len(part) for part in ranges]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_shard_ranges_as_the_workers_are_told_them() -> None:
    assert [ids_argument(part) for part in shard_ranges(3, 7)] == ["0-2", "3-4", "5-6"]
    assert [ids_argument(part) for part in shard_ranges(3, 3)] == ["0", "1", "2"]


@pytest.mark.parametrize(("workers", "shards"), [(0, 4), (-1, 4), (5, 4), (1, 0)])
def test_shard_ranges_refuse_a_worker_without_a_shard(workers: int, shards: int) -> None:
    with pytest.raises(ValueError, match=r"^--(workers|shard-count) "):
        shard_ranges(workers, shards)
