"""One orchestration: the command, the Python API and the pytest plugin run the same inputs
(environment and OS_* variables, a vars file, apirun.yaml's setup) the same way."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers import run_process, write_spec

from runner import RunInputs, prepare, run_specs

ROOT = Path(__file__).resolve().parent.parent

LOGIN = """
name: login
base_url: "{{ os.identity_url }}"
steps:
  - name: get token
    request:
      method: POST
      url: /auth/tokens
      json:
        auth:
          identity:
            methods: [password]
            password:
              user: {name: admin, password: "{{ password }}", domain: {name: demo}}
    expect: {status: 201}
    capture: {token: {header: X-Subject-Token}}
"""

USERS = """
name: users
tags: [smoke]
base_url: "{{ os.identity_url }}"
steps:
  - name: list users
    request: {url: /users, headers: {X-Auth-Token: "{{ token }}"}}
    expect:
      status: 200
      jsonpath:
        $.users[*].name: {contains: admin}
"""

BROKEN = """
name: wrong status
base_url: "{{ os.identity_url }}"
steps:
  - name: projects
    request: {url: /auth/projects, headers: {X-Auth-Token: "{{ token }}"}}
    expect: {status: 418}
  - name: never
    request: {url: /users, headers: {X-Auth-Token: "{{ token }}"}}
finally:
  - name: clean up
    request: {method: DELETE, url: "/users/nobody", headers: {X-Auth-Token: "{{ token }}"}}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """specs/ with an apirun.yaml naming a setup outside it, and a vars file beside."""
    specs = tmp_path / "specs"
    specs.mkdir()
    write_spec(tmp_path, LOGIN, "login.yaml")
    (specs / "apirun.yaml").write_text("setup: ../login.yaml\n")
    write_spec(specs, USERS, "a-users.yaml")
    write_spec(specs, BROKEN, "b-broken.yaml")
    (tmp_path / "values.yaml").write_text("password: '000000'\n")
    return tmp_path


def received(srv) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in srv.app.requests]


def by_command(srv, project: Path, *args: str) -> tuple[int, dict[str, bool], list]:
    report = project / "report.json"
    done = run_process(
        "--vars-file",
        "values.yaml",
        "--report-json",
        str(report),
        *args,
        "specs",
        cwd=project,
        env={"OS_AUTH_URL": f"{srv.url}/v3"},
    )
    assert "Traceback" not in done.err
    assert report.exists(), done.text
    files = json.loads(report.read_text())["files"]
    return done.code, {Path(f["path"]).name: f["passed"] for f in files}, received(srv)


def by_api(srv, project: Path, monkeypatch, **inputs) -> tuple[int, dict[str, bool], list]:
    monkeypatch.chdir(project)
    monkeypatch.setenv("OS_AUTH_URL", f"{srv.url}/v3")
    prepared = prepare(RunInputs(["specs"], vars_file="values.yaml", **inputs))
    result = run_specs(prepared.specs, prepared.options, setup=prepared.setup)
    verdicts = {Path(f.spec.path).name: f.passed for f in result.files}
    return result.exit_code, verdicts, received(srv)


def by_pytest(srv, project: Path) -> tuple[int, dict[str, bool], list]:
    report = project / "junit.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "runner.pytest_plugin", "-p", "no:cacheprovider"]
        + ["-p", "no:xdist", "--apirun-glob", "*.yaml", "--apirun-vars-file", "values.yaml"]
        + [f"--junitxml={report}", "specs"],
        cwd=project,
        env={**os.environ, "OS_AUTH_URL": f"{srv.url}/v3"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    cases = ET.parse(report).getroot().iter("testcase")
    verdicts = {"login.yaml": True}  # run once, before the files; a failure would fail them
    for case in cases:
        name = re.sub(r"^specs\.", "", case.get("classname"))
        verdicts[name] = case.find("failure") is None and case.find("error") is None
    return done.returncode, verdicts, received(srv)


def test_the_command_the_api_and_the_plugin_give_the_same_results(srv, project, monkeypatch):
    srv.app.reset()
    command = by_command(srv, project)
    srv.app.reset()
    api = by_api(srv, project, monkeypatch)
    srv.app.reset()
    plugin = by_pytest(srv, project)

    expected_verdicts = {"login.yaml": True, "a-users.yaml": True, "b-broken.yaml": False}
    assert command[1] == expected_verdicts
    assert command == api == plugin
    assert command[0] == 1
    assert command[2] == [
        ("POST", "/v3/auth/tokens"),  # the setup, once
        ("GET", "/v3/users"),
        ("GET", "/v3/auth/projects"),
        ("DELETE", "/v3/users/nobody"),  # b's finally step; its 'never' step is skipped
    ]


def test_selection_never_applies_to_the_setup_in_the_command_and_the_api(srv, project, monkeypatch):
    srv.app.reset()
    command = by_command(srv, project, "--tag", "smoke")
    srv.app.reset()
    api = by_api(srv, project, monkeypatch, tags=["smoke"])
    assert (
        command
        == api
        == (
            0,
            {"login.yaml": True, "a-users.yaml": True},
            [("POST", "/v3/auth/tokens"), ("GET", "/v3/users")],
        )
    )


def python_snippet(readme: str) -> str:
    section = readme[readme.index("### From Python") :]
    start = section.index("```python\n") + len("```python\n")
    return section[start : section.index("\n```", start)]


def test_the_readme_from_python_snippet_works_as_written(srv, tmp_path):
    code = python_snippet((ROOT / "README.md").read_text(encoding="utf-8"))
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "OS_AUTH_URL": f"{srv.url}/v3", "OS_PASSWORD": "000000"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "0"  # the exit code the command would give
    assert [(r.method, r.path) for r in srv.app.requests] == [
        ("POST", "/v3/auth/tokens"),
        ("GET", "/v3/users"),
    ]
