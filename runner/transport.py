"""The only module that talks to the network (and the only one that imports requests).

One Transport per spec file: one requests.Session, so connections and cookies are reused.
Every way a request can fail without a response becomes a TransportError with one line
that says what happened, never a traceback.
"""

from __future__ import annotations

import codecs
import contextlib
import email.parser
import http.client
import os
import re
import ssl
import time
import types
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, BinaryIO
from urllib.parse import urljoin, urlsplit

import requests
from requests import exceptions as rx
from requests.adapters import HTTPAdapter
from requests.cookies import extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from requests.utils import (
    check_header_validity,
    get_auth_from_url,
    get_encoding_from_headers,
    get_environ_proxies,
    get_netrc_auth,
    requote_uri,
    rewind_body,
)
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ReadTimeoutError

from .deadline import Deadline, watch_connection
from .errors import TransportError
from .messages import Headers, Hop, HttpRequest, Response, SentRequest
from .model import DEFAULT_MAX_BODY_MB, ClientCert, Upload

_CHARSET = re.compile(r"charset\s*=\s*\"?([\w.:-]+)", re.IGNORECASE)
_ERRNO_REASON = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")
USER_AGENT = "apirun"
_READ_CHUNK = 64 * 1024
MIB = 1024 * 1024
MAX_REDIRECTS = 30
_DEFAULT_PORTS = {"http": 80, "https": 443}
# What a redirect that turns the request into a GET leaves out with the body.
_BODY_HEADERS = ("Content-Length", "Content-Type", "Transfer-Encoding")


# -- response headers, parsed as http.client does, without the email parser for plain ones ------

# A header line as http.client's email parser reads it without further ado: a name of visible
# characters, a colon, a value without CR, one line ending. Anything else (continuation lines,
# "From " lines, stray CRs, a missing blank line) goes to the email parser itself.
_PLAIN_HEADER_LINE = re.compile(r"[\x21-\x39\x3b-\x7e]+:[^\r\n]*\r?\n\Z")
_read_header_lines = getattr(http.client, "_read_headers", None)


def _parse_headers(fp: Any, _class: type = http.client.HTTPMessage) -> Any:
    """http.client.parse_headers, with the same message as its result.

    http.client hands the header block to the email package's feed parser (a third of the
    CPU a small response costs). For a block of plain ``Name: value`` lines that parser
    does nothing but split each line at its first colon (compat32: the value without its
    leading blanks and line ending), set an empty payload, and find no defect: here it is
    done directly. A block with anything else, or whose Content-Type makes the parser look
    inside the (empty) body (multipart/*, message/*), is parsed by the email package."""
    lines = _read_header_lines(fp)  # type: ignore[misc]  # only installed when it exists
    if lines[-1] in (b"\r\n", b"\n"):
        message = _class()
        for line in lines[:-1]:
            text = line.decode("iso-8859-1")
            if not _PLAIN_HEADER_LINE.match(text):
                break
            name, _, value = text.partition(":")
            message._headers.append((name, value.lstrip(" \t").rstrip("\r\n")))
        else:
            if message.get_content_maintype() not in ("multipart", "message"):
                message.set_payload("")
                return message
    text = b"".join(lines).decode("iso-8859-1")
    return email.parser.Parser(_class=_class).parsestr(text)


class _Response(http.client.HTTPResponse):
    """http.client's response, reading its headers with _parse_headers: its own ``begin``,
    run with that one name of its module replaced."""

    if _read_header_lines is not None:
        begin = types.FunctionType(
            http.client.HTTPResponse.begin.__code__,
            {**vars(http.client), "parse_headers": _parse_headers},
            "begin",
            http.client.HTTPResponse.begin.__defaults__,
            http.client.HTTPResponse.begin.__closure__,
        )


# -- connections that answer to the request's deadline -----------------------------------------


