"""Placement's gabbi suite two ways, in-process, on this machine: gabbi's own driver, and
``apirun import gabbi`` + ``apirun --app`` with Placement's fixtures. Prints the share of
tests with the same verdict, both durations, and every test that differs with its reason.

Run it with a Python that has openstack-placement, gabbi and apirun installed (the e2e test
tests/test_e2e_placement.py builds such a venv; docs/gabbi.md has the command):

    python tests/placement_verdicts.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

LOADER = "placement.tests.functional.test_api"
FIXTURES = "placement.tests.functional.fixtures.gabbits"
APP = f"{FIXTURES}:setup_app()"
# apirun's outcomes as gabbi's unittest results: an expected failure (gabbi's xfail, and
# apirun's from the converted xfail: true) and an unexpected success are verdicts of their
# own on both sides, and so is a skip; failed and error are both a failure.
VERDICTS = {"passed": "pass", "skipped": "skip", "xfail": "xfail", "xpass": "xpass"}


def gabbi_verdicts() -> tuple[dict[tuple[str, int], tuple[str, str]], float]:
    """(file, index in file) → (verdict, test name) under gabbi's driver, and the time."""
    import importlib

    module = importlib.import_module(LOADER)
    suite = module.load_tests(unittest.TestLoader(), None, None)
    seen: dict[tuple[str, int], tuple[str, str]] = {}
    counters: dict[str, int] = {}

    class Recorder(unittest.TestResult):
        def _record(self, test: unittest.TestCase, verdict: str) -> None:
            stem = test.test_base_name  # type: ignore[attr-defined]  # the file name
            index = counters.get(stem, 0)
            counters[stem] = index + 1
            seen[(stem, index)] = (verdict, test.test_data["name"])  # type: ignore[attr-defined]

        def addSuccess(self, test):  # noqa: N802 - unittest's names
            self._record(test, "pass")

        def addFailure(self, test, err):  # noqa: N802
            self._record(test, "fail")

        def addError(self, test, err):  # noqa: N802
            if isinstance(test, unittest.TestCase) and hasattr(test, "test_data"):
                self._record(test, "fail")

        def addSkip(self, test, reason):  # noqa: N802
            self._record(test, "skip")

        def addExpectedFailure(self, test, err):  # noqa: N802
            self._record(test, "xfail")

        def addUnexpectedSuccess(self, test):  # noqa: N802
            self._record(test, "xpass")

    started = time.perf_counter()
    suite.run(Recorder())
    return seen, time.perf_counter() - started


def apirun_verdicts(work: Path) -> tuple[dict[tuple[str, int], tuple[str, str]], float, dict]:
    import importlib

    gabbits = Path(importlib.import_module(LOADER).__file__).parent / "gabbits"
    specs = work / "specs"
    convert = [sys.executable, "-m", "runner", "import", "gabbi", str(gabbits), "-o", str(specs)]
    subprocess.run([*convert, "--fixture-module", FIXTURES], check=True, capture_output=True)
    report = work / "report.json"
    command = [sys.executable, "-m", "runner", "--color", "never", "--app", APP, str(specs)]
    started = time.perf_counter()
    subprocess.run(
        [*command, "--report-json", str(report)], capture_output=True, cwd=work, check=False
    )
    wall = time.perf_counter() - started
    data = json.loads(report.read_text())
    # The run itself, as gabbi's is measured (imports and process start not counted).
    elapsed = data["duration_ms"] / 1000.0
    print(f"apirun process, wall clock: {wall:.2f} s", file=sys.stderr)
    seen: dict[tuple[str, int], tuple[str, str]] = {}
    reasons: dict[tuple[str, int], str] = {}
    for file in data["files"]:
        stem = Path(file["path"]).stem
        for index, step in enumerate(file["steps"]):
            verdict = VERDICTS.get(step["outcome"], "fail")
            seen[(stem, index)] = (verdict, step["name"])
            why = [e.get("message") or "" for e in step["expectations"] if not e["passed"]]
            if step["error"]:
                why.insert(0, str(step["error"].get("message")))
            reasons[(stem, index)] = "; ".join(why)[:300]
    return seen, elapsed, reasons


def compare() -> dict:
    gabbi, gabbi_seconds = gabbi_verdicts()
    with tempfile.TemporaryDirectory() as folder:
        apirun, apirun_seconds, reasons = apirun_verdicts(Path(folder))
    keys = sorted(set(gabbi) | set(apirun))
    differing = []
    for key in keys:
        left, right = gabbi.get(key, ("missing", "")), apirun.get(key, ("missing", ""))
        if left[0] != right[0]:
            name = left[1] or right[1]
            differing.append(
                {
                    "file": key[0],
                    "test": name,
                    "gabbi": left[0],
                    "apirun": right[0],
                    "reason": reasons.get(key, ""),
                }
            )
    same = len(keys) - len(differing)
    return {
        "tests": len(keys),
        "gabbi_tests": len(gabbi),
        "apirun_tests": len(apirun),
        "gabbi_passed": sum(1 for v in gabbi.values() if v[0] == "pass"),
        "apirun_passed": sum(1 for v in apirun.values() if v[0] == "pass"),
        "same_verdict": same,
        "share": same / len(keys) if keys else 0.0,
        "gabbi_seconds": round(gabbi_seconds, 2),
        "apirun_seconds": round(apirun_seconds, 2),
        "differing": differing,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="FILE", help="also write the comparison as JSON")
    options = parser.parse_args()
    os.environ.setdefault("OS_TEST_PATH", "")
    result = compare()
    print(
        f"{result['same_verdict']} of {result['tests']} tests give the same verdict "
        f"({result['share']:.1%}); gabbi passed {result['gabbi_passed']}, apirun "
        f"{result['apirun_passed']}; gabbi {result['gabbi_seconds']} s, apirun "
        f"{result['apirun_seconds']} s (each the run in-process: imports and conversion not "
        "included)"
    )
    for item in result["differing"]:
        print(
            f"- {item['file']}: {item['test']}: gabbi {item['gabbi']}, apirun "
            f"{item['apirun']}: {item['reason']}"
        )
    if options.json:
        Path(options.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
