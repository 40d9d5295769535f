"""A pytest plugin for testing discord.py bots against the sandbox, and the helper behind it.

Installed with tui-bot as the ``tui_bot_sandbox`` pytest plugin (entry point ``pytest11``), so any
project's tests can use these fixtures with no conftest (async fixtures need pytest-asyncio):

``sandbox_world``
    The :class:`~tui_bot.sandbox.World` to serve: the demo world. Override it in a conftest to serve
    your own (e.g. ``return load_world("tests/world.json")``).
``discord_sandbox``
    A started :class:`~tui_bot.sandbox.Sandbox` serving ``sandbox_world`` on 127.0.0.1, with
    discord.py pointed at it; stopped, and discord.py's endpoints restored, after the test.
``sandbox_bot``
    A factory: ``bot = await sandbox_bot(my_bot)`` starts any ``discord.Client`` (``commands.Bot``,
    ``AutoShardedBot``...) against ``discord_sandbox``, returns once ``on_ready`` has fired, and closes
    it after the test. An error raised while starting (bad intents, a failing ``setup_hook``) is
    raised from the call.

Example::

    async def test_ping(discord_sandbox, sandbox_bot):
        await sandbox_bot(make_my_bot())
        await discord_sandbox.send_message("alice", "general", "!ping")
        assert (await discord_sandbox.wait_for_bot_message()).content == "pong"

discord.py fires ``on_ready`` ``guild_ready_timeout`` seconds (2 by default) after the last guild
arrives: construct test bots with ``guild_ready_timeout=0.05``, or pass it to the factory.

When a test using ``discord_sandbox`` (or ``sandbox_bot``) fails, its report gets a "sandbox transcript"
section: the sandbox's last :data:`TRANSCRIPT_LINES` gateway frames (both ways, with op and event
names and the payload cut short), gateway closes and REST calls (method, path, status), in order.

The module imports neither discord.py nor the sandbox until a fixture runs, so installing tui-bot
does not slow down or break unrelated pytest runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    import discord

    from .server import Sandbox
    from .world import World

ClientT = TypeVar("ClientT", bound="discord.Client")

DEFAULT_READY_TIMEOUT = 15.0
TRANSCRIPT_LINES = 50  # entries of the transcript a failed test's report shows
# The sandbox a test used, kept on its item for the failure report (see pytest_runtest_makereport).
SANDBOX_KEY = pytest.StashKey["Sandbox"]()


@asynccontextmanager
async def running_bot(
    sandbox: Sandbox,
    bot: ClientT,
    *,
    token: str | None = None,
    timeout: float = DEFAULT_READY_TIMEOUT,  # noqa: ASYNC109 - how long start-up may take
    guild_ready_timeout: float | None = None,
) -> AsyncIterator[ClientT]:
    """Run ``bot`` against ``sandbox`` for the block: started, ``on_ready`` fired, closed at the end.

    ``token`` defaults to the sandbox's bot token. ``guild_ready_timeout`` overrides the client's
    (discord.py reads it from ``Client._connection``; it is a constructor option). Start-up errors are
    raised here; so is :class:`TimeoutError` if the bot is not ready within ``timeout`` seconds.
    """
    if guild_ready_timeout is not None:
        bot._connection.guild_ready_timeout = guild_ready_timeout
    task = asyncio.create_task(bot.start(token or sandbox.token), name=f"sandbox bot {bot!r}")
    ready = asyncio.create_task(bot.wait_until_ready())
    error: BaseException | None = None
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # start() ended before ready: raise its error
            raise RuntimeError("the bot's start() returned before it became ready")
        if ready not in done:
            recent = [e.kind.value for e in sandbox.events][-8:]
            raise TimeoutError(
                f"the bot did not become ready against the sandbox within {timeout}s "
                f"(latest events: {recent})"
            )
        yield bot
    except BaseException as exc:
        error = exc
        raise
    finally:
        ready.cancel()
        await bot.close()
        try:
            await asyncio.wait_for(task, timeout=10)
        except Exception:
            # start() failing after on_ready (e.g. a fatal gateway close) fails the test, unless the
            # test is already failing: then it is that error, or its consequence, and is not repeated.
            if error is None:
                raise


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the fixtures need it; say so when one is used
    HAVE_PYTEST_ASYNCIO = False
else:
    HAVE_PYTEST_ASYNCIO = True


def _async_fixture(function: Callable[..., Any]) -> Any:
    if HAVE_PYTEST_ASYNCIO:
        return pytest_asyncio.fixture(function)

    @pytest.fixture(name=function.__name__)
    def unavailable() -> None:
        pytest.fail(f"the {function.__name__} fixture needs pytest-asyncio: pip install pytest-asyncio")

    return unavailable


@pytest.fixture
def sandbox_world() -> World:
    """The world ``discord_sandbox`` serves: the demo world (override this fixture for your own)."""
    from .world_file import demo_world

    return demo_world()


@_async_fixture
async def discord_sandbox(sandbox_world: World, request: pytest.FixtureRequest) -> AsyncIterator[Sandbox]:
    """A started sandbox with discord.py pointed at it; stopped and endpoints restored afterwards."""
    from .server import Sandbox

    async with Sandbox(sandbox_world) as sandbox:
        request.node.stash[SANDBOX_KEY] = sandbox
        sandbox.point_discord_py_here()  # undone when the sandbox stops
        yield sandbox


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """A failed test that used ``discord_sandbox`` gets a "sandbox transcript" report section."""
    outcome = yield
    report = outcome.get_result()
    sandbox = item.stash.get(SANDBOX_KEY, None)
    if sandbox is None or not report.failed:
        return
    transcript = sandbox.transcript
    lines = transcript.lines(TRANSCRIPT_LINES)
    header = (
        f"the last {len(lines)} of the {len(transcript)} gateway frames, gateway closes and REST calls "
        "kept, oldest first (sandbox->bot: sent to a bot; bot->sandbox: received from one)"
    )
    report.sections.append(("sandbox transcript", "\n".join([header, *lines])))


@_async_fixture
async def sandbox_bot(discord_sandbox: Sandbox) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """``bot = await sandbox_bot(bot, *, token=None, timeout=15, guild_ready_timeout=None)``."""
    async with AsyncExitStack() as stack:

        async def start(
            bot: ClientT,
            *,
            token: str | None = None,
            timeout: float = DEFAULT_READY_TIMEOUT,  # noqa: ASYNC109 - how long start-up may take
            guild_ready_timeout: float | None = None,
        ) -> ClientT:
            return await stack.enter_async_context(
                running_bot(
                    discord_sandbox,
                    bot,
                    token=token,
                    timeout=timeout,
                    guild_ready_timeout=guild_ready_timeout,
                )
            )

        yield start
