"""Data-driven loops (``loop: {file: ...}``), the secret marker and the template helpers,
each run by the real command against the test server, which says what it received."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import uuid

import pytest

try:
    from .helpers import assert_points, line_of, run_cli, write_spec
except ImportError:  # tests/ is a plain directory
    from helpers import assert_points, line_of, run_cli, write_spec

LOOP = """
base_url: "{base}"
steps:
  - name: each row
    loop: {file: LOOP_FILE}
    request:
      method: POST
      url: /echo
      json: {name: "{{ item.name }}", role: "{{ item.role }}", at: "{{ index }}"}
"""


def test_a_csv_file_drives_one_request_per_row(srv, tmp_path, capsys):
    (tmp_path / "users.csv").write_text('name,role\nada,reader\ngrace,"member, admin"\n')
    path = write_spec(tmp_path, LOOP.replace("LOOP_FILE", "users.csv"), base=srv.url)
    result = run_cli(capsys, str(path))
    assert result.code == 0, result.text
    sent = [r.json() for r in srv.app.requests]
    assert sent == [
        {"name": "ada", "role": "reader", "at": 0},
        {"name": "grace", "role": "member, admin", "at": 1},
    ]
    assert re.search(r"PASS\s+each row \[1\]", result.out)


def test_a_json_file_drives_one_request_per_item(srv, tmp_path, capsys):
    rows = [{"name": "ada", "role": 1}, {"name": "linus", "role": None}]
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    path = write_spec(tmp_path, LOOP.replace("LOOP_FILE", "rows.json"), base=srv.url)
    result = run_cli(capsys, str(path))
    assert result.code == 0, result.text
    assert [r.json()["role"] for r in srv.app.requests] == [1, None]  # JSON keeps its types


@pytest.mark.parametrize(
    ("files", "loop", "says"),
    [
        pytest.param({}, "{file: nope.csv}", "no file nope.csv", id="missing"),
        pytest.param(
            {"bad.csv": "name,role\nada,reader,extra\n"},
            "{file: bad.csv}",
            "bad.csv:2: this row has more fields than the header (name, role)",
            id="ragged-row",
        ),
        pytest.param(
            {"obj.json": '{"name": "ada"}'},
            "{file: obj.json}",
            "a JSON loop file holds a list, found dict",
            id="json-not-a-list",
        ),
        pytest.param(
            {"broken.json": '[{"name": }]'}, "{file: broken.json}", "not JSON", id="not-json"
        ),
        pytest.param({}, "{fil: users.csv}", "unknown key 'fil'", id="unknown-key"),
        pytest.param(
            {"users.csv": "nmae,role\nada,reader\n"},
            "{file: users.csv}",
            "the loop's rows have no key 'name' in '{{ item.name }}' — did you mean 'nmae'?",
            id="key-not-in-the-header",
        ),
    ],
)
def test_a_bad_loop_file_is_a_spec_error_before_anything_is_sent(
    srv, tmp_path, capsys, files, loop, says
):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    path = write_spec(tmp_path, LOOP.replace("{file: LOOP_FILE}", loop), base=srv.url)
    result = run_cli(capsys, "check", str(path))
    assert result.code == 2, result.text
    assert says in result.err, result.err
    assert "Traceback" not in result.text
    assert_points(result.err, path, line_of(path, "loop:" if "item" not in says else "item.name"))
    assert run_cli(capsys, str(path)).code == 2
    assert srv.app.requests == []


def test_the_secret_marker_masks_a_variable_and_a_capture_whatever_their_names(
    srv, tmp_path, capsys
):
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        vars:
          greeting: {secret: "MarkedVariable42"}
        steps:
          - name: get one
            request: {url: "/headers?X-Plain=MarkedCapture42"}
            capture:
              plain: {header: X-Plain, secret: true}
          - name: use both
            request:
              method: POST
              url: /echo
              json: {a: "{{ greeting }}", b: "{{ plain }}"}
            expect: {status: 299}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, "-v", str(path))
    assert result.code == 1
    assert srv.app.last.json() == {"a": "MarkedVariable42", "b": "MarkedCapture42"}
    assert "MarkedVariable42" not in result.text
    assert "MarkedCapture42" not in result.out.split("use both", 1)[1]  # from then on
    assert '"a": "***"' in result.out


def test_a_secret_marker_that_is_not_a_boolean_is_a_spec_error(srv, tmp_path, capsys):
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: get one
            request: {url: /json}
            capture:
              plain: {jsonpath: $.token, secret: "yes"}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, "check", str(path))
    assert result.code == 2
    assert "'secret' must be true or false" in result.err
    assert_points(result.err, path, line_of(path, "secret:"))


def test_what_the_setup_found_secret_stays_masked_in_every_file(srv, tmp_path, capsys):
    setup = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: login
            request: {url: "/headers?X-Subject-Token=Fr0mTheSetupT0ken"}
            capture: {sid: {header: X-Subject-Token}}
        """,
        name="setup.yaml",
        base=srv.url,
    )
    spec = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: use it in a query
            request: {url: "/echo?s={{ sid }}"}
            expect: {status: 299}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, "-v", "--setup", str(setup), str(spec))
    assert result.code == 1
    assert srv.app.last.query == {"s": ["Fr0mTheSetupT0ken"]}
    assert "Fr0mTheSetupT0ken" not in result.text


