"""Cluster mode end to end: three real worker processes of two shards each, one PostgreSQL, one sandbox.

Each worker is ``python -m tui_bot --headless --shard-count 6 --shard-ids A-B`` in one bot folder
(config.json with ``database.url`` and short cluster timings), against an in-test :class:`Sandbox` that
enforces an IDENTIFY window and ``max_concurrency``. The sandbox holds 12 guilds, two per shard
(``(guild_id >> 22) % 6``). What a user of the cluster sees is checked: replies in the guilds, the
IDENTIFYs the sandbox accepted or refused, rows in PostgreSQL, and ``tui-bot cluster status``.

One cluster is started for the module (it takes a few seconds: six IDENTIFYs one window apart); the
tests run in file order and the last one stops it. The run with ``max_concurrency`` 2 is a cluster of
its own, smaller: two workers of two shards each.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
import pytest_asyncio
from helpers.postgres import fresh_database, query
from helpers.waiting import wait_until

from tui_bot import exit_codes
from tui_bot.sandbox import EventKind, Guild, Message, Role, Sandbox, demo_world
from tui_bot.storage.postgres import PostgresDatabase

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

SHARDS = 6
RANGES = ("0-1", "2-3", "4-5")
IDENTIFY_WINDOW = 1.0  # the sandbox's and the cluster's (Discord: 5 s)
HEARTBEAT = 0.5
STALE_AFTER = 3.0
PROPAGATION_LIMIT = 1.0  # issue 13: a change made anywhere is in force within a second
STARTER = Path(__file__).resolve().parents[1] / "tui_bot" / "starter" / "extensions" / "example.py"

PROBE = """
import os

from discord.ext import commands


class Probe(commands.Cog):
    @commands.command()
    async def ping(self, ctx):
        await ctx.send(f"pong from shard {ctx.guild.shard_id} pid {os.getpid()}")

    @commands.command()
    async def count(self, ctx, number: int):
        await ctx.send(f"counted {number}")


async def setup(bot):
    await bot.add_cog(Probe())
"""

T = TypeVar("T")

# What the tests measured, printed at the end of the module (pytest -s) for the README and the lead.
MEASURED: dict[str, str] = {}


# --- the bot folder and the worker processes -------------------------------------------------------


def shard_of(guild: Guild, shard_count: int = SHARDS) -> int:
    return (guild.id >> 22) % shard_count


def general(guild: Guild) -> int:
    return next(c.id for c in guild.channels.values() if c.name == "general")


def shards_in(ids: str) -> tuple[int, ...]:
    first, _, last = ids.partition("-")
    return tuple(range(int(first), int(last or first) + 1))


def cluster_sandbox(shard_count: int, guilds_per_shard: int, **limits: float) -> tuple[Sandbox, list[Guild]]:
    """The demo world plus guilds until every shard has ``guilds_per_shard``; alice is in each of them."""
    sandbox = Sandbox(demo_world(), **limits)  # type: ignore[arg-type]
    home = sandbox.find_guild()
    guilds = [home]
    for step in range(1, shard_count * guilds_per_shard):
        guilds.append(sandbox.add_guild(f"Guild {step}", guild_id=home.id + (step << 22), members=["alice"]))
    per_shard = [sum(shard_of(g, shard_count) == shard for g in guilds) for shard in range(shard_count)]
    assert per_shard == [guilds_per_shard] * shard_count
    return sandbox, guilds


def write_bot_folder(folder: Path, sandbox: Sandbox, url: str) -> Path:
    """config.json (PostgreSQL, short cluster timings), .env (the sandbox) and extensions/."""
    config = {
        "auto_reload": False,
        "database": {"url": url},
        "cluster": {
            "heartbeat": HEARTBEAT,
            "stale_after": STALE_AFTER,
            "identify_window": IDENTIFY_WINDOW,
            "action_timeout": 5,
        },
        # Commands come in bursts here: the per-user default cooldown would answer some with a refusal.
        "cooldowns": {"default_rate": 1000, "default_per": 1},
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / ".env").write_text(
        f"DISCORD_TOKEN={sandbox.token}\nBOT_OWNER_ID={sandbox.world.owner_id}\n"
        f"DISCORD_API_BASE={sandbox.api_base}\nDISCORD_GATEWAY_URL={sandbox.gateway_url}\n"
    )
    extensions = folder / "extensions"
    extensions.mkdir()
    (extensions / "example.py").write_text(STARTER.read_text())
    (extensions / "probe.py").write_text(textwrap.dedent(PROBE))
    return folder


def child_environment() -> dict[str, str]:
    """This process's environment without what would override the bot folder's .env and config.json."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "BOT_OWNER", "DATABASE_URL"))
    }


