"""Reading the files a run needs (specs, included files, --vars-file, schemas, project and
cloud files) whole into memory: regular files only, and no larger than a limit.

``/dev/zero`` as a schema or an include would otherwise be read until memory runs out, and a
FIFO would block the run before it starts. Bodies sent from files (``data: {file:}``,
``files:``) are streamed, not read here.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["LIMIT_VARIABLE", "UnreadableFile", "max_file_bytes", "read_bounded"]

LIMIT_VARIABLE = "APIRUN_MAX_FILE_MB"
DEFAULT_MAX_FILE_MB = 16


class UnreadableFile(OSError):
    """A file apirun will not read whole: not a regular file, or too large. An OSError, so
    that every caller's ``cannot read …: {strerror}`` message says why."""

    def __init__(self, message: str):
        super().__init__(errno.EINVAL, message)


def max_file_bytes() -> int:
    """The size limit: 16 MiB, or ``APIRUN_MAX_FILE_MB`` (a positive number of MiB)."""
    text = os.environ.get(LIMIT_VARIABLE, "").strip()
    if text:
        try:
            megabytes = float(text)
        except ValueError:
            megabytes = 0.0
        if megabytes > 0 and megabytes != float("inf"):
            return int(megabytes * 1024 * 1024)
    return DEFAULT_MAX_FILE_MB * 1024 * 1024


def read_bounded(path: str | Path) -> bytes:
    """The bytes of a regular file no larger than max_file_bytes(); UnreadableFile otherwise
    (and the OSError of opening it, such as FileNotFoundError)."""
    limit = max_file_bytes()
    # O_NONBLOCK: opening a FIFO must not wait for a writer before we can refuse it.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            kind = "a folder" if stat.S_ISDIR(status.st_mode) else "a device, FIFO or socket"
            raise UnreadableFile(f"not a regular file ({kind})")
        if status.st_size > limit:
            raise UnreadableFile(_too_large(status.st_size, limit))
        chunks = []
        left = limit + 1  # a file that grows while it is read is refused too
        while left > 0:
            chunk = os.read(descriptor, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:
            raise UnreadableFile(_too_large(len(data), limit))
        return data
    finally:
        os.close(descriptor)


def _too_large(size: int, limit: int) -> str:
    mebibytes, rest = divmod(limit, 1024 * 1024)
    most = f"{mebibytes} MiB" if not rest else f"{limit:,} bytes"
    return f"{size:,} bytes, more than the {most} apirun reads (set {LIMIT_VARIABLE} to raise it)"
