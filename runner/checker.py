"""The static pass: every variable a template uses is defined before the step that uses it.

A variable is defined by the file's ``vars`` (those above it, for a variable's own value),
``--vars-file`` and ``--var``, ``env`` and ``os``, the names the engine provides, or a
``capture`` of an earlier step (or of the same step, for the captures below it and its
``retry.until``; its checks see the variables from before the step). A misspelt
``{{ tokn }}`` is reported with its line, its step and the nearest defined name, before
anything is sent; so is a capture used before the step that takes it.

Runs after loading (load → check → run), on the model, and returns Diagnostics like the
loader's. Plain references (``{{ token }}``, ``{{ user.id }}``) are read from the prepared
values; other templates go through Jinja's own analysis (``jinja2.meta``), which knows
``{% set %}``, ``{% for %}`` loop variables and macros. A name that is only used where
Jinja tolerates it being undefined (``x | default(...)``, ``x is defined``) is optional.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from . import templating
from .errors import Diagnostic
from .model import Include, Item, Spec, Step
from .record import Record, record
from .source import Source

# Names in every scope; ``response`` exists after a file's first step, and in a step's own
# checks and captures; ``item`` and ``index`` only in a step with a ``loop``.
ENGINE_NAMES = frozenset({"env", "os"})
RESPONSE = frozenset({"response"})
LOOP_NAMES = frozenset({"item", "index"})
_OPTIONAL_FILTERS = frozenset({"default", "d"})
_OPTIONAL_TESTS = frozenset({"defined", "undefined"})


@record
class _Use(Record):
    """A template that needs some variables."""

    names: frozenset[str]
    text: str
    source: Source
    response_attributes: tuple[str, ...] = ()  # response.X read, for X not in RESPONSE_ATTRIBUTES
    item_keys: tuple[str, ...] = ()  # item.X / item['X'] read: the loop's rows must have X


def check_spec(spec: Spec, given: Iterable[str] = ()) -> list[Diagnostic]:
    """Every use of an undefined variable in a spec; ``given`` names the variables of
    --vars-file and --var (or of RunOptions.variables)."""
    given = set(given)
    problems: list[Diagnostic] = []
    later = _captured_by_step(spec)
    vars_below = {variable.name: variable for variable in spec.variables}
    defined = set(ENGINE_NAMES) | given

    def report(
        uses: Iterable[_Use], known: set[str], step: str | None, rows: set[str] | None = None
    ) -> None:
        for use in uses:
            for key in use.item_keys:
                if rows is not None and key not in rows:
                    hint = _did_you_mean(key, rows) or "they have " + ", ".join(sorted(rows))
                    message = f"the loop's rows have no key '{key}' in {use.text!r}"
                    problems.append(Diagnostic(f"{message} — {hint}", use.source, step, hint))
            for name in sorted(use.names - known):
                hint = _hint(name, known, later, vars_below, step)
                message = f"undefined variable '{name}' in {use.text!r}"
                problems.append(Diagnostic(f"{message} — {hint}", use.source, step, hint))
            for attribute in use.response_attributes if "response" in known else ():
                hint = _did_you_mean(attribute, templating.RESPONSE_ATTRIBUTES) or (
                    "it has " + ", ".join(templating.RESPONSE_ATTRIBUTES)
                )
                message = f"'response' has no attribute '{attribute}' in {use.text!r}"
                problems.append(Diagnostic(f"{message} — {hint}", use.source, step, hint))

    for variable in spec.variables:  # rendered in order, unless given on the command line
        vars_below.pop(variable.name, None)
        if variable.name not in given:
            report(_uses(variable.value), defined, None)
        defined.add(variable.name)
    # base_url renders with every step, the first one included. A default header may wait
    # for a capture (the engine leaves it out until the variable exists).
    every_capture = set(later)
    report(_uses(spec.base_url), defined, None)  # with every step, the first one included
    report(_uses(spec.when), defined, None)  # once, with the file's variables, before any step
    report(_uses(spec.defaults.verify), defined, None)
    report(_uses(spec.defaults.headers), defined | every_capture | RESPONSE | LOOP_NAMES, None)

    def walk(items: tuple[Item, ...], known: set[str]) -> set[str]:
        """Check the steps in order; ``known`` gains ``response`` after the first one."""
        for item in items:
            if isinstance(item, Include):
                for variable in (*item.defaults, *item.variables):
                    report(_uses(variable.value), known, item.name)
                    known = known | {variable.name}
                known = walk(item.steps, known)
                continue
            name = item.prefix + item.name
            looped = known | LOOP_NAMES if item.loop is not None else known
            rows = _row_keys(item.loop)
            report(_uses(item.loop), known, name)
            report(_uses(item.when), looped, name, rows)
            report(_uses(item.base_url), looped, name, rows)
            request = item.request
            for value in (
                request.method,
                request.url,
                request.params,
                request.headers,
                request.body,
            ):
                report(_uses(value), looped, name, rows)
            before = looped | RESPONSE  # its own response, in its checks and captures
            captured = set(before)
            for capture in item.captures:  # each can use the captures above it in its step
                report(_uses(capture.query.argument), captured, name, rows)
                captured.add(capture.name)
            for expectation in item.expectations:  # they see the variables from before the step
                report(_uses(expectation.query.argument), before, name, rows)
                report(_uses(expectation.expected), before, name, rows)
            if item.retry is not None:
                report(_uses(item.retry.until), captured, name, rows)
            known = (captured - LOOP_NAMES) | (known & LOOP_NAMES)
        return known

    defined = walk(spec.steps, defined)
    # finally steps run whatever happened: a capture that may not have been taken is fine
    # there (the step is skipped at run time); a name never defined anywhere is not.
    walk(spec.finally_steps, defined | every_capture)
    return problems


def captured_names(spec: Spec) -> set[str]:
    """Every name a spec's steps capture (a setup spec's are given to the other files)."""
    return {capture.name for step in spec.all_steps() for capture in step.captures}


def _captured_by_step(spec: Spec) -> dict[str, Step]:
    """The first step that captures each name."""
    first: dict[str, Step] = {}
    for step in spec.all_steps():
        for capture in step.captures:
            first.setdefault(capture.name, step)
    return first


def _hint(
    name: str,
    known: set[str],
    later: dict[str, Step],
    vars_below: dict[str, Any],
    current: str | None,
) -> str:
    if name == "response":
        return "the first step of a file has no earlier response to read"
    if name in LOOP_NAMES:
        return f"'{name}' exists only in a step with a loop"
    step = later.get(name)
    if step is not None and step.name == current:
        return (
            "this step captures it: its own checks see the variables as they were before "
            "the step, the steps after it see the capture"
        )
    if step is not None:
        return f"it is captured only later, by step '{step.name}' (line {step.source.line})"
    if name in vars_below:
        line = vars_below[name].source.line
        return f"it is defined below, at line {line}: a variable can use those above it"
    close = _did_you_mean(name, known)
    if close:
        return close
    return f"define it in vars, pass --var {name}=..., or write {{{{ {name} | default(...) }}}}"


def _did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    import difflib  # did you mean: only when something is wrong

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def _row_keys(loop: Any) -> set[str] | None:
    """The keys every use of ``item.X`` may read: those of a literal list of mappings (a
    CSV file's header row); None when the rows are not known before the run."""
    if not isinstance(loop, list) or not loop or not all(isinstance(row, dict) for row in loop):
        return None
    return {str(key) for row in loop for key in row}


def _item_keys(reference: tuple[str, ...]) -> tuple[str, ...]:
    return (reference[1],) if reference[0] == "item" and len(reference) > 1 else ()


def _uses(value: Any) -> Iterator[_Use]:
    """The templates inside a prepared value, with the variables each needs."""
    if isinstance(value, templating.Expr):
        if value.reference is not None:
            yield _reference_use(value.reference, value.text, value.source)
        else:
            names, wrong, keys = _needed("{{ " + value.code + " }}")
            yield _Use(names, value.text, value.source, wrong, keys)
    elif isinstance(value, templating.Text):
        if value.parts is not None:
            references = [part for part in value.parts if isinstance(part, tuple)]
            names = frozenset(reference[0] for reference in references)
            wrong = tuple(
                attribute
                for reference in references
                for attribute in _unknown_response_attribute(reference)
            )
            keys = tuple(key for reference in references for key in _item_keys(reference))
            yield _Use(names, value.text, value.source, wrong, keys)
        else:
            names, wrong, keys = _needed(value.text)
            yield _Use(names, value.text, value.source, wrong, keys)
    elif isinstance(value, templating.DynDict):
        for key, item in value.items:
            yield from _uses(key)
            yield from _uses(item)
    elif isinstance(value, templating.DynList):
        for item in value.items:
            yield from _uses(item)


def _reference_use(reference: tuple[str, ...], text: str, source: Source) -> _Use:
    names = frozenset({reference[0]})
    return _Use(names, text, source, _unknown_response_attribute(reference), _item_keys(reference))


def _unknown_response_attribute(reference: tuple[str, ...]) -> tuple[str, ...]:
    wrong = len(reference) > 1 and reference[1] not in templating.RESPONSE_ATTRIBUTES
    return (reference[1],) if reference[0] == "response" and wrong else ()


@lru_cache(maxsize=4096)
def _needed(source: str) -> tuple[frozenset[str], tuple[str, ...], tuple[str, ...]]:
    """The variables a Jinja template needs from its context (globals such as uuid excluded),
    leaving out those it only uses where an undefined one is tolerated; and the attributes
    of ``response`` it reads that a response does not have."""
    from jinja2 import meta, nodes
    from jinja2.exceptions import TemplateSyntaxError

    environment = templating.jinja_environment()
    try:
        tree = environment.parse(source)
    except TemplateSyntaxError:
        return frozenset(), (), ()  # the loader has reported it
    # x | default(y): x may be undefined; so may y when that is defaulted again, as in
    # x | default(y) | default('z'). x is defined, x is undefined: x may be undefined.
    defaults = [f for f in tree.find_all(nodes.Filter) if f.name in _OPTIONAL_FILTERS]
    defaulted = {id(f.node) for f in defaults}
    optional: set[str] = set()
    for node in defaults:
        fallbacks = node.args if id(node) in defaulted else []
        optional |= {part.name for part in (node.node, *fallbacks) if isinstance(part, nodes.Name)}
    for test in tree.find_all(nodes.Test):
        if test.name in _OPTIONAL_TESTS and isinstance(test.node, nodes.Name):
            optional.add(test.node.name)
    needed = meta.find_undeclared_variables(tree) - optional
    wrong = tuple(
        node.attr
        for node in tree.find_all(nodes.Getattr)
        if isinstance(node.node, nodes.Name)
        and node.node.name == "response"
        and node.attr not in templating.RESPONSE_ATTRIBUTES
    )
    # item.X | default(...) and item.X is defined may read a key the rows lack.
    tolerant = defaulted | {
        id(test.node) for test in tree.find_all(nodes.Test) if test.name in _OPTIONAL_TESTS
    }
    keys = tuple(
        node.attr
        for node in tree.find_all(nodes.Getattr)
        if isinstance(node.node, nodes.Name) and node.node.name == "item"
        if id(node) not in tolerant
    ) + tuple(
        node.arg.value
        for node in tree.find_all(nodes.Getitem)
        if isinstance(node.node, nodes.Name)
        and node.node.name == "item"
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
        if id(node) not in tolerant
    )
    return frozenset(needed - set(environment.globals)), wrong, keys