@dataclass
class Worker:
    """One ``tui-bot --headless`` process and everything it printed (read as it comes)."""

    shard_ids: str
    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def output(self) -> str:
        return "".join(self.lines)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            self.lines.append(line.decode(errors="replace"))

    async def wait_for_line(self, needle: str, seconds: float = 60) -> None:
        def seen() -> bool:
            if needle in self.output:
                return True
            if self.reader is not None and self.reader.done():  # the output ended: the process exited
                raise AssertionError(f"worker {self.shard_ids} exited before {needle!r}:\n{self.output}")
            return False

        await wait_until(seen, seconds, what=f"{needle!r} from worker {self.shard_ids}")

    async def exit_code(self, seconds: float = 30) -> int:
        async with asyncio.timeout(seconds):
            code = await self.process.wait()
            if self.reader is not None:
                await self.reader
        return code

    async def stop(self) -> int:
        """SIGTERM, as systemd or ``cluster run`` stops a worker; its exit code."""
        self.process.send_signal(signal.SIGTERM)
        return await self.exit_code()

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.exit_code()


async def start_worker(folder: Path, shard_ids: str, shard_count: int = SHARDS) -> Worker:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tui_bot",
        "--headless",
        "--shard-count",
        str(shard_count),
        "--shard-ids",
        shard_ids,
        cwd=folder,
        env=child_environment(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    worker = Worker(shard_ids, process)
    worker.reader = asyncio.create_task(worker._read())
    return worker


async def cluster_cli(folder: Path, url: str, *arguments: str) -> tuple[int, str]:
    """``tui-bot cluster status ...`` run as an operator would (in the bot folder: its config.json's
    ``stale_after``), with ``--url``; its exit code and what it printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tui_bot",
        "cluster",
        "status",
        "--url",
        url,
        *arguments,
        cwd=folder,
        env=child_environment(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(30):
        out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


@dataclass
class Cluster:
    """The sandbox, the database and the workers by shard ids."""

    sandbox: Sandbox
    url: str
    folder: Path
    guilds: list[Guild]
    shard_count: int = SHARDS
    workers: dict[str, Worker] = field(default_factory=dict)
    retired: list[Worker] = field(default_factory=list)

    async def start(self, shard_ids: str) -> Worker:
        """A worker for ``shard_ids``, once it is connected (its on_ready)."""
        worker = await start_worker(self.folder, shard_ids, self.shard_count)
        self.workers[shard_ids] = worker
        await worker.wait_for_line("Connected as")
        return worker

    def serving(self, guild: Guild) -> Worker:
        shard = shard_of(guild, self.shard_count)
        return next(w for ids, w in self.workers.items() if shard in shards_in(ids))

    def guild_on(self, shard: int, index: int = 0) -> Guild:
        return [g for g in self.guilds if shard_of(g, self.shard_count) == shard][index]

    async def close(self) -> None:
        for worker in [*self.workers.values(), *self.retired]:
            if worker.process.returncode is None:
                worker.process.kill()
            await worker.exit_code()
        for worker in [*self.workers.values(), *self.retired]:
            assert self.sandbox.token not in worker.output


def text_of(message: Message) -> str:
    """What a member reads: the content and every embed's title and description."""
    parts = [message.content]
    for embed in message.embeds:
        parts += [str(embed.get("title", "")), str(embed.get("description", ""))]
    return "\n".join(parts)


def bot_messages(sandbox: Sandbox, guild: Guild) -> list[Message]:
    return [m for m in sandbox.world.history(general(guild), limit=100) if m.author.bot]


def pong(message: Message) -> bool:
    return message.content.startswith("pong from shard")


async def ask(
    sandbox: Sandbox,
    author: str,
    guild: Guild,
    content: str,
    wanted: Callable[[Message], bool] = lambda _message: True,
) -> Message:
    """Send ``content`` in the guild's #general; the first bot message there after it that is ``wanted``
    (later ids only: an earlier test may have left answers of its own unread)."""
    sent = await sandbox.send_message(author, general(guild), content)
    return await sandbox.wait_for_bot_message(
        channel=general(guild), check=lambda m: m.id > sent.id and wanted(m), timeout=20
    )


async def time_to_reply(
    sandbox: Sandbox,
    change: Callable[[], object],
    channel: int,
    command: str,
    wanted: Callable[[Message], bool],
    *,
    seconds: float = 10.0,
) -> tuple[float, Message]:
    """Seconds from the start of ``change()`` (a write in PostgreSQL) to the first reply ``wanted`` to
    ``command``, which alice sends every 50 ms after the write: what a member sees of the change."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    await change()  # type: ignore[misc]
    # Replies to messages sent before the change (older ids) are not evidence of it.
    first = await sandbox.send_message("alice", channel, command)

    def answer(message: Message) -> bool:
        return message.id > first.id and wanted(message)

    while loop.time() - started < seconds:
        try:
            reply = await sandbox.wait_for_bot_message(channel=channel, check=answer, timeout=0.05)
        except TimeoutError:
            await sandbox.send_message("alice", channel, command)
            continue
        return loop.time() - started, reply
    raise AssertionError(f"no reply to {command!r} under the new setting within {seconds:g} s")


async def settled(
    read: Callable[[], Awaitable[T]], done: Callable[[T], bool], *, what: str, seconds: float = 20.0
) -> T:
    """Read (from PostgreSQL) every 50 ms until ``done(value)``; the value, or a failure naming ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        value = await read()
        if done(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what} (last: {value!r})")
        await asyncio.sleep(0.05)


async def worker_age(url: str, pid: int) -> float:
    rows = await query(
        url,
        "SELECT EXTRACT(EPOCH FROM clock_timestamp() - last_seen)::float8 AS age FROM tui_cluster_workers "
        "WHERE pid = $1",
        pid,
    )
    return float(rows[0]["age"])


def identify_spacing(sandbox: Sandbox, max_concurrency: int) -> float:
    """The shortest time between two accepted IDENTIFYs of one bucket, by the sandbox's clock."""
    times: dict[int, list[float]] = {}
    for event in sandbox.events:
        if event.kind is EventKind.IDENTIFY:
            times.setdefault(event.data["shard"][0] % max_concurrency, []).append(event.at)
    gaps = [b - a for ats in times.values() for a, b in itertools.pairwise(ats)]
    return min(gaps)


def accepted_shards(sandbox: Sandbox) -> list[tuple[int, int]]:
    return sorted(tuple(e.data["shard"]) for e in sandbox.events if e.kind is EventKind.IDENTIFY)


# --- the cluster of the module: 3 workers, 6 shards, 12 guilds, max_concurrency 1 -------------------


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    sandbox, guilds = cluster_sandbox(SHARDS, 2, max_concurrency=1, identify_window=IDENTIFY_WINDOW)
    for guild in guilds:  # a role alice does not have, for a role rule
        role_id = sandbox.world.snowflakes()
        guild.roles[role_id] = Role(role_id, "Pinger", position=1)
    async with fresh_database() as url, sandbox:
        folder = write_bot_folder(tmp_path_factory.mktemp("cluster"), sandbox, url)
        running = Cluster(sandbox, url, folder, guilds)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await asyncio.gather(*(running.start(ids) for ids in RANGES))
            MEASURED["3 workers x 2 shards, max_concurrency 1: start to every worker ready"] = (
                f"{loop.time() - started:.1f} s"
            )
            yield running
        finally:
            await running.close()
    print("\n" + "\n".join(f"measured: {what}: {value}" for what, value in MEASURED.items()))


async def test_every_guild_is_served_by_exactly_one_worker(cluster: Cluster) -> None:
    sandbox = cluster.sandbox
    # The sandbox sends a guild's events to the sessions of its shard: one live session per shard.
    sessions = [s.shard for s in sandbox.hub.identified_sessions if s.connected]
    assert sorted(sessions) == [(shard, SHARDS) for shard in range(SHARDS)]
    pings = {g.id: await sandbox.send_message("alice", general(g), "!ping") for g in cluster.guilds}
    by_channel = {general(guild): guild for guild in cluster.guilds}

    def answer(message: Message) -> bool:
        return pong(message) and message.id > pings[by_channel[message.channel_id].id].id

    replies = [await sandbox.wait_for_bot_message(check=answer, timeout=20) for _ in cluster.guilds]
    answered = sorted((by_channel[m.channel_id].id, m.content) for m in replies)
    assert answered == sorted(
        (g.id, f"pong from shard {shard_of(g)} pid {cluster.serving(g).pid}") for g in cluster.guilds
    )
    # And no second answer anywhere: each channel holds one bot message after its ping.
    after = {g.id: [m for m in bot_messages(sandbox, g) if m.id > pings[g.id].id] for g in cluster.guilds}
    assert all(len(answers) == 1 for answers in after.values()), after


async def test_identifies_never_break_the_bucket_rule_with_max_concurrency_1(cluster: Cluster) -> None:
    sandbox = cluster.sandbox
    assert sandbox.identify_refusals == []
    assert accepted_shards(sandbox) == [(shard, SHARDS) for shard in range(SHARDS)]
    spacing = identify_spacing(sandbox, 1)
    assert spacing >= IDENTIFY_WINDOW
    MEASURED["max_concurrency 1: shortest spacing between two IDENTIFYs"] = (
        f"{spacing:.3f} s (window {IDENTIFY_WINDOW:g} s)"
    )


async def test_a_prefix_set_through_bot_db_in_another_process_is_in_force_within_a_second(
    cluster: Cluster,
) -> None:
    guild = cluster.guild_on(2)
    serving = cluster.serving(guild)
    db = PostgresDatabase(cluster.url)  # this test process: a tool or a script using bot.db
    await db.connect()
    try:
        seconds, reply = await time_to_reply(
            cluster.sandbox, lambda: db.set_guild_prefix(guild.id, "?"), general(guild), "?ping", pong
        )
        assert reply.content == f"pong from shard 2 pid {serving.pid}"
        back, _ = await time_to_reply(
            cluster.sandbox, lambda: db.set_guild_prefix(guild.id, None), general(guild), "!ping", pong
        )
    finally:
        await db.close(backup=False)
    MEASURED["prefix set through bot.db elsewhere -> first reply under it"] = (
        f"{seconds * 1000:.0f} ms (back to the default: {back * 1000:.0f} ms)"
    )
    assert seconds < PROPAGATION_LIMIT and back < PROPAGATION_LIMIT


async def test_a_role_rule_set_through_bot_db_in_another_process_is_in_force_within_a_second(
    cluster: Cluster,
) -> None:
    guild = cluster.guild_on(4)
    pinger = next(role for role in guild.roles.values() if role.name == "Pinger")
    db = PostgresDatabase(cluster.url)
    await db.connect()
    try:
        seconds, refusal = await time_to_reply(
            cluster.sandbox,
            lambda: db.add_command_role(guild.id, "ping", pinger.id),
            general(guild),
            "!ping",
            lambda m: "Pinger" in text_of(m),
        )
        assert "You need one of these roles to use `ping`: Pinger." in text_of(refusal)
        back, _ = await time_to_reply(
            cluster.sandbox, lambda: db.clear_command_roles(guild.id, "ping"), general(guild), "!ping", pong
        )
    finally:
        await db.close(backup=False)
    MEASURED["role rule set through bot.db elsewhere -> first reply under it"] = (
        f"{seconds * 1000:.0f} ms (rule cleared: {back * 1000:.0f} ms)"
    )
    assert seconds < PROPAGATION_LIMIT and back < PROPAGATION_LIMIT


async def test_a_prefix_set_while_the_listening_connections_are_down_is_in_force_once_they_return(
    cluster: Cluster,
) -> None:
    # PostgreSQL never replays a NOTIFY: a worker reloads what it serves after reconnecting.
    guild = cluster.guild_on(3)
    db = PostgresDatabase(cluster.url)
    await db.connect()
    try:
        terminated = await query(
            cluster.url,
            "SELECT pg_terminate_backend(pid) AS gone FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN %'",
        )
        assert terminated == [{"gone": True}] * len(cluster.workers)  # one listening connection each
        seconds, reply = await time_to_reply(
            cluster.sandbox, lambda: db.set_guild_prefix(guild.id, "$"), general(guild), "$ping", pong
        )
        assert reply.content == f"pong from shard 3 pid {cluster.serving(guild).pid}"
        for worker in cluster.workers.values():
            await worker.wait_for_line("Cluster: listening again; reloading what may have been missed")
        await time_to_reply(
            cluster.sandbox, lambda: db.set_guild_prefix(guild.id, None), general(guild), "!ping", pong
        )
    finally:
        await db.close(backup=False)
    MEASURED["prefix set as the listening connections were cut -> first reply under it"] = (
        f"{seconds * 1000:.0f} ms"
    )


async def test_reload_example_from_one_guild_reloads_it_on_all_three_workers(cluster: Cluster) -> None:
    sandbox = cluster.sandbox
    guild = cluster.guild_on(0)
    reply = await ask(sandbox, "operator", guild, "!reload example", lambda m: bool(m.embeds))
    embed = reply.embeds[0]
    assert embed["title"] == "✅ Extension reloaded on 3/3 workers"
    lines = embed["description"].splitlines()
    assert len(lines) == 3, lines
    for line, ids in zip(lines, RANGES, strict=True):
        worker = cluster.workers[ids]
        shards = ",".join(map(str, shards_in(ids)))
        assert re.fullmatch(
            rf"✅ worker \S+:{worker.pid}:\w+ \(shards {shards}\): reload example: ok in \d+ ms", line
        ), line
    # The reloaded extension answers on every worker.
    for shard in (1, 3, 5):
        greeting = await ask(sandbox, "alice", cluster.guild_on(shard), "!hello")
        assert greeting.content == "Hello, Alice!"


async def test_reload_all_from_one_guild_reloads_every_extension_on_all_three_workers(
    cluster: Cluster,
) -> None:
    sandbox = cluster.sandbox
    reply = await ask(sandbox, "operator", cluster.guild_on(2), "!reload all", lambda m: bool(m.embeds))
    embed = reply.embeds[0]
    assert embed["title"] == "✅ Every loaded extension reloaded on 3/3 workers"
    lines = embed["description"].splitlines()
    assert len(lines) == 3, lines
    for line, ids in zip(lines, RANGES, strict=True):
        pid = cluster.workers[ids].pid
        # Each worker reloaded both of its extensions (example and the probe).
        assert re.fullmatch(rf"✅ worker \S+:{pid}:\w+ \(shards [\d,]+\): reload all: 2 ok", line), line
    greeting = await ask(sandbox, "alice", cluster.guild_on(4), "!hello")
    assert greeting.content == "Hello, Alice!"


async def test_a_console_attached_to_one_worker_shows_all_three_and_reloads_on_every_one(
    cluster: Cluster,
) -> None:
    # What `tui-bot attach data/admin-shards-2-3.sock` opens, driven by Textual's pilot.
    from console_harness import RecordingConsoleApp
    from textual.widgets import DataTable

    from tui_bot.runtime.admin import AdminClient, Target
    from tui_bot.tui import make_attached_console
    from tui_bot.tui.panes import ClusterPane, ExtensionsPane

    client = AdminClient(Target(path=cluster.folder / "data" / "admin-shards-2-3.sock"))
    await client.connect()
    app = make_attached_console(client, app_class=RecordingConsoleApp)
    assert isinstance(app, RecordingConsoleApp)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(lambda: bool(app.query("TabPane#cluster")), what="the Cluster tab", pilot=pilot)
        await pilot.press("6")
        table = app.query_one(ClusterPane).query_one(DataTable)
        await wait_until(lambda: table.row_count == 3, what="a row per worker", pilot=pilot)
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(3)]
        assert sorted(row[2] for row in rows) == list(RANGES)
        assert all(row[1] == "up" for row in rows)
        assert [row[2] for row in rows if row[0].endswith("(this)")] == ["2-3"]

        await pilot.press("4")
        extensions = app.query_one(ExtensionsPane).query_one(DataTable)
        await wait_until(lambda: extensions.row_count == 2, what="the extension rows", pilot=pilot)
        extensions.move_cursor(row=extensions.get_row_index("probe"))
        await pilot.pause()
        marks = {ids: len(worker.output) for ids, worker in cluster.workers.items()}
        await pilot.press("r")
        await wait_until(
            lambda: any(m.startswith("reload probe: 3/3 worker(s) ok") for m, _ in app.notified),
            what="every worker's answer",
            pilot=pilot,
        )
        for ids, worker in cluster.workers.items():
            assert "Extension probe: reload ok" in worker.output[marks[ids] :], ids
        await pilot.press("q")
        await wait_until(lambda: app.return_code is not None, pilot=pilot)
    assert all(worker.process.returncode is None for worker in cluster.workers.values())


