"""What the command prints: versions, help, colour rules, verbose mode, the summary."""

from __future__ import annotations

import pytest
from helpers import run_cli, run_process, write_spec

import runner

ESC = "\033["


def spec_for(srv, tmp_path):
    return write_spec(
        tmp_path,
        f"""
        name: Output demo
        base_url: {srv.url}
        steps:
          - name: ok
            request: {{url: /json}}
            expect:
              jsonpath: {{$.int: 1}}
          - name: wrong
            request: {{url: /json}}
            expect:
              jsonpath: {{$.int: "1"}}
        """,
    )


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as done:
        run_cli(capsys, "--version")
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"apirun {runner.__version__}"

    help_text = run_process("--help").out
    assert "examples:" in help_text
    assert "apirun specs/users.yaml" in help_text
    assert "exit codes: 0" in help_text


def test_no_colour_when_not_a_terminal_and_with_no_color(srv, tmp_path):
    spec = spec_for(srv, tmp_path)
    assert ESC not in run_process(str(spec)).text  # a pipe is not a terminal
    forced = run_process("--color", "always", str(spec))
    assert ESC in forced.out
    assert ESC not in run_process(str(spec), env={"NO_COLOR": "1"}).text


def test_one_line_per_step_and_a_summary(srv, capsys, tmp_path):
    spec = spec_for(srv, tmp_path)
    result = run_cli(capsys, str(spec))
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == f"{spec} — Output demo"
    assert lines[1].split()[:2] == ["PASS", "ok"]
    assert f"GET {srv.url}/json  200" in lines[1]
    assert lines[2].split()[:2] == ["FAIL", "wrong"]
    # types are shown where they differ: "1" is not 1
    assert 'jsonpath $.int: expected "1" (string), got 1 (integer)' in result.out
    assert lines[-1].startswith("1 passed, 1 failed, 0 skipped (1 file, ")


def test_verbose_prints_headers_and_bodies_of_every_step(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: post
            request:
              method: POST
              url: /echo
              headers: {{X-Custom: yes-please}}
              json: {{hello: world}}
        """,
    )
    result = run_cli(capsys, "-v", str(spec))
    assert result.code == 0
    assert "X-Custom: yes-please" in result.out  # request header
    assert '{"hello": "world"}' in result.out  # request body
    assert "Content-Type: application/json" in result.out  # response header
    assert '"method": "POST"' in result.out  # response body


def test_a_non_verbose_pass_prints_only_its_line(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        steps:
          - name: quiet
            request: {{url: "{srv.url}/echo"}}
        """,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 0
    assert len(result.out.strip().splitlines()) == 4  # header, step, blank, summary


def test_missing_paths_are_usage_errors(capsys, tmp_path):
    result = run_cli(capsys, str(tmp_path / "nope.yaml"))
    assert result.code == 2
    assert "no such file or folder" in result.err
    result = run_cli(capsys, str(tmp_path))
    assert result.code == 2
    assert "no spec files" in result.err
