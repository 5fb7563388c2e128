"""The pytest plugin: spec files collected and run as pytest items, on the same engine.

Inner runs use pytester (in-process, fast); the example specs also run through a real
``pytest specs/ -n 2`` with pytest-xdist, from the repository's own configuration.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

# Imported here, not first inside an in-process pytester run: pytester removes the modules
# an inner run imported, and importing runner anew for each run mixes two copies of it.
import runner.cli
import runner.engine
import runner.loader
import runner.pytest_plugin
import runner.report.console
import runner.variables  # noqa: F401

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
# Inner runs need only our plugin; hypothesis's re-imports itself in each one (~1 s).
PLUGIN = ("-p", "runner.pytest_plugin", "-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def spec(srv, steps: str, name: str = "", tags: str = "") -> str:
    head = f"name: {name}\n" if name else ""
    return head + tags + f"base_url: {srv.url}\nsteps:\n" + textwrap.dedent(steps)


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
- name: users
  request: {url: /v3/users, headers: {X-Auth-Token: "{{ token }}"}}
  expect:
    jsonpath:
      $.users[*].name: {contains: admin}
"""


def collected(result: pytest.RunResult) -> list[str]:
    return sorted(line for line in result.outlines if "::" in line and " " not in line.strip())


def test_default_patterns_collect_one_item_per_spec_file(pytester, srv):
    ok = spec(srv, "- {name: ping, request: {url: /json}}\n")
    pytester.makefile(".yaml", test_one=ok, other=ok)
    pytester.makefile(".apirun.yaml", two=ok)
    pytester.makefile(".yml", test_three=ok)
    result = pytester.runpytest(*PLUGIN, "--collect-only", "-q")
    assert sorted(result.outlines[:3]) == [
        "test_one.yaml::test_one",
        "test_three.yml::test_three",
        "two.apirun.yaml::two.apirun",
    ]
    assert "3 tests collected" in result.stdout.str()


def test_the_ini_option_and_the_command_line_choose_the_files(pytester, srv):
    ok = spec(srv, "- {name: ping, request: {url: /json}}\n")
    pytester.mkdir("specs")
    pytester.mkdir("specs/deeper")
    (pytester.path / "specs" / "users.yaml").write_text(ok)
    (pytester.path / "specs" / "deeper" / "other.yaml").write_text(ok)
    pytester.makefile(".yaml", test_top=ok)
    pytester.makeini("[pytest]\napirun_files = specs/*.yaml\n")

    result = pytester.runpytest(*PLUGIN, "--collect-only", "-q")
    assert result.outlines[0] == "specs/users.yaml::users"  # '*' does not cross '/'
    assert "1 test collected" in result.stdout.str()

    result = pytester.runpytest(*PLUGIN, "--collect-only", "-q", "--apirun-glob", "*.yaml")
    assert "3 tests collected" in result.stdout.str()

    # A file named on the command line is collected whatever its name.
    result = pytester.runpytest(*PLUGIN, "--collect-only", "-q", "specs/deeper/other.yaml")
    assert result.outlines[0] == "specs/deeper/other.yaml::other"


def test_a_passing_and_a_failing_spec(pytester, srv):
    pytester.makefile(".yaml", test_good=spec(srv, LOGIN, "Good login"))
    bad = spec(srv, LOGIN.replace("{{ password }}", "wrong"), "Bad login")
    pytester.makefile(".yaml", test_bad=bad)
    result = pytester.runpytest(*PLUGIN, "--apirun-var", "password=000000")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "FAILED test_bad.yaml::Bad login - step 'login' failed: status: expected 201" in out
    assert "test_bad.yaml — Bad login" in out
    line = bad.splitlines().index("  expect: {status: 201}") + 1
    assert f"--> test_bad.yaml:{line}" in out
    assert "SKIP   users  (skipped: step 'login' failed)" in out
    assert "0 passed, 1 failed, 1 skipped" in out
    assert "Traceback" not in out


