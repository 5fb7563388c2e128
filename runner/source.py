"""Where a thing stands in a spec file, so every message can point at it."""

from __future__ import annotations

from typing import NamedTuple


class Source(NamedTuple):
    """A position in a spec file. A named tuple, not a dataclass: a spec of thousands of
    steps makes tens of thousands of them while loading, and a tuple is built in C."""

    file: str
    line: int  # 1-based
    column: int = 1  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"
