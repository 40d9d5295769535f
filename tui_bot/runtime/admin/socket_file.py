"""Where the admin socket lives, and creating it so that only the bot's user can ever connect.

The socket is bound inside a fresh folder only this user can enter (``mkdtemp``: mode 0700), made 0600,
then renamed into place: there is no moment at which it exists with looser permissions (a umask change
would do the same, but the umask is the whole process's, and another thread could create a file
meanwhile). The rename also replaces, atomically, a socket a killed bot left behind; a bot still
listening on the path is detected first and left alone.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tui_bot.cluster.status import ids_text
from tui_bot.config.model import BotConfig

SOCKET_NAME = "admin.sock"
# sockaddr_un.sun_path holds 108 bytes on Linux (104 on macOS), the last one a NUL.
MAX_SOCKET_PATH_BYTES = 103 if sys.platform == "darwin" else 107


class AdminSocketError(OSError):
    """The socket cannot be created; ``str(error)`` says why and what to do, in one line."""


def socket_path(config: BotConfig, shard_ids: Sequence[int] | None = None) -> Path:
    """``admin.socket``, else ``admin.sock`` in the folder of ``database.path``.

    A process running some of the bot's shards (a cluster worker: ``shard_ids``) names its own,
    ``admin-shards-0-3.sock``, so that the workers of one folder never take each other's socket.
    """
    if config.admin.socket is not None:
        return Path(config.admin.socket)
    folder = Path(config.database.path).parent
    if shard_ids:
        return folder / f"admin-shards-{ids_text(tuple(shard_ids)).replace(',', '_')}.sock"
    return folder / SOCKET_NAME


def length_problem(path: Path, longest: Path | None = None) -> str | None:
    """Why ``path`` cannot be a Unix socket's address (too long), or None. ``longest``: the longer path
    it is bound at first, if any."""
    size = len(os.fsencode(path))
    extra = 0 if longest is None else max(0, len(os.fsencode(longest)) - size)
    limit = MAX_SOCKET_PATH_BYTES - extra
    if size <= limit:
        return None
    return (
        f"the admin socket path {path} is {size} bytes long, and a Unix socket's path has room for {limit}: "
        "set admin.socket in config.json to a shorter path (e.g. /run/tui-bot/admin.sock), or run the bot "
        "from a shorter folder"
    )


def someone_listens(path: Path) -> bool:
    """Whether a live process accepts connections on the socket at ``path`` (a stale one refuses)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(os.fspath(path))
    except OSError:
        return False
    else:
        return True
    finally:
        probe.close()


@dataclass(frozen=True)
class BoundSocket:
    """A listening-ready Unix socket at ``path``, and the file's identity (to remove only our own)."""

    sock: socket.socket
    path: Path
    device: int
    inode: int

    def remove_file(self) -> None:
        """Delete the socket file if it is still ours (a newer bot may have replaced it)."""
        with contextlib.suppress(OSError):
            found = os.lstat(self.path)
            if (found.st_dev, found.st_ino) == (self.device, self.inode):
                os.unlink(self.path)


def bind_private_socket(path: Path) -> BoundSocket:
    """A Unix socket bound at ``path`` with mode 0600 from the start; AdminSocketError says why not."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        found = None
    if found is not None:
        if not stat.S_ISSOCK(found.st_mode):
            raise AdminSocketError(
                f"{path} exists and is not a socket: move it away, or set admin.socket to another path"
            )
        if someone_listens(path):
            raise AdminSocketError(
                f"another bot is already listening at {path} (two bots in one folder?): this one serves no "
                "admin endpoint; give it its own admin.socket"
            )
        # Otherwise a socket left by a bot that was killed: the rename below replaces it.
    private = Path(tempfile.mkdtemp(prefix="", dir=path.parent))  # 0700: only we can reach inside
    temporary = private / "s"
    problem = length_problem(path, temporary)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if problem is not None:
            raise AdminSocketError(problem)
        sock.bind(os.fspath(temporary))
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
        placed = os.lstat(path)
    except AdminSocketError:
        sock.close()
        raise
    except OSError as error:
        sock.close()
        raise AdminSocketError(f"cannot create the admin socket {path}: {error.strerror or error}") from None
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()
        with contextlib.suppress(OSError):
            private.rmdir()
    sock.setblocking(False)
    return BoundSocket(sock, path, placed.st_dev, placed.st_ino)
