"""Spec files → the typed model (model.py), checking shape, keys and syntax on the way.

Every problem in a file is collected (with its line and column, the step, and a did-you-mean
for near-miss keys) and raised together as one SpecError, before anything is sent.
"""

from __future__ import annotations

import difflib
import gc
import keyword
import os
import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import templating
from .errors import Diagnostic, Partial, SpecError, TemplateError
from .files import read_bounded
from .model import (
    DEFAULT_MAX_BODY_MB,
    BodyKind,
    Capture,
    ClientCert,
    Defaults,
    Expectation,
    FixtureName,
    Include,
    Item,
    Query,
    Request,
    Retry,
    Spec,
    Step,
    Upload,
    Variable,
)
from .operators import BODY, JSONPATH, OPERATOR_NAMES, QUERIES, STATUS, QueryKind, check_operand
from .operators.bodyschema import SCHEMA
from .payloads import PayloadError, client_cert, readable_file
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
REQUEST_KEYS = (
    "method",
    "url",
    "params",
    "headers",
    "json",
    "data",
    "form",
    "files",
    "cert",
    "timeout",
    "follow_redirects",
)
BODY_KEYS: tuple[BodyKind, ...] = ("json", "data", "form")
FILE_BODY_KEYS = ("file",)  # data: {file: PATH}
UPLOAD_KEYS = ("file", "filename", "content_type")  # files: {FIELD: {file: PATH, …}}
CERT_KEYS = ("cert", "key")  # cert: {cert: PATH, key: PATH}
EXPECT_KEYS = (*(kind.expect_key for kind in QUERIES.values()), SCHEMA)
CAPTURE_KINDS = tuple(QUERIES)
SECRET = "secret"  # capture: {NAME: {KIND: ..., secret: true}}; vars: {NAME: {secret: VALUE}}
LOOP_FILE_KEYS = ("file",)
EXPECTATION_OPERATORS = OPERATOR_NAMES
# Names the engine provides (or will): a spec may not define them as variables.
RESERVED_NAMES = frozenset({"env", "os", "response", "item", "index"})
_IDENTIFIER = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
_JINJA_WORDS = frozenset({"true", "false", "none", "True", "False", "None", "and", "or", "not"})
_METHOD = re.compile(r"\A[A-Za-z]+\Z")
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


