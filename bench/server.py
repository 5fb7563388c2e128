"""A small, fast HTTP/1.1 keep-alive server for apirun's benchmark (bench/run.py).

It serves two static answers, imitating the Keystone calls of the benchmark workload:

- ``POST /v3/auth/tokens`` → ``201``, header ``X-Subject-Token: <TOKEN>``, a small JSON body;
- ``GET /v3/users`` → ``200`` ``{"users": [{"name": "admin", "id": "..."}]}`` when the request's
  ``X-Auth-Token`` header equals ``TOKEN``, ``401`` otherwise (so the captured token must flow).

Anything else is ``404`` (unknown path) or ``405`` (wrong method). Every answer carries a
``Content-Length``, connections stay open (HTTP/1.1 keep-alive, pipelining included) unless the
client sends ``Connection: close``. Only the loopback interface is bound.

Two options make it the server of the benchmark's other rows:

- ``--delay MS``: every answer is sent MS milliseconds after its request arrived, as from a
  server doing real work (the scale-out row: 20 ms). The wait is a timer on the event loop,
  never a sleep, so requests on different connections are answered concurrently: 8 clients
  asking at once all get their answers after MS, not after 8 × MS;
- ``--tls-cert CERT --tls-key KEY``: HTTPS instead of HTTP (the TLS row), with that
  certificate (PEM; bench/run.py makes a self-signed one for 127.0.0.1 in its temporary folder).

Standalone::

    python bench/server.py                # ephemeral port; prints "READY http://127.0.0.1:PORT"
    python bench/server.py --port 5055
    python bench/server.py --delay 20 --tls-cert cert.pem --tls-key key.pem   # READY https://...

Imported::

    from bench.server import serve        # or: import server, with bench/ on sys.path
    asyncio.run(serve(port=0, ready=print))

bench/run.py starts it in a subprocess, so that the server never shares the GIL (or a core's
time slice) with the client being measured. Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import ssl
import sys
from collections.abc import Callable

HOST = "127.0.0.1"
TOKEN = "gAAAAABbenchTOKEN-3f6c1a0e9b5d4c2a8e7f1b0c9d8e7f6a"
ADMIN_ID = "8f2b6d1e4c3a4b5e9d7f0a1b2c3d4e5f"
TOKEN_PATH = "/v3/auth/tokens"
USERS_PATH = "/v3/users"

TOKEN_BODY = json.dumps(
    {
        "token": {
            "methods": ["password"],
            "user": {"domain": {"id": "default", "name": "demo"}, "id": ADMIN_ID, "name": "admin"},
            "project": {"domain": {"id": "default", "name": "demo"}, "id": "p1", "name": "admin"},
            "expires_at": "2099-01-01T00:00:00.000000Z",
        }
    },
    separators=(",", ":"),
).encode()
USERS_BODY = json.dumps(
    {"users": [{"name": "admin", "id": ADMIN_ID, "domain_id": "default", "enabled": True}]},
    separators=(",", ":"),
).encode()

MAX_HEAD = 64 * 1024  # a request head larger than this is refused (400) and the connection closed
MAX_BODY = 1024 * 1024


def _response(
    status: str, body: bytes, extra: tuple[tuple[str, str], ...] = (), close: bool = False
) -> bytes:
    lines = [
        f"HTTP/1.1 {status}",
        "Server: apirun-bench",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in extra),
    ]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _error(status: str, message: str, close: bool = False) -> bytes:
    return _response(status, json.dumps({"error": message}).encode(), close=close)


# Every answer is built once, at import: serving is a dictionary look-up and a write.
TOKEN_RESPONSE = _response("201 Created", TOKEN_BODY, (("X-Subject-Token", TOKEN),))
USERS_RESPONSE = _response("200 OK", USERS_BODY)
UNAUTHORIZED = _error("401 Unauthorized", "the X-Auth-Token header is missing or wrong")
NOT_FOUND = _error("404 Not Found", "no such path")
METHOD_NOT_ALLOWED = _error("405 Method Not Allowed", "method not allowed")
BAD_REQUEST = _error("400 Bad Request", "malformed request", close=True)
LENGTH_REQUIRED = _error("411 Length Required", "send a Content-Length", close=True)
TOO_LARGE = _error("413 Content Too Large", "request too large", close=True)

_TOKEN_HEADER = TOKEN.encode("latin-1")


def answer(method: bytes, path: bytes, headers: dict[bytes, bytes]) -> bytes:
    """The full response (status line, headers, body) for one request."""
    path = path.split(b"?", 1)[0]
    if path == b"/v3/users":
        if method not in (b"GET", b"HEAD"):
            return METHOD_NOT_ALLOWED
        if headers.get(b"x-auth-token") != _TOKEN_HEADER:
            return UNAUTHORIZED
        return USERS_RESPONSE
    if path == b"/v3/auth/tokens":
        return TOKEN_RESPONSE if method == b"POST" else METHOD_NOT_ALLOWED
    return NOT_FOUND


class _HTTPProtocol(asyncio.Protocol):
    """One connection: parse as many requests as the buffer holds, answer each in order.

    With a ``delay`` (seconds), the answers to what one read brought are sent that much later,
    by a timer of the event loop: the other connections are served meanwhile. Timers of equal
    delay fire in the order they were set, so a connection's answers keep their order."""

    __slots__ = ("transport", "buffer", "delay", "closing")

    def __init__(self, delay: float = 0.0) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.delay = delay
        self.closing = False  # a request asked to close: what follows it is not read

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def _send(self, payload: bytes, close: bool) -> None:
        if self.transport is None:
            return  # the client went away while its answer waited
        if payload:
            self.transport.write(payload)
        if close:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.buffer += data
        out: list[bytes] = []
        close = False
        # Bounded: every pass either consumes a whole request from the buffer or stops.
        while self.buffer:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    out.append(TOO_LARGE)
                    close = True
                break
            head = bytes(self.buffer[:end]).split(b"\r\n")
            request_line = head[0].split(b" ")
            if len(request_line) != 3:
                out.append(BAD_REQUEST)
                close = True
                break
            method, path, version = request_line
            headers: dict[bytes, bytes] = {}
            for line in head[1:]:
                name, sep, value = line.partition(b":")
                if not sep:
                    continue
                headers[name.strip().lower()] = value.strip()
            if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
                out.append(LENGTH_REQUIRED)
                close = True
                break
            try:
                length = int(headers.get(b"content-length", b"0"))
            except ValueError:
                out.append(BAD_REQUEST)
                close = True
                break
            if length < 0 or length > MAX_BODY:
                out.append(TOO_LARGE)
                close = True
                break
            total = end + 4 + length
            if len(self.buffer) < total:
                break  # the body is not all here yet
            del self.buffer[:total]
            response = answer(method, path, headers)
            connection = headers.get(b"connection", b"").lower()
            if connection == b"close" or (version == b"HTTP/1.0" and connection != b"keep-alive"):
                close = True
            if method == b"HEAD":
                head_end = response.index(b"\r\n\r\n") + 4
                response = response[:head_end]
            out.append(response)
            if close:
                break
        if close:
            self.buffer.clear()
            self.closing = True
        if not out and not close:
            return
        payload = b"".join(out) if len(out) > 1 else (out[0] if out else b"")
        if self.delay > 0:
            asyncio.get_running_loop().call_later(self.delay, self._send, payload, close)
        else:
            self._send(payload, close)


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    """The server's TLS context: the certificate and its key, TLS 1.2 or newer."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


async def serve(
    host: str = HOST,
    port: int = 0,
    ready: Callable[[str], object] | None = None,
    *,
    delay: float = 0.0,
    tls: ssl.SSLContext | None = None,
) -> None:
    """Serve until cancelled. ``ready`` gets the base URL (``http://127.0.0.1:PORT``, or
    ``https://`` with ``tls``) once bound. ``delay``: seconds before each answer is sent."""
    if host not in ("127.0.0.1", "localhost"):
        raise ValueError("the benchmark server only binds the loopback interface")
    if not 0 <= delay <= 10:
        raise ValueError("the delay must be between 0 and 10 seconds")
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _HTTPProtocol(delay), host, port, reuse_address=True, backlog=128, ssl=tls
    )
    bound = server.sockets[0].getsockname()
    if ready is not None:
        ready(f"{'https' if tls else 'http'}://{bound[0]}:{bound[1]}")
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="stop when standard input closes (bench/run.py: the server never outlives it)",
    )
    parser.add_argument(
        "--delay",
        type=float,
        default=0.0,
        metavar="MS",
        help="send each answer MS milliseconds after its request (default 0; at most 10000)",
    )
    parser.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate")
    parser.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    args = parser.parse_args(argv)
    if not 0 <= args.delay <= 10000:
        parser.error("--delay must be between 0 and 10000 ms")
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    try:
        tls = tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    except (OSError, ssl.SSLError) as exc:
        print(f"server.py: cannot use the TLS certificate: {exc}", file=sys.stderr)
        return 1

    def ready(url: str) -> None:
        print(f"READY {url}", flush=True)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = loop.create_future()

        def stopping() -> None:
            if not stop.done():
                stop.set_result(None)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping)
        if args.exit_on_stdin_eof:
            stdin = sys.stdin.fileno()

            def on_stdin() -> None:
                if not os.read(stdin, 4096) and not stop.done():
                    loop.remove_reader(stdin)
                    stop.set_result(None)

            loop.add_reader(stdin, on_stdin)
        task = asyncio.create_task(serve(HOST, args.port, ready, delay=args.delay / 1000, tls=tls))
        await asyncio.wait([task, stop], return_when=asyncio.FIRST_COMPLETED)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        asyncio.run(run())
    except OSError as exc:
        print(
            f"server.py: cannot listen on {HOST}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