class _WatchedHTTPConnection(HTTPConnection):
    """A connection whose socket the deadline watchdog can shut (runner/deadline.py)."""

    response_class = _Response

    def connect(self) -> None:
        watch_connection(self)
        super().connect()

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        self.watched_sock = self.sock  # "Connection: close" drops .sock, not the body's
        return super().getresponse(*args, **kwargs)

    def request(self, *args: Any, **kwargs: Any) -> None:
        watch_connection(self)  # a kept-alive connection does not connect again
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    """The same watch over TLS: the methods above run first, then HTTPSConnection's."""


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _UnverifiedHTTPSPool(_HTTPSPool):
    """For a spec that says ``verify: false``: no InsecureRequestWarning on each request.

    The warning is silenced here, for the pools of that spec's session only, rather than by
    a process-wide warnings filter that would hide it from every other spec and from a
    pytest session too."""

    def _validate_conn(self, conn: Any) -> None:
        HTTPConnectionPool._validate_conn(self, conn)
        if conn.is_closed:
            conn.connect()


class _Adapter(HTTPAdapter):
    """requests' adapter with apirun's pools, and one SSL context per TLS setting.

    Given ``verify: false``, a CA bundle or a client certificate, urllib3 builds a new SSL
    context for every new connection and loads the system CA store, the bundle or the
    certificate into it again (25-65 ms each with ``verify: false``). The contexts are built
    here once, with what they need loaded, and handed to the pools; ``verify: true`` without a
    certificate is left to requests, which already shares one preloaded context."""

    def __init__(self, verified: bool):
        https = _HTTPSPool if verified else _UnverifiedHTTPSPool
        self._pools = {"http": _HTTPPool, "https": https}
        self._contexts: dict[tuple[Any, Any], ssl.SSLContext] = {}
        # What requests works out again for every request, kept: the pool for an origin
        # and TLS setting, and the request line's target for a URL.
        self._connections: dict[tuple[Any, ...], Any] = {}
        self._targets: dict[tuple[str, Any], str] = {}
        super().__init__()

    def get_connection_with_tls_context(
        self, request: Any, verify: Any, proxies: Any = None, cert: Any = None
    ) -> Any:
        """requests' pool for the request, found once per origin, TLS setting and proxy
        (parsing the URL and normalising the pool key cost more than the lookup). A pool
        that was closed since (the pool manager let it go) is looked up again."""
        url = request.url or ""
        key = (_origin_key(url), verify, cert, _proxy_key(proxies))
        pool = self._connections.get(key)
        if pool is None or pool.pool is None:
            pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
            if len(self._connections) >= _CACHED:
                self._connections.clear()
            self._connections[key] = pool
        return pool

    def request_url(self, request: Any, proxies: Any) -> str:
        """The request line's target (the path, or the whole URL through a proxy), once
        per URL and proxy setting."""
        key = (request.url or "", _proxy_key(proxies))
        target = self._targets.get(key)
        if target is None:
            target = super().request_url(request, proxies)
            if len(self._targets) >= _CACHED:
                self._targets.clear()
            self._targets[key] = target
        return target

    def build_response(self, req: Any, resp: Any) -> requests.Response:
        """requests' build_response, without reading cookies from an answer that sets none
        (extracting them walks the headers through http.cookiejar's mocks)."""
        response = requests.Response()
        response.status_code = getattr(resp, "status", None)  # type: ignore[assignment]
        response.headers = CaseInsensitiveDict(getattr(resp, "headers", {}))
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url.decode("utf-8") if isinstance(req.url, bytes) else req.url
        if _sets_cookies(response.headers):
            extract_cookies_to_jar(response.cookies, req, resp)
        response.request = req
        response.connection = self
        return response

    @staticmethod
    def _own_context(url: str, verify: Any, cert: Any) -> bool:
        return url.lower().startswith("https:") and (verify is not True or bool(cert))

    def build_connection_pool_key_attributes(
        self, request: Any, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        if self._own_context(request.url, verify, cert):
            context = self._context(verify, cert)
            pool_kwargs = {"cert_reqs": pool_kwargs["cert_reqs"], "ssl_context": context}
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        if not self._own_context(url, verify, cert):
            super().cert_verify(conn, url, verify, cert)
            return
        # The pool's context holds the CA and the certificate: nothing to load per connection.
        conn.cert_reqs = "CERT_REQUIRED" if verify else "CERT_NONE"
        conn.ca_certs = conn.ca_cert_dir = conn.cert_file = conn.key_file = None

    def _context(self, verify: Any, cert: Any) -> ssl.SSLContext:
        key = (verify, cert if isinstance(cert, str | None) else tuple(cert))
        found = self._contexts.get(key)
        if found is None:
            from requests.utils import DEFAULT_CA_BUNDLE_PATH
            from urllib3.util.ssl_ import create_urllib3_context

            found = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED if verify else ssl.CERT_NONE)
            try:
                if verify:
                    where = DEFAULT_CA_BUNDLE_PATH if verify is True else verify
                    if os.path.isdir(where):
                        found.load_verify_locations(capath=where)
                    else:
                        found.load_verify_locations(cafile=where)
                if cert:
                    certfile, keyfile = (cert, None) if isinstance(cert, str) else cert
                    found.load_cert_chain(certfile, keyfile)
            except (ssl.SSLError, OSError) as exc:  # said as a TLS failure of the step
                raise rx.SSLError(exc) from None
            self._contexts[key] = found
        return found

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = self._pools
        return manager


