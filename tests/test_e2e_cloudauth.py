"""End to end: ``os.token`` and ``os.catalog`` without a login step (issue 14), against the
real Keystone (APIRUN_KEYSTONE_URL, see conftest.py).

Each test makes its own user (password, roles on a project, a domain and the system),
creates what the auth type needs through Keystone's API (a token, an application
credential), writes a clouds.yaml to a temporary folder and runs the real ``apirun
--os-cloud``. The spec asks Keystone about the very token apirun logged in with, so the
user, the scope and the method are Keystone's word. No secret may show in any output or
report. Everything created is deleted (application credentials first: see the stack's
README on Keystone's SQLite pitfall).
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack_cloud import FERNET, Cloud, apirun, clouds_yaml, password_auth, unique

pytestmark = pytest.mark.e2e

WHOAMI = """\
name: who am I
steps:
  - name: the token apirun logged in with
    request:
      url: "{{ os.identity_url }}/auth/tokens"
      headers: {X-Auth-Token: "{{ os.token }}", X-Subject-Token: "{{ os.token }}"}
    expect:
      status: 200
      jsonpath:
        $.token.user.name: "{{ user }}"
        # Keystone keeps the methods of a rescoped token as a set: order varies.
        $.token.methods: {contains: "{{ method }}"}
  - name: the scope
    request:
      url: "{{ os.identity_url }}/auth/tokens"
      headers: {X-Auth-Token: "{{ os.token }}", X-Subject-Token: "{{ os.token }}"}
    expect:
      jsonpath:
        SCOPE_PATH: {one_of: ["{{ scope_value }}", true]}
"""

CATALOG = """\
name: catalog defaults
steps:
  - name: identity from os.catalog
    request:
      url: "{{ os.catalog | endpoint('identity') }}/auth/tokens"
      headers: {X-Auth-Token: "{{ os.token }}", X-Subject-Token: "{{ os.token }}"}
    expect:
      status: 200
