"""The terminal report: a line per step, and compiler-style details for what failed.

Formatting functions are pure (results in, text out); ConsoleReporter only writes them.
Secrets are masked in every line unless the user asked to see them.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable
from pathlib import PurePath
from typing import Any, TextIO

from ..errors import Diagnostic, SpecError
from ..masking import mask, mask_header
from ..messages import Headers, Response, SentRequest
from ..model import Spec
from ..operators import EQUALS, MISSING, QUERIES, STATUS, failure_text, show
from ..operators.bodyschema import SCHEMA
from ..results import ExpectationResult, FileResult, Outcome, RunResult, StepResult
from ..source import Source
from .progress import LiveProgress

BODY_PREVIEW = 500  # characters of a response body shown under a failure
VERBOSE_BODY_LIMIT = 64 * 1024  # characters of a body shown with -v
NAME_WIDTH = 32  # step names are padded to the longest in the file, up to this

_MARKS = {
    Outcome.PASSED: ("PASS ", "32"),
    Outcome.FAILED: ("FAIL ", "31"),
    Outcome.ERROR: ("ERROR", "31"),
    Outcome.SKIPPED: ("SKIP ", "33"),
}


class Style:
    def __init__(self, color: bool):
        self.color = color

    def paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def bold(self, text: str) -> str:
        return self.paint(text, "1")

    def dim(self, text: str) -> str:
        return self.paint(text, "2")


# -- values ---------------------------------------------------------------------------------------


def format_value(value: Any) -> str:
    return show(value)


def describe_failure(result: ExpectationResult) -> str:
    """One line, worded by the operator's registry entry; a schema's violations follow it,
    one a line."""
    if result.operator == SCHEMA:
        if result.reason:
            return f"{result.subject}: {result.reason}"
        count = sum(1 for line in result.actual if line.startswith("$"))
        more = "" if count == len(result.actual) else " or more"
        title = f"{result.subject}: {count}{more} violation{'s' if count != 1 else ''}"
        return "\n".join([title, *result.actual])
    subject = result.subject
    if not _is_literal(result):
        subject += f" {result.operator}"
    if result.reason:
        text = f"{subject}: {result.reason}: expected {show(result.expected)}"
        return text + ("" if result.actual is MISSING else f", got {show(result.actual)}")
    return f"{subject}: " + failure_text(result.operator, result.expected, result.actual)


def _is_literal(result: ExpectationResult) -> bool:
    """Whether the check was written as a plain value (status: 201, $.name: admin)."""
    query = QUERIES.get(result.query)
    return result.operator == EQUALS or (query is not None and result.operator == query.literal)


def _status_failed(step: StepResult) -> bool:
    return any(e.query == STATUS and not e.passed for e in step.expectations)


def failure_messages(step: StepResult) -> list[str]:
    """One line per thing that went wrong in a step, as the console lists them."""
    messages = [step.error.message] if step.error is not None else []
    messages += [describe_failure(e) for e in step.failed_expectations]
    if _status_failed(step) and step.failed_captures:
        # The wrong status explains the missing values; one line instead of one per capture.
        names = ", ".join(c.name for c in step.failed_captures)
        messages.append(f"not captured (the status was not as expected): {names}")
    else:
        messages += [f"capture {c.name}: {c.error}" for c in step.failed_captures]
    return messages


# -- positions ------------------------------------------------------------------------------------


def format_location(source: Source, lines: tuple[str, ...], style: Style, indent: str) -> list[str]:
    """``--> file:line`` and the quoted spec line, like a compiler."""
    out = [indent + style.dim(f"--> {source.file}:{source.line}")]
    if 0 < source.line <= len(lines):
        number = str(source.line)
        out.append(indent + style.dim(f"{number} | ") + lines[source.line - 1].rstrip())
    return out


def format_spec_error(error: SpecError, style: Style) -> str:
    out: list[str] = []
    for diagnostic in error.diagnostics:
        out += _diagnostic(diagnostic, error.lines_of(diagnostic.source.file), style)
    return "\n".join(out)


def _diagnostic(diagnostic: Diagnostic, lines: tuple[str, ...], style: Style) -> list[str]:
    source = diagnostic.source
    where = f" (step '{diagnostic.step}')" if diagnostic.step else ""
    out = [style.paint("error", "1;31") + f": {diagnostic.message}{where}"]
    out.append("  " + style.dim(f"--> {source}"))
    if 0 < source.line <= len(lines):
        number = str(source.line)
        pad = " " * len(number)
        out.append(f"  {pad} |")
        out.append(f"  {number} | {lines[source.line - 1].rstrip()}")
        out.append(f"  {pad} | " + " " * (source.column - 1) + style.paint("^", "1;31"))
    return out


# -- steps ----------------------------------------------------------------------------------------


def format_file_header(spec: Spec, style: Style) -> str:
    title = spec.path if spec.name == _stem(spec.path) else f"{spec.path} — {spec.name}"
    return style.bold(title)


def _stem(path: str) -> str:
    return PurePath(path).stem


def name_width(spec: Spec) -> int:
    """Step names are padded to the longest in their file, up to NAME_WIDTH."""
    longest = max(
        (len(s.prefix + s.name) + (5 if s.loop else 0) for s in spec.all_steps()), default=0
    )
    return min(longest, NAME_WIDTH)


def format_step(
    spec: Spec,
    step: StepResult,
    style: Style,
    secrets: Iterable[str] = (),
    verbose: bool = False,
    show_secrets: bool = False,
    width: int | None = None,
    verify: bool | str = True,
) -> str:
    hidden = None if show_secrets else tuple(secrets)
    mark, color = _MARKS[step.outcome]
    width = name_width(spec) if width is None else width
    parts = ["  " + style.paint(mark, "1;" + color), step.name.ljust(width)]
    if step.request is not None:
        parts.append(f"{step.request.method} {step.request.url}")
    if step.response is not None:
        if step.response.history:
            parts.append(f"→ {step.response.url}")
        parts.append(str(step.response.status))
    if step.outcome is Outcome.SKIPPED:
        parts.append(style.dim(f"(skipped: {step.skip_reason})"))
    elif step.request is not None:
        parts.append(style.dim(f"{step.duration_ms:.0f} ms"))
    if step.attempts > 1:
        parts.append(style.dim(f"({step.attempts} attempts)"))
    if step.reauthenticated:
        parts.append(style.dim("(401: logged in to the cloud again and resent)"))
    lines = ["  ".join(parts).rstrip()]
    indent = "        "
    failed = step.outcome in (Outcome.FAILED, Outcome.ERROR)
    if step.error is not None:
        lines.append(indent + style.paint(step.error.message, "31"))
        lines += format_location(
            step.error.source, spec.lines_of(step.error.source.file), style, indent + "  "
        )
    for expectation in step.failed_expectations:
        first, *more = describe_failure(expectation).split("\n")
        lines.append(indent + "- " + first)
        lines += [indent + "    " + line for line in more]
        lines += format_location(
            expectation.source, spec.lines_of(expectation.source.file), style, indent + "  "
        )
    if _status_failed(step) and step.failed_captures:
        # The wrong status explains the missing values; one line instead of one per capture.
        names = ", ".join(c.name for c in step.failed_captures)
        lines.append(indent + f"- not captured (the status was not as expected): {names}")
    else:
        for capture in step.failed_captures:
            lines.append(indent + f"- capture {capture.name}: {capture.error}")
            lines += format_location(
                capture.source, spec.lines_of(capture.source.file), style, indent + "  "
            )
    if (failed or verbose) and step.request is not None:
        lines += _request_lines(step.request, style, indent, hidden, verbose, verify)
    if (failed or verbose) and step.response is not None:
        lines += _hop_lines(step.response, style, indent, verbose)
        lines += _response_lines(step.response, style, indent, hidden, verbose)
    return "\n".join(mask(line, hidden or ()) for line in lines)


def _headers(headers: Headers, secrets: tuple[str, ...] | None) -> list[str]:
    """Header lines; ``secrets`` None means the user asked to see them."""
    if secrets is None:
        return [f"{name}: {value}" for name, value in headers]
    return [f"{name}: {mask_header(name, value, secrets)}" for name, value in headers]


def _request_lines(
    request: SentRequest,
    style: Style,
    indent: str,
    secrets: tuple[str, ...] | None,
    verbose: bool,
    verify: bool | str = True,
) -> list[str]:
    out = [indent + style.dim("request:"), indent + f"  {request.method} {request.url}"]
    for line in _headers(request.headers, secrets):
        out.append(indent + "  " + line)
    if request.body:  # on a failure too: what was sent is half of what went wrong
        limit = VERBOSE_BODY_LIMIT if verbose else BODY_PREVIEW
        text = request.body.decode("utf-8", "replace")
        out += _body_lines(text, indent, limit, secrets)
    elif request.body_file:
        out.append(indent + "  " + style.dim(f"(body: the bytes of {request.body_file})"))
    if verbose:
        out.append(indent + style.dim("  $ ") + _curl_line(request, verify, secrets))
    return out


def _curl_line(request: SentRequest, verify: bool | str, secrets: tuple[str, ...] | None) -> str:
    """The request as one curl command (report/curl.py); a file's body is not inlined."""
    from .curl import curl_command, needs_file

    body_file = "BODY" if needs_file(request) else None
    line = curl_command(request, verify, secrets, body_file)
    if body_file:
        line += f"  # BODY: the {len(request.body or b'')} bytes above (--curl FILE writes them)"
    return line


