"""Log files, redaction of secrets and clean-up of old logs."""

from tui_bot.logs.redaction import SecretRedactor
from tui_bot.logs.setup import LoggingSession, configure_logging, remove_old_logs

__all__ = ["LoggingSession", "SecretRedactor", "configure_logging", "remove_old_logs"]
