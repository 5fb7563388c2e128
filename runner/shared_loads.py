"""Spec files loaded once per pytest-xdist run, not once per worker.

Every xdist worker collects every file (the controller checks that they all collected the
same items), so with W workers each spec was read and built W times, though each worker
runs only its share: with 4 workers on 2 cores, that was most of what the plugin added to
pytest's own start-up. The controller makes one private folder for the run and names it to
its workers (runner/pytest_plugin.py). The first worker to come to a file claims it, loads
it and leaves it there, pickled; the others take it, waiting for it if it is being loaded
(workers collect in the same order, so they tend to come to a file together).

What is shared is the loaded spec, before the check: each worker still checks it against
the variables it knows. The key is the file's bytes and its path (the files it includes are
read by the worker that loads it, as the run goes on in one checkout). A file that does not
load is not shared: each worker loads it and reports its own error; nor is one holding a
value that does not pickle. The folder is made by ``tempfile.mkdtemp`` (mode 0700) and
removed when the run ends; a worker takes nothing from a folder that is not a directory of
its own user's that only that user can write (a worker on another machine finds none, and
loads as before). Anything unexpected, a pickle that fails either way, a claim not honoured
within WAIT_SECONDS, means loading as usual.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import stat
import time
from collections.abc import Callable
from pathlib import Path

from .files import read_bounded
from .model import Spec

__all__ = ["WAIT_SECONDS", "folder_of", "key_of", "obtain"]

WAIT_SECONDS = 10.0  # for another worker's load: far beyond any spec's (5,000 steps: ~1 s)


def folder_of(name: object) -> Path | None:
    """The run's folder, when ``name`` (the controller's word) is a directory of this user's
    that no one else can write; else None."""
    if not isinstance(name, str) or not name:
        return None
    try:
        info = os.lstat(name)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_mode & 0o077:
        return None
    getuid = getattr(os, "getuid", None)
    if getuid is not None and info.st_uid != getuid():
        return None
    return Path(name)


def key_of(path: Path, shown: str) -> str | None:
    """What a load of ``path`` (named ``shown`` in messages) depends on, or None when the
    file cannot be read (loading it reports why)."""
    try:
        raw = read_bounded(path)
    except OSError:
        return None
    digest = hashlib.sha256(raw)
    digest.update(b"\0" + os.fsencode(os.path.abspath(path)) + b"\0" + os.fsencode(shown))
    return digest.hexdigest()


def obtain(folder: Path, key: str, load: Callable[[], Spec]) -> Spec:
    """The spec under ``key``: another worker's, or ``load()``'s, left for the others.
    ``load`` may raise (a spec error): then the others load the file themselves."""
    shared, failed = folder / f"{key}.pickle", folder / f"{key}.failed"
    spec = _take(shared)
    if spec is not None:
        return spec
    try:
        os.close(os.open(folder / f"{key}.claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:  # another worker is loading it
        return _wait(shared, failed) or load()
    except OSError:
        return load()
    try:
        spec = load()
    except BaseException:
        _mark(failed)  # the waiting workers load it themselves, and report its error
        raise
    try:
        _leave(shared, spec)
    except Exception:  # a value that does not pickle: the others load it themselves
        _mark(failed)
    return spec


def _mark(failed: Path) -> None:
    with contextlib.suppress(OSError):
        os.close(os.open(failed, os.O_CREAT | os.O_WRONLY, 0o600))


def _take(shared: Path) -> Spec | None:
    try:
        with open(shared, "rb") as handle:
            spec = pickle.load(handle)
    except Exception:  # not there (yet), or not readable: load it here
        return None
    return spec if isinstance(spec, Spec) else None


def _wait(shared: Path, failed: Path) -> Spec | None:
    deadline = time.monotonic() + WAIT_SECONDS
    pause = 0.0002
    while time.monotonic() < deadline:
        if shared.exists():
            return _take(shared)
        if failed.exists():
            return None
        time.sleep(pause)
        pause = min(pause * 2, 0.005)
    return None


def _leave(shared: Path, spec: Spec) -> None:
    """Whole or not at all: written aside (only the claimer writes it), then renamed into
    place, so that a worker never reads half a pickle."""
    aside = shared.with_suffix(".part")
    try:
        with open(aside, "wb") as handle:
            pickle.dump(spec, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(aside, shared)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(aside)
        raise
