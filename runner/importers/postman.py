"""``apirun import postman``: a Postman collection (v2.1, and v2.0 where it is the same).

Folders become step-name prefixes (``users › create user``); collection and folder
variables become ``vars``; ``{{var}}`` is kept (as ``{{ var }}``); auth blocks (bearer,
basic, apikey; inherited from folders and the collection) become headers or query
parameters; bodies raw / urlencoded / formdata / file become json, data, form and files.
Scripts cannot be translated: every ``pm.test`` is listed in a comment above its step and
in the command's report.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from ._spec import Imported, ImportedStep, ImportError_, member_object, variable_name

_VARIABLE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
_TEST = re.compile(r"""pm\.test\(\s*(["'`])(.+?)\1""")
_DYNAMIC = {"$guid": "uuid()", "$randomUUID": "uuid()"}
_SEPARATOR = " › "


def import_postman(text: str, folder: str) -> Imported:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ImportError_(f"not JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("item"), list):
        raise ImportError_("not a Postman collection: no item list")
    info = member_object(document, "info")
    schema = str(info.get("schema", ""))
    imported = Imported(str(info.get("name") or "imported from Postman"))
    imported.header = [f"Imported from the Postman collection {imported.name!r}."]
    if schema and "v2.1" not in schema and "v2.0" not in schema:
        imported.notes.append(f"collection schema {schema}: read as v2.1")
    walker = _Walk(imported, folder)
    walker.variables(document.get("variable"), "collection")
    for event in document.get("event") or []:
        walker.script(event, "the collection", None)
    walker.items(document["item"], [], document.get("auth"))
    return imported


class _Walk:
    def __init__(self, imported: Imported, folder: str):
        self.imported = imported
        self.folder = folder
        self.renamed: dict[str, str] = {}  # Postman name → variable name

    def note(self, text: str) -> None:
        self.imported.notes.append(text)

    def variables(self, variables: Any, where: str) -> None:
        for variable in variables or []:
            if not isinstance(variable, dict) or "key" not in variable:
                continue
            if variable.get("disabled"):
                continue
            name = self.name(str(variable["key"]))
            value = variable.get("value", "")
            value = self.text(value) if isinstance(value, str) else value
            if name in self.imported.variables and self.imported.variables[name] != value:
                self.note(f"{where} variable {variable['key']!r} set twice: the first is kept")
                continue
            self.imported.variables.setdefault(name, value)
            if variable.get("type") == "secret" and name not in self.imported.secret_names:
                self.imported.secret_names.append(name)

    def name(self, key: str) -> str:
        """A Postman variable's name as a template name (``base-url`` → ``base_url``)."""
        if key in self.renamed:
            return self.renamed[key]
        name = variable_name(key)
        if name != key:
            self.note(f"variable {key!r} is named {name!r}: Jinja names are letters, _ and digits")
        self.renamed[key] = name
        return name

    def text(self, value: str) -> str:
        """``{{var}}`` → ``{{ var }}``; Postman's own ``{{$guid}}`` → ``{{ uuid() }}``."""

        def replace(match: re.Match[str]) -> str:
            key = match.group(1)
            if key.startswith("$"):
                if key in _DYNAMIC:
                    return "{{ " + _DYNAMIC[key] + " }}"
                self.note(f"dynamic variable {{{{{key}}}}} has no equivalent: kept as text")
                return "{% raw %}" + match.group(0) + "{% endraw %}"
            return "{{ " + self.name(key) + " }}"

        return _VARIABLE.sub(replace, value)

    def script(self, event: Any, where: str, step: ImportedStep | None) -> None:
        if not isinstance(event, dict):
            return
        script = member_object(event, "script")
        lines = script.get("exec") or []
        source = "\n".join(lines) if isinstance(lines, list) else str(lines)
        if not source.strip():
            return
        if event.get("listen") == "test":
            tests = [match.group(2) for match in _TEST.finditer(source)]
            for name in tests or ["(a test script without pm.test)"]:
                line = f"pm.test {name!r} in {where} not translated: write it as expect:"
                self.note(line)
                if step is not None:
                    step.comments.append(line)
        else:
            line = f"{event.get('listen', 'a')} script in {where} not translated"
            self.note(line)
            if step is not None:
                step.comments.append(line)

    def items(self, items: list[Any], path: list[str], auth: Any) -> None:
        for item in items:
            if not isinstance(item, dict):
                continue
            name = str(item.get("name") or "request")
            inherited = item.get("auth", auth) if "auth" in item else auth
            if isinstance(item.get("item"), list):  # a folder
                self.variables(item.get("variable"), f"folder {name!r}")
                for event in item.get("event") or []:
                    self.script(event, f"folder {name!r}", None)
                self.items(item["item"], [*path, name], inherited)
            elif "request" in item:
                self.request(item, [*path, name], inherited)

    def request(self, item: dict[str, Any], path: list[str], auth: Any) -> None:
        request = item["request"]
        if isinstance(request, str):
            request = {"url": request, "method": "GET"}
        step = ImportedStep(name=_SEPARATOR.join(path))
        step.method = str(request.get("method") or "GET").upper()
        step.url, step.params = self.url(request.get("url"), step.name)
        for header in request.get("header") or []:
            if isinstance(header, dict) and not header.get("disabled") and header.get("key"):
                step.headers.append((str(header["key"]), self.text(str(header.get("value", "")))))
        request_auth = request.get("auth", auth) if "auth" in request else auth
        self.auth(request_auth, step)
        self.body(request.get("body"), step)
        for event in item.get("event") or []:
            self.script(event, f"request {step.name!r}", step)
        self.imported.steps.append(step)

    def url(self, url: Any, where: str) -> tuple[str, list[tuple[str, str]]]:
        if isinstance(url, str):
            raw, query = url, None
        elif isinstance(url, dict):
            raw, query = str(url.get("raw") or ""), url.get("query")
            if not raw:
                host = url.get("host") or []
                host = ".".join(host) if isinstance(host, list) else str(host)
                path = url.get("path") or []
                path = "/".join(path) if isinstance(path, list) else str(path)
                protocol = url.get("protocol")
                raw = (f"{protocol}://" if protocol else "") + host + "/" + path
        else:
            raise ImportError_(f"request {where!r}: no URL")
        if not raw:
            raise ImportError_(f"request {where!r}: an empty URL")
        base, _, raw_query = raw.partition("?")
        params: list[tuple[str, str]] = []
        if isinstance(query, list):
            for item in query:
                if isinstance(item, dict) and not item.get("disabled") and item.get("key"):
                    params.append(
                        (self.text(str(item["key"])), self.text(str(item.get("value") or "")))
                    )
        elif raw_query:
            from urllib.parse import parse_qsl

            params = [(self.text(k), self.text(v)) for k, v in parse_qsl(raw_query, True)]
        if "://" not in base and not base.startswith("{{"):
            base = "http://" + base
        return self.text(base), params

    def auth(self, auth: Any, step: ImportedStep) -> None:
        if not isinstance(auth, dict):
            return
        kind = auth.get("type")
        if kind in (None, "noauth"):
            return
        values = _pairs(auth.get(kind))
        if kind == "bearer":
            token = self.secret(values.get("token", ""), "bearer_token")
            step.headers.append(("Authorization", f"Bearer {token}"))
        elif kind == "basic":
            user = self.secret(values.get("username", ""), "username", secret=False)
            password = self.secret(values.get("password", ""), "password")
            pair = f"({_expression(user)} ~ ':' ~ {_expression(password)})"
            step.headers.append(("Authorization", "Basic {{ " + pair + " | b64encode }}"))
        elif kind == "apikey":
            key = self.text(str(values.get("key") or "X-API-Key"))
            value = self.secret(values.get("value", ""), "api_key_secret")
            if values.get("in") == "query":
                step.params.append((key, value))
            else:
                step.headers.append((key, value))
        else:
            self.note(f"auth {kind} of {step.name!r} not translated: add its header yourself")

    def secret(self, value: Any, name: str, secret: bool = True) -> str:
        """A template for an auth value: its {{var}} as is, else a (secret) variable."""
        text = self.text(str(value))
        if "{{" in text:
            return text
        existing = self.imported.variables.get(name)
        if existing is not None and existing != text:
            name = f"{name}_{len(self.imported.variables)}"
        self.imported.variables[name] = text
        if secret and name not in self.imported.secret_names:
            self.imported.secret_names.append(name)
        return "{{ " + name + " }}"

    def body(self, body: Any, step: ImportedStep) -> None:
        if not isinstance(body, dict) or not body.get("mode") or body.get("disabled"):
            return
        mode = body["mode"]
        if mode == "raw":
            raw = str(body.get("raw") or "")
            language = (((body.get("options") or {}).get("raw") or {}).get("language")) or ""
            declared = next((v for k, v in step.headers if k.lower() == "content-type"), "")
            if language == "json" or "json" in declared.lower():
                try:
                    parsed = json.loads(raw)
                except ValueError:  # {"id": {{id}}}: JSON once rendered; sent as text
                    parsed = None
                if parsed is not None:
                    step.json, step.has_json = _texts(parsed, self.text), True
                    step.headers = [(k, v) for k, v in step.headers if k.lower() != "content-type"]
                    return
                if not declared:
                    step.headers.append(("Content-Type", "application/json"))
            step.data = self.text(raw)
        elif mode == "urlencoded":
            step.form = [
                (str(p["key"]), self.text(str(p.get("value") or "")))
                for p in body.get("urlencoded") or []
                if isinstance(p, dict) and p.get("key") and not p.get("disabled")
            ]
        elif mode == "formdata":
            step.form = []
            for part in body.get("formdata") or []:
                if not isinstance(part, dict) or not part.get("key") or part.get("disabled"):
                    continue
                if part.get("type") == "file":
                    source = part.get("src")
                    source = source[0] if isinstance(source, list) and source else source
                    if not source:
                        self.note(f"{step.name!r}: file field {part['key']!r} has no file")
                        continue
                    step.files[str(part["key"])] = self.path(str(source))
                else:
                    step.form.append((str(part["key"]), self.text(str(part.get("value") or ""))))
        elif mode == "file":
            source = (body.get("file") or {}).get("src")
            if source:
                step.data_file = self.path(str(source))
            else:
                self.note(f"{step.name!r}: a file body with no file")
        else:
            self.note(f"{step.name!r}: a {mode} body not translated")

    def path(self, source: str) -> str:
        """A file Postman names (absolute, or relative to its working folder, here the
        current one), relative to the spec's folder."""
        absolute = os.path.abspath(os.path.expanduser(source))
        return os.path.relpath(absolute, self.folder)


def _pairs(items: Any) -> dict[str, Any]:
    if isinstance(items, dict):
        return items
    return {
        str(item.get("key")): item.get("value")
        for item in items or []
        if isinstance(item, dict) and "key" in item
    }


def _expression(template: str) -> str:
    """``{{ name }}`` → ``name`` inside a larger expression; other text as a string."""
    match = re.fullmatch(r"\{\{ (\w+) \}\}", template)
    return match.group(1) if match else json.dumps(template)


def _texts(value: Any, text: Any) -> Any:
    if isinstance(value, str):
        return text(value)
    if isinstance(value, dict):
        return {key: _texts(item, text) for key, item in value.items()}
    if isinstance(value, list):
        return [_texts(item, text) for item in value]
    return value
