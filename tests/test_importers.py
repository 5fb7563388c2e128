"""``apirun import curl|har|postman``: the specs made run against real local servers."""

from __future__ import annotations

import base64
import json

import requests
from helpers import run_cli

KEYSTONE_REFERENCE = """
curl -i \\
  -H "Content-Type: application/json" \\
  -d '
{ "auth": {
    "identity": {
      "methods": ["password"],
      "password": {
        "user": {
          "name": "admin",
          "domain": { "name": "demo" },
          "password": "000000"
        }
      }
    }
  }
}' \\
  "BASE/v3/auth/tokens" ; echo

curl -s \\
 -H "X-Auth-Token: $OS_TOKEN" \\
 "BASE/v3/users?enabled=true" | python -mjson.tool
"""


def _import(capsys, tmp_path, *args):
    out = tmp_path / "imported.yaml"
    result = run_cli(capsys, "import", *args, "-o", str(out))
    return result, out


def test_curl_lines_from_the_keystone_reference_run(srv, capsys, tmp_path, monkeypatch):
    result, out = _import(capsys, tmp_path, "curl", KEYSTONE_REFERENCE.replace("BASE", srv.url))
    assert result.code == 0, result.text
    text = out.read_text()
    assert "not a curl command, left out: python -mjson.tool" in result.err
    assert "X-Auth-Token: '{{ env.OS_TOKEN }}'" in text
    assert "password: '{{ password }}'" in text  # the recorded password is a secret variable
    assert run_cli(capsys, "check", str(out)).code == 0
    token = requests.post(
        f"{srv.url}/v3/auth/tokens",
        json={"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"name": "demo"}, "password": "000000"}}}}},
        timeout=10,
    ).headers["X-Subject-Token"]  # fmt: skip
    monkeypatch.setenv("OS_TOKEN", token)
    srv.app.requests.clear()
    run = run_cli(capsys, str(out))
    assert run.code == 0, run.text
    login, users = srv.app.requests
    assert login.json()["auth"]["identity"]["password"]["user"]["password"] == "000000"
    assert users.query == {"enabled": ["true"]} and users.headers["x-auth-token"] == token
    assert "000000" not in run.out


def test_curl_flags(srv, capsys, tmp_path):
    (tmp_path / "up.txt").write_text("file body")
    line = (
        f"curl -k -u bob:pw -b 'c=1' -A agent -G -d a=1 -d b=2 --frobnicate {srv.url}/echo/g; "
        f"curl --json '{{\"n\": 1}}' {srv.url}/echo/j && "
        f"curl -X PUT -F name=ada -F up=@{tmp_path}/up.txt {srv.url}/echo/f"
    )
    result, out = _import(capsys, tmp_path, "curl", line)
    assert result.code == 0, result.text
    assert "command 1: unsupported flag --frobnicate, left out" in result.err
    assert "verify: false" in out.read_text()
    srv.app.requests.clear()
    run = run_cli(capsys, str(out))
    assert run.code == 0, run.text
    get, post, put = srv.app.requests
    assert get.method == "GET" and get.query == {"a": ["1"], "b": ["2"]}
    assert get.headers["authorization"] == "Basic " + base64.b64encode(b"bob:pw").decode()
    assert get.headers["cookie"] == "c=1" and get.headers["user-agent"] == "agent"
    assert post.method == "POST" and json.loads(post.body) == {"n": 1}
    assert post.headers["accept"] == "application/json"
    assert put.method == "PUT" and b"file body" in put.body and b'name="name"' in put.body


def _har_from(srv) -> dict:
    """A HAR 1.2 log of real traffic with the test server (what a proxy would record)."""
    session = requests.Session()
    session.trust_env = False
    login = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"name": "demo"}, "password": "000000"}}}}}  # fmt: skip
    answers = [
        session.post(f"{srv.url}/v3/auth/tokens", json=login, timeout=10),
    ]
    token = answers[0].headers["X-Subject-Token"]
    answers.append(session.get(f"{srv.url}/v3/users?name=admin", headers={"X-Auth-Token": token}))
    answers.append(session.post(f"{srv.url}/echo/form", data={"a": "1 2"}, timeout=10))
    answers.append(session.get(f"{srv.url}/status/404", timeout=10))
    entries = []
    for answer in answers:
        sent = answer.request
        body = sent.body.decode() if isinstance(sent.body, bytes) else sent.body
        entry = {
            "request": {
                "method": sent.method,
                "url": sent.url,
                "httpVersion": "HTTP/1.1",
                "headers": [{"name": k, "value": v} for k, v in sent.headers.items()],
                "queryString": [],
            },
            "response": {
                "status": answer.status_code,
                "headers": [{"name": k, "value": v} for k, v in answer.headers.items()],
            },
        }
        if body:
            entry["request"]["postData"] = {
                "mimeType": sent.headers.get("Content-Type", ""),
                "text": body,
            }
        entries.append(entry)
    return {"log": {"version": "1.2", "creator": {"name": "test"}, "entries": entries}}