def test_xfail_and_skip_are_pytests_xfail_and_skip(pytester, srv):
    known = "- {name: known bug, xfail: bug 42, request: {url: /status/503}}\n"
    pytester.makefile(".yaml", test_known=spec(srv, known, "Known"))
    fixed = "- {name: fixed bug, xfail: bug 7, request: {url: /status/200}}\n"
    pytester.makefile(".yaml", test_fixed=spec(srv, fixed, "Fixed"))
    parked = spec(srv, "- {name: s, request: {url: /echo/never}}\n", tags="skip: not yet\n")
    pytester.makefile(".yaml", test_parked=parked)
    result = pytester.runpytest(*PLUGIN, "-rfsxX", "-v")
    result.assert_outcomes(xfailed=1, failed=1, skipped=1)
    out = result.stdout.str()
    assert "XFAIL test_known.yaml::Known - step 'known bug': expected failure: bug 42" in out
    assert "\nstep 'fixed bug' failed: unexpectedly passed: bug 7\n" in out  # its headline
    assert "test_parked.yaml::test_parked SKIPPED (not yet)" in out
    assert sorted(r.path for r in srv.app.requests) == ["/status/200", "/status/503"]


def test_secrets_are_masked_in_the_failure_report(pytester, srv):
    leak = spec(
        srv,
        LOGIN
        + """
- name: leak
  request: {url: /echo, params: {t: "{{ token }}"}}
  expect:
    jsonpath:
      $.query.t: nope
""",
    )
    pytester.makefile(".yaml", test_leak=leak)
    result = pytester.runpytest(*PLUGIN, "--apirun-var", "password=000000")
    result.assert_outcomes(failed=1)
    (token,) = srv.app.tokens
    assert token not in result.stdout.str()
    assert 'jsonpath $.query.t: expected "nope", got "***"' in result.stdout.str()


def test_the_failure_report_escapes_what_a_server_sent(pytester):
    from faults import FaultServer

    with FaultServer() as hostile:
        steps = f"""
- name: attacked
  request: {{url: "{hostile.url}/terminal-attack"}}
  expect: {{status: 200}}
"""
        pytester.makefile(".yaml", test_attack="steps:\n" + steps)
        result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert not any(char in out for char in "\x1b\x07\x08\r\x9b"), repr(out)
    assert r"response: 500 Oops\x1b[2K\rPASS\x1b]0;pwned\x07\x1b]52;c;" in out


def test_k_selects_by_name_and_by_tag(pytester, srv):
    ping = "- {name: ping, tags: [smoke], request: {url: /json}}\n"
    pytester.makefile(".yaml", test_a=spec(srv, ping, "Alpha"))
    pytester.makefile(".yaml", test_b=spec(srv, "- {name: p, request: {url: /json}}\n", "Beta"))
    result = pytester.runpytest(*PLUGIN, "-k", "Beta")
    result.assert_outcomes(passed=1, deselected=1)
    assert [r.path for r in srv.app.requests] == ["/json"]
    result = pytester.runpytest(*PLUGIN, "-k", "smoke", "-v")
    result.assert_outcomes(passed=1, deselected=1)
    assert "test_a.yaml::Alpha PASSED" in result.stdout.str()


def test_junitxml_shows_the_failed_step(pytester, srv):
    pytester.makefile(".yaml", test_bad=spec(srv, LOGIN, "Bad"))
    result = pytester.runpytest(*PLUGIN, "--apirun-var", "password=nope", "--junitxml=out.xml")
    result.assert_outcomes(failed=1)
    (case,) = ET.parse(pytester.path / "out.xml").getroot().iter("testcase")
    assert case.get("name") == "Bad"
    failure = case.find("failure")
    assert failure.get("message").startswith("step 'login' failed: status: expected 201, got 401")
    assert "FAIL   login" in failure.text


def test_a_broken_spec_is_a_collection_error_with_its_line(pytester):
    pytester.makefile(".yaml", test_broken="steps:\n  - name: a\n    requests: {url: /x}\n")
    result = pytester.runpytest(*PLUGIN)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    out = result.stdout.str()
    assert "ERROR collecting test_broken.yaml" in out
    assert "unknown key 'requests' in step 'a' — did you mean 'request'?" in out
    assert "--> test_broken.yaml:3:5" in out


def test_a_yaml_data_file_that_is_not_a_spec_is_left_alone(pytester):
    pytester.makefile(".yaml", test_settings="database: {host: db}\n")
    pytester.makepyfile(test_real="def test_ok():\n    pass\n")
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(passed=1)
    assert "test_settings.yaml matches apirun_files but is not an apirun spec" in (
        result.stdout.str()
    )


