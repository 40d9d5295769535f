"""Process exit codes with a meaning, as service managers and scripts expect them."""

OK = 0  # a requested shutdown (quit key, SIGINT, SIGTERM)
CRITICAL = 1  # the bot could not run: unreadable database, unexpected crash
RESTART = 26  # asked to restart (reserved for the restart command)
CONFIG_ERROR = 78  # EX_CONFIG: config.json, .env or the token needs fixing
# EX_TEMPFAIL: a cluster worker could not start now but may later (its shards are held by a worker that
# has not gone stale yet, or Discord's session starts are used up): a supervisor retries it.
TRY_AGAIN = 75
# The shutdown did not finish within its bound (a hung extension): the process was ended anyway, after
# logging what could not be saved. 124 is what timeout(1) returns when it ends a command.
SHUTDOWN_FORCED = 124
# A second SIGINT/SIGTERM during the shutdown ends the process at once with 128 + the signal number
# (130 for SIGINT, 143 for SIGTERM), what a shell reports for a process ended by that signal.
SIGNAL_BASE = 128


def for_signal(signum: int) -> int:
    """The exit code of a process ended at once by a second signal: 128 + its number."""
    return SIGNAL_BASE + signum
