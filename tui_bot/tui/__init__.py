"""The Textual console: the only part of tui-bot that imports Textual.

``make_console(runtime)`` builds it (the CLI and the tests alike); ``run_console(app)`` runs it.
"""

from tui_bot.tui.app import ConsoleApp
from tui_bot.tui.factory import make_console, run_console

__all__ = ["ConsoleApp", "make_console", "run_console"]
