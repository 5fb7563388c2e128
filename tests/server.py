"""A small, real HTTP server for apirun's test suite.

``FakeKeystone`` is a WSGI application imitating the parts of the OpenStack
Keystone v3 API that apirun's users call (token issue/validate, users CRUD),
plus utility endpoints (``/echo``, ``/status/<code>``, ``/redirect``, ...)
that let tests see exactly what the server received.

``start_server(app)`` serves an app on ``127.0.0.1`` (ephemeral port) from a
daemon thread, speaking HTTP/1.1 with keep-alive.  Only the loopback
interface is ever bound.

Run by hand::

    python tests/server.py [--port 5000]

Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as _dt
import http
import json
import re
import socket
import socketserver
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email import policy as _email_policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs, quote
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer
from wsgiref.util import is_hop_by_hop

__all__ = [
    "ADMIN_ID",
    "ADMIN_PROJECT_ID",
    "DEMO_DOMAIN_ID",
    "DEMO_USER_ID",
    "FakeKeystone",
    "Headers",
    "Recorded",
    "ServerThread",
    "start_server",
]

LOOPBACK = "127.0.0.1"

# Fixed, realistic-looking ids so tests can assert on them.
ADMIN_ID = uuid.uuid5(uuid.NAMESPACE_URL, "apirun-test/user/admin").hex
DEMO_USER_ID = uuid.uuid5(uuid.NAMESPACE_URL, "apirun-test/user/demo").hex
DEMO_DOMAIN_ID = uuid.uuid5(uuid.NAMESPACE_URL, "apirun-test/domain/demo").hex
ADMIN_PROJECT_ID = uuid.uuid5(uuid.NAMESPACE_URL, "apirun-test/project/admin").hex
IDENTITY_SERVICE_ID = uuid.uuid5(uuid.NAMESPACE_URL, "apirun-test/service/keystone").hex
COMPUTE_SERVICE_ID = uuid.uuid5(uuid.NAMESPACE_URL, "apirun-test/service/nova").hex
ADMIN_ROLE_ID = uuid.uuid5(uuid.NAMESPACE_URL, "apirun-test/role/admin").hex
MEMBER_ROLE_ID = uuid.uuid5(uuid.NAMESPACE_URL, "apirun-test/role/member").hex
READER_ROLE_ID = uuid.uuid5(uuid.NAMESPACE_URL, "apirun-test/role/reader").hex

TOKEN_TTL = _dt.timedelta(hours=1)
MAX_BODY = 32 * 1024 * 1024  # refuse request bodies larger than this
MAX_SLOW_SECONDS = 5.0

JSON_DOCUMENT: dict[str, Any] = {
    "string": "text",
    "int": 1,
    "float": 1.5,
    "bool": True,
    "null": None,
    "list": [1, 2, 3],
    "empty": [],
    "object": {"a": 1},
    "users": [
        {"id": "u1", "name": "admin", "age": 42},
        {"id": "u2", "name": "demo", "age": 7},
    ],
}
TEXT_BODY = "hello from the test server\nline two\n"
HTML_BODY = (
    "<!DOCTYPE html>\n<html>\n<head><title>apirun test server</title></head>\n"
    '<body><h1 id="title">Hello</h1><p class="msg">hello from the test server</p>'
    "</body>\n</html>\n"
)

_TOKEN_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


# --------------------------------------------------------------------------
# Recorded requests
# --------------------------------------------------------------------------


class Headers(dict):
    """A dict of header name -> value whose keys are stored lower-cased.

    Lookups (``[]``, ``get``, ``in``, ``pop``) ignore case; equality with a
    plain dict compares against the lower-cased names.
    """

    def __init__(self, items: Iterable[tuple[str, str]] | dict | None = None, **kw: str):
        super().__init__()
        if items is not None:
            self.update(items)
        if kw:
            self.update(kw)

    @staticmethod
    def _k(key: Any) -> Any:
        return key.lower() if isinstance(key, str) else key

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(self._k(key), value)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(self._k(key))

    def __delitem__(self, key: str) -> None:
        super().__delitem__(self._k(key))

    def __contains__(self, key: object) -> bool:
        return super().__contains__(self._k(key))

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(self._k(key), default)

    def pop(self, key: str, *default: Any) -> Any:
        return super().pop(self._k(key), *default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        return super().setdefault(self._k(key), default)

    def update(self, other: Any = (), **kw: Any) -> None:
        items = other.items() if hasattr(other, "items") else other
        for k, v in items:
            self[k] = v
        for k, v in kw.items():
            self[k] = v

    def copy(self) -> Headers:
        return Headers(self)

    def __repr__(self) -> str:
        return f"Headers({dict.__repr__(self)})"


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it.

    ``path`` is percent-decoded (UTF-8); ``query`` maps each name to all of its
    values (blank values kept); ``headers`` has lower-cased names and
    case-insensitive lookup (repeated headers are joined with ", ");
    ``body`` is the raw body (chunked transfer-encoding already decoded);
    ``target`` is the request-target exactly as sent (e.g. ``/a%20b?x=1``).
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    body: bytes
    target: str = ""
    received: float = 0.0  # time.monotonic() when the request arrived

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


# --------------------------------------------------------------------------
# Small request/response helpers
# --------------------------------------------------------------------------


class _BadRequest(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    body: bytes
    target: str
    base_url: str
    content_type: str

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json_body(self) -> Any:
        if not self.body:
            raise _BadRequest("The request body is empty; expected a JSON object.")
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise _BadRequest(f"The request body is not valid JSON: {exc}") from None


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def _json_response(
    status: int, obj: Any, headers: list[tuple[str, str]] | None = None
) -> _Response:
    body = json.dumps(obj).encode("utf-8")
    return _Response(status, body, [("Content-Type", "application/json"), *(headers or [])])


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _error(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> _Response:
    """Keystone-style error document."""
    return _json_response(
        status,
        {"error": {"code": status, "title": _phrase(status), "message": message}},
        headers,
    )


def _flatten(multi: dict[str, list[str]]) -> dict[str, Any]:
    """{name: [v]} -> {name: v}; names given several times keep the list."""
    return {k: (v[0] if len(v) == 1 else list(v)) for k, v in multi.items()}


def _parse_cookies(header: str | None) -> dict[str, str]:
    cookies: dict[str, str] = {}
    if not header:
        return cookies
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        name = name.strip()
        if not name:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        cookies[name] = value
    return cookies


def _parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Parse a multipart/form-data body -> (fields, files), or None on failure."""
    try:
        raw = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        msg = BytesParser(policy=_email_policy.HTTP).parsebytes(raw)
        if not msg.is_multipart():
            return None
        fields: dict[str, list[str]] = {}
        files: dict[str, Any] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name is None:
                continue
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename is not None:
                files[name] = {
                    "filename": filename,
                    "content_type": part.get_content_type(),
                    "content": payload.decode("utf-8", "replace"),
                }
            else:
                charset = part.get_content_charset() or "utf-8"
                fields.setdefault(name, []).append(payload.decode(charset, "replace"))
        return _flatten(fields), files
    except Exception:  # noqa: BLE001 - best effort parsing for a test helper
        return None