async def test_a_process_claiming_a_live_workers_shards_is_refused_with_exit_code_75(
    cluster: Cluster,
) -> None:
    identifies = len(accepted_shards(cluster.sandbox))
    intruder = await start_worker(cluster.folder, "0-1")
    cluster.retired.append(intruder)
    assert await intruder.exit_code(60) == exit_codes.TRY_AGAIN == 75
    holder = cluster.workers["0-1"]
    assert re.search(
        rf"Cluster: this worker cannot start now: shard 0 is already served by worker \S+:{holder.pid}:\w+ "
        r"\(seen \d+ s ago\)\. Pick other --shard-ids, or stop that worker",
        intruder.output,
    ), intruder.output
    assert "Traceback" not in intruder.output
    assert len(accepted_shards(cluster.sandbox)) == identifies  # it never reached the gateway


async def test_a_killed_worker_is_reported_stale_and_a_new_process_takes_over_its_shards(
    cluster: Cluster,
) -> None:
    sandbox, url = cluster.sandbox, cluster.url
    loop = asyncio.get_running_loop()
    victim = cluster.workers["4-5"]
    killed_at = loop.time()
    await victim.kill()  # SIGKILL: no release, no last heartbeat
    cluster.retired.append(victim)

    await settled(
        lambda: worker_age(url, victim.pid),
        lambda age: age > STALE_AFTER,
        what="the killed worker's last heartbeat to be older than stale_after",
    )
    (code, text), (json_code, printed) = await asyncio.gather(
        cluster_cli(cluster.folder, url), cluster_cli(cluster.folder, url, "--json")
    )
    assert code == json_code == 1, text  # degraded
    assert "2 worker(s) up, 1 stale; 4/6 shards served" in text and "NOT SERVED: shard(s) 4-5" in text
    victim_row = next(line for line in text.splitlines() if f":{victim.pid}:" in line)
    assert re.search(r"\bstale\s+4-5\b", victim_row), victim_row
    status = json.loads(printed)
    assert (status["healthy"], status["shards_not_served"]) == (False, [4, 5])
    workers = {w["pid"]: w for w in status["workers"]}
    assert workers[victim.pid]["status"] == "stale" and workers[victim.pid]["shard_ids"] == [4, 5]
    assert {workers[w.pid]["status"] for w in (cluster.workers["0-1"], cluster.workers["2-3"])} == {"up"}

    replacement = await cluster.start("4-5")
    for guild in (cluster.guild_on(4), cluster.guild_on(5, 1)):
        reply = await ask(sandbox, "alice", guild, "!ping", pong)
        assert reply.content == f"pong from shard {shard_of(guild)} pid {replacement.pid}"
    MEASURED["SIGKILL -> replacement worker answering"] = (
        f"{loop.time() - killed_at:.1f} s (stale_after {STALE_AFTER:g} s)"
    )
    json_code, printed = await cluster_cli(cluster.folder, url, "--json")
    status = json.loads(printed)
    assert status["shards_served"] == list(range(SHARDS)) and status["shards_not_served"] == []
    workers = {w["pid"]: w for w in status["workers"]}
    assert workers[replacement.pid]["status"] == "up" and workers[replacement.pid]["shard_ids"] == [4, 5]


