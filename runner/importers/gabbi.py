"""``apirun import gabbi FILE_OR_DIR... [-o DIR]``: gabbi YAML files as apirun specs that
behave the same (docs/gabbi.md has the mapping table).

Two passes per file. The first merges gabbi's ``defaults`` into each test (as gabbi's
``test_update`` does) and finds every replacer (``$RESPONSE``, ``$HEADERS``, ``$LOCATION``,
``$COOKIE``, with or without ``$HISTORY['name'].``) and the test it refers to; the second
writes the steps, with a named capture on each step that another refers to, and Jinja
templates where the replacers were. ``$ENVIRON`` reads ``env``; ``$URL``/``$LAST_URL`` repeat
the URL template of the test referred to; ``$SCHEME``/``$NETLOC`` come from base_url.

gabbi's defaults become explicit: status 200 unless given, redirects not followed, and
every step continues on failure (``defaults.continue_on_failure``: a failed gabbi test does
not stop its file). ``xfail`` and ``skip`` keep their names and meaning. What cannot
be translated is listed per test; a file that cannot be converted at all stops the whole
import, and nothing is written.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

BASE_VARIABLE = "gabbi_url"  # the spec's base_url; --var gabbi_url=http://127.0.0.1:8778
DEFAULT_BASE = "http://gabbi.test"

# gabbi.case.BASE_TEST and the response handlers' keys: the keys a gabbi test may have.
_BASE_TEST: dict[str, Any] = {
    "name": "",
    "desc": "",
    "verbose": False,
    "cert_validate": True,
    "ssl": False,
    "redirects": False,
    "method": "GET",
    "url": "",
    "status": "200",
    "request_headers": {},
    "query_parameters": {},
    "data": "",
    "xfail": False,
    "skip": "",
    "poll": {},
    "use_prior_test": True,
    "disable_response_handler": False,
    "timeout": 30,
    "http_version": 1,
    "response_headers": {},
    "response_strings": [],
    "response_forbidden_headers": [],
    "response_json_paths": {},
}
_HISTORY = r"(?:\$HISTORY(?:\['(?P<case1>[^']+?)'\]|\[\"(?P<case2>[^\"]+?)\"\])\.)?"
_ARGUMENT = r"(?::(?P<cast>\w+))?(?:\['(?P<arg1>[^']+?)'\]|\[\"(?P<arg2>[^\"]+?)\"\])"
_REPLACER = re.compile(
    _HISTORY
    + r"\$(?:(?P<withargument>ENVIRON|HEADERS|RESPONSE)"
    + _ARGUMENT
    + r"|(?P<simple>SCHEME|NETLOC|LOCATION|COOKIE|LAST_URL|URL))"
)
_LEN = re.compile(r"\.`len`$")
_EXTENSION = re.compile(r"\.`\w+`$")
_REGEX = re.compile(r"\A/.*/\Z", re.DOTALL)
# Set-Cookie headers arrive joined with ", " (as in gabbi); an Expires date has a comma too,
# so only the parts whose first field is name=value are cookies.
_COOKIES = (
    "{{% for c in {name}.split(', ') if '=' in c.split(';')[0] %}}"
    "{{{{ c.split(';')[0] }}}}{{% if not loop.last %}}, {{% endif %}}{{% endfor %}}"
)
_TYPED_ENV = (
    "({env} | int) if {env}.isdigit() else (({env} | float) if {env}.replace('.', '', 1)"
    ".isdigit() else (true if {env}.lower() == 'true' else (false if {env}.lower() == "
    "'false' else (none if {env}.lower() == 'null' else {env}))))"
)
_CASTS = {"int": "int", "float": "float", "str": "string", "bool": "bool"}


class GabbiImportError(Exception):
    """A file that cannot be converted: nothing is written."""


@dataclass(slots=True)
class Converted:
    source: Path
    target: Path
    text: str
    tests: int
    notes: list[str] = field(default_factory=list)  # "test 'x': what and why"


@dataclass(slots=True)
class _Test:
    index: int
    name: str  # the step's name (unique in the file)
    data: dict[str, Any]
    url: str = ""  # the step's URL template, for $URL / $LAST_URL
    captures: dict[str, Any] = field(default_factory=dict)  # name → capture spec


class _File:
    """One gabbi file being converted: its tests, the captures they need, the notes."""

    def __init__(self, path: Path, fixture_module: str | None):
        self.path = path
        self.fixture_module = fixture_module
        self.notes: list[str] = []
        self.tests: list[_Test] = []
        self.by_name: dict[str, int] = {}
        self.current = 0

    def note(self, message: str) -> None:
        test = self.tests[self.current].name if self.tests else "(file)"
        self.notes.append(f"{self.path.name}: test '{test}': {message}")

    # -- the first pass: tests with their defaults, names, method and URL -------------------

    def read(self, document: Any) -> dict[str, Any]:
        if not isinstance(document, dict) or not isinstance(document.get("tests"), list):
            raise GabbiImportError(f"{self.path}: not a gabbi file (no 'tests:' list)")
        defaults = document.get("defaults") or {}
        if not isinstance(defaults, dict) or any(_is_method(k) for k in defaults):
            raise GabbiImportError(f"{self.path}: 'defaults' must be a mapping without METHOD keys")
        base = copy.deepcopy(_BASE_TEST)
        _update(base, defaults)
        seen: dict[str, int] = {}
        for index, raw in enumerate(document["tests"]):
            if not isinstance(raw, dict):
                raise GabbiImportError(f"{self.path}: test {index + 1} is not a mapping")
            test = copy.deepcopy(base)
            _update(test, raw)
            methods = [key for key in test if _is_method(key)]
            if len(methods) > 1:
                raise GabbiImportError(f"{self.path}: test {index + 1}: several METHOD: url keys")
            if methods:
                test["method"], test["url"] = methods[0], test.pop(methods[0])
            original = str(test.get("name") or "")
            if not original:
                raise GabbiImportError(f"{self.path}: test {index + 1} has no name")
            unknown = sorted(set(test) - set(_BASE_TEST))
            name = original
            seen[original] = seen.get(original, 0) + 1
            if seen[original] > 1:
                name = f"{original} ({seen[original]})"
            self.tests.append(_Test(index, name, test))
            self.current = index
            if name != original:
                self.note(f"a second test named '{original}' (gabbi accepts it): renamed '{name}'")
            if unknown:
                self.note(f"unknown keys left out: {', '.join(unknown)}")
            self.by_name[original] = index  # gabbi's history: the last test of that name
        return document

    # -- replacers ------------------------------------------------------------------------

    def referred(self, match: re.Match[str]) -> _Test | None:
        case = match.group("case1") or match.group("case2")
        if case:
            index = self.by_name.get(case)
            if index is None:
                self.note(f"$HISTORY['{case}'] names no test of the file")
                return None
            return self.tests[index]
        if self.current == 0:
            self.note(f"{match.group(0)} in the first test refers to no earlier test")
            return None
        return self.tests[self.current - 1]

    def capture(self, test: _Test, kind: str, spec: Any) -> str:
        for name, existing in test.captures.items():
            if existing == spec:
                return name
        name = f"t{test.index + 1}_{kind}{len(test.captures) + 1}"
        test.captures[name] = spec
        return name

    def expression(self, match: re.Match[str]) -> str | None:
        """The Jinja expression for one replacer, or None (noted) when there is none."""
        kind = match.group("withargument") or match.group("simple")
        argument = match.group("arg1") or match.group("arg2")
        cast = match.group("cast")
        if kind == "ENVIRON":
            value = f"env[{argument!r}]" if not argument.isidentifier() else f"env.{argument}"
            return f"{value} | {_CASTS[cast]}" if cast in _CASTS else value
        if kind == "SCHEME":
            return f"{BASE_VARIABLE}.split('://')[0]"
        if kind == "NETLOC":
            return f"{BASE_VARIABLE}.split('://')[1].split('/')[0]"
        test = self.referred(match)
        if test is None:
            return None
        if kind in ("URL", "LAST_URL"):
            return None if not test.url else f"__URL__{test.index}"
        if kind == "LOCATION":
            return self.capture(test, "location", {"header": "location"})
        if kind == "COOKIE":  # gabbi: every cookie's name=value, joined with ", "
            name = self.capture(test, "cookie", {"header": "set-cookie"})
            return f"__BLOCK__{_COOKIES.format(name=name)}"
        if kind == "HEADERS":
            return self.capture(test, "header", {"header": argument.lower()})
        path = argument if argument.startswith("$") else f"$.{argument}"
        name = self.capture(test, "response", {"jsonpath": path})
        if not _definite(path):  # gabbi: one match is the value itself, several a list
            name = f"({name}[0] if {name} | length == 1 else {name})"
        return f"{name} | {_CASTS[cast]}" if cast in _CASTS else name

    def template(self, value: Any, typed: bool = False) -> Any:
        """A gabbi value with replacers as an apirun value with templates (recursively).
        ``typed``: a value that is one $ENVIRON becomes a number, boolean or null when it
        reads as one, as gabbi's _environ_replace does (JSON bodies, expected values)."""
        if isinstance(value, dict):
            return {self.template(k): self.template(v, typed) for k, v in value.items()}
        if isinstance(value, list):
            return [self.template(v, typed) for v in value]
        if not isinstance(value, str):
            return value
        whole = _REPLACER.fullmatch(value)
        if typed and whole and whole.group("withargument") == "ENVIRON" and not whole.group("cast"):
            return "{{ " + _TYPED_ENV.format(env=self.expression(whole)) + " }}"
        parts: list[str] = []
        last = 0
        for match in _REPLACER.finditer(value):
            expression = self.expression(match)
            parts.append(_literal(value[last : match.start()]))
            if expression is None:
                parts.append(_literal(match.group(0)))
            elif expression.startswith("__URL__"):
                parts.append(self.tests[int(expression[7:])].url)
            elif expression.startswith("__BLOCK__"):
                parts.append(expression[9:])
            else:
                parts.append("{{ " + expression + " }}")
            last = match.end()
        if not parts:
            return _literal(value)
        parts.append(_literal(value[last:]))
        return "".join(parts)

    # -- the second pass: steps ---------------------------------------------------------------

    def step(self, test: _Test) -> dict[str, Any]:
        data = test.data
        self.current = test.index
        url = str(self.template(str(data["url"])))
        if data["ssl"]:
            if "://" in str(data["url"]):
                self.note("ssl: true with an absolute URL: its own scheme is kept")
            else:
                url = (
                    "{{ "
                    + BASE_VARIABLE
                    + " | replace('http://', 'https://', 1) }}"
                    + (url if url.startswith("/") else "/" + url)
                )
        test.url = url
        request: dict[str, Any] = {"method": str(data["method"]).upper(), "url": url}
        headers = {str(k): self.header_value(v) for k, v in data["request_headers"].items()}
        if headers:
            request["headers"] = headers
        if data["query_parameters"]:
            request["params"] = {
                str(k): [_python_text(self.template(i)) for i in v]
                if isinstance(v, list)
                else _python_text(self.template(v))
                for k, v in data["query_parameters"].items()
            }
        self.body(data, request, headers)
        if not data["redirects"]:
            request["follow_redirects"] = False
        if data["timeout"] != 30:
            request["timeout"] = float(data["timeout"])
        step: dict[str, Any] = {"name": test.name}
        if data["skip"]:
            step.update(self.skip(data["skip"]))
        if data["xfail"]:
            step["xfail"] = True  # gabbi's is a flag: any failure or error is expected
        step["request"] = request
        step["expect"] = self.expect(data)
        if data["poll"]:
            poll = data["poll"]
            step["retry"] = {
                "times": int(float(poll.get("count", 1))),
                "delay": float(poll.get("delay", 1)),
            }
        for key, why in (
            ("verbose", "verbose: use apirun -v"),
            ("cert_validate", "cert_validate: false: set defaults.verify: false in the file"),
            ("disable_response_handler", "disable_response_handler has no equivalent"),
        ):
            if data[key] != _BASE_TEST[key]:
                self.note(why)
        if data["http_version"] != 1:
            self.note("http_version: apirun speaks HTTP/1.1")
        if data["use_prior_test"] is False:
            self.note("use_prior_test: false has no effect: apirun runs the whole file in order")
        return step

    def skip(self, value: Any) -> dict[str, Any]:
        """gabbi's ``skip: REASON`` as apirun's. gabbi renders it first and skips when the
        text is not empty, so a reason that is one replacer ($ENVIRON['SKIP_X']) decides when
        the test runs: that becomes ``when: not (...)``."""
        if not isinstance(value, str):
            return {"skip": True if value is True else str(value)}
        whole = _REPLACER.fullmatch(value.strip())
        expression = self.expression(whole) if whole else None
        if expression is not None and not expression.startswith("__"):
            return {"when": f"not ({expression})"}
        return {"skip": value.strip() or True}

    def header_value(self, value: Any) -> str:
        return _python_text(self.template(value))

    def body(self, data: dict[str, Any], request: dict[str, Any], headers: dict) -> None:
        body = data["data"]
        if body == "":
            return
        content_type = next((str(v) for k, v in headers.items() if k.lower() == "content-type"), "")
        is_json = _accepts_json(content_type)
        if isinstance(body, str) and body.startswith("<@"):
            name = body[2:]
            path = (self.path.parent / name).resolve()
            if not str(path).startswith(str(self.path.parent.resolve())):
                self.note(f"data: <@{name} is outside the test folder (gabbi refuses it too)")
                return
            try:
                raw = path.read_bytes()
            except OSError as exc:
                raise GabbiImportError(f"{self.path}: data file {name}: {exc.strerror}") from None
            try:
                body = raw.decode("utf-8")
            except UnicodeDecodeError:
                self.note(f"data: <@{name} is binary: not inlined; the step sends no body")
                return
            request["data"] = self.template(body)
            return
        if isinstance(body, dict | list):
            if not is_json:
                self.note("structured data without a JSON content-type: sent as JSON")
            if _has_replacer_key(body):
                # Mapping keys are not templates in apirun: the body goes as JSON text.
                request["data"] = self.json_text(body)
                if not content_type:
                    request.setdefault("headers", {})["Content-Type"] = "application/json"
                return
            request["json"] = self.template(body, typed=True)
            return
        if is_json and not isinstance(body, str):
            request["json"] = body  # a JSON scalar
            return
        request["data"] = self.template(_python_text(body))

    def json_text(self, value: Any) -> str:
        """JSON text with templates: a value that is one replacer keeps its type (tojson)."""
        if isinstance(value, dict):
            items = (f"{self.json_key(str(k))}: {self.json_text(v)}" for k, v in value.items())
            return "{ " + ", ".join(items) + " }"  # spaced: never Jinja's {{
        if isinstance(value, list):
            return "[" + ", ".join(self.json_text(v) for v in value) + "]"
        if not isinstance(value, str) or not _REPLACER.search(value):
            return _literal(json.dumps(value))
        whole = _REPLACER.fullmatch(value)
        if whole is not None:
            expression = self.expression(whole)
            if expression is not None and not expression.startswith(("__URL__", "__BLOCK__")):
                return "{{ (" + expression + ") | tojson }}"
        return '"' + str(self.template(value)) + '"'

    def json_key(self, key: str) -> str:
        if not _REPLACER.search(key):
            return _literal(json.dumps(key))
        return '"' + str(self.template(key)) + '"'

    def expect(self, data: dict[str, Any]) -> dict[str, Any]:
        expect: dict[str, Any] = {"status": _status(data["status"], self)}
        headers: dict[str, Any] = {}
        for name, value in data["response_headers"].items():
            text = _python_text(value)
            if _REGEX.match(text):
                headers[str(name)] = {"matches": self.template(text[1:-1])}
            else:
                headers[str(name)] = {"equals": self.template(text)}
        for name in data["response_forbidden_headers"]:
            key = str(self.template(str(name)))
            headers[key] = {**headers.get(key, {}), "exists": False}
        if headers:
            expect["headers"] = headers
        strings = []
        for text in data["response_strings"]:
            text = _python_text(text)
            if _REGEX.match(text):
                strings.append({"matches": self.template(text[1:-1])})
            else:
                strings.append({"contains": self.template(text)})
        if strings:
            expect["body"] = strings
        paths: dict[str, Any] = {}
        for path, value in data["response_json_paths"].items():
            converted = self.json_path(str(path), value)
            if converted is not None:
                key, check = converted
                earlier = paths.get(key)
                if earlier is not None and not set(earlier) & set(check):
                    check = {**earlier, **check}  # $.x and $.x.`len`: both checks, one path
                elif earlier is not None:
                    self.note(f"response_json_paths: {path} twice: the last is kept")
                paths[key] = check
        if paths:
            expect["jsonpath"] = paths
        return expect

    def json_path(self, path: str, value: Any) -> tuple[str, Any] | None:
        if not path.startswith("$"):
            path = "$." + path
        # `len` of one place is apirun's length; of several, jsonpath-ng's own `len`, kept.
        length = _LEN.search(path) and _definite(_LEN.sub("", path))
        if isinstance(value, str) and value.startswith("<@"):
            value = self.data_file_value(value)
            if value is _UNREADABLE:
                return None
        elif isinstance(value, str) and _REGEX.match(value):
            key = str(self.template(path))
            return key, {"matches": self.template(value[1:-1])}
        key = str(self.template(_LEN.sub("", path) if length else path))
        expected = self.template(value, typed=True)
        if length:
            return key, {"length": expected}
        # gabbi gives a single match as the value itself, several as a list; apirun gives
        # a list for any path that is not a plain one (wildcards, `sorted`, ...).
        if not _definite(path):
            if _definite(_EXTENSION.sub("", path)):
                return key, {"equals": [expected]}  # $.x.`sorted`: one match
            if not isinstance(value, list):
                return key, {"equals": [expected]}
        return key, {"equals": expected}

    def data_file_value(self, value: str) -> Any:
        name, _, rhs = value[2:].partition(":$")
        path = self.path.parent / name
        try:
            loaded = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            self.note(f"response_json_paths value {value}: cannot read {name}: {exc}")
            return _UNREADABLE
        if not rhs:
            return loaded
        import jsonpath_ng.ext as jsonpath

        found = [m.value for m in jsonpath.parse("$" + rhs).find(loaded)]
        if not found:
            self.note(f"response_json_paths value {value}: ${rhs} matches nothing in {name}")
            return _UNREADABLE
        return found[0] if len(found) == 1 else found


