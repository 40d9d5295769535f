"""config.json (typed, validated, saved atomically) and the secrets from .env."""

from tui_bot.config.env import EnvError, Secrets, read_env
from tui_bot.config.model import BotConfig, ConfigErrors, ConfigValueError, default_config
from tui_bot.config.store import ConfigFileError, ConfigStore

__all__ = [
    "BotConfig",
    "ConfigErrors",
    "ConfigFileError",
    "ConfigStore",
    "ConfigValueError",
    "EnvError",
    "Secrets",
    "default_config",
    "read_env",
]
