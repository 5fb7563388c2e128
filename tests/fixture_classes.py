"""Python fixtures for tests/test_fixtures.py, in gabbi's interface (start/stop_fixture).

Each records what happened in a log file named by APIRUN_FIXTURE_LOG, so a test can read the
order of starts and stops from outside the run.
"""

from __future__ import annotations

import os
import unittest


def _log(event: str) -> None:
    if "APIRUN_FIXTURE_LOG" not in os.environ:
        return
    with open(os.environ["APIRUN_FIXTURE_LOG"], "a", encoding="utf-8") as log:
        log.write(event + "\n")


class GabbiFixture:
    """gabbi.fixture.GabbiFixture's shape: a context manager calling start/stop_fixture."""

    def __init__(self) -> None:
        self.exc_type = None

    def __enter__(self) -> None:
        self.start_fixture()

    def __exit__(self, exc_type, value, traceback) -> None:
        self.exc_type = exc_type
        self.stop_fixture()

    def start_fixture(self) -> None:
        pass

    def stop_fixture(self) -> None:
        pass


class Token(GabbiFixture):
    """Sets an environment variable that the spec's templates read."""

    def start_fixture(self) -> None:
        os.environ["FIXTURE_ITEM_NAME"] = "from-the-fixture"
        _log("start Token")

    def stop_fixture(self) -> None:
        os.environ.pop("FIXTURE_ITEM_NAME", None)
        _log(f"stop Token {self.exc_type.__name__ if self.exc_type else 'clean'}")


class Plain:
    """No base class at all: just the two methods."""

    def start_fixture(self) -> None:
        _log("start Plain")

    def stop_fixture(self) -> None:
        _log("stop Plain")


class Broken(GabbiFixture):
    def start_fixture(self) -> None:
        _log("start Broken")
        raise ConnectionError("database unreachable")


class BadStop(GabbiFixture):
    def start_fixture(self) -> None:
        _log("start BadStop")

    def stop_fixture(self) -> None:
        _log("stop BadStop")
        raise RuntimeError("could not drop the database")


class SkipAll(GabbiFixture):
    def start_fixture(self) -> None:
        raise unittest.SkipTest("entire suite skipped")


class Interrupt(GabbiFixture):
    """Ctrl-C in the middle of the file: raised from a step by the app (see the test)."""

    def start_fixture(self) -> None:
        _log("start Interrupt")

    def stop_fixture(self) -> None:
        _log(f"stop Interrupt {self.exc_type.__name__ if self.exc_type else 'clean'}")
