"""Python fixtures (``fixtures: [MODULE:CLASS]``): started before the file's first step,
stopped after its last, whatever happened; their failures fail the file with a message."""

from __future__ import annotations

import pytest
from helpers import run_cli, write_spec

HEAD = """
base_url: http://app.test
fixtures: [{fixtures}]
steps:
  - name: create
    request: {{method: POST, url: /items, json: {{name: "{{{{ env.FIXTURE_ITEM_NAME }}}}"}}}}
    expect: {{status: 201, jsonpath: {{$.name: from-the-fixture}}}}
  - name: check
    request: {{url: /status/{status}}}
    expect: {{status: 200}}
finally:
  - name: cleanup
    request: {{url: /status/200}}
"""


@pytest.fixture
def log(tmp_path, monkeypatch):
    path = tmp_path / "fixtures.log"
    path.write_text("")
    monkeypatch.setenv("APIRUN_FIXTURE_LOG", str(path))
    return path


def _spec(tmp_path, fixtures: str, status: int = 200):
    text = HEAD.format(fixtures=fixtures, status=status)
    return write_spec(tmp_path, text)


def _run(capsys, spec, *args):
    return run_cli(capsys, "--app", "tests.app:make_app()", *args, str(spec))


def test_fixtures_start_in_order_and_stop_in_reverse_around_the_file(capsys, tmp_path, log):
    spec = _spec(tmp_path, "tests.fixture_classes:Token, tests.fixture_classes:Plain")
    result = _run(capsys, spec)
    assert result.code == 0, result.text
    assert log.read_text().split("\n")[:-1] == [
        "start Token",
        "start Plain",
        "stop Plain",
        "stop Token clean",
    ]


def test_fixtures_are_stopped_after_a_failed_step_and_after_finally(capsys, tmp_path, log):
    spec = _spec(tmp_path, "tests.fixture_classes:Token", status=500)
    result = _run(capsys, spec)
    assert result.code == 1
    assert "cleanup" in result.out  # finally ran, then the fixture stopped
    assert log.read_text().split("\n")[:-1] == ["start Token", "stop Token clean"]


def test_a_fixture_that_fails_to_start_fails_the_file_with_its_message(capsys, tmp_path, log):
    spec = _spec(
        tmp_path,
        "tests.fixture_classes:Plain, tests.fixture_classes:Broken, tests.fixture_classes:Token",
    )
    result = _run(capsys, spec)
    assert result.code == 1
    message = (
        "fixture tests.fixture_classes:Broken failed to start: "
        "ConnectionError: database unreachable"
    )
    assert message in result.out
    assert "Traceback" not in result.text
    assert "ERROR" in result.out and "3 skipped" in result.out
    # The one started before it is stopped; the one after it never started.
    assert log.read_text().split("\n")[:-1] == ["start Plain", "start Broken", "stop Plain"]


def test_a_fixture_that_fails_to_stop_fails_the_file(capsys, tmp_path, log):
    spec = _spec(tmp_path, "tests.fixture_classes:BadStop, tests.fixture_classes:Token")
    result = _run(capsys, spec)
    assert result.code == 1
    assert "fixture tests.fixture_classes:BadStop failed to stop: RuntimeError" in result.out
    assert log.read_text().split("\n")[:-1] == [
        "start BadStop",
        "start Token",
        "stop Token clean",
        "stop BadStop",
    ]


def test_a_fixture_name_that_does_not_exist_is_a_spec_error_at_its_line(capsys, tmp_path, log):
    spec = _spec(tmp_path, "tests.fixture_classes:Nope")
    result = _run(capsys, spec)
    assert result.code == 2
    assert "fixture tests.fixture_classes:Nope: tests.fixture_classes has no Nope" in result.out
    assert f"{spec}:2" in result.out


def test_a_malformed_fixture_name_is_refused_when_the_file_loads(capsys, tmp_path, log):
    spec = _spec(tmp_path, "not a name")
    result = _run(capsys, spec)
    assert result.code == 2
    assert "a fixture is MODULE:CLASS" in result.err
    assert log.read_text() == ""


def test_skiptest_from_a_fixture_skips_the_file(capsys, tmp_path, log):
    spec = _spec(tmp_path, "tests.fixture_classes:SkipAll")
    result = _run(capsys, spec)
    assert result.code == 0, result.text
    assert "0 passed, 0 failed, 3 skipped" in result.out
    assert "entire suite skipped" in result.out


def test_ctrl_c_during_the_file_still_stops_the_fixtures(capsys, tmp_path, log, monkeypatch):
    import importlib

    app_module = importlib.import_module("tests.app")

    def interrupted(self, environ, start):
        raise KeyboardInterrupt

    monkeypatch.setattr(app_module.App, "route_status", interrupted)
    spec = _spec(tmp_path, "tests.fixture_classes:Interrupt, tests.fixture_classes:Token")
    result = _run(capsys, spec)
    assert result.code == 130
    assert log.read_text().split("\n")[:-1] == [
        "start Interrupt",
        "start Token",
        "stop Token KeyboardInterrupt",
        "stop Interrupt KeyboardInterrupt",
    ]


def test_the_project_file_fixtures_wrap_every_file(capsys, tmp_path, log):
    (tmp_path / "apirun.yaml").write_text(
        "app: tests.app:make_app()\nfixtures:\n  - tests.fixture_classes:Plain\n"
    )
    spec = _spec(tmp_path, "tests.fixture_classes:Token")
    result = run_cli(capsys, str(spec))
    assert result.code == 0, result.text
    assert log.read_text().split("\n")[:-1] == [
        "start Plain",
        "start Token",
        "stop Token clean",
        "stop Plain",
    ]


def test_the_documented_example_runs(capsys):
    result = run_cli(capsys, "--app", "tests.app:make_app()", "tests/app_specs/with_fixture.yaml")
    assert result.code == 0, result.text