def test_bad_variables_fail_each_spec_with_one_message(pytester, srv):
    pytester.makefile(".yaml", test_a=spec(srv, "- {name: p, request: {url: /json}}\n"))
    result = pytester.runpytest(*PLUGIN, "--apirun-var", "no equals sign")
    result.assert_outcomes(failed=1)
    assert (
        "apirun: --apirun-var takes NAME=VALUE with NAME a plain name, got 'no equals sign'"
        in result.stdout.str()
    )
    assert srv.app.requests == []


def test_an_undefined_variable_in_step_2_sends_nothing_as_with_apirun(pytester, srv):
    pytester.makefile(".yaml", values="greeting: hello\n")
    steps = """
- name: echo
  request: {method: POST, url: "/echo?g={{ greeting }}"}
- name: typo
  request: {url: "/echo?x={{ greting }}"}
"""
    spec_file = pytester.makefile(".yaml", test_vars=spec(srv, steps))
    result = pytester.runpytest(*PLUGIN, "--apirun-vars-file", "values.yaml")
    result.assert_outcomes(errors=1)
    text = result.stdout.str()
    assert "undefined variable 'greting'" in text and "did you mean 'greeting'?" in text
    assert "test_vars.yaml:7:18" in text
    assert srv.app.requests == []  # step 1's POST was never sent

    command = runner.cli.main(["check", "--vars-file", "values.yaml", str(spec_file)])
    assert command == 2  # the command refuses it the same way


