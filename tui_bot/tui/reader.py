"""The rows the panes show and the reader that takes them from a live bot: :mod:`tui_bot.runtime.reader`.

Re-exported here, where the console and its tests have always found them. The reader lives in the
runtime because the admin endpoint serves the same rows to an attached console (``tui-bot attach``) from
a bot that never imports Textual.
"""

from tui_bot.runtime.reader import BotReader, ExtensionRow, GuildDetails, GuildRow, local_clock

__all__ = ["BotReader", "ExtensionRow", "GuildDetails", "GuildRow", "local_clock"]