def _hop_lines(response: Response, style: Style, indent: str, verbose: bool) -> list[str]:
    """Each redirect on the way: its status and Location (-v), and always what a redirect to
    another origin left out."""
    out = []
    for hop in response.history:
        if verbose:
            out.append(indent + style.dim("redirect: ") + f"{hop.status} {hop.url}")
            out.append(indent + f"  Location: {hop.location}")
        if hop.dropped:
            out.append(indent + ("  " if verbose else "") + style.dim(f"redirect {hop.dropped}"))
    return out


def _response_lines(
    response: Response, style: Style, indent: str, secrets: tuple[str, ...] | None, verbose: bool
) -> list[str]:
    size = response.size
    title = f"response: {response.status} {response.reason}".rstrip() + f" ({size} bytes)"
    out = [indent + style.dim(title)]
    if verbose:
        for line in _headers(response.headers, secrets):
            out.append(indent + "  " + line)
    limit = VERBOSE_BODY_LIMIT if verbose else BODY_PREVIEW
    if response.content:
        out += _body_lines(response.text, indent, limit, secrets)
    return out


def _body_lines(
    text: str, indent: str, limit: int, secrets: tuple[str, ...] | None = None
) -> list[str]:
    """Masked before it is cut: the cut must not leave half a secret to read."""
    text = mask(text, secrets or ())
    shown = text[:limit]
    out = [indent + "  " + line for line in shown.splitlines()]
    if len(text) > limit:
        out.append(indent + f"  … ({len(text) - limit} more characters)")
    return out


