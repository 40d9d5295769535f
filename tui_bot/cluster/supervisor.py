"""``tui-bot cluster run``: N workers on this host, each a contiguous range of shards, restarted if they die.

A convenience for one host; on several hosts each worker is its own service (systemd units in the
README). The supervisor imports nothing of the bot: it runs ``python -m tui_bot --headless`` with
``--shard-count`` and ``--shard-ids`` and prefixes each worker's output with its name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tui_bot import exit_codes

log = logging.getLogger("tui_bot.cluster")

RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_SECONDS = 60.0  # a worker up this long has its restart delay reset
STOP_GRACE_SECONDS = 20.0  # SIGTERM, then this long for a clean stop, then SIGKILL


def shard_ranges(workers: int, shard_count: int) -> list[range]:
    """Split ``shard_count`` shards into ``workers`` contiguous ranges, sizes differing by one at most."""
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, not {workers}")
    if shard_count < workers:
        raise ValueError(
            f"--shard-count {shard_count} is fewer shards than --workers {workers}: "
            "every worker needs a shard"
        )
    size, extra = divmod(shard_count, workers)
    ranges, start = [], 0
    for index in range(workers):
        end = start + size + (1 if index < extra else 0)
        ranges.append(range(start, end))
        start = end
    return ranges


def ids_argument(shards: range) -> str:
    return f"{shards.start}-{shards.stop - 1}" if len(shards) > 1 else str(shards.start)


@dataclass
class Worker:
    index: int
    shards: range
    command: list[str]
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    exits: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"worker {self.index} (shards {ids_argument(self.shards)})"


class Supervisor:
    """Starts the workers, restarts one that exits unexpectedly, stops them all on a signal."""

    def __init__(
        self,
        *,
        workers: int,
        shard_count: int,
        bot_arguments: Sequence[str] = (),
        python: str = sys.executable,
    ) -> None:
        self.workers = [
            Worker(
                index,
                shards,
                [
                    python,
                    "-m",
                    "tui_bot",
                    "--headless",
                    *bot_arguments,
                    "--shard-count",
                    str(shard_count),
                    "--shard-ids",
                    ids_argument(shards),
                ],
            )
            for index, shards in enumerate(shard_ranges(workers, shard_count))
        ]
        self.stopping = asyncio.Event()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self.stopping.set)
        print(f"tui-bot cluster: starting {len(self.workers)} worker(s); Ctrl+C stops them all", flush=True)
        tasks = [asyncio.create_task(self._keep_running(worker)) for worker in self.workers]
        stop: asyncio.Future[Any] = asyncio.create_task(self.stopping.wait())
        all_ended: asyncio.Future[Any] = asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.wait({stop, all_ended}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not self.stopping.is_set():  # every worker gave up (exit 78): waiting for Ctrl+C would hide that
            print("tui-bot cluster: no worker left running (configuration errors above); exiting", flush=True)
            return exit_codes.CONFIG_ERROR
        print("tui-bot cluster: stopping every worker", flush=True)
        await asyncio.gather(*(self._stop(worker) for worker in self.workers))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return exit_codes.OK

    async def _keep_running(self, worker: Worker) -> None:
        delay_index = 0
        while not self.stopping.is_set():
            started = asyncio.get_running_loop().time()
            worker.process = await asyncio.create_subprocess_exec(
                *worker.command,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # Ctrl+C reaches the supervisor, which stops workers in order
            )
            print(f"tui-bot cluster: {worker.name} started (pid {worker.process.pid})", flush=True)
            await self._relay(worker)
            code = await worker.process.wait()
            worker.exits.append(code)
            if self.stopping.is_set():
                return
            if code == exit_codes.CONFIG_ERROR:
                print(
                    f"tui-bot cluster: {worker.name} has a configuration error (exit 78); not restarting it",
                    flush=True,
                )
                return
            if asyncio.get_running_loop().time() - started > STABLE_SECONDS:
                delay_index = 0
            delay = RESTART_DELAYS[min(delay_index, len(RESTART_DELAYS) - 1)]
            delay_index += 1
            worker.restarts += 1
            print(f"tui-bot cluster: {worker.name} exited with {code}; restarting in {delay:g} s", flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=delay)

    @staticmethod
    async def _relay(worker: Worker) -> None:
        assert worker.process is not None and worker.process.stdout is not None
        prefix = f"[{worker.index}:{ids_argument(worker.shards)}] "
        async for line in worker.process.stdout:
            sys.stdout.write(prefix + line.decode("utf-8", "replace"))
            sys.stdout.flush()

    @staticmethod
    async def _stop(worker: Worker) -> None:
        process = worker.process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=STOP_GRACE_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()
