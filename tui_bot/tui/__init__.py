"""The Textual console: the only part of tui-bot that imports Textual."""

from tui_bot.tui.app import ConsoleApp, run_console

__all__ = ["ConsoleApp", "run_console"]