def format_file_error(file: FileResult, style: Style) -> str:
    assert file.error is not None
    lines = ["  " + style.paint("ERROR", "1;31") + "  " + file.error.message]
    source = file.error.source
    lines += format_location(source, file.spec.lines_of(source.file), style, "        ")
    return "\n".join(lines)


def format_summary(run: RunResult, style: Style) -> str:
    passed = run.count(Outcome.PASSED)
    failed = run.count(Outcome.FAILED) + run.count(Outcome.ERROR)
    skipped = run.count(Outcome.SKIPPED)
    files = len(run.files)
    text = f"{passed} passed, {failed} failed, {skipped} skipped"
    detail = f"{files} file{'s' if files != 1 else ''}, {run.duration_ms / 1000:.2f} s"
    if run.not_run:
        count = len(run.not_run)
        detail += f"; --fail-fast: {count} file{'s' if count != 1 else ''} not run after a failure"
    detail = f"({detail})"
    color = "1;32" if run.exit_code == 0 else "1;31"
    return style.paint(text, color) + " " + style.dim(detail)


class ConsoleReporter:
    """Writes results as they come (the engine's listener) and the closing summary."""

    def __init__(
        self,
        stream: TextIO,
        style: Style,
        verbose: bool = False,
        show_secrets: bool = False,
        secrets: Iterable[str] = (),
        progress: LiveProgress | None = None,
    ):
        self.stream = stream
        self.style = style
        self.verbose = verbose
        self.show_secrets = show_secrets
        self.secrets = set(secrets)
        self.width = 0
        self.progress = progress

    def _write(self, text: str) -> None:
        if self.progress is not None:
            self.progress.write(text + "\n")  # in place of the live line, if one shows
            return
        self.stream.write(text + "\n")
        self.stream.flush()

    def attempt_started(self, name: str, attempt: int, attempts: int) -> None:
        """The engine is about to send a step's request (again, with retry)."""
        if self.progress is not None:
            self.progress.attempt(name, attempt, attempts)

    def file_started(self, spec: Spec) -> None:
        self.width = name_width(spec)  # once per file: steps are many
        self._write(format_file_header(spec, self.style))

    def step_finished(self, file: FileResult, step: StepResult) -> None:
        secrets = self.secrets | file.secrets
        self._write(
            format_step(
                file.spec,
                step,
                self.style,
                secrets,
                self.verbose,
                self.show_secrets,
                self.width,
                file.verify,
            )
        )

    def file_finished(self, file: FileResult) -> None:
        if file.error is not None:
            secrets = () if self.show_secrets else self.secrets | file.secrets
            self._write(mask(format_file_error(file, self.style), secrets))

    def summary(self, run: RunResult) -> None:
        self._write("\n" + format_summary(run, self.style))