class Transport:
    """One session per spec file, with the environment's settings resolved once.

    requests re-reads proxies, NO_PROXY, .netrc and the CA bundle variables from the
    environment on every request (Session.merge_environment_settings), which is a large
    share of its per-request cost. We turn that off (trust_env = False) and resolve the same
    settings ourselves, once per session and origin, with the same meaning.

    Redirects are followed here, not by requests, because its rule for them is too lax for
    credentials: it drops only Authorization and Cookie on the way to another host, and
    re-sends every other header (X-Auth-Token…) and, with 307/308, the body.
    """

    def __init__(
        self,
        verify: bool | str = True,
        max_body_mb: float = DEFAULT_MAX_BODY_MB,
        adapters: Mapping[str, requests.adapters.BaseAdapter] | None = None,
        cert: ClientCert | None = None,
    ):
        self._max_body = int(max_body_mb * MIB)
        self._cert = cert  # the file's client certificate; a step's own wins
        self._session = requests.Session()
        for prefix, adapter in (adapters or {}).items():  # an in-process app (runner/wsgi.py)
            self._session.mount(prefix, adapter)
        self._session.trust_env = False
        self._session.headers["User-Agent"] = USER_AGENT
        if verify is True:  # as requests does: the environment names the CA bundle
            verify = (
                os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            )
        self._adapter = _Adapter(verified=verify is not False)
        self._session.mount("http://", self._adapter)
        self._session.mount("https://", self._adapter)
        self._session.verify = verify
        self._origins: dict[str, tuple[dict[str, str], Any]] = {}

    def _origin_settings(self, url: str) -> tuple[dict[str, str], Any]:
        """Proxies (honouring NO_PROXY) and .netrc credentials for a scheme and host."""
        key = _origin_key(url)
        settings = self._origins.get(key)
        if settings is None:
            settings = (get_environ_proxies(url), get_netrc_auth(url))
            self._origins[key] = settings
        return settings

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send(self, request: HttpRequest) -> tuple[SentRequest, Response]:
        started = time.perf_counter()
        deadline = Deadline(request.timeout)
        try:
            with deadline, contextlib.ExitStack() as files:  # a file body streams
                first = self._prepare(request, self._netrc(request.url, request.headers), files)
                raw, hops, cookies = self._follow(request, first)
                deadline.in_body = True
                content = self._read_body(raw, raw.url)  # here, so a broken body fails here
        except TransportError:
            if deadline.fired:
                raise TransportError(_whole_timeout(request, deadline)) from None
            raise
        except rx.RequestException as exc:
            if deadline.fired:
                raise TransportError(_whole_timeout(request, deadline)) from None
            raise TransportError(_describe_safely(exc, request)) from None
        except OSError as exc:  # a CA bundle that cannot be read (REQUESTS_CA_BUNDLE, …)
            if deadline.fired:
                raise TransportError(_whole_timeout(request, deadline)) from None
            raise TransportError(f"request to {request.url} failed: {exc}") from None
        except UnicodeEncodeError as exc:  # http.client sends header values as Latin-1
            raise TransportError(
                f"cannot send the request to {request.url}: {exc.object[exc.start : exc.end]!r} "
                "cannot be sent in a header (HTTP headers carry Latin-1 text only)"
            ) from None
        except ValueError as exc:
            raise TransportError(f"cannot send the request to {request.url}: {exc}") from None
        if deadline.fired:  # the socket was shut under a body read to its end: cut short
            raise TransportError(_whole_timeout(request, deadline))
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        return _as_sent(first, request.file), _response(raw, content, elapsed_ms, hops, cookies)

    def _netrc(self, url: str, headers: Any) -> Any:
        """.netrc credentials for the URL's host, unless the request has its own."""
        netrc_auth = self._origin_settings(url)[1]
        if netrc_auth and not any(k.lower() == "authorization" for k in headers):
            return netrc_auth  # unlike requests, never over the spec's own header
        return None

    def _send_one(
        self, prepared: requests.PreparedRequest, request: HttpRequest
    ) -> requests.Response:
        """One exchange, no redirects (what Session.send does, minus its redirect machinery,
        which reads a 3xx body without a limit)."""
        url = prepared.url or ""
        raw = self._session.get_adapter(url).send(
            prepared,
            stream=True,
            timeout=request.timeout,
            verify=self._session.verify,
            cert=_cert(request.cert or self._cert),
            proxies=self._origin_settings(url)[0],
        )
        if _sets_cookies(raw.headers):
            extract_cookies_to_jar(self._session.cookies, prepared, raw.raw)
        return raw

    def _follow(
        self, request: HttpRequest, prepared: requests.PreparedRequest
    ) -> tuple[requests.Response, tuple[Hop, ...], dict[str, str]]:
        """Send, and follow redirects when asked: the final response, the hops to it and the
        cookies they set."""
        raw = self._send_one(prepared, request)
        hops: list[Hop] = []
        cookies: dict[str, str] = {}
        while request.follow_redirects and raw.is_redirect:
            location = self._session.get_redirect_target(raw) or ""
            target = _redirect_url(prepared.url or "", location)
            if len(hops) >= MAX_REDIRECTS:
                raw.close()
                raise TransportError(
                    f"too many redirects from {request.url} (more than {MAX_REDIRECTS})"
                )
            following, dropped = self._redirected(request, prepared, raw.status_code, target)
            hops.append(Hop(raw.status_code, prepared.url or "", location, dropped))
            if following is None:  # not followed: the step sees the 3xx itself
                break
            self._read_body(raw, prepared.url or "")  # frees the connection for the next hop
            if "set-cookie" in raw.headers:
                cookies.update(_cookie_values(raw))
            prepared = following
            raw = self._send_one(prepared, request)
        return raw, tuple(hops), cookies

    def _redirected(
        self, request: HttpRequest, previous: requests.PreparedRequest, status: int, target: str
    ) -> tuple[requests.PreparedRequest | None, str]:
        """The request a redirect asks for, and what was left out of it.

        Same origin (scheme, host, port): the same request, with the method and body
        changes HTTP asks for (303, and 301/302 after a POST, become a GET without a body).
        Another origin: apirun's own headers only — no header the spec set, no credential,
        no cookie, no body; a 307/308 there, which would have to re-send the body, is not
        followed.
        """
        method = previous.method or "GET"
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            method = "GET"
        keeps_body = status in (307, 308)
        if _origin(previous.url or "") == _origin(target):
            following = previous.copy()
            following.prepare_url(target, None)
            following.method = method
            headers = following.headers
            if not keeps_body:
                following.body = None
                for name in _BODY_HEADERS:
                    headers.pop(name, None)
            elif getattr(following, "_body_position", None) is not None:
                rewind_body(following)  # a file body, streamed once already
            if not any(k.lower() == "cookie" for k in request.headers):
                headers.pop("Cookie", None)  # the jar again: the 3xx may have set one
                following.prepare_cookies(self._session.cookies)
            return following, ""
        if keeps_body and previous.body:
            return None, (
                f"not followed: a {status} to another origin would re-send the request body"
            )
        following = requests.PreparedRequest()
        following.prepare(
            method=method,
            url=target,
            headers=CaseInsensitiveDict(self._session.headers),
            auth=self._netrc(target, {}),
            hooks=self._session.hooks,
        )
        return following, (
            "to another origin: sent without the spec's headers, credentials, cookies or body"
        )

    def _prepare(
        self, request: HttpRequest, auth: Any, files: contextlib.ExitStack
    ) -> requests.PreparedRequest:
        """What Session.request does before sending, without its generic merging of
        settings (a tenth of its per-request cost): session headers under ours, the cookie
        jar, the body."""
        headers: CaseInsensitiveDict[str | bytes] = CaseInsensitiveDict(self._session.headers)
        headers.update(request.headers)
        data: Any = None
        if request.file is not None:
            data = files.enter_context(open(request.file, "rb"))  # noqa: SIM115
        elif request.data is not None:
            data = request.data
        elif request.form is not None:
            data = request.form
        parts = [
            (part.field, _file_part(part, files.enter_context(open(part.path, "rb"))))  # noqa: SIM115
            for part in request.files
        ]
        # PreparedRequest.prepare, step by step, without the work whose result is known: the
        # URL prepared once per URL and query, each header checked once per name and value,
        # no cookie header looked for in an empty jar, no hooks to add (the session has none).
        prepared = requests.PreparedRequest()
        prepared.prepare_method(request.method)
        prepared.url = _prepared_url(request.url, tuple(request.params))
        _check_headers(headers)
        prepared.headers = headers
        jar = self._session.cookies
        if len(jar):
            prepared.prepare_cookies(jar)
        else:
            prepared._cookies = jar
        prepared.prepare_body(data, parts or None, request.json if request.has_json else None)
        if auth is not None or _url_has_auth(prepared.url):
            prepared.prepare_auth(auth, request.url)
        if any(self._session.hooks.values()):
            prepared.prepare_hooks(self._session.hooks)
        return prepared

    def _read_body(self, raw: requests.Response, url: str) -> bytes:
        """The whole body, but never more than the limit: memory stays bounded whatever the
        server sends (a body declared too large is not read at all)."""
        limit = self._max_body
        declared = raw.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raw.close()
            raise TransportError(
                f"the response from {url} has a body of {_mib(int(declared))}, more than the "
                f"{_mib(limit)} apirun reads (defaults.max_body_mb); not read"
            )
        chunks, size = [], 0
        for chunk in raw.iter_content(_READ_CHUNK):
            size += len(chunk)
            if size > limit:
                raw.close()
                raise TransportError(
                    f"the response body from {url} is larger than the {_mib(limit)} apirun "
                    "reads (defaults.max_body_mb); stopped reading"
                )
            chunks.append(chunk)
        return b"".join(chunks)


