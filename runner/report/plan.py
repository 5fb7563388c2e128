"""The text of ``apirun run --dry-run``: each request as it would be sent. Pure functions."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable

from ..dryrun import PlannedFile, PlannedStep
from ..masking import mask, mask_header
from ..messages import SentRequest
from ..unknown import UNKNOWN_TEXT
from .console import VERBOSE_BODY_LIMIT, Style, format_file_header, format_location

INDENT = "    "


def format_plan(
    files: Iterable[PlannedFile], style: Style, secrets: Iterable[str] = (), show: bool = False
) -> str:
    """Every file's requests, then one line: how many, and that nothing was sent."""
    out: list[str] = []
    requests = problems = 0
    given = set(secrets)
    for file in files:
        hidden = None if show else tuple(given | file.secrets)
        out.append(format_file_header(file.spec, style))
        if file.error is not None:
            out.append("  " + style.paint("ERROR", "1;31") + "  " + file.error.message)
            if file.error.source is not None:
                where = file.error.source
                out += format_location(where, file.spec.lines_of(where.file), style, INDENT)
        for step in file.steps:
            out += _step_lines(file, step, style, hidden)
            requests += step.request is not None
        problems += file.problems
        out.append("")
    count = f"{requests} request{'s' if requests != 1 else ''}"
    if problems:
        plural = "s" if problems != 1 else ""
        out.append(style.paint(f"dry run: {problems} problem{plural}", "1;31") + f", {count}")
    else:
        out.append(style.bold(f"dry run: {count}") + style.dim(", nothing was sent"))
    return "\n".join(out)


def _step_lines(
    file: PlannedFile, step: PlannedStep, style: Style, hidden: tuple[str, ...] | None
) -> list[str]:
    where = style.dim(f"{step.source.file}:{step.source.line}")
    lines = [f"  {style.bold(step.name)}  {where}"]
    lines += [INDENT + style.dim(f"({note})") for note in step.notes]
    if step.skipped is not None:
        lines.append(INDENT + style.dim(f"(would be skipped: {step.skipped})"))
    if step.error is not None:
        lines.append(INDENT + style.paint(f"cannot render: {step.error.message}", "31"))
        if step.error.source is not None:
            source = step.error.source
            lines += format_location(source, file.spec.lines_of(source.file), style, INDENT)
    if step.request is not None:
        lines += request_lines(step.request, hidden, INDENT)
    return [mask(line, hidden or ()) for line in lines]


def request_lines(request: SentRequest, hidden: tuple[str, ...] | None, indent: str) -> list[str]:
    """Method and URL, headers (credential headers masked unless ``hidden`` is None), body."""
    lines = [indent + f"{request.method} {request.url}"]
    for name, value in request.headers:
        shown = value
        if hidden is not None:
            unknown = UNKNOWN_TEXT.search(value)  # not a secret: shown as what it stands for
            shown = mask(value, hidden) if unknown else mask_header(name, value, hidden)
        lines.append(indent + f"{name}: {shown}")
    if request.body:
        lines.append(indent.rstrip())
        lines += [indent + line for line in body_text(request.body, hidden).splitlines()]
    return lines


def body_text(
    body: bytes, hidden: tuple[str, ...] | None = None, limit: int = VERBOSE_BODY_LIMIT
) -> str:
    """A body for reading: JSON indented, text as it is, binary data as its size; masked
    before it is cut, so no part of a secret shows."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return f"({len(body)} bytes of binary data)"
    with contextlib.suppress(ValueError):
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    text = mask(text, hidden or ())
    if len(text) > limit:
        return text[:limit] + f"\n… ({len(text) - limit} more characters)"
    return text
