"""The composition root: builds one run of the bot (and, in sandbox mode, the local Discord it talks to)
and bounds its shutdown.

It sits above the core: the CLI and the console import it; it imports the core, logs, config, storage
and the sandbox, and never Textual. Modules:

- :mod:`~tui_bot.runtime.bot_runtime`: :class:`BotRuntime`, one run of the bot;
- :mod:`~tui_bot.runtime.headless`: :func:`run_headless`, that run with SIGINT/SIGTERM handled;
- :mod:`~tui_bot.runtime.endpoints`: where discord.py sends its REST calls and gateway connection;
- :mod:`~tui_bot.runtime.shutdown`: the process-level bounds that make every shutdown end.
"""

from tui_bot.runtime.bot_runtime import BotCreatedHook, BotRuntime
from tui_bot.runtime.headless import run_headless

__all__ = ["BotCreatedHook", "BotRuntime", "run_headless"]
