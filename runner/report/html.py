"""The HTML report: one self-contained page to hand to someone who does not read CI logs.

A pure function of the results. No external URL (styles inline, no script, no font or
image fetched), so it opens offline from a CI artifact. A summary bar, then per file and
per step: outcome, duration, attempts, the failures with the spec line each comes from,
and the request as sent and the response (collapsible ``<details>``, open for the steps
that failed; bodies pretty-printed and cut at BODY_LIMIT). A per-step timing chart is an
inline SVG. Secrets are masked everywhere, always.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from html import escape

from .. import __version__
from ..masking import mask, mask_header
from ..messages import Headers, Response, SentRequest
from ..results import FAILING, FileResult, Outcome, RunResult, StepResult
from ..source import Source
from .console import describe_failure, format_value

BODY_LIMIT = 32 * 1024  # characters of a body shown; the rest is counted
CHART_STEPS = 400  # steps drawn in the timing chart; the rest are counted
_LABELS = {
    Outcome.PASSED: "PASS",
    Outcome.FAILED: "FAIL",
    Outcome.ERROR: "ERROR",
    Outcome.SKIPPED: "SKIP",
    Outcome.XFAIL: "XFAIL",
    Outcome.XPASS: "XPASS",
}
_COLORS = {
    Outcome.PASSED: "#2e7d32",
    Outcome.FAILED: "#c62828",
    Outcome.ERROR: "#6a1b9a",
    Outcome.SKIPPED: "#9e9e9e",
    Outcome.XFAIL: "#ef6c00",
    Outcome.XPASS: "#c62828",
}

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;
background:#fafafa}
header{padding:16px 24px;background:#fff;border-bottom:1px solid #ddd}
h1{font-size:20px;margin:0 0 8px}
main{padding:8px 24px 40px}
.bar{display:flex;height:14px;border-radius:7px;overflow:hidden;background:#eee;margin:8px 0}
.bar span{display:block;height:100%}
.counts span{margin-right:16px;font-weight:600}
span.passed{color:#2e7d32}span.failed{color:#c62828}span.error{color:#6a1b9a}
span.skipped{color:#757575}span.xfail{color:#ef6c00}span.xpass{color:#c62828}
section.file{background:#fff;border:1px solid #ddd;border-radius:6px;margin:16px 0;padding:8px 16px}
section.file h2{font-size:16px;margin:8px 0}
details.step{border-top:1px solid #eee;padding:4px 0}
details.step>summary{cursor:pointer;list-style-position:inside;padding:2px 0}
details.step.failed>summary,details.step.error>summary,details.step.xpass>summary{
background:#fdecea}
.mark{display:inline-block;width:52px;font-weight:700}
.dim{color:#757575}
.failure{background:#fdecea;border-left:4px solid #c62828;padding:6px 10px;margin:6px 0}
.failure pre,.spec{margin:2px 0}
pre{background:#f5f5f5;padding:8px;overflow:auto;max-height:480px;white-space:pre-wrap;
word-break:break-all;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}
.spec{color:#555;font:12px ui-monospace,Menlo,Consolas,monospace}
h3{font-size:13px;margin:10px 0 2px}
svg text{font:11px system-ui,sans-serif}
"""


def html_report(run: RunResult, secrets: Iterable[str] = ()) -> bytes:
    hidden = set(secrets)
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>apirun report</title>",
        f"<style>{_STYLE}</style></head><body>",
        _summary(run),
        "<main>",
        _chart(run, hidden),
    ]
    body += [_file(file, n, hidden | file.secrets) for n, file in enumerate(run.files)]
    if run.not_run:
        names = ", ".join(escape(spec.path) for spec in run.not_run)
        body.append(f'<p class="dim">Not run after a failure (--fail-fast): {names}</p>')
    body.append(f'<p class="dim">apirun {escape(__version__)}</p></main></body></html>')
    return ("\n".join(body) + "\n").encode("utf-8")


