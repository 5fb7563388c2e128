"""JUnit XML: the report format CI systems read (GitLab, Jenkins, GitHub test reporters).

A pure function of the results. One ``<testsuite>`` per spec file and one ``<testcase>`` per
step, with its time. A step whose expectations or captures did not hold is a ``<failure>``;
one that could not run (the request failed, a template could not render) is an ``<error>``;
a skipped step is ``<skipped>`` with the reason as its text, and so is an expected failure
(``expected failure: REASON``, then what failed), as pytest reports an xfail; a step marked
xfail that passed is a ``<failure>`` of type ``xpass`` (``unexpectedly passed: REASON``).
The message attribute lists what failed; the element's text is the console's report of the
step (expected and actual values, spec lines, the request as sent, the start of the
response). Secrets are always masked.

The shape fits the strictest common schema, the one Jenkins and JUnit 5 publish
(jenkins-junit.xsd): no element or attribute outside it, so strict readers accept it.
"""

from __future__ import annotations

import re
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import PurePosixPath

from ..masking import mask
from ..results import FAILING, FileResult, Outcome, RunResult, StepResult
from .console import Style, failure_messages, format_step

# Characters XML 1.0 cannot carry at all, even escaped (control characters from a body).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
SETUP_CASE = "(setup)"  # the test case standing for a file that could not start


def junit_xml(run: RunResult, secrets: Iterable[str] = ()) -> bytes:
    """The whole report as UTF-8 bytes with an XML declaration."""
    hidden = set(secrets)
    root = ET.Element("testsuites", name="apirun")
    totals = {"tests": 0, "failures": 0, "errors": 0}  # the schema has no skipped here
    for file in run.files:
        suite = _suite(file, hidden | file.secrets)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", _seconds(run.duration_ms))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _suite(file: FileResult, secrets: set[str]) -> ET.Element:
    spec = file.spec
    suite = ET.Element("testsuite", name=_text(spec.path, ()))  # the spec's words: as written
    classname = _classname(spec.path)
    cases = []
    if file.error is not None:
        case = ET.Element("testcase", name=SETUP_CASE, classname=classname, time="0.000")
        message = _text(file.error.message, secrets)
        error = ET.SubElement(case, "error", message=message, type=file.error.kind.value)
        error.text = f"{message}\n--> {file.error.source.file}:{file.error.source.line}"
        cases.append(case)
    cases += [_case(file, step, classname, secrets) for step in file.steps]
    counts = {"failures": "failure", "errors": "error", "skipped": "skipped"}
    suite.set("tests", str(len(cases)))
    for attribute, tag in counts.items():
        suite.set(attribute, str(sum(1 for case in cases if case.find(tag) is not None)))
    suite.set("time", _seconds(file.duration_ms))
    suite.extend(cases)
    return suite


def _case(file: FileResult, step: StepResult, classname: str, secrets: set[str]) -> ET.Element:
    case = ET.Element(
        "testcase",
        name=_text(step.name, ()),
        classname=classname,
        time=_seconds(step.duration_ms),
    )
    if step.outcome is Outcome.SKIPPED:
        # Text, not a message attribute: the schema makes <skipped> a plain string.
        ET.SubElement(case, "skipped").text = _text(step.skip_reason or "skipped", secrets)
    elif step.outcome is Outcome.XFAIL:  # skipped, as pytest reports an xfail
        text = "; ".join(failure_messages(step))
        ET.SubElement(case, "skipped").text = _text(text, secrets, file.own_text)
    elif step.outcome in FAILING:
        if step.outcome is Outcome.XPASS:
            tag, kind = "failure", "xpass"
        elif step.error is not None:  # transport or spec problem: the step could not run
            tag, kind = "error", step.error.kind.value
        else:
            tag, kind = "failure", "expectation" if step.failed_expectations else "capture"
        message = "; ".join(failure_messages(step))
        detail = textwrap.dedent(
            format_step(file.spec, step, Style(False), secrets, show_secrets=False)
        )
        own = file.own_text
        element = ET.SubElement(case, tag, message=_text(message, secrets, own), type=kind)
        element.text = _text(detail, secrets, own)
    return case


def _classname(path: str) -> str:
    """``specs/users.yaml`` → ``specs.users``: Jenkins reads dots as package and class."""
    pure = PurePosixPath(path.replace("\\", "/"))
    parts = (*pure.parent.parts, pure.stem)
    return ".".join(part for part in parts if part not in ("", ".", "..", "/"))


def _seconds(milliseconds: float) -> str:
    return f"{milliseconds / 1000.0:.3f}"


def _text(text: str, secrets: Iterable[str], own: Iterable[str] = ()) -> str:
    return _NOT_XML.sub("\ufffd", mask(text, secrets, own))
