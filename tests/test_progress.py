"""The live line on a terminal, seen through a real pseudo-terminal (python's pty)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time

from helpers import apirun_command, run_cli, write_spec

from runner.report.progress import live_text

SPEC = """
base_url: {base}
vars: {password: "000000"}
steps:
  - name: quick
    request: {url: /echo}
  - name: list servers
    retry: {times: 4, delay: 0.45}
    request: {url: /status/503}
    expect: {status: 200}
"""

SLOW = """
base_url: {base}
steps:
  - name: slow one
    request: {url: /slow, params: {seconds: 1.6}}
  - name: send a body
    request:
      method: POST
      url: /status/400
      json: {user: ada, password: "{{ password }}", blob: "{{ 'y' * 900 }}"}
    expect: {status: 201}
"""


def _on_a_terminal(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run apirun with its stdout on a pty; everything it wrote, as bytes decoded."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    environment = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    environment.update({"COLUMNS": "120", **(env or {})})
    process = subprocess.Popen(
        [*apirun_command(), *args], stdout=terminal, stderr=terminal, env=environment
    )
    os.close(terminal)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            try:
                data = os.read(controller, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    os.close(controller)
    code = process.wait(timeout=30)
    return code, b"".join(chunks).decode("utf-8", "replace")


def _screen(output: str) -> list[str]:
    """What stays on the screen: each line as left after carriage returns and erases."""
    lines = []
    for line in output.replace("\r\n", "\n").split("\n"):
        lines.append(line.split("\r\033[K")[-1].split("\r")[-1])
    return lines


def test_a_slow_step_shows_a_live_line_then_its_result(srv, tmp_path):
    spec = write_spec(tmp_path, SPEC, base=srv.url)
    code, output = _on_a_terminal("--color", "auto", str(spec))
    assert code == 1, output
    assert "\r\033[K… list servers  attempt 3/4" in output
    assert "… quick" not in output  # fast steps have no live line
    live = [part for part in output.split("\r\033[K") if part.startswith("… list servers")]
    seconds = [float(part.rsplit("  ", 1)[1].split(" s")[0]) for part in live]
    assert seconds == sorted(seconds) and seconds[0] >= 1.0  # counts from the first attempt
    screen = _screen(output)
    assert not any(line.startswith("…") for line in screen)  # replaced, not left behind
    assert any("list servers" in line and "(4 attempts)" in line for line in screen)


def test_a_slow_step_without_retry_shows_its_time(srv, tmp_path):
    spec = write_spec(tmp_path, SLOW, base=srv.url)
    code, output = _on_a_terminal("--var", "password=s3cret-pw", str(spec))
    assert code == 1, output
    assert "\r\033[K… slow one  1." in output and "attempt" not in output
    # the failure shows the request body: masked, cut
    screen = "\n".join(_screen(output))
    assert '"user": "ada"' in screen and "s3cret-pw" not in screen and '"password": "***"' in screen
    assert "more characters)" in screen


def test_nothing_live_with_no_color_or_color_never_or_a_pipe(srv, tmp_path, capsys):
    spec = write_spec(tmp_path, SPEC, base=srv.url)
    for env, flags in (({"NO_COLOR": "1"}, []), ({}, ["--color", "never"])):
        code, output = _on_a_terminal(*flags, str(spec), env=env)
        assert code == 1
        assert "…" not in output.replace("… (", "") and "\033[K" not in output
    piped = run_cli(capsys, str(spec))
    assert piped.code == 1 and "\033" not in piped.out and "attempt 2/4" not in piped.out


def test_the_live_text_fits_the_terminal():
    assert live_text("list servers", 7, 30, 12.44, 80) == "… list servers  attempt 7/30  12.4 s"
    assert live_text("poll", 1, 1, 2.0, 80) == "… poll  2.0 s"
    assert len(live_text("x" * 200, 1, 1, 2.0, 40)) == 39
