"""config.json (typed, validated, saved atomically) and the secrets from .env."""

from tui_bot.config.env import EnvError, Secrets, read_env
from tui_bot.config.errors import ConfigErrors, ConfigValueError
from tui_bot.config.model import BotConfig, default_config
from tui_bot.config.store import ConfigFileError, ConfigStore
from tui_bot.config.validation import parse_config

__all__ = [
    "BotConfig",
    "ConfigErrors",
    "ConfigFileError",
    "ConfigStore",
    "ConfigValueError",
    "EnvError",
    "Secrets",
    "default_config",
    "parse_config",
    "read_env",
]