def _summary(run: RunResult) -> str:
    counts = {
        outcome: run.count(outcome)
        for outcome in Outcome
        if run.count(outcome) or outcome not in (Outcome.XFAIL, Outcome.XPASS)
    }
    total = sum(counts.values()) or 1
    bar = "".join(
        f'<span class="{o.value}" style="width:{100 * n / total:.3f}%;background:{_COLORS[o]}"'
        f' title="{n} {o.value}"></span>'
        for o, n in counts.items()
        if n
    )
    verdict = "passed" if run.exit_code == 0 else "failed"
    numbers = "".join(f'<span class="{o.value}">{n} {o.value}</span>' for o, n in counts.items())
    return (
        f'<header><h1>apirun report: <span class="{verdict}" id="verdict">{verdict}</span></h1>'
        f'<div class="bar" id="summary-bar">{bar}</div>'
        f'<div class="counts">{numbers}<span class="dim">{len(run.files)} file'
        f"{'s' if len(run.files) != 1 else ''}, {run.duration_ms / 1000:.2f} s, exit code "
        f"{run.exit_code}</span></div></header>"
    )


def _chart(run: RunResult, hidden: set[str]) -> str:
    """A waterfall: each step a bar starting where the steps before it in its file ended."""
    rows: list[tuple[str, float, float, Outcome]] = []
    for file in run.files:
        start = 0.0
        for step in file.steps:
            label = f"{_short(file.spec.path)} › {step.name}"
            rows.append((label, start, step.duration_ms, step.outcome))
            start += step.duration_ms
    if not rows:
        return ""
    shown, left = rows[:CHART_STEPS], len(rows) - CHART_STEPS
    longest = max((start + length for _, start, length, _ in shown), default=0.0) or 1.0
    label_width, width, height = 300, 900, 18
    scale = (width - label_width - 70) / longest
    parts = [
        f'<svg id="timing" width="{width}" '
        f'height="{height * len(shown) + 24}" role="img" aria-label="time per step">',
        "<title>Time per step (ms)</title>",
    ]
    for index, (label, start, length, outcome) in enumerate(shown):
        y = index * height + 4
        x = label_width + start * scale
        text = escape(label if len(label) <= 44 else label[:43] + "…")
        parts.append(
            f'<text x="0" y="{y + 12}">{text}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{max(length * scale, 1):.1f}" '
            f'height="{height - 6}" fill="{_COLORS[outcome]}"><title>{escape(label)}: '
            f"{length:.0f} ms</title></rect>"
            f'<text x="{x + max(length * scale, 1) + 4:.1f}" y="{y + 12}" fill="#555">'
            f"{length:.0f} ms</text>"
        )
    parts.append("</svg>")
    more = f'<p class="dim">…and {left} more steps</p>' if left > 0 else ""
    return '<h2 style="font-size:16px">Timing</h2>' + "".join(parts) + more