_CACHED = 512  # entries in each of the caches below, emptied when full
_VALID_HEADERS: set[tuple[Any, Any]] = set()


def _origin_key(url: str) -> str:
    """The URL up to the path after its authority: two URLs with the same key have the same
    scheme and host (a key finer than the origin, found without parsing the URL)."""
    start = url.find("//")
    end = url.find("/", start + 2) if start >= 0 else -1
    return url if end < 0 else url[:end]


def _proxy_key(proxies: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(proxies.items()) if proxies else ()


@lru_cache(maxsize=_CACHED)
def _prepared_url(url: str, params: tuple[tuple[str, str], ...]) -> str:
    """requests' prepare_url (IDNA, quoting, the query), a function of the URL and query
    alone; a URL it refuses raises each time, as it did."""
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, list(params) or None)
    return prepared.url or ""


@lru_cache(maxsize=_CACHED)
def _url_has_auth(url: str) -> bool:
    """Credentials in the URL itself (http://user:pass@host), which requests sends."""
    return any(get_auth_from_url(url))


def _check_headers(headers: CaseInsensitiveDict) -> None:
    """requests' check of each header's name and value, once per name and value."""
    for header in headers.items():
        if header not in _VALID_HEADERS:
            check_header_validity(header)
            if len(_VALID_HEADERS) >= 4 * _CACHED:
                _VALID_HEADERS.clear()
            _VALID_HEADERS.add(header)


