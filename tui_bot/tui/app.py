"""The console app: hosts the bot in the same event loop and shows its log live.

The bot runs in one app-level worker that never closes the app on error; quitting first awaits the
bot's clean close (stats flushed, database backed up).
"""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Header, Log, Static

from tui_bot import exit_codes
from tui_bot.config import ConfigStore, Secrets
from tui_bot.core.runtime import BotRuntime
from tui_bot.logs.setup import configure_logging, install_exception_hooks
from tui_bot.tui.log_buffer import BufferedLogHandler

LOG_DRAIN_SECONDS = 0.1
MAX_LOG_LINES = 5_000


class ConsoleApp(App[int]):
    """The operator's console."""

    TITLE = "tui-bot"
    CSS = """
    #status { height: 1; padding: 0 1; background: $boost; }
    Log { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "Quit (closes the bot cleanly)")]

    def __init__(self, runtime: BotRuntime, log_handler: BufferedLogHandler) -> None:
        super().__init__()
        self.runtime = runtime
        self.log_handler = log_handler
        self.mode = "sandbox" if runtime.use_sandbox else "Discord"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"Connecting to {self.mode}…", id="status")
        yield Log(max_lines=MAX_LOG_LINES, id="log")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(LOG_DRAIN_SECONDS, self.drain_logs)
        self.set_interval(1.0, self.show_status)
        self.run_bot()

    def drain_logs(self) -> None:
        """Move pending log lines into the Log widget in one batch."""
        lines = self.log_handler.drain()
        if lines:
            self.query_one(Log).write_lines([text for _, text in lines])

    def show_status(self) -> None:
        bot = self.runtime.bot
        if bot is None:
            state = "starting"
        elif bot.is_closed():
            state = "closed"
        elif bot.is_ready():
            state = f"ready as {bot.user} · {len(bot.guilds)} guild(s) · {bot.latency * 1000:.0f} ms"
        else:
            state = "connecting"
        self.query_one("#status", Static).update(f"{self.mode}: {state}")

    @work(exclusive=True, group="bot", exit_on_error=False)
    async def run_bot(self) -> None:
        code = await self.runtime.run()
        self.show_status()
        if code != exit_codes.OK:
            self.notify(
                f"The bot stopped (exit code {code}); see the log. Press q to quit.",
                severity="error",
                timeout=30,
            )

    async def action_quit(self) -> None:
        """Close the bot cleanly, then leave with its exit code."""
        self.query_one("#status", Static).update(f"{self.mode}: shutting down…")
        await self.runtime.stop()
        self.drain_logs()
        self.exit(self.runtime.exit_code)


def run_console(store: ConfigStore, secrets: Secrets, *, sandbox: bool) -> int:
    """Run the console until the operator quits; return the exit code."""
    handler = BufferedLogHandler()
    session = configure_logging(store.model.logging, secrets=[secrets.token], extra_handlers=[handler])
    install_exception_hooks(session.redactor)
    store.log_load_notes()
    try:
        app = ConsoleApp(BotRuntime(store, secrets, sandbox=sandbox), handler)
        code = app.run()
        return exit_codes.OK if code is None else code
    finally:
        session.close()
