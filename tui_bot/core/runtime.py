"""One run of the bot: the local Discord in sandbox mode, the endpoints, the bot, and its shutdown.

The console and headless mode both drive a ``BotRuntime``; it owns no terminal and imports no Textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING

import discord

from tui_bot import exit_codes
from tui_bot.config.env import Secrets
from tui_bot.config.store import ConfigStore
from tui_bot.core.bot import TuiBot, create_bot
from tui_bot.core.endpoints import EndpointError, apply_endpoints, restore_endpoints
from tui_bot.storage import DatabaseError

if TYPE_CHECKING:
    from tui_bot.sandbox import Sandbox

log = logging.getLogger("tui_bot.runtime")


class BotRuntime:
    """Builds and runs the bot for one process run; ``stop()`` ends it cleanly from anywhere."""

    def __init__(self, config: ConfigStore, secrets: Secrets, *, sandbox: bool = False) -> None:
        self.config = config
        self.secrets = secrets
        self.use_sandbox = sandbox
        self.sandbox: Sandbox | None = None
        self.bot: TuiBot | None = None
        self.exit_code = exit_codes.OK
        self._running = False
        # Set once the bot exists (or run() has ended), so that stop() never races its creation.
        self._bot_created = asyncio.Event()

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
            self.bot = create_bot(self.config, owner_ids=owners)
            if self.sandbox is not None:
                self.bot.add_listener(self._sync_sandbox_commands, "on_ready")
            self._bot_created.set()
            async with self.bot:
                await self.bot.start(token)
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
            log.error(
                "Discord refused the privileged intents. Enable 'Message Content Intent' and 'Server "
                "Members Intent' in the Developer Portal (your application > Bot)."
            )
            self.exit_code = exit_codes.CONFIG_ERROR
        except DatabaseError as error:
            log.critical("%s", error)
            self.exit_code = exit_codes.CRITICAL
        except Exception:
            log.critical("The bot stopped on an unexpected error", exc_info=True)
            self.exit_code = exit_codes.CRITICAL
        finally:
            self._bot_created.set()
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

    async def stop(self) -> None:
        """Close the bot (stats flushed, database backed up); ``run()`` then returns."""
        if not self._running:
            return
        await self._bot_created.wait()
        if self.bot is not None and not self.bot.is_closed():
            log.info("Shutting down")
            await self.bot.close()


async def run_headless(runtime: BotRuntime) -> int:
    """Run with SIGINT/SIGTERM handled as a clean shutdown (for servers and systemd)."""
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Windows has no add_signal_handler; Ctrl+C still raises KeyboardInterrupt there.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop_requested.set)
    run_task = asyncio.create_task(runtime.run(), name="tui-bot:run")
    signal_task = asyncio.create_task(stop_requested.wait(), name="tui-bot:signals")
    await asyncio.wait({run_task, signal_task}, return_when=asyncio.FIRST_COMPLETED)
    if signal_task.done():
        log.info("Signal received: closing the bot")
        await runtime.stop()
    else:
        signal_task.cancel()
    return await run_task
