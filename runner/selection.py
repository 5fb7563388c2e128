"""Which steps run: ``--tag`` and ``--step``, plus the earlier steps they need for captures.

Decided statically, before anything is sent: a step needs an earlier step when one of its
templates reads a variable that the earlier step captures (the last one before it, as at run
time), and needs the step just before it when its request, ``when`` or ``loop`` reads
``response``. Those steps run too, so a selected step never fails on an undefined variable that a
full run would have captured for it. Every other step is skipped with the reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from . import templating
from .errors import ApirunError
from .model import Spec, Step
from .record import Record, record
from .source import Source


class SelectionError(ApirunError):
    """--tag or --step selects nothing: a typo must not pass as an empty, green run."""


@record
class Selection(Record):
    """What the user asked for. Empty means everything runs."""

    tags: frozenset[str] = frozenset()  # a step runs if it or its file has any of them
    steps: frozenset[str] = frozenset()  # a step runs if its name is one of them

    @property
    def active(self) -> bool:
        return bool(self.tags or self.steps)

    def is_target(self, spec: Spec, step: Step) -> bool:
        """Selected for itself (not only because a selected step needs it)."""
        if self.tags and not self.tags.intersection(spec.tags + step.tags):
            return False
        return not self.steps or bool({step.name, display_name(step)} & self.steps)

    def selects(self, spec: Spec) -> bool:
        """Whether the file runs at all: it, or one of its steps, is selected."""
        return not self.active or any(self.is_target(spec, step) for step in spec.main_steps())

    def skipped(self, spec: Spec) -> dict[str, str]:
        """Step name (as reported) → why it does not run, for the steps left out.

        The finally steps are never left out: cleanup runs, and a cleanup step that needs
        a value no selected step captured is skipped for that reason at run time.
        """
        if not self.active:
            return {}
        steps = list(spec.main_steps())
        targets = [i for i, step in enumerate(steps) if self.is_target(spec, step)]
        running = with_dependencies(spec, targets)
        reason = f"not selected by {self.describe()}"
        return {display_name(step): reason for i, step in enumerate(steps) if i not in running}

    def describe(self) -> str:
        parts = []
        if self.tags:
            parts.append("--tag " + ",".join(sorted(self.tags)))
        parts += [f"--step '{name}'" for name in sorted(self.steps)]
        return ", ".join(parts)


def check(specs: Sequence[Spec], selection: Selection) -> None:
    """Raise SelectionError when a --step name, or all the --tag values, match nothing."""
    if not selection.active:
        return
    names = {name for spec in specs for step in spec.main_steps() for name in _names_of(step)}
    for name in sorted(selection.steps - names):
        raise SelectionError(f"--step: no step is named '{name}'" + _did_you_mean(name, names))
    if not any(selection.selects(spec) for spec in specs):
        tags = {tag for spec in specs for tag in spec.tags + _step_tags(spec)}
        asked = ",".join(sorted(selection.tags))
        if selection.steps:
            raise SelectionError(f"no step selected by {selection.describe()}")
        known = f" (tags used: {', '.join(sorted(tags))})" if tags else " (no file uses tags)"
        raise SelectionError(f"--tag {asked}: no spec file or step has this tag{known}")


def display_name(step: Step) -> str:
    """The name reports use: an included step's carries its include step's name."""
    return step.prefix + step.name


def _names_of(step: Step) -> tuple[str, ...]:
    return (step.name, display_name(step))


def _step_tags(spec: Spec) -> tuple[str, ...]:
    return tuple(tag for step in spec.main_steps() for tag in step.tags)


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    import difflib  # did you mean: only when something is wrong

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# -- dependencies ------------------------------------------------------------------------------


def with_dependencies(spec: Spec, targets: Iterable[int]) -> set[int]:
    """The targets and, transitively, every earlier step whose captures they read."""
    needs = dependencies(spec)
    running: set[int] = set()
    pending = list(targets)
    while pending:
        index = pending.pop()
        if index not in running:
            running.add(index)
            pending += needs[index]
    return running


def dependencies(spec: Spec) -> list[set[int]]:
    """For each step (by index), the earlier steps that capture a variable it reads."""
    file_names = templating.referenced_names(spec.base_url) | _names(spec.defaults.headers)
    captured_by: dict[str, int] = {}  # variable → the last step so far that captures it
    needs: list[set[int]] = []
    for index, step in enumerate(spec.main_steps()):
        own = captured_names(step)
        reads = file_names | _names(step.request) | (step_reads(step) - own)
        needed = {captured_by[name] for name in reads if name in captured_by}
        if index and "response" in _before_response(step) | file_names:
            needed.add(index - 1)  # ``response`` is the step before's, until it is sent
        needs.append(needed)
        for name in own:
            captured_by[name] = index
    return needs


def _before_response(step: Step) -> set[str]:
    """Names read before the step has a response of its own: there ``response`` is the
    previous step's."""
    return _names(step.request) | _names(step.when) | _names(step.loop) | _names(step.base_url)


def captured_names(step: Step) -> set[str]:
    return {capture.name for capture in step.captures}


def step_reads(step: Step) -> set[str]:
    """Names read by the step's templates outside its request (expectations, captures…).

    Walks every field of the step, so keys added to the model later are covered too.
    """
    names: set[str] = set()
    for field in dataclasses.fields(step):
        if field.name not in ("request", "name", "source", "tags", "prefix"):
            names |= _names(getattr(step, field.name))
    return names


def _names(value: Any) -> set[str]:
    names: set[str] = set()
    for template in _templates(value):
        names |= templating.referenced_names(template)
    return names


def _templates(value: Any) -> Iterator[Any]:
    if isinstance(value, templating.Expr | templating.Text):
        yield value
    elif isinstance(value, templating.DynDict):
        for key, item in value.items:
            yield from _templates(key)
            yield from _templates(item)
    elif isinstance(value, templating.DynList | tuple | list):
        for item in value.items if isinstance(value, templating.DynList) else value:
            yield from _templates(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _templates(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, Source | type):
        for field in dataclasses.fields(value):
            yield from _templates(getattr(value, field.name))