async def test_usage_counts_after_a_burst_over_every_worker_equal_the_commands_run(cluster: Cluster) -> None:
    sandbox, url = cluster.sandbox, cluster.url
    rounds = 5
    for number in range(rounds * len(cluster.guilds)):
        guild = cluster.guilds[number % len(cluster.guilds)]
        await sandbox.send_message("alice", general(guild), f"!count {number}")
    commands_run = rounds * len(cluster.guilds)
    replies = [
        await sandbox.wait_for_bot_message(check=lambda m: m.content.startswith("counted"), timeout=20)
        for _ in range(commands_run)
    ]
    assert sorted(int(m.content.split()[1]) for m in replies) == list(range(commands_run))
    by_channel = {general(guild): cluster.serving(guild).shard_ids for guild in cluster.guilds}
    assert {by_channel[m.channel_id] for m in replies} == set(RANGES)  # every worker ran its share

    async def stored() -> int:
        rows = await query(url, "SELECT usage_count FROM command_stats WHERE command_name = 'count'")
        return int(rows[0]["usage_count"]) if rows else 0

    # Each worker writes its counts every second; then a clean stop writes what is left (nothing).
    count = await settled(stored, lambda n: n >= commands_run, what="the usage counts to be written")
    assert count == commands_run
    codes = await asyncio.gather(*(worker.stop() for worker in cluster.workers.values()))
    assert codes == [exit_codes.OK] * len(RANGES), [w.output[-2000:] for w in cluster.workers.values()]
    assert await stored() == commands_run
    assert await query(url, "SELECT shard_id FROM tui_cluster_shards") == []  # released on the way out
    _code, text = await cluster_cli(cluster.folder, url)
    assert "0 worker(s) up" in text


