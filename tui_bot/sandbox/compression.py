"""Gateway transport compression: one compression stream per connection, one flushed frame per payload.

A client asks for it with ``compress=`` in the gateway URL. Discord documents two values:

- ``zlib-stream``: one deflate stream for the whole connection; each payload is followed by a
  ``Z_SYNC_FLUSH``, so every websocket message ends with ``00 00 ff ff`` (what discord.py's
  ``_ZlibDecompressionContext`` waits for before it inflates).
- ``zstd-stream``: one zstd frame for the whole connection; each payload is flushed as a block
  (``ZSTD_e_flush``), so a single decompression object fed message after message returns exactly that
  payload each time (discord.py's ``_ZstdDecompressionContext`` decodes every message on its own).
  discord.py 2.7 asks for it whenever zstandard (or Python 3.14's ``compression.zstd``) is installed.

The sandbox speaks zstd-stream when one of those two modules is importable here, and answers a zstd
request with plain text frames otherwise (discord.py only decompresses binary messages, so it accepts
them). What Discord does with any other value is not documented; the sandbox refuses it (see
:func:`choose_compressor`) so a client's typo shows at once instead of as frames it cannot read.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, Protocol

ZLIB_STREAM = "zlib-stream"
ZSTD_STREAM = "zstd-stream"
KNOWN_COMPRESSIONS = frozenset({ZLIB_STREAM, ZSTD_STREAM})


class StreamCompressor(Protocol):
    """One connection's compression stream: each call returns one self-contained websocket message."""

    name: str

    def compress(self, text: str) -> bytes:
        """``text`` compressed and flushed so the client can decode it before the next message."""
        ...


class UnknownCompression(ValueError):
    """A ``compress=`` value Discord does not document."""


class ZlibStream:
    """``zlib-stream``: one deflate stream, a ``Z_SYNC_FLUSH`` after each payload."""

    name = ZLIB_STREAM

    def __init__(self) -> None:
        self._deflate = zlib.compressobj()

    def compress(self, text: str) -> bytes:
        return self._deflate.compress(text.encode()) + self._deflate.flush(zlib.Z_SYNC_FLUSH)


def _zstd_block_compressor() -> Callable[[], Callable[[bytes], bytes]] | None:
    """A factory of per-connection "compress and flush a block" functions, or None without zstd.

    The same two sources as discord.py, in the same order: the zstandard package (a discord.py[speed]
    dependency up to Python 3.13), then the standard library's ``compression.zstd`` (3.14+).
    """
    try:
        import zstandard
    except ImportError:
        pass
    else:

        def with_zstandard() -> Callable[[bytes], bytes]:
            stream = zstandard.ZstdCompressor().compressobj()
            flush_block = zstandard.COMPRESSOBJ_FLUSH_BLOCK  # ends a block, keeps the frame open
            return lambda data: stream.compress(data) + stream.flush(flush_block)

        return with_zstandard
    try:
        from compression.zstd import ZstdCompressor  # type: ignore[import-not-found]
    except ImportError:
        return None

    def with_stdlib() -> Callable[[bytes], bytes]:
        stream: Any = ZstdCompressor()
        return lambda data: stream.compress(data, mode=ZstdCompressor.FLUSH_BLOCK)

    return with_stdlib


_new_zstd_stream = _zstd_block_compressor()


class ZstdStream:
    """``zstd-stream``: one zstd frame per connection, each payload flushed as a block."""

    name = ZSTD_STREAM

    def __init__(self) -> None:
        if _new_zstd_stream is None:
            raise RuntimeError("zstd-stream needs the zstandard package (or Python 3.14's compression.zstd)")
        self._compress_block = _new_zstd_stream()

    def compress(self, text: str) -> bytes:
        return self._compress_block(text.encode())


def spoken_compressions() -> frozenset[str]:
    """The ``compress=`` values this sandbox can honour here: zlib-stream always, zstd-stream with zstd."""
    return KNOWN_COMPRESSIONS if _new_zstd_stream is not None else frozenset({ZLIB_STREAM})


def choose_compressor(requested: str | None, spoken: frozenset[str]) -> StreamCompressor | None:
    """The compressor for a connection that asked for ``requested``; None means plain text frames.

    ``spoken`` is what the sandbox is willing to speak (:attr:`GatewayHub.compressions`); a documented
    value outside it gets plain text frames, as discord.py accepts those. An undocumented value raises
    :class:`UnknownCompression`.
    """
    if not requested:
        return None
    if requested not in KNOWN_COMPRESSIONS:
        raise UnknownCompression(requested)
    if requested not in spoken or requested not in spoken_compressions():
        return None
    return ZlibStream() if requested == ZLIB_STREAM else ZstdStream()
