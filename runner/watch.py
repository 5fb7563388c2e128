"""``apirun run --watch`` / ``apirun check --watch``: run again whenever an input changes.

An input is any file the last pass read, as the loader recorded it (``Prepared.files``:
specs, included files, schema, body, upload and certificate files, the setup, the vars
file, apirun.yaml), and the list of spec files in every folder given on the command line.
The set is recomputed after each pass, so a file included since is watched from then on.
A pass that stopped at a spec error watches what it got to read, and what the pass before
it read, so fixing an included file re-runs too.

Watching is polling: every ``interval`` seconds each file's modification time, size and
inode are compared (os.stat; portable, no dependency, and an editor's save by rename is
seen). A change is run once the files have stopped changing for ``settle`` seconds, so an
editor writing a file in several steps starts one pass, not several.

The watch runs until a stop signal (runner/interrupt.py): SIGINT while waiting ends it
quietly; during a pass, the pass stops as any run does (its ``finally`` steps run) and the
watch ends with it. The exit code is the signal's (130 for Ctrl-C).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from .errors import SpecError
from .interrupt import Stop
from .record import MutableRecord

if TYPE_CHECKING:
    from .cli import Pass

INTERVAL = 0.4  # seconds between two looks at the files
SETTLE = 0.15  # seconds a change must hold still before a pass starts
SETTLE_LIMIT = 3.0  # a file that keeps changing longer than this is run anyway
SPEC_SUFFIXES = (".yaml", ".yml")

# What a look at the files saw, by absolute path: a file's (mtime, size, inode, ctime), a
# folder's spec file names; None for what is missing.
State = dict[str, tuple[object, ...] | None]


def error_files(errors: Iterable[SpecError]) -> list[Path]:
    """The files spec errors name: where each problem is, and every file whose text they
    hold (the included files the loader read before it stopped)."""
    found: list[Path] = []
    for error in errors:
        found += [Path(name) for name in error.sources]
        found += [Path(d.source.file) for d in error.diagnostics]
    return found


def given_files(paths: Sequence[str | Path], *extra: str | Path | None) -> list[Path]:
    """What is watched before any pass has read anything: the files named on the command
    line (``--setup``, ``--vars-file``: ``extra``), and an apirun.yaml beside the specs,
    which may not exist yet."""
    from .project import PROJECT_FILE

    found = [Path(name) for name in extra if name]
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found.append(path / PROJECT_FILE)
        else:
            found += [path, path.parent / PROJECT_FILE]
    return found


@dataclass(eq=False, repr=False)
class _Watched(MutableRecord):
    """The files watched, by absolute path, each with the name it is shown by."""

    files: dict[str, Path] = field(default_factory=dict)
    folders: dict[str, Path] = field(default_factory=dict)

    def add(self, paths: Iterable[Path]) -> None:
        for path in paths:
            if not str(path) or path.name.startswith("<"):  # <spec>: not a file
                continue
            self.files.setdefault(os.path.abspath(path), path)

    def count(self, state: State) -> str:
        present = sum(1 for key in self.files if state.get(key) is not None)
        text = f"{present} file{'' if present == 1 else 's'}"
        if self.folders:
            text += f" and {len(self.folders)} folder{'' if len(self.folders) == 1 else 's'}"
        return text


def _look(watched: _Watched) -> State:
    """Each file's (mtime, size, inode, ctime), each folder's spec file names."""
    state: State = {}
    for key in watched.files:
        try:
            info = os.stat(key)
        except OSError:
            state[key] = None
        else:
            state[key] = (info.st_mtime_ns, info.st_size, info.st_ino, info.st_ctime_ns)
    for key in watched.folders:
        try:
            names = sorted(
                entry.name
                for entry in os.scandir(key)
                if entry.name.endswith(SPEC_SUFFIXES) and entry.is_file()
            )
        except OSError:
            state[key] = None
        else:
            state[key] = tuple(names)
    return state


def _changes(watched: _Watched, before: State, now: State) -> list[str]:
    """What changed, as the user knows the files: ``specs/a.yaml``, ``specs/b.yaml (new)``."""
    changed: list[str] = []
    for key, path in watched.files.items():
        old, new = before.get(key), now.get(key)
        if old != new:
            note = " (removed)" if new is None else " (new)" if old is None else ""
            changed.append(f"{path}{note}")
    for key, folder in watched.folders.items():
        old_names, new_names = before.get(key) or (), now.get(key) or ()
        changed += [f"{folder / str(n)} (new)" for n in new_names if n not in old_names]
        changed += [f"{folder / str(n)} (removed)" for n in old_names if n not in new_names]
    return list(dict.fromkeys(changed))  # a spec removed from a folder is named once


def watch(
    run_pass: Callable[[Stop], Pass],
    given: Sequence[Path],
    folders: Sequence[Path],
    stop: Stop,
    out: TextIO,
    err: TextIO,
    *,
    interval: float = INTERVAL,
    settle: float = SETTLE,
) -> int:
    """Run ``run_pass`` now and after every change of its inputs, until ``stop`` is
    requested (the caller handles the signals: ``interrupt.handling_signals(stop)``).

    ``given``: the files watched whatever a pass reads (given_files); ``folders``: folders
    named on the command line, whose spec files come and go.
    Returns the stop's exit code (130 for SIGINT), or the last pass's when it was ``last``.
    """
    watched = _Watched(folders={os.path.abspath(f): f for f in folders})
    watched.add(given)
    while True:
        before = _look(watched)  # a file changed while the pass runs is run again after it
        done = run_pass(stop)
        out.flush()
        if stop.requested:
            return stop.exit_code
        if done.last:
            return done.exit_code
        previous = watched
        watched = _Watched(folders=previous.folders)
        watched.add(given)
        watched.add(done.files)
        if not done.complete:
            watched.add(previous.files.values())
        now = _look(watched)
        baseline = {key: before.get(key, value) for key, value in now.items()}
        err.write(f"watching {watched.count(now)} — Ctrl-C to stop\n")
        err.flush()
        changed = _wait_for_change(watched, baseline, stop, interval, settle)
        if changed is None:
            return stop.exit_code
        err.write(f"change: {', '.join(changed)} — re-running\n\n")
        err.flush()


def _wait_for_change(
    watched: _Watched,
    baseline: State,
    stop: Stop,
    interval: float,
    settle: float,
) -> list[str] | None:
    """The changes since ``baseline`` once they have held still; None when stopped."""
    while not stop.requested:
        now = _look(watched)
        if _changes(watched, baseline, now):
            deadline = time.monotonic() + SETTLE_LIMIT
            while not stop.requested and time.monotonic() < deadline:
                stop.wait(settle)
                later = _look(watched)
                if later == now:
                    break
                now = later
            changed = _changes(watched, baseline, now)
            if changed and not stop.requested:
                return changed
        stop.wait(interval)
    return None
