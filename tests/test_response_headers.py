"""Response headers are parsed without the email package when they are plain ``Name: value``
lines (runner/transport.py): the message must be the one http.client's own parser makes."""

from __future__ import annotations

import http.client
import io

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from runner.transport import _parse_headers, _Response

PIECES = st.sampled_from(
    [
        b"Content-Type",
        b"X-Token",
        b"From",
        b"From ",
        b" ",
        b"\t",
        b":",
        b": ",
        b"\r",
        b"\n",
        b"\r\n",
        b"a",
        b"\xe9",
        b"\x00",
        b"\x7f",
        b"text/plain",
        b"multipart/mixed; boundary=x",
        b"message/rfc822",
        b"message/delivery-status",
        b"Set-Cookie",
    ]
)
BLOCKS = st.tuples(st.lists(PIECES, max_size=16), st.booleans()).map(
    lambda parts: b"".join(parts[0]) + (b"\r\n\r\n" if parts[1] else b"")
)


def state(message):
    """Everything a parsed message holds, its sub-messages included."""
    payload = message._payload
    if isinstance(payload, list):
        payload = [state(part) for part in payload]
    return (
        type(message),
        message._headers,
        payload,
        [type(defect) for defect in message.defects],
        message._unixfrom,
        message.preamble,
        message.epilogue,
        message._default_type,
        message._charset,
        message.policy,
        sorted(vars(message)),
    )


@settings(max_examples=400, deadline=None)
@given(block=BLOCKS)
@example(block=b"Server: bench\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n")
@example(block=b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Empty:\r\nX-Blank: \t \r\n\r\n")
@example(block=b"X-Folded: a\r\n b\r\n\r\n")
@example(block=b"From me: x\r\nA: b\r\n\r\n")
@example(block=b"Content-Type: multipart/mixed; boundary=x\r\n\r\n")
@example(block=b"X: a\rb\r\n\r\n")
@example(block=b"A: b\nC: d\n\n")
@example(block=b"no colon here\r\nA: b\r\n\r\n")
@example(block=b"A: b\r\n")  # the connection ended before the blank line
def test_parsed_headers_are_http_clients(block):
    theirs, ours = io.BytesIO(block + b"body"), io.BytesIO(block + b"body")
    assert state(_parse_headers(ours)) == state(http.client.parse_headers(theirs))
    assert ours.read() == theirs.read()  # the body is left where it was


def test_the_limits_of_http_client_still_hold():
    with pytest.raises(http.client.LineTooLong):
        _parse_headers(io.BytesIO(b"X: " + b"a" * 70000 + b"\r\n\r\n"))
    with pytest.raises(http.client.HTTPException, match="more than 100 headers"):
        _parse_headers(io.BytesIO(b"X: a\r\n" * 101 + b"\r\n"))


def test_the_response_reads_status_headers_and_body():
    class Sock:
        def makefile(self, mode):
            return io.BytesIO(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
            )

    response = _Response(Sock())  # type: ignore[arg-type]
    response.begin()
    assert (response.status, response.reason, response.length) == (200, "OK", 2)
    assert response.msg.get_all("content-type") == ["application/json"]
    assert response.read() == b"{}"
