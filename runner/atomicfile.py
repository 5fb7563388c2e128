"""Writing a report whole or not at all.

The text goes to a temporary file beside the target, which then replaces the target in one
step (os.replace), so a crash, a full disk or Ctrl-C never leaves a half-written report over
a good one, and a CI system never reads one that is half there.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path


class NotARegularFile(OSError):
    """The report path is a FIFO, a device or a socket: apirun does not write there."""


def not_a_regular_file(path: str | Path) -> str | None:
    """Why ``path`` (through its symlinks) cannot take a report, or None."""
    target = Path(os.path.realpath(path))
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc.strerror or str(exc)
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        kind = "a FIFO"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    else:
        kind = "not a regular file"
    return f"{target} is {kind}: reports are written to regular files only"


def write_atomic(
    path: str | Path, chunks: bytes | Iterable[bytes], mode: int | None = None
) -> None:
    """Replace ``path`` with ``chunks``; on any failure the old file stays as it was.
    ``mode``: the new file's permissions (default: the replaced file's, or a new file's).

    Only regular files get the atomic rename. A symlink is written through: its target is
    replaced and the link stays a link. A FIFO, device or socket is refused
    (NotARegularFile): nothing is renamed over it or written into it."""
    problem = not_a_regular_file(path)
    if problem:
        raise NotARegularFile(problem)
    path = Path(os.path.realpath(path))
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".part", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as stream:
            for chunk in [chunks] if isinstance(chunks, bytes) else chunks:
                stream.write(chunk)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, _mode(path) if mode is None else mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _mode(path: Path) -> int:
    """The replaced file's permissions, or what a plain open() would have given a new one."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