def test_a_har_of_real_traffic_runs_again(srv, capsys, tmp_path):
    har = tmp_path / "session.har"
    har.write_text(json.dumps(_har_from(srv)))
    result, out = _import(capsys, tmp_path, "har", str(har))
    assert result.code == 0, result.text
    text = out.read_text()
    assert "token: {header: X-Subject-Token}" in text or "header: X-Subject-Token" in text
    assert "X-Auth-Token: '{{ token }}'" in text  # a capture, not the recorded token
    assert "status: 404" in text and "password: '{{ password }}'" in text
    srv.app.reset()  # recorded tokens are no longer valid: the spec logs in afresh
    run = run_cli(capsys, str(out))
    assert run.code == 0, run.text
    assert [r.path for r in srv.app.requests] == [
        "/v3/auth/tokens",
        "/v3/users",
        "/echo/form",
        "/status/404",
    ]
    assert srv.app.requests[2].text == "a=1+2"


def test_har_filters(srv, capsys, tmp_path):
    har = tmp_path / "session.har"
    har.write_text(json.dumps(_har_from(srv)))
    result = run_cli(capsys, "import", "har", str(har), "--url-pattern", "/echo/")
    assert result.code == 0, result.text
    assert "/echo/form" in result.out and "/v3/users" not in result.out
    result = run_cli(capsys, "import", "har", str(har), "--host", "127.0.0.2:1")
    assert result.code == 2 and "no request found" in result.err


COLLECTION = {
    "info": {
        "name": "Demo API",
        "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
    },
    "variable": [{"key": "base-url", "value": "BASE"}, {"key": "token", "value": "tok-123"}],
    "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "{{token}}"}]},
    "item": [
        {
            "name": "users",
            "variable": [{"key": "user", "value": "ada"}],
            "item": [
                {
                    "name": "create user",
                    "event": [
                        {
                            "listen": "test",
                            "script": {"exec": ['pm.test("status is 201", function () {', "});"]},
                        }
                    ],
                    "request": {
                        "method": "POST",
                        "header": [{"key": "X-Trace", "value": "{{$guid}}"}],
                        "url": {"raw": "{{base-url}}/echo/users?x={{user}}"},
                        "body": {
                            "mode": "raw",
                            "raw": '{"name": "{{user}}", "n": 1}',
                            "options": {"raw": {"language": "json"}},
                        },
                    },
                },
                {
                    "name": "login form",
                    "request": {
                        "method": "POST",
                        "auth": {
                            "type": "basic",
                            "basic": [
                                {"key": "username", "value": "bob"},
                                {"key": "password", "value": "pw"},
                            ],
                        },
                        "url": "{{base-url}}/echo/login",
                        "body": {
                            "mode": "urlencoded",
                            "urlencoded": [{"key": "who", "value": "{{user}}"}],
                        },
                    },
                },
            ],
        },
        {
            "name": "upload",
            "request": {
                "method": "PUT",
                "auth": {
                    "type": "apikey",
                    "apikey": [
                        {"key": "key", "value": "X-Api-Key"},
                        {"key": "value", "value": "k-secret"},
                        {"key": "in", "value": "header"},
                    ],
                },
                "url": "{{base-url}}/echo/upload",
                "body": {
                    "mode": "formdata",
                    "formdata": [
                        {"key": "note", "value": "hi", "type": "text"},
                        {"key": "doc", "type": "file", "src": "DOC"},
                    ],
                },
            },
        },
    ],
}


def test_a_postman_collection_with_folders_variables_and_auth_runs(srv, capsys, tmp_path):
    doc = tmp_path / "doc.txt"
    doc.write_text("document")
    collection = json.loads(
        json.dumps(COLLECTION).replace("BASE", srv.url).replace("DOC", str(doc))
    )
    source = tmp_path / "demo.postman_collection.json"
    source.write_text(json.dumps(collection))
    result, out = _import(capsys, tmp_path, "postman", str(source))
    assert result.code == 0, result.text
    text = out.read_text()
    assert "pm.test 'status is 201' in request 'users › create user' not translated" in text
    assert "pm.test 'status is 201'" in result.err
    assert "base_url:" in text and "{{ base_url }}/echo/users" in text
    srv.app.requests.clear()
    run = run_cli(capsys, str(out))
    assert run.code == 0, run.text
    create, login, upload = srv.app.requests
    assert create.json() == {"name": "ada", "n": 1} and create.query == {"x": ["ada"]}
    assert create.headers["authorization"] == "Bearer tok-123"
    assert len(create.headers["x-trace"]) == 32  # {{$guid}}: a fresh uuid
    assert login.headers["authorization"] == "Basic " + base64.b64encode(b"bob:pw").decode()
    assert login.text == "who=ada"
    assert upload.headers["x-api-key"] == "k-secret"
    assert b"document" in upload.body and b'name="note"' in upload.body
    assert "k-secret" not in run.out and "tok-123" not in run.out


def test_refuses_to_overwrite_and_writes_nothing_on_error(capsys, tmp_path):
    out = tmp_path / "spec.yaml"
    out.write_text("mine")
    line = "curl http://127.0.0.1:9/x"
    result = run_cli(capsys, "import", "curl", line, "-o", str(out))
    assert result.code == 2 and "exists: add --force" in result.err
    assert out.read_text() == "mine"
    assert run_cli(capsys, "import", "curl", line, "-o", str(out), "--force").code == 0
    assert "url: /x" in out.read_text()
    bad = tmp_path / "bad.yaml"
    result = run_cli(capsys, "import", "curl", "curl -d 'unclosed http://x", "-o", str(bad))
    assert result.code == 2 and "cannot import" in result.err and not bad.exists()
    broken = tmp_path / "broken.har"
    broken.write_text('{"log": ')
    result = run_cli(capsys, "import", "har", str(broken), "-o", str(bad))
    assert result.code == 2 and "not JSON" in result.err and not bad.exists()