_UNREADABLE = object()


def convert_text(
    text: str, path: Path, fixture_module: str | None = None
) -> tuple[str, int, list[str]]:
    """One gabbi file's text as spec text; its test count and notes."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise GabbiImportError(f"{path}: not valid YAML: {exc}") from None
    file = _File(path, fixture_module)
    document = file.read(document)
    # Pass 1 wrote nothing yet: every step's URL must exist before $LAST_URL is used, so
    # steps are built in order (a replacer refers to earlier tests, or names one).
    steps = [file.step(test) for test in file.tests]
    for test, step in zip(file.tests, steps, strict=True):
        if test.captures:
            step["capture"] = dict(test.captures)
    spec: dict[str, Any] = {
        "name": path.stem,
        "base_url": "{{ " + BASE_VARIABLE + " }}",
        "vars": {BASE_VARIABLE: DEFAULT_BASE},
        "defaults": {"continue_on_failure": True},  # a failed gabbi test does not stop its file
    }
    fixtures = document.get("fixtures") or []
    if fixtures:
        if fixture_module:
            spec["fixtures"] = [f"{fixture_module}:{name}" for name in fixtures]
        else:
            file.current = 0
            file.notes.append(
                f"{path.name}: fixtures {', '.join(fixtures)} left out: give "
                "--fixture-module MODULE (gabbi's fixture_module)"
            )
    header = [
        f"# Converted from gabbi: {path.name} (apirun import gabbi). Run against a server with",
        f"# --var {BASE_VARIABLE}=http://127.0.0.1:PORT, or in-process with --app.",
    ]
    body = [yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100).rstrip()]
    body.append("steps:")
    for test, step in zip(file.tests, steps, strict=True):
        desc = test.data.get("desc")
        if desc:
            body += [f"  # {line}" for line in str(desc).splitlines()]
        dumped = yaml.safe_dump([step], sort_keys=False, allow_unicode=True, width=100)
        body.append("\n".join("  " + line for line in dumped.rstrip().splitlines()))
    return "\n".join([*header, *body]) + "\n", len(file.tests), file.notes


def gabbi_files(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
            if not found:
                raise GabbiImportError(f"no gabbi files (*.yaml, *.yml) in folder {name}")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise GabbiImportError(f"no such file or folder: {name}")
    return files


def convert(
    paths: Sequence[str], output: Path, fixture_module: str | None = None, force: bool = False
) -> list[Converted]:
    """Every file converted and checked; raises GabbiImportError before writing anything."""
    from ..checker import check_spec
    from ..errors import SpecError
    from ..loader import load_text

    done = []
    for source in gabbi_files(paths):
        target = output / (source.stem + ".yaml")
        if target.exists() and not force:
            raise GabbiImportError(f"{target} exists: add --force to replace it")
        try:
            text = source.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise GabbiImportError(f"cannot read {source}: {exc}") from None
        spec_text, tests, notes = convert_text(text, source, fixture_module)
        try:
            spec = load_text(spec_text, str(target))
        except SpecError as exc:
            raise GabbiImportError(f"{source}: the translation does not load: {exc}") from None
        problems = check_spec(spec, {BASE_VARIABLE})
        if problems:
            listed = "; ".join(f"line {p.source.line}: {p.message}" for p in problems[:3])
            raise GabbiImportError(f"{source}: the translation does not pass check: {listed}")
        done.append(Converted(source, target, spec_text, tests, notes))
    return done


def main(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    parser = argparse.ArgumentParser(
        prog="apirun import gabbi",
        description="Convert gabbi YAML files into apirun specs that behave the same; what "
        "cannot be translated is listed per test. Nothing is written unless every file "
        "converts; existing files need --force.",
    )
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR", help="gabbi files or folders")
    parser.add_argument(
        "-o", "--output", metavar="DIR", default=".", help="folder for the specs (default: .)"
    )
    parser.add_argument("--force", action="store_true", help="replace existing spec files")
    parser.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto", help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--fixture-module",
        metavar="MODULE",
        help="the module of the files' fixtures (gabbi's fixture_module): 'fixtures: "
        "[APIFixture]' becomes MODULE:APIFixture",
    )
    options = parser.parse_args(list(argv))
    output = Path(options.output)
    if output.exists() and not output.is_dir():
        err.write(f"apirun: error: -o {output}: not a folder\n")
        return 2
    try:
        converted = convert(options.paths, output, options.fixture_module, options.force)
    except GabbiImportError as exc:
        err.write(f"apirun: error: {exc}; nothing was written\n")
        return 2
    from ..atomicfile import write_atomic

    output.mkdir(parents=True, exist_ok=True)
    for item in converted:
        write_atomic(item.target, item.text.encode("utf-8"))
    tests = sum(item.tests for item in converted)
    notes = [note for item in converted for note in item.notes]
    out.write(f"apirun import gabbi: {len(converted)} files, {tests} tests written to {output}\n")
    if notes:
        err.write(f"not translated ({len(notes)}):\n" + "".join(f"  - {n}\n" for n in notes))
    return 0


def _update(target: dict[str, Any], new: dict[str, Any]) -> None:
    """gabbi's test_update: dicts merge, lists extend, anything else (and data) replaces."""
    for key, value in new.items():
        if key == "data":
            target[key] = value
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            target[key] = {**target[key], **value}
        elif isinstance(value, list) and isinstance(target.get(key), list):
            target[key] = target[key] + value
        else:
            target[key] = value


