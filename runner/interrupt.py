"""Stopping a run on SIGINT, SIGTERM or SIGHUP without losing what it created or found.

The first signal asks the run to stop: no step or file starts after it, but the ``finally``
steps of every file that started still run, and the reports are written. A second signal
skips the ``finally`` steps that have not started. A request in flight in the main thread
(a run without ``--jobs``) is cut at once: the signal handler raises ``Interrupted`` there,
and only there (``Stop.sending``), so nothing else is ever interrupted half-way. A request
in flight in a ``--jobs`` thread ends by itself, bounded by its timeout.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Interrupted(BaseException):  # noqa: N818 - like KeyboardInterrupt, not an error
    """Raised in the main thread's request in flight when a stop signal arrives."""


class Stop:
    """Whether, and by which signal, the run was asked to stop. Shared by every thread."""

    def __init__(self) -> None:
        self._requested = threading.Event()
        self.skip_cleanup = False
        self.signal_number: int | None = None
        self._sending = False  # the main thread is inside Transport.send

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    @property
    def signal_name(self) -> str:
        if self.signal_number is None:
            return "a stop"
        return signal.Signals(self.signal_number).name

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as shells report it: 130, 143, 129."""
        return 128 + (self.signal_number or signal.SIGINT)

    def request(self, number: int | None = None) -> None:
        """Ask the run to stop (again: skip the finally steps not yet started)."""
        if self.requested:
            self.skip_cleanup = True
        else:
            self.signal_number = number
            self._requested.set()

    def wait(self, seconds: float) -> None:
        """Sleep (a step's delay, retry's wait) that a stop request cuts short."""
        if seconds > 0:
            self._requested.wait(seconds)

    @contextlib.contextmanager
    def sending(self) -> Iterator[None]:
        """Around a request: in the main thread, a stop signal raises Interrupted here."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self._sending = True
        try:
            yield
        finally:
            self._sending = False

    def _handle(self, number: int, frame: FrameType | None) -> None:
        self.request(number)
        if self._sending:
            self._sending = False  # raised once: the exception leaves the request
            raise Interrupted(signal.Signals(number).name)


@contextlib.contextmanager
def handling_signals(stop: Stop) -> Iterator[Stop]:
    """SIGINT, SIGTERM and SIGHUP ask ``stop`` to stop while inside; the previous handlers
    are back afterwards. Only the main thread can install handlers: elsewhere, nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {number: signal.signal(number, stop._handle) for number in SIGNALS}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
