"""Log files, redaction of secrets and clean-up of old logs."""

from tui_bot.logs.redaction import PROCESS_REDACTOR, SecretRedactor
from tui_bot.logs.setup import (
    LoggingSession,
    configure_logging,
    install_redaction_boundary,
    remove_old_logs,
)

__all__ = [
    "PROCESS_REDACTOR",
    "LoggingSession",
    "SecretRedactor",
    "configure_logging",
    "install_redaction_boundary",
    "remove_old_logs",
]
