"""``__repr__``, ``__eq__`` and ``__hash__`` for dataclasses, written once instead of generated
for each class.

``@dataclass`` generates each method it adds as source text and compiles it (``exec``), class
by class: with ~40 dataclasses on the way to the first request, that was half of apirun's
import time. A dataclass declared ``eq=False, repr=False`` on one of these bases keeps
everything else ``@dataclass`` gives (the generated ``__init__``, ``frozen``, ``slots``,
``fields()``, ``replace()``) and gets these three methods from here instead, with the same
results as the generated ones: the same repr text (fields with ``repr=False`` left out, a
recursive one shown as ``...``), equality between instances of the same class over the fields
with ``compare=True``, and the same hash as a frozen dataclass's (of the tuple of those
fields), so nothing that uses them can tell the difference::

    @dataclass(frozen=True, slots=True, eq=False, repr=False)
    class Point(Record):
        x: int
        y: int = 0

``@record`` says that once, for the frozen ones: a slotted dataclass on ``Record`` whose
fields mypy holds read-only (``frozen_default``). At run time it is not frozen: ``frozen=True``
makes ``@dataclass`` compile a ``__setattr__`` and a ``__delattr__`` for every class, two
thirds of what it still compiled on the way to the first request (~8% of the command's
start-up instructions), and makes each ``__init__`` set its fields through
``object.__setattr__``. Nothing in runner assigns to a record's field (mypy, run by CI,
refuses it); a new value is ``dataclasses.replace()``::

    @record
    class Point(Record):
        x: int
        y: int = 0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from operator import attrgetter
from threading import get_ident
from typing import Any, TypeVar, dataclass_transform

# Per class: (repr names, the getter of the compared fields' values, of the hashed ones).
_Plan = tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]], Callable[[Any], tuple[Any, ...]]]
_plans: dict[type, _Plan] = {}
_in_repr: set[tuple[int, int]] = set()


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    if not names:
        return lambda _: ()
    if len(names) == 1:  # attrgetter gives the value itself, not a 1-tuple
        one = attrgetter(names[0])
        return lambda item: (one(item),)
    return attrgetter(*names)


def _plan(cls: type) -> _Plan:
    plan = _plans.get(cls)
    if plan is None:
        found = fields(cls)
        shown = tuple(f.name for f in found if f.repr)
        compared = tuple(f.name for f in found if f.compare)
        hashed = tuple(f.name for f in found if (f.compare if f.hash is None else f.hash))
        plan = _plans[cls] = (shown, _getter(compared), _getter(hashed))
    return plan


def _repr(self: Any) -> str:
    key = (id(self), get_ident())
    if key in _in_repr:
        return "..."
    _in_repr.add(key)
    try:
        shown = _plan(type(self))[0]
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{type(self).__qualname__}({inner})"
    finally:
        _in_repr.discard(key)


def _eq(self: Any, other: object) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented
    values = _plan(type(self))[1]
    return values(self) == values(other)


def _hash(self: Any) -> int:
    return hash(_plan(type(self))[2](self))


class Record:
    """The base of a frozen dataclass: ``@record``."""

    __slots__ = ()
    __repr__ = _repr
    __eq__ = _eq
    __hash__ = _hash


class MutableRecord:
    """The base of a mutable dataclass: ``@dataclass(eq=False, repr=False)``; unhashable, as
    a mutable dataclass with ``eq=True`` is."""

    __slots__ = ()
    __repr__ = _repr
    __eq__ = _eq
    __hash__ = None  # type: ignore[assignment]


_R = TypeVar("_R", bound=Record)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: type[_R]) -> type[_R]:
    """A record: ``@dataclass(slots=True, eq=False, repr=False)`` on a ``Record``, read-only
    for mypy (see the module's docstring for why not frozen at run time)."""
    return dataclass(slots=True, eq=False, repr=False)(cls)
