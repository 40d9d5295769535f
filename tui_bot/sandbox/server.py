"""The sandbox server and its Python API: start it, point discord.py at it, act as members, await the bot.

The server runs in the caller's event loop (``AppRunner`` + ``TCPSite``), so a bot, the console and
the sandbox share one loop and one clock, and tests can await bot behaviour without threads or sleeps.

:class:`Sandbox` is the one public class users read, and a facade: most methods are short, documented
delegates to the part that does the work (``gateway``, ``rest``, ``membership``, ``interactions``,
``faults``, ``ratelimits``, ``discord_py_target``). This module holds its life cycle, what bots did and
acting as members (why it is over 400 lines: mostly documentation); the knobs (faults, limits,
settings) are in ``server_knobs`` and guilds, members and bans in ``server_guilds``, which it inherits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from aiohttp import web, web_app

from . import reactions
from .control import ControlApi
from .discord_py_target import DiscordPyTarget, set_target
from .events import (
    DEFAULT_MAX_EVENTS,
    EventKind,
    EventLog,
    SandboxEvent,
)
from .gateway import GatewayHub
from .gateway_guard import DEFAULT_HEARTBEAT_GRACE, DEFAULT_SEND_LIMIT, DEFAULT_SEND_WINDOW, GatewayRules
from .guild_routes import GuildRoutes
from .identify_limits import (
    DEFAULT_SESSION_RESET_AFTER,
    DEFAULT_SESSION_START_TOTAL,
    IdentifyLimits,
)
from .interactions import InteractionApi, InteractionHandle
from .limits import CommandLimits
from .membership import Membership
from .rest import API_PREFIX, RestApi
from .rest_apps import ApplicationRoutes
from .rest_dms import DirectMessageRoutes
from .rest_messages import (
    MessageRoutes,
    dispatch_reaction_add,
    dispatch_reaction_remove,
    find_message,
)
from .server_guilds import SandboxGuilds
from .server_knobs import SandboxKnobs
from .validation import check_member_content
from .world import (
    Json,
    Member,
    Message,
    World,
    WorldError,
)
from .world_file import (
    demo_world,
)

log = logging.getLogger(__name__)

MAX_UPLOAD = 26 * 1024 * 1024  # Discord's 25 MiB attachment limit, plus room for the form wrapping


def _forget_handlers() -> None:
    # aiohttp memoises (handler, apps) -> middleware chain in a module-level lru_cache (1024 entries,
    # web_app._cached_build_middleware); the bound handlers keep a stopped sandbox, its world and its
    # event log alive, so a test run or benchmark with many sandboxes grows and slows the GC. Clearing
    # it only costs the next request of a running app a rebuild. Private API: skip if it is gone.
    cache = getattr(web_app, "_cached_build_middleware", None)
    if cache is not None and hasattr(cache, "cache_clear"):
        cache.cache_clear()


class Sandbox(SandboxKnobs, SandboxGuilds):
    """A local Discord on loopback that the unmodified discord.py client connects to.

    ``async with Sandbox() as sb:`` starts it on a free port; ``sb.point_discord_py_here()`` makes
    discord.py use it (undone by :meth:`stop`); ``await bot.start(sb.token)`` logs a bot in.

    Gateway limits (see ``identify_limits``): ``max_concurrency`` and ``session_start_limit`` (per
    ``session_reset_after`` seconds) are what ``GET gateway/bot`` reports; ``identify_window`` seconds
    (Discord: 5) between two IDENTIFYs of one bucket ``shard_id % max_concurrency`` are enforced, an
    IDENTIFY too soon getting INVALID_SESSION and a record in :attr:`identify_refusals`. None (the
    default here; ``tui-bot sandbox serve`` uses 5) does not enforce it, since test bots often skip
    discord.py's 5 s pause between shards. ``recommended_shards`` is ``gateway/bot``'s ``shards``.

    What clients send (see ``gateway_guard``): more than ``gateway_send_limit`` payloads (Discord: 120)
    in ``gateway_send_window`` seconds (60) on one connection closes it with 4008; no heartbeat for
    ``heartbeat_interval_ms`` plus ``heartbeat_grace`` seconds closes it with 4009 (a zombie). Both
    sessions stay resumable; None turns either rule off. :attr:`gateway_rules` changes them at run time.
    """

    def __init__(
        self,
        world: World | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat_interval_ms: int = 41250,
        max_events: int | None = DEFAULT_MAX_EVENTS,
        max_concurrency: int = 1,
        identify_window: float | None = None,
        session_start_limit: int = DEFAULT_SESSION_START_TOTAL,
        session_reset_after: float = DEFAULT_SESSION_RESET_AFTER,
        recommended_shards: int = 1,
        gateway_send_limit: int | None = DEFAULT_SEND_LIMIT,
        gateway_send_window: float = DEFAULT_SEND_WINDOW,
        heartbeat_grace: float | None = DEFAULT_HEARTBEAT_GRACE,
        command_limits: CommandLimits | None = None,
    ) -> None:
        self.world = world if world is not None else demo_world()
        self.host = host
        self.port = port
        # Bounded: a long session or benchmark keeps the last max_events events (None: all of them).
        self.event_log = EventLog(max_events)
        limits = IdentifyLimits(
            max_concurrency=max_concurrency,
            identify_window=identify_window,
            session_start_total=session_start_limit,
            session_reset_after=session_reset_after,
        )
        rules = GatewayRules(gateway_send_limit, gateway_send_window, heartbeat_grace)
        self.hub = GatewayHub(
            self.world,
            self.event_log,
            heartbeat_interval_ms=heartbeat_interval_ms,
            limits=limits,
            rules=rules,
        )
        self.recommended_shards = recommended_shards
        self.rest = RestApi(self.world, self.event_log, self.hub)
        if command_limits is not None:
            self.rest.command_limits = command_limits
        self.membership = Membership(self.world, self.hub, self.event_log)
        self.rest.extra_routes.append(GuildRoutes(self.rest, self.membership).install)
        self.interactions = InteractionApi(
            self.world, self.event_log, self.hub, self.rest, lambda: self.base_url
        )
        self.rest.extra_routes.append(self.interactions.install)
        # Reactions, bulk delete and pins (REST), and the /_sandbox/ control API (see control.py).
        self.message_routes = MessageRoutes(self.rest)
        self.rest.extra_routes.append(self.message_routes.install)
        self.rest.extra_routes.append(DirectMessageRoutes(self.rest).install)
        self.rest.extra_routes.append(ApplicationRoutes(self.rest).install)
        self.rest.extra_routes.append(ControlApi(self).install)
        self._runner: web.AppRunner | None = None
        self._previous_target: DiscordPyTarget | None = None
        # Event indexes already handed out by wait_for_bot_message / wait_for_presence (see _take).
        self._consumed: set[int] = set()
        self._unconsumed_from: dict[EventKind, int] = {}

    # -- lifecycle --

    async def start(self) -> None:
        """Listen on ``host:port`` (port 0 picks a free one; :attr:`port` then holds it)."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=MAX_UPLOAD)
        app.router.add_get("/gateway", self.hub.handle)
        self.rest.install(app)
        # No access log: every request is already in rest.requests, and the console has its own logs.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        log.info("sandbox listening on %s (gateway %s)", self.api_base, self.gateway_url)

    async def stop(self) -> None:
        """Close gateway sessions, stop listening and restore discord.py's endpoints if we moved them."""
        self.restore_discord_py()
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        await self.hub.close_all()
        await runner.cleanup()
        _forget_handlers()
        log.info("sandbox stopped")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- addresses --

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """The REST base for discord.py's ``Route.BASE``, e.g. ``http://127.0.0.1:PORT/api/v10``."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """The gateway URL for ``DiscordWebSocket.DEFAULT_GATEWAY``, e.g. ``ws://127.0.0.1:PORT/gateway``."""
        return f"ws://{self.host}:{self.port}/gateway"

    @property
    def token(self) -> str:
        """The token of the world's bot (:data:`SANDBOX_TOKEN` in the demo world)."""
        bot_id = self.world.application.bot_id
        return next(token for token, user_id in self.world.tokens.items() if user_id == bot_id)

    def point_discord_py_here(self) -> None:
        """Set discord.py's REST base and default gateway to this sandbox (process-wide class attributes).

        :meth:`stop` (or :meth:`restore_discord_py`) puts the previous values back.
        """
        previous = set_target(DiscordPyTarget(self.api_base, self.gateway_url))
        if self._previous_target is None:
            self._previous_target = previous

    def restore_discord_py(self) -> None:
        """Undo :meth:`point_discord_py_here` (no-op if it was not called)."""
        if self._previous_target is not None:
            set_target(self._previous_target)
            self._previous_target = None

    # -- what bots did --

    @property
    def events(self) -> list[SandboxEvent]:
        """Everything recorded so far, in order."""
        return list(self.event_log)

    @property
    def sent_messages(self) -> list[Message]:
        """Messages bots sent, in order (snapshots as sent; later edits are separate events)."""
        return [e.message for e in self.event_log if e.kind is EventKind.MESSAGE_CREATE and e.message]

    @property
    def requests(self) -> list[tuple[str, str, int]]:
        """Recent REST requests as (method, path and query, status)."""
        return list(self.rest.requests)

    async def wait_for_event(
        self,
        kind: EventKind | str,
        *,
        check: Callable[[SandboxEvent], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public test API
    ) -> SandboxEvent:
        """The first recorded event of ``kind`` (past or future) passing ``check``."""
        kind = EventKind(kind)
        return await self.event_log.wait_for(
            lambda e: e.kind is kind and (check is None or check(e)), timeout=timeout
        )

    async def wait_until_ready(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - public test API
        """Until a bot session has identified and been sent READY and all its GUILD_CREATEs.

        Anything the sandbox sends afterwards reaches that bot after its guilds (one ordered socket).
        discord.py fires ``on_ready`` later still, after ``guild_ready_timeout`` (2 s by default).
        """
        await self.wait_for_event(EventKind.READY, timeout=timeout)

    async def wait_for_bot_message(
        self,
        *,
        channel: str | int | None = None,
        check: Callable[[Message], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public test API
    ) -> Message:
        """The oldest bot message not yet returned by this method (in ``channel``, passing ``check``).

        Messages sent before the call count, so there is no race between acting and waiting.
        """
        channel_id = None if channel is None else self.world.find_channel(channel).id

        def wanted(event: SandboxEvent) -> bool:
            message = event.message
            return (
                message is not None
                and (channel_id is None or message.channel_id == channel_id)
                and (check is None or check(message))
            )

        event = await self._take(EventKind.MESSAGE_CREATE, wanted, timeout)
        assert event.message is not None
        return event.message

    @property
    def presence(self) -> Json | None:
        """The most recent presence a bot set (``status``, ``activities``, ``since``, ``afk``), if any."""
        latest = [e for e in self.event_log if e.kind is EventKind.PRESENCE_UPDATE]
        return dict(latest[-1].data) if latest else None

    async def wait_for_presence(
        self,
        *,
        check: Callable[[Json], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public test API
    ) -> Json:
        """The oldest presence update (from IDENTIFY or op 3) not yet returned by this method.

        Activities are Discord activity objects, e.g. ``{"type": 2, "name": "..."}``.
        """
        event = await self._take(EventKind.PRESENCE_UPDATE, lambda e: check is None or check(e.data), timeout)
        return dict(event.data)

    async def _take(
        self,
        kind: EventKind,
        predicate: Callable[[SandboxEvent], bool],
        timeout: float,  # noqa: ASYNC109 - passed through to EventLog.wait_for
    ) -> SandboxEvent:
        # Hand out each event of ``kind`` at most once, oldest first: a test can act, then wait, and
        # never miss what happened in between nor see the same event twice.
        start = self._unconsumed_from.get(kind, 0)
        event = await self.event_log.wait_for(
            lambda e: e.kind is kind and e.index not in self._consumed and predicate(e),
            start=start,
            timeout=timeout,
        )
        self._consumed.add(event.index)
        # Skip the fully consumed prefix so later waits do not rescan a long log from the start.
        index = max(start, self.event_log.first_index)
        while index < len(self.event_log) and (
            self.event_log[index].kind is not kind or index in self._consumed
        ):
            index += 1
        self._unconsumed_from[kind] = index
        return event

    # -- acting as members --

    async def send_message(self, author: str | int, channel: str | int, content: str) -> Message:
        """Post ``content`` in ``channel`` as the member ``author`` (name or id) and dispatch it to bots.

        Returns once MESSAGE_CREATE has been written to every connected bot's socket. More than 2,000
        characters is a ValueError: a member without Nitro cannot send that on Discord.
        """
        check_member_content(content)
        target = self.world.find_channel(channel)
        member = self.world.find_member(self.world.guilds[target.guild_id], author)
        message = self.world.create_message(target, member.user, content)
        self.event_log.record(
            EventKind.USER_MESSAGE,
            {"channel_id": target.id, "message_id": message.id, "author_id": member.id},
            message=message,
        )
        await self.hub.dispatch_message("MESSAGE_CREATE", message)
        return message

    async def send_direct_message(self, author: str | int, content: str) -> Message:
        """``author`` (a user's name or id) sends ``content`` to the bot in their DM channel.

        The channel is opened the first time. MESSAGE_CREATE goes to the bot's shard 0 sessions only
        (Discord sends events without a guild to the first shard); returns once it is on their sockets.
        """
        user = self.world.find_user(author)
        if user.bot:
            raise ValueError(f"{user.username!r} is a bot: only users send a bot DMs in the sandbox")
        check_member_content(content)
        channel = self.world.open_dm(user)
        message = self.world.create_message(channel, user, content)
        self.event_log.record(
            EventKind.USER_DIRECT_MESSAGE,
            {"channel_id": channel.id, "message_id": message.id, "author_id": user.id},
            message=message,
        )
        await self.hub.dispatch_message("MESSAGE_CREATE", message)
        return message

    async def delete_message(self, message: Message | int) -> None:
        """Delete ``message`` (a Message or an id) as its author or a moderator would, racing the bot.

        Returns once MESSAGE_DELETE is on every bot's socket; a later delete of it by a bot gets 404
        Unknown Message (10008), and a bulk delete naming it skips it, as on Discord.
        """
        if isinstance(message, Message):
            target = find_message(self.world, message.id, message.channel_id)
        else:
            target = find_message(self.world, int(message))
        if target is None:
            ref = message.id if isinstance(message, Message) else message
            raise WorldError(f"no message {ref} in the sandbox world (deleted, or never sent)")
        self.world.delete_message(target)
        await self.hub.dispatch_message_delete(target)

    # -- reactions (REST completeness) --
    # Members reacting to any message, the bot's included. Like send_message, these act as the member
    # without permission checks (the test decides what members do) and return once the event is on
    # every bot's socket (MESSAGE_REACTION_ADD/REMOVE need the GUILD_MESSAGE_REACTIONS intent).

    async def add_reaction(self, author: str | int, message: Message | int, emoji: str) -> Message:
        """React to ``message`` (a Message, e.g. from :meth:`wait_for_bot_message`, or an id) as ``author``.

        ``emoji`` is a unicode emoji (``"👍"``); the sandbox has no custom emoji. Returns the stored
        message, whose ``reactions`` maps each emoji to the ids of the users who reacted. Reacting
        twice with the same emoji changes nothing and dispatches nothing, as on Discord.
        """
        target, member, key = self._reaction_target(author, message, emoji)
        if reactions.add(target, member.id, key):
            self.event_log.record(
                EventKind.USER_REACTION_ADD,
                self._reaction_data(target, member.id, key),
                message=target,
            )
            await dispatch_reaction_add(self.hub, self.world, target, member.id, key)
        return target

    async def remove_reaction(self, author: str | int, message: Message | int, emoji: str) -> Message:
        """Take back ``author``'s ``emoji`` reaction on ``message`` (no-op if there is none)."""
        target, member, key = self._reaction_target(author, message, emoji)
        if reactions.remove(target, member.id, key):
            self.event_log.record(
                EventKind.USER_REACTION_REMOVE,
                self._reaction_data(target, member.id, key),
                message=target,
            )
            await dispatch_reaction_remove(self.hub, target, member.id, key)
        return target

    @staticmethod
    def _reaction_data(message: Message, user_id: int, key: str) -> Json:
        return {"channel_id": message.channel_id, "message_id": message.id, "user_id": user_id, "emoji": key}

    def _reaction_target(
        self, author: str | int, message: Message | int, emoji: str
    ) -> tuple[Message, Member, str]:
        if isinstance(message, Message):
            target = find_message(self.world, message.id, message.channel_id)
        else:
            target = find_message(self.world, int(message))
        if target is None or target.guild_id is None:
            ref = message.id if isinstance(message, Message) else message
            raise WorldError(f"no message {ref} in the sandbox world (deleted, or never sent)")
        member = self.world.find_member(self.world.guilds[target.guild_id], author)
        return target, member, reactions.emoji_key(emoji)

    # -- interactions --
    # Members using the bot's slash commands, autocomplete, buttons, selects and modals. Each call
    # returns once INTERACTION_CREATE is on the bot's socket; await the handle for what the bot did.
    # Refusals the Discord client would make (unsynced command, bad option, missing or disabled
    # component) raise InteractionError. sb.interactions.response_deadline = 3.0 enforces Discord's
    # 3-second rule (late callbacks get 404/10062); every handle records response_latency anyway.

    async def invoke_slash(
        self,
        author: Any,
        channel: Any,
        command: str,
        /,
        guild: Any = None,
        *,
        options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> InteractionHandle:
        """Invoke ``/command`` as ``author`` in ``channel``; ``"config set"`` names a subcommand.

        Options go by name (``**kwargs``, or ``options=`` for names that are not identifiers or clash
        with a parameter). Users/members take a name, id, mention or object; roles a name, ``@name``
        or id; channels a name, ``#name`` or id; attachments ``bytes``, ``(filename, bytes)`` or a Path.
        ``guild`` picks the guild when channel names repeat across guilds.
        """
        merged = {**(options or {}), **kwargs}
        return await self.interactions.invoke_slash(author, channel, command, guild=guild, options=merged)

    async def autocomplete(
        self,
        author: Any,
        channel: Any,
        command: str,
        focused: str,
        /,
        *,
        options: Mapping[str, Any] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public test API
        **kwargs: Any,
    ) -> list[Json]:
        """The choices (``[{"name", "value"}]``) the bot offers for option ``focused`` of ``/command``.

        The focused option's typed text is ``kwargs[focused]`` (default ``""``); other options as for
        :meth:`invoke_slash`.
        """
        merged = {**(options or {}), **kwargs}
        return await self.interactions.autocomplete(
            author, channel, command, focused, options=merged, timeout=timeout
        )

    async def click_button(
        self, author: Any, message: Message | int, custom_id: str | None = None, *, label: str | None = None
    ) -> InteractionHandle:
        """Click the button with ``custom_id`` (or ``label``; or the only one) on ``message``."""
        return await self.interactions.click_button(author, message, custom_id, label=label)

    async def select(
        self, author: Any, message: Message | int, custom_id: str | None, values: Sequence[Any]
    ) -> InteractionHandle:
        """Pick ``values`` in a select menu of ``message`` (``custom_id=None``: the only select).

        String selects take option values or labels; user/role/channel/mentionable selects take
        references as :meth:`invoke_slash` options do.
        """
        return await self.interactions.select(author, message, custom_id, values)

    async def submit_modal(
        self, author: Any, handle_or_modal: Any, values: Mapping[str, Any]
    ) -> InteractionHandle:
        """Submit the modal the bot opened in answer to ``handle_or_modal`` (a handle or its response).

        ``values`` maps each field's custom_id or label to its value: text for a text input, an option
        value or label (or a list) for a select, checkbox group or radio group, names or ids for user,
        role, channel and mentionable selects, files (bytes, ``(filename, bytes)``, a Path) for a file
        upload, True/False for a checkbox. Fields left out keep what the bot set (see ``forms_submit``).
        """
        return await self.interactions.submit_modal(author, handle_or_modal, values)
