"""Headless mode (``tui-bot --headless``): one run of the bot with SIGINT/SIGTERM as a clean shutdown.

The shutdown is bounded (see :mod:`tui_bot.runtime.shutdown`): what is still running once the bot has
closed is named in the log and does not keep the process alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from tui_bot import exit_codes
from tui_bot.core.watchdog import site_in_frames, suspended_frames
from tui_bot.runtime import shutdown
from tui_bot.runtime.bot_runtime import BotRuntime

log = logging.getLogger("tui_bot.runtime")


async def run_headless(runtime: BotRuntime) -> int:
    """Run with SIGINT/SIGTERM handled as a clean shutdown (for servers and systemd).

    The shutdown is bounded (see :mod:`tui_bot.runtime.shutdown`): a second signal ends the process at once
    (exit code 128 + the signal number), and tasks left behind that ignore cancellation do not keep it
    alive.
    """
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    signals = shutdown.StopSignals(loop, lambda _name: stop_requested.set(), runtime.shutdown_bound)
    signals.install()
    try:
        run_task = asyncio.create_task(runtime.run(), name="tui-bot:run")
        signal_task = asyncio.create_task(stop_requested.wait(), name="tui-bot:signals")
        await asyncio.wait({run_task, signal_task}, return_when=asyncio.FIRST_COMPLETED)
        if signal_task.done():
            log.info("%s received: closing the bot", signals.received or "Signal")
            await runtime.stop()
        else:
            signal_task.cancel()
        code = await _run_result(run_task, runtime)
        # What follows is the event loop's own clean-up (cancelling tasks, joining executor threads).
        shutdown.arm_process_deadline(shutdown.TEARDOWN_GRACE_SECONDS, "the event loop's clean-up")
        await _end_leftover_tasks(runtime, code)
        return code
    finally:
        signals.restore()


async def _run_result(run_task: asyncio.Task[int], runtime: BotRuntime) -> int:
    """The run's exit code once it has ended. After a close cut short, run() may never end on its own
    (it waits for that close): it is cancelled."""
    grace = shutdown.LEFTOVER_TASK_GRACE_SECONDS if runtime.close_cut_short else shutdown.CLOSE_GRACE_SECONDS
    await asyncio.wait({run_task}, timeout=grace)
    for _ in range(3):  # each cancel interrupts one await; run() awaits a few things on its way out
        if run_task.done():
            break
        run_task.cancel()
        await asyncio.wait({run_task}, timeout=shutdown.LEFTOVER_TASK_GRACE_SECONDS)
    if run_task.done() and not run_task.cancelled():
        return run_task.result()
    log.error("The bot's run did not end by itself and was cancelled")
    if runtime.exit_code == exit_codes.OK:
        runtime.exit_code = exit_codes.SHUTDOWN_FORCED
    return runtime.exit_code


async def _end_leftover_tasks(runtime: BotRuntime, code: int) -> None:
    """Cancel the tasks still running, as asyncio.run() does next, but without waiting for ever for
    those that ignore cancellation (an extension's): they are named and the process ends."""
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=shutdown.LEFTOVER_TASK_GRACE_SECONDS)
    stuck = [task for task in tasks if not task.done()]
    if not stuck:
        return
    names = []
    for task in stuck:
        site = None
        if runtime.bot is not None:
            manager = runtime.bot.extension_manager
            site = site_in_frames(suspended_frames(task)[::-1], manager.directory, manager.name_for_path)
        names.append(f"{task.get_name()!r}" + (f" at {site.describe()}" if site is not None else ""))
    log.warning(
        "Task(s) still running after the shutdown ignore cancellation: %s; ending the process without them",
        ", ".join(names),
    )
    # The loop's own worker threads are not the extensions' threads: end them before naming what is left.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(shutdown.LEFTOVER_TASK_GRACE_SECONDS):
            await asyncio.get_running_loop().shutdown_default_executor()
    shutdown.report_leftover_threads()
    shutdown.hard_exit(code)
