"""The in-process target: a WSGI app answers the requests for base_url's host, no socket.

A requests transport adapter (``requests.adapters.BaseAdapter``), mounted on the file's
Session for the app's origin only: requests itself still prepares the request, keeps the
cookie jar, follows (or not) the redirects and decodes the body, so everything above the
wire behaves as over the network, and requests to any other host still go out through the
normal adapter. Why not a library: wsgi-intercept replaces http.client's connection classes
for the whole process (every thread, every Session; --jobs files and the network transport
with it), and requests-wsgi-adapter buffers the whole body and sets no cookies from it;
this file is the small part they would have given us.

The environ is the one PEP 3333 describes and wsgiref builds: PATH_INFO percent-decoded as
Latin-1, QUERY_STRING as sent, CONTENT_TYPE/CONTENT_LENGTH, HTTP_* headers (Host as
http.client would send it), SERVER_NAME/SERVER_PORT and wsgi.url_scheme from the origin.
The body is read from the app's iterable as the transport reads it, so a streamed body
streams and the body limit holds; the iterable's close() is called when it is done.
"""

from __future__ import annotations

import importlib
import inspect
import io
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email.message import Message
from http.client import HTTPMessage
from typing import Any
from urllib.parse import unquote, urlsplit

from requests import PreparedRequest
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.models import Response as RequestsResponse
from urllib3 import HTTPResponse
from urllib3._collections import HTTPHeaderDict

from .errors import ApirunError

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
DEFAULT_BASE_URL = "http://localhost"  # when the spec has no base_url: relative URLs still work
_DEFAULT_PORTS = {"http": "80", "https": "443"}


class AppError(ApirunError):
    """--app names something that cannot be imported or is not a WSGI app."""


@dataclass(frozen=True, slots=True)
class AppTarget:
    """``MODULE:NAME`` (a WSGI callable) or ``MODULE:NAME()`` (a factory returning one,
    called once per spec file, after the file's fixtures have started)."""

    text: str
    module: str
    name: str
    factory: bool

    def app(self) -> WSGIApp:
        """The WSGI callable: imported, then made by the factory when it is one."""
        found = _import(self)
        if self.factory:
            try:
                found = found()
            except Exception as exc:
                raise AppError(
                    f"--app {self.text}: the factory raised {type(exc).__name__}: {exc}"
                ) from None
        if not callable(found):
            raise AppError(f"--app {self.text}: {type(found).__name__} is not a WSGI callable")
        if _is_asgi(found):
            raise AppError(
                f"--app {self.text} is an ASGI app; apirun runs WSGI apps in-process: give a "
                "factory returning a2wsgi.ASGIMiddleware(app)"
            )
        return found

    def check(self) -> None:
        """Import the module and find the name now: a typo is a usage error before any run."""
        _import(self)


def parse_target(text: str) -> AppTarget:
    module, colon, name = text.strip().partition(":")
    factory = name.endswith("()")
    name = name[:-2] if factory else name
    if not colon or not module or not name.replace(".", "").replace("_", "").isalnum():
        raise AppError(
            f"--app takes MODULE:NAME or MODULE:NAME() (a factory), such as "
            f"myapp.wsgi:application, got {text!r}"
        )
    return AppTarget(text.strip(), module, name, factory)


def _import(target: AppTarget) -> Any:
    try:
        found: Any = importlib.import_module(target.module)
    except ImportError as exc:
        raise AppError(f"--app {target.text}: cannot import {target.module}: {exc}") from None
    except Exception as exc:
        raise AppError(
            f"--app {target.text}: importing {target.module} raised {type(exc).__name__}: {exc}"
        ) from None
    for part in target.name.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise AppError(f"--app {target.text}: {target.module} has no {target.name}") from None
    return found


def _is_asgi(app: Any) -> bool:
    call = app if inspect.isfunction(app) else getattr(app, "__call__", None)  # noqa: B004
    return inspect.iscoroutinefunction(call)


def origin_prefixes(base_url: str | None) -> list[str]:
    """The URL prefixes the app answers for: base_url's scheme and host, with and without
    its default port (requests picks an adapter by the longest prefix)."""
    parts = urlsplit(base_url or DEFAULT_BASE_URL)
    scheme = parts.scheme.lower() or "http"
    host = (parts.hostname or "localhost").lower()
    if ":" in host:
        host = f"[{host}]"
    port = str(parts.port) if parts.port else _DEFAULT_PORTS.get(scheme, "80")
    prefixes = [f"{scheme}://{host}:{port}/"]
    if port == _DEFAULT_PORTS.get(scheme):
        prefixes.append(f"{scheme}://{host}/")
    return prefixes


