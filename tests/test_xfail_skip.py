"""Expected failures and skips: ``xfail:`` and ``skip:`` on a step, ``skip:`` and ``when:``
on a file, ``defaults.continue_on_failure``. Each test proves what the server received (what
was sent, what was not) and what the user sees: the exit code, the lines, the reports.
"""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET

import pytest
from helpers import assert_points, line_of, run_cli, write_spec
from test_reports import assert_jenkins_junit


def paths(srv) -> list[str]:
    return [r.path for r in srv.app.requests]


def closed_port() -> int:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- xfail ------------------------------------------------------------------------------------


def test_a_failing_xfail_step_is_an_expected_failure_and_the_file_goes_on(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: known bug
            xfail: the server answers 503 (bug 42)
            request: {{url: /status/503}}
            expect: {{status: 200}}
          - name: no reason given
            xfail: true
            request: {{url: /status/404}}
          - name: after them
            request: {{url: /echo/after}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 0, result.text
    assert paths(srv) == ["/status/503", "/status/404", "/echo/after"]
    lines = result.out.splitlines()
    bug, bare = [line for line in lines if line.lstrip().startswith("XFAIL")]
    assert bug.lstrip().startswith("XFAIL  known bug")
    assert bug.endswith("(expected failure: the server answers 503 (bug 42))")
    assert "no reason given" in bare and bare.endswith("(expected failure)")
    assert "- status: expected 200, got 503" in result.out  # what failed, as expected
    assert_points(result.out, spec, line_of(spec, "expect: {status: 200}"))
    assert "1 passed, 0 failed, 0 skipped, 2 xfailed" in result.out


def test_an_xfail_step_that_passes_fails_the_file_and_stops_it(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: fixed bug
            xfail: bug 42
            request: {{url: /status/200}}
          - name: not reached
            request: {{url: /echo/after}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 1
    assert paths(srv) == ["/status/200"]
    (line,) = [line for line in result.out.splitlines() if line.lstrip().startswith("XPASS")]
    assert line.lstrip().startswith("XPASS  fixed bug")
    assert line.endswith("(unexpectedly passed: bug 42)")
    assert "(skipped: step 'fixed bug' failed)" in result.out
    assert "0 passed, 1 failed, 1 skipped" in result.out


def test_an_unexpected_pass_under_continue_on_failure_lets_the_file_go_on(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: fixed bug
            xfail: bug 42
            continue_on_failure: true
            request: {{url: /status/200}}
          - name: still runs
            request: {{url: /echo/after}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 1
    assert paths(srv) == ["/status/200", "/echo/after"]


def test_an_xfail_steps_captures_are_kept_and_one_it_could_not_take_is_undefined_later(
    srv, capsys, tmp_path
):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: wrong status, right body
            xfail: the echo answers 200
            request: {{url: /echo/taken}}
            expect: {{status: 201}}
            capture: {{where: $.path}}
          - name: uses the capture
            request: {{url: "/echo/again{{{{ where }}}}"}}
          - name: capture fails
            xfail: true
            continue_on_failure: true
            request: {{url: /echo/x}}
            capture: {{missing: $.nothing.here}}
          - name: needs the missing one
            request: {{url: "/echo/{{{{ missing }}}}"}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert paths(srv) == ["/echo/taken", "/echo/again/echo/taken", "/echo/x"]
    assert "undefined variable: 'missing' is undefined" in result.out
    # The last step is an error of its own (a spec error: exit 2): xfail covers its step only.
    assert result.code == 2


def test_xfail_covers_a_refused_connection_and_an_undefined_variable_not_a_bad_template(
    srv, capsys, tmp_path
):
    port = closed_port()
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        defaults: {{continue_on_failure: true}}
        steps:
          - name: no capture
            request: {{url: /echo/a}}
            capture: {{id: $.nothing}}
          - name: uses it
            xfail: the capture above fails
            request: {{url: "/echo/{{{{ id }}}}"}}
          - name: nothing listens
            xfail: the service is not deployed here
            request: {{url: "http://127.0.0.1:{port}/", timeout: 5}}
        """,
    )
    result = run_cli(capsys, "--report-json", str(tmp_path / "r.json"), str(spec))
    steps = json.loads((tmp_path / "r.json").read_text())["files"][0]["steps"]
    assert [s["outcome"] for s in steps] == ["failed", "xfail", "xfail"]
    assert steps[2]["error"]["kind"] == "transport"
    assert result.code == 1  # the first step's failure, not a spec error
    broken = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: wrong whatever the server says
            xfail: true
            request: {{url: "/echo/{{{{ 1 // 0 }}}}"}}
        """,
        "broken.yaml",
    )
    result = run_cli(capsys, str(broken))
    assert result.code == 2
    assert "ERROR  wrong whatever the server says" in result.out
    assert paths(srv) == ["/echo/a"]


def test_xfail_applies_to_each_item_of_a_loop(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: codes
            xfail: only 200 is 2xx
            continue_on_failure: true
            loop: [404, 200]
            request: {{url: "/status/{{{{ item }}}}"}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 1
    assert paths(srv) == ["/status/404", "/status/200"]
    assert "XFAIL  codes [0]" in result.out and "XPASS  codes [1]" in result.out


# -- skip -------------------------------------------------------------------------------------


def test_a_skipped_step_sends_nothing_and_says_why(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: first
            request: {{url: /echo/1}}
          - name: parked
            skip: waiting for the v2 API
            xfail: true
            request: {{url: /echo/never}}
          - name: looped
            skip: true
            loop: [1, 2]
            request: {{url: "/echo/{{{{ item }}}}"}}
          - name: last
            request: {{url: /echo/2}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 0, result.text
    assert paths(srv) == ["/echo/1", "/echo/2"]
    assert "(skipped: waiting for the v2 API)" in result.out
    assert "(skipped: skip: true)" in result.out
    assert "2 passed, 0 failed, 2 skipped" in result.out


def test_a_skipped_file_sends_nothing_and_starts_no_fixture(srv, capsys, tmp_path, monkeypatch):
    log = tmp_path / "fixtures.log"
    monkeypatch.setenv("APIRUN_FIXTURE_LOG", str(log))
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        skip: needs a cloud with unified limits
        fixtures: [tests.fixture_classes:Plain]
        steps:
          - name: limits
            request: {{url: /echo/limits}}
        finally:
          - name: clean up
            request: {{url: /echo/clean}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 0, result.text
    assert paths(srv) == []
    assert not log.exists()
    assert result.out.count("(skipped: needs a cloud with unified limits)") == 2
    assert "0 passed, 0 failed, 2 skipped" in result.out


def test_a_files_when_is_evaluated_once_with_its_variables(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        vars: {{region: RegionOne}}
        when: region == 'RegionTwo'
        steps:
          - name: only in region two
            request: {{url: /echo/two}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 0, result.text
    assert paths(srv) == []
    assert "(skipped: when: region == 'RegionTwo' is false)" in result.out
    result = run_cli(capsys, "--var", "region=RegionTwo", str(spec))
    assert result.code == 0, result.text
    assert paths(srv) == ["/echo/two"]
    assert "1 passed, 0 failed, 0 skipped" in result.out


def test_a_files_when_that_cannot_be_evaluated_is_the_files_error(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        vars: {{limit: "3"}}
        when: "{{{{ (limit | int) // 0 }}}}"
        steps:
          - name: s
            request: {{url: /echo/s}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 2
    assert paths(srv) == []
    assert "ZeroDivisionError" in result.text


def test_the_check_validates_a_files_when_like_a_steps(capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        vars: {region: RegionOne}
        when: regoin == 'RegionTwo'
        steps:
          - name: s
            request: {url: "http://127.0.0.1:9/"}
        """,
    )
    result = run_cli(capsys, "check", str(spec))
    assert result.code == 2
    assert "undefined variable 'regoin'" in result.err
    assert "did you mean 'region'?" in result.err
    assert_points(result.err, spec, 2, 7)


def test_dry_run_shows_what_skip_and_when_leave_out(capsys, tmp_path):
    skipped = write_spec(
        tmp_path,
        """
        skip: not today
        steps:
          - name: a
            request: {url: "http://127.0.0.1:9/a"}
        """,
        "skipped.yaml",
    )
    steps = write_spec(
        tmp_path,
        """
        when: "true"
        steps:
          - name: b
            skip: parked
            request: {url: "http://127.0.0.1:9/b"}
          - name: c
            xfail: bug 7
            request: {url: "http://127.0.0.1:9/c"}
        """,
        "steps.yaml",
    )
    result = run_cli(capsys, "--dry-run", str(skipped), str(steps))
    assert result.code == 0, result.text
    assert "(would be skipped: not today)" in result.out
    assert "(would be skipped: parked)" in result.out
    assert "xfail: expected to fail (bug 7)" in result.out
    assert "http://127.0.0.1:9/c" in result.out and "127.0.0.1:9/b" not in result.out


# -- defaults.continue_on_failure ---------------------------------------------------------------


def test_defaults_continue_on_failure_keeps_going_unless_a_step_says_otherwise(
    srv, capsys, tmp_path
):
    (tmp_path / "more.yaml").write_text(
        "steps:\n  - name: included fails\n    request: {url: /status/500}\n"
    )
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        defaults: {{continue_on_failure: true}}
        steps:
          - name: fails
            request: {{url: /status/500}}
          - name: include
            include: more.yaml
          - name: runs anyway
            request: {{url: /echo/1}}
          - name: stops here
            continue_on_failure: false
            request: {{url: /status/502}}
          - name: not reached
            request: {{url: /echo/2}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 1
    assert paths(srv) == ["/status/500", "/status/500", "/echo/1", "/status/502"]
    assert "(skipped: step 'stops here' failed)" in result.out


# -- bad forms -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("    xfail: 3", "'xfail' takes a reason (text) or true, found a number"),
        ("    skip: [a]", "'skip' takes a reason (text) or true, found a list"),
        ('    skip: "  "', "'skip' takes a reason (text) or true, found an empty string"),
        ("    xfail: {why: x}", "'xfail' takes a reason (text) or true, found a mapping"),
    ],
)
def test_a_bad_step_marker_is_a_spec_error_at_its_line(capsys, tmp_path, line, message):
    spec = write_spec(
        tmp_path,
        f"steps:\n  - name: s\n{line}\n    request: {{url: 'http://127.0.0.1:9/'}}\n",
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 2
    assert message in result.err and "(step 's')" in result.err
    assert_points(result.err, spec, 3, len(line.split(":")[0]) + 3)
    assert "Traceback" not in result.text


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("skip: 1\n", "'skip' takes a reason (text) or true, found a number", 1),
        ("when: [a]\n", "'when' takes an expression such as x == 1, found a list", 1),
        ("defaults:\n  continue_on_failure: yes please\n", "'continue_on_failure' must be", 2),
    ],
)
def test_a_bad_file_marker_is_a_spec_error_at_its_line(capsys, tmp_path, text, message, line):
    spec = write_spec(tmp_path, text + "steps:\n  - name: s\n    request: {url: 'http://h/'}\n")
    result = run_cli(capsys, "check", str(spec))
    assert result.code == 2
    assert message in result.err
    assert_points(result.err, spec, line)


def test_a_misspelt_key_is_refused_with_the_new_keys_named(capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        "skipp: x\nsteps:\n  - name: s\n    xfial: true\n    request: {url: 'http://h/'}\n",
    )
    result = run_cli(capsys, "check", str(spec))
    assert result.code == 2
    assert "unknown key 'skipp' in the spec file — did you mean 'skip'?" in result.err
    assert "unknown key 'xfial' in step 's' — did you mean 'xfail'?" in result.err


# -- reports ---------------------------------------------------------------------------------------


def marked_spec(srv, tmp_path):
    return write_spec(
        tmp_path,
        f"""
        name: Marked
        base_url: {srv.url}
        defaults: {{continue_on_failure: true}}
        steps:
          - name: known bug
            xfail: bug 42
            request: {{url: /status/503}}
          - name: fixed bug
            xfail: bug 7
            request: {{url: /status/200}}
          - name: parked
            skip: not yet
            request: {{url: /echo/never}}
        """,
        "marked.yaml",
    )


def test_junit_json_and_html_report_expected_failures(srv, capsys, tmp_path):
    spec = marked_spec(srv, tmp_path)
    xml, data, page = tmp_path / "r.xml", tmp_path / "r.json", tmp_path / "r.html"
    result = run_cli(
        capsys,
        *("--junit", str(xml), "--report-json", str(data), "--report-html", str(page)),
        str(spec),
    )
    assert result.code == 1
    assert "0 passed, 1 failed, 1 skipped, 1 xfailed" in result.out

    root = ET.parse(xml).getroot()
    assert_jenkins_junit(root)
    cases = {case.get("name"): case for case in root.iter("testcase")}
    expected = cases["known bug"].find("skipped")
    assert expected.text.startswith("expected failure: bug 42; status: expected 2xx, got 503")
    failure = cases["fixed bug"].find("failure")
    assert (failure.get("type"), failure.get("message")) == ("xpass", "unexpectedly passed: bug 7")
    assert cases["parked"].find("skipped").text == "not yet"
    (suite,) = root.iter("testsuite")
    assert (suite.get("failures"), suite.get("skipped")) == ("1", "2")

    report = json.loads(data.read_text())
    assert (report["summary"]["xfailed"], report["summary"]["xpassed"]) == (1, 1)
    steps = report["files"][0]["steps"]
    assert [(s["outcome"], s["xfail_reason"]) for s in steps] == [
        ("xfail", "bug 42"),
        ("xpass", "bug 7"),
        ("skipped", None),
    ]
    assert report["files"][0]["skip_reason"] is None

    html = page.read_text()
    assert '<span class="mark xfail">XFAIL</span>' in html
    assert '<span class="mark xpass">XPASS</span>' in html
    assert '<span class="xfail">expected failure: bug 42</span>' in html
    assert "1 xfail</span>" in html


def test_the_json_report_says_why_a_whole_file_was_skipped(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path, "skip: parked\nsteps:\n  - name: s\n    request: {url: 'http://h/'}\n"
    )
    assert run_cli(capsys, "--report-json", str(tmp_path / "r.json"), str(spec)).code == 0
    (file,) = json.loads((tmp_path / "r.json").read_text())["files"]
    assert file["skip_reason"] == "parked" and file["passed"] is True
    assert [s["skip_reason"] for s in file["steps"]] == ["parked"]
