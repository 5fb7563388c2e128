"""Files a request sends from disk (``data: {file:}``, ``files:``, ``cert:``): where they are
and whether they can be read, checked before anything is sent. Pure but for the file system.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .model import ClientCert

OCTET_STREAM = "application/octet-stream"


class PayloadError(ValueError):
    """A file a request needs is missing, unreadable or (a certificate) not PEM."""


def resolve(path: str, folder: str | Path) -> str:
    """A path as written in a spec (relative to the spec file's folder), ``~`` expanded."""
    return str(Path(folder) / Path(path).expanduser())


def readable_file(path: Any, folder: str | Path, what: str) -> str:
    """The resolved path of a file that exists and can be read, or PayloadError."""
    if not isinstance(path, str) or not path.strip():
        raise PayloadError(f"{what} needs the path of a file, found {path!r}")
    resolved = resolve(path, folder)
    if not os.path.isfile(resolved):
        raise PayloadError(f"{what}: no file {path} (looked for {resolved})")
    try:
        with open(resolved, "rb"):
            pass
    except OSError as exc:
        raise PayloadError(f"{what}: cannot read {resolved}: {exc.strerror}") from None
    return resolved


def client_cert(cert: Any, key: Any, folder: str | Path, what: str = "'cert'") -> ClientCert:
    """A client certificate whose files exist and hold a certificate and its key (PEM)."""
    import ssl

    cert_path = readable_file(cert, folder, what)
    key_path = readable_file(key, folder, f"{what} key") if key is not None else None
    try:
        # A password callback, so an encrypted key is refused here instead of OpenSSL
        # prompting on the terminal (requests could not send it either).
        ssl.create_default_context().load_cert_chain(cert_path, key_path, password=lambda: b"")
    except ssl.SSLError as exc:
        held = f"{cert_path} and {key_path}" if key_path else cert_path
        raise PayloadError(
            f"{what}: {held} is not a PEM certificate with its private key, unencrypted "
            f"({exc.reason or exc})"
        ) from None
    return ClientCert(cert_path, key_path)


def cloud_cert(cloud: Any) -> ClientCert | None:
    """The client certificate of ``--os-cloud``'s cloud (its ``cert`` and ``key``), if any;
    relative paths are relative to the current folder, as for the openstack command."""
    if not isinstance(cloud, Mapping) or not cloud.get("cert"):
        return None
    return client_cert(cloud["cert"], cloud.get("key") or None, os.getcwd(), "the cloud's cert")
