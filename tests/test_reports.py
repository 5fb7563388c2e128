"""--junit and --report-json: what CI systems and scripts read after a run.

No JUnit XSD ships in a package on PyPI that we could install (junitparser, junit-xml,
junit2html, unittest-xml-reporting and sphinx-test-reports were checked), so
``assert_jenkins_junit`` encodes the rules of jenkins-junit.xsd — the schema Jenkins and
JUnit 5 publish, the strictest of the common ones — and every report is parsed and held
to them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers import line_of, run_cli, run_process, write_spec
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.atomicfile import write_atomic

# jenkins-junit.xsd: element → (allowed attributes, required attributes, children in order
# as (tag, at most how many; None for unbounded)).
SCHEMA = {
    "testsuites": (
        {"name", "time", "tests", "failures", "disabled", "errors"},
        set(),
        [("testsuite", None)],
    ),
    "testsuite": (
        {
            "name", "tests", "failures", "errors", "time", "disabled", "skipped",
            "timestamp", "hostname", "id", "package",
        },
        {"name", "tests"},
        [("properties", 1), ("testcase", None), ("system-out", 1), ("system-err", 1)],
    ),
    "testcase": (
        {"name", "assertions", "time", "classname", "status"},
        {"name"},
        [("skipped", 1), ("error", None), ("failure", None), ("system-out", None),
         ("system-err", None)],
    ),
    "failure": ({"type", "message"}, set(), []),
    "error": ({"type", "message"}, set(), []),
    "skipped": (set(), set(), []),
    "system-out": (set(), set(), []),
    "system-err": (set(), set(), []),
}  # fmt: skip


def assert_jenkins_junit(element: ET.Element) -> None:
    allowed, required, children = SCHEMA[element.tag]
    assert set(element.attrib) <= allowed, (element.tag, set(element.attrib) - allowed)
    assert required <= set(element.attrib), (element.tag, required - set(element.attrib))
    position = 0
    seen = 0
    for child in element:
        while position < len(children) and children[position][0] != child.tag:
            position, seen = position + 1, 0
        assert position < len(children), f"<{child.tag}> not allowed here in <{element.tag}>"
        seen += 1
        limit = children[position][1]
        assert limit is None or seen <= limit, f"too many <{child.tag}> in <{element.tag}>"
        assert_jenkins_junit(child)


def junit(path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert_jenkins_junit(root)
    return root


def cases(root: ET.Element) -> dict[str, ET.Element]:
    return {case.get("name"): case for case in root.iter("testcase")}


LOGIN = """
  - name: login
    request:
      method: POST
      url: /v3/auth/tokens
      json:
        auth:
          identity:
            methods: [password]
            password: {user: {name: admin, password: "{{ password }}", domain: {name: demo}}}
    expect: {status: 201}
    capture: {token: {header: X-Subject-Token}}
"""


def mixed_spec(srv, tmp_path):
    """A pass, a failed expectation leaking the token, a refused connection, a skip."""
    return write_spec(
        tmp_path,
        f"""
name: Mixed
base_url: {srv.url}
vars: {{password: "000000"}}
steps:"""
        + LOGIN
        + """
  - name: token in the open
    request:
      url: /echo
      params: {t: "{{ token }}"}
      headers: {X-Auth-Token: "{{ token }}"}
    expect:
      status: 200
      jsonpath:
        $.query.t: nope
        $.method: GET
        $.path: /nowhere
  - name: never sent
    request: {url: /json}
