"""The console app: shows one bot live, hosted in the same event loop or attached to it.

The app reaches its bot only through a :class:`~tui_bot.tui.link.BotLink`: in-process (``tui-bot``:
the bot runs in one app-level worker that never closes the app on error, and quitting first awaits its
clean close) or over the bot's admin endpoint (``tui-bot attach``: quitting leaves the bot running).
Bot -> console traffic is either a typed message (the bot's creation, posted by the runtime; the
connection state; a lost attachment) or a snapshot the app reads from the link on a timer (logs every
0.1 s in batches, the shown pane and the status bar every second). Every operator action calls the
link, which calls the same ``bot.actions`` method as the Discord owner commands, in a worker; its result
becomes a notification.

Why this module is over 400 lines: it is Textual's one ``App`` class, and Textual wants its key
bindings, ``action_*`` methods, ``check_action`` and message handlers on that class. Each action is a
few lines handing over to the link; the panes, the palette, the dialogs, the factory, the links and the
log plumbing live in their own modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, on, work
from textual.app import App, ComposeResult, ScreenStackError, SystemCommand
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, Header, HelpPanel, TabbedContent, TabPane
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from tui_bot import exit_codes
from tui_bot.core.actions import BatchResult, ExtensionChange, ExtensionVerb
from tui_bot.core.bot import TuiBot
from tui_bot.core.extensions import ExtensionResult
from tui_bot.core.results import ActionResult
from tui_bot.core.sync import SyncPlan
from tui_bot.logs.redaction import redact
from tui_bot.runtime import BotRuntime
from tui_bot.tui.commands import ConsoleCommands, PaletteCommand, console_commands
from tui_bot.tui.connection import ConnectionChanged, ConnectionState
from tui_bot.tui.error_notices import ErrorNotices
from tui_bot.tui.keys_panel import KeysPanel
from tui_bot.tui.link import BotLink, InProcessLink, LinkLost, LinkRefreshed, LinkRestored, ReaderFactory
from tui_bot.tui.log_buffer import BufferedLogHandler
from tui_bot.tui.messages import BotCreated, HotReloaded
from tui_bot.tui.modals import SyncPlanScreen
from tui_bot.tui.panes import ClusterPane, ExtensionsPane, GuildsPane, LogsPane, MetricsPane, StatusBar
from tui_bot.tui.reader import BotReader
from tui_bot.tui.screenshots import screenshot_folder

if TYPE_CHECKING:
    from tui_bot.sandbox import Sandbox  # the sandbox is imported only when it runs

log = logging.getLogger("tui_bot.console")

LOG_DRAIN_SECONDS = 0.1
REFRESH_SECONDS = 1.0
NARROW_WIDTH = 100  # below this, side-by-side layouts stack

TABS = ("logs", "metrics", "guilds", "extensions", "chat", "cluster")
OPTIONAL_TABS = frozenset({"chat", "cluster"})  # added only in sandbox mode / for a cluster worker
EXTENSION_ACTIONS = frozenset({"load_extension", "unload_extension", "reload_extension"})
SYNC_ACTIONS = frozenset({"sync_commands", "sync_guild"})
BOT_ACTIONS = EXTENSION_ACTIONS | SYNC_ACTIONS | {"reload_all", "toggle_auto_reload", "backup", "atomictest"}
# The palette's own "Quit" closes the bot first and is dimmed while quitting, its "Keys" is the `?` panel
# and its "Screenshot" finds a folder that exists. Textual's entries of the same names are left out.
REPLACED_SYSTEM_COMMANDS = frozenset({"Quit", "Keys", "Screenshot"})
SCREENSHOT = "console-screenshot"  # the delivery name our screenshot's completion is recognised by


class ConsoleApp(App[int]):
    """The operator's console.

    ``bot``: a :class:`BotRuntime` to run here (an :class:`InProcessLink` is made for it) or a
    :class:`BotLink` (``tui-bot attach`` passes a remote one). ``reader_factory`` builds the
    :class:`BotReader` an in-process console's panes are fed from once the bot exists; tests pass one
    that freezes the volatile values.
    """

    TITLE = "tui-bot"
    BINDING_GROUP_TITLE = "Console"  # the heading of the console's own keys in the keys panel (?)
    # Absolute: Textual resolves a relative path from the file of the app's (sub)class.
    CSS_PATH = Path(__file__).with_name("console.tcss")
    COMMANDS: ClassVar[set[Any]] = App.COMMANDS | {ConsoleCommands}
    AUTO_FOCUS = "#log"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "load_extension", "Load", tooltip="Load the selected extension"),
        Binding("u", "unload_extension", "Unload", tooltip="Unload the selected extension"),
        Binding("r", "reload_extension", "Reload", tooltip="Reload the selected extension"),
        Binding("R", "reload_all", "Reload all", key_display="R", tooltip="Reload every loaded extension"),
        Binding("s", "sync_commands", "Sync", tooltip="Sync slash commands globally (shows the diff first)"),
        Binding("g", "sync_guild", "Sync guild", tooltip="Sync the selected guild's slash commands"),
        Binding("a", "toggle_auto_reload", "Auto-reload", tooltip="Turn hot reload on or off"),
        Binding("b", "backup", "Backup", tooltip="Back up the database now"),
        Binding("q", "quit", "Quit", tooltip="Close the bot cleanly, then leave"),
        Binding("?", "toggle_keys", "Keys", show=False, tooltip="Show or hide this list of keys"),
        Binding("escape", "hide_keys", "Close keys", show=False, tooltip="Close this list of keys"),
        *(Binding(str(n), f"show_tab('{tab}')", tab.title(), show=False) for n, tab in enumerate(TABS, 1)),
    ]

    def __init__(
        self,
        bot: BotRuntime | BotLink,
        log_handler: BufferedLogHandler,
        *,
        reader_factory: ReaderFactory = BotReader,
    ) -> None:
        super().__init__()
        self.link = bot if isinstance(bot, BotLink) else InProcessLink(bot, reader_factory=reader_factory)
        self.log_handler = log_handler
        self.target = self.link.target
        self.sub_title = (
            self.target if self.link.attached_to is None else f"attached to {self.link.attached_to}"
        )
        self.connection = ConnectionState.CONNECTING
        self.notices = ErrorNotices()
        self.quitting = False
        self._binding_state: tuple[Any, ...] = ()
        self._refresh_failure: str | None = None
        self._bot_worker: Worker[None] | None = None
        self._cluster_pane_added = False

    # -- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="logs", id="panes"):
            with TabPane("Logs", id="logs"):
                yield LogsPane()
            with TabPane("Metrics", id="metrics"):
                yield MetricsPane()
            with TabPane("Guilds", id="guilds"):
                yield GuildsPane()
            with TabPane("Extensions", id="extensions"):
                yield ExtensionsPane()
        yield StatusBar(id="status")
        yield Footer()

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one("#panes", TabbedContent)

    @property
    def status(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    # -- what an in-process console has: its runtime, the bot and the reader (the tests look at them)

    @property
    def runtime(self) -> BotRuntime | None:
        """The runtime of the bot this console runs; None when attached to a bot elsewhere."""
        return self.link.runtime if isinstance(self.link, InProcessLink) else None

    @property
    def bot(self) -> TuiBot | None:
        """The bot this console runs (None before it exists, and when attached)."""
        return self.link.bot if isinstance(self.link, InProcessLink) else None

    @property
    def reader(self) -> BotReader | None:
        return self.link.reader if isinstance(self.link, InProcessLink) else None

    @property
    def reader_factory(self) -> ReaderFactory | None:
        return self.link.reader_factory if isinstance(self.link, InProcessLink) else None

    @reader_factory.setter
    def reader_factory(self, factory: ReaderFactory) -> None:
        if isinstance(self.link, InProcessLink):
            self.link.reader_factory = factory

    def on_mount(self) -> None:
        self.status.target = self.target
        self.set_interval(LOG_DRAIN_SECONDS, self.drain_logs)
        self.set_interval(REFRESH_SECONDS, self.refresh_panes)
        self.link.start(self.post_message)
        self._bot_worker = self.run_bot()

    def on_resize(self, event: events.Resize) -> None:
        narrow = event.size.width < NARROW_WIDTH
        self.set_class(narrow, "-narrow")
        footer = self.query_one(Footer)
        footer.compact = narrow
        footer.show_command_palette = not narrow  # Ctrl+P still works; the keys need the room
        self._update_bindings()

    # -- the bot -------------------------------------------------------------------------------

    @work(exclusive=True, group="bot", exit_on_error=False)
    async def run_bot(self) -> None:
        code = await self.link.run()
        if not self.is_running:
            return  # the app is being torn down (on_unmount closed the bot): no widgets to update
        self.drain_logs()
        self._set_connection(ConnectionState.DISCONNECTED)
        self.status.note = "stopped" if code == exit_codes.OK else f"stopped, exit code {code}"
        if code != exit_codes.OK and not self.quitting:
            self.notify(
                f"The bot stopped (exit code {code}); see the log. Press q to quit.",
                severity="error",
                timeout=30,
            )

    @on(BotCreated)
    def _bot_created(self, message: BotCreated) -> None:
        self.follow_bot(message.bot)

    def follow_bot(self, bot: TuiBot) -> None:
        """Start following a bot the runtime just created (in-process)."""
        if not isinstance(self.link, InProcessLink):
            return
        state = self.link.follow(bot)
        if self.link.sandbox is not None:
            self._add_chat_pane(self.link.sandbox)
        self._set_connection(state)

    @on(LinkLost)
    def _link_lost(self, message: LinkLost) -> None:
        self._set_connection(ConnectionState.DISCONNECTED)
        self.status.shard_states = {}
        if not self.quitting:
            self.status.note = "bot gone, reconnecting…"
            self.notify(
                f"{message.reason} Reconnecting; q leaves.",
                title="Attachment lost",
                severity="error",
                timeout=15,
                markup=False,
            )

    @on(LinkRestored)
    def _link_restored(self) -> None:
        self.status.note = ""
        self.notify(f"Attached again to {self.link.attached_to}.", timeout=6, markup=False)
        self.refresh_panes()

    @on(LinkRefreshed)
    def _link_refreshed(self) -> None:
        self.refresh_panes()

    def _add_chat_pane(self, sandbox: Sandbox) -> None:
        # Imported here: the chat pane exists only in sandbox mode. A failure is logged (and so
        # notified), never fatal: the rest of the console keeps working.
        try:
            from tui_bot.tui.chat import ChatPane

            self.tabs.add_pane(TabPane("Chat", ChatPane(sandbox), id="chat"))
        except Exception:
            log.exception("The sandbox Chat pane could not be started")

    def _add_cluster_pane(self) -> None:
        """A cluster worker gets the Cluster pane once it has claimed its shards (in setup_hook, after
        the bot was created: so it is looked for on each refresh); a lone bot never shows it."""
        if self._cluster_pane_added:
            return
        view = self.link.cluster_view()
        if view is None:
            return
        self._cluster_pane_added = True
        pane = ClusterPane(view.read, this_worker=view.worker_id, stale_after=view.stale_after)
        self.tabs.add_pane(TabPane("Cluster", pane, id="cluster"))

    @on(ConnectionChanged)
    def _connection_changed(self, message: ConnectionChanged) -> None:
        if message.shard_id is None:
            self._set_connection(message.state)
        else:
            self.status.shard_states = {**self.status.shard_states, message.shard_id: message.state}

    def _set_connection(self, state: ConnectionState) -> None:
        self.connection = state
        self.status.state = state
        self._update_bindings()
        self.refresh_panes()  # e.g. the guilds arrived with READY: show them now, not on the next tick

    @property
    def panes_mounted(self) -> bool:
        """Whether the panes exist: composed, and not yet removed as the app ends.

        (``App.is_mounted`` is not a flag as on a widget but a method, "is this widget mounted?", so
        ``not self.is_mounted`` was always false: the panes are what it is asked about.)
        """
        try:
            return self.is_mounted(self.tabs)
        except (NoMatches, ScreenStackError):  # before the layout is composed, or once it is gone
            return False

    @property
    def bot_usable(self) -> bool:
        """Whether bot actions can run at all: the bot exists (or answers), is open, and we are not
        quitting."""
        return self.link.usable and not self.quitting

    # -- timers --------------------------------------------------------------------------------

    def drain_logs(self) -> None:
        """Move pending log records into the Logs pane in one batch; notify errors."""
        if not self.is_running:
            return
        entries = self.log_handler.drain()
        dropped = self.log_handler.take_dropped()
        if not entries and not dropped:
            return
        self.query_one(LogsPane).add(entries, dropped)
        for notice in self.notices.select(entries):
            self.notify(notice.message, title=notice.title, severity="error", timeout=10, markup=False)

    def refresh_panes(self) -> None:
        """Read the bot into the status bar and the pane on show (hidden panes wait until shown)."""
        link = self.link
        if not link.ready or not self.is_running:
            return
        try:
            self._add_cluster_pane()
            with self.batch_update():
                self._refresh_status(link)
                active = self.tabs.active
                if active == "metrics":
                    stats = link.stats()
                    if stats is not None:
                        self.query_one(MetricsPane).show_stats(stats, link.gateway_latency_ms())
                elif active == "guilds":
                    guilds, pane = link.guilds(), self.query_one(GuildsPane)
                    ready_alone = not guilds and self.connection is ConnectionState.READY
                    pane.invite_url = self.invite_link() if ready_alone else None
                    pane.show_rows(guilds)
                    self.load_guild_details()
                elif active == "extensions":
                    self.query_one(ExtensionsPane).show_rows(link.extensions())
            self._update_bindings()
            self._refresh_failure = None
        except Exception as error:
            # The console must outlive whatever state the bot is in: log once, try again next tick.
            if self._refresh_failure != repr(error):
                self._refresh_failure = repr(error)
                log.exception("Refreshing the console failed")

    def _refresh_status(self, link: BotLink) -> None:
        status = self.status
        status.latency_ms = link.gateway_latency_ms()
        status.shard_count = link.shard_count()
        status.shard_ids = link.shard_ids()
        status.guilds = link.guild_count()
        status.auto_reload = link.auto_reload()

    @work(exclusive=True, group="guild-details", exit_on_error=False)
    async def load_guild_details(self) -> None:
        pane = self.query_one(GuildsPane)
        guild_id = pane.selected_guild
        if not self.link.ready or guild_id is None:
            pane.show_details(None)
            return
        pane.show_details(await self.link.guild_details(guild_id))

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_panes()
        self._update_bindings()
        if event.pane.id == "chat":  # clicked or keyed: either way the chat is for typing
            for chat in event.pane.query("ChatPane"):
                chat.focus_input()  # type: ignore[attr-defined]

    @on(GuildsPane.GuildHighlighted)
    def _guild_highlighted(self) -> None:
        self.load_guild_details()
        self._update_bindings()

    @on(ExtensionsPane.ExtensionHighlighted)
    def _extension_highlighted(self) -> None:
        self._update_bindings()

    # -- which actions can run now --------------------------------------------------------------

    def selected_extension(self) -> str | None:
        """The highlighted extension, when the Extensions pane is the one on screen."""
        if self.tabs.active != "extensions":
            return None
        return self.query_one(ExtensionsPane).selected_extension

    def selected_guild(self) -> int | None:
        """The highlighted guild, when the Guilds pane is the one on screen."""
        if self.tabs.active != "guilds":
            return None
        return self.query_one(GuildsPane).selected_guild

    @property
    def sync_plan_open(self) -> bool:
        """While a sync plan waits for an answer, no other bot action starts (the palette is fine:
        it closes before the command it picked runs)."""
        return any(isinstance(screen, SyncPlanScreen) for screen in self.screen_stack)

    def _is_loaded(self, name: str) -> bool:
        return self.link.is_loaded(name)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """True: enabled; None: shown disabled (cannot run now); False: hidden."""
        if action == "show_tab":
            return parameters[0] not in OPTIONAL_TABS or bool(self.query(f"TabPane#{parameters[0]}"))
        if action == "quit":
            return None if self.quitting else True
        if action == "hide_keys":
            return self.keys_shown  # otherwise Esc is left to whatever else uses it
        if action == "invite_link":
            return True if self.link.application_id is not None else None
        if action not in BOT_ACTIONS:
            return True
        home = "extensions" if action in EXTENSION_ACTIONS else "guilds" if action == "sync_guild" else None
        if home is not None and not parameters and (not self.panes_mounted or self.tabs.active != home):
            # A pane's own keys while another pane is shown: dimmed, or hidden when the terminal is
            # too narrow for every key to fit in the footer, or from the keys panel (it lists this pane's).
            return False if self.has_class("-narrow") or self.keys_shown else None
        if not self.bot_usable or self.sync_plan_open:
            return None
        if action in EXTENSION_ACTIONS:
            name = str(parameters[0]) if parameters else self.selected_extension()
            if name is None:
                return None
            if action == "load_extension" and self._is_loaded(name):
                return None
            if action == "unload_extension" and not self._is_loaded(name):
                return None
        if action in SYNC_ACTIONS:
            if self.connection is not ConnectionState.READY:
                return None
            if action == "sync_guild" and not parameters and self.selected_guild() is None:
                return None
        return True

    def _update_bindings(self) -> None:
        """Refresh the footer when anything check_action depends on changed (and only then)."""
        if not self.panes_mounted:
            return
        selected = self.selected_extension()
        state = (
            self.bot_usable,
            self.quitting,
            self.connection,
            self.tabs.active,
            selected,
            selected is not None and self._is_loaded(selected),
            self.selected_guild(),
            self._has_chat(),
            self._cluster_pane_added,
            self.sync_plan_open,
            self.has_class("-narrow"),
            self.keys_shown,
            self.link.application_id is not None,
        )
        if state != self._binding_state:
            self._binding_state = state
            self.refresh_bindings()

    def _has_chat(self) -> bool:
        return bool(self.query("TabPane#chat"))

    @property
    def keys_shown(self) -> bool:
        """Whether the keys panel (Textual's HelpPanel: ``?``, or the palette's "Keys") is open."""
        try:
            return bool(self.screen.query(HelpPanel))
        except ScreenStackError:
            return False

    # -- notifications and printed text: both redacted ----------------------------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Show a notification, redacted: results and errors quote exception messages, which may hold
        a secret (widgets' ``notify`` comes here too)."""
        message, title = redact(message), redact(title)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def _print(self, text: str, stderr: bool = False) -> None:
        # While the app runs, Textual points sys.stdout/sys.stderr here (an extension's print()) and
        # passes the text on to devtools or, in a headless run, the real stdout: redact it first.
        super()._print(redact(text), stderr=stderr)

    # -- actions -------------------------------------------------------------------------------

    def _report(self, result: ActionResult) -> None:
        """Show an action's result (the action layer has logged it already)."""
        message = result.describe()
        if isinstance(result, ExtensionResult) and not result.ok and result.traceback:
            message += " (traceback in the Extensions pane)"
        severity: SeverityLevel = "information" if result.ok else "error"
        self.notify(message, severity=severity, timeout=6 if result.ok else 12, markup=False)

    @work(group="actions", exit_on_error=False)
    async def perform(self, action: Callable[[], Awaitable[ActionResult]]) -> None:
        """Run one action of the link (``lambda: link.extension("load", name)``) and report its result."""
        with self.notices.operator_action():
            result = await action()
        self._report(result)
        self._hint_sync(result)
        self.refresh_panes()

    def _hint_sync(self, result: ActionResult) -> None:
        """Say plainly when a load added slash commands: Discord shows them only after a sync (the
        action layer has logged the same)."""
        if not isinstance(result, ExtensionChange | BatchResult):
            return
        if (hint := result.sync_hint("press s to sync")) is not None:
            self.notify(hint, severity="warning", timeout=15, markup=False)

    @on(HotReloaded)
    def _hot_reloaded(self, message: HotReloaded) -> None:
        # A hot reload's failure is notified from its ERROR log line already; its news is what is left.
        self._hint_sync(message.result)
        self.refresh_panes()

    def _extension_action(self, verb: ExtensionVerb, name: str | None) -> None:
        name = name or self.selected_extension()
        if self.link.ready and name is not None:
            self.perform(lambda: self.link.extension(verb, name))

    def action_load_extension(self, name: str | None = None) -> None:
        """Load the selected (or named) extension."""
        self._extension_action("load", name)

    def action_unload_extension(self, name: str | None = None) -> None:
        """Unload the selected (or named) extension."""
        self._extension_action("unload", name)

    def action_reload_extension(self, name: str | None = None) -> None:
        """Reload the selected (or named) extension."""
        self._extension_action("reload", name)

    def action_reload_all(self) -> None:
        """Reload every loaded extension."""
        if self.link.ready:
            self.perform(self.link.reload_all)

    def action_toggle_auto_reload(self) -> None:
        """Turn hot reload on or off (saved in config.json)."""
        if self.link.ready:
            on = not self.link.auto_reload()
            self.perform(lambda: self.link.set_auto_reload(on))

    def action_backup(self) -> None:
        """Back up the database now."""
        if self.link.ready:
            self.perform(self.link.backup)

    def action_atomictest(self) -> None:
        """Run the atomic file handler's self-test (the owner command ``atomictest``)."""
        if self.link.ready:
            self.perform(self.link.atomictest)

    def action_sync_commands(self) -> None:
        """Sync slash commands globally, after confirming the plan."""
        self.sync_commands(None)

    def action_sync_guild(self, guild_id: int | None = None) -> None:
        """Sync the selected (or given) guild's slash commands, after confirming the plan."""
        guild_id = guild_id or self.selected_guild()
        if guild_id is not None:
            self.sync_commands(guild_id)

    @work(exclusive=True, group="sync", exit_on_error=False)
    async def sync_commands(self, guild_id: int | None) -> None:
        """Plan, show the plan in a modal, and sync only if the operator confirms."""
        link = self.link
        if not link.ready:
            return
        with self.notices.operator_action():
            plan = await link.plan_sync(guild_id)
        if not isinstance(plan, SyncPlan):  # a failed PlainResult: Discord could not be asked
            self._report(plan)
            return
        confirmed = await self.push_screen_wait(SyncPlanScreen(plan))
        self._update_bindings()
        if not confirmed:
            log.info("Slash command sync of %s cancelled; nothing sent", plan.scope)
            self.notify(f"Sync of {plan.scope} cancelled: nothing was sent.", markup=False)
            return
        with self.notices.operator_action():
            result = await link.sync(guild_id, force=not plan.has_changes)
        self._report(result)

    async def action_toggle_keys(self) -> None:
        """Show or hide every key of the shown pane, with what it does (Textual's keys panel)."""
        if self.keys_shown:
            await self.action_hide_keys()
        else:
            await self.screen.mount(KeysPanel())
            self._update_bindings()  # the panel lists this pane's keys: the other panes' are hidden

    async def action_hide_keys(self) -> None:
        """Close the keys panel."""
        await self.screen.query(HelpPanel).remove()
        self._update_bindings()

    def invite_link(self) -> str | None:
        """The OAuth2 link that adds the bot to a server (``tui-bot invite``'s); None before login."""
        return self.link.invite_link()

    def action_invite_link(self) -> None:
        """Show the invite link, copy it to the clipboard, and log it (to copy it from there too)."""
        url = self.invite_link()
        if url is None:
            self.notify("The invite link needs the bot's application id: wait until it has connected.")
            return
        self.copy_to_clipboard(url)
        log.info("Invite link: %s", url)
        self.notify(f"Invite link (copied to the clipboard): {url}", title="Invite", timeout=30, markup=False)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's palette entries (theme, maximize), and the console's versions of the others."""
        for command in super().get_system_commands(screen):
            if command.title not in REPLACED_SYSTEM_COMMANDS:
                yield command
        yield SystemCommand(
            "Keys", "?: every key of the shown pane, with what it does", self.action_toggle_keys
        )
        # Textual's delay: the palette closes before the screen is captured.
        yield SystemCommand(
            "Screenshot",
            "Save an SVG of the screen to the Downloads folder (or the working folder)",
            lambda: self.set_timer(0.1, self.action_screenshot),
        )

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG screenshot to ``path``, or the Downloads folder (made if missing), or else the
        working folder; the notification says where."""
        self._save_screenshot(filename, path)

    @work(group="screenshot", exit_on_error=False)
    async def _save_screenshot(self, filename: str | None, path: str | None) -> None:
        folder = Path(path) if path else await asyncio.to_thread(screenshot_folder)
        name = filename or f"{self.title}_{datetime.now():%Y-%m-%dT%H_%M_%S_%f}.svg"
        svg = self.export_screenshot()
        self.deliver_text(io.StringIO(svg), save_directory=folder, save_filename=name, name=SCREENSHOT)

    @on(events.DeliveryComplete)
    def _screenshot_saved(self, event: events.DeliveryComplete) -> None:
        if event.name == SCREENSHOT:
            log.info("Screenshot saved to %s", event.path)
            self.notify(f"Screenshot saved to {event.path}", title="Screenshot", markup=False)

    @on(events.DeliveryFailed)
    def _screenshot_failed(self, event: events.DeliveryFailed) -> None:
        if event.name == SCREENSHOT:
            log.error("The screenshot could not be saved: %s", event.exception)

    def action_show_tab(self, tab: str) -> None:
        """Show a pane and put the keyboard in it (its table, log or first focusable widget)."""
        self.tabs.active = tab
        pane = self.tabs.active_pane
        chat = pane.query("ChatPane").first() if pane is not None and tab == "chat" else None
        if chat is not None:
            chat.focus_input()  # type: ignore[attr-defined]  # the chat is for typing
        elif pane is not None:
            target = next((w for w in pane.query("#log, DataTable") if w.focusable), None)
            target = target or next((w for w in pane.query("*") if w.focusable), None)
            if target is not None:
                target.focus()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        # Actions report their own expected failures; this catches the unexpected ones, so that a
        # bug in one action is a log entry (and, like every ERROR record, a notification: see
        # drain_logs), never a closed console.
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            log.error("Console task %s failed: %r", event.worker.name, error, exc_info=error)

    async def action_quit(self) -> None:
        """Close the bot cleanly (in a worker, so the screen stays live), then leave with its exit code;
        attached, leave it running."""
        if not self.quitting:
            self.quitting = True
            self.status.note = "shutting down…" if self.link.attached_to is None else "leaving…"
            self._update_bindings()
            self._shut_down()

    async def on_unmount(self) -> None:
        # Whatever way the app ends (q, or App.exit from elsewhere), the bot is closed cleanly and the
        # sandbox stopped before the event loop goes away (attached: the connection is closed). Textual
        # has cancelled the bot's worker by now; the bot then closes itself in that task (``async with
        # bot``): wait for it to finish.
        await self.link.stop()
        if self._bot_worker is not None:
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await self._bot_worker.wait()

    @work(exclusive=True, group="quit", exit_on_error=False)
    async def _shut_down(self) -> None:
        try:
            await self.link.stop()
        finally:
            self.drain_logs()
            self.exit(self.link.exit_code)

    # -- the command palette ---------------------------------------------------------------------

    def palette_commands(self) -> list[PaletteCommand]:
        """The console's commands that can run now, for :class:`ConsoleCommands`."""
        rows = self.link if self.link.ready else None
        commands = console_commands(rows, TABS, attached=self.link.attached_to is not None)
        return [c for c in commands if self.check_action(c.action, c.parameters)]
