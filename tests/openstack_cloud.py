"""The e2e tests' own view of the local OpenStack (../shared/openstack): plain requests with
an admin token of their own, to set up what a test needs and to check what a spec left.

Never through apirun: what the tests check must not depend on the code under test.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers import apirun_command

# The demo account of keystone-up.sh (../shared/keystone, scripts/keystone/up.sh).
DEMO = {"domain": "demo", "project": "admin", "username": "admin", "password": "000000"}
FERNET = re.compile(r"gAAAAA[\w-]{20,}")  # how every Keystone token starts
_STEP_LINE = re.compile(r"^\s+(PASS|FAIL|ERROR|SKIP)\s+(.+?)(?:\s{2,}|$)")


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # 127.0.0.1 never goes through a proxy
    return session


def password_auth(user: dict[str, Any], password: str, scope: dict[str, Any] | None) -> dict:
    auth: dict[str, Any] = {
        "identity": {"methods": ["password"], "password": {"user": {**user, "password": password}}}
    }
    if scope:
        auth["scope"] = scope
    return {"auth": auth}


DEMO_SCOPE = {"project": {"domain": {"name": DEMO["domain"]}, "name": DEMO["project"]}}
DEMO_USER = {"domain": {"name": DEMO["domain"]}, "name": DEMO["username"]}


class Cloud:
    """The admin's session: Keystone at ``url`` (no /v3) and the services of its catalog."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.identity = f"{url}/v3"
        self.session = _session()
        answer = self.session.post(
            f"{self.identity}/auth/tokens",
            json=password_auth(DEMO_USER, DEMO["password"], DEMO_SCOPE),
            timeout=30,
        )
        assert answer.status_code == 201, f"admin login: {answer.status_code} {answer.text}"
        self.token = answer.headers["X-Subject-Token"]
        self.session.headers["X-Auth-Token"] = self.token
        body = answer.json()["token"]
        self.catalog = body["catalog"]
        self.user_id = body["user"]["id"]
        self.project_id = body["project"]["id"]
        self.domain_id = body["user"]["domain"]["id"]

    def endpoint(self, service_type: str) -> str | None:
        for service in self.catalog:
            if service["type"] == service_type:
                for item in service["endpoints"]:
                    if item["interface"] == "public":
                        return item["url"].rstrip("/")
        return None

    def get(self, url: str, **kw: Any) -> requests.Response:
        return self.session.get(url, timeout=30, **kw)

    def delete(self, url: str, **kw: Any) -> requests.Response:
        return self.session.delete(url, timeout=60, **kw)

    def post(self, url: str, **kw: Any) -> requests.Response:
        return self.session.post(url, timeout=60, **kw)

    def put(self, url: str, **kw: Any) -> requests.Response:
        return self.session.put(url, timeout=60, **kw)

    def role_id(self, name: str) -> str:
        answer = self.get(f"{self.identity}/roles", params={"name": name})
        (role,) = answer.json()["roles"]
        return role["id"]

    def revoke(self, token: str) -> None:
        answer = self.delete(f"{self.identity}/auth/tokens", headers={"X-Subject-Token": token})
        assert answer.status_code == 204, f"revoke: {answer.status_code} {answer.text}"

    def token_is_valid(self, token: str) -> bool:
        answer = self.get(f"{self.identity}/auth/tokens", headers={"X-Subject-Token": token})
        return answer.status_code == 200


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}--- stderr\n{self.err}"

    def steps(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for line in self.out.splitlines():
            match = _STEP_LINE.match(line)
            if match:
                found[match.group(2).rstrip()] = match.group(1)
        return found

    def line(self, step: str) -> str:
        lines = [
            line
            for line in self.out.splitlines()
            if (m := _STEP_LINE.match(line)) and m.group(2).rstrip() == step
        ]
        assert len(lines) == 1, f"expected one report line for step {step!r}\n{self.text}"
        return lines[0]

    def assert_all_passed(self) -> dict[str, str]:
        steps = self.steps()
        assert self.code == 0, self.text
        assert steps and set(steps.values()) == {"PASS"}, self.text
        return steps


# The local stack's Nova keeps its databases in SQLite, shared by its threads: now and then
# a build fails with "database is locked" (../shared/openstack/README.md, "SQLite"). That is
# the stack's fault, not the spec's: such a run is repeated once, and only when Nova's own
# log says so for a server the run reported in ERROR.
NOVA_LOG = (
    Path(os.environ.get("OS_STACK_HOME", Path.home() / ".cache" / "openstack-loopback"))
    / "nova"
    / "log"
    / "nova.log"
)
_DB_ERROR = "sqlalchemy.exc.OperationalError"  # in Nova's computeFault body of a 500
_SERVER_URL = re.compile(r"/servers/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")


def stack_fault(run: Run) -> str | None:
    """What shows a run failed on the stack's SQLite, not on the spec: Nova's log saying a
    server the run saw in ERROR hit "database is locked", or Nova answering 500 with
    SQLAlchemy's OperationalError while its log reports the lock."""
    if not NOVA_LOG.is_file() or ('got "ERROR"' not in run.out and _DB_ERROR not in run.out):
        return None
    servers = set(_SERVER_URL.findall(run.out))
    locked = None
    with NOVA_LOG.open(encoding="utf-8", errors="replace") as log:
        for line in log:
            if "database is locked" not in line:
                continue
            locked = line.strip()
            if any(f"[instance: {server}]" in line for server in servers):
                return locked
    if _DB_ERROR in run.out and locked is not None:
        return f"Nova answered 500 ({_DB_ERROR}); its log: {locked}"
    return None


def apirun(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """``apirun --color never ARGS`` as a subprocess, with no OS_* but those in ``env``;
    again (twice at most) when a run failed only on the stack's SQLite (see stack_fault:
    about one build in twelve fails so on this machine)."""
    import warnings

    run = _apirun(*args, env=env, cwd=cwd)
    for _ in range(2):
        fault = stack_fault(run)
        if fault is None:
            break
        warnings.warn(f"the local Nova failed a build on SQLite, run again: {fault}", stacklevel=2)
        run = _apirun(*args, env=env, cwd=cwd)
    return run


def _apirun(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    base.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", **(env or {}))
    done = subprocess.run(
        [*apirun_command(), "--color", "never", *args],
        capture_output=True,
        text=True,
        env=base,
        cwd=cwd,
        timeout=600,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def clouds_yaml(folder: Path, name: str, auth: dict[str, Any], **extra: Any) -> Path:
    """A clouds.yaml with one cloud, as JSON (which is YAML)."""
    import json

    path = folder / "clouds.yaml"
    path.write_text(json.dumps({"clouds": {name: {"auth": auth, **extra}}}, indent=2))
    return path


def unique(prefix: str = "apirun-e2e") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def require_service(cloud: Cloud, service_type: str) -> str:
    """The service's public URL, checked to answer; fails under CI (or when .ci/run said
    the stack has it), skips otherwise."""
    wanted = {s for s in os.environ.get("APIRUN_OPENSTACK_SERVICES", "").split(",") if s}
    names = {"placement": "placement", "image": "glance", "network": "neutron", "compute": "nova"}
    ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    must = ci or names.get(service_type) in wanted
    url = cloud.endpoint(service_type)
    problem = None
    if url is None:
        problem = f"no '{service_type}' service in the catalog"
    else:
        try:
            cloud.get(url)
        except requests.RequestException as exc:
            problem = f"{service_type} at {url} does not answer ({type(exc).__name__})"
    if problem:
        message = (
            f"{problem}: start the stack with OS_STACK_SERVICES=all bash "
            "../shared/openstack/stack-up.sh"
        )
        if must:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    assert url is not None
    return url


def resources(cloud: Cloud) -> dict[str, set[str]]:
    """What the cloud holds now, by kind (ids, and each provider's non-zero usages), through
    each service's API: compare a snapshot before a run with one after to see what it left."""
    found: dict[str, set[str]] = {}

    def listed(kind: str, url: str, key: str, **kw: Any) -> None:
        answer = cloud.get(url, **kw)
        assert answer.status_code == 200, f"{kind}: {answer.status_code} {answer.text}"
        found[kind] = {item["id"] for item in answer.json()[key]}

    listed("users", f"{cloud.identity}/users", "users")
    listed("projects", f"{cloud.identity}/projects", "projects")
    listed(
        "application credentials",
        f"{cloud.identity}/users/{cloud.user_id}/application_credentials",
        "application_credentials",
    )
    if nova := cloud.endpoint("compute"):
        listed("servers", f"{nova}/servers", "servers", params={"all_tenants": 1})
    if glance := cloud.endpoint("image"):
        listed("images", f"{glance}/v2/images", "images", params={"limit": 1000})
    if neutron := cloud.endpoint("network"):
        for kind in ("networks", "subnets", "ports", "security-groups", "security-group-rules"):
            listed(kind, f"{neutron}/v2.0/{kind}", kind.replace("-", "_"))
    if placement := cloud.endpoint("placement"):
        version = {"OpenStack-API-Version": "placement 1.39"}
        answer = cloud.get(f"{placement}/resource_providers", headers=version)
        providers = [p["uuid"] for p in answer.json()["resource_providers"]]
        found["resource providers"] = set(providers)
        answer = cloud.get(
            f"{placement}/traits", params={"name": "startswith:CUSTOM_"}, headers=version
        )
        found["custom traits"] = set(answer.json()["traits"])
        found["usages"] = set()
        for provider in providers:
            answer = cloud.get(f"{placement}/resource_providers/{provider}/usages")
            usages = answer.json()["usages"]
            found["usages"] |= {f"{provider} {rc}={n}" for rc, n in usages.items() if n}
    return found


def left_behind(before: dict[str, set[str]], after: dict[str, set[str]]) -> dict[str, set[str]]:
    """What ``after`` has that ``before`` had not, by kind (empty: nothing was left)."""
    return {
        kind: ids - before.get(kind, set())
        for kind, ids in after.items()
        if ids - before.get(kind, set())
    }