class GroupedConsole:
    """Console output for a whole run, serial or with several files at once (--jobs).

    Serial runs print each step as it finishes. With ``grouped``, a file's lines are held
    until the file is done and then printed as one block, in the order the files were given
    (so the output reads as a serial run's would: nothing interleaved, same order; a slow
    file holds back the blocks of the files after it, not their runs).
    """

    def __init__(
        self,
        stream: TextIO,
        style: Style,
        verbose: bool = False,
        show_secrets: bool = False,
        secrets: Iterable[str] = (),
        grouped: bool = False,
        progress: LiveProgress | None = None,
    ):
        self.progress = progress
        self.stream = stream
        self.style = style
        self.verbose = verbose
        self.show_secrets = show_secrets
        self.secrets = set(secrets)
        self.grouped = grouped
        self._lock = threading.Lock()
        self._buffers: dict[int, io.StringIO] = {}
        self._ready: dict[int, str] = {}
        self._next = 0

    def _reporter(self, stream: TextIO) -> ConsoleReporter:
        live = self.progress if stream is self.stream else None  # never into a held block
        return ConsoleReporter(
            stream, self.style, self.verbose, self.show_secrets, self.secrets, live
        )

    def direct_listener(self) -> ConsoleReporter:
        """A listener printing as steps finish (the setup, which runs alone, first)."""
        return self._reporter(self.stream)

    def listener_for(self, index: int, spec: Spec) -> ConsoleReporter:
        """The engine's listener for file number ``index`` (called in the thread running it)."""
        if not self.grouped:
            return self._reporter(self.stream)
        buffer = io.StringIO()
        with self._lock:
            self._buffers[index] = buffer
        return self._reporter(buffer)

    def file_finished(self, index: int, file: FileResult) -> None:
        if not self.grouped:
            return
        with self._lock:
            self._ready[index] = self._buffers.pop(index).getvalue()
            while self._next in self._ready:
                self.stream.write(self._ready.pop(self._next))
                self._next += 1
        self.stream.flush()

    def flush(self) -> None:
        """Print every block held back (on Ctrl-C, or after files that never ran)."""
        if self.progress is not None:
            self.progress.stop()  # no live line left over a Ctrl-C
        with self._lock:
            for index in sorted(self._ready):
                self.stream.write(self._ready.pop(index))
        self.stream.flush()

    def summary(self, run: RunResult) -> None:
        self.flush()
        self._reporter(self.stream).summary(run)
        if self.progress is not None:
            self.progress.stop()
