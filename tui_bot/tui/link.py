"""The one way the console reaches its bot: :class:`BotLink`, in-process or over the admin endpoint.

Every pane read and every operator action of :class:`~tui_bot.tui.app.ConsoleApp` goes through a link.
:class:`InProcessLink` runs the bot in the console's own event loop (``tui-bot``) and reads it with a
:class:`~tui_bot.runtime.reader.BotReader`; :class:`~tui_bot.tui.remote.RemoteLink` is a client of a bot
running elsewhere (``tui-bot attach``), whose reads come from a cache it refreshes in the background. The
reads are synchronous (panes render on a timer), the actions async, and both return the same objects:
rows, ``ActionResult`` subclasses, a ``SyncPlan``. Bot -> console news (its creation, connection changes,
hot reloads, a lost attachment) arrive as Textual messages the link posts.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

from tui_bot.cluster.membership import WorkerStatus
from tui_bot.core.actions import ExtensionVerb
from tui_bot.core.results import ActionResult
from tui_bot.core.sync import SyncPlan
from tui_bot.runtime import BotRuntime
from tui_bot.runtime.reader import BotReader, ExtensionRow, GuildDetails, GuildRow
from tui_bot.tui.connection import ConnectionState, ConnectionWatcher, initial_state
from tui_bot.tui.invite import invite_link
from tui_bot.tui.messages import BotCreated, HotReloaded

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot
    from tui_bot.sandbox import Sandbox

Post = Callable[[Message], object]
ReaderFactory = Callable[["TuiBot"], BotReader]


@dataclass(frozen=True)
class ClusterView:
    """What the Cluster pane needs: this worker's id, when a worker counts as stale, and a way to read
    every worker (from PostgreSQL in-process, from the attached worker remotely)."""

    worker_id: str
    stale_after: float
    read: Callable[[], Awaitable[list[WorkerStatus]]]


class LinkLost(Message):
    """An attached console lost its bot (it stopped, or the connection broke); it keeps trying."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class LinkRestored(Message):
    """An attached console reached its bot again."""


class LinkRefreshed(Message):
    """A remote link fetched data a pane asked for: show it now rather than at the next tick."""


class BotLink(abc.ABC):
    """How the console reads and drives one bot."""

    #: Where the bot is, for the status bar: "sandbox" or "Discord" (and ", attached").
    target: str = "Discord"
    #: What the console is attached to (a socket path or URL), None when the bot runs in this process.
    attached_to: str | None = None

    # -- life --------------------------------------------------------------------------------------

    @abc.abstractmethod
    def start(self, post: Post) -> None:
        """Called once the app is mounted: ``post`` delivers messages to it."""

    @abc.abstractmethod
    async def run(self) -> int:
        """Until :meth:`stop`: run the bot (in-process) or stay attached; the exit code."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Close the bot cleanly (in-process) or leave it running (attached)."""

    @property
    @abc.abstractmethod
    def exit_code(self) -> int:
        """What the console exits with."""

    @property
    def sandbox(self) -> Sandbox | None:
        """The local Discord of this run, in-process only (the Chat pane needs its objects)."""
        return None

    # -- reads ---------------------------------------------------------------------------------------

    @property
    @abc.abstractmethod
    def ready(self) -> bool:
        """Whether there is a bot to read (created, or attached and answered once)."""

    @property
    @abc.abstractmethod
    def usable(self) -> bool:
        """Whether actions can run: the bot is reachable and open."""

    @abc.abstractmethod
    def stats(self) -> dict[str, Any] | None:
        """``bot.metrics.get_stats()``; None while an attached console has none yet."""

    @abc.abstractmethod
    def gateway_latency_ms(self) -> float | None: ...

    @abc.abstractmethod
    def shard_count(self) -> int: ...

    @abc.abstractmethod
    def shard_ids(self) -> tuple[int, ...] | None:
        """The shards this bot's process runs, when it runs only some of them."""

    @abc.abstractmethod
    def guild_count(self) -> int: ...

    @abc.abstractmethod
    def auto_reload(self) -> bool: ...

    @abc.abstractmethod
    def guilds(self) -> list[GuildRow]: ...

    @abc.abstractmethod
    def extensions(self) -> list[ExtensionRow]: ...

    @abc.abstractmethod
    async def guild_details(self, guild_id: int) -> GuildDetails | None: ...

    @abc.abstractmethod
    def is_loaded(self, name: str) -> bool: ...

    @property
    @abc.abstractmethod
    def application_id(self) -> int | None: ...

    @abc.abstractmethod
    def invite_link(self) -> str | None:
        """The link that adds the bot to a server; None before login."""

    @abc.abstractmethod
    def cluster_view(self) -> ClusterView | None:
        """The cluster this bot is a worker of (once it has claimed its shards), else None."""

    # -- actions (the same as the keys and the owner commands; see tui_bot.core.actions) --------

    @abc.abstractmethod
    async def extension(self, verb: ExtensionVerb, name: str) -> ActionResult:
        """Load, unload or reload, on every worker of a cluster."""

    @abc.abstractmethod
    async def reload_all(self) -> ActionResult: ...

    @abc.abstractmethod
    async def set_auto_reload(self, on: bool) -> ActionResult: ...

    @abc.abstractmethod
    async def backup(self) -> ActionResult: ...

    @abc.abstractmethod
    async def atomictest(self) -> ActionResult: ...

    @abc.abstractmethod
    async def plan_sync(self, guild_id: int | None) -> SyncPlan | ActionResult: ...

    @abc.abstractmethod
    async def sync(self, guild_id: int | None, *, force: bool) -> ActionResult: ...