def _short(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _file(file: FileResult, number: int, hidden: set[str]) -> str:
    spec = file.spec
    verdict = "passed" if file.passed else "failed"
    title = escape(spec.path)  # the spec's own words: as written
    if spec.name and spec.name != _short(spec.path).rsplit(".", 1)[0]:
        title += f' <span class="dim">— {escape(spec.name)}</span>'
    out = [
        f'<section class="file {verdict}"><h2><span class="{verdict}">'
        f"{verdict.upper()}</span> {title} "
        f'<span class="dim">{file.duration_ms:.0f} ms</span></h2>'
    ]
    if file.error is not None:
        out.append(_failure(file.error.message, file.error.source, file, hidden))
    out += [_step(file, step, f"{number}-{n}", hidden) for n, step in enumerate(file.steps)]
    out.append("</section>")
    return "\n".join(out)


def _step(file: FileResult, step: StepResult, index: str, hidden: set[str]) -> str:
    bad = step.outcome in FAILING
    words = [f'<span class="mark {step.outcome.value}">{_LABELS[step.outcome]}</span>']
    words.append(f"<b>{escape(step.name)}</b>")
    if step.request is not None:
        words.append(escape(mask(f"{step.request.method} {step.request.url}", hidden)))
    if step.response is not None:
        words.append(f"<b>{step.response.status}</b>")
    if step.outcome is not Outcome.SKIPPED:
        words.append(f'<span class="dim">{step.duration_ms:.0f} ms</span>')
    if step.attempts > 1:
        words.append(f'<span class="dim">{step.attempts} attempts</span>')
    if step.skip_reason:
        words.append(f'<span class="dim">skipped: {escape(mask(step.skip_reason, hidden))}</span>')
    if step.xfail_message:
        text = escape(mask(step.xfail_message, hidden))
        words.append(f'<span class="{step.outcome.value}">{text}</span>')
    identifier = f"step-{index}"
    out = [
        f'<details class="step {step.outcome.value}" id="{identifier}"{" open" if bad else ""}>',
        f"<summary>{' '.join(words)}</summary>",
        f'<div class="spec">{escape(f"{step.source.file}:{step.source.line}")}</div>',
    ]
    if step.error is not None:
        out.append(_failure(step.error.message, step.error.source, file, hidden))
    for expectation in step.failed_expectations:
        out.append(_failure(describe_failure(expectation), expectation.source, file, hidden))
    for capture in step.failed_captures:
        text = f"capture {capture.name}: {capture.error}"
        out.append(_failure(text, capture.source, file, hidden))
    if step.attempts > 1:
        out.append(
            f'<p class="dim">Retried: {step.attempts} attempts in all; shown is the last.</p>'
        )
    captured = [c for c in step.captures if c.error is None]
    if captured:
        items = "".join(
            f"<li>{escape(c.name)} = {escape(mask(format_value(c.value), hidden))}</li>"
            for c in captured
        )
        out.append(f"<h3>Captured</h3><ul>{items}</ul>")
    if step.request is not None:
        out.append(_request(step.request, hidden))
    if step.response is not None:
        out.append(_response(step.response, hidden))
    out.append("</details>")
    return "\n".join(out)


def _failure(message: str, source: Source, file: FileResult, hidden: set[str]) -> str:
    lines = file.spec.lines_of(source.file)
    quoted = ""
    if 0 < source.line <= len(lines):
        quoted = f"\n{source.line} | {lines[source.line - 1].rstrip()}"
    where = f"--> {source.file}:{source.line}{quoted}"
    return (
        f'<div class="failure"><pre>{escape(mask(message, hidden))}</pre>'
        f'<pre class="spec">{escape(mask(where, hidden))}</pre></div>'
    )


def _request(request: SentRequest, hidden: set[str]) -> str:
    head = f"{request.method} {request.url}\n" + _headers(request.headers, hidden)
    body = ""
    if request.body:
        body = _body(request.body, request.headers, hidden)
    elif request.body_file:
        body = escape(f"(the bytes of {mask(request.body_file, hidden)})")
    return "<h3>Request</h3><pre>" + escape(mask(head, hidden)) + "\n\n" + body + "</pre>"


def _response(response: Response, hidden: set[str]) -> str:
    head = f"{response.status} {response.reason}".rstrip() + f" ({response.size} bytes)\n"
    head += _headers(response.headers, hidden)
    body = _body(response.content, response.headers, hidden) if response.content else ""
    if not response.content and response.size > 0:
        body = "(body not kept)"
    return "<h3>Response</h3><pre>" + escape(mask(head, hidden)) + "\n\n" + body + "</pre>"


def _headers(headers: Headers, hidden: set[str]) -> str:
    return "\n".join(f"{name}: {mask_header(name, value, hidden)}" for name, value in headers)


def _body(content: bytes, headers: Headers, hidden: set[str]) -> str:
    """Escaped body text: JSON indented, binary data as its size, cut at BODY_LIMIT."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return escape(f"({len(content)} bytes of binary data, {headers.get('content-type')})")
    with contextlib.suppress(ValueError, RecursionError):
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    text = mask(text, hidden)  # before cutting: half a secret is still a secret
    if len(text) > BODY_LIMIT:
        text = text[:BODY_LIMIT] + f"\n… ({len(text) - BODY_LIMIT} more characters)"
    return escape(text)
