"""``--watch``: the real command in a child process, against tests/server.py. A change of a
spec, of an included file, or of a file that only a later version of the spec includes
runs the files again (what the server receives says so); a broken spec prints its error
and the watch goes on; Ctrl-C ends it with 130 — quietly between runs, and during a run
after its ``finally`` steps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from helpers import apirun_command, run_process, write_gc_app, write_spec
from server import FakeKeystone, start_server

TIMEOUT = 10.0  # seconds any one awaited thing may take


class Watching:
    """``apirun ARGS`` running in ``cwd``; its stdout and stderr read as they come."""

    def __init__(self, cwd: Path, *args: str):
        self.child = subprocess.Popen(
            [*apirun_command(), "--color", "never", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env={**os.environ, "NO_COLOR": "1"},
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((self.child.stdout, self.out), (self.child.stderr, self.err))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, lines: list[str]) -> None:
        for line in stream:
            with self._changed:
                lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait(self, lines: list[str], text: str, count: int = 1) -> None:
        """Until ``count`` lines of ``lines`` (self.out or self.err) contain ``text``."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: sum(text in line for line in lines) >= count, TIMEOUT
            )
        assert found, f"never saw {text!r} ×{count}; out={self.out} err={self.err}"

    def stop(self, sig: int = signal.SIGINT) -> int:
        self.child.send_signal(sig)
        code = self.child.wait(TIMEOUT)
        for reader in self._readers:
            reader.join(TIMEOUT)
        return code

    def kill(self) -> None:
        if self.child.poll() is None:
            self.child.kill()
            self.child.wait(TIMEOUT)


@pytest.fixture
def watching(tmp_path):
    started: list[Watching] = []

    def start(*args: str) -> Watching:
        started.append(Watching(tmp_path, *args))
        return started[-1]

    yield start
    for child in started:
        child.kill()