class InProcessLink(BotLink):
    """The bot of a :class:`BotRuntime` run in the console's own event loop (``tui-bot``)."""

    def __init__(self, runtime: BotRuntime, *, reader_factory: ReaderFactory = BotReader) -> None:
        self.runtime = runtime
        self.reader_factory = reader_factory
        self.target = "sandbox" if runtime.use_sandbox else "Discord"
        self.bot: TuiBot | None = None
        self.reader: BotReader | None = None
        self.watcher: ConnectionWatcher | None = None
        self._post: Post = lambda _message: None

    def start(self, post: Post) -> None:
        self._post = post
        # Told, not polled: the runtime calls this as soon as the bot exists (in this event loop).
        self.runtime.on_bot_created(lambda bot: post(BotCreated(bot)))

    def follow(self, bot: TuiBot) -> ConnectionState:
        """Start reading a bot the runtime just created; its connection state now."""
        self.bot = bot
        self.reader = self.reader_factory(bot)
        self.watcher = ConnectionWatcher(bot, self._post)
        self.watcher.attach()
        bot.actions.hot_reload_listeners.append(lambda result: self._post(HotReloaded(result)))
        return initial_state(bot)

    async def run(self) -> int:
        return await self.runtime.run()

    async def stop(self) -> None:
        await self.runtime.stop()

    @property
    def exit_code(self) -> int:
        return self.runtime.exit_code

    @property
    def sandbox(self) -> Sandbox | None:
        return self.runtime.sandbox

    # -- reads ---------------------------------------------------------------------------------------

    def _reader(self) -> BotReader:
        if self.reader is None:
            raise RuntimeError("no bot yet")
        return self.reader

    def _bot(self) -> TuiBot:
        if self.bot is None:
            raise RuntimeError("no bot yet")
        return self.bot

    @property
    def ready(self) -> bool:
        return self.reader is not None

    @property
    def usable(self) -> bool:
        return self.bot is not None and not self.bot.is_closed()

    def stats(self) -> dict[str, Any]:
        return self._reader().stats()

    def gateway_latency_ms(self) -> float | None:
        return self._reader().gateway_latency_ms()

    def shard_count(self) -> int:
        return self._reader().shard_count()

    def shard_ids(self) -> tuple[int, ...] | None:
        return self._reader().shard_ids()

    def guild_count(self) -> int:
        return len(self._bot().guilds)

    def auto_reload(self) -> bool:
        return self._reader().auto_reload()

    def guilds(self) -> list[GuildRow]:
        return self._reader().guilds()

    def extensions(self) -> list[ExtensionRow]:
        return self._reader().extensions()

    async def guild_details(self, guild_id: int) -> GuildDetails | None:
        return await self._reader().guild_details(guild_id)

    def is_loaded(self, name: str) -> bool:
        bot = self.bot
        return bot is not None and bot.extension_manager.qualified(name) in bot.extensions

    @property
    def application_id(self) -> int | None:
        return None if self.bot is None else self.bot.application_id

    def invite_link(self) -> str | None:
        return None if self.bot is None else invite_link(self.bot)

    def cluster_view(self) -> ClusterView | None:
        cluster = None if self.bot is None else self.bot.cluster
        if cluster is None or not cluster.node.started:
            return None
        node = cluster.node
        return ClusterView(node.worker_id, node.stale_after, node.workers)

    # -- actions -------------------------------------------------------------------------------------

    async def extension(self, verb: ExtensionVerb, name: str) -> ActionResult:
        return await self._bot().actions.everywhere(verb, name)

    async def reload_all(self) -> ActionResult:
        return await self._bot().actions.reload_all_everywhere()

    async def set_auto_reload(self, on: bool) -> ActionResult:
        return await self._bot().actions.set_auto_reload(on)

    async def backup(self) -> ActionResult:
        return await self._bot().actions.backup()

    async def atomictest(self) -> ActionResult:
        return await self._bot().actions.atomictest()

    async def plan_sync(self, guild_id: int | None) -> SyncPlan | ActionResult:
        return await self._bot().actions.plan_sync(guild_id)

    async def sync(self, guild_id: int | None, *, force: bool) -> ActionResult:
        return await self._bot().actions.sync(guild_id, force=force)
