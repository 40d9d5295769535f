"""The Textual console: the only part of tui-bot that imports Textual.

``make_console(runtime)`` builds it (the CLI and the tests alike); ``run_console(app)`` runs it.
``make_attached_console(client)`` builds the same console for a bot running elsewhere (``tui-bot
attach``).
"""

from tui_bot.tui.app import ConsoleApp
from tui_bot.tui.factory import make_attached_console, make_console, run_console

__all__ = ["ConsoleApp", "make_attached_console", "make_console", "run_console"]
