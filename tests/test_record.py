"""runner.record: the shared __repr__/__eq__/__hash__ give what @dataclass would generate."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from runner.record import MutableRecord, Record


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Point(Record):
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
