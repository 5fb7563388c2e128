"""Placement's own gabbi suite, converted by ``apirun import gabbi`` and run in-process with
``--app`` and Placement's fixtures, against gabbi's driver on the same machine: at least 95%
of the tests give the same verdict, and apirun's run is the faster (docs/gabbi.md).

Needs a Python with openstack-placement, gabbi and apirun installed, named by
APIRUN_PLACEMENT_PYTHON (.ci/run builds .venv-placement). Unset: skipped, except under CI.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import _ci

pytestmark = pytest.mark.e2e
SCRIPT = Path(__file__).resolve().parent / "placement_verdicts.py"


def test_placement_gabbits_give_gabbis_verdicts_in_process(tmp_path):
    python = os.environ.get("APIRUN_PLACEMENT_PYTHON", "").strip()
    if not python:
        message = (
            "APIRUN_PLACEMENT_PYTHON is not set: python3 -m venv .venv-placement && "
            ".venv-placement/bin/pip install openstack-placement==16.0.0 gabbi oslotest "
            "wsgi-intercept -e . ; APIRUN_PLACEMENT_PYTHON=.venv-placement/bin/python"
        )
        if _ci():
            pytest.fail(message)
        pytest.skip(message)
    report = tmp_path / "verdicts.json"
    done = subprocess.run(
        [python, str(SCRIPT), "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(report.read_text())
    print(done.stdout)  # the share, the durations and every differing test, in the log
    assert result["gabbi_tests"] >= 1300 and result["apirun_tests"] == result["gabbi_tests"]
    assert result["share"] >= 0.95, done.stdout
    assert result["apirun_seconds"] < result["gabbi_seconds"], done.stdout