def _read_chunked(stream: Any) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        line = stream.readline(65537)
        if not line:
            raise _BadRequest("Truncated chunked request body.")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _BadRequest("Malformed chunk size in request body.") from None
        if size < 0:
            raise _BadRequest("Malformed chunk size in request body.")
        if size == 0:
            # Skip optional trailers up to the terminating blank line.
            for _ in range(100):
                trailer = stream.readline(65537)
                if trailer in (b"\r\n", b"\n", b""):
                    break
            return b"".join(chunks)
        total += size
        if total > MAX_BODY:
            raise _BadRequest("Request body too large.", 413)
        data = stream.read(size)
        if len(data) != size:
            raise _BadRequest("Truncated chunked request body.")
        chunks.append(data)
        stream.readline(65537)  # the CRLF ending the chunk


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        if environ.get("wsgi.input_terminated"):
            return stream.read()
        return _read_chunked(stream)
    length = (environ.get("CONTENT_LENGTH") or "").strip()
    if not length:
        return b""
    try:
        n = int(length)
    except ValueError:
        raise _BadRequest("Invalid Content-Length header.") from None
    if n < 0:
        raise _BadRequest("Invalid Content-Length header.")
    if n > MAX_BODY:
        raise _BadRequest("Request body too large.", 413)
    data = stream.read(n) if n else b""
    if len(data) != n:
        raise _BadRequest("Incomplete request body.")
    return data


def _headers_from_environ(environ: dict[str, Any]) -> Headers:
    raw = environ.get("apirun.raw_headers")
    headers = Headers()
    if raw is not None:
        for name, value in raw:
            key = name.lower()
            value = value.strip()
            if key in headers:
                sep = "; " if key == "cookie" else ", "
                headers[key] = headers[key] + sep + value
            else:
                headers[key] = value
        return headers
    # Fallback when served by some other WSGI server.
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-")] = value
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        headers["content-length"] = environ["CONTENT_LENGTH"]
    return headers