def _suggest(word: Any, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class _Builder:
    """Walks the YAML data once, building the model and collecting diagnostics."""

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

    # -- positions and errors -------------------------------------------------------------

    def source(self, container: Any = None, key: Any = None, *, value: bool = False) -> Source:
        if isinstance(container, LocDict):
            if key is None:
                return Source(self.path, *container.position)
            if value:
                return Source(self.path, *container.value_position(key))
            return Source(self.path, *container.key_position(key))
        if isinstance(container, LocList):
            if isinstance(key, int):
                return Source(self.path, *container.item_position(key))
            return Source(self.path, *container.position)
        return Source(self.path, 1)

    def error(self, message: str, source: Source, hint: str | None = None) -> None:
        if hint:
            message = f"{message} — {hint}"
        self.diagnostics.append(Diagnostic(message, source, self.step, hint))

    def expect_type(
        self, value: Any, types: type | tuple[type, ...], what: str, where: Source
    ) -> bool:
        ok = isinstance(value, types) and not (
            isinstance(value, bool) and bool not in _as_tuple(types)
        )
        if not ok:
            self.error(f"{what}, found {_type_name(value)}", where)
        return ok

    def mapping(self, value: Any, what: str, where: Source) -> LocDict | None:
        return value if self.expect_type(value, dict, f"{what} must be a mapping", where) else None

    def check_keys(
        self,
        mapping: dict[Any, Any],
        allowed: tuple[str, ...],
        where: str,
        required: tuple[str, ...] = (),
        suggest: tuple[str, ...] = (),
    ) -> None:
        for key in mapping:
            if key not in allowed:
                self.error(
                    f"unknown key '{key}' in {where}",
                    self.source(mapping, key),
                    _suggest(key, allowed + suggest) or f"valid keys: {', '.join(allowed)}",
                )
        for key in required:
            if key not in mapping:
                self.error(f"{where} is missing the required key '{key}'", self.source(mapping))

    def prepare(self, value: Any, source: Source) -> Any:
        """Compile the templates inside a value; keep it as plain data when it has none
        (plain dicts and lists: templates must not see the YAML positions)."""
        if isinstance(value, str):
            try:
                return templating.compile_string(value, source)
            except TemplateError as exc:
                self.error(exc.message, exc.source or source)
                return value
        if isinstance(value, dict):
            items = tuple(
                (
                    self.prepare(key, self.source(value, key)) if isinstance(key, str) else key,
                    self.prepare(item, self.source(value, key, value=True)),
                )
                for key, item in value.items()
            )
            if any(isinstance(part, templating.Dynamic) for pair in items for part in pair):
                return templating.DynDict(items)
            return dict(items)
        if isinstance(value, list):
            prepared = tuple(
                self.prepare(item, self.source(value, i)) for i, item in enumerate(value)
            )
            if any(isinstance(item, templating.Dynamic) for item in prepared):
                return templating.DynList(prepared)
            return list(prepared)
        return value

    def variable_name(self, name: Any, where: Source, what: str) -> bool:
        if not isinstance(name, str) or not _IDENTIFIER.match(name) or keyword.iskeyword(name):
            self.error(
                f"{what} name {name!r} is not a valid name (letters, digits and _, "
                "not starting with a digit)",
                where,
            )
            return False
        if name in RESERVED_NAMES or name in _JINJA_WORDS:
            self.error(f"{what} name '{name}' is reserved", where)
            return False
        return True

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

    def file(self, path: Any, at: Source, what: str) -> str | None:
        """A file the request sends, resolved against this file's folder; it must exist."""
        if isinstance(path, str) and templating.has_template_syntax(path):
            self.error(f"{what} is a plain path, not a template (it is checked before sending)", at)
            return None
        try:
            return readable_file(path, Path(self.path).parent, what)
        except PayloadError as exc:
            self.error(str(exc), at)
            return None

    def cert(self, parent: LocDict) -> ClientCert | None:
        """``cert: PATH`` (certificate and key in one PEM) or ``cert: {cert: PATH, key: PATH}``."""
        if "cert" not in parent:
            return None
        data, at = parent["cert"], self.source(parent, "cert", value=True)
        cert, key = data, None
        if isinstance(data, dict):
            self.check_keys(data, CERT_KEYS, "'cert'", required=("cert",))
            cert, key = data.get("cert"), data.get("key")
        for value in (cert, key):
            if isinstance(value, str) and templating.has_template_syntax(value):
                self.error("'cert' takes plain paths, not templates", at)
                return None
        try:
            return client_cert(cert, key, Path(self.path).parent)
        except PayloadError as exc:
            self.error(str(exc), at)
            return None

    def uploads(self, parent: LocDict) -> tuple[Upload, ...]:
        """``files: {FIELD: PATH}`` or ``{FIELD: {file: PATH, filename: N, content_type: T}}``."""
        where = self.source(parent, "files", value=True)
        data = self.mapping(parent["files"], "'files' (form field → file)", where)
        if data is None:
            return ()
        uploads = []
        for name, value in data.items():
            at = self.source(data, name, value=True)
            spec: Any = {"file": value} if isinstance(value, str) else value
            if not isinstance(spec, dict):
                self.error(
                    f"'files' entry '{name}' takes a path or {{file: PATH, filename: NAME, "
                    f"content_type: TYPE}}, found {_type_name(value)}",
                    at,
                )
                continue
            if isinstance(value, dict):
                self.check_keys(value, UPLOAD_KEYS, f"'files' entry '{name}'", required=("file",))
            path = self.file(spec.get("file"), at, f"'files' entry '{name}'")
            filename, content_type = spec.get("filename"), spec.get("content_type")
            for key, text in (("filename", filename), ("content_type", content_type)):
                if text is not None and not isinstance(text, str):
                    self.error(f"'{key}' of 'files' entry '{name}' must be a string", at)
            if path is not None:
                uploads.append(
                    Upload(str(name), path, filename or Path(path).name, content_type or None)
                )
        return tuple(uploads)

    def verify(self, value: Any, at: Source) -> Any:
        """true, false, or a CA bundle (a file, or a folder of certificates) that must exist;
        a relative path is relative to the spec file, wherever apirun runs from."""
        if isinstance(value, bool):
            return value
        if not isinstance(value, str) or not value.strip():
            self.error(
                f"'verify' takes true, false or the path of a CA bundle, found {value!r}", at
            )
            return True
        if templating.has_template_syntax(value):  # "{{ os.cacert | default(true) }}"
            return self.prepare(value, at)  # checked when the file starts
        path = Path(self.path).parent / Path(value).expanduser()
        if not path.exists():
            self.error(f"no CA bundle {value} (looked for {path})", at)
        return str(path)

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

    def timeout(self, data: LocDict, what: str) -> float | None:
        if "timeout" not in data:
            return None
        value = data["timeout"]
        if not _positive_number(value):
            self.error(
                f"'{what}' must be a positive number of seconds, found {value!r}",
                self.source(data, "timeout", value=True),
            )
            return None
        return float(value)

    def headers(self, data: Any, parent: LocDict, key: str) -> Any:
        where = self.source(parent, key, value=True)
        if self.mapping(data, f"'{key}'", where) is None:
            return None
        for name, value in data.items():
            if not isinstance(name, str):
                self.error(
                    f"a header name must be a string, found {name!r}", self.source(data, name)
                )
            if isinstance(value, dict | list):  # null: leave a default header out
                self.error(
                    f"header '{name}' needs a single value (string or number, or null to "
                    f"leave a default header out), found {_type_name(value)}",
                    self.source(data, name, value=True),
                )
        return self.prepare(data, where)

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

    def flag(self, data: LocDict, key: str, default: bool) -> bool:
        if key not in data:
            return default
        value = data[key]
        where = self.source(data, key, value=True)
        if self.expect_type(value, bool, f"'{key}' must be true or false", where):
            return value
        return default

    def reason(self, data: LocDict, key: str, given_true: str) -> str | None:
        """skip / xfail: a reason (text), or true (``given_true``); false or absent is None
        (not marked). Plain text, not a template: nothing is rendered for it."""
        if key not in data:
            return None
        value = data[key]
        if isinstance(value, bool):
            return given_true if value else None
        if isinstance(value, str) and value.strip():
            return value.strip()
        found = "an empty string" if isinstance(value, str) else _type_name(value)
        self.error(
            f"'{key}' takes a reason (text) or true, found {found}",
            self.source(data, key, value=True),
        )
        return None

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

    def number(self, data: LocDict, key: str, low: float, high: float) -> float | None:
        if key not in data:
            return None
        value = data[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            self.error(
                f"'{key}' takes a number of seconds from {low:g} to {high:g}, found {value!r}"
                if key == "delay"
                else f"'{key}' takes a number from {low:g} to {high:g}, found {value!r}",
                self.source(data, key, value=True),
            )
            return None
        return float(value)

    def request(self, data: Any, where: Source) -> Request | None:
        if self.mapping(data, "'request'", where) is None:
            return None
        self.check_keys(data, REQUEST_KEYS, "'request'", required=("url",))
        method: Any = "GET"
        if "method" in data:
            at = self.source(data, "method", value=True)
            value = data["method"]
            if self.expect_type(value, str, "'method' must be a string such as GET", at):
                if templating.has_template_syntax(value):
                    method = self.prepare(value, at)
                elif _METHOD.match(value):
                    method = value.upper()
                else:
                    self.error(f"'method' {value!r} is not an HTTP method", at)
        url: Any = None
        url_source = where
        if "url" in data:
            at = url_source = self.source(data, "url", value=True)
            if self.expect_type(data["url"], str, "'url' must be a string", at):
                url = self.prepare(data["url"], at)
        params = self.pairs(data, "params")
        headers = self.headers(data["headers"], data, "headers") if "headers" in data else None
        bodies = [key for key in BODY_KEYS if key in data]
        body_kind: BodyKind | None = None
        body = None
        if len(bodies) > 1:
            self.error(
                f"a request has at most one body, found {' and '.join(bodies)}",
                self.source(data, bodies[1]),
            )
        for kind in bodies:  # each checked, so that every problem shows at once
            at = self.source(data, kind, value=True)
            if kind == "json":
                prepared = self.prepare(data["json"], at)
            elif kind == "data" and isinstance(data["data"], dict):  # {file: PATH}
                self.check_keys(data["data"], FILE_BODY_KEYS, "'data'", required=("file",))
                prepared = self.file(data["data"].get("file"), at, "'data: {file}'")
                kind = "file"
            elif kind == "data":
                prepared = None
                if self.expect_type(
                    data["data"], str, "'data' is the raw body text or {file: PATH}", at
                ):
                    prepared = self.prepare(data["data"], at)
            else:
                prepared = self.pairs(data, "form")
            if len(bodies) == 1:
                body_kind, body = kind, prepared
        files: tuple[Upload, ...] = ()
        if "files" in data:
            if body_kind in ("json", "data", "file"):
                self.error(
                    "'files' (a multipart body) goes with 'form' fields, not with "
                    f"'{next(k for k in bodies if k != 'form')}'",
                    self.source(data, "files"),
                )
            files = self.uploads(data)
        cert = self.cert(data)
        timeout = self.timeout(data, "timeout")
        follow = self.flag(data, "follow_redirects", True)
        if url is None:
            return None
        return Request(
            method=method,
            url=url,
            source=where,
            url_source=url_source,
            params=params,
            headers=headers,
            body_kind=body_kind,
            body=body,
            files=files,
            cert=cert,
            timeout=timeout,
            follow_redirects=follow,
        )

    def pairs(self, parent: LocDict, key: str) -> Any:
        """params and form: name → a value or a list of values."""
        if key not in parent:
            return None
        data = parent[key]
        where = self.source(parent, key, value=True)
        if self.mapping(data, f"'{key}'", where) is None:
            return None
        for name, value in data.items():
            values = value if isinstance(value, list) else [value]
            if any(isinstance(v, dict | list) for v in values):
                self.error(
                    f"'{key}' value of '{name}' must be a plain value or a list of them",
                    self.source(data, name, value=True),
                )
        return self.prepare(data, where)

    # -- expectations ------------------------------------------------------------------------

    def expectations(self, step: LocDict) -> list[Expectation]:
        if "expect" not in step:
            return []
        data = self.mapping(step["expect"], "'expect'", self.source(step, "expect", value=True))
        if data is None:
            return []
        self.check_keys(data, EXPECT_KEYS, "'expect'")
        result: list[Expectation] = []
        for kind in QUERIES.values():
            key = kind.expect_key
            if key not in data:
                continue
            if not kind.takes_argument:
                result += self.checks(Query(kind.name), data, key, data[key], kind)
                continue
            where = self.source(data, key, value=True)
            checks = self.mapping(data[key], f"'expect.{key}'", where)
            if checks is None:
                continue
            for argument, value in checks.items():
                at = self.source(checks, argument)
                if not isinstance(argument, str):
                    self.error(f"a {kind.name} argument must be a string, found {argument!r}", at)
                    self.checks(Query(kind.name), checks, argument, value, kind)  # its problems too
                    continue
                # A templated argument ($.a["{{ env.ID }}"]) renders when the step runs,
                # as a capture's does; a plain one is checked now.
                prepared = self.prepare(argument, at)
                problem = kind.check_argument(argument) if isinstance(prepared, str) else None
                if problem:
                    self.error(problem, at)
                    continue
                number = isinstance(value, int | float) and not isinstance(value, bool)
                if kind.text_values and number:
                    value = str(value)  # header values are text: Content-Length: 42 is "42"
                result += self.checks(Query(kind.name, prepared), checks, argument, value, kind)
        if SCHEMA in data:
            at = self.source(data, SCHEMA, value=True)
            schema = self.body_schema(data[SCHEMA], at)
            if schema is not None:  # reported at the key: the value may be a whole schema
                result.append(Expectation(Query(BODY), SCHEMA, schema, self.source(data, SCHEMA)))
        return result

    def body_schema(self, value: Any, at: Source) -> Any:
        """expect.schema: a JSON Schema file (relative to the spec file) or an inline schema,
        read and checked now, so that a broken schema sends nothing. Not templated."""
        from .operators.bodyschema import SchemaProblem, compile_body_schema, read_schema_file
        from .schema import Violation, locate

        if not isinstance(value, str | dict):
            self.error(
                "'schema' takes the path of a JSON Schema file, or the schema itself (a "
                f"mapping), found {_type_name(value)}",
                at,
            )
            return None
        try:
            if isinstance(value, str):
                document = read_schema_file(Path(self.path).parent / value, value)
                return compile_body_schema(document, value)
            return compile_body_schema(value, "the inline schema")
        except SchemaProblem as exc:
            if isinstance(value, LocDict) and exc.path:  # point inside the inline schema
                position = locate(value, Violation(exc.path, "", ""))[0]
                at = Source(self.path, *position)
            self.error(exc.message, at)
            return None

    def checks(
        self,
        query: Query,
        parent: dict[Any, Any] | list[Any],
        key: Any,
        value: Any,
        kind: QueryKind,
    ) -> list[Expectation]:
        """A literal means the kind's literal operator (equals; status: its shorthand); a
        mapping is operators (use equals: {...} for an object); a list of mappings, for the
        kinds that take one (body), is several checks."""
        at = self.source(parent, key, value=True)
        if isinstance(value, list) and kind.check_list:
            if not value:
                self.error(f"'{key}' takes at least one check", at)
            result: list[Expectation] = []
            for index, item in enumerate(value):
                if self.mapping(item, f"check {index + 1} of '{key}'", self.source(value, index)):
                    result += self.checks(query, value, index, item, kind)
            return result
        if isinstance(value, dict):
            if not value:
                self.error("an empty mapping checks nothing", at)
                return []
            return self.operators(query, value)
        prepared = self.prepare(value, at)
        if not _has_template(value):
            problem = check_operand(kind.literal, value)
            if problem:
                self.error(problem, self.culprit(kind.literal, value, at))
        elif isinstance(value, LocList):  # the templated items are checked when they render
            for index, item in enumerate(value):
                problem = None if _has_template(item) else check_operand(kind.literal, [item])
                if problem:
                    self.error(problem, self.source(value, index))
                    break
        return [Expectation(query, kind.literal, prepared, at)]

    def culprit(self, operator: str, value: Any, at: Source) -> Source:
        """Where a refused list operand goes wrong: its first item refused on its own (the
        schema points there too), else the list."""
        if isinstance(value, LocList):
            for index, item in enumerate(value):
                if check_operand(operator, [item]):
                    return self.source(value, index)
        return at

    def operators(self, query: Query, data: dict[Any, Any]) -> list[Expectation]:
        result = []
        for operator, operand in data.items():
            at = self.source(data, operator)
            if operator not in EXPECTATION_OPERATORS:
                self.error(
                    f"unknown operator '{operator}'",
                    at,
                    _suggest(operator, EXPECTATION_OPERATORS)
                    or f"operators: {', '.join(EXPECTATION_OPERATORS)}",
                )
                continue
            prepared = self.prepare(operand, at)
            if not _has_template(operand):
                problem = check_operand(operator, operand)
                if problem:
                    self.error(problem, at)
                    continue
            result.append(Expectation(query, operator, prepared, at))
        return result

    # -- captures ----------------------------------------------------------------------------

    def captures(self, step: LocDict) -> list[Capture]:
        if "capture" not in step:
            return []
        data = self.mapping(step["capture"], "'capture'", self.source(step, "capture", value=True))
        if data is None:
            return []
        result = []
        for name, spec in data.items():
            at = self.source(data, name)
            named = self.variable_name(name, at, "capture")
            secret = False
            if isinstance(spec, LocDict) and SECRET in spec:
                secret = self.flag(spec, SECRET, False)
            query = self.capture_query(spec, self.source(data, name, value=True))
            if named and query is not None:
                result.append(Capture(name, query, at, secret))
            elif isinstance(name, str):
                self.unsure.add(name)
        return result

    def capture_query(self, spec: Any, at: Source) -> Query | None:
        if isinstance(spec, str) and spec.startswith("$"):
            spec = {JSONPATH: spec}
        elif not isinstance(spec, dict):
            self.error(
                "a capture is a JSONPath starting with '$' or a mapping with one of "
                f"{', '.join(CAPTURE_KINDS)}",
                at,
            )
            return None
        kinds = [key for key in spec if key in CAPTURE_KINDS]
        unknown = [key for key in spec if key not in CAPTURE_KINDS and key != SECRET]
        for key in unknown:
            self.error(
                f"unknown capture kind '{key}'",
                self.source(spec, key),
                _suggest(key, (*CAPTURE_KINDS, SECRET))
                or f"kinds: {', '.join(CAPTURE_KINDS)} (and secret: true)",
            )
        if len(kinds) != 1:
            if not unknown:
                self.error(f"a capture takes exactly one of {', '.join(CAPTURE_KINDS)}", at)
            return None
        kind = QUERIES[kinds[0]]
        value = spec[kind.name]
        where = self.source(spec, kind.name, value=True) if isinstance(spec, LocDict) else at
        if not kind.takes_argument:
            if value is not True:
                self.error(f"'{kind.name}' capture takes true", where)
                return None
            return Query(kind.name)
        if not self.expect_type(value, str, f"'{kind.name}' capture takes a string", where):
            return None
        prepared = self.prepare(value, where)
        if isinstance(prepared, str):
            problem = kind.check_argument(prepared)
            if problem:
                self.error(problem, where)
                return None
        return Query(kind.name, prepared)


class _Included:
    """What the files of one spec share while it loads: included files already read (with
    the files they include, to tell whether reusing one would hide a cycle), and the count."""

    __slots__ = ("cache", "loads", "refused")

    def __init__(self) -> None:
        self.cache: dict[str, tuple[Any, frozenset[str]]] = {}
        self.loads = 0
        self.refused = False  # a limit was reported: said once, not at every include after


def _positive_number(value: Any) -> bool:
    """A number of seconds or MiB: more than 0, and finite (YAML's .inf and .nan are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return 0 < value < float("inf")


def _count_steps(items: Iterable[Item]) -> int:
    return sum(_count_steps(item.steps) if isinstance(item, Include) else 1 for item in items)


def _adopt(item: Item, prefix: str, base_url: Any) -> Item:
    """A step of an included file, named after its include step, with that file's base_url."""
    if isinstance(item, Include):
        steps = tuple(_adopt(inner, prefix, base_url) for inner in item.steps)
        return replace(item, steps=steps)
    own_base = item.base_url if item.base_url is not None else base_url
    return replace(item, prefix=prefix + item.prefix, base_url=own_base)


def _has_template(value: Any) -> bool:
    """Whether a raw YAML value holds template syntax anywhere (checked when it renders)."""
    if isinstance(value, str):
        return templating.has_template_syntax(value)
    if isinstance(value, dict):
        return any(_has_template(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_template(item) for item in value)
    return False


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)
