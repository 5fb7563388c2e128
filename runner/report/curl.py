"""Requests as curl commands: one line for ``-v``, a runnable bash script for ``--curl FILE``.

Pure functions of what was sent (SentRequest), as the keystoneauth ``REQ: curl -g -i``
lines OpenStack developers know. The script replays the same bytes: every header apirun
sent (curl's own defaults removed where apirun sent none), the body exactly — inline when
it is text, from a file beside the script (``--data-binary @file``) when it is binary or
multipart (the file keeps the multipart boundary the Content-Type header names). Secrets
are masked as ``***`` unless the caller passes ``secrets=None``.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..masking import mask, mask_header
from ..messages import SentRequest
from ..model import ClientCert
from ..results import FileResult, RunResult, StepResult
from .terminal import escape_controls

INLINE_LIMIT = 64 * 1024  # a larger body goes to a file beside the script
# Headers curl sends by itself; where apirun sent none, ``-H 'Name:'`` removes curl's.
_CURL_DEFAULTS = ("User-Agent", "Accept")


@dataclass(slots=True)
class CurlScript:
    """The script's text, and the bodies it reads from files (name → bytes), written first."""

    text: str
    bodies: dict[str, bytes] = field(default_factory=dict)


def curl_command(
    request: SentRequest,
    verify: bool | str = True,
    secrets: Iterable[str] | None = (),
    body_file: str | None = None,
    separator: str = " ",
    cert: ClientCert | None = None,
) -> str:
    """One curl command. ``body_file``: a shell word naming the file holding the body (then
    the body is not written inline). ``secrets`` None: nothing is masked."""
    hidden = None if secrets is None else tuple(secrets)
    words = ["curl -g -sS -i"]
    method, body = request.method.upper(), request.body
    if body_file is None and request.body_file is not None:  # streamed from the spec's file
        body_file = shell_quote(request.body_file)
    body = body or (b"file" if body_file is not None else None)
    if method == "HEAD":
        words.append("-I")
    elif not (method == "GET" and not body) and not (method == "POST" and body):
        words.append(f"-X {shlex.quote(method)}")  # curl picks GET or POST by itself
    if verify is False:
        words.append("-k")
    elif isinstance(verify, str):
        option = "--capath" if os.path.isdir(verify) else "--cacert"
        words.append(f"{option} {shlex.quote(verify)}")
    if cert is not None:
        words.append(f"--cert {shlex.quote(cert.cert)}")
        if cert.key is not None:
            words.append(f"--key {shlex.quote(cert.key)}")
    words.append(shell_quote(_masked(request.url, hidden)))
    names = {name.lower() for name, _ in request.headers}
    for name, value in request.headers:
        lower = name.lower()
        if lower == "host" or (lower == "content-length" and body):
            continue  # curl writes the same from the URL and the body
        shown = value if hidden is None else mask_header(name, value, hidden)
        # "Name:" would remove the header; "Name;" is curl's way to send it empty
        header = f"{name}: {shown}" if shown else f"{name};"
        words.append("-H " + shell_quote(header, "latin-1"))
    for name in _CURL_DEFAULTS:
        if name.lower() not in names:
            words.append(f"-H '{name}:'")
    if body:
        if "content-type" not in names:  # curl would add application/x-www-form-urlencoded
            words.append("-H 'Content-Type:'")
        if body_file is not None:
            words.append(f"--data-binary @{body_file}")
        else:
            text = body.decode("utf-8", "surrogateescape")
            words.append("--data-binary " + shell_quote(_masked(text, hidden)))
    return separator.join(words)


def needs_file(request: SentRequest) -> bool:
    """A body the script reads from a file: binary, multipart, NUL bytes or large."""
    body = request.body or b""
    if not body:
        return False
    content_type = request.headers.get("content-type") or ""
    if content_type.lower().startswith("multipart/") or b"\0" in body:
        return True
    if len(body) > INLINE_LIMIT:
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def curl_script(run: RunResult, secrets: Iterable[str] | None, folder: str) -> CurlScript:
    """Every request the run sent, in order, as a bash script. ``folder``: the name of the
    folder beside the script holding the bodies read from files."""
    given = None if secrets is None else set(secrets)
    lines = [
        "#!/usr/bin/env bash",
        "# The requests an apirun run sent, in order, as curl commands.",
        "# Secrets are shown as *** (run apirun with --show-secrets for a script that replays"
        " them)."
        if given is not None
        else "# Secrets are in clear (--show-secrets): keep this file to yourself.",
        "set -u",
        'here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
    ]
    script = CurlScript("")
    for file in run.files:
        hidden = None if given is None else given | file.secrets
        certs = {step.source: step.request.cert for step in file.spec.all_steps()}
        for step in file.steps:
            if step.request is None:
                continue
            lines += ["", _comment(file, step)]
            body_file = None
            if needs_file(step.request):
                name = f"{len(script.bodies) + 1:03d}.body"
                body = step.request.body or b""
                if hidden is not None:
                    body = _masked_bytes(body, hidden)
                script.bodies[name] = body
                body_file = '"$here/' + _double_quoted(f"{folder}/{name}") + '"'
            cert = certs.get(step.source) or file.cert
            command = curl_command(step.request, file.verify, hidden, body_file, " \\\n  ", cert)
            lines.append(command)
    script.text = "\n".join(lines) + "\n"
    return script


def _comment(file: FileResult, step: StepResult) -> str:
    text = f"# {file.spec.path}:{step.source.line} — step '{step.name}' ({step.outcome.value}"
    if step.attempts > 1:
        text += f", the last of {step.attempts} attempts"
    if step.response is not None and step.response.history:
        text += f"; apirun followed {len(step.response.history)} redirect(s): add -L to follow"
    return escape_controls(" ".join((text + ")").splitlines()))


def shell_quote(text: str, encoding: str = "utf-8") -> str:
    """A bash word for any text: '…' when that is exact and readable, $'…' otherwise (no
    control character is left in the script, so that printing it is safe). ``encoding``:
    the bytes a C1 control character was sent as (header values go out as latin-1)."""
    if not any(ch < " " or "\x7f" <= ch <= "\x9f" for ch in text):  # '…' reads best
        return shlex.quote(text)
    out = []
    for ch in text:
        code = ord(ch)
        if ch in "\\'":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0x80 <= code <= 0x9F:  # C1: the bytes that were sent
            out.append("".join(f"\\x{byte:02x}" for byte in ch.encode(encoding)))
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        else:
            out.append(ch)
    return "$'" + "".join(out) + "'"


def _double_quoted(text: str) -> str:
    return "".join("\\" + ch if ch in '"$`\\' else ch for ch in text)


def _masked(text: str, hidden: tuple[str, ...] | set[str] | None) -> str:
    return text if hidden is None else mask(text, hidden)


def _masked_bytes(body: bytes, hidden: Iterable[str]) -> bytes:
    text = body.decode("utf-8", "surrogateescape")
    return mask(text, hidden).encode("utf-8", "surrogateescape")
