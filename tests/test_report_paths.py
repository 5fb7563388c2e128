"""Reports never clobber what they should not: the run's inputs, a symlink, a FIFO or a
device; and a closed or full stdout does not stop a run or its reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import run_process, write_spec

from runner.atomicfile import NotARegularFile, write_atomic

SPEC = "steps:\n  - {name: p, request: {url: '{base}/json'}, expect: {status: 200}}\n"


@pytest.fixture
def project(srv, tmp_path):
    folder = tmp_path / "specs"
    folder.mkdir()
    write_spec(folder, SPEC, "a.yaml", base=srv.url)
    write_spec(
        tmp_path,
        "steps:\n  - {name: s, request: {url: '{base}/json'}}\n",
        "login.yaml",
        base=srv.url,
    )
    write_spec(folder, "steps:\n  - {name: common, include: ../common.yaml}\n", "b.yaml")
    write_spec(tmp_path, SPEC, "common.yaml", base=srv.url)
    (folder / "apirun.yaml").write_text("setup: ../login.yaml\n")
    (tmp_path / "values.yaml").write_text("x: 1\n")
    return tmp_path


@pytest.mark.parametrize(
    "report",
    ["specs/a.yaml", "common.yaml", "login.yaml", "values.yaml", "specs/apirun.yaml"],
    ids=["spec", "included", "setup", "vars-file", "project"],
)
@pytest.mark.parametrize("flag", ["--junit", "--report-json"])
def test_a_report_path_that_is_an_input_is_a_usage_error(srv, project, report, flag):
    before = (project / report).read_bytes()
    done = run_process("--vars-file", "values.yaml", flag, report, "specs", cwd=project)
    assert done.code == 2, done.text
    assert f"{flag} {report} is an input of this run" in done.err
    assert len(done.err.splitlines()) == 1
    assert (project / report).read_bytes() == before
    assert srv.app.requests == []  # refused before anything was sent


@pytest.mark.parametrize(
    "report",
    ["schemas/thing.json", "body.bin", "upload.txt", "common/schemas/inner.json"],
    ids=["schema", "data-file", "upload", "included-file's-schema"],
)
def test_a_report_over_a_file_a_spec_sends_or_checks_against_is_refused(srv, tmp_path, report):
    """Not only specs and includes: the files a step sends and the schema files it checks
    against are inputs too (runner/readfiles.py), here and in an included file."""
    for folder in ("schemas", "common/schemas"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "schemas/thing.json").write_text('{"type": "object"}')
    (tmp_path / "common/schemas/inner.json").write_text('{"type": "object"}')
    (tmp_path / "body.bin").write_bytes(b"\x00\x01")
    (tmp_path / "upload.txt").write_text("hello")
    write_spec(
        tmp_path,
        "steps:\n  - {name: inner, request: {url: '{base}/json'}, "
        "expect: {schema: schemas/inner.json}}\n",
        "common/inner.yaml",
        base=srv.url,
    )
    write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: checked
            request: {url: /json}
            expect: {schema: schemas/thing.json}
          - name: sends a file
            request: {method: POST, url: /echo, data: {file: body.bin}}
          - name: uploads
            request: {method: POST, url: /echo, files: {f: upload.txt}}
          - {name: inner, include: common/inner.yaml}
        """,
        base=srv.url,
    )
    before = (tmp_path / report).read_bytes()
    done = run_process("--report-html", report, "spec.yaml", cwd=tmp_path)
    assert done.code == 2, done.text
    assert f"--report-html {report} is an input of this run" in done.err
    assert (tmp_path / report).read_bytes() == before
    assert srv.app.requests == []
    assert run_process("--report-html", "report.html", "spec.yaml", cwd=tmp_path).code == 0


def test_a_symlinked_report_is_written_through_to_its_target(tmp_path):
    target = tmp_path / "real.xml"
    target.write_bytes(b"<old/>")
    link = tmp_path / "link.xml"
    link.symlink_to(target)
    write_atomic(link, b"<new/>")
    assert link.is_symlink()
    assert target.read_bytes() == b"<new/>"


def test_a_fifo_is_refused_before_the_run(srv, tmp_path):
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    spec = write_spec(tmp_path, SPEC, base=srv.url)
    done = run_process("--junit", str(fifo), str(spec))
    assert done.code == 2
    assert "is a FIFO: reports are written to regular files only" in done.err
    assert srv.app.requests == []
    assert fifo.exists() and not fifo.is_file()
    with pytest.raises(NotARegularFile):
        write_atomic(fifo, b"x")


def test_a_device_is_refused(srv, tmp_path):
    spec = write_spec(tmp_path, SPEC, base=srv.url)
    done = run_process("--report-json", "/dev/full", str(spec))
    assert done.code == 2
    assert "/dev/full is a device" in done.err


def shell(command: str, srv, tmp_path) -> subprocess.CompletedProcess[str]:
    spec = write_spec(tmp_path, SPEC * 1, base=srv.url)
    many = " ".join([str(spec)] * 1)
    runner = f"{sys.executable} -m runner --color never --report-json {tmp_path}/r.json"
    return subprocess.run(
        ["bash", "-c", command.format(apirun=f"{runner} {many} {many} {many}")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "command",
    [
        "{apirun} | head -1; exit ${{PIPESTATUS[0]}}",
        "{apirun} >&-",
        "{apirun} >/dev/full",
    ],
    ids=["head", "closed", "full"],
)
def test_a_closed_or_full_stdout_stops_output_not_the_run(srv, tmp_path, command):
    done = shell(command, srv, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert done.stderr == ""
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["passed"] and report["summary"]["files"] == 3
    assert len(srv.app.find(path="/json")) == 3


def test_a_symlink_into_a_missing_folder_is_refused_before_the_run(srv, tmp_path):
    spec = write_spec(tmp_path, SPEC, base=srv.url)
    (tmp_path / "report.xml").symlink_to(tmp_path / "gone" / "report.xml")
    done = run_process("--junit", str(tmp_path / "report.xml"), str(spec))
    assert done.code == 2, done.text
    assert f"there is no folder {tmp_path / 'gone'}" in done.err
    assert srv.app.requests == []
