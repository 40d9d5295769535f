"""``python -m tui_bot``: the same entry point as the ``tui-bot`` script."""

import sys

from tui_bot.cli import main

if __name__ == "__main__":
    sys.exit(main())
