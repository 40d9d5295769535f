"""Messages the runtime sends the console (the connection's own are in :mod:`tui_bot.tui.connection`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot
    from tui_bot.core.extensions import ExtensionResult


class BotCreated(Message):
    """The runtime has created the bot of this run (it has not connected yet): the console follows it.

    Posted by the hook the console gives :meth:`BotRuntime.on_bot_created
    <tui_bot.runtime.bot_runtime.BotRuntime.on_bot_created>`, so the console never polls for its bot.
    """

    def __init__(self, bot: TuiBot) -> None:
        super().__init__()
        self.bot = bot


class HotReloaded(Message):
    """Hot reload (``auto_reload``) loaded, reloaded or unloaded an extension: ``result`` says how.

    Posted by the listener the console adds to ``bot.actions.hot_reload_listeners``: the watcher runs in
    the bot, and the console hears of it as a message, never by being called from there.
    """

    def __init__(self, result: ExtensionResult) -> None:
        super().__init__()
        self.result = result