def _sets_cookies(headers: Any) -> bool:
    """Whether an answer sets cookies (http.cookiejar reads Set-Cookie and Set-Cookie2)."""
    return "set-cookie" in headers or "set-cookie2" in headers


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def _redirect_url(current: str, location: str) -> str:
    """Where a Location points, as requests resolves it (relative, //host, fragments)."""
    if location.startswith("//"):
        location = f"{urlsplit(current).scheme}:{location}"
    target = location if urlsplit(location).netloc else urljoin(current, requote_uri(location))
    if not urlsplit(target).fragment and urlsplit(current).fragment:
        target += "#" + urlsplit(current).fragment
    return requote_uri(target)


def _whole_timeout(request: HttpRequest, deadline: Deadline) -> str:
    if not deadline.in_body:
        return f"timed out: no response within {request.timeout:g} s from {request.url}"
    return _body_timeout(request)


def _body_timeout(request: HttpRequest) -> str:
    """A body that stalls and one that trickles are the same failure: one message."""
    return (
        f"timed out: the response body from {request.url} was not complete within "
        f"{request.timeout:g} s"
    )


def _mib(size: int) -> str:
    return f"{size / MIB:.3g} MiB"


def preview(request: HttpRequest) -> SentRequest:
    """What ``send`` would put on the wire, without sending it (``apirun run --dry-run``)."""
    with Transport() as transport, contextlib.ExitStack() as files:
        return _as_sent(transport._prepare(request, None, files), request.file)


