"""The only module that talks to the network (and the only one that imports requests).

One Transport per spec file: one requests.Session, so connections and cookies are reused.
Every way a request can fail without a response becomes a TransportError with one line
that says what happened, never a traceback.
"""

from __future__ import annotations

import codecs
import re
import time
from typing import Any

import requests
from requests import exceptions as rx

from .errors import TransportError
from .messages import Headers, HttpRequest, Response, SentRequest

_CHARSET = re.compile(r"charset\s*=\s*\"?([\w.:-]+)", re.IGNORECASE)
_ERRNO_REASON = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")
USER_AGENT = "apirun"


class Transport:
    def __init__(self, verify: bool | str = True):
        self._session = requests.Session()
        self._session.verify = verify
        self._session.headers["User-Agent"] = USER_AGENT

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send(self, request: HttpRequest) -> tuple[SentRequest, Response]:
        started = time.perf_counter()
        kwargs: dict[str, Any] = {
            "params": request.params or None,
            "headers": request.headers,
            "timeout": request.timeout,
            "allow_redirects": request.follow_redirects,
        }
        if request.has_json:
            kwargs["json"] = request.json
        elif request.data is not None:
            kwargs["data"] = request.data
        elif request.form is not None:
            kwargs["data"] = request.form
        try:
            raw = self._session.request(request.method, request.url, **kwargs)
            content = raw.content  # read the whole body here, so a broken body fails here
        except rx.RequestException as exc:
            raise TransportError(_describe(exc, request)) from None
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        return _sent(raw), _response(raw, content, elapsed_ms)


def _sent(raw: requests.Response) -> SentRequest:
    first = raw.history[0].request if raw.history else raw.request
    body = first.body
    if isinstance(body, str):
        body = body.encode("utf-8")
    return SentRequest(
        method=first.method or "",
        url=first.url or "",
        headers=Headers(list(first.headers.items())),
        body=body,
    )


def _response(raw: requests.Response, content: bytes, elapsed_ms: float) -> Response:
    header_source = getattr(raw.raw, "headers", None) or raw.headers
    headers = Headers([(str(k), str(v)) for k, v in header_source.items()])
    cookies: dict[str, str] = {}
    for response in (*raw.history, raw):
        cookies.update(response.cookies.get_dict())
    return Response(
        status=raw.status_code,
        reason=raw.reason or "",
        url=raw.url,
        headers=headers,
        content=content,
        elapsed_ms=elapsed_ms,
        encoding=_encoding(headers.get("content-type")),
        cookies=cookies,
        history=tuple(r.status_code for r in raw.history),
    )


def _encoding(content_type: str | None) -> str | None:
    match = _CHARSET.search(content_type or "")
    if not match:
        return None
    try:
        return codecs.lookup(match.group(1)).name
    except LookupError:
        return None


def _reason(exc: BaseException) -> str:
    match = _ERRNO_REASON.search(str(exc))
    if match:
        return match.group(1).strip()
    inner = exc.args[0] if exc.args else exc
    reason = getattr(inner, "reason", None)
    return str(reason or inner)


def _describe(exc: rx.RequestException, request: HttpRequest) -> str:
    url = request.url
    if isinstance(exc, rx.ConnectTimeout):
        return f"timed out after {request.timeout:g} s connecting to {url}"
    if isinstance(exc, rx.ReadTimeout | rx.Timeout):
        return f"timed out: no response within {request.timeout:g} s from {url}"
    if isinstance(exc, rx.SSLError):
        return f"TLS error with {url}: {_reason(exc)}"
    if isinstance(exc, rx.TooManyRedirects):
        return f"too many redirects from {url} (more than {requests.models.DEFAULT_REDIRECT_LIMIT})"
    if isinstance(exc, rx.ChunkedEncodingError | rx.ContentDecodingError):
        return f"the connection broke while reading the response body from {url}: {_reason(exc)}"
    if isinstance(exc, rx.InvalidURL | rx.MissingSchema | rx.InvalidSchema | rx.URLRequired):
        return f"invalid URL {url!r}: {exc}"
    if isinstance(exc, rx.ConnectionError):
        return f"cannot connect to {url}: {_reason(exc)}"
    return f"request to {url} failed: {_reason(exc)}"
