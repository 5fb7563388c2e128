"""Helpers for driving the apirun command in tests: in-process (fast) or as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from runner.cli import main


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run_cli(capsys, *args: str) -> Outcome:
    """Run ``apirun ARGS`` in this process (the same code as the command), colour off."""
    rest = list(args)
    command = [rest.pop(0)] if rest and rest[0] in ("run", "check") else []
    capsys.readouterr()
    code = main([*command, "--color", "never", *rest])
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def apirun_command() -> list[str]:
    """The installed console script when there is one, so the real entry point is tested."""
    script = Path(sys.executable).with_name("apirun")
    return [str(script)] if script.exists() else [sys.executable, "-m", "runner"]


def run_process(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Outcome:
    full_env = {**os.environ, **(env or {})}
    done = subprocess.run(
        [*apirun_command(), *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=60,
        check=False,
    )
    return Outcome(done.returncode, done.stdout, done.stderr)


def write_spec(directory: Path, text: str, name: str = "spec.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def line_of(path: Path, fragment: str) -> int:
    """The 1-based number of the first line of a file containing fragment."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not in {path}")