def _cert(cert: ClientCert | None) -> str | tuple[str, str] | None:
    if cert is None:
        return None
    return cert.cert if cert.key is None else (cert.cert, cert.key)


def _file_part(part: Upload, opened: BinaryIO) -> tuple[str, BinaryIO] | tuple[str, BinaryIO, str]:
    """A multipart part as requests takes it: without a content type, requests guesses none."""
    if part.content_type is None:
        return part.filename, opened
    return part.filename, opened, part.content_type


def _header_text(value: str | bytes) -> str:
    """A header value requests holds as bytes, as it went on the wire."""
    return value if isinstance(value, str) else value.decode("latin-1")


def _cookie_values(raw: requests.Response) -> dict[str, str]:
    """The cookies an answer set; one set without a value (``Set-Cookie: flag``) is empty."""
    return {name: value or "" for name, value in raw.cookies.get_dict().items()}


def _as_sent(first: requests.PreparedRequest, body_file: str | None = None) -> SentRequest:
    body = first.body
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes | None):  # a file, streamed: reports name it instead
        body = None
    return SentRequest(
        method=first.method or "",
        url=first.url or "",
        headers=Headers([(name, _header_text(value)) for name, value in first.headers.items()]),
        body=body,
        body_file=body_file,
    )


def _response(
    raw: requests.Response,
    content: bytes,
    elapsed_ms: float,
    hops: tuple[Hop, ...],
    cookies: dict[str, str],
) -> Response:
    header_source = getattr(raw.raw, "headers", None) or raw.headers
    headers = Headers([(str(k), str(v)) for k, v in header_source.items()])
    if "set-cookie" in raw.headers:  # get_dict() is not free; most answers set none
        cookies = {**cookies, **_cookie_values(raw)}
    return Response(
        status=raw.status_code,
        reason=raw.reason or "",
        url=raw.url,
        headers=headers,
        content=content,
        elapsed_ms=elapsed_ms,
        encoding=_encoding(headers.get("content-type")),
        cookies=cookies,
        history=hops,
    )


