"""runner.record: the shared __repr__/__eq__/__hash__ give what @dataclass would generate."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runner.record import MutableRecord, Record, record


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Point(Record):
    x: int
    y: object = 0
    note: str = field(default="", repr=False, compare=False)


@record
class RecordPoint(Record):
    x: int
    y: object = 0
    note: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class GeneratedPoint:
    x: int
    y: object = 0
    note: str = field(default="", repr=False, compare=False)


@dataclass(slots=True, eq=False, repr=False)
class Box(MutableRecord):
    items: list[object] = field(default_factory=list)


@dataclass(slots=True)
class GeneratedBox:
    items: list[object] = field(default_factory=list)


@dataclass(frozen=True, eq=False, repr=False)
class Empty(Record):
    pass


@dataclass(frozen=True)
class GeneratedEmpty:
    pass


@pytest.mark.parametrize("args", [(1,), (1, 2), (1, "two", "note"), (1, (2, [3]), "x"), (0, None)])
def test_frozen_record_is_the_generated_dataclass(args: tuple[object, ...]) -> None:
    mine, generated = Point(*args), GeneratedPoint(*args)
    assert repr(mine) == repr(generated).replace("GeneratedPoint", "Point")
    assert mine == Point(*args)
    assert (mine != Point(*args)) is False  # __ne__ too
    if all(isinstance(a, int | str | None) for a in args):
        assert hash(mine) == hash(generated)
    assert Point(1, 2, "a") == Point(1, 2, "b")  # compare=False
    assert Point(1, 2) != Point(2, 1)
    assert (mine == generated) is False  # another class: NotImplemented both ways
    assert mine.__eq__(generated) is NotImplemented


def test_frozen_record_stays_frozen_and_slotted() -> None:
    point = Point(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.x = 2  # type: ignore[misc]
    assert not hasattr(point, "__dict__")
    assert dataclasses.replace(point, y=5) == Point(1, 5)
    assert [f.name for f in dataclasses.fields(point)] == ["x", "y", "note"]
    assert {Point(1): "a"}[Point(1)] == "a"


def test_mutable_record_is_unhashable_and_compares_by_value() -> None:
    box, generated = Box([1]), GeneratedBox([1])
    assert repr(box) == repr(generated).replace("GeneratedBox", "Box")
    assert box == Box([1]) and box != Box([2])
    with pytest.raises(TypeError):
        hash(box)
    with pytest.raises(TypeError):
        hash(generated)
    box.items.append(box)  # a recursive repr, as the generated one shows it
    generated.items.append(generated)
    assert repr(box) == repr(generated).replace("GeneratedBox", "Box")


def test_a_record_without_fields() -> None:
    assert repr(Empty()) == "Empty()" == repr(GeneratedEmpty()).replace("Generated", "")
    assert Empty() == Empty() and hash(Empty()) == hash(GeneratedEmpty())


@pytest.mark.parametrize("args", [(1,), (1, 2), (1, "two", "note"), (0, None)])
def test_at_record_is_a_slotted_record_dataclass(args: tuple[object, ...]) -> None:
    mine, generated = RecordPoint(*args), GeneratedPoint(*args)
    assert repr(mine) == repr(generated).replace("GeneratedPoint", "RecordPoint")
    assert mine == RecordPoint(*args) and hash(mine) == hash(generated)
    assert not hasattr(mine, "__dict__")
    assert dataclasses.replace(mine, y=5) == RecordPoint(args[0], 5)
    assert [f.name for f in dataclasses.fields(mine)] == ["x", "y", "note"]


def test_mypy_refuses_to_assign_to_a_record_field(tmp_path: Path) -> None:
    """@record is read-only for mypy (which CI runs on runner/), not at run time."""
    source = tmp_path / "assigns.py"
    source.write_text(
        textwrap.dedent(
            """\
            from runner.model import Variable
            from runner.record import Record, record


            @record
            class Pair(Record):
                left: int
                right: int = 0


            def change(pair: Pair, variable: Variable) -> Pair:
                pair.left = 2
                variable.name = "other"
                return Pair(1, right=3)
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).parent.parent,
    )
    errors = [line for line in done.stdout.splitlines() if line.startswith(f"{source}:")]
    assert len(errors) == 2, done.stdout
    assert 'Property "left" defined in "Pair" is read-only' in errors[0]
    assert 'Property "name" defined in "Variable" is read-only' in errors[1]
