"""A misbehaving HTTP server on 127.0.0.1 for the fault tests, written on raw sockets so that it
can break the protocol the ways real servers and networks do.

One behaviour per path (see ``FaultServer.BEHAVIOURS``); each connection serves one request
and closes. Everything is bounded: request heads, bodies sent, sleeps and the threads, which
``stop()`` joins. With an ``ssl.SSLContext`` it speaks HTTPS (``tls_files`` makes a
self-signed certificate for 127.0.0.1 with the ``cryptography`` package).

Standard library only, apart from ``tls_files``.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

LOOPBACK = "127.0.0.1"
MAX_HEAD = 64 * 1024
MAX_SECONDS = 5.0
MAX_BYTES = 256 * 1024 * 1024
CHUNK = 64 * 1024
# What a hostile server sends to a terminal: erase the line and write a fake PASS over it
# (CSI 2K, CR), set the window title (OSC 0), write the clipboard (OSC 52), a backspace, a
# C1 CSI (U+009B: latin-1 in the head, UTF-8 in the body) and a bell.
TERMINAL_ATTACK = "\x1b[2K\rPASS\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\x08\x9b2J\x07"


class FaultServer:
    """``with FaultServer() as server: server.url + "/reset-mid-body"``."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.tls = tls
        self.paths: list[str] = []  # every request's path, in order
        self.body_bytes_sent: dict[str, int] = {}  # streamed bodies: how much got out
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._running = True
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{LOOPBACK}:{self.port}"

    def __enter__(self) -> FaultServer:
        self._accepter.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._running = False
        self._accepter.join(timeout=5)
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=MAX_SECONDS + 1)

    def _accept_loop(self) -> None:
        while self._running:
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, connection: socket.socket) -> None:
        connection.settimeout(MAX_SECONDS)
        try:
            if self.tls is not None:
                connection = self.tls.wrap_socket(connection, server_side=True)
            target = _read_head(connection)
            if target is None:
                return
            parts = urlsplit(target)
            self.paths.append(parts.path)
            behaviour = self.BEHAVIOURS.get(parts.path, FaultServer._not_found)
            behaviour(self, connection, parse_qs(parts.query))
        except (OSError, ssl.SSLError):
            pass  # the client went away, or refused our certificate: that is the point
        finally:
            connection.close()

    # -- behaviours ------------------------------------------------------------------------------

    def _ok(self, connection: socket.socket, query: dict) -> None:
        _respond(connection, 200, json.dumps({"ok": True}).encode(), "application/json")

    def _not_found(self, connection: socket.socket, query: dict) -> None:
        _respond(connection, 404, b'{"error": "no such fault"}', "application/json")

    def _close_before_response(self, connection: socket.socket, query: dict) -> None:
        return None  # read the request, answer nothing, close

    def _garbage(self, connection: socket.socket, query: dict) -> None:
        connection.sendall(b"THIS IS NOT HTTP\r\n\r\n")

    def _reset_mid_body(self, connection: socket.socket, query: dict) -> None:
        head = _head(200, "application/json", length=100_000)
        connection.sendall(head + b'{"users": [' + b'"x", ' * 200)
        time.sleep(0.05)
        # SO_LINGER with a zero timeout: close() sends a TCP reset, not an orderly FIN.
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _close_mid_body(self, connection: socket.socket, query: dict) -> None:
        connection.sendall(_head(200, "application/json", length=100_000) + b'{"users": [')

    def _stall_mid_body(self, connection: socket.socket, query: dict) -> None:
        seconds = min(float(query.get("seconds", ["2"])[0]), MAX_SECONDS)
        connection.sendall(_head(200, "application/json", length=100) + b'{"users": [')
        time.sleep(seconds)

    def _truncated_json(self, connection: socket.socket, query: dict) -> None:
        _respond(connection, 200, b'{"users": [{"name": "adm', "application/json")

    def _invalid_json(self, connection: socket.socket, query: dict) -> None:
        _respond(connection, 200, b'{"users": [1, 2,], }', "application/json")

    def _deep_json(self, connection: socket.socket, query: dict) -> None:
        depth = 100_000  # valid JSON, but deeper than any parser's stack
        _respond(connection, 200, b"[" * depth + b"]" * depth, "application/json")

    def _non_utf8(self, connection: socket.socket, query: dict) -> None:
        body = b"caf\xe9 au lait \xff\xfe\x80 -- the end\n"
        _respond(connection, 200, body, "text/plain; charset=utf-8")

    def _gzip_garbage(self, connection: socket.socket, query: dict) -> None:
        _respond(connection, 200, b"this was never gzip", "text/plain", ["Content-Encoding: gzip"])

    def _redirect_loop(self, connection: socket.socket, query: dict) -> None:
        _respond(connection, 302, b"", "text/plain", ["Location: /redirect-loop"])

    def _huge(self, connection: socket.socket, query: dict) -> None:
        """?mb=N: a body of N MiB, with Content-Length, or chunked (&chunked=1), streamed."""
        total = min(int(float(query.get("mb", ["1"])[0]) * 1024 * 1024), MAX_BYTES)
        chunked = query.get("chunked", ["0"])[0] == "1"
        key = f"/huge?mb={query.get('mb', ['1'])[0]}&chunked={int(chunked)}"
        self.body_bytes_sent[key] = 0
        head = _head(200, "text/plain", length=None if chunked else total)
        connection.sendall(head)
        block = b"x" * CHUNK
        while self.body_bytes_sent[key] < total:
            piece = block[: total - self.body_bytes_sent[key]]
            framed = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
            connection.sendall(framed)
            self.body_bytes_sent[key] += len(piece)
        if chunked:
            connection.sendall(b"0\r\n\r\n")

    def _trickle(self, connection: socket.socket, query: dict) -> None:
        """A 20-byte body, one byte every 0.25 s (5 s in all): no single read ever waits long,
        and only a timeout over the whole response stops it early."""
        connection.sendall(_head(200, "text/plain", length=20))
        for _ in range(20):
            time.sleep(0.25)
            connection.sendall(b"x")

    def _trickle_head(self, connection: socket.socket, query: dict) -> None:
        """The status line and headers, one byte every 0.1 s (about 5 s in all)."""
        head = _head(200, "text/plain", length=2)[:48]
        for byte in head:
            time.sleep(0.1)
            connection.sendall(bytes([byte]))

    def _redirect(self, connection: socket.socket, query: dict) -> None:
        """?to=URL&code=N: a redirect anywhere (the FakeKeystone's keeps to its own origin)."""
        code = int(query.get("code", ["302"])[0])
        target = query.get("to", ["/ok"])[0]
        _respond(connection, code, b"", "text/plain", [f"Location: {target}"])

    def _terminal_attack(self, connection: socket.socket, query: dict) -> None:
        """Escape sequences in the reason, a header, a cookie and the body (TERMINAL_ATTACK):
        erase the line and print a fake PASS, set the window title, write the clipboard."""
        attack = TERMINAL_ATTACK.encode("latin-1")
        head = (
            b"HTTP/1.1 500 Oops" + attack + b"\r\n"
            b"Content-Type: text/plain\r\nConnection: close\r\n"
            b"X-Evil: " + attack.replace(b"\r", b"") + b"\r\n"
            b"Set-Cookie: session=" + attack.replace(b"\r", b"").replace(b";", b"") + b"\r\n"
        )
        body = b"line one\tand a tab\n" + TERMINAL_ATTACK.encode() + b"\nthe end\n"
        connection.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)

    BEHAVIOURS: dict[str, Callable[[FaultServer, socket.socket, dict], None]] = {
        "/ok": _ok,
        "/close-before-response": _close_before_response,
        "/garbage": _garbage,
        "/reset-mid-body": _reset_mid_body,
        "/close-mid-body": _close_mid_body,
        "/stall-mid-body": _stall_mid_body,
        "/truncated-json": _truncated_json,
        "/invalid-json": _invalid_json,
        "/deep-json": _deep_json,
        "/non-utf8": _non_utf8,
        "/gzip-garbage": _gzip_garbage,
        "/redirect-loop": _redirect_loop,
        "/huge": _huge,
        "/trickle": _trickle,
        "/trickle-head": _trickle_head,
        "/redirect": _redirect,
        "/terminal-attack": _terminal_attack,
    }


def _read_head(connection: socket.socket) -> str | None:
    """The request target, once the whole head is in (the request body, if any, is ignored)."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = connection.recv(4096)
        if not piece or len(data) > MAX_HEAD:
            return None
        data += piece
    request_line = data.split(b"\r\n", 1)[0].decode("latin-1").split()
    return request_line[1] if len(request_line) == 3 else None


def _head(status: int, content_type: str, length: int | None, extra: list[str] = ()) -> bytes:
    lines = [f"HTTP/1.1 {status} Fault", f"Content-Type: {content_type}", "Connection: close"]
    lines.append(
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    )
    lines += list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _respond(
    connection: socket.socket, status: int, body: bytes, content_type: str, extra: list[str] = ()
) -> None:
    connection.sendall(_head(status, content_type, len(body), extra) + body)


# -- TLS ------------------------------------------------------------------------------------------


def tls_files(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and localhost) and its key, as PEM files.

    The certificate is its own CA (basicConstraints CA:TRUE), so the same file serves as the
    CA bundle a client trusts."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "apirun test server")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(LOOPBACK)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def tls_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context
