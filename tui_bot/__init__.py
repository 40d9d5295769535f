"""tui-bot: a Discord bot framework with a live Textual console.

The package is split by job: ``core`` (the discord.py bot), ``storage`` (config-independent durable
files and the SQLite database), ``config`` (config.json and .env), ``logs`` (handlers and redaction),
``sandbox`` (a local Discord on loopback) and ``tui`` (the console: the only place that imports Textual).
"""

__version__ = "0.1.0"