class WSGIAdapter(BaseAdapter):
    """Answers requests by calling a WSGI app in this thread."""

    def __init__(self, app: WSGIApp):
        super().__init__()
        self.app = app
        self._builder = HTTPAdapter()  # only for build_response: requests' own response wiring

    def send(
        self, request: PreparedRequest, stream: bool = False, *args: Any, **kwargs: Any
    ) -> RequestsResponse:
        environ = wsgi_environ(request)
        status, headers, body = self._call(environ)
        code_text, _, reason = status.partition(" ")
        code = int(code_text) if code_text.isdigit() else 500
        method = (request.method or "GET").upper()
        if method == "HEAD" or code in (204, 304) or 100 <= code < 200:
            body.close()
            body = _Body(iter(()), None)
        message = HTTPMessage()
        for name, value in headers:
            message[name] = value
        raw = HTTPResponse(
            body=io.BufferedReader(body, 64 * 1024),
            headers=HTTPHeaderDict(headers),
            status=code,
            version=11,
            version_string="HTTP/1.1",
            reason=reason,
            preload_content=False,
            decode_content=True,
            # urllib3 types this as http.client.HTTPResponse; it reads only what _Original has.
            original_response=_Original(message, body),  # type: ignore[arg-type]
            request_method=method,
            request_url=request.url,
        )
        return self._builder.build_response(request, raw)

    def _call(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], _Body]:
        """Run the app up to its first body chunk (start_response is called by then)."""
        started = _StartResponse()
        result: Any = None
        try:
            result = self.app(environ, started)
            chunks = iter(result)
            first = next(chunks, None)
            if started.status is None:
                raise RuntimeError("the app returned without calling start_response()")
        except Exception as exc:
            _close(result)
            plain = [("Content-Type", "text/plain; charset=utf-8")]
            return "500 Internal Server Error", plain, _error_body(exc)
        started.sent = True
        if isinstance(result, list | tuple) and len(result) == 1 and not started.written:
            _set_length(started.headers, len(result[0]))  # what wsgiref and others do
        pending = started.written  # write() after this point appends to the same list
        if first:
            pending.append(first)
        return started.status or "", started.headers, _Body(chunks, result, pending)

    def close(self) -> None:
        pass


class _StartResponse:
    """The start_response callable, keeping status, headers and what write() was given."""

    def __init__(self) -> None:
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.written: list[bytes] = []
        self.sent = False

    def __call__(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None and self.sent:
            raise exc_info[1].with_traceback(exc_info[2])
        if self.status is not None and exc_info is None:
            raise RuntimeError("start_response() called twice without exc_info")
        self.status = str(status)
        self.headers = [(str(k), str(v)) for k, v in headers]
        return self.written.append


class _Original:
    """The parts of an http.client response that requests and urllib3 read: ``msg`` (for
    cookies) and ``isclosed()``."""

    def __init__(self, msg: Message, body: _Body):
        self.msg = msg
        self._body = body

    def isclosed(self) -> bool:
        return self._body.closed

    def close(self) -> None:
        self._body.close()


class _Body(io.RawIOBase):
    """The app's iterable as a readable stream: chunks are produced only as they are read."""

    def __init__(self, chunks: Iterator[bytes], result: Any, pending: list[bytes] | None = None):
        self._chunks = chunks
        self._result = result
        self._pending = pending if pending is not None else []
        self._buffer = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer and not self._done:
            if self._pending:
                self._buffer = bytes(self._pending.pop(0))
                continue
            try:
                chunk = next(self._chunks, None)
            except Exception as exc:  # mid-body: what a server would show as a broken body
                self.close()
                raise OSError(0, f"the app raised {type(exc).__name__}: {exc}") from None
            if chunk is None:
                self.close()
            else:
                self._buffer = bytes(chunk)
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size

    def close(self) -> None:
        if not self._done:
            self._done = True
            _close(self._result)
        super().close()


def _set_length(headers: list[tuple[str, str]], size: int) -> None:
    if not any(name.lower() in ("content-length", "transfer-encoding") for name, _ in headers):
        headers.append(("Content-Length", str(size)))


def _close(result: Any) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()


def _error_body(exc: Exception) -> _Body:
    """A 500 as a server gives for an app that raised, with the traceback as its body (it is
    your own app, in your own process: the traceback is what you need to see)."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    text = f"500 Internal Server Error: the app raised {type(exc).__name__}: {exc}\n\n{text}"
    return _Body(iter([text.encode("utf-8")]), None)


def wsgi_environ(request: PreparedRequest) -> dict[str, Any]:
    """The environ a WSGI server builds for this request (PEP 3333, as wsgiref does)."""
    parts = urlsplit(request.url or "")
    scheme = parts.scheme.lower()
    port = str(parts.port) if parts.port else _DEFAULT_PORTS.get(scheme, "80")
    body = _body_bytes(request.body)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": (request.method or "GET").upper(),
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(parts.path or "/", "iso-8859-1"),
        "QUERY_STRING": parts.query,
        "SERVER_NAME": parts.hostname or "localhost",
        "SERVER_PORT": port,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": _host_header(parts.netloc.rpartition("@")[2], scheme),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,  # apirun --jobs calls it from several threads
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in request.headers.items():
        name, value = _text(raw_name), _text(raw_value)
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value
            continue
        if key == "TRANSFER_ENCODING":
            continue  # the body was read whole: it has a length now
        key = "HTTP_" + key
        environ[key] = f"{environ[key]},{value}" if key in environ and key != "HTTP_HOST" else value
    if body or "CONTENT_LENGTH" in environ or request.body is not None:
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("latin-1")


def _host_header(netloc: str, scheme: str) -> str:
    """Host as http.client sends it: the port only when it is not the scheme's default."""
    default = ":" + _DEFAULT_PORTS.get(scheme, "")
    return netloc[: -len(default)] if netloc.endswith(default) else netloc


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in body)


def adapters_for(target: AppTarget, base_url: str | None) -> dict[str, BaseAdapter]:
    """The adapters to mount on a file's Session: the app (made now, for this file) for
    base_url's origin (http://localhost when the spec has none)."""
    adapter = WSGIAdapter(target.app())
    return {prefix: adapter for prefix in origin_prefixes(base_url)}
