"""The command line: subcommands, options in any order, and the options of ``check``."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_process, write_gc_app, write_spec

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

SETUP = """
name: login
base_url: {base}
steps:
  - name: login
    request:
      method: POST
      url: /v3/auth/tokens
      json:
        auth:
          identity:
            methods: [password]
            password:
              user: {{name: admin, password: "{{{{ password }}}}", domain: {{name: demo}}}}
    capture: {{token: {{header: X-Subject-Token}}}}
"""

USES_TOKEN = """
name: uses the token
base_url: {base}
steps:
  - name: users
    request: {{url: /v3/users, headers: {{X-Auth-Token: "{{{{ token }}}}"}}}}
    expect: {{status: 200}}
"""


@pytest.mark.parametrize(
    "args",
    [
        ("--color", "never", "check", str(SPECS)),
        ("check", "--color", "never", str(SPECS)),
        ("check", str(SPECS), "--color", "never"),
        ("--var", "x=1", "check", str(SPECS)),
    ],
    ids=["before", "after", "last", "var-before"],
)
def test_options_go_before_or_after_the_subcommand(args):
    result = run_process(*args)
    assert result.code == 0, result.text
    count = len(list(SPECS.glob("*.yaml")))
    assert result.out.startswith(f"ok: {count} spec files"), result.text


@pytest.mark.parametrize("command", [(), ("run",)], ids=["FILE", "run FILE"])
def test_apirun_file_means_run(srv, tmp_path, command):
    spec = write_spec(
        tmp_path, "steps:\n  - {name: p, request: {url: '{base}/json'}}\n", base=srv.url
    )
    result = run_process(*command, "--color", "never", str(spec))
    assert result.code == 0, result.text
    assert "PASS" in result.out
    assert len(srv.app.find(path="/json")) == 1


def test_help_lists_the_subcommands():
    result = run_process("--help")
    assert result.code == 0
    for command in ("run", "check", "schema"):
        assert f"    {command} " in result.out


def write_project(tmp_path: Path, srv) -> tuple[Path, Path]:
    folder = tmp_path / "specs"
    folder.mkdir()
    setup = write_spec(tmp_path, SETUP.format(base=srv.url), "login.yaml")
    spec = write_spec(folder, USES_TOKEN.format(base=srv.url), "users.yaml")
    return setup, spec


def test_check_takes_setup_and_vars_file(srv, tmp_path):
    setup, spec = write_project(tmp_path, srv)
    alone = run_process("check", str(spec))
    assert alone.code == 2
    assert "undefined variable 'token'" in alone.err

    missing_password = run_process("check", "--setup", str(setup), str(spec))
    assert missing_password.code == 2
    assert "undefined variable 'password'" in missing_password.err

    values = tmp_path / "values.yaml"
    values.write_text("password: '000000'\n")
    both = run_process("check", str(spec), "--setup", str(setup), "--vars-file", str(values))
    assert both.code == 0, both.text
    assert both.out == "ok: 1 spec file, 1 steps\n"
    assert srv.app.requests == []  # check sends nothing


def test_check_honours_the_project_file(srv, tmp_path):
    setup, spec = write_project(tmp_path, srv)
    (spec.parent / "apirun.yaml").write_text("setup: ../login.yaml\n")
    result = run_process("check", "--var", "password=x", str(spec.parent))
    assert result.code == 0, result.text
    assert srv.app.requests == []


def test_check_reads_the_cloud_as_run_does(tmp_path):
    (tmp_path / "clouds.yaml").write_text("clouds:\n  x: [\n")
    result = run_process("check", "--os-cloud", "x", str(SPECS / "users.yaml"), cwd=tmp_path)
    assert result.code == 2
    assert "clouds.yaml:2" in result.err


@pytest.mark.parametrize("command", [(), ("check",)], ids=["run", "check"])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--var", "env=x"), "--var env=x: 'env' is reserved"),
        (("--var", "response=x"), "--var response=x: 'response' is reserved"),
        (("--var", "item=x"), "--var item=x: 'item' is reserved"),
        (("--var", "os=x"), "--var os=x: 'os' is reserved"),
        (("--var", "none=x"), "'none' is a literal in templates"),
    ],
)
def test_a_reserved_variable_name_is_a_usage_error(srv, tmp_path, command, args, message):
    spec = write_spec(
        tmp_path, "steps:\n  - {name: p, request: {url: '{base}/json'}}\n", base=srv.url
    )
    result = run_process(*command, *args, str(spec))
    assert result.code == 2
    assert result.err == f"apirun: error: {result.err.removeprefix('apirun: error: ')}"
    assert message in result.err
    assert len(result.err.splitlines()) == 1
    assert srv.app.requests == []


def test_a_reserved_name_in_the_vars_file_names_its_line(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text("fine: 1\nindex: 2\n")
    result = run_process("check", "--vars-file", str(values), str(SPECS / "users.yaml"))
    assert result.code == 2
    assert f"{values}:2: 'index' is reserved" in result.err


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0", "-inf", "soon"])
def test_a_timeout_that_is_not_a_positive_number_is_one_line(srv, tmp_path, value):
    spec = write_spec(
        tmp_path, "steps:\n  - {name: p, request: {url: '{base}/json'}}\n", base=srv.url
    )
    result = run_process(f"--timeout={value}", str(spec))
    assert result.code == 2
    assert result.err.startswith("apirun: error: argument --timeout:")
    assert value in result.err
    assert len(result.err.splitlines()) == 1
    assert "Traceback" not in result.err
    assert srv.app.requests == []


def _readme_usage() -> list[str]:
    """The lines of the code block under README's "Using it"."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Using it", 1)[1]
    return section.split("```", 2)[1].splitlines()


def _long_options(command: str) -> set[str]:
    from runner.cli import _parser

    parser = _parser()
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {
        name
        for action in commands.choices[command]._actions
        for name in action.option_strings
        if name.startswith("--") and name not in ("--help", "--version")
    }


def test_the_readme_lists_every_option_of_run_and_marks_those_of_check():
    """README's option list is the parser's: an option added to apirun is added there."""
    import re

    listed: dict[str, bool] = {}  # option → marked * (check takes it)
    for line in _readme_usage():
        found = re.match(r"\s+(?:-\w, )?(--[a-z-]+)", line)
        if found:
            listed[found.group(1)] = bool(re.search(r"(\s\*\s|\s\*$)", line))
    assert set(listed) == _long_options("run")
    assert {name for name, marked in listed.items() if marked} == _long_options("check")
    usage = "\n".join(_readme_usage())
    from runner.cli import COMMANDS

    for command in COMMANDS:
        assert re.search(rf"^apirun (\[{command.name}\]|{command.name}) ", usage, re.M), command


def test_the_format_reference_lists_every_option_of_run():
    import re

    text = (ROOT / "docs" / "format.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (`-.*?) \|", text, re.M)
    listed = {name for row in rows for name in re.findall(r"`(--[a-z-]+)", row)}
    assert listed - {"--help", "--version"} == _long_options("run")


def test_the_command_collects_garbage_again_while_its_steps_run(tmp_path):
    """The command pauses the garbage collector for its start-up (imports, loading and
    checking): its steps run with the collector on again, start-up's objects frozen out of
    its walks (runner/cli.py). The app, in apirun's process, says what it sees."""
    spec = write_gc_app(tmp_path)
    result = run_process("--app", "gcstate:application", spec.name, cwd=tmp_path)
    assert result.code == 0, result.text
    assert "1 passed" in result.text
