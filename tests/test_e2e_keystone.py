"""End to end: the real ``apirun`` command against a real Keystone (issue 3).

Needs APIRUN_KEYSTONE_URL (see the ``keystone_url`` fixture in conftest.py):

    bash scripts/keystone/up.sh
    APIRUN_KEYSTONE_URL=http://127.0.0.1:5000 python -m pytest -m e2e

Each test runs ``apirun`` as a subprocess with OS_AUTH_URL pointing at that Keystone (and no
other OS_* variable, so a developer's own cloud settings never leak in) and reads what a user
sees: the exit code and the report. Where a spec changes Keystone, the test checks Keystone's
state itself, through its API with its own admin token.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from helpers import apirun_command
from openstack_cloud import Run

e2e = pytest.mark.e2e  # every test that needs a Keystone; the `check` tests at the end do not

SPECS = Path(__file__).resolve().parent.parent / "specs"
USERS_SPEC = SPECS / "users.yaml"
CRUD_SPEC = SPECS / "openstack" / "keystone-crud.yaml"
CATALOG_SPEC = SPECS / "openstack" / "keystone-catalog.yaml"

# The demo account that scripts/keystone/up.sh (and ../shared/keystone) provision.
DEMO_LOGIN = {"domain": "demo", "project": "admin", "username": "admin", "password": "000000"}


def apirun(keystone_url: str, *args: str) -> Run:
    """``apirun --color never ARGS`` as a subprocess, aimed at the Keystone under test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(
        OS_AUTH_URL=f"{keystone_url}/v3",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    done = subprocess.run(
        [*apirun_command(), "--color", "never", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def assert_all_passed(run: Run) -> dict[str, str]:
    steps = run.steps()
    assert run.code == 0, run.text
    assert steps and set(steps.values()) == {"PASS"}, run.text
    assert f"{len(steps)} passed, 0 failed, 0 skipped" in run.out, run.text
    return steps


# -- the test's own view of Keystone (plain requests, an admin token of its own) -------------


class Keystone:
    """Just enough of Keystone's API to check (and clean up) what a spec did."""

    def __init__(self, url: str) -> None:
        self.api = f"{url}/v3"
        self.session = requests.Session()
        self.session.trust_env = False
        user = {
            "domain": {"name": DEMO_LOGIN["domain"]},
            "name": DEMO_LOGIN["username"],
            "password": DEMO_LOGIN["password"],
        }
        scope = {
            "project": {"domain": {"name": DEMO_LOGIN["domain"]}, "name": DEMO_LOGIN["project"]}
        }
        auth = {"identity": {"methods": ["password"], "password": {"user": user}}, "scope": scope}
        answer = self.session.post(f"{self.api}/auth/tokens", json={"auth": auth}, timeout=30)
        assert answer.status_code == 201, f"admin login failed: {answer.status_code} {answer.text}"
        self.session.headers["X-Auth-Token"] = answer.headers["X-Subject-Token"]
        self.catalog = answer.json()["token"]["catalog"]
        self.domain_id = answer.json()["token"]["user"]["domain"]["id"]

    def named(self, kind: str, name: str) -> list[str]:
        """Ids of the projects or users (kind) called name, in any domain."""
        answer = self.session.get(f"{self.api}/{kind}", params={"name": name}, timeout=30)
        assert answer.status_code == 200, f"GET /v3/{kind}: {answer.status_code} {answer.text}"
        return [item["id"] for item in answer.json()[kind]]

    def leftovers(self, name: str) -> list[str]:
        """Every project and user called name, as 'projects/ID' / 'users/ID'."""
        return [f"{kind}/{id_}" for kind in ("projects", "users") for id_ in self.named(kind, name)]

    def delete(self, path: str) -> None:
        self.session.delete(f"{self.api}/{path}", timeout=30)

    def create(self, kind: str, name: str) -> str:
        body = {kind[:-1]: {"name": name, "domain_id": self.domain_id}}
        answer = self.session.post(f"{self.api}/{kind}", json=body, timeout=30)
        assert answer.status_code == 201, f"POST /v3/{kind}: {answer.status_code} {answer.text}"
        return answer.json()[kind[:-1]]["id"]


@pytest.fixture
def keystone(keystone_url: str) -> Keystone:
    return Keystone(keystone_url)


@pytest.fixture
def unique_suffix(keystone: Keystone) -> Iterator[str]:
    """A suffix for names (apirun-e2e-SUFFIX) no project or user has yet; whatever is left
    with such a name is removed afterwards, even when the test failed."""
    suffix = uuid.uuid4().hex[:12]
    name = f"apirun-e2e-{suffix}"
    assert keystone.leftovers(name) == []
    yield suffix
    for path in keystone.leftovers(name):
        keystone.delete(path)


# -- 1. specs/users.yaml ---------------------------------------------------------------------


@e2e
def test_users_spec_logs_in_and_lists_users(keystone_url):
    run = apirun(keystone_url, str(USERS_SPEC))

    steps = assert_all_passed(run)
    assert list(steps) == ["get token", "list users"]
    login = run.line("get token")
    assert f"POST {keystone_url}/v3/auth/tokens" in login and " 201 " in login
    assert f"GET {keystone_url}/v3/users" in run.line("list users")


# -- 2. a wrong password ---------------------------------------------------------------------


@e2e
def test_a_wrong_password_fails_the_login_step_with_401(keystone_url):
    run = apirun(keystone_url, "--var", "password=wrong-e2e-password", str(USERS_SPEC))

    assert run.code == 1, run.text
    assert run.steps() == {"get token": "FAIL", "list users": "SKIP"}, run.text
    assert "status: expected 201, got 401" in run.out
    assert "(skipped: step 'get token' failed)" in run.line("list users")
    assert "0 passed, 1 failed, 1 skipped" in run.out
    assert "wrong-e2e-password" not in run.out + run.err  # the password is masked


# -- 3. a project and a user, created, changed and deleted across steps ---------------------


@e2e
def test_crud_spec_passes_and_leaves_nothing_behind(keystone_url, keystone, unique_suffix):
    name = f"apirun-e2e-{unique_suffix}"

    run = apirun(keystone_url, "--var", f"suffix={unique_suffix}", str(CRUD_SPEC))

    steps = assert_all_passed(run)
    for step in (
        "create project",
        "create user",
        "update the user",
        "assign the role",
        "the role is assigned",
        "delete the user",
        "delete the project",
        "the user is gone",
        "the project is gone",
    ):
        assert steps.get(step) == "PASS", f"step {step!r} missing\n{run.text}"
    # the spec worked on the names this test gave it, so the check below looks at the right ones
    assert f"/v3/users?name={name}&" in run.line("find the user by name")
    assert f"/v3/projects?name={name}&" in run.line("find the project by name")
    assert keystone.leftovers(name) == []


@e2e
def test_the_leftover_check_sees_a_project_and_a_user_that_are_left(keystone, unique_suffix):
    """The negative control of the check above: it does report what is still there."""
    name = f"apirun-e2e-{unique_suffix}"
    project_id = keystone.create("projects", name)
    user_id = keystone.create("users", name)

    assert keystone.leftovers(name) == [f"projects/{project_id}", f"users/{user_id}"]

    keystone.delete(f"users/{user_id}")
    keystone.delete(f"projects/{project_id}")
    assert keystone.leftovers(name) == []


# -- 4. the service catalog ------------------------------------------------------------------


def public_identity_url(catalog: list[dict]) -> str:
    (url,) = [
        endpoint["url"]
        for service in catalog
        if service["type"] == "identity"
        for endpoint in service["endpoints"]
        if endpoint["interface"] == "public"
    ]
    return url


@e2e
def test_catalog_spec_calls_the_identity_endpoint_from_the_catalog(keystone_url, keystone):
    identity = public_identity_url(keystone.catalog)

    run = apirun(keystone_url, str(CATALOG_SPEC))

    assert_all_passed(run)
    called = run.line("identity API from the catalog")
    assert f"GET {identity.rstrip('/')} " in called and " 200 " in called, run.text
    listed = run.line("users via the catalog endpoint")
    assert f"GET {identity.rstrip('/')}/users?name=admin " in listed, run.text


@e2e
def test_a_service_missing_from_the_catalog_is_named_with_the_ones_there(keystone_url):
    run = apirun(keystone_url, "--var", "service=no-such-service", str(CATALOG_SPEC))

    # Only the response could say which services exist: a step failure (exit 1), not a spec
    # error (exit 2), as docs/openstack.md says.
    assert run.code == 1, run.text
    assert run.steps() == {
        "get a token with its catalog": "PASS",
        "identity API from the catalog": "ERROR",
        "users via the catalog endpoint": "SKIP",
    }, run.text
    message = next(line for line in run.out.splitlines() if "no-such-service" in line)
    assert "no service of type 'no-such-service' in the catalog" in message, run.text
    assert "identity" in message.split("(services:", 1)[1], run.text


# -- the specs are valid (no Keystone needed) --------------------------------------------------


@pytest.mark.parametrize("spec", [CRUD_SPEC, CATALOG_SPEC], ids=lambda p: p.name)
def test_the_keystone_specs_pass_check(spec):
    done = subprocess.run(
        [*apirun_command(), "check", str(spec)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("ok: 1 spec file"), done.stdout
