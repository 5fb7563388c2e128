"""Shared pytest fixtures: a real FakeKeystone HTTP server on 127.0.0.1."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

try:  # tests/ as a package
    from .server import FakeKeystone, ServerThread, start_server
except ImportError:  # tests/ as a plain directory (rootdir/conftest-relative imports)
    _here = os.path.dirname(os.path.abspath(__file__))
    if _here not in sys.path:
        sys.path.insert(0, _here)
    from server import FakeKeystone, ServerThread, start_server  # type: ignore[no-redef]


@pytest.fixture(autouse=True)
def _no_openstack_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's OS_* variables and clouds.yaml must not leak into the tests."""
    import os as _os

    for name in list(_os.environ):
        if name.startswith("OS_"):
            monkeypatch.delenv(name)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end tests against a real Keystone")


@pytest.fixture(scope="session")
def server() -> Iterator[ServerThread]:
    """One FakeKeystone server for the whole session (``.url``, ``.port``, ``.app``)."""
    running = start_server(FakeKeystone())
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def srv(server: ServerThread) -> ServerThread:
    """The session server with its app reset (no recorded requests, fresh tokens/users)."""
    server.app.reset()
    return server
