"""--os-cloud, the `os` variables and the `endpoint` filter, against the test server."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import run_cli, run_process, write_spec

from runner.openstack import EndpointNotFound, endpoint, namespace

USERS_SPEC = Path(__file__).resolve().parent.parent / "specs" / "users.yaml"


def write_clouds(directory: Path, srv, password: str | None = "000000") -> Path:
    auth = {
        "auth_url": srv.url,  # without /v3, as clouds.yaml files often have it
        "username": "admin",
        "project_name": "admin",
        "user_domain_name": "demo",
        "project_domain_name": "demo",
    }
    if password is not None:
        auth["password"] = password
    clouds = {
        "clouds": {
            "other": {"auth": {"auth_url": "http://127.0.0.1:9"}},
            "testcloud": {"region_name": "RegionOne", "auth": auth},
        }
    }
    path = directory / "clouds.yaml"
    path.write_text(yaml.safe_dump(clouds), encoding="utf-8")
    return path


def test_os_cloud_runs_the_users_spec_unchanged(srv, tmp_path):
    write_clouds(tmp_path, srv)
    result = run_process("--os-cloud", "testcloud", str(USERS_SPEC), cwd=tmp_path)
    assert result.code == 0, result.text
    assert f"POST {srv.url}/v3/auth/tokens" in result.out  # auth_url without /v3 gets it
    assert "000000" not in result.text
    login = srv.app.requests[0].json()["auth"]
    assert login["identity"]["password"]["user"]["password"] == "000000"


def test_secure_yaml_holds_the_password_and_os_cloud_env_selects(srv, tmp_path):
    clouds = write_clouds(tmp_path, srv, password=None)
    secure = write_spec(
        tmp_path,
        'clouds:\n  testcloud:\n    auth:\n      password: "000000"\n',
        name="secure.yaml",
    )
    env = {
        "OS_CLOUD": "testcloud",
        "OS_CLIENT_CONFIG_FILE": str(clouds),
        "OS_CLIENT_SECURE_FILE": str(secure),
    }
    result = run_process("-v", str(USERS_SPEC), env=env)
    assert result.code == 0, result.text
    assert "000000" not in result.text  # masked even in verbose output


def test_os_variables_override_clouds_yaml(srv, tmp_path):
    write_clouds(tmp_path, srv)
    result = run_process(
        "--os-cloud", "testcloud", str(USERS_SPEC), cwd=tmp_path, env={"OS_PASSWORD": "wrong"}
    )
    assert result.code == 1
    assert "expected 201, got 401" in result.out
    assert "wrong" not in result.out


def test_unknown_cloud_is_a_usage_error(srv, tmp_path):
    write_clouds(tmp_path, srv)
    result = run_process("--os-cloud", "nope", str(USERS_SPEC), cwd=tmp_path)
    assert result.code == 2
    assert "cloud 'nope' is not in" in result.err
    assert "other, testcloud" in result.err
    assert srv.app.requests == []


def test_broken_clouds_yaml_names_its_line(srv, tmp_path):
    (tmp_path / "clouds.yaml").write_text("clouds:\n  x: [\n")
    result = run_process("--os-cloud", "x", str(USERS_SPEC), cwd=tmp_path)
    assert result.code == 2
    assert "clouds.yaml:2" in result.err


def test_endpoint_filter_calls_the_catalog_url(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}/v3
        steps:
          - name: login
            request:
              method: POST
              url: /auth/tokens
              json:
                auth:
                  identity:
                    methods: [password]
                    password: {{user: {{name: admin, password: "000000", domain: {{name: demo}}}}}}
                  scope: {{project: {{name: admin, domain: {{name: demo}}}}}}
            capture:
              token: {{header: X-Subject-Token}}
              catalog: $.token.catalog
          - name: through the catalog
            request:
              url: "{{{{ catalog | endpoint('identity', 'internal') }}}}/users"
              headers: {{X-Auth-Token: "{{{{ token }}}}"}}
          - name: missing service
            request:
              url: "{{{{ catalog | endpoint('image') }}}}/images"
        """,
    )
    result = run_cli(capsys, str(spec))
    # A catalog without the service is known only at run time: the step fails (exit 1),
    # it is not a spec error (exit 2).
    assert result.code == 1
    assert srv.app.requests[1].path == "/v3/users"
    assert "no service of type 'image' in the catalog (services: compute, identity)" in result.out
    assert len(srv.app.requests) == 2


CATALOG = [
    {
        "type": "compute",
        "endpoints": [
            {"interface": "public", "region_id": "One", "url": "http://127.0.0.1:1/one"},
            {"interface": "public", "region_id": "Two", "url": "http://127.0.0.1:1/two"},
            {"interface": "admin", "region_id": "One", "url": "http://127.0.0.1:1/admin/"},
        ],
    }
]


def test_endpoint_by_interface_and_region():
    assert endpoint(CATALOG, "compute") == "http://127.0.0.1:1/one"
    assert endpoint(CATALOG, "compute", region="Two") == "http://127.0.0.1:1/two"
    assert endpoint(CATALOG, "compute", "admin") == "http://127.0.0.1:1/admin"
    assert endpoint({"token": {"catalog": CATALOG}}, "compute") == "http://127.0.0.1:1/one"
    with pytest.raises(EndpointNotFound, match="has no internal endpoint .*public@One"):
        endpoint(CATALOG, "compute", "internal")


def test_namespace_from_environment_and_identity_url():
    space = namespace({"auth": {"auth_url": "http://h:5000/"}}, {"OS_USERNAME": "me"})
    assert space["identity_url"] == "http://h:5000/v3"
    assert space["username"] == "me"
    assert namespace(None, {"OS_AUTH_URL": "http://h/v3/"})["identity_url"] == "http://h/v3"


def test_a_clouds_yaml_mapping_reaches_templates_as_plain_data(srv, tmp_path):
    """clouds.yaml is read with positions (for its messages); ``os.*`` holds the values only."""
    (tmp_path / "clouds.yaml").write_text(
        "clouds:\n  c:\n    region_name: R\n    extra: {team: a}\n", encoding="utf-8"
    )
    spec = write_spec(
        tmp_path,
        f"""
        steps:
          - name: send
            request:
              method: POST
              url: {srv.url}/echo
              json:
                team: "{{{{ os.extra.team }}}}"
                where: "{{{{ os.extra.position | default('none') }}}}"
        """,
    )
    result = run_process("--os-cloud", "c", str(spec), cwd=tmp_path)
    assert result.code == 0, result.text
    assert srv.app.last.json() == {"team": "a", "where": "none"}
