"""``apirun import har``: a HAR 1.2 file (a browser's or a proxy's export), one step per entry.

Each entry's recorded response status becomes ``expect.status``. Headers a client adds by
itself (Host, Content-Length, Connection, Accept-Encoding, HTTP/2 pseudo-headers, the
browser's sec-*) are left out. A credential header becomes a secret variable holding the
recorded value, or a capture when an earlier response handed out that value (a Keystone
X-Subject-Token used as X-Auth-Token later), so the spec logs in afresh each run.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from ._spec import (
    Imported,
    ImportedStep,
    ImportError_,
    finish,
    literal,
    literal_json,
    member_object,
)

_AUTOMATIC = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "accept-encoding",
        "upgrade-insecure-requests",
        "te",
        "priority",
        "proxy-connection",
    }
)


def import_har(text: str, hosts: list[str] | None = None, pattern: str | None = None) -> Imported:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ImportError_(f"not JSON: {exc}") from None
    log = document.get("log") if isinstance(document, dict) else None
    if not isinstance(log, dict) or not isinstance(log.get("entries"), list):
        raise ImportError_("not a HAR file: no log.entries")
    creator = member_object(log, "creator")
    imported = Imported("imported from HAR")
    made_by = f" (recorded by {creator.get('name')})" if creator.get("name") else ""
    imported.header = [f"Imported from a HAR {log.get('version', '')} file{made_by}."]
    wanted = {host.lower() for host in hosts or []}
    matcher = re.compile(pattern) if pattern else None
    skipped = 0
    for number, entry in enumerate(log["entries"], start=1):
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict) or not isinstance(request.get("url"), str):
            imported.notes.append(f"entry {number}: no request URL, left out")
            continue
        url = request["url"]
        parts = urlsplit(url)
        if wanted and parts.netloc.lower() not in wanted and (parts.hostname or "") not in wanted:
            skipped += 1
            continue
        if matcher and not matcher.search(url):
            skipped += 1
            continue
        if parts.scheme not in ("http", "https"):
            imported.notes.append(f"entry {number}: {parts.scheme}: URL, left out")
            continue
        imported.steps.append(_step(entry, request, parts, number, imported))
    if skipped:
        imported.header.append(f"{skipped} entries left out by --host / --url-pattern.")
    return finish(imported)


def _step(
    entry: dict[str, Any], request: dict[str, Any], parts: Any, number: int, imported: Imported
) -> ImportedStep:
    method = str(request.get("method") or "GET").upper()
    step = ImportedStep(name=f"{method} {parts.path or '/'}", method=method)
    step.url = literal(urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", "")))
    step.params = [(k, literal(v)) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    for header in request.get("headers") or []:
        name, value = str(header.get("name", "")), str(header.get("value", ""))
        lower = name.lower()
        if not name or name.startswith(":") or lower in _AUTOMATIC or lower.startswith("sec-"):
            continue
        step.headers.append((name, literal(value)))
    post = request.get("postData")
    if isinstance(post, dict):
        _body(step, post, number, imported)
    response = entry.get("response")
    if isinstance(response, dict):
        status = response.get("status")
        if isinstance(status, int) and 100 <= status <= 599:
            step.status = status
        elif status is not None:
            imported.notes.append(
                f"entry {number}: recorded status {status!r} (no answer): no expect.status"
            )
        if 300 <= (status if isinstance(status, int) else 0) < 400:
            step.follow_redirects = False  # the recording has the redirect itself
        step.response_headers = [
            (str(h.get("name", "")), str(h.get("value", "")))
            for h in response.get("headers") or []
            if isinstance(h, dict)
        ]
    return step


def _body(step: ImportedStep, post: dict[str, Any], number: int, imported: Imported) -> None:
    mime = str(post.get("mimeType") or "").lower()
    text = post.get("text")
    has_type = any(name.lower() == "content-type" for name, _ in step.headers)
    if "json" in mime and isinstance(text, str):
        try:
            step.json, step.has_json = literal_json(json.loads(text)), True
            return
        except ValueError:
            pass
    if mime.startswith("application/x-www-form-urlencoded") and isinstance(text, str):
        step.form = [(k, literal(v)) for k, v in parse_qsl(text, keep_blank_values=True)]
        step.headers = [(k, v) for k, v in step.headers if k.lower() != "content-type"]
        return
    if mime.startswith("multipart/"):
        if isinstance(text, str) and text:
            step.data = literal(text)  # as recorded, with its boundary
        else:
            imported.notes.append(f"entry {number}: a multipart body not in the HAR, left out")
        return
    if isinstance(text, str) and text:
        if post.get("encoding") == "base64":
            imported.notes.append(f"entry {number}: a base64 body, left out")
            return
        step.data = literal(text)
        if not has_type and mime:
            step.headers.append(("Content-Type", mime))
