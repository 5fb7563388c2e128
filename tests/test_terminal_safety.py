"""Terminal safety: what a server sends reaches the terminal as text, never as escape sequences.

A hostile server (tests/faults.py, /terminal-attack) puts CSI, OSC 0 (window title), OSC 52
(clipboard), CR, backspace, a C1 CSI and BEL in its reason, a header, a cookie, the body and a
redirect's Location. The command's output bytes must hold none of them raw, the real FAIL line
must be intact, and apirun's own colours must still be there.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    from .faults import TERMINAL_ATTACK, FaultServer
    from .helpers import apirun_command, write_spec
except ImportError:
    from faults import TERMINAL_ATTACK, FaultServer
    from helpers import apirun_command, write_spec

from runner.report.terminal import Screen, escape_controls

SGR = re.compile(rb"\x1b\[[0-9;]*m")  # apirun's own colours: the only escapes allowed out
RAW = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")  # C0 (not \t \n), DEL, C1


@pytest.fixture
def hostile() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def _spec_files(tmp_path: Path, hostile: FaultServer, srv) -> list[str]:
    failing = write_spec(
        tmp_path,
        f"""
        steps:
          - name: attacked
            request: {{url: "{hostile.url}/terminal-attack"}}
            expect:
              status: 200
              headers: {{X-Evil: nope}}
              body: {{contains: "not there"}}
        """,
        "a.yaml",
    )
    passing = write_spec(
        tmp_path,
        f"""
        steps:
          - name: capture it
            request: {{url: "{hostile.url}/terminal-attack"}}
            expect: {{status: 500}}
            capture: {{evil: {{header: X-Evil}}}}
          - name: send it on
            request:
              url: "{srv.url}/echo/sent"
              headers: {{X-Sent: "{{{{ evil }}}}"}}
          - name: follow it
            request:
              url: "{hostile.url}/redirect"
              params: {{to: "{srv.url}/echo/\\e]0;title\\a"}}
        """,
        "b.yaml",
    )
    return [str(failing), str(passing)]


def _run(*args: str, cwd: Path | None = None) -> tuple[int, bytes, bytes]:
    """The real command; stdout as bytes (text mode would turn a raw CR into a newline)."""
    done = subprocess.run(
        [*apirun_command(), *args], capture_output=True, timeout=60, check=False, cwd=cwd
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(
    ("color", "flags"),
    [("always", ["-v", "--show-secrets"]), ("never", [])],
    ids=["colour -v", "plain"],
)
def test_a_server_cannot_write_escape_sequences_to_the_terminal(
    srv, hostile, tmp_path, flags, color
):
    code, out, err = _run("--color", color, *flags, *_spec_files(tmp_path, hostile, srv))
    assert code == 1, out + err
    plain = SGR.sub(b"", out)
    assert b"\x1b" not in plain and not RAW.search(plain), RAW.findall(plain)
    assert b"\x07" not in out and b"\r" not in out and b"\x1b]" not in out
    text = plain.decode("utf-8")
    # The real verdicts are where they were, and nothing wrote over them.
    assert re.search(r"^  FAIL   attacked  GET \S+/terminal-attack  500 ", text, re.M), text
    assert re.search(r"^  PASS   capture it ", text, re.M), text
    assert "3 passed, 1 failed" in text.splitlines()[-1]
    # What the server sent is shown, written out.
    assert r"response: 500 Oops\x1b[2K\rPASS\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07" in text
    assert r"\x1b[2K" in text and r"PASS\x1b]0;pwned\x07" in text  # the body's lines
    if flags:
        assert r"X-Evil: \x1b[2KPASS\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\x08\x9b2J\x07" in text
        assert r"Set-Cookie: session=\x1b[2KPASS" in text  # a cookie value (in clear)
        assert r"X-Sent: \x1b[2KPASS" in text  # a capture sent on: still the server's text
        assert r"Location: " + f"{srv.url}/echo/" + r"\x1b]0;title\x07" in text
    if color == "always":  # the console's own colours are intact
        assert b"\x1b[1;31mFAIL \x1b[0m  attacked" in out
        assert b"\x1b[1;32mPASS \x1b[0m  capture it" in out
    else:
        assert b"\x1b" not in out
    assert err == b""


def test_a_spec_error_and_a_dry_run_print_no_control_character_either(tmp_path):
    spec = write_spec(
        tmp_path,
        'steps:\n  - name: "\\e]0;title\\a"\n    request: {url: "http://127.0.0.1:9/\\e[2J"}\n',
    )
    code, out, _ = _run("--color", "always", "--dry-run", str(spec))
    assert code == 0, out
    assert not RAW.search(SGR.sub(b"", out)) and rb"\x1b]0;title\x07" in out
    broken = write_spec(tmp_path, 'steps:\n  - name: "\\e]0;x\\a"\n    nonsense: 1\n', "b.yaml")
    code, _, err = _run("--color", "always", str(broken))
    assert code == 2
    assert not RAW.search(SGR.sub(b"", err)) and b"\x1b[1;31merror\x1b[0m" in err


def test_the_curl_script_holds_no_control_character_and_replays_the_same_bytes(
    srv, hostile, tmp_path
):
    script = tmp_path / "replay.sh"
    code, out, _ = _run(
        "--show-secrets", "--curl", str(script), *_spec_files(tmp_path, hostile, srv)
    )
    assert code == 1, out
    content = script.read_bytes()
    assert not re.search(rb"[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]", content)
    assert rb"-H $'X-Sent: \x1b[2KPASS\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\x08\x9b2J\x07'" in (
        content
    )
    sent = [r.headers["X-Sent"] for r in srv.app.find(path="/echo/sent")]
    assert sent == [TERMINAL_ATTACK.replace("\r", "")]
    done = subprocess.run(["bash", str(script)], capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    replayed = [r.headers["X-Sent"] for r in srv.app.find(path="/echo/sent")]
    assert replayed == sent * 2  # the script sent the very same bytes


def test_a_forged_colour_mark_stays_text():
    """A server cannot guess the mark of the Screen that paints the console's words."""
    ours, theirs = Screen(), Screen()
    forged = theirs.color("32") + "PASS"
    shown = ours.text(ours.color("31") + "FAIL" + ours.color("0") + " " + forged)
    assert shown.startswith("\033[31mFAIL\033[0m ") and shown.count("\033") == 2
    assert escape_controls("a\tb\nc\r\x1b\x9b\x00") == "a\tb\nc\\r\\x1b\\x9b\\x00"
