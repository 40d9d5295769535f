"""Where the console saves a screenshot: the user's Downloads folder, made if missing, else the working
folder. (Textual's own palette entry assumed ~/Downloads exists and failed when it did not.)"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from platformdirs import user_downloads_path

log = logging.getLogger("tui_bot.console")


def screenshot_folder() -> Path:
    """A folder a screenshot can be written to (blocking: call it in a thread)."""
    downloads = user_downloads_path()
    try:
        downloads.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        log.info("Screenshots go to the working folder: %s cannot be created (%s)", downloads, error)
        return Path.cwd()
    if not os.access(downloads, os.W_OK | os.X_OK):
        log.info("Screenshots go to the working folder: %s is not writable", downloads)
        return Path.cwd()
    return downloads
