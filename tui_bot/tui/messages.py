"""Messages the runtime sends the console (the connection's own are in :mod:`tui_bot.tui.connection`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot


class BotCreated(Message):
    """The runtime has created the bot of this run (it has not connected yet): the console follows it.

    Posted by the hook the console gives :meth:`BotRuntime.on_bot_created
    <tui_bot.runtime.bot_runtime.BotRuntime.on_bot_created>`, so the console never polls for its bot.
    """

    def __init__(self, bot: TuiBot) -> None:
        super().__init__()
        self.bot = bot
