"""A deadline for a whole response: connect, headers and body together.

Socket timeouts are per read: a server that trickles one byte every half second never trips
them, and holds a step for as long as it likes. So each request registers its connection
with one watchdog thread, which shuts the socket down when the deadline passes; the blocked
read then returns, and the transport reports the timeout. Registering is a heap push, and
the thread only wakes for the earliest deadline, so a request that ends in time costs a few
microseconds.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Any

__all__ = ["Deadline", "watch_connection"]

_local = threading.local()


class Deadline:
    """The deadline of one request, active in its thread inside ``with``."""

    __slots__ = ("at", "fired", "in_body", "_entries", "_previous")

    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds
        self.fired = False
        self.in_body = False  # the headers came: the body is being read
        self._entries: list[list[Any]] = []
        self._previous: Deadline | None = None

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def __enter__(self) -> Deadline:
        self._previous = getattr(_local, "deadline", None)
        _local.deadline = self
        return self

    def __exit__(self, *_: object) -> None:
        _local.deadline = self._previous
        for entry in self._entries:  # disarm: the watchdog skips them and drops the socket
            entry[0] = None
        self._entries.clear()

    def _watch(self, connection: Any) -> None:
        if any(entry[0] is connection for entry in self._entries):
            return
        entry = [connection, self]
        self._entries.append(entry)
        _WATCHDOG.arm(self.at, entry)


def watch_connection(connection: Any) -> None:
    """Called by the transport's connections before they connect and send: the connection
    now answers to the current thread's deadline (if a request set one)."""
    deadline: Deadline | None = getattr(_local, "deadline", None)
    if deadline is not None:
        deadline._watch(connection)


class _Watchdog:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, list[Any]]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, at: float, entry: list[Any]) -> None:
        with self._lock:
            heapq.heappush(self._heap, (at, next(self._order), entry))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="apirun-deadline")
                self._thread.daemon = True
                self._thread.start()
            elif self._heap[0][2] is entry:  # a new earliest deadline: wake up for it
                self._lock.notify()

    def _run(self) -> None:
        with self._lock:
            while True:
                while self._heap and self._heap[0][2][0] is None:
                    heapq.heappop(self._heap)  # ended in time
                if not self._heap:
                    self._lock.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._lock.wait(wait)
                    continue
                _, _, entry = heapq.heappop(self._heap)
                connection, deadline = entry
                if connection is None:
                    continue
                deadline.fired = True  # before the shutdown: the reader wakes up to it
                if not _shut(connection):  # still connecting (its own timeout runs): later
                    deadline.fired = False
                    retry = time.monotonic() + _RETRY
                    heapq.heappush(self._heap, (retry, next(self._order), entry))


_RETRY = 0.05


def _shut(connection: Any) -> bool:
    """Shut the socket down under the reader (a plain socket's shutdown, also for TLS: the
    SSL object stays as it is, and the blocked read sees the connection end)."""
    sock = getattr(connection, "sock", None) or getattr(connection, "watched_sock", None)
    if sock is None:
        return False
    with contextlib.suppress(OSError, TypeError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    return True


_WATCHDOG = _Watchdog()
