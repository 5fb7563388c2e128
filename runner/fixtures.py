"""Python fixtures around a spec file: ``fixtures: [MODULE:CLASS, ...]``.

The interface is gabbi's (``gabbi.fixture.GabbiFixture``), so existing fixture classes work
unchanged: each class is instantiated with no arguments and started in order before the
file's first step; they are stopped in reverse order after its last step (``finally``
included), whatever happened — a failed step, an error, Ctrl-C. A class that is a context
manager (GabbiFixture is one) is entered and exited, so it sees the exception that ended the
file, as under gabbi; any other object has ``start_fixture()`` and ``stop_fixture()``
called. A fixture raising ``unittest.SkipTest`` when it starts skips the file's steps
(gabbi's SkipAllFixture).

Imported only by files that have fixtures.
"""

from __future__ import annotations

import importlib
import unittest
from dataclasses import dataclass, field
from typing import Any

from .model import FixtureName
from .record import MutableRecord, Record, record
from .source import Source


@record
class FixtureProblem(Record):
    """Why the fixtures could not start or stop; ``spec`` when the name is wrong."""

    message: str
    source: Source
    spec: bool = False
    skip: bool = False  # SkipTest: the steps are skipped, nothing failed


@dataclass(slots=True, eq=False, repr=False)
class RunningFixtures(MutableRecord):
    """The fixtures of one file, started and stopped by the engine around the file."""

    names: tuple[FixtureName, ...]
    started: list[tuple[FixtureName, Any]] = field(default_factory=list)

    def start(self) -> FixtureProblem | None:
        """Start each in order; on a problem, stop those already started and say why."""
        for name in self.names:
            try:
                fixture = _load(name)
            except _BadName as exc:
                self.stop(None)
                return FixtureProblem(str(exc), name.source, spec=True)
            try:
                if hasattr(fixture, "__enter__"):
                    fixture.__enter__()
                else:
                    fixture.start_fixture()
            except unittest.SkipTest as exc:
                self.stop(None)
                return FixtureProblem(f"fixture {name.name}: {exc}", name.source, skip=True)
            except Exception as exc:
                self.stop(None)
                return FixtureProblem(
                    f"fixture {name.name} failed to start: {_describe(exc)}", name.source
                )
            self.started.append((name, fixture))
        return None

    def stop(self, error: BaseException | None) -> FixtureProblem | None:
        """Stop the started ones, last first; every one is stopped even if one raises."""
        problem = None
        while self.started:
            name, fixture = self.started.pop()
            try:
                if hasattr(fixture, "__exit__"):
                    info = (type(error), error, error.__traceback__) if error else (None,) * 3
                    fixture.__exit__(*info)
                else:
                    fixture.stop_fixture()
            except Exception as exc:
                message = f"fixture {name.name} failed to stop: {_describe(exc)}"
                problem = problem or FixtureProblem(message, name.source)
        return problem


class _BadName(Exception):
    pass


def _load(name: FixtureName) -> Any:
    module, _, attribute = name.name.partition(":")
    try:
        found: Any = importlib.import_module(module)
    except ImportError as exc:
        raise _BadName(f"fixture {name.name}: cannot import {module}: {exc}") from None
    except Exception as exc:
        raise _BadName(f"fixture {name.name}: importing {module} raised {_describe(exc)}") from None
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise _BadName(f"fixture {name.name}: {module} has no {attribute}")
        found = getattr(found, part)
    if not callable(found):
        raise _BadName(f"fixture {name.name}: {attribute} is not a class")
    try:
        fixture = found()
    except Exception as exc:
        raise _BadName(f"fixture {name.name}: making it raised {_describe(exc)}") from None
    if not hasattr(fixture, "__enter__") and not hasattr(fixture, "start_fixture"):
        raise _BadName(
            f"fixture {name.name} has neither start_fixture() nor __enter__() "
            "(gabbi's GabbiFixture interface)"
        )
    return fixture


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
