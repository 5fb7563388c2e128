"""Spec files → the typed model (model.py), checking shape, keys and syntax on the way.

This module reads the files (the spec, its includes, loop data) and builds the file, its
steps and flow control; load_request.py builds requests, load_checks.py expectations and
captures, on load_shape.py's diagnostics and shape checks.

Every problem in a file is collected (with its line and column, the step, and a did-you-mean
for near-miss keys) and raised together as one SpecError, before anything is sent.
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import templating
from .errors import Diagnostic, Partial, SpecError, TemplateError
from .files import read_bounded

# The loader's parts; their key tables are the loader's too (the schema tests read them here).
from .load_checks import CAPTURE_KINDS as CAPTURE_KINDS
from .load_checks import EXPECT_KEYS as EXPECT_KEYS
from .load_checks import EXPECTATION_OPERATORS as EXPECTATION_OPERATORS
from .load_checks import SECRET, CheckShapes
from .load_request import BODY_KEYS as BODY_KEYS
from .load_request import CERT_KEYS as CERT_KEYS
from .load_request import FILE_BODY_KEYS as FILE_BODY_KEYS
from .load_request import REQUEST_KEYS as REQUEST_KEYS
from .load_request import UPLOAD_KEYS as UPLOAD_KEYS
from .load_request import RequestShapes
from .load_shape import _JINJA_WORDS as _JINJA_WORDS
from .load_shape import RESERVED_NAMES as RESERVED_NAMES
from .load_shape import _positive_number, _type_name
from .model import (
    DEFAULT_MAX_BODY_MB,
    Defaults,
    Expectation,
    FixtureName,
    Include,
    Item,
    Query,
    Retry,
    Spec,
    Step,
    Variable,
)
from .operators import QUERIES, STATUS
from .source import Source
from .urls import is_absolute
from .variables import VariablesError, read_rows
from .yamlsource import LocDict, LocList, YAMLSyntaxError, parse_yaml

FILE_KEYS = (
    "name",
    "base_url",
    "vars",
    "defaults",
    "tags",
    "fixtures",
    "skip",
    "when",
    "steps",
    "finally",
)
INCLUDED_FILE_KEYS = ("name", "base_url", "vars", "steps")
DEFAULTS_KEYS = ("headers", "timeout", "verify", "cert", "max_body_mb", "continue_on_failure")
STEP_KEYS = (
    "name",
    "tags",
    "request",
    "expect",
    "capture",
    "when",
    "skip",
    "xfail",
    "loop",
    "retry",
    "delay",
    "continue_on_failure",
)
INCLUDE_KEYS = ("name", "include", "vars")
RETRY_KEYS = ("times", "delay", "backoff", "until")
LOOP_FILE_KEYS = ("file",)
# Tags are words for the command line (--tag smoke,slow): no spaces, no commas.
TAG = re.compile(r"\A[A-Za-z0-9_.:/-]+\Z")
FIXTURE_NAME = re.compile(r"\A[A-Za-z_][\w.]*:[A-Za-z_][\w.]*\Z")
# Includes that multiply (a file including another six times, which includes another six
# times, …) grow a spec exponentially without a cycle: bounded per spec file.
MAX_INCLUDED_STEPS = 10_000  # steps brought in by include, counted each place they land
MAX_INCLUDED_FILES = 1_000  # distinct included files read for one spec file


def load_file(path: str | Path) -> Spec:
    """Read and check one spec file; raise SpecError listing every problem in it."""
    name = str(path)
    try:
        raw = read_bounded(path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SpecError(
            [Diagnostic(f"cannot read the spec file: {reason}", Source(name, 1))]
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(
            [Diagnostic("the spec file is not UTF-8 text", Source(name, line))]
        ) from None
    return load_text(text, name)


def load_text(text: str, path: str = "<spec>") -> Spec:
    """Check and build a spec from YAML text; ``path`` only names it in messages."""
    # Loading allocates many small objects and frees none: the cyclic garbage collector's
    # full passes over them made loading grow faster than linearly with the file's size.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _load_text(text, path)
    finally:
        if collecting:
            gc.enable()


def _load_text(text: str, path: str) -> Spec:
    try:
        document = parse_yaml(text)
    except YAMLSyntaxError as exc:
        diagnostic = Diagnostic(exc.message, Source(path, *exc.position))
        raise SpecError([diagnostic], tuple(text.splitlines())) from None
    builder = _Builder(path, chain=(os.path.normpath(path),))
    spec = builder.spec(document, text)
    if builder.diagnostics or spec is None:
        diagnostics = builder.diagnostics or [
            Diagnostic("this file is not a spec (see docs/format.md)", Source(path, 1))
        ]
        # What could still be built goes with the error, so that the static check reports
        # its problems in the same round (inputs.completed); not when a broken include hides
        # which names the file defines.
        partial = (
            None if spec is None or builder.opaque else Partial(spec, frozenset(builder.unsure))
        )
        raise SpecError(diagnostics, tuple(text.splitlines()), builder.sources, partial)
    return spec


class _Builder(RequestShapes, CheckShapes):
    """Walks the YAML data once, building the model and collecting diagnostics: the file,
    its steps, includes and flow control here; requests and checks in their parts."""

    def __init__(
        self,
        path: str,
        chain: tuple[str, ...] = (),
        sources: dict[str, tuple[str, ...]] | None = None,
        shared: _Included | None = None,
    ):
        self.path = path
        self.chain = chain  # the files being loaded, outermost first: to refuse include cycles
        self.sources = (
            {} if sources is None else sources
        )  # texts of included files; loop data files too (no text)
        self.diagnostics: list[Diagnostic] = []
        self.step: str | None = None
        # Names a broken step or capture might have defined: the static check of a file that
        # has load errors takes them as defined rather than report them as undefined.
        self.unsure: set[str] = set()
        self.opaque = False  # a broken include: what it defines is unknown
        # defaults.continue_on_failure of the (including) file: each step's, unless it says
        self.keep_going = False
        self.shared = _Included() if shared is None else shared
        self.included_steps = 0  # steps this file's includes brought in, nested ones counted
        self.files: set[str] = set()  # the files this file includes, directly or not

    # -- the file ----------------------------------------------------------------------------

    def spec(self, document: Any, text: str) -> Spec | None:
        top = Source(self.path, 1)
        if document is None:
            self.error("the spec file is empty: it needs at least 'steps:'", top)
            return None
        if not isinstance(document, LocDict):  # what parse_yaml makes of every mapping
            self.error(f"a spec file is a mapping with 'steps:', found {_type_name(document)}", top)
            return None
        self.check_keys(document, FILE_KEYS, "the spec file", required=("steps",))

        name = Path(self.path).stem
        if "name" in document and self.expect_type(
            document["name"],
            str,
            "'name' must be a string",
            self.source(document, "name", value=True),
        ):
            name = document["name"]
        base_url = None
        if "base_url" in document:
            where = self.source(document, "base_url", value=True)
            if self.expect_type(document["base_url"], str, "'base_url' must be a string", where):
                base_url = self.prepare(document["base_url"], where)
        variables = self.variables(document.get("vars"), self.source(document, "vars", value=True))
        defaults = self.defaults(document.get("defaults"), document)
        self.keep_going = defaults.continue_on_failure
        skip = self.reason(document, "skip", "skip: true")
        when = self.condition(document, "when")
        if "steps" in document and document["steps"] is None:
            self.error(
                "'steps' is empty: a spec needs at least one step",
                self.source(document, "steps", value=True),
            )
        tags = self.tags(document)
        fixtures = self.fixtures(document)
        seen: dict[str, int] = {}
        steps = self.steps(document.get("steps"), self.source(document, "steps", value=True), seen)
        finally_steps: tuple[Item, ...] = ()
        if "finally" in document:
            where = self.source(document, "finally", value=True)
            finally_steps = self.steps(document["finally"], where, seen, "finally") or ()
        if steps is None:
            return None
        spec = Spec(
            path=self.path,
            name=name,
            steps=steps,
            base_url=base_url,
            variables=variables,
            defaults=defaults,
            tags=tags,
            lines=tuple(text.splitlines()),
            finally_steps=finally_steps,
            sources=self.sources,
            fixtures=fixtures,
            skip=skip,
            when=when,
            when_text=templating.to_text(document.get("when", "")),
        )
        if base_url is None and "base_url" not in document:
            for step in spec.all_steps():
                url = step.request.url
                if step.base_url is None and isinstance(url, str) and not is_absolute(url):
                    self.step = step.prefix + step.name
                    self.error(
                        f"the URL {url!r} is relative and the spec has no base_url",
                        step.request.url_source,
                        "add base_url: at the top of the file, or write the full URL",
                    )
            self.step = None
        return spec

    def fixtures(self, document: dict) -> tuple[FixtureName, ...]:
        """``fixtures: [MODULE:CLASS, ...]``; imported when the file runs, not here."""
        if "fixtures" not in document:
            return ()
        where = self.source(document, "fixtures", value=True)
        value = document["fixtures"]
        if not isinstance(value, list):
            self.error("'fixtures' is a list of MODULE:CLASS", where)
            return ()
        found = []
        for index, name in enumerate(value):
            at = self.source(value, index)
            if not isinstance(name, str) or not FIXTURE_NAME.match(name):
                self.error(
                    f"a fixture is MODULE:CLASS, such as myproject.fixtures:Database, got {name!r}",
                    at,
                )
            else:
                found.append(FixtureName(name, at))
        return tuple(found)

    def included(self, document: Any) -> tuple[tuple[Item, ...], tuple[Variable, ...], Any] | None:
        """An included file: its steps, its vars (defaults) and its own base_url, if any."""
        top = Source(self.path, 1)
        if not isinstance(document, dict):
            self.error(
                f"an included file is a mapping with 'steps:', found {_type_name(document)}", top
            )
            return None
        self.check_keys(
            document, INCLUDED_FILE_KEYS, "an included file", ("steps",), suggest=FILE_KEYS
        )
        base_url = None
        if "base_url" in document:
            where = self.source(document, "base_url", value=True)
            if self.expect_type(document["base_url"], str, "'base_url' must be a string", where):
                base_url = self.prepare(document["base_url"], where)
        variables = self.variables(document.get("vars"), self.source(document, "vars", value=True))
        steps = self.steps(document.get("steps"), self.source(document, "steps", value=True), {})
        if steps is None or self.diagnostics:
            return None
        return steps, variables, base_url

    def variables(self, data: Any, where: Source) -> tuple[Variable, ...]:
        if data is None:
            return ()
        if self.mapping(data, "'vars'", where) is None:
            return ()
        result = []
        for key, value in data.items():
            at = self.source(data, key)
            if self.variable_name(key, at, "variable"):
                value_at = self.source(data, key, value=True)
                secret = isinstance(value, dict) and list(value) == [SECRET]
                if secret:  # NAME: {secret: VALUE}: the value, marked secret
                    value_at = self.source(value, SECRET, value=True)
                    value = value[SECRET]
                result.append(Variable(key, self.prepare(value, value_at), at, secret))
        return tuple(result)

    def defaults(self, data: Any, document: dict[Any, Any]) -> Defaults:
        if data is None:
            return Defaults()
        where = self.source(document, "defaults", value=True)
        if self.mapping(data, "'defaults'", where) is None:
            return Defaults()
        self.check_keys(data, DEFAULTS_KEYS, "'defaults'")
        headers = self.headers(data["headers"], data, "headers") if "headers" in data else None
        timeout = self.timeout(data, "defaults.timeout")
        verify: Any = True
        if "verify" in data:
            verify = self.verify(data["verify"], self.source(data, "verify", value=True))
        max_body = DEFAULT_MAX_BODY_MB
        if "max_body_mb" in data:
            value = data["max_body_mb"]
            if not _positive_number(value):
                self.error(
                    f"'max_body_mb' must be a positive number of MiB, found {value!r}",
                    self.source(data, "max_body_mb", value=True),
                )
            else:
                max_body = float(value)
        cert = self.cert(data)
        return Defaults(
            headers=headers,
            timeout=timeout,
            verify=verify,
            cert=cert,
            max_body_mb=max_body,
            continue_on_failure=self.flag(data, "continue_on_failure", False),
        )

    def tags(self, parent: dict[Any, Any]) -> tuple[str, ...]:
        """``tags: [smoke, keystone]`` (or one tag as a plain string), on a file or a step."""
        if "tags" not in parent:
            return ()
        data = parent["tags"]
        where = self.source(parent, "tags", value=True)
        if isinstance(data, str):
            data = [data]
        elif not isinstance(data, list):
            self.error(
                f"'tags' must be a list of words such as [smoke], found {_type_name(data)}", where
            )
            return ()
        tags: list[str] = []
        for index, tag in enumerate(data):
            at = (
                self.source(parent["tags"], index) if isinstance(parent["tags"], LocList) else where
            )
            if not isinstance(tag, str) or not TAG.match(tag):
                self.error(
                    f"tag {tag!r} is not a word: letters, digits and _ . : / - only "
                    "(write several tags as a list: [smoke, slow])",
                    at,
                )
            elif tag not in tags:
                tags.append(tag)
        return tuple(tags)

    # -- steps -------------------------------------------------------------------------------

    def steps(
        self, data: Any, where: Source, seen: dict[str, int], key: str = "steps"
    ) -> tuple[Item, ...] | None:
        """Steps (or include steps); names unique across ``seen`` (steps and finally)."""
        if data is None:
            return None
        if not self.expect_type(data, list, f"'{key}' must be a list of steps", where):
            return None
        if not data:
            self.error(f"'{key}' is empty: it needs at least one step", where)
        items: list[Item] = []
        for index, item in enumerate(data):
            at = self.source(data, index)
            self.step = None
            if self.mapping(item, f"step {index + 1}", at) is None:
                continue
            name = item.get("name")
            if isinstance(name, str) and name.strip():
                self.step = name
                if name in seen:
                    self.error(
                        f"duplicate step name '{name}' (first at line {seen[name]})",
                        self.source(item, "name", value=True),
                    )
                else:
                    seen[name] = self.source(item, "name").line
            elif "name" in item:
                self.error(
                    "a step 'name' must be a non-empty string",
                    self.source(item, "name", value=True),
                )
            label = name if isinstance(name, str) else f"step {index + 1}"
            built: Item | None = self.include(item, label, at) if "include" in item else None
            if "include" not in item:
                built = self.step_body(item, label, at)
            if built is not None:
                items.append(built)
            elif "include" in item:
                self.opaque = True
            elif isinstance(item.get("capture"), dict):
                self.unsure.update(key for key in item["capture"] if isinstance(key, str))
        self.step = None
        return tuple(items)

    def include(self, data: LocDict, name: str, at: Source) -> Include | None:
        self.check_keys(data, INCLUDE_KEYS, f"include step '{name}'", ("name",), STEP_KEYS)
        where = self.source(data, "include", value=True)
        target = data["include"]
        variables = self.variables(data.get("vars"), self.source(data, "vars", value=True))
        if not self.expect_type(target, str, "'include' takes the path of a spec file", where):
            return None
        path = os.path.normpath(str(Path(self.path).parent / target))
        if path in self.chain:
            cycle = " → ".join((*self.chain[self.chain.index(path) :], path))
            self.error(f"include cycle: {cycle}", where)
            return None
        included = self.included_file(path, where)
        if included is None:
            return None
        steps, defaults, base_url = included
        count = _count_steps(steps)
        if self.included_steps + count > MAX_INCLUDED_STEPS:
            if not self.shared.refused:
                self.shared.refused = True
                self.error(
                    f"includes bring more than {MAX_INCLUDED_STEPS:,} steps into this file "
                    f"(this one {count:,}, after {self.included_steps:,}): include files that "
                    "multiply without end? Split the spec into files run apart",
                    where,
                )
            return None
        self.included_steps += count
        prefix = f"{name} › "
        return Include(
            name=name,
            path=path,
            source=at,
            steps=tuple(_adopt(item, prefix, base_url) for item in steps),
            variables=variables,
            defaults=defaults,
        )

    def included_file(
        self, path: str, where: Source
    ) -> tuple[tuple[Item, ...], tuple[Variable, ...], Any] | None:
        known = self.shared.cache.get(path)
        if known is not None and not known[1] & set(self.chain):
            # Read and checked already (its problems reported once); no cycle from here.
            self.files |= known[1]
            return known[0]
        if self.shared.loads >= MAX_INCLUDED_FILES:
            if not self.shared.refused:
                self.shared.refused = True
                self.error(
                    f"this spec includes more than {MAX_INCLUDED_FILES:,} files in all", where
                )
            return None
        self.shared.loads += 1
        try:
            text = read_bounded(path).decode("utf-8-sig")
        except OSError as exc:
            self.error(f"cannot read the included file {path}: {exc.strerror or exc}", where)
            return None
        except UnicodeDecodeError:
            self.error(f"the included file {path} is not UTF-8 text", where)
            return None
        self.sources[path] = tuple(text.splitlines())
        try:
            document = parse_yaml(text)
        except YAMLSyntaxError as exc:
            self.diagnostics.append(Diagnostic(exc.message, Source(path, *exc.position)))
            return None
        builder = _Builder(path, (*self.chain, path), self.sources, self.shared)
        builder.keep_going = self.keep_going  # the including file's defaults apply
        result = builder.included(document)
        self.diagnostics += builder.diagnostics
        result = None if builder.diagnostics else result
        files = frozenset({*builder.files, path})
        self.shared.cache[path] = (result, files)
        self.files |= files
        return result

    def step_body(self, data: LocDict, name: str, at: Source) -> Step | None:
        self.check_keys(data, STEP_KEYS, f"step '{name}'", ("name", "request"), INCLUDE_KEYS)
        request = None
        if "request" in data:
            request = self.request(data["request"], self.source(data, "request", value=True))
        expectations = self.expectations(data)
        if not any(e.query.kind == STATUS for e in expectations):
            # Without expect.status a step expects 2xx: it must not pass silently on a 500.
            expectations.insert(0, Expectation(Query(STATUS), QUERIES[STATUS].literal, "2xx", at))
        captures = self.captures(data)
        tags = self.tags(data)
        when = self.condition(data, "when")
        loop = self.loop(data)
        retry = self.retry(data)
        delay = self.number(data, "delay", 0.0, 3600.0) or 0.0
        continue_on_failure = self.flag(data, "continue_on_failure", self.keep_going)
        skip = self.reason(data, "skip", "skip: true")
        xfail = self.reason(data, "xfail", "")
        if request is None:
            return None
        return Step(
            name,
            request,
            at,
            tuple(expectations),
            tuple(captures),
            when=when,
            when_text=templating.to_text(data.get("when", "")),
            loop=loop,
            retry=retry,
            delay=delay,
            continue_on_failure=continue_on_failure,
            xfail=xfail,
            skip=skip,
            tags=tags,
        )

    def condition(self, data: LocDict, key: str) -> Any:
        """when / until: a Jinja expression, bare or in {{ }}; true and false also do."""
        if key not in data:
            return None
        value = data[key]
        where = self.source(data, key, value=True)
        if isinstance(value, bool):
            return value
        if not self.expect_type(value, str, f"'{key}' takes an expression such as x == 1", where):
            return None
        try:
            return templating.compile_condition(value, where)
        except TemplateError as exc:
            self.error(exc.message, exc.source or where)
            return None

    def loop(self, data: LocDict) -> Any:
        if "loop" not in data:
            return None
        value = data["loop"]
        where = self.source(data, "loop", value=True)
        if isinstance(value, LocDict):
            return self.loop_file(value, where)
        prepared = self.prepare(value, where)
        if isinstance(value, list) or isinstance(prepared, templating.Expr):
            return prepared
        self.error(
            "'loop' takes a list, one {{ expression }} that gives a list, or "
            f"{{file: PATH}} (a CSV or JSON file), found {_type_name(value)}",
            where,
        )
        return None

    def loop_file(self, data: LocDict, where: Source) -> list[Any] | None:
        """``loop: {file: rows.csv}``: the rows, read now, so the check knows their keys."""
        self.check_keys(data, LOOP_FILE_KEYS, "'loop'", required=("file",))
        if "file" not in data:
            return None
        at = self.source(data, "file", value=True)
        path = self.file(data["file"], at, "'loop.file'")
        if path is None:
            return None
        self.sources.setdefault(path, ())  # an input of the run: --watch, report paths
        try:
            return read_rows(path)
        except VariablesError as exc:
            self.error(str(exc), at)
            return None

    def retry(self, data: LocDict) -> Retry | None:
        if "retry" not in data:
            return None
        where = self.source(data, "retry", value=True)
        value = self.mapping(data["retry"], "'retry' (times, delay, backoff, until)", where)
        if value is None:
            return None
        self.check_keys(value, RETRY_KEYS, "'retry'", ("times",))
        times = value.get("times")
        if "times" in value and (
            isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= 1000
        ):
            self.error(
                f"'retry.times' takes a whole number from 1 to 1000, found {times!r}",
                self.source(value, "times", value=True),
            )
            return None
        delay = self.number(value, "delay", 0.0, 3600.0)
        backoff = self.number(value, "backoff", 1.0, 10.0)
        until = self.condition(value, "until")
        if not isinstance(times, int):
            return None
        return Retry(
            times=times,
            delay=1.0 if delay is None else delay,
            backoff=1.0 if backoff is None else backoff,
            until=until,
            source=where,
        )


class _Included:
    """What the files of one spec share while it loads: included files already read (with
    the files they include, to tell whether reusing one would hide a cycle), and the count."""

    __slots__ = ("cache", "loads", "refused")

    def __init__(self) -> None:
        self.cache: dict[str, tuple[Any, frozenset[str]]] = {}
        self.loads = 0
        self.refused = False  # a limit was reported: said once, not at every include after


def _count_steps(items: Iterable[Item]) -> int:
    return sum(_count_steps(item.steps) if isinstance(item, Include) else 1 for item in items)


def _adopt(item: Item, prefix: str, base_url: Any) -> Item:
    """A step of an included file, named after its include step, with that file's base_url."""
    if isinstance(item, Include):
        steps = tuple(_adopt(inner, prefix, base_url) for inner in item.steps)
        return replace(item, steps=steps)
    own_base = item.base_url if item.base_url is not None else base_url
    return replace(item, prefix=prefix + item.prefix, base_url=own_base)
