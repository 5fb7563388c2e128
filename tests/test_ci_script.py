""".ci/run in a checkout without ../shared (issue 10): one line saying what is missing and how
to get a Keystone instead, exit 2, before installing anything."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CI_RUN = Path(__file__).resolve().parent.parent / ".ci" / "run"


def test_ci_run_without_the_shared_stack_says_how_to_get_a_keystone(tmp_path):
    checkout = tmp_path / "apirun"
    (checkout / ".ci").mkdir(parents=True)
    shutil.copy(CI_RUN, checkout / ".ci" / "run")  # ../shared (tmp_path/shared) is absent

    done = subprocess.run(
        ["bash", str(checkout / ".ci" / "run")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )

    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "../shared/openstack/stack-up.sh not found" in lines[0]
    assert "bash scripts/keystone/up.sh" in lines[0]
    assert not (checkout / ".venv").exists()  # nothing was installed
