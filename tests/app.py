"""A small WSGI app for the in-process tests: the same specs run against it over a socket
(``serve``) and in-process (``apirun --app tests.app:application``) must give the same results.

It echoes what it received, so a test can assert the environ the app saw; it streams, sets
cookies, redirects and fails on demand. State (a tiny item store) lives in the app object, so
a factory (``make_app``) gives a fresh one.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

StartResponse = Callable[..., Any]
_ECHOED = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "wsgi.url_scheme",
)


class App:
    """The app: routes by path; ``/items`` keeps state between requests."""

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        self.calls += 1
        path = environ.get("PATH_INFO", "")
        route = path.split("/")[1] if path.count("/") else ""
        handler = getattr(self, f"route_{route}", None) or self.route_missing
        return handler(environ, start_response)

    def route_echo(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        """What the app saw: the environ keys that matter, headers, query, body."""
        length = environ.get("CONTENT_LENGTH") or "0"
        body = environ["wsgi.input"].read(int(length)) if length.isdigit() else b""
        seen = {key: environ.get(key, "") for key in _ECHOED}
        seen["headers"] = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        seen["query"] = parse_qs(environ.get("QUERY_STRING", ""))
        seen["body"] = body.decode("latin-1")
        return _json(start, "200 OK", seen)

    def route_items(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        """A tiny REST store: POST /items (JSON) → 201 + Location; GET/PUT/DELETE /items/ID."""
        method = environ["REQUEST_METHOD"]
        parts = environ["PATH_INFO"].strip("/").split("/")
        if len(parts) == 1:
            if method == "GET":
                return _json(start, "200 OK", {"items": sorted(self.items)})
            if method != "POST":
                return _json(
                    start, "405 Method Not Allowed", {"error": "method"}, [("Allow", "GET, POST")]
                )
            try:
                item = json.loads(_read(environ) or b"null")
            except ValueError:
                return _json(start, "400 Bad Request", {"error": "body is not JSON"})
            if not isinstance(item, dict) or "name" not in item:
                return _json(start, "400 Bad Request", {"error": "name is required"})
            ident = str(len(self.items) + 1)
            self.items[ident] = {**item, "id": ident}
            location = f"/items/{ident}"
            return _json(start, "201 Created", self.items[ident], [("Location", location)])
        ident = parts[1]
        if ident not in self.items:
            return _json(start, "404 Not Found", {"error": f"no item {ident}"})
        if method == "DELETE":
            del self.items[ident]
            start("204 No Content", [])
            return [b""]
        if method == "PUT":
            self.items[ident] = {**json.loads(_read(environ)), "id": ident}
        return _json(start, "200 OK", self.items[ident])

    def route_stream(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        """A body made of N chunks produced one at a time (no Content-Length)."""
        count = int(parse_qs(environ.get("QUERY_STRING", "")).get("n", ["3"])[0])
        start("200 OK", [("Content-Type", "text/plain")])
        return _Chunks(count)

    def route_write(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        """The old write() callable of PEP 3333, then an iterable."""
        write = start("200 OK", [("Content-Type", "text/plain")])
        write(b"written;")
        return [b"returned"]

    def route_login(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        """Sets a session cookie and redirects to /whoami."""
        start(
            "303 See Other",
            [
                ("Location", "/whoami"),
                ("Set-Cookie", "session=s3cr3t; Path=/"),
                ("Set-Cookie", "theme=dark; Path=/"),
            ],
        )
        return [b""]

    def route_whoami(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        session = cookie["session"].value if "session" in cookie else None
        if session is None:
            return _json(start, "401 Unauthorized", {"error": "no session"})
        return _json(start, "200 OK", {"session": session})

    def route_redirect(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        """/redirect/N: N redirects before /echo."""
        left = int(environ["PATH_INFO"].rstrip("/").split("/")[-1] or 0)
        target = f"/redirect/{left - 1}" if left > 1 else "/echo"
        start("302 Found", [("Location", target), ("Content-Type", "text/plain")])
        return [b"moved"]

    def route_status(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        code = environ["PATH_INFO"].rstrip("/").split("/")[-1]
        start(f"{code} Whatever", [("Content-Type", "text/plain")])
        return [f"status {code}".encode()]

    def route_crash(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        """An app bug: the exception escapes before start_response."""
        raise RuntimeError("the app crashed")

    def route_html(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        start("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("X-Served-By", "app-7")])
        return ["<p>héllo wörld</p>".encode()]

    def route_slow(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        time.sleep(float(parse_qs(environ.get("QUERY_STRING", "")).get("s", ["0.05"])[0]))
        return _json(start, "200 OK", {"slept": True})

    def route_missing(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        return _json(start, "404 Not Found", {"error": f"no route {environ.get('PATH_INFO')}"})


class _Chunks:
    """An iterable body with close(), as servers must call it (PEP 3333)."""

    closed = 0

    def __init__(self, count: int):
        self.count = count

    def __iter__(self) -> Iterator[bytes]:
        for index in range(self.count):
            yield f"chunk {index}\n".encode()

    def close(self) -> None:
        _Chunks.closed += 1


def _read(environ: dict[str, Any]) -> bytes:
    length = environ.get("CONTENT_LENGTH") or "0"
    return environ["wsgi.input"].read(int(length)) if length.isdigit() else b""


def _json(
    start: StartResponse, status: str, value: Any, extra: list[tuple[str, str]] | None = None
) -> list[bytes]:
    body = json.dumps(value).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start(status, headers + (extra or []))
    return [body]


application = App()


def make_app() -> App:
    """A factory: ``apirun --app 'tests.app:make_app()'`` gets a fresh store per file."""
    return App()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:  # no access log in the test output
        pass


@contextmanager
def serve(app: Callable[..., Any] | None = None) -> Iterator[str]:
    """Serve the app on 127.0.0.1 (an ephemeral port) in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app or App(), WSGIServer, _QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