"""


@pytest.fixture(scope="module")
def cloud(keystone_url: str) -> Cloud:
    return Cloud(keystone_url)


@pytest.fixture(scope="module")
def user(cloud: Cloud) -> Iterator[dict[str, Any]]:
    """A user of the demo domain with the member role on the admin project, the demo domain
    and the system, so that each kind of scope can be asked for."""
    name, password = unique(), unique("pw")
    answer = cloud.post(
        f"{cloud.identity}/users",
        json={"user": {"name": name, "domain_id": cloud.domain_id, "password": password}},
    )
    assert answer.status_code == 201, answer.text
    user_id = answer.json()["user"]["id"]
    role = cloud.role_id("member")
    for target in (
        f"projects/{cloud.project_id}/users/{user_id}",
        f"domains/{cloud.domain_id}/users/{user_id}",
        f"system/users/{user_id}",
    ):
        assert cloud.put(f"{cloud.identity}/{target}/roles/{role}").status_code == 204
    login = cloud.session.post(
        f"{cloud.identity}/auth/tokens",
        json=password_auth({"id": user_id}, password, {"project": {"id": cloud.project_id}}),
        headers={"X-Auth-Token": None},
        timeout=30,
    )
    assert login.status_code == 201, login.text
    info = {
        "name": name,
        "id": user_id,
        "password": password,
        "token": login.headers["X-Subject-Token"],
    }
    yield info
    credentials = cloud.get(f"{cloud.identity}/users/{user_id}/application_credentials")
    for credential in credentials.json().get("application_credentials", []):
        cloud.delete(f"{cloud.identity}/users/{user_id}/application_credentials/{credential['id']}")
    cloud.delete(f"{cloud.identity}/users/{user_id}")


@pytest.fixture(scope="module")
def app_credential(cloud: Cloud, user: dict[str, Any]) -> dict[str, str]:
    """An application credential of the user, created with the user's own token."""
    answer = cloud.session.post(
        f"{cloud.identity}/users/{user['id']}/application_credentials",
        json={"application_credential": {"name": unique("appcred")}},
        headers={"X-Auth-Token": user["token"]},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    created = answer.json()["application_credential"]
    return {"id": created["id"], "name": created["name"], "secret": created["secret"]}


def _secrets(user: dict[str, Any], credential: dict[str, str] | None = None) -> list[str]:
    found = [user["password"], user["token"]]
    if credential:
        found.append(credential["secret"])
    return found


def _run(
    tmp_path: Path, auth: dict[str, Any], spec: str, *args: str, **extra: Any
) -> tuple[Any, str]:
    config = clouds_yaml(tmp_path, "local", auth, **extra)
    path = tmp_path / "spec.yaml"
    arguments = list(args)
    if "scope_path" in " ".join(arguments):  # a JSONPath key is not templated: written in
        at = next(i for i, a in enumerate(arguments) if a.startswith("scope_path="))
        spec = spec.replace("SCOPE_PATH", arguments[at].split("=", 1)[1])
        del arguments[at - 1 : at + 1]
    args = tuple(arguments)
    path.write_text(spec)
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    run = apirun(
        "--os-cloud",
        "local",
        "-v",
        "--report-json",
        str(report),
        "--junit",
        str(junit),
        *args,
        str(path),
        env={"OS_CLIENT_CONFIG_FILE": str(config)},
    )
    everything = run.out + run.err
    if report.exists():
        everything += report.read_text() + junit.read_text()
    return run, everything


def _assert_no_secret(everything: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in everything
    assert not FERNET.search(everything), FERNET.search(everything)


def _scope_vars(kind: str, cloud: Cloud) -> list[str]:
    path, value = {
        "project": ("$.token.project.id", cloud.project_id),
        "domain": ("$.token.domain.id", cloud.domain_id),
        "system": ("$.token.system.all", "(true)"),
        "application_credential": ("$.token.project.id", cloud.project_id),
    }[kind]
    return ["--var", f"scope_path={path}", "--var", f"scope_value={value}"]


SCOPES = {
    "project": {"project_name": "admin", "project_domain_name": "demo"},
    "domain": {"domain_name": "demo"},
    "system": {"system_scope": "all"},
}


@pytest.mark.parametrize("scope", sorted(SCOPES))
def test_password_login_with_each_scope(cloud, user, tmp_path, scope):
    auth = {
        "auth_url": cloud.url,
        "username": user["name"],
        "password": user["password"],
        "user_domain_name": "demo",
        **SCOPES[scope],
    }

    run, everything = _run(
        tmp_path,
        auth,
        WHOAMI,
        "--var",
        f"user={user['name']}",
        "--var",
        "method=password",
        *_scope_vars(scope, cloud),
        auth_type="password",
    )

    run.assert_all_passed()
    _assert_no_secret(everything, _secrets(user))


@pytest.mark.parametrize("auth_type", ["token", "v3token"])
def test_token_login_exchanges_the_token_for_a_scoped_one(cloud, user, tmp_path, auth_type):
    auth = {"auth_url": cloud.url, "token": user["token"], "project_id": cloud.project_id}

    run, everything = _run(
        tmp_path,
        auth,
        WHOAMI,
        "--var",
        f"user={user['name']}",
        "--var",
        "method=token",
        *_scope_vars("project", cloud),
        auth_type=auth_type,
    )

    run.assert_all_passed()
    _assert_no_secret(everything, _secrets(user))


@pytest.mark.parametrize("by", ["id", "name"])
def test_application_credential_login(cloud, user, app_credential, tmp_path, by):
    auth: dict[str, Any] = {
        "auth_url": cloud.url,
        "application_credential_secret": app_credential["secret"],
    }
    if by == "id":
        auth["application_credential_id"] = app_credential["id"]
    else:
        auth.update(
            application_credential_name=app_credential["name"],
            username=user["name"],
            user_domain_name="demo",
        )

    run, everything = _run(
        tmp_path,
        auth,
        WHOAMI,
        "--var",
        f"user={user['name']}",
        "--var",
        "method=application_credential",
        *_scope_vars("application_credential", cloud),
        auth_type="v3applicationcredential",
    )

    run.assert_all_passed()
    _assert_no_secret(everything, _secrets(user, app_credential))


def test_os_catalog_takes_the_clouds_interface_and_region(cloud, user, tmp_path):
    auth = {
        "auth_url": cloud.url,
        "username": user["name"],
        "password": user["password"],
        "user_domain_name": "demo",
        "project_id": cloud.project_id,
    }
    (tmp_path / "specs").mkdir()
    for index in range(3):
        (tmp_path / "specs" / f"{index}-catalog.yaml").write_text(CATALOG)
    config = clouds_yaml(tmp_path, "local", auth, region_name="RegionOne", interface="internal")

    run = apirun(
        "--os-cloud",
        "local",
        "-v",
        str(tmp_path / "specs"),
        env={"OS_CLIENT_CONFIG_FILE": str(config)},
    )

    run.assert_all_passed()
    internal = [
        e["url"]
        for s in cloud.catalog
        if s["type"] == "identity"
        for e in s["endpoints"]
        if e["interface"] == "internal"
    ][0].rstrip("/")
    assert run.out.count(f"GET {internal}/auth/tokens ") == 3, run.text  # the cloud's interface
    _assert_no_secret(run.out + run.err, _secrets(user))


def test_a_wrong_password_is_one_clear_error(cloud, user, tmp_path):
    auth = {
        "auth_url": cloud.url,
        "username": user["name"],
        "password": "wrong-e2e-password",
        "user_domain_name": "demo",
        "project_id": cloud.project_id,
    }

    run, everything = _run(tmp_path, auth, CATALOG)

    assert run.code == 2, run.text
    assert "the cloud's login (POST " in run.out and "was refused: 401" in run.out, run.text
    assert "Traceback" not in everything
    assert "wrong-e2e-password" not in everything


# -- 401: a new token, and the step once more ----------------------------------------------------


class _Revoker(http.server.BaseHTTPRequestHandler):
    """POST /revoke with the token in X-Revoke: the test revokes it through Keystone's API."""

    cloud: Cloud
    revoked: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        token = self.headers["X-Revoke"]
        self.cloud.revoke(token)
        assert not self.cloud.token_is_valid(token)
        self.revoked.append(token)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def revoker(cloud: Cloud) -> Iterator[str]:
    _Revoker.cloud, _Revoker.revoked = cloud, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Revoker)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


REVOKED = """\
name: a revoked token
steps:
  - name: before
    request:
      url: "{{ os.catalog | endpoint('identity') }}/auth/tokens"
      headers: {X-Auth-Token: "{{ os.token }}", X-Subject-Token: "{{ os.token }}"}
    expect: {status: 200}
  - name: the test revokes the token
    request:
      method: POST
      url: "{{ revoker }}/revoke"
      headers: {X-Revoke: "{{ os.token }}"}
    expect: {status: 204}
  - name: after
    request:
      url: "{{ os.catalog | endpoint('identity') }}/auth/tokens"
      headers: {X-Auth-Token: "{{ os.token }}", X-Subject-Token: "{{ os.token }}"}
    expect: {status: 200}
  - name: a captured token is not the cloud's
    request:
      url: "{{ os.identity_url }}/projects"
      headers: {X-Auth-Token: "{{ stale }}"}
    expect: {status: 401}
"""


def test_a_401_with_the_clouds_token_logs_in_again_once_and_resends(cloud, user, revoker, tmp_path):
    auth = {
        "auth_url": cloud.url,
        "username": user["name"],
        "password": user["password"],
        "user_domain_name": "demo",
        "project_id": cloud.project_id,
    }
    stale = cloud.session.post(
        f"{cloud.identity}/auth/tokens",
        json=password_auth({"id": user["id"]}, user["password"], None),
        timeout=30,
    ).headers["X-Subject-Token"]
    cloud.revoke(stale)

    run, everything = _run(
        tmp_path, auth, REVOKED, "--var", f"revoker={revoker}", "--var", f"stale={stale}"
    )

    run.assert_all_passed()
    assert len(_Revoker.revoked) == 1  # the token apirun had was revoked before 'after'
    assert "(401: logged in to the cloud again and resent)" in run.line("after")
    assert "again" not in run.line("before") and "again" not in run.line(
        "a captured token is not the cloud's"
    )
    report = json.loads((tmp_path / "report.json").read_text())
    flags = {s["name"]: s["reauthenticated"] for s in report["files"][0]["steps"]}
    assert flags == {
        "before": False,
        "the test revokes the token": False,
        "after": True,
        "a captured token is not the cloud's": False,
    }
    _assert_no_secret(everything, [*_secrets(user), _Revoker.revoked[0], stale])
