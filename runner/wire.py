"""The seam between the engine and the wire: a ``Transport`` sends one neutral ``HttpRequest``
and gives back what was sent and the neutral ``Response`` (runner/messages.py).

The engine asks ``RunOptions.transport`` — a factory called once per spec file with that
file's ``TransportSettings`` — for the file's transport, and closes it when the file is done.
By default it is the network (``network``: runner/transport.py, one requests Session per
file); ``in_process`` answers base_url's host with a WSGI app in this process (``--app``).
Any object with ``send`` and ``close`` will do: a transport that records and forwards, a
fake, another HTTP library. The engine does not change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from .messages import HttpRequest, Response, SentRequest
from .model import DEFAULT_MAX_BODY_MB
from .record import Record, record

if TYPE_CHECKING:
    from .model import ClientCert
    from .wsgi import AppTarget


class Transport(Protocol):
    """One spec file's connection to its servers (its cookies, its connections)."""

    def send(self, request: HttpRequest) -> tuple[SentRequest, Response]:
        """Send the request; raise runner.errors.TransportError (one line) when no complete
        response came back. Never raise for an HTTP status: a 500 is a Response."""
        ...

    def close(self) -> None: ...


@record
class TransportSettings(Record):
    """What a file's transport is made with, rendered: the spec's defaults and base_url."""

    verify: bool | str = True  # defaults.verify: TLS verification, or a CA bundle path
    max_body_mb: float = DEFAULT_MAX_BODY_MB  # defaults.max_body_mb
    cert: ClientCert | None = None  # defaults.cert, or the cloud's client certificate
    base_url: str | None = None  # the file's base_url, when it has one that renders


# Called once per spec file, in the thread that runs it; raise an ApirunError to fail the
# file with its message.
TransportFactory = Callable[[TransportSettings], Transport]


def network(settings: TransportSettings) -> Transport:
    """The default: HTTP over the network with requests (runner/transport.py)."""
    from .transport import Transport as RequestsTransport

    return RequestsTransport(settings.verify, settings.max_body_mb, None, settings.cert)


def in_process(target: AppTarget) -> TransportFactory:
    """``--app``: base_url's origin answered by a WSGI app (made once per file), in this
    process; every other host still over the network (runner/wsgi.py)."""

    def make(settings: TransportSettings) -> Transport:
        from .transport import Transport as RequestsTransport
        from .wsgi import adapters_for

        adapters = adapters_for(target, settings.base_url)
        return RequestsTransport(settings.verify, settings.max_body_mb, adapters, settings.cert)

    return make