""",
        "mixed.yaml",
    )


def refused_spec(tmp_path):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return write_spec(
        tmp_path,
        f"steps:\n  - name: refused\n    request: {{url: 'http://127.0.0.1:{port}/'}}\n",
        "refused.yaml",
    )


def test_junit_has_a_suite_per_file_and_a_case_per_step(srv, capsys, tmp_path):
    mixed, refused = mixed_spec(srv, tmp_path), refused_spec(tmp_path)
    out = tmp_path / "out.xml"
    result = run_cli(capsys, "--junit", str(out), str(mixed), str(refused))
    assert result.code == 1

    root = junit(out)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [str(mixed), str(refused)]
    counts = [tuple(s.get(k) for k in ("tests", "failures", "errors", "skipped")) for s in suites]
    assert counts == [("3", "1", "0", "1"), ("1", "0", "1", "0")]
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "1", "1")
    found = cases(root)
    assert list(found) == ["login", "token in the open", "never sent", "refused"]
    assert found["login"].find("*") is None  # passed: no child
    assert float(found["login"].get("time")) > 0
    assert found["login"].get("classname") == ".".join(mixed.with_suffix("").parts[1:])

    failure = found["token in the open"].find("failure")
    assert failure.get("type") == "expectation"
    assert failure.get("message") == (
        'jsonpath $.query.t: expected "nope", got "***"; '
        'jsonpath $.path: expected "/nowhere", got "/echo"'
    )
    assert f"--> {mixed}:{line_of(mixed, '$.query.t: nope')}" in failure.text
    assert f"request:\n        GET {srv.url}/echo?t=***\n" in failure.text  # as sent

    skipped = found["never sent"].find("skipped")
    assert skipped.text == "step 'token in the open' failed"

    error = found["refused"].find("error")
    assert error.get("type") == "transport"
    assert "refused" in error.get("message").lower()


def test_secrets_never_reach_either_report(srv, capsys, tmp_path):
    spec = mixed_spec(srv, tmp_path)
    xml_out, json_out = tmp_path / "r.xml", tmp_path / "r.json"
    result = run_cli(
        capsys, "--show-secrets", "--junit", str(xml_out), "--report-json", str(json_out), str(spec)
    )
    assert result.code == 1
    (token,) = srv.app.tokens
    assert token in result.out  # --show-secrets is for the terminal only
    for report in (xml_out, json_out):
        text = report.read_text(encoding="utf-8")
        assert token not in text
        assert "000000" not in text
        assert "***" in text


def test_the_json_report_has_every_step_and_expectation(srv, capsys, tmp_path):
    spec = mixed_spec(srv, tmp_path)
    out = tmp_path / "r.json"
    assert run_cli(capsys, "--report-json", str(out), str(spec)).code == 1

    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["format"] == 1
    assert (report["passed"], report["exit_code"]) == (False, 1)
    assert report["summary"] == {
        "files": 1, "steps": 3, "passed": 1, "failed": 1, "errors": 0, "skipped": 1,
        "xfailed": 0, "xpassed": 0, "not_run": 0,
    }  # fmt: skip
    (file,) = report["files"]
    assert (file["path"], file["name"], file["passed"]) == (str(spec), "Mixed", False)
    login, leak, never = file["steps"]
    assert login["outcome"] == "passed"
    assert login["request"] == {"method": "POST", "url": f"{srv.url}/v3/auth/tokens"}
    assert login["status"] == 201 and login["duration_ms"] > 0
    assert login["captures"] == [
        {"name": "token", "captured": True, "error": None, "line": line_of(spec, "capture:")}
    ]
    assert leak["request"]["url"] == f"{srv.url}/echo?t=***"
    by_subject = {e["subject"]: e for e in leak["expectations"]}
    assert by_subject["jsonpath $.method"] == {
        "subject": "jsonpath $.method",
        "operator": "equals",
        "expected": "GET",
        "actual": "GET",
        "found": True,
        "passed": True,
        "reason": None,
        "message": None,
        "line": line_of(spec, "$.method: GET"),
    }
    assert by_subject["jsonpath $.query.t"]["actual"] == "***"
    assert by_subject["jsonpath $.path"]["message"] == (
        'jsonpath $.path: expected "/nowhere", got "/echo"'
    )
    assert never["outcome"] == "skipped" and never["request"] is None
    assert never["skip_reason"] == "step 'token in the open' failed"


def test_a_file_that_cannot_start_is_an_error_case(capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        # a runtime failure (the static check cannot see a division by zero)
        "vars: {a: '{{ 1 // 0 }}'}\nsteps:\n  - name: x\n    request: {url: 'http://127.0.0.1:9/'}\n",
    )
    out = tmp_path / "r.xml"
    result = run_cli(capsys, "--junit", str(out), str(spec))
    assert result.code == 2
    (case,) = junit(out).iter("testcase")
    assert case.get("name") == "(setup)"
    error = case.find("error")
    assert error.get("type") == "spec"
    assert "ZeroDivisionError" in error.get("message")
    assert f"--> {spec}:1" in error.text


def test_characters_xml_cannot_carry_are_replaced(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
steps:
  - name: "odd\\x01name"
    request: {{url: "{srv.url}/text"}}
    expect:
      body: {{contains: "bell\\x07"}}
""",
    )
    out = tmp_path / "r.xml"
    assert run_cli(capsys, "--junit", str(out), str(spec)).code == 1
    (case,) = junit(out).iter("testcase")  # parses: no raw control characters
    assert case.get("name") == "odd\ufffdname"
    assert 'expected to contain "bell\\u0007"' in case.find("failure").get("message")