# --- a second, smaller cluster: max_concurrency 2 ---------------------------------------------------


async def test_identifies_never_break_the_bucket_rule_with_max_concurrency_2(tmp_path: Path) -> None:
    # Two workers of two shards of 4: shards 0 and 2 share bucket 0, shards 1 and 3 bucket 1, so the
    # workers contend for each bucket through PostgreSQL.
    sandbox, guilds = cluster_sandbox(4, 1, max_concurrency=2, identify_window=IDENTIFY_WINDOW)
    async with fresh_database() as url, sandbox:
        small = Cluster(sandbox, url, write_bot_folder(tmp_path, sandbox, url), guilds, shard_count=4)
        try:
            await asyncio.gather(small.start("0-1"), small.start("2-3"))
            assert sandbox.identify_refusals == []
            assert accepted_shards(sandbox) == [(shard, 4) for shard in range(4)]
            spacing = identify_spacing(sandbox, 2)
            assert spacing >= IDENTIFY_WINDOW
            for guild in guilds:
                reply = await ask(sandbox, "alice", guild, "!ping", pong)
                assert reply.content == f"pong from shard {shard_of(guild, 4)} pid {small.serving(guild).pid}"
            assert all(len(bot_messages(sandbox, guild)) == 1 for guild in guilds)
            codes = await asyncio.gather(*(worker.stop() for worker in small.workers.values()))
            assert codes == [exit_codes.OK, exit_codes.OK]
        finally:
            await small.close()
    print(f"\nmeasured: max_concurrency 2: shortest spacing within one bucket: {spacing:.3f} s")
