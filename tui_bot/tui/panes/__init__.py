"""The console's panes: each renders plain data the app reads from the bot on a timer."""

from tui_bot.tui.panes.cluster import ClusterPane
from tui_bot.tui.panes.extensions import ExtensionsPane
from tui_bot.tui.panes.guilds import GuildsPane
from tui_bot.tui.panes.logs import LogsPane
from tui_bot.tui.panes.metrics import MetricsPane
from tui_bot.tui.panes.status import StatusBar

__all__ = ["ClusterPane", "ExtensionsPane", "GuildsPane", "LogsPane", "MetricsPane", "StatusBar"]
