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


# -- end-to-end tests against a real Keystone (pytest -m e2e) ---------------------------------

_KEYSTONE_HOWTO = (
    "start a local Keystone with `bash scripts/keystone/up.sh`, then run the tests with "
    "APIRUN_KEYSTONE_URL=http://127.0.0.1:5000 (the URL it prints)"
)


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def keystone_url() -> str:
    """The base URL of a real Keystone (no /v3) from APIRUN_KEYSTONE_URL, checked to answer.

    Unset: the test is skipped, except under CI (``CI`` set), where end-to-end tests must
    never be skipped silently, so it fails instead.
    """
    import requests

    url = os.environ.get("APIRUN_KEYSTONE_URL", "").strip().rstrip("/")
    if not url:
        message = f"APIRUN_KEYSTONE_URL is not set: {_KEYSTONE_HOWTO}"
        if _ci():
            pytest.fail(f"{message} (CI is set, so end-to-end tests may not skip)", pytrace=False)
        pytest.skip(message)
    url = url.removesuffix("/v3")
    session = requests.Session()
    session.trust_env = False  # 127.0.0.1 never goes through a proxy
    try:
        answer = session.get(f"{url}/v3", timeout=10)
    except requests.RequestException as exc:
        problem = f"{type(exc).__name__}: {exc}"
    else:
        problem = None
    if problem:
        pytest.fail(
            f"APIRUN_KEYSTONE_URL={url}: Keystone does not answer ({problem}); {_KEYSTONE_HOWTO}",
            pytrace=False,
        )
    if answer.status_code != 200:
        pytest.fail(
            f"APIRUN_KEYSTONE_URL={url}: GET {url}/v3 answered {answer.status_code}, "
            "not a Keystone v3 version document",
            pytrace=False,
        )
    return url