def test_the_template_helpers(srv, tmp_path, capsys):
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: helpers
            request:
              method: POST
              url: /echo
              params: {q: "{{ {'a b': 1, 'c': '&'} | urlencode }}"}
              json:
                now: "{{ now() }}"
                ago: "{{ now(minutes=-5).isoformat() }}"
                day: "{{ now() | strftime('%Y-%m-%d') }}"
                text: "at {{ now(days=1) }}"
                u4: "{{ uuid4() }}"
                u: "{{ uuid() }}"
                sha: "{{ 'abc' | sha256 }}"
                md5: "{{ 'abc' | md5 }}"
                enc: "{{ 'a b/c' | urlencode }}"
                re: "{{ 'a.b*c' | regex_escape }}"
                tj: "{{ {'x': '<a>'} | tojson }}"
                fj: "{{ '{\\"y\\": [1, 2]}' | fromjson }}"
                b64: "{{ 'hi' | b64encode }}"
            expect:
              jsonpath:
                $.json.re: {matches: "^a\\\\\\\\.b"}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(path))
    assert result.code == 0, result.text
    sent = srv.app.last.json()
    now = dt.datetime.now(dt.UTC)
    stamp = dt.datetime.fromisoformat(sent["now"])
    assert stamp.tzinfo is not None and abs((now - stamp).total_seconds()) < 60
    ago = now - dt.datetime.fromisoformat(sent["ago"])
    assert 240 < ago.total_seconds() < 360
    assert sent["day"] == now.strftime("%Y-%m-%d") or sent["day"] < now.strftime("%Y-%m-%d")
    assert sent["text"].startswith("at ") and "T" in sent["text"] and "+00:00" in sent["text"]
    assert str(uuid.UUID(sent["u4"])) == sent["u4"]  # canonical dashed form
    assert re.fullmatch(r"[0-9a-f]{32}", sent["u"])
    assert sent["sha"] == hashlib.sha256(b"abc").hexdigest()
    assert sent["md5"] == hashlib.md5(b"abc").hexdigest()
    assert sent["enc"] == "a%20b%2Fc"
    assert sent["re"] == re.escape("a.b*c")
    assert sent["tj"] == '{"x": "<a>"}'  # plain JSON, not HTML-escaped
    assert sent["fj"] == {"y": [1, 2]}
    assert base64.b64decode(sent["b64"]) == b"hi"
    assert srv.app.last.query == {"q": ["a+b=1&c=%26"]}


def test_a_wrong_helper_argument_is_a_step_error_naming_it(srv, tmp_path, capsys):
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: bad offset
            request: {url: "/echo?t={{ now(weeks_ago=1) }}"}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(path))
    assert result.code == 2, result.text
    assert "now():" in result.text and "days=, hours=" in result.text
    assert "Traceback" not in result.text
    assert srv.app.requests == []
