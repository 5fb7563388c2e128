"""The loader's part for ``request:`` — method, URL, params, headers, the body (json, data,
form, a file), multipart uploads, a client certificate, timeout — into a model.Request."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from . import templating
from .load_shape import Shape, _positive_number, _type_name
from .model import BodyKind, ClientCert, Request, Upload
from .payloads import PayloadError, client_cert, readable_file
from .source import Source
from .yamlsource import LocDict

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
_METHOD = re.compile(r"\A[A-Za-z]+\Z")


class RequestShapes(Shape):
    """Builds a step's request (and the defaults' headers, timeout, verify and cert)."""

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
