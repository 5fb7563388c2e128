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
import time
from collections.abc import Iterator
from types import FrameType

SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Interrupted(BaseException):  # noqa: N818 - like KeyboardInterrupt, not an error
    """Raised in the main thread's request in flight when a stop signal arrives."""


# How soon a wait notices a stop signal. The handler cannot wake a wait at once: see Stop.
POLL_SECONDS = 0.05


class Stop:
    """Whether, and by which signal, the run was asked to stop. Shared by every thread.

    The signal handler only sets a flag. It runs in the main thread between two bytecodes,
    possibly while that thread holds the lock of the Event its waits use (inside
    ``Event.wait``, as it leaves); setting the Event there would wait for that lock forever,
    and Ctrl-C would hang the run. So waits look at the flag every POLL_SECONDS; a request
    made outside a handler (``request()``) also sets the Event, which wakes them at once.
    """

    def __init__(self) -> None:
        self._requested = threading.Event()  # wakes the waits; the flag is the truth
        self._flag = False
        self.skip_cleanup = False
        self.signal_number: int | None = None
        self._sending = False  # the main thread is inside Transport.send

    @property
    def requested(self) -> bool:
        return self._flag

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
        self._note(number)
        self._requested.set()

    def _note(self, number: int | None) -> None:
        """The request itself: attribute stores only, no lock (safe in a signal handler)."""
        if self._flag:
            self.skip_cleanup = True
        else:
            self.signal_number = number
            self._flag = True

    def wait(self, seconds: float) -> None:
        """Sleep (a step's delay, retry's wait) that a stop request cuts short."""
        deadline = time.monotonic() + seconds
        while not self._flag:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._requested.wait(min(remaining, POLL_SECONDS))

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
        self._note(number)  # never self._requested.set() here: see the class docstring
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