# -- writing the files ----------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--junit", "--report-json"])
def test_a_report_into_a_missing_folder_is_refused_before_anything_is_sent(
    srv, capsys, tmp_path, flag
):
    spec = mixed_spec(srv, tmp_path)
    target = tmp_path / "no" / "such" / "report.out"
    result = run_cli(capsys, flag, str(target), str(spec))
    assert result.code == 2
    assert result.err == f"apirun: error: {flag} {target}: there is no folder {target.parent}\n"
    assert srv.app.requests == []


def test_a_folder_is_not_a_report_file(srv, capsys, tmp_path):
    result = run_cli(capsys, "--junit", str(tmp_path), str(mixed_spec(srv, tmp_path)))
    assert result.code == 2
    assert "give a file name, such as report.xml" in result.err
    assert srv.app.requests == []


def test_an_interrupted_write_leaves_the_old_report_whole(tmp_path):
    report = tmp_path / "report.xml"
    report.write_bytes(b"<good/>")

    def chunks():
        yield b"<testsuites>"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(report, chunks())
    assert report.read_bytes() == b"<good/>"
    assert os.listdir(tmp_path) == ["report.xml"]  # no temporary file left behind

    write_atomic(report, [b"<new/>", b"\n"])
    assert report.read_bytes() == b"<new/>\n"
    assert os.listdir(tmp_path) == ["report.xml"]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_during_a_run_writes_the_report_of_what_ran(srv, tmp_path, jobs):
    spec = write_spec(
        tmp_path, f"steps:\n  - name: slow\n    request: {{url: '{srv.url}/slow?seconds=5'}}\n"
    )
    report = tmp_path / "report.xml"
    report.write_bytes(b"<previous/>")
    child = subprocess.Popen(
        [sys.executable, "-m", "runner", "--jobs", jobs, "--junit", str(report), str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not srv.app.find(path="/slow") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert srv.app.find(path="/slow"), "the request never arrived"
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=10)
    finally:
        child.kill()
    assert child.returncode == 130
    assert "interrupted" in err
    (case,) = junit(report).iter("testcase")
    assert case.get("name") == "slow"
    assert case.find("error").get("type") == "interrupted"
    assert sorted(os.listdir(tmp_path)) == ["report.xml", "spec.yaml"]  # no temporary file


# -- the example specs, as CI runs them -----------------------------------------------------------

SPECS = Path(__file__).resolve().parent.parent / "specs"


def test_the_examples_run_green_into_a_junit_report(srv, tmp_path):
    report = tmp_path / "out.xml"
    done = run_process(str(SPECS), "--junit", str(report), env={"OS_AUTH_URL": f"{srv.url}/v3"})
    assert done.code == 0, done.text
    root = junit(report)
    assert len(root.findall("testsuite")) == len(list(SPECS.glob("*.yaml")))
    assert int(root.get("tests")) == len(list(root.iter("testcase"))) > 0
    assert (root.get("failures"), root.get("errors")) == ("0", "0")
    marked = {
        case.get("name"): case.find("skipped").text
        for case in root.iter("testcase")
        if case.find("*") is not None
    }
    limits = "needs a Keystone with unified limits configured (registered limits for compute)"
    assert marked == {  # known-issues.yaml and unified-limits.yaml; nothing else
        "version document is cacheable": "expected failure: Keystone sends no Cache-Control "
        "header with its version document; header Cache-Control exists: expected to exist, "
        "got nothing",
        "unified limits": "needs a Keystone with unified limits configured (registered limits)",
        "log in › get token": limits,
        "registered limits": limits,
    }


def test_a_failing_example_is_a_failed_testcase_with_its_message(srv, tmp_path):
    report = tmp_path / "out.xml"
    done = run_process(
        str(SPECS / "users.yaml"),
        "--var",
        "password=wrong",
        "--junit",
        str(report),
        env={"OS_AUTH_URL": f"{srv.url}/v3"},
    )
    assert done.code == 1
    found = cases(junit(report))
    failure = found["get token"].find("failure")
    assert failure.get("message").startswith("status: expected 201, got 401")
    assert found["list users"].find("skipped").text == "step 'get token' failed"


def test_a_step_failing_only_on_a_capture_is_a_capture_failure(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"steps:\n  - name: c\n    request: {{url: '{srv.url}/json'}}\n"
        "    capture: {x: $.nope}\n",
    )
    out = tmp_path / "r.xml"
    assert run_cli(capsys, "--junit", str(out), str(spec)).code == 1
    failure = cases(junit(out))["c"].find("failure")
    assert (failure.get("type"), failure.get("message")) == (
        "capture",
        "capture x: JSONPath $.nope matched nothing",
    )


@pytest.mark.parametrize("jobs", ["1", "3"])
def test_the_json_report_rendered_as_files_finish_is_the_one_rendered_at_once(srv, tmp_path, jobs):
    """The command renders each file's part of --report-json as the file finishes (with
    --jobs, while the others run); the bytes are those of the report rendered whole."""
    from runner.inputs import load_checked
    from runner.report.json_report import FileParts, json_report, json_report_bytes
    from runner.schedule import run_specs

    folder = tmp_path / "specs"
    folder.mkdir()
    mixed = mixed_spec(srv, folder)
    paths = [mixed, refused_spec(folder)]
    for n in range(3):
        paths.append(folder / f"copy{n}.yaml")
        paths[-1].write_text(mixed.read_text().replace("name: Mixed", f"name: Copy {n}"))
    specs = [load_checked(str(path), {}) for path in paths]
    secrets = {"000000", "not in any file"}
    parts, half = FileParts(secrets), FileParts(secrets)
    seen: list = []

    def finished(index, file):
        parts.add(file)
        if index % 2:
            half.add(file)
        seen.append(file)

    result = run_specs(specs, on_finished=finished, jobs=int(jobs))
    assert len(seen) == len(specs) and result.exit_code == 1
    whole = json_report_bytes(result, secrets)
    assert b"000000" not in whole and json.loads(whole)["summary"]["files"] == len(specs)
    # The same data as the report built whole and masked value by value (json_report).
    assert json.loads(whole) == json.loads(json.dumps(json_report(result, secrets)))
    assert json_report_bytes(result, secrets, parts) == whole
    assert json_report_bytes(result, secrets, half) == whole
    # Parts rendered with other secrets are not used.
    assert json_report_bytes(result, secrets, FileParts(set())) == whole
    empty = type(result)()
    assert json_report_bytes(empty, secrets, FileParts(secrets)) == json_report_bytes(empty)


_KEYS = st.one_of(st.text(), st.integers(), st.floats(), st.booleans(), st.none())
_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and ±Infinity too, as json writes them by default
    st.text(),  # any code point, control characters and quotes included
    st.frozensets(st.integers(), max_size=3),  # no JSON value: json's default=repr
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(_KEYS, inner, max_size=4),
    ),
    max_leaves=30,
)


@given(_VALUES)
@settings(max_examples=300, deadline=None)
def test_the_json_report_writes_the_text_jsons_indenting_encoder_writes(value):
    """The report's own writer (json_report._dumps, faster) gives json.dumps's text exactly."""
    from runner.report.json_report import _dumps

    assert _dumps(value) == json.dumps(value, indent=2, ensure_ascii=False, default=repr)


def test_the_json_report_refuses_a_key_json_refuses():
    from runner.report.json_report import _dumps

    with pytest.raises(TypeError, match="keys must be str, int, float, bool or None, not tuple"):
        _dumps({(1, 2): "a"})
    with pytest.raises(TypeError, match="not tuple"):
        json.dumps({(1, 2): "a"}, indent=2)