def wait_for_request(srv, path: str, count: int = 1) -> None:
    deadline = time.monotonic() + TIMEOUT
    while len(srv.app.find(path=path)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(srv.app.find(path=path)) >= count, f"{path} never arrived ×{count}"


def rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


STEP = "  - {{name: {name}, request: {{url: {url}}}, expect: {{status: 200}}}}\n"


def test_a_changed_spec_runs_again_and_ctrl_c_ends_the_watch_quietly(srv, tmp_path, watching):
    spec = write_spec(tmp_path, "base_url: {base}\nsteps:\n", base=srv.url)
    spec.write_text(spec.read_text() + STEP.format(name="first", url="/echo/first"))
    child = watching("--watch", "spec.yaml")
    child.wait(child.err, "watching 1 file — Ctrl-C to stop")
    child.wait(child.out, "1 passed, 0 failed, 0 skipped")
    assert "PASS   first" in "\n".join(child.out)
    assert len(srv.app.find(path="/echo/first")) == 1

    rewrite(spec, "first", "second")
    child.wait(child.err, "change: spec.yaml — re-running")
    wait_for_request(srv, "/echo/second")
    child.wait(child.err, "watching 1 file", 2)
    child.wait(child.out, "PASS   second")
    assert len(srv.app.find(path="/echo/first")) == 1  # the old step is not sent again

    assert child.stop() == 130
    assert child.err == [
        "watching 1 file — Ctrl-C to stop",
        "change: spec.yaml — re-running",
        "",
        "watching 1 file — Ctrl-C to stop",
    ]  # quiet: no "interrupted", no traceback


def test_an_included_file_is_watched_and_so_is_one_included_later(srv, tmp_path, watching):
    write_spec(tmp_path, "steps:\n" + STEP.format(name="a", url=f"{srv.url}/echo/a1"), "a.yaml")
    write_spec(tmp_path, "steps:\n" + STEP.format(name="b", url=f"{srv.url}/echo/b1"), "b.yaml")
    spec = write_spec(tmp_path, "steps:\n  - {name: a, include: a.yaml}\n")
    child = watching("spec.yaml", "--watch")  # the option after the files works too
    child.wait(child.err, "watching 2 files")
    wait_for_request(srv, "/echo/a1")

    rewrite(tmp_path / "a.yaml", "a1", "a2")
    child.wait(child.err, "change: a.yaml — re-running")
    wait_for_request(srv, "/echo/a2")
    child.wait(child.err, "watching 2 files", 2)

    spec.write_text(spec.read_text() + "  - {name: b, include: b.yaml}\n")
    child.wait(child.err, "watching 3 files")
    wait_for_request(srv, "/echo/b1")

    rewrite(tmp_path / "b.yaml", "b1", "b2")
    child.wait(child.err, "change: b.yaml — re-running")
    wait_for_request(srv, "/echo/b2")
    child.wait(child.err, "watching 3 files", 2)
    assert len(srv.app.find(path="/echo/a2")) == 3  # each run ran the whole file
    assert child.stop() == 130


def test_a_watch_collects_garbage_on_every_run(tmp_path, watching):
    """A watch may go on for hours: its runs have the garbage collector on, although the
    command paused it while it started (runner/cli.py). The app, in apirun's process, says
    what it sees on the first run and on the next."""
    spec = write_gc_app(tmp_path)
    child = watching("--watch", "--app", "gcstate:application", spec.name)
    child.wait(child.out, "1 passed, 0 failed, 0 skipped")
    rewrite(spec, "collector state", "collector state again")
    child.wait(child.out, "1 passed, 0 failed, 0 skipped", 2)
    assert "PASS   collector state again" in "\n".join(child.out)
    assert child.stop() == 130


def test_a_broken_spec_shows_its_error_and_the_watch_goes_on(srv, tmp_path, watching):
    spec = write_spec(tmp_path, "steps:\n" + STEP.format(name="ok", url=f"{srv.url}/echo/ok"))
    child = watching("--watch", "spec.yaml")
    child.wait(child.err, "watching 1 file")

    spec.write_text(spec.read_text() + "  - {name: broken\n")
    child.wait(child.err, "nothing was sent")
    child.wait(child.err, "watching 1 file", 2)
    assert "  --> spec.yaml:3:5" in child.err
    assert child.child.poll() is None

    rewrite(spec, "  - {name: broken\n", STEP.format(name="fixed", url=f"{srv.url}/echo/fixed"))
    wait_for_request(srv, "/echo/fixed")
    child.wait(child.err, "watching 1 file", 3)
    child.wait(child.out, "PASS   fixed")
    assert len(srv.app.find(path="/echo/ok")) == 2  # not sent while the spec was broken
    assert child.stop() == 130
    assert not any("Traceback" in line for line in child.err)


def test_a_broken_included_file_is_watched_from_the_first_run(srv, tmp_path, watching):
    """The run never got past loading, so only the spec error knows of the included file."""
    write_spec(tmp_path, "steps:\n  - {name: inc, request: {url: /x}\n", "login.yaml")
    write_spec(tmp_path, "steps:\n  - {name: login, include: login.yaml}\n")
    child = watching("--watch", "spec.yaml")
    child.wait(child.err, "nothing was sent")
    child.wait(child.err, "watching 2 files")

    (tmp_path / "login.yaml").write_text("steps:\n" + STEP.format(name="in", url=f"{srv.url}/in"))
    child.wait(child.err, "change: login.yaml — re-running")
    wait_for_request(srv, "/in")
    assert child.stop() == 130


def test_every_kind_of_input_is_watched(srv, tmp_path, watching):
    """The setup, apirun.yaml, the vars file, a body file and a schema file: a change of
    each runs again, and the server receives what the changed file now says."""
    folder = tmp_path / "specs"
    folder.mkdir()
    write_spec(
        tmp_path, "steps:\n" + STEP.format(name="login", url=f"{srv.url}/echo/login1"), "login.yaml"
    )
    (folder / "apirun.yaml").write_text("setup: ../login.yaml\n")
    (tmp_path / "values.yaml").write_text("word: one\n")
    (folder / "body.txt").write_text("body 1")
    (folder / "schema.json").write_text('{"type": "object"}')
    write_spec(
        folder,
        f"""
        base_url: {srv.url}
        steps:
          - name: send
            request: {{method: POST, url: "/echo/{{{{ word }}}}", data: {{file: body.txt}}}}
            expect: {{status: 200, schema: schema.json}}
        """,
    )
    child = watching("--watch", "--vars-file", "values.yaml", "specs/spec.yaml")
    child.wait(child.err, "watching 6 files — Ctrl-C to stop")
    wait_for_request(srv, "/echo/one")

    rewrite(tmp_path / "login.yaml", "login1", "login2")
    child.wait(child.err, "change: login.yaml — re-running")
    wait_for_request(srv, "/echo/login2")
    child.wait(child.err, "watching 6 files", 2)

    (folder / "apirun.yaml").write_text("# the same setup\nsetup: ../login.yaml\n")
    child.wait(child.err, "change: specs/apirun.yaml — re-running")
    wait_for_request(srv, "/echo/login2", 2)
    child.wait(child.err, "watching 6 files", 3)

    rewrite(tmp_path / "values.yaml", "one", "two")
    child.wait(child.err, "change: values.yaml — re-running")
    wait_for_request(srv, "/echo/two")
    child.wait(child.err, "watching 6 files", 4)

    (folder / "body.txt").write_text("body 2, longer")
    child.wait(child.err, "change: specs/body.txt — re-running")
    wait_for_request(srv, "/echo/two", 2)
    assert srv.app.find(path="/echo/two")[-1].body == b"body 2, longer"
    child.wait(child.err, "watching 6 files", 5)

    (folder / "schema.json").write_text('{"type": "array"}')
    child.wait(child.err, "change: specs/schema.json — re-running")
    child.wait(child.out, "FAIL   send")  # the new schema was read
    assert child.stop() == 130


def test_step_and_the_reports_are_honoured_on_every_run(srv, tmp_path, watching):
    spec = write_spec(
        tmp_path,
        "steps:\n"
        + STEP.format(name="one", url=f"{srv.url}/echo/one")
        + STEP.format(name="two", url=f"{srv.url}/echo/two1"),
    )
    child = watching("--watch", "--step", "two", "--report-json", "report.json", "spec.yaml")
    child.wait(child.err, "watching 1 file")
    report = json.loads((tmp_path / "report.json").read_text())
    outcomes = [(s["name"], s["outcome"]) for s in report["files"][0]["steps"]]
    assert outcomes == [("one", "skipped"), ("two", "passed")]

    rewrite(spec, "two1", "two2")
    wait_for_request(srv, "/echo/two2")
    child.wait(child.err, "watching 1 file", 2)
    report = json.loads((tmp_path / "report.json").read_text())  # written again
    assert report["files"][0]["steps"][1]["request"]["url"].endswith("/echo/two2")
    assert srv.app.find(path="/echo/one") == []
    assert child.stop() == 130


def test_a_new_spec_in_a_watched_folder_is_run(srv, tmp_path, watching):
    folder = tmp_path / "specs"
    folder.mkdir()
    write_spec(folder, "steps:\n" + STEP.format(name="a", url=f"{srv.url}/echo/a"), "a.yaml")
    child = watching("--watch", "specs")
    child.wait(child.err, "watching 1 file and 1 folder")

    write_spec(folder, "steps:\n" + STEP.format(name="b", url=f"{srv.url}/echo/b"), "b.yaml")
    child.wait(child.err, "change: specs/b.yaml (new) — re-running")
    wait_for_request(srv, "/echo/b")
    child.wait(child.err, "watching 2 files and 1 folder")
    assert len(srv.app.find(path="/echo/a")) == 2

    (folder / "b.yaml").unlink()
    child.wait(child.err, "change: specs/b.yaml (removed) — re-running")
    wait_for_request(srv, "/echo/a", 3)
    child.wait(child.err, "watching 1 file and 1 folder", 2)
    assert len(srv.app.find(path="/echo/b")) == 1
    assert child.stop() == 130


@pytest.mark.parametrize("command", [("check",), ("run", "--dry-run")], ids=["check", "dry-run"])
def test_check_and_dry_run_watch_too_and_send_nothing(srv, tmp_path, watching, command):
    spec = write_spec(tmp_path, "steps:\n" + STEP.format(name="a", url=f"{srv.url}/a"))
    checking = command == ("check",)
    child = watching(*command, "--watch", "spec.yaml")
    child.wait(child.out, "ok: 1 spec file, 1 steps" if checking else f"GET {srv.url}/a")
    child.wait(child.err, "watching 1 file")

    spec.write_text(spec.read_text() + STEP.format(name="b", url=f"{srv.url}/b"))
    child.wait(child.out, "ok: 1 spec file, 2 steps" if checking else f"GET {srv.url}/b")
    child.wait(child.err, "watching 1 file", 2)
    assert child.stop() == 130
    assert srv.app.requests == []


@pytest.fixture
def own_srv():
    """A server of this test's own: the request the test cuts is still answered after it."""
    running = start_server(FakeKeystone())
    try:
        yield running
    finally:
        running.stop()


def test_ctrl_c_during_a_run_runs_the_finally_steps_and_ends_the_watch(own_srv, tmp_path, watching):
    write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - {name: slow, request: {url: "/slow?seconds=20"}}
        finally:
          - {name: delete, request: {method: DELETE, url: /echo/delete}}
        """,
        base=own_srv.url,
    )
    child = watching("--watch", "spec.yaml")
    wait_for_request(own_srv, "/slow")
    started = time.monotonic()
    assert child.stop() == 130
    assert time.monotonic() - started < 5  # the request was cut
    assert [r.method for r in own_srv.app.find(path="/echo/delete")] == ["DELETE"]
    assert child.err == [
        "apirun: interrupted by SIGINT: 0 steps and 0 files not run, finally steps ran"
    ]


def test_the_watch_ends_when_stdout_is_closed(srv, tmp_path):
    """Nobody would read the next runs: the watch ends with the run's exit code."""
    write_spec(tmp_path, "steps:\n" + STEP.format(name="a", url=f"{srv.url}/echo/closed"))
    done = subprocess.run(
        ["bash", "-c", 'exec "$@" >&-', "-", *apirun_command(), "--watch", "spec.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "watching" not in done.stderr
    assert len(srv.app.find(path="/echo/closed")) == 1


def test_usage_errors_end_the_command_at_once(tmp_path):
    write_spec(tmp_path, "steps:\n" + STEP.format(name="a", url="http://127.0.0.1:9/a"))
    for args in (("--junit", "nowhere/report.xml"), ("--var", "novalue")):
        done = run_process("--watch", *args, "spec.yaml", cwd=tmp_path)  # bounded: 60 s
        assert done.code == 2, done.text
        assert done.err.startswith("apirun: error: ")
        assert "watching" not in done.text
