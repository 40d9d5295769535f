"""Process exit codes with a meaning, as service managers and scripts expect them."""

OK = 0  # a requested shutdown (quit key, SIGINT, SIGTERM)
CRITICAL = 1  # the bot could not run: unreadable database, unexpected crash
RESTART = 26  # asked to restart (reserved for the restart command)
CONFIG_ERROR = 78  # EX_CONFIG: config.json, .env or the token needs fixing