def _has_replacer_key(value: Any) -> bool:
    if isinstance(value, dict):
        return any(
            (isinstance(k, str) and _REPLACER.search(k)) or _has_replacer_key(v)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_has_replacer_key(v) for v in value)
    return False


def _is_method(key: Any) -> bool:
    return isinstance(key, str) and key.isupper()


def _literal(text: str) -> str:
    """Literal text inside a template: Jinja's own markers kept as text."""
    if "{{" in text or "{%" in text or "{#" in text:
        return "{{ " + json.dumps(text) + " }}"
    return text


def _python_text(value: Any) -> Any:
    """A scalar as gabbi sends it: Python's str() (True, not true)."""
    if isinstance(value, str) or value is None:
        return "" if value is None else value
    return str(value)


def _accepts_json(content_type: str) -> bool:
    kind, _, parameters = content_type.lower().partition(";")
    kind = kind.strip()
    return kind.endswith("+json") or (kind == "application/json" and "stream=" not in parameters)


def _status(value: Any, file: _File) -> Any:
    codes = [part.strip() for part in str(value).split("||")]
    found: list[Any] = []
    for code in codes:
        if code.isdigit():
            found.append(int(code))
        else:
            file.note(f"status {code!r} is not a code: left out")
    return found[0] if len(found) == 1 else found


def _definite(path: str) -> bool:
    """A path that names one place (apirun gives the value, not a list)."""
    return not any(mark in path for mark in ("*", "..", "[?", ":", "`", ","))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:], sys.stdout, sys.stderr))
