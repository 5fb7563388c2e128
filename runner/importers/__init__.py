"""Importers: other formats brought in as apirun specs (``apirun import ...``).

``apirun import gabbi`` (gabbi.py) turns many files into a folder and has its own entry;
``apirun import curl|har|postman``: existing requests brought in as one spec.

Each importer reads its format into ``_spec.Imported`` (listing what it could not
translate); the spec text is then checked as ``apirun check`` would check it, so what is
written is a spec that loads, and nothing is written when anything went wrong.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._spec import Imported, ImportError_, to_yaml

__all__ = ["FORMATS", "ImportError_", "Translation", "translate"]


@dataclass(slots=True)
class Translation:
    text: str  # the spec, YAML
    notes: list[str] = field(default_factory=list)  # what could not be translated
    steps: int = 0


def _curl(source: str, folder: str, options: Any) -> Imported:
    from .curl import import_curl

    return import_curl(source, folder)


def _har(source: str, folder: str, options: Any) -> Imported:
    from .har import import_har

    return import_har(source, hosts=options.host, pattern=options.url_pattern)


def _postman(source: str, folder: str, options: Any) -> Imported:
    from .postman import import_postman

    return import_postman(source, folder)


FORMATS: dict[str, Callable[[str, str, Any], Imported]] = {
    "curl": _curl,
    "har": _har,
    "postman": _postman,
}


def translate(kind: str, source: str, spec_path: str, options: Any = None) -> Translation:
    """The spec for ``source``; raises ImportError_ (nothing to write) with one message.

    ``spec_path``: where it will be written (file paths in it are relative to its folder).
    """
    from ..checker import check_spec
    from ..errors import SpecError
    from ..loader import load_text

    folder = os.path.dirname(os.path.abspath(spec_path))
    imported = FORMATS[kind](source, folder, options)
    if not imported.steps:
        raise ImportError_("nothing to import: no request found" + _why(imported))
    text = to_yaml(imported)
    # The spec's own checks, with its path, so relative files resolve as they will.
    try:
        spec = load_text(text, spec_path)
    except SpecError as exc:
        raise ImportError_(f"the translation does not load as a spec: {exc}") from None
    problems = [p for p in check_spec(spec, ()) if "env" not in p.message]
    if problems:
        listed = "; ".join(f"{p.source.line}: {p.message}" for p in problems[:5])
        raise ImportError_(f"the translation does not pass apirun check: {listed}")
    return Translation(text, imported.notes, len(imported.steps))


def _why(imported: Imported) -> str:
    return f" ({'; '.join(imported.notes[:3])})" if imported.notes else ""
