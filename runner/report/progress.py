"""The live line on a terminal: ``… list servers  attempt 7/30  12.4 s`` while a step runs.

Shown only for a step that has run longer than DELAY, and only on a terminal with colour
allowed (the command decides: not with NO_COLOR, ``--color never`` or a pipe). The line is
rewritten in place by a daemon thread and erased before any other line is written, so the
step's result line takes its place and nothing of it is left in the scrollback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO

from .terminal import escape_controls

DELAY = 1.0  # seconds a step runs before its live line shows
INTERVAL = 0.1  # seconds between two updates of the line
_ERASE = "\r\033[K"


def live_text(name: str, attempt: int, attempts: int, seconds: float, width: int) -> str:
    """The line's text, cut to the terminal's width (a wrapped line could not be erased)."""
    text = f"… {escape_controls(name)}"
    if attempts > 1:
        text += f"  attempt {attempt}/{attempts}"
    text += f"  {seconds:.1f} s"
    return text if len(text) < width else text[: max(width - 2, 1)] + "…"


class LiveProgress:
    """One live line for the step running now; ``write`` puts a normal line in its place."""

    def __init__(
        self,
        stream: TextIO,
        delay: float = DELAY,
        interval: float = INTERVAL,
        width: Callable[[], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.stream = stream
        self.delay, self.interval, self.clock = delay, interval, clock
        self.width = width or _terminal_width(stream)
        self._lock = threading.Lock()
        self._step: tuple[str, int, int, float] | None = None  # name, attempt, of, since
        self._shown = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="apirun-progress", daemon=True)
        self._thread.start()

    def attempt(self, name: str, attempt: int, attempts: int) -> None:
        with self._lock:
            since = self.clock()
            if self._step is not None and self._step[0] == name and attempt > 1:
                since = self._step[3]  # the step's time counts from its first attempt
            self._step = (name, attempt, attempts, since)

    def write(self, text: str) -> None:
        """A normal line: the live line is erased first; the step it showed is over."""
        with self._lock:
            self._erase()
            self._step = None
            self.stream.write(text)
            self.stream.flush()

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            self._erase()
            self._step = None
            self.stream.flush()

    def _erase(self) -> None:
        if self._shown:
            self.stream.write(_ERASE)
            self._shown = False

    def _tick(self) -> None:
        while not self._stopped.wait(self.interval):
            with self._lock:
                if self._step is None or self._stopped.is_set():
                    continue
                name, attempt, attempts, since = self._step
                seconds = self.clock() - since
                if seconds < self.delay:
                    continue
                text = live_text(name, attempt, attempts, seconds, self.width())
                self.stream.write(_ERASE + text)
                self.stream.flush()
                self._shown = True


def _terminal_width(stream: TextIO) -> Callable[[], int]:
    """The terminal's width, asked each time (it may be resized); COLUMNS or 80 if unknown."""
    import os

    def width() -> int:
        try:
            columns = os.get_terminal_size(stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            columns = 0
        if columns <= 0:
            text = os.environ.get("COLUMNS", "")
            columns = int(text) if text.isdigit() and int(text) > 0 else 80
        return columns

    return width
