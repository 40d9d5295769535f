"""One run of the bot: the local Discord in sandbox mode, the endpoints, the bot, and its shutdown.

The console and headless mode both drive a ``BotRuntime``; it owns no terminal and imports no Textual.
Whoever shows the bot (the console) is told when it exists through :meth:`BotRuntime.on_bot_created`,
instead of looking for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import discord

from tui_bot import exit_codes
from tui_bot.cluster import ShardClaimError
from tui_bot.config.env import Secrets
from tui_bot.config.store import ConfigStore
from tui_bot.core.bot import TuiBot, create_bot
from tui_bot.core.clustering import SessionStartsExhausted
from tui_bot.core.lifecycle import DEFAULT_SHUTDOWN_TIMEOUT
from tui_bot.core.watchdog import BlockSite, LoopWatchdog, site_in_frames, suspended_frames
from tui_bot.runtime import shutdown
from tui_bot.runtime.admin import AdminServer
from tui_bot.runtime.endpoints import EndpointError, apply_endpoints, restore_endpoints
from tui_bot.runtime.metrics_server import MetricsServer, start_metrics_server
from tui_bot.runtime.unreachable import unreachable_message
from tui_bot.storage import DatabaseError

if TYPE_CHECKING:
    from tui_bot.sandbox import Sandbox

log = logging.getLogger("tui_bot.runtime")

BotCreatedHook = Callable[[TuiBot], object]  # what it returns is ignored


class BotRuntime:
    """Builds and runs the bot for one process run; ``stop()`` ends it cleanly from anywhere.

    ``sandbox``: run against a local Discord started for this run. ``bot_options``: extra keyword
    arguments for :func:`~tui_bot.core.bot.create_bot` (discord.py's client options; the tests pass
    ``guild_ready_timeout=0.05`` so that on_ready comes without discord.py's 2 s wait).
    """

    def __init__(
        self,
        config: ConfigStore,
        secrets: Secrets,
        *,
        sandbox: bool = False,
        bot_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.secrets = secrets
        self.use_sandbox = sandbox
        self.bot_options: dict[str, Any] = dict(bot_options or {})
        self._bot_created_hooks: list[BotCreatedHook] = []
        self.sandbox: Sandbox | None = None
        self.bot: TuiBot | None = None
        self.exit_code = exit_codes.OK
        self._running = False
        # Set once the bot exists (or run() has ended), so that stop() never races its creation.
        self._bot_created = asyncio.Event()
        self._watchdog: LoopWatchdog | None = None
        self._closing: asyncio.Task[None] | None = None  # the bot's close(), begun by stop()
        self._close_by = 0.0  # loop time after which stop() stops waiting for it
        self.close_cut_short = False  # whether stop() gave up waiting for the close
        self.metrics_server: MetricsServer | None = None  # /metrics and /healthz (config.json's metrics)
        # The admin endpoint `tui-bot attach` connects to (config.json's admin section).
        self.admin = AdminServer(
            config.model, token=secrets.admin_token, target="sandbox" if sandbox else "Discord"
        )

    def on_bot_created(self, hook: BotCreatedHook) -> None:
        """Call ``hook(bot)`` as soon as the bot of this run exists, before it connects.

        Called in the event loop, from :meth:`run`; a hook that raises is logged and does not stop the run.
        """
        self._bot_created_hooks.append(hook)

    def _tell_bot_created(self, bot: TuiBot) -> None:
        for hook in self._bot_created_hooks:
            try:
                hook(bot)
            except Exception:
                log.exception("A listener of the bot's creation failed")

    async def _start_sandbox(self) -> tuple[str, set[int]]:
        from tui_bot.sandbox import Sandbox, demo_world

        operator = self.secrets.owner_ids[0] if self.secrets.owner_ids else None
        self.sandbox = Sandbox(demo_world(owner_id=operator))
        await self.sandbox.start()  # logs where it listens
        owners = {self.sandbox.world.owner_id} | set(self.secrets.owner_ids)
        return self.sandbox.token, owners

    def _endpoints(self) -> tuple[str | None, str | None]:
        if self.sandbox is not None:
            return self.sandbox.api_base, self.sandbox.gateway_url
        endpoints = self.config.model.discord
        # .env (or the environment) wins over config.json.
        return self.secrets.api_base or endpoints.api_base, self.secrets.gateway_url or endpoints.gateway_url

    async def run(self) -> int:
        """Run until the bot is closed; return the process exit code."""
        self._running = True
        previous = None
        self.admin.capture_logs()  # from the first line on, for the consoles that attach later
        try:
            if self.use_sandbox:
                token, owners = await self._start_sandbox()
            else:
                token, owners = self.secrets.token or "", set(self.secrets.owner_ids)
            api_base, gateway_url = self._endpoints()
            previous = apply_endpoints(api_base, gateway_url)
            if api_base or gateway_url:
                log.info(
                    "Discord endpoints: REST %s, gateway %s",
                    api_base or "(Discord)",
                    gateway_url or "(Discord)",
                )
            options = {"database_url": self.secrets.database_url, **self.bot_options}  # .env wins
            self.bot = create_bot(self.config, owner_ids=owners, **options)
            self._watch_the_loop(self.bot)
            if self.sandbox is not None:
                self.bot.add_listener(self._sync_sandbox_commands, "on_ready")
            self._bot_created.set()
            self._tell_bot_created(self.bot)
            self.metrics_server = await start_metrics_server(self.bot, self.config.model.metrics)
            await self.admin.start(self.bot)
            async with self.bot:
                await self.bot.start(token)
            # start() returns as soon as a close() begun elsewhere (stop()) has disconnected; wait for
            # that close to save the database, so run() ends after it and its exit code counts.
            await self.bot.close()
        except EndpointError as error:
            log.error("%s", error)
            self.exit_code = exit_codes.CONFIG_ERROR
        except discord.LoginFailure:
            log.error(
                "Discord rejected the token (401 Unauthorized). Put a valid bot token in DISCORD_TOKEN "
                "in .env (Developer Portal > your application > Bot > Reset Token)."
            )
            self.exit_code = exit_codes.CONFIG_ERROR
        except discord.PrivilegedIntentsRequired:
            # The members intent is only asked for when config.json's cache.members is "all".
            members = self.bot is not None and self.bot.intents.members
            log.error(
                "Discord refused the privileged intents. Enable 'Message Content Intent'%s in the "
                "Developer Portal (your application > Bot).",
                " and 'Server Members Intent' (config.json's cache.members is \"all\")" if members else "",
            )
            self.exit_code = exit_codes.CONFIG_ERROR
        except DatabaseError as error:
            log.critical("%s", error)
            self.exit_code = exit_codes.CRITICAL
        except (ShardClaimError, SessionStartsExhausted) as error:
            # Not a crash: this worker may start later (a supervisor or systemd retries it).
            log.error("Cluster: this worker cannot start now: %s", error)
            self.exit_code = exit_codes.TRY_AGAIN
        except Exception as error:
            unreachable = unreachable_message(error, discord.http.Route.BASE)
            if unreachable is not None:
                log.critical("%s", unreachable)  # one line: a traceback through aiohttp tells nothing more
            else:
                log.critical("The bot stopped on an unexpected error", exc_info=True)
            self.exit_code = exit_codes.CRITICAL
        finally:
            self._bot_created.set()
            if self._watchdog is not None:
                self._watchdog.stop()
            if self.metrics_server is not None:
                await self.metrics_server.stop()
            await self.admin.stop()
            if self.sandbox is not None:
                await self.sandbox.stop()
            if previous is not None:
                restore_endpoints(previous)
        return self.exit_code

    async def _sync_sandbox_commands(self) -> None:
        # Against Discord slash commands are synced only on demand (a rate-limited call). The sandbox has
        # no such limit, and a newcomer trying /help should not first need to learn about !sync.
        if self.bot is not None:
            result = await self.bot.actions.sync()
            log.info("Sandbox: %s", result.describe())

    def _watch_the_loop(self, bot: TuiBot) -> None:
        manager = bot.extension_manager
        self._watchdog = LoopWatchdog(manager.directory, manager.name_for_path)
        self._watchdog.start()
        deadline = shutdown.process_deadline()
        if deadline is not None:
            deadline.reporters.append(self._unfinished)

    def shutdown_bound(self) -> float:
        """Seconds from a shutdown request until the process is ended regardless: the drain time
        (``shutdown_timeout``) plus :data:`shutdown.PROCESS_GRACE_SECONDS`."""
        drain = self.bot.shutdown_timeout if self.bot is not None else DEFAULT_SHUTDOWN_TIMEOUT
        return drain + shutdown.PROCESS_GRACE_SECONDS

    def _closing_site(self) -> BlockSite | None:
        if self._closing is None or self._closing.done() or self.bot is None:
            return None
        manager = self.bot.extension_manager
        frames = suspended_frames(self._closing)[::-1]
        return site_in_frames(frames, manager.directory, manager.name_for_path)

    def _unfinished(self) -> list[str]:
        # For the process deadline and a second signal (another thread, or a signal handler): reads only.
        lines = []
        site = self._closing_site()
        if site is not None and site.extension is not None:
            lines.append(f"the bot's close is waiting at {site.describe()}")
        blocked = self._watchdog.site_now() if self._watchdog is not None else None
        if blocked is not None and blocked.extension is not None:
            lines.append(f"the event loop is at {blocked.describe()}")
        if self.bot is not None and self.bot.db.connected:
            lines.append(
                "not saved: the shutdown backup, and any command usage counts not yet written "
                "(the database was not closed)"
            )
        return lines

    async def stop(self) -> None:
        """Close the bot (stats flushed, database backed up); ``run()`` then returns.

        Bounded: once ``shutdown_timeout`` + :data:`shutdown.CLOSE_GRACE_SECONDS` have passed (a hung
        extension), the usage counts are saved if the database still answers, what could not be saved is
        logged, the exit code becomes 124, and stop() returns without waiting any longer.
        """
        if not self._running:
            return
        shutdown.arm_process_deadline(self.shutdown_bound(), "the shutdown")
        await self._bot_created.wait()
        bot = self.bot
        if bot is None:
            return
        loop = asyncio.get_running_loop()
        if self._closing is None:
            if bot.is_closed():
                return
            log.info("Shutting down")
            self._close_by = loop.time() + bot.shutdown_timeout + shutdown.CLOSE_GRACE_SECONDS
            self._closing = asyncio.create_task(self._close(bot), name="tui-bot:close")
        await asyncio.wait({self._closing}, timeout=max(self._close_by - loop.time(), 0))
        if not self._closing.done() and not self.close_cut_short:
            self.close_cut_short = True
            await self._cut_close_short(bot)

    async def _close(self, bot: TuiBot) -> None:
        try:
            await bot.close()
        except DatabaseError as error:
            # Says what was not saved (usage counts, the shutdown backup); logged so it is redacted and
            # kept in permanent.log, and the process still exits, with 1.
            log.error("Shutdown: %s", error)
            self.exit_code = exit_codes.CRITICAL
        except (Exception, SystemExit, KeyboardInterrupt):
            # In a task, SystemExit would be re-raised out of the event loop: the shutdown must go on.
            log.critical("Closing the bot failed", exc_info=True)
            self.exit_code = exit_codes.CRITICAL

    async def _cut_close_short(self, bot: TuiBot) -> None:
        site = self._closing_site()
        log.error(
            "The bot did not close within %.0f s%s; not waiting for it any longer (exit code %d)",
            bot.shutdown_timeout + shutdown.CLOSE_GRACE_SECONDS,
            f" (waiting at {site.describe()})" if site is not None else "",
            exit_codes.SHUTDOWN_FORCED,
        )
        self.exit_code = exit_codes.SHUTDOWN_FORCED
        if not bot.db.connected:
            return
        try:
            async with asyncio.timeout(shutdown.LEFTOVER_TASK_GRACE_SECONDS * 2):
                await bot.db.close(backup=False)  # writes the pending usage counts
        except TimeoutError:
            log.error(
                "Shutdown: not saved: the command usage counts not yet written (the database did not "
                "answer in time) and the shutdown backup"
            )
        except DatabaseError as error:
            log.error("Shutdown: not saved: %s Nor the shutdown backup.", error)
        else:
            log.warning("Shutdown: the command usage counts were saved; not saved: the shutdown backup")