def _base_url(environ: dict[str, Any]) -> str:
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST")
    if not host:
        host = f"{environ.get('SERVER_NAME', LOOPBACK)}:{environ.get('SERVER_PORT', '80')}"
    return f"{scheme}://{host}"


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _iso(ts: _dt.datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --------------------------------------------------------------------------
# The application
# --------------------------------------------------------------------------


class FakeKeystone:
    """WSGI app imitating Keystone v3 plus test utility endpoints.

    Attributes tests may use:
      ``requests``  list[Recorded] of every request received (in order)
      ``last``      the most recent Recorded (or None)
      ``tokens``    list of currently valid token ids
      ``username``/``password``/``domain`` the valid credentials
      ``reset()``   forget recorded requests, tokens and user changes
      ``max_in_flight``  the most requests it was answering at once (since reset)
    """

    UNAUTHORIZED_MESSAGE = "The request you have made requires authentication."

    def __init__(self, username: str = "admin", password: str = "000000", domain: str = "demo"):
        self.username = username
        self.password = password
        self.domain = domain
        self.domain_id = DEMO_DOMAIN_ID
        self.admin_id = ADMIN_ID
        self.project_id = ADMIN_PROJECT_ID
        self._lock = threading.RLock()
        self.in_flight = 0  # requests being answered right now (the server is threaded)
        self.max_in_flight = 0
        self.requests: list[Recorded] = []
        self._tokens: dict[str, dict[str, Any]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self.servers: dict[str, dict[str, Any]] = {}  # /compute/v2.1/servers
        self.ready_after = 3  # GETs before a new server is ACTIVE
        self._passwords: dict[str, str] = {}
        self.reset()

    # ----- state ---------------------------------------------------------

    def reset(self) -> None:
        """Clear recorded requests, issued tokens and users (re-seeded)."""
        with self._lock:
            self.requests.clear()
            self.max_in_flight = self.in_flight
            self._tokens.clear()
            self._users.clear()
            self._passwords.clear()
            self.servers.clear()
            self.ready_after = 3
            self._users[ADMIN_ID] = self._new_user_record(ADMIN_ID, self.username)
            self._passwords[ADMIN_ID] = self.password
            if self.username != "demo":
                self._users[DEMO_USER_ID] = self._new_user_record(DEMO_USER_ID, "demo")

    def _new_user_record(self, user_id: str, name: str, **extra: Any) -> dict[str, Any]:
        record = {
            "id": user_id,
            "name": name,
            "domain_id": self.domain_id,
            "enabled": True,
            "password_expires_at": None,
            "options": {},
        }
        record.update(extra)
        return record

    @property
    def last(self) -> Recorded | None:
        with self._lock:
            return self.requests[-1] if self.requests else None

    @property
    def tokens(self) -> list[str]:
        with self._lock:
            return list(self._tokens)

    def find(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        """Recorded requests matching method and/or path (exact match)."""
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method.upper())
                and (path is None or r.path == path)
            ]

    def _record(self, req: _Request) -> None:
        rec = Recorded(
            method=req.method,
            path=req.path,
            query={k: list(v) for k, v in req.query.items()},
            headers=req.headers.copy(),
            body=req.body,
            target=req.target,
            received=time.monotonic(),
        )
        with self._lock:
            self.requests.append(rec)

    # ----- WSGI entry point ------------------------------------------------

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        try:
            try:
                body = _read_body(environ)
            except _BadRequest:
                # The body was not consumed properly: the connection can't be reused.
                environ["apirun.close_connection"] = True
                raise
            path = environ.get("PATH_INFO", "") or "/"
            path = path.encode("latin-1").decode("utf-8", "replace")
            query_string = environ.get("QUERY_STRING", "")
            req = _Request(
                method=method,
                path=path,
                query=parse_qs(query_string, keep_blank_values=True),
                headers=_headers_from_environ(environ),
                body=body,
                target=environ.get("apirun.raw_uri")
                or quote(path) + (f"?{query_string}" if query_string else ""),
                base_url=_base_url(environ),
                content_type=environ.get("CONTENT_TYPE", ""),
            )
            self._record(req)
            with self._lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                resp = self._dispatch(req)
            finally:
                with self._lock:
                    self.in_flight -= 1
        except _BadRequest as exc:
            resp = _error(exc.status, exc.message)
        except Exception as exc:  # noqa: BLE001 - report, don't crash the server
            traceback.print_exc(file=environ.get("wsgi.errors", sys.stderr))
            resp = _error(500, f"Internal test server error: {exc!r}")
        return self._send(method, start_response, resp)

    @staticmethod
    def _send(method: str, start_response: Callable[..., Any], resp: _Response) -> list[bytes]:
        headers = list(resp.headers)
        body = resp.body
        if resp.status in (204, 304):
            body = b""
        else:
            headers.append(("Content-Length", str(len(body))))
        start_response(f"{resp.status} {_phrase(resp.status)}", headers)
        if method == "HEAD" or not body:
            return []
        return [body]

    # ----- routing ---------------------------------------------------------

    def _dispatch(self, req: _Request) -> _Response:
        path = req.path
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/") or "/"
        if path == "/v3" or path.startswith("/v3/"):
            resp = self._keystone(req, path)
            resp.headers.append(("Vary", "X-Auth-Token"))
            resp.headers.append(("x-openstack-request-id", f"req-{uuid.uuid4()}"))
            return resp
        if path == "/echo" or path.startswith("/echo/"):
            return self._echo(req)
        if path == "/compute/v2.1/servers" or path.startswith("/compute/v2.1/servers/"):
            return self._servers(req, path[len("/compute/v2.1") :])
        if path.startswith("/status/"):
            return self._status(path[len("/status/") :])
        simple: dict[str, Callable[[_Request], _Response]] = {
            "/redirect": self._redirect,
            "/redirect-loop": self._redirect_loop,
            "/cookies": self._cookies,
            "/cookies/set": self._cookies_set,
            "/cookies/set-bare": self._cookies_set_bare,
            "/cookies/delete": self._cookies_delete,
            "/slow": self._slow,
            "/text": self._text,
            "/html": self._html,
            "/headers": self._headers,
            "/json": self._json,
        }
        handler = simple.get(path)
        if handler is not None:
            return handler(req)
        return _error(404, f"No such endpoint on the test server: {req.path}")

    # ----- a Nova-like resource that takes a few polls to become ready -------

    def _servers(self, req: _Request, path: str) -> _Response:
        """Under /compute/v2.1 (the catalog's compute endpoint), token required:
        POST /servers {"server": {"name", ...}} → 202; GET /servers/ID answers BUILD until
        the Nth GET (N = app.ready_after, or the body's "ready_after"), then ACTIVE;
        DELETE → 204; GET /servers lists them."""
        if req.headers.get("x-auth-token") not in self._tokens:
            return _error(401, "The request you have made requires authentication.")
        with self._lock:
            if path == "/servers":
                if req.method == "GET":
                    return _json_response(200, {"servers": list(self.servers.values())})
                if req.method != "POST":
                    return _error(405, "Method Not Allowed")
                try:
                    spec = json.loads(req.body or b"{}").get("server") or {}
                except ValueError:
                    return _error(400, "Malformed request body")
                server = {
                    "id": uuid.uuid4().hex,
                    "name": str(spec.get("name", "server")),
                    "status": "BUILD",
                    "ready_after": int(spec.get("ready_after", self.ready_after)),
                    "polls": 0,
                }
                if server["ready_after"] <= 0:
                    server["status"] = "ACTIVE"
                self.servers[server["id"]] = server
                return _json_response(202, {"server": dict(server)})
            server = self.servers.get(path[len("/servers/") :])
            if server is None:
                return _error(404, f"No server {path[len('/servers/') :]}")
            if req.method == "DELETE":
                del self.servers[server["id"]]
                return _Response(204)
            if req.method != "GET":
                return _error(405, "Method Not Allowed")
            server["polls"] += 1
            if server["polls"] >= server["ready_after"]:
                server["status"] = "ACTIVE"
            return _json_response(200, {"server": dict(server)})

    # ----- utility endpoints -----------------------------------------------

    def _echo(self, req: _Request) -> _Response:
        parsed_json: Any = None
        if req.body:
            try:
                parsed_json = json.loads(req.body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                parsed_json = None
        ctype = req.content_type.split(";", 1)[0].strip().lower()
        form: Any = None
        files: Any = None
        if ctype == "application/x-www-form-urlencoded":
            form = _flatten(parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        elif ctype == "multipart/form-data":
            parsed = _parse_multipart(req.content_type, req.body)
            if parsed is not None:
                form, files = parsed
        return _json_response(
            200,
            {
                "method": req.method,
                "path": req.path,
                "url": req.base_url + req.target,
                "query": _flatten(req.query),
                "headers": dict(req.headers),
                "body": req.body.decode("utf-8", "replace"),
                "json": parsed_json,
                "form": form,
                "files": files,
                "cookies": _parse_cookies(req.headers.get("cookie")),
            },
        )

    @staticmethod
    def _status(code_text: str) -> _Response:
        try:
            code = int(code_text)
        except ValueError:
            return _error(400, f"Not a status code: {code_text!r}")
        if not 200 <= code <= 599:
            return _error(400, f"Status code must be between 200 and 599, got {code}")
        if code in (204, 304):
            return _Response(code)
        return _json_response(code, {"status": code})

    @staticmethod
    def _redirect(req: _Request) -> _Response:
        to = req.arg("to")
        if not to:
            return _error(400, "Missing 'to' query parameter.")
        if "\r" in to or "\n" in to:
            return _error(400, "Invalid redirect target.")
        try:
            code = int(req.arg("code", "302") or "302")
        except ValueError:
            return _error(400, "Invalid 'code' query parameter.")
        if code not in (300, 301, 302, 303, 305, 307, 308):
            return _error(400, f"Not a redirect status code: {code}")
        location = quote(to, safe=":/?#[]@!$&'()*+,;=%~")
        return _json_response(code, {"redirect": location}, [("Location", location)])

    @staticmethod
    def _redirect_loop(req: _Request) -> _Response:
        return _json_response(302, {"redirect": "/redirect-loop"}, [("Location", "/redirect-loop")])

    @staticmethod
    def _cookies(req: _Request) -> _Response:
        return _json_response(200, {"cookies": _parse_cookies(req.headers.get("cookie"))})

    @staticmethod
    def _cookies_set(req: _Request) -> _Response:
        headers: list[tuple[str, str]] = []
        cookies: dict[str, str] = {}
        for name, values in req.query.items():
            if not _TOKEN_RE.match(name):
                return _error(400, f"Invalid cookie name: {name!r}")
            value = values[-1]
            cookies[name] = value
            encoded = quote(value, safe="!#$%&'()*+-./:<=>?@[]^_`{|}~")
            headers.append(("Set-Cookie", f"{name}={encoded}; Path=/"))
        return _json_response(200, {"cookies": cookies}, headers)

    @staticmethod
    def _cookies_set_bare(req: _Request) -> _Response:
        """``Set-Cookie: NAME; Path=/`` for each query name: a cookie without ``=`` or value."""
        if not all(_TOKEN_RE.match(name) for name in req.query):
            return _error(400, "Invalid cookie name")
        headers = [("Set-Cookie", f"{name}; Path=/") for name in req.query]
        return _json_response(200, {"bare": list(req.query)}, headers)

    @staticmethod
    def _cookies_delete(req: _Request) -> _Response:
        headers = []
        for name in req.query:
            if not _TOKEN_RE.match(name):
                return _error(400, f"Invalid cookie name: {name!r}")
            headers.append(
                ("Set-Cookie", f"{name}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/")
            )
        return _json_response(200, {"deleted": list(req.query)}, headers)

    @staticmethod
    def _slow(req: _Request) -> _Response:
        try:
            seconds = float(req.arg("seconds", "1") or "1")
        except ValueError:
            return _error(400, "Invalid 'seconds' query parameter.")
        if not 0 <= seconds < float("inf"):
            return _error(400, "'seconds' must be a non-negative number.")
        slept = min(seconds, MAX_SLOW_SECONDS)
        time.sleep(slept)
        return _json_response(200, {"slept": slept})

    @staticmethod
    def _text(req: _Request) -> _Response:
        return _Response(
            200, TEXT_BODY.encode("utf-8"), [("Content-Type", "text/plain; charset=utf-8")]
        )

    @staticmethod
    def _html(req: _Request) -> _Response:
        return _Response(
            200, HTML_BODY.encode("utf-8"), [("Content-Type", "text/html; charset=utf-8")]
        )

    @staticmethod
    def _headers(req: _Request) -> _Response:
        headers: list[tuple[str, str]] = []
        for name, values in req.query.items():
            if not _TOKEN_RE.match(name) or is_hop_by_hop(name) or name.lower() == "content-length":
                return _error(400, f"Response header not allowed: {name!r}")
            for value in values:
                if "\r" in value or "\n" in value:
                    return _error(400, f"Invalid value for header {name!r}")
                try:
                    value.encode("latin-1")
                except UnicodeEncodeError:
                    return _error(400, f"Header value for {name!r} must be latin-1")
                headers.append((name, value))
        if not any(n.lower() == "content-type" for n, _ in headers):
            headers.insert(0, ("Content-Type", "application/json"))
        return _Response(200, b"{}", headers)

    @staticmethod
    def _json(req: _Request) -> _Response:
        return _json_response(200, JSON_DOCUMENT)

    # ----- Keystone ----------------------------------------------------------

    def _unauthorized(self, req: _Request) -> _Response:
        return _error(
            401,
            self.UNAUTHORIZED_MESSAGE,
            [("WWW-Authenticate", f'Keystone uri="{req.base_url}/v3"')],
        )

    @staticmethod
    def _method_not_allowed(req: _Request, allowed: str) -> _Response:
        return _error(
            405,
            f"The method {req.method} is not allowed for {req.path}.",
            [("Allow", allowed)],
        )

    def _keystone(self, req: _Request, path: str) -> _Response:
        if path == "/v3":
            if req.method not in ("GET", "HEAD"):
                return self._method_not_allowed(req, "GET, HEAD")
            return self._version(req)
        if path == "/v3/auth/tokens" and req.method == "POST":
            return self._issue_token(req)

        # Everything else requires a valid X-Auth-Token.
        caller = self._token_info(req.headers.get("x-auth-token"))
        if caller is None:
            return self._unauthorized(req)

        if path == "/v3/auth/tokens":
            if req.method in ("GET", "HEAD"):
                return self._validate_token(req)
            if req.method == "DELETE":
                return self._revoke_token(req)
            return self._method_not_allowed(req, "GET, HEAD, POST, DELETE")
        if path == "/v3/users":
            if req.method in ("GET", "HEAD"):
                return self._list_users(req)
            if req.method == "POST":
                return self._create_user(req)
            return self._method_not_allowed(req, "GET, HEAD, POST")
        if path.startswith("/v3/users/") and path.count("/") == 3:
            user_id = path[len("/v3/users/") :]
            if req.method in ("GET", "HEAD"):
                return self._get_user(req, user_id)
            if req.method == "PATCH":
                return self._update_user(req, user_id)
            if req.method == "DELETE":
                return self._delete_user(req, user_id)
            return self._method_not_allowed(req, "GET, HEAD, PATCH, DELETE")
        return _error(404, f"Could not find resource: {req.path}")

    def _version(self, req: _Request) -> _Response:
        return _json_response(
            200,
            {
                "version": {
                    "id": "v3.14",
                    "status": "stable",
                    "updated": "2020-04-07T00:00:00Z",
                    "links": [{"rel": "self", "href": f"{req.base_url}/v3/"}],
                    "media-types": [
                        {
                            "base": "application/json",
                            "type": "application/vnd.openstack.identity-v3+json",
                        }
                    ],
                }
            },
        )

    # tokens

    def _token_info(self, token_id: str | None) -> dict[str, Any] | None:
        if not token_id:
            return None
        with self._lock:
            return self._tokens.get(token_id)

    def _domain_ref(self) -> dict[str, str]:
        return {"id": self.domain_id, "name": self.domain}

    def _domain_matches(self, ref: Any) -> bool:
        if not isinstance(ref, dict):
            return False
        if "id" in ref:
            return ref["id"] == self.domain_id
        if "name" in ref:
            return ref["name"] == self.domain
        return False

    def _catalog(self, base_url: str) -> list[dict[str, Any]]:
        endpoints = []
        for interface in ("public", "internal", "admin"):
            endpoints.append(
                {
                    "id": uuid.uuid5(uuid.NAMESPACE_URL, f"apirun-test/endpoint/{interface}").hex,
                    "interface": interface,
                    "region": "RegionOne",
                    "region_id": "RegionOne",
                    "url": f"{base_url}/v3",
                }
            )
        compute = [
            {
                "id": uuid.uuid5(uuid.NAMESPACE_URL, "apirun-test/endpoint/compute").hex,
                "interface": "public",
                "region": "RegionOne",
                "region_id": "RegionOne",
                "url": f"{base_url}/compute/v2.1",
            }
        ]
        return [
            {
                "type": "identity",
                "name": "keystone",
                "id": IDENTITY_SERVICE_ID,
                "endpoints": endpoints,
            },
            {"type": "compute", "name": "nova", "id": COMPUTE_SERVICE_ID, "endpoints": compute},
        ]

    def _authenticate(self, identity: dict[str, Any]) -> tuple[str, list[str]]:
        """Return (user_id, methods) or raise _BadRequest (400/401)."""
        methods = identity.get("methods")
        if (
            not isinstance(methods, list)
            or not methods
            or not all(isinstance(m, str) for m in methods)
        ):
            raise _BadRequest(
                "Invalid input for field 'identity/methods': expected a non-empty list."
            )
        if "password" in methods:
            password_block = identity.get("password")
            user = password_block.get("user") if isinstance(password_block, dict) else None
            if not isinstance(user, dict):
                raise _BadRequest("Invalid input for field 'identity/password/user'.")
            password = user.get("password")
            if not isinstance(password, str):
                raise _BadRequest("Invalid input for field 'identity/password/user/password'.")
            with self._lock:
                if "id" in user:
                    record = self._users.get(user["id"]) if isinstance(user["id"], str) else None
                    domain_ok = True
                elif "name" in user:
                    if "domain" not in user:
                        raise _BadRequest("Expected a domain for a user identified by name.")
                    if not isinstance(user["domain"], dict) or not (
                        "id" in user["domain"] or "name" in user["domain"]
                    ):
                        raise _BadRequest(
                            "Invalid input for field 'identity/password/user/domain'."
                        )
                    domain_ok = self._domain_matches(user["domain"])
                    record = next(
                        (u for u in self._users.values() if u["name"] == user["name"]), None
                    )
                else:
                    raise _BadRequest("Expected 'id' or 'name' in identity/password/user.")
                if (
                    record is None
                    or not domain_ok
                    or record.get("domain_id") != self.domain_id
                    or not record.get("enabled", True)
                    or self._passwords.get(record["id"]) != password
                ):
                    raise _BadRequest(self.UNAUTHORIZED_MESSAGE, 401)
                return record["id"], ["password"]
        if "token" in methods:
            token_block = identity.get("token")
            token_id = token_block.get("id") if isinstance(token_block, dict) else None
            if not isinstance(token_id, str):
                raise _BadRequest("Invalid input for field 'identity/token/id'.")
            info = self._token_info(token_id)
            if info is None:
                raise _BadRequest(self.UNAUTHORIZED_MESSAGE, 401)
            return info["user_id"], [
                "token",
                *[m for m in info["token"]["methods"] if m != "token"],
            ]
        raise _BadRequest(self.UNAUTHORIZED_MESSAGE, 401)

    def _issue_token(self, req: _Request) -> _Response:
        try:
            doc = req.json_body()
            auth = doc.get("auth") if isinstance(doc, dict) else None
            if not isinstance(auth, dict):
                raise _BadRequest("Expecting to find auth in request body.")
            identity = auth.get("identity")
            if not isinstance(identity, dict):
                raise _BadRequest("Expecting to find identity in auth.")
            user_id, methods = self._authenticate(identity)
            scope = auth.get("scope")
            scope_part = self._resolve_scope(scope)
        except _BadRequest as exc:
            if exc.status == 401:
                return self._unauthorized(req)
            return _error(exc.status, exc.message)

        with self._lock:
            user = self._users[user_id]
            now = _now()
            token: dict[str, Any] = {
                "methods": methods,
                "user": {
                    "id": user["id"],
                    "name": user["name"],
                    "domain": self._domain_ref(),
                    "password_expires_at": None,
                },
                "audit_ids": [base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")],
                "expires_at": _iso(now + TOKEN_TTL),
                "issued_at": _iso(now),
            }
            if scope_part:
                token.update(scope_part)
                if user_id == ADMIN_ID:
                    roles = [
                        {"id": ADMIN_ROLE_ID, "name": "admin"},
                        {"id": MEMBER_ROLE_ID, "name": "member"},
                        {"id": READER_ROLE_ID, "name": "reader"},
                    ]
                else:
                    roles = [
                        {"id": MEMBER_ROLE_ID, "name": "member"},
                        {"id": READER_ROLE_ID, "name": "reader"},
                    ]
                token["roles"] = roles
            if "nocatalog" not in req.query:
                token["catalog"] = self._catalog(req.base_url)
            token_id = uuid.uuid4().hex
            self._tokens[token_id] = {"user_id": user_id, "token": token}
        return _json_response(201, {"token": token}, [("X-Subject-Token", token_id)])

    def _resolve_scope(self, scope: Any) -> dict[str, Any] | None:
        if scope is None or scope == "unscoped":
            return None
        if not isinstance(scope, dict):
            raise _BadRequest("Invalid input for field 'scope'.")
        if "project" in scope:
            project = scope["project"]
            if not isinstance(project, dict):
                raise _BadRequest("Invalid input for field 'scope/project'.")
            if "id" in project:
                ok = project["id"] == self.project_id
            elif "name" in project:
                if "domain" not in project:
                    raise _BadRequest("Expected a domain for a project identified by name.")
                ok = project["name"] == "admin" and self._domain_matches(project["domain"])
            else:
                raise _BadRequest("Expected 'id' or 'name' in scope/project.")
            if not ok:
                raise _BadRequest(self.UNAUTHORIZED_MESSAGE, 401)
            return {
                "project": {"id": self.project_id, "name": "admin", "domain": self._domain_ref()},
                "is_domain": False,
            }
        if "domain" in scope:
            if not self._domain_matches(scope["domain"]):
                raise _BadRequest(self.UNAUTHORIZED_MESSAGE, 401)
            return {"domain": self._domain_ref()}
        if "system" in scope:
            return {"system": {"all": True}}
        raise _BadRequest("Invalid input for field 'scope'.")

    def _validate_token(self, req: _Request) -> _Response:
        subject = req.headers.get("x-subject-token")
        info = self._token_info(subject)
        if info is None:
            return _error(404, f"Could not find token: {subject}.")
        return _json_response(200, {"token": info["token"]}, [("X-Subject-Token", subject or "")])

    def _revoke_token(self, req: _Request) -> _Response:
        subject = req.headers.get("x-subject-token")
        with self._lock:
            if not subject or subject not in self._tokens:
                return _error(404, f"Could not find token: {subject}.")
            del self._tokens[subject]
        return _Response(204)

    # users

    def _user_view(self, req: _Request, record: dict[str, Any]) -> dict[str, Any]:
        view = dict(record)
        view["links"] = {"self": f"{req.base_url}/v3/users/{record['id']}"}
        return view

    def _list_users(self, req: _Request) -> _Response:
        with self._lock:
            users = list(self._users.values())
        name = req.arg("name")
        if name is not None:
            users = [u for u in users if u["name"] == name]
        domain_id = req.arg("domain_id")
        if domain_id is not None:
            users = [u for u in users if u.get("domain_id") == domain_id]
        enabled = req.arg("enabled")
        if enabled is not None:
            want = enabled.lower() not in ("false", "0", "no", "")
            users = [u for u in users if bool(u.get("enabled", True)) == want]
        return _json_response(
            200,
            {
                "users": [self._user_view(req, u) for u in users],
                "links": {"self": f"{req.base_url}/v3/users", "next": None, "previous": None},
            },
        )

    @staticmethod
    def _user_payload(req: _Request) -> dict[str, Any]:
        doc = req.json_body()
        user = doc.get("user") if isinstance(doc, dict) else None
        if not isinstance(user, dict):
            raise _BadRequest("Expecting to find user in request body.")
        if "name" in user and (not isinstance(user["name"], str) or not user["name"].strip()):
            raise _BadRequest("Invalid input for field 'name': expected a non-empty string.")
        if "enabled" in user and not isinstance(user["enabled"], bool):
            raise _BadRequest("Invalid input for field 'enabled': expected a boolean.")
        if (
            "password" in user
            and user["password"] is not None
            and not isinstance(user["password"], str)
        ):
            raise _BadRequest("Invalid input for field 'password': expected a string.")
        if "domain_id" in user and not isinstance(user["domain_id"], str):
            raise _BadRequest("Invalid input for field 'domain_id': expected a string.")
        return user

    def _conflict(self, name: str, domain_id: str) -> _Response:
        return _error(
            409,
            f"Conflict occurred attempting to store user - Duplicate entry found with name "
            f"{name} at domain ID {domain_id}.",
        )

    def _create_user(self, req: _Request) -> _Response:
        try:
            payload = self._user_payload(req)
            if "name" not in payload:
                raise _BadRequest("Invalid input for field 'name': 'name' is a required property.")
        except _BadRequest as exc:
            return _error(exc.status, exc.message)
        fields = {k: v for k, v in payload.items() if k not in ("id", "password", "links")}
        with self._lock:
            domain_id = fields.get("domain_id", self.domain_id)
            if any(
                u["name"] == fields["name"] and u.get("domain_id") == domain_id
                for u in self._users.values()
            ):
                return self._conflict(fields["name"], domain_id)
            user_id = uuid.uuid4().hex
            record = self._new_user_record(user_id, fields.pop("name"))
            record.update(fields)
            self._users[user_id] = record
            if isinstance(payload.get("password"), str):
                self._passwords[user_id] = payload["password"]
            view = self._user_view(req, record)
        return _json_response(201, {"user": view})

    def _not_found_user(self, user_id: str) -> _Response:
        return _error(404, f"Could not find user: {user_id}.")

    def _get_user(self, req: _Request, user_id: str) -> _Response:
        with self._lock:
            record = self._users.get(user_id)
            if record is None:
                return self._not_found_user(user_id)
            return _json_response(200, {"user": self._user_view(req, record)})

    def _update_user(self, req: _Request, user_id: str) -> _Response:
        try:
            payload = self._user_payload(req)
        except _BadRequest as exc:
            return _error(exc.status, exc.message)
        with self._lock:
            record = self._users.get(user_id)
            if record is None:
                return self._not_found_user(user_id)
            if "id" in payload and payload["id"] != user_id:
                return _error(400, "Cannot change user ID.")
            fields = {k: v for k, v in payload.items() if k not in ("id", "password", "links")}
            new_name = fields.get("name", record["name"])
            domain_id = fields.get("domain_id", record.get("domain_id"))
            if any(
                u["id"] != user_id and u["name"] == new_name and u.get("domain_id") == domain_id
                for u in self._users.values()
            ):
                return self._conflict(new_name, domain_id)
            record.update(fields)
            if "password" in payload:
                if isinstance(payload["password"], str):
                    self._passwords[user_id] = payload["password"]
                else:
                    self._passwords.pop(user_id, None)
            return _json_response(200, {"user": self._user_view(req, record)})

    def _delete_user(self, req: _Request, user_id: str) -> _Response:
        with self._lock:
            if user_id not in self._users:
                return self._not_found_user(user_id)
            del self._users[user_id]
            self._passwords.pop(user_id, None)
        return _Response(204)


# --------------------------------------------------------------------------
# Serving: threaded wsgiref server, HTTP/1.1 keep-alive
# --------------------------------------------------------------------------


class _ServerHandler(ServerHandler):
    """wsgiref handler that answers HTTP/1.1 and keeps framing correct."""

    http_version = "1.1"
    os_environ: dict[str, str] = {}  # don't copy the process environment into requests

    def cleanup_headers(self) -> None:
        super().cleanup_headers()
        rh = self.request_handler
        code = int(self.status[:3])
        if code in (204, 304) or 100 <= code < 200:
            # No body allowed; wsgiref would otherwise add "Content-Length: 0".
            del self.headers["Content-Length"]
        elif "Content-Length" not in self.headers:
            rh.close_connection = True  # can't delimit the body any other way
        if self.environ is not None and self.environ.get("apirun.close_connection"):
            rh.close_connection = True
        if rh.close_connection:
            self.headers["Connection"] = "close"

    def handle_error(self) -> None:
        # A failed request may have left unread input or a half-sent response.
        self.request_handler.close_connection = True
        super().handle_error()


class _RequestHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds an idle keep-alive connection is kept open
    # wsgiref writes headers and body separately; with Nagle on, a keep-alive client then
    # waits ~40 ms for the delayed ACK on every request after the first.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if getattr(self.server, "log_requests", False):
            super().log_message(format, *args)

    def get_environ(self) -> dict[str, Any]:
        env = super().get_environ()
        env["apirun.raw_uri"] = self.path
        env["apirun.raw_headers"] = list(self.headers.items())
        return env

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection:
            self.handle_one_request()

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except OSError:  # includes timeouts and resets
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if len(self.raw_requestline) > 65536:
            self.requestline = ""
            self.request_version = ""
            self.command = ""
            self.send_error(414)
            self.close_connection = True
            return
        if not self.parse_request():  # an error response was already sent
            self.close_connection = True
            return
        if self.request_version != "HTTP/1.1":
            self.close_connection = True
        handler = _ServerHandler(
            self.rfile,
            self.wfile,
            self.get_stderr(),
            self.get_environ(),
            multithread=True,
        )
        handler.request_handler = self
        handler.run(self.server.get_app())
        try:
            self.wfile.flush()
        except OSError:
            self.close_connection = True


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive threads must not block stop()
    log_requests = False

    def __init__(self, server_address: tuple[str, int], handler: type = _RequestHandler):
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(server_address, handler)

    def server_bind(self) -> None:
        # Skip HTTPServer.server_bind's socket.getfqdn() (a DNS lookup).
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = host
        self.server_port = port
        self.setup_environ()

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


def _make_httpd(
    app: Callable[..., Any], port: int = 0, host: str = LOOPBACK
) -> _ThreadingWSGIServer:
    if not host.startswith("127."):
        raise ValueError(f"the test server binds loopback addresses only, not {host}")
    httpd = _ThreadingWSGIServer((host, port), _RequestHandler)
    httpd.set_app(app)
    return httpd


class ServerThread(threading.Thread):
    """Serves a WSGI app on 127.0.0.1 from a daemon thread.

    ``url`` ("http://127.0.0.1:PORT"), ``host``, ``port``, ``app``; ``stop()``.
    The socket is listening as soon as the object is constructed.
    Usable as a context manager (starts on enter if needed, stops on exit).
    """

    def __init__(self, app: Callable[..., Any], port: int = 0, host: str = LOOPBACK):
        super().__init__(name="apirun-test-server", daemon=True)
        self.app = app
        self.httpd = _make_httpd(app, port, host)
        self.host: str = host
        self.port: int = self.httpd.server_address[1]
        self.url = f"http://{self.host}:{self.port}"
        self._stopped = False

    def run(self) -> None:
        self.httpd.serve_forever(poll_interval=0.1)

    def stop(self, timeout: float = 5.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.is_alive():
            self.httpd.shutdown()
        self.httpd.close_connections()
        self.httpd.server_close()
        if self.is_alive():
            self.join(timeout)

    def __enter__(self) -> ServerThread:
        if not self.is_alive() and not self._stopped:
            self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<ServerThread {self.url}>"


def start_server(
    app: Callable[..., Any] | None = None, port: int = 0, host: str = LOOPBACK
) -> ServerThread:
    """Start serving ``app`` (default: a new FakeKeystone) on 127.0.0.1 (or another
    loopback address: a second origin for the redirect tests)."""
    server = ServerThread(app if app is not None else FakeKeystone(), port=port, host=host)
    server.start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="apirun fake Keystone test server (127.0.0.1 only)"
    )
    parser.add_argument(
        "--port", type=int, default=5000, help="port to listen on (0 = any free port)"
    )
    parser.add_argument("--user", default="admin", help="valid user name (default: admin)")
    parser.add_argument("--password", default="000000", help="valid password (default: 000000)")
    parser.add_argument("--domain", default="demo", help="valid domain name (default: demo)")
    parser.add_argument("--log", action="store_true", help="log each request to stderr")
    args = parser.parse_args(argv)

    app = FakeKeystone(args.user, args.password, args.domain)
    httpd = _make_httpd(app, args.port)
    httpd.log_requests = args.log
    port = httpd.server_address[1]
    print(
        f"FakeKeystone serving on http://{LOOPBACK}:{port}  (Keystone at http://{LOOPBACK}:{port}/v3)"
    )
    print(f"credentials: user={args.user!r} password={args.password!r} domain={args.domain!r}")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        httpd.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
    finally:
        httpd.close_connections()
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
