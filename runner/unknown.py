"""``Unknown``: in a dry run, a value only a response could give (a capture, ``response``).

It is a string that reads ``<capture token from step 'get token'>`` and stays unknown
through attributes, indexes, iteration and the ``endpoint`` filter
(``<capture user.id from step 'create user'>``), so templates built on it still render.
Imports nothing: templating asks about it without loading the dry run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# How an Unknown reads, and how it reads once percent-encoded in a URL.
UNKNOWN_TEXT = re.compile(r"<[^<>]* from step '[^']*'>")
QUOTED_UNKNOWN = re.compile(r"%3C(?:(?!%3C|%3E).)*?%20from%20step%20(?:(?!%3C|%3E).)*?%3E")


class Unknown(str):
    """A value only a response could give; reads as what it is and where it comes from."""

    what: str
    step: str

    def __new__(cls, what: str, step: str) -> Unknown:
        value = super().__new__(cls, f"<{what} from step '{step}'>")
        value.what, value.step = what, step
        return value

    def derive(self, label: str) -> Unknown:
        return Unknown(f"{self.what}{label}", self.step)

    def __getattr__(self, name: str) -> Unknown:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.derive(f".{name}")

    def __getitem__(self, key: Any) -> Unknown:
        return self.derive(f"[{key!r}]")

    def __iter__(self) -> Iterator[Unknown]:
        yield Unknown(f"each item of {self.what}", self.step)
