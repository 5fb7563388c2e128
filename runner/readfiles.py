"""The files a loaded spec reads: itself, its included files, the JSON Schema files of
``expect.schema``, and the files it sends or presents (``data: {file: PATH}`` bodies, ``files:``
uploads, client certificates, a CA bundle named by ``verify``).

Read from the model the loader built, never from the YAML again: the command refuses a
report that would overwrite one of them (cli.py), and ``--watch`` re-runs when one changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .model import ClientCert, Spec
from .operators.bodyschema import SCHEMA, BodySchema


def files_read(spec: Spec) -> list[Path]:
    """Every file ``spec`` reads, each once, the spec itself first."""
    seen: dict[str, Path] = {}
    for name in _named(spec):
        seen.setdefault(str(Path(name)), Path(name))
    return list(seen.values())


def _named(spec: Spec) -> Iterator[str]:
    yield spec.path
    yield from spec.sources  # included files, at any depth
    yield from _cert(spec.defaults.cert)
    verify = spec.defaults.verify
    if isinstance(verify, str):  # a CA bundle, resolved by the loader (a template is not)
        yield verify
    for step in spec.all_steps():
        request = step.request
        if request.body_kind == "file" and isinstance(request.body, str):
            yield request.body
        for upload in request.files:
            yield upload.path
        yield from _cert(request.cert)
        for expectation in step.expectations:
            schema = expectation.expected
            if expectation.operator == SCHEMA and isinstance(schema, BodySchema):
                # A schema file's label is its path as written, relative to the file the
                # expectation is in (an included file's own folder); an inline one has none.
                path = Path(expectation.source.file).parent / schema.label
                if path.is_file():
                    yield str(path)


def _cert(cert: ClientCert | None) -> Iterator[str]:
    if cert is not None:
        yield cert.cert
        if cert.key is not None:
            yield cert.key
