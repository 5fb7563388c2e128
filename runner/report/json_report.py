"""The JSON report: every file and step of a run as data, for scripts and dashboards.

A pure function of the results. Each step has its name, outcome (passed, failed, error,
skipped; xfail and xpass for a step marked xfail that failed or passed), request method and
URL, response status, duration, the names of its captures (never their values) and each
expectation with its expected and actual value. Secrets are always masked, also inside
values. ``format`` is bumped if a key changes meaning; keys may be added.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from .. import __version__
from ..masking import MASK, MIN_MASKED_LENGTH, masker, may_hold_secret
from ..operators import MISSING
from ..results import ExpectationResult, FileResult, Outcome, RunResult, StepError, StepResult
from .console import describe_failure

FORMAT = 1


def json_report(run: RunResult, secrets: Iterable[str] = ()) -> dict[str, Any]:
    hidden = set(secrets)
    return _document(run, [_file(file, hidden | file.secrets) for file in run.files])


def _document(run: RunResult, files: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "apirun": __version__,
        "passed": run.exit_code == 0,
        "exit_code": run.exit_code,
        "duration_ms": round(run.duration_ms, 3),
        "summary": {
            "files": len(run.files),
            "steps": sum(len(file.steps) for file in run.files),
            "passed": run.count(Outcome.PASSED),
            "failed": run.count(Outcome.FAILED),
            "errors": run.count(Outcome.ERROR),
            "skipped": run.count(Outcome.SKIPPED),
            "xfailed": run.count(Outcome.XFAIL),
            "xpassed": run.count(Outcome.XPASS),
            "not_run": len(run.not_run),
        },
        "files": files,
        "not_run": [spec.path for spec in run.not_run],
    }


def json_report_bytes(
    run: RunResult, secrets: Iterable[str] = (), parts: FileParts | None = None
) -> bytes:
    """The report's bytes. ``parts``: the files already rendered as they finished (the
    command's main thread waits anyway while ``--jobs`` run them); the bytes are the same
    as without."""
    hidden = set(secrets)
    if parts is not None and parts.secrets != hidden:
        parts = None  # rendered with other secrets: not these bytes
    text = _dumps(_document(run, []))
    if run.files:
        files = [(parts and parts.get(file)) or file_part(file, hidden) for file in run.files]
        empty = '\n  "files": [],\n'  # the top level's (summary's "files" is deeper)
        assert text.count(empty) == 1
        text = text.replace(empty, '\n  "files": [\n    ' + ",\n    ".join(files) + "\n  ],\n")
    return _encoded(text)


def file_part(file: FileResult, secrets: set[str]) -> str:
    """One file's entry, as it stands in the report's text: at the second level of indent
    (JSON strings hold no raw newline, so every newline is the layout's).

    Most files' data hold no secret in any form: their text, encoded once, shows it, and
    the walk that masks every string is only made for the others."""
    hidden = secrets | file.secrets
    data = _file_data(file)
    text = _dumps(data)
    if may_hold_secret(text, hidden):
        text = _dumps(_masked_file(data, file, hidden))
    return text.replace("\n", "\n    ")


class FileParts:
    """Files of a run rendered (``file_part``) as each finishes, for ``json_report_bytes``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = set(secrets)
        self._parts: dict[int, tuple[FileResult, str]] = {}

    def add(self, file: FileResult) -> None:
        self._parts[id(file)] = (file, file_part(file, self.secrets))

    def get(self, file: FileResult) -> str | None:
        found = self._parts.get(id(file))
        return found[1] if found is not None and found[0] is file else None


def _dumps(value: Any) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False, default=repr)``: the same text for any
    value without a reference cycle, written directly. With ``indent``, json leaves its C
    encoder for the pure-Python one, whose nested generators hand every piece up through
    each level: a 500-step file took 20 ms (the C encoder, unindented: 5 ms)."""
    out: list[str] = []
    _write(value, out, "\n")
    return "".join(out)


def _write(value: Any, out: list[str], newline: str) -> None:
    """``value`` as json's encoder writes it at the indent that ``newline`` ends with."""
    if isinstance(value, str):
        out.append(_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, list | tuple | dict):
        mapping = isinstance(value, dict)
        opening, closing = ("{", "}") if mapping else ("[", "]")
        if not value:
            out.append(opening + closing)
            return
        inner = newline + "  "
        out.append(opening)
        separator = inner
        entries: Iterable[Any] = value.items() if isinstance(value, dict) else value
        for item in entries:
            if mapping:
                key, item = item
                out.append(separator + _string(_key(key)) + ": ")
            else:
                out.append(separator)
            separator = "," + inner
            _write(item, out, inner)
        out.append(newline + closing)
    else:
        _write(repr(value), out, newline)  # json's default=repr


def _key(key: Any) -> str:
    """A mapping key as json turns it into a string (skipkeys=False)."""
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return _float(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)


_INFINITY = float("inf")
_string = json.encoder.encode_basestring  # ensure_ascii=False: json's C function when there is one


def _encoded(text: str) -> bytes:
    return (text + "\n").encode("utf-8")


def _file(file: FileResult, secrets: set[str]) -> dict[str, Any]:
    return _masked_file(_file_data(file), file, secrets)


def _masked_file(data: dict[str, Any], file: FileResult, secrets: set[str]) -> dict[str, Any]:
    hidden = tuple(secrets)
    return _masked(data, hidden, masker(hidden, file.own_text))


def _file_data(file: FileResult) -> dict[str, Any]:
    return {
        "path": file.spec.path,
        "name": file.spec.name,
        "passed": file.passed,
        "duration_ms": round(file.duration_ms, 3),
        "error": _error(file.error),
        "skip_reason": file.skip_reason,
        "steps": [_step(step) for step in file.steps],
    }


def _step(step: StepResult) -> dict[str, Any]:
    request = step.request
    return {
        "name": step.name,
        "line": step.source.line,
        "outcome": step.outcome.value,
        "duration_ms": round(step.duration_ms, 3),
        "request": None if request is None else {"method": request.method, "url": request.url},
        "status": None if step.response is None else step.response.status,
        "skip_reason": step.skip_reason,
        "xfail_reason": step.xfail_reason,
        "reauthenticated": step.reauthenticated,
        "error": _error(step.error),
        "captures": [
            {"name": c.name, "captured": c.error is None, "error": c.error, "line": c.source.line}
            for c in step.captures
        ],
        "expectations": [_expectation(e) for e in step.expectations],
    }


def _expectation(result: ExpectationResult) -> dict[str, Any]:
    found = result.actual is not MISSING
    return {
        "subject": result.subject,
        "operator": result.operator,
        "expected": result.expected,
        "actual": result.actual if found else None,
        "found": found,
        "passed": result.passed,
        "reason": result.reason,
        "message": None if result.passed else describe_failure(result),
        "line": result.source.line,
    }


def _error(error: StepError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"kind": error.kind.value, "message": error.message, "line": error.source.line}


def _masked(value: Any, secrets: tuple[str, ...], masked: Callable[[str], str]) -> Any:
    """Secrets hidden in every string, key and number of a JSON value (``masked``: the
    masking of a string, the spec's own words left as written)."""
    if isinstance(value, str):
        return masked(value)
    if isinstance(value, dict):
        return {
            _masked(key, secrets, masked): _masked(item, secrets, masked)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_masked(item, secrets, masked) for item in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)
        if len(text) >= MIN_MASKED_LENGTH and text in secrets:
            return MASK
    return value