def test_under_xdist_a_broken_spec_still_stops_every_spec(pytester, srv):
    # pytest stops before the first test when a file fails to collect; pytest-xdist's
    # workers would run the others anyway, sending their requests.
    good = "- name: echo\n  request: {method: POST, url: /echo}\n"
    pytester.makefile(".yaml", test_a=spec(srv, good), test_b=spec(srv, good))
    pytester.makefile(".yaml", test_c=spec(srv, "- name: typo\n  request: {url: '/{{ nope }}'}\n"))
    result = pytester.runpytest_subprocess(*PLUGIN, "-p", "xdist", "-n", "2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(errors=1, warnings=2)  # one warning from each worker
    text = result.stdout.str()
    assert "undefined variable 'nope'" in text
    assert "apirun: nothing ran, as test_c.yaml could not be collected" in text
    assert srv.app.requests == []

    result = pytester.runpytest_subprocess(
        *PLUGIN, "-p", "xdist", "-n", "2", "--continue-on-collection-errors"
    )
    result.assert_outcomes(passed=2, errors=1)
    assert len(srv.app.find("POST", "/echo")) == 2


def test_under_xdist_the_workers_share_their_loads_and_leave_nothing(pytester, srv, monkeypatch):
    temporary = pytester.path.parent / "tmp-of-the-run"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))  # where the controller makes the folder
    good = "- name: echo\n  request: {method: POST, url: /echo}\n"
    pytester.makefile(".yaml", **{f"test_{n}": spec(srv, good, name=f"file {n}") for n in "abcd"})
    pytester.makeconftest(  # what each worker finds in the run's folder at its end
        """
        import os

        def pytest_unconfigure(config):
            given = getattr(config, "workerinput", None)
            if given:
                found = sorted(os.listdir(given["apirun_loaded_specs"]))
                with open(f"seen-{given['workerid']}.txt", "w") as out:
                    out.write(" ".join(found))
        """
    )
    result = pytester.runpytest_subprocess(*PLUGIN, "-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=4)
    assert len(srv.app.find("POST", "/echo")) == 4
    for worker in ("gw0", "gw1"):
        seen = (pytester.path / f"seen-{worker}.txt").read_text().split()
        assert sum(name.endswith(".pickle") for name in seen) == 4  # each file loaded once
    assert list(temporary.iterdir()) == []  # and the folder went with the run


def test_a_broken_file_shows_its_shape_and_variable_problems_together(pytester, srv):
    pytester.makefile(".yaml", values="greeting: hello\n")
    steps = """
- name: echo
  request: {method: POST, url: "/echo?g={{ greeting }}", bogus: 1}
- name: typo
  request: {url: "/echo?x={{ greting }}"}
"""
    pytester.makefile(".yaml", test_vars=spec(srv, steps))
    result = pytester.runpytest(*PLUGIN, "--apirun-vars-file", "values.yaml")
    result.assert_outcomes(errors=1)
    text = result.stdout.str()
    assert "unknown key 'bogus'" in text  # the shape problem ...
    assert "undefined variable 'greting'" in text  # ... and the variable, in one round
    assert "'greeting'" not in text.replace("did you mean 'greeting'?", "")  # given: fine
    assert srv.app.requests == []


def test_the_variables_a_setup_captures_pass_the_check(pytester, srv):
    pytester.makefile(".yaml", login=spec(srv, LOGIN.split("- name: users")[0]))
    pytester.makefile(
        ".yaml", test_uses=spec(srv, "- name: users" + LOGIN.split("- name: users")[1])
    )
    result = pytester.runpytest(
        *PLUGIN, "--apirun-setup", "login.yaml", "--apirun-var", "password=000000"
    )
    result.assert_outcomes(passed=1)
    result = pytester.runpytest(*PLUGIN, "--apirun-var", "password=000000")
    result.assert_outcomes(errors=1)
    assert "undefined variable 'token'" in result.stdout.str()


def test_a_plugin_run_imports_nothing_of_runner_without_spec_files(pytester):
    pytester.makepyfile(
        test_plain="""
import sys

def test_light():
    assert "runner.engine" not in sys.modules and "runner.loader" not in sys.modules
"""
    )
    result = pytester.runpytest_subprocess(*PLUGIN)
    result.assert_outcomes(passed=1)


# -- the example specs, the way CI runs them -------------------------------------------------------


def pytest_in_repo(srv, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OS_AUTH_URL": f"{srv.url}/v3", "NO_COLOR": "1"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:hypothesispytest",
            *args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_pytest_specs_with_xdist_runs_the_examples_green(srv, tmp_path):
    report = tmp_path / "junit.xml"
    done = pytest_in_repo(srv, "specs/", "-n", "2", f"--junitxml={report}")
    assert done.returncode == 0, done.stdout + done.stderr
    # specs/*.yaml and specs/flow/*.yaml; known-issues.yaml has an expected failure, and
    # unified-limits.yaml is skipped whole
    assert "7 passed, 1 skipped, 1 xfailed" in done.stdout
    cases = {c.get("name"): c for c in ET.parse(report).getroot().iter("testcase")}
    assert sorted(cases) == [
        "Create users in a loop, clean up whatever happens",
        "Keystone known issues",
        "Keystone unified limits",
        "Keystone user lifecycle",
        "Keystone users",
        "Keystone version discovery",
        "Users from a CSV file",
        "Wait for a server to become ACTIVE",
        "Who am I",
    ]
    assert cases["Keystone unified limits"].find("skipped").get("message").startswith("needs a")
    assert cases["Keystone known issues"].find("skipped").get("type") == "pytest.xfail"
    assert len(srv.app.find("POST", "/v3/auth/tokens")) >= 4  # the specs really ran


def test_pytest_collects_a_subfolder_of_specs(srv):
    done = pytest_in_repo(srv, "specs/flow/", "-p", "no:xdist", "--collect-only", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 tests collected" in done.stdout


def test_a_failing_example_is_a_failed_testcase_with_its_message(srv, tmp_path):
    report = tmp_path / "junit.xml"
    done = pytest_in_repo(
        srv, "specs/users.yaml", "-n", "2", "--apirun-var", "password=wrong", f"--junitxml={report}"
    )
    assert done.returncode == 1
    (case,) = ET.parse(report).getroot().iter("testcase")
    failure = case.find("failure")
    assert failure.get("message").startswith(
        "step 'get token' failed: status: expected 201, got 401"
    )
    assert "--> specs/users.yaml:" in failure.text


def test_the_project_files_setup_runs_once_per_process_under_pytest(srv, tmp_path):
    report = tmp_path / "junit.xml"
    done = pytest_in_repo(
        srv, "specs/flow/", "--apirun-glob", "flow/*.yaml", "-p", "no:xdist", f"--junitxml={report}"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout  # apirun.yaml itself is not collected
    assert len(srv.app.find("POST", "/v3/auth/tokens")) == 1  # the setup, once for both files
    assert srv.app.servers == {}  # the flow examples cleaned up after themselves


def test_a_failed_setup_fails_the_specs_that_need_it(srv, tmp_path):
    done = pytest_in_repo(
        srv,
        "specs/flow/",
        "--apirun-glob",
        "flow/*.yaml",
        "-p",
        "no:xdist",
        "--apirun-var",
        "password=wrong",
    )
    assert done.returncode == 1
    assert "2 failed" in done.stdout
    assert "step 'get token' failed" in done.stdout
    assert len(srv.app.find("POST", "/v3/auth/tokens")) == 1  # not retried per spec
    assert len(srv.app.requests) == 1
