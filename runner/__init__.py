"""apirun: run ordered HTTP requests described in YAML, with captures and expectations.

The public API, loaded on first use so that ``apirun --version`` stays instant::

    from runner import check_spec, load_file, run_spec
    spec = load_file("specs/users.yaml")      # raises SpecError: every problem of the file
    assert not check_spec(spec)               # undefined variables, as `apirun check` does
    result = run_spec(spec)
    print(result.passed)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_file": "loader",
    "load_text": "loader",
    "check_spec": "checker",
    "run_spec": "engine",
    "run_specs": "schedule",
    "RunOptions": "engine",
    "RunInputs": "inputs",
    "Prepared": "inputs",
    "prepare": "inputs",
    "Spec": "model",
    "Step": "model",
    "Source": "source",
    "RunResult": "results",
    "FileResult": "results",
    "StepResult": "results",
    "ExpectationResult": "results",
    "Outcome": "results",
    "ApirunError": "errors",
    "SpecError": "errors",
    "TemplateError": "errors",
    "TransportError": "errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'runner' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
