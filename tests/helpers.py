"""Helpers shared by the tests.

They drive the real ``apirun`` command (in-process through ``runner.cli.main`` for speed, or
as a subprocess to prove the real entry point) and read what a user would see.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from runner.cli import main

__all__ = [
    "Result",
    "assert_points",
    "failure_lines",
    "line_of",
    "run_cli",
    "run_subprocess",
    "run_process",
    "apirun_command",
    "write_spec",
    "write_gc_app",
]


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run_cli(capsys, *args: str) -> Result:
    """``apirun ARGS`` in this process, colour off; ``check`` may come first as in the shell."""
    capsys.readouterr()
    argv = list(args)
    if argv and argv[0] in ("run", "check"):
        argv = [argv[0], "--color", "never", *argv[1:]]
    else:
        argv = ["--color", "never", *argv]
    code = main(argv)
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def run_subprocess(*args: str, cwd: Path | None = None) -> Result:
    """The real command: ``python -m runner ARGS`` in a child process."""
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "runner", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def apirun_command() -> list[str]:
    """The installed console script when there is one, so the real entry point is tested."""
    script = Path(sys.executable).with_name("apirun")
    return [str(script)] if script.exists() else [sys.executable, "-m", "runner"]


def run_process(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Result:
    """The installed ``apirun`` command in a child process, with ``env`` added."""
    done = subprocess.run(
        [*apirun_command(), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=60,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def write_spec(
    directory: Path, text: str | bytes, name: str = "spec.yaml", base: str | None = None
) -> Path:
    """Write a spec file; ``{base}`` in the text becomes ``base`` (the test server's URL)."""
    path = directory / name
    if isinstance(text, bytes):
        path.write_bytes(text)
        return path
    text = textwrap.dedent(text).lstrip("\n")
    if base is not None:
        text = text.replace("{base}", base)
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, fragment: str, occurrence: int = 1) -> int:
    """The 1-based number of the line holding ``fragment`` (its n-th occurrence)."""
    seen = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if fragment in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{fragment!r} (occurrence {occurrence}) not in {path}")


def assert_points(text: str, path: Path | str, line: int, column: int | None = None) -> None:
    """The output names ``path:line`` (and ``:column`` when given), not some other line."""
    where = rf"{re.escape(str(path))}:{line}"
    if column is not None:
        where += rf":{column}"
    assert re.search(where + r"(?![0-9])", text), (
        f"expected a reference to {path}:{line}{'' if column is None else f':{column}'} in:\n{text}"
    )


def failure_lines(text: str, path: Path | str) -> list[tuple[str, int]]:
    """Each reported failure (a ``- ...`` line) with the spec line its ``--> file:line`` names."""
    lines = text.splitlines()
    pointer = re.compile(rf"-->\s+{re.escape(str(path))}:(\d+)")
    found = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith("- "):
            continue
        for following in lines[index + 1 : index + 3]:
            match = pointer.search(following)
            if match:
                found.append((stripped[2:], int(match.group(1))))
                break
    return found


GC_APP = """\
import gc, json


def application(environ, start_response):
    state = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(state).encode()]
"""

GC_SPEC = """\
base_url: http://gc.test
steps:
  - name: collector state
    request: {url: /}
    expect:
      jsonpath:
        $.enabled: true
        $.frozen: {gt: 1000}
"""


def write_gc_app(directory: Path) -> Path:
    """``gcstate.py``, a WSGI app that answers with the garbage collector's state in its
    process (``--app gcstate:application``, run from ``directory``), and ``spec.yaml``,
    which passes when the collector is on and start-up's objects are frozen."""
    (directory / "gcstate.py").write_text(GC_APP, encoding="utf-8")
    return write_spec(directory, GC_SPEC)
