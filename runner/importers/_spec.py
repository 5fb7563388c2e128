"""What every importer builds (Imported, ImportedStep) and the one way it becomes a spec.

An importer reads its format into these dataclasses and lists what it could not translate;
``finish`` moves literal credentials into secret-named variables (or into a capture, when
an earlier response gave the value), and ``to_yaml`` writes the spec text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from ..masking import is_secret_header, is_secret_name

_NOT_NAME = re.compile(r"[^A-Za-z0-9_]+")


class ImportError_(Exception):  # noqa: N801 - not the builtin ImportError
    """The source cannot be imported at all: nothing is written."""


@dataclass(slots=True)
class ImportedStep:
    name: str
    method: str = "GET"
    url: str = ""
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    json: Any = None
    has_json: bool = False
    data: str | None = None
    data_file: str | None = None
    form: list[tuple[str, str]] | None = None
    files: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    follow_redirects: bool = True
    timeout: float | None = None
    cert: str | None = None
    captures: dict[str, Any] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)
    response_headers: list[tuple[str, str]] = field(default_factory=list)  # HAR: recorded


@dataclass(slots=True)
class Imported:
    name: str
    steps: list[ImportedStep] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    secret_names: list[str] = field(default_factory=list)
    verify: bool | str | None = None
    notes: list[str] = field(default_factory=list)  # what could not be translated
    header: list[str] = field(default_factory=list)  # comment lines at the top


def variable_name(text: str, secret: bool = False) -> str:
    """A template-safe name; a secret one says so (token/secret), so apirun masks it."""
    name = _NOT_NAME.sub("_", text).strip("_").lower() or "value"
    if name[0].isdigit():
        name = "v_" + name
    if secret and not is_secret_name(name):
        name += "_secret"
    return name


def finish(imported: Imported) -> Imported:
    """Credentials out of the steps: into a capture of the earlier step that received them,
    or into a secret-named variable holding the recorded value."""
    names: dict[str, str] = {}  # value → variable name

    def variable_for(value: str, suggested: str, index: int) -> str:
        if value in names:
            return names[value]
        for earlier in imported.steps[:index]:
            for header, received in earlier.response_headers:
                if received == value:
                    name = _unique(variable_name(header, secret=True), imported, names)
                    if "subject_token" in name:
                        name = _unique("token", imported, names)
                    earlier.captures[name] = {"header": header}
                    names[value] = name
                    return name
        name = _unique(suggested, imported, names)
        imported.variables[name] = value
        imported.secret_names.append(name)
        names[value] = name
        return name

    for index, step in enumerate(imported.steps):
        headers = []
        for header, value in step.headers:
            if is_secret_header(header) and value and "{{" not in value:
                scheme, _, credential = value.partition(" ")
                if credential and scheme.lower() in ("bearer", "basic", "digest"):
                    name = variable_for(credential, f"{scheme.lower()}_token", index)
                    value = f"{scheme} {{{{ {name} }}}}"
                else:
                    name = variable_for(value, variable_name(header, secret=True), index)
                    value = f"{{{{ {name} }}}}"
            headers.append((header, value))
        step.headers = headers
        if step.has_json:
            step.json = _secrets_in_json(step.json, lambda v, k, i=index: variable_for(v, k, i))
    return imported


def _secrets_in_json(value: Any, variable: Any, depth: int = 0) -> Any:
    if depth > 50:
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(item, str) and item and is_secret_name(str(key)) and "{{" not in item:
                out[key] = f"{{{{ {variable(item, variable_name(str(key), secret=True))} }}}}"
            else:
                out[key] = _secrets_in_json(item, variable, depth + 1)
        return out
    if isinstance(value, list):
        return [_secrets_in_json(item, variable, depth + 1) for item in value]
    return value


def _unique(name: str, imported: Imported, taken: dict[str, str]) -> str:
    used = set(imported.variables) | set(taken.values())
    used |= {capture for step in imported.steps for capture in step.captures}
    candidate, number = name, 2
    while candidate in used:
        candidate, number = f"{name}_{number}", number + 1
    return candidate


def unique_step_names(steps: list[ImportedStep]) -> None:
    seen: dict[str, int] = {}
    for step in steps:
        count = seen.get(step.name, 0) + 1
        seen[step.name] = count
        if count > 1:
            step.name = f"{step.name} ({count})"


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc or "{{" in parts.netloc:
        return None
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def to_yaml(imported: Imported) -> str:
    """The spec text: a comment head (source, what was not translated), then the spec."""
    unique_step_names(imported.steps)
    origins = {_origin(step.url) for step in imported.steps}
    base = origins.pop() if len(origins) == 1 else None
    document: dict[str, Any] = {"name": imported.name}
    if base:
        document["base_url"] = base
    if imported.variables:
        document["vars"] = imported.variables
    if imported.verify is not None and imported.verify is not True:
        document["defaults"] = {"verify": imported.verify}
    lines = [f"# {line}" if line else "#" for line in imported.header]
    if imported.secret_names:
        names = ", ".join(imported.secret_names)
        lines.append(f"# Recorded credentials are in vars ({names}): apirun masks them in its")
        lines.append("# output; replace them, or pass --var NAME=VALUE, before sharing this file.")
    if imported.notes:
        lines.append("# Not translated:")
        lines += [f"#   - {note}" for note in imported.notes]
    text = "\n".join(lines) + ("\n" if lines else "")
    text += _dump(document)
    text += "steps:\n"
    for step in imported.steps:
        for comment in step.comments:
            text += f"  # {comment}\n"
        item = _dump([_step(step, base)])
        text += "".join(f"  {line}\n" for line in item.splitlines())
    return text


def _step(step: ImportedStep, base: str | None) -> dict[str, Any]:
    url = step.url
    if base and url.startswith(base):
        url = url[len(base) :] or "/"
    request: dict[str, Any] = {}
    if step.method != "GET":
        request["method"] = step.method
    request["url"] = url
    if step.params:
        params: dict[str, Any] = {}
        for name, value in step.params:
            if name in params:
                existing = params[name]
                params[name] = (
                    [*existing, value] if isinstance(existing, list) else [existing, value]
                )
            else:
                params[name] = value
        request["params"] = params
    if step.headers:
        request["headers"] = dict(step.headers)
    if step.has_json:
        request["json"] = step.json
    elif step.data_file is not None:
        request["data"] = {"file": step.data_file}
    elif step.data is not None:
        request["data"] = step.data
    if step.form is not None or step.files:
        form: dict[str, Any] = {}
        for name, value in step.form or []:
            form[name] = (
                [*form[name], value]
                if isinstance(form.get(name), list)
                else ([form[name], value] if name in form else value)
            )
        if form or not step.files:
            request["form"] = form
    if step.files:
        request["files"] = dict(step.files)
    if step.cert:
        request["cert"] = step.cert
    if step.timeout:
        request["timeout"] = step.timeout
    if not step.follow_redirects:
        request["follow_redirects"] = False
    item: dict[str, Any] = {"name": step.name, "request": request}
    if step.status is not None:
        item["expect"] = {"status": step.status}
    if step.captures:
        item["capture"] = step.captures
    return item


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=100)


def member_object(document: dict[str, Any], key: str) -> dict[str, Any]:
    """``document[key]`` when it is a JSON object, else an empty one (absent or of another type)."""
    member = document.get(key)
    return member if isinstance(member, dict) else {}


def parse_json_text(text: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


def literal(text: str) -> str:
    """Text that must reach the wire as it is, even if it looks like a template."""
    if "{{" in text or "{%" in text or "{#" in text:
        return "{% raw %}" + text + "{% endraw %}"
    return text


def literal_json(value: Any) -> Any:
    if isinstance(value, str):
        return literal(value)
    if isinstance(value, dict):
        return {key: literal_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [literal_json(item) for item in value]
    return value