@lru_cache(maxsize=64)
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


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and those it wraps, outermost first: requests wraps urllib3, which wraps
    http.client and the socket, and only the innermost says what happened."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(found) < 10 and current not in found:
        found.append(current)
        inner = next((a for a in reversed(current.args) if isinstance(a, BaseException)), None)
        reason = getattr(current, "reason", None)
        current = inner or (reason if isinstance(reason, BaseException) else None)
    return found


def _cause(exc: BaseException, kind: type[BaseException] | tuple) -> Any:
    return next((c for c in _causes(exc) if isinstance(c, kind)), None)


def _broken_body(exc: BaseException) -> str:
    incomplete = _cause(exc, http.client.IncompleteRead)
    strerror = next(  # requests' own exceptions are OSErrors too, with nothing to say
        (c.strerror for c in _causes(exc) if isinstance(c, OSError) and c.strerror), None
    )
    if strerror is not None:
        return strerror
    if incomplete is not None:  # urllib3's counts bytes, http.client's keeps them
        read = incomplete.partial
        read = read if isinstance(read, int) else len(read)
        return f"it ended after {read} bytes, {incomplete.expected} more were announced"
    return _reason(exc)


def _describe_safely(exc: rx.RequestException, request: HttpRequest) -> str:
    """One line for any failure: a surprise inside the exceptions must not become a crash."""
    try:
        text = _describe(exc, request)
    except Exception:
        text = f"request to {request.url} failed: {type(exc).__name__}: {exc}"
    return " ".join(_SSL_SOURCE.sub("", text).split())


_SSL_SOURCE = re.compile(r"\s*\(_ssl\.c:\d+\)")


def _describe(exc: rx.RequestException, request: HttpRequest) -> str:
    url = request.url
    if isinstance(exc, rx.ConnectTimeout):
        return f"timed out after {request.timeout:g} s connecting to {url}"
    if isinstance(exc, rx.ReadTimeout | rx.Timeout):
        return f"timed out: no response within {request.timeout:g} s from {url}"
    if _cause(exc, ReadTimeoutError):  # requests calls it a ConnectionError once the body began
        return _body_timeout(request)
    if isinstance(exc, rx.SSLError):
        return f"TLS error with {url}: {_reason(exc)}"
    if isinstance(exc, rx.ContentDecodingError):
        inner = _causes(exc)[-1]
        return f"cannot decode the compressed response body from {url}: {inner}"
    if isinstance(exc, rx.ChunkedEncodingError):
        return f"the connection broke while reading the response body from {url}: " + (
            _broken_body(exc)
        )
    if isinstance(exc, rx.InvalidURL | rx.MissingSchema | rx.InvalidSchema | rx.URLRequired):
        return f"invalid URL {url!r}: {exc}"
    if _cause(exc, http.client.RemoteDisconnected):
        return f"the server closed the connection without answering: {url}"
    bad_line = _cause(exc, http.client.BadStatusLine)
    if bad_line is not None:
        return f"the answer from {url} is not HTTP: it starts {bad_line.line.strip()[:80]!r}"
    if isinstance(exc, rx.ConnectionError):
        return f"cannot connect to {url}: {_reason(exc)}"
    return f"request to {url} failed: {_reason(exc)}"
