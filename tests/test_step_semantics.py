"""Step semantics that decide a verdict: typed templates, null bodies, values only the
response can give, ``when`` in loops, ``until`` errors, re-captured names, ``env``.

Each test runs the real command against the test server and asserts what arrived there.
"""

from __future__ import annotations

from helpers import run_cli, write_spec


def echoed(srv) -> list:
    return [r for r in srv.app.requests if r.path.startswith("/echo")]


# -- typed rendering ---------------------------------------------------------------------------


def test_one_expression_with_braces_inside_is_sent_as_an_object(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: nested literal
            request:
              method: POST
              url: /echo
              json: "{{ {'a': {'b': 1}} }}"
          - name: nested inside a body
            request:
              method: POST
              url: /echo
              json: {outer: "{{ {'list': [{'x': 1}]} }}"}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 0, result.text
    first, second = echoed(srv)
    assert first.json() == {"a": {"b": 1}}
    assert second.json() == {"outer": {"list": [{"x": 1}]}}


def test_two_expressions_side_by_side_stay_text(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: text
            request: {method: POST, url: /echo, json: {v: "{{ 1 }}{{ {'a': 2}['a'] }}"}}
        """,
        base=srv.url,
    )
    assert run_cli(capsys, str(spec)).code == 0
    assert echoed(srv)[0].json() == {"v": "12"}


def test_json_null_sends_null(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: literal null
            request: {method: PUT, url: /echo, json: null}
          - name: template giving none
            request: {method: PUT, url: /echo, json: "{{ none }}"}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 0, result.text
    for request in echoed(srv):
        assert request.body == b"null"
        assert request.headers["content-type"] == "application/json"


# -- values only the response can give ---------------------------------------------------------


def test_a_missing_response_field_fails_the_step_naming_the_path(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: first
            request: {url: /echo}
          - name: reads a field the response lacks
            request: {url: "/echo/{{ response.json.query.nope }}"}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 1, result.text  # a step failure, not a spec error
    assert "the response has nothing at $.query.nope" in result.out
    assert "undefined variable" not in result.out
    assert len(echoed(srv)) == 1


def test_a_missing_response_header_and_list_item_name_what_is_missing(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: first
            request: {url: /echo}
          - name: header
            continue_on_failure: true
            request: {url: "/echo/{{ response.headers['x-nope'] }}"}
          - name: item
            request: {url: /echo?a=1}
            expect:
              jsonpath: {$.method: "{{ response.json['query']['a'][3] }}"}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 1, result.text
    assert "the response has no header 'x-nope'" in result.out
    assert "the response has nothing at $.query.a[3]" in result.out


def test_a_missing_environment_variable_says_so_plainly(srv, capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("APIRUN_SURELY_UNSET", raising=False)
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: env
            request: {url: "/echo/{{ env['APIRUN_SURELY_UNSET'] }}"}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 2, result.text
    assert "environment variable 'APIRUN_SURELY_UNSET' is not set" in result.out
    assert "EnvironmentVariables" not in result.out
    assert echoed(srv) == []


# -- when in a loop ----------------------------------------------------------------------------


def test_when_is_evaluated_for_each_item(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: each
            loop: [a, b, c]
            when: "{{ item != 'b' }}"
            request: {url: "/echo/{{ item }}-{{ index }}"}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 0, result.text
    assert [r.path for r in echoed(srv)] == ["/echo/a-0", "/echo/c-2"]
    skipped = [line for line in result.out.splitlines() if "each [1]" in line]
    assert len(skipped) == 1 and "SKIP" in skipped[0]
    assert "when: {{ item != 'b' }} is false" in result.out


def test_when_without_item_guards_the_loop_expression(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: first
            request: {url: /echo}
          - name: guarded
            when: response.status == 500
            loop: "{{ response.json.items_that_are_not_there }}"
            request: {url: "/echo/{{ item }}"}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 0, result.text
    assert "when: response.status == 500 is false" in result.out
    assert len(echoed(srv)) == 1


# -- retry.until errors ------------------------------------------------------------------------


def test_an_until_that_fails_on_the_response_stops_at_the_first_attempt(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: poll
            request: {url: /echo}
            retry: {times: 5, delay: 0.01, until: "response.json.method > 5"}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 1, result.text
    assert len(echoed(srv)) == 1  # not retried: the expression itself is broken
    assert "TypeError" in result.out and "'>' not supported" in result.out
    assert "still false" not in result.out


def test_an_until_reading_a_missing_field_names_it_at_once(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: poll
            request: {url: /echo}
            retry: {times: 5, delay: 0.01, until: "response.json.stauts == 'ACTIVE'"}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 1, result.text
    assert len(echoed(srv)) == 1
    assert "the response has nothing at $.stauts" in result.out


# -- re-captured names -------------------------------------------------------------------------


def test_checks_see_the_value_from_before_the_steps_captures(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: first generation
            request: {url: /echo, params: {gen: 1}}
            capture: {gen: $.query.gen}
          - name: next generation
            request: {url: /echo, params: {gen: 2}}
            capture: {gen: $.query.gen}
            expect:
              jsonpath: {$.query.gen: {gt: "{{ gen }}"}}
          - name: later steps see the new value
            request: {url: "/echo/{{ gen }}"}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 0, result.text
    assert echoed(srv)[-1].path == "/echo/2"


# -- the static check: names that exist only in some places ------------------------------------


def check(capsys, spec) -> tuple[int, str]:
    result = run_cli(capsys, "check", str(spec))
    return result.code, result.text


def test_response_in_a_files_first_step_fails_the_check(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: first
            request: {url: "/echo/{{ response.status }}"}
            expect: {status: "{{ response.status }}"}
          - name: second
            request: {url: "/echo/{{ response.status }}"}
        """,
        base=srv.url,
    )
    code, text = check(capsys, spec)
    assert code == 2, text
    assert "undefined variable 'response'" in text
    assert "the first step of a file has no earlier response" in text
    assert text.count("undefined variable") == 1  # its own checks and the second step are fine
    assert run_cli(capsys, str(spec)).code == 2
    assert srv.app.requests == []


def test_item_outside_a_loop_fails_the_check(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: looped
            loop: [a]
            request: {url: "/echo/{{ item }}/{{ index }}"}
          - name: not looped
            request: {url: "/echo/{{ item }}"}
        """,
        base=srv.url,
    )
    code, text = check(capsys, spec)
    assert code == 2, text
    assert "undefined variable 'item'" in text and "exists only in a step with a loop" in text
    assert "step 'not looped'" in text and "step 'looped'" not in text


def test_a_misspelt_response_attribute_fails_the_check(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: poll
            request: {url: /echo}
            retry: {times: 3, delay: 0.01, until: "response.jsn.method == 'GET'"}
        """,
        base=srv.url,
    )
    code, text = check(capsys, spec)
    assert code == 2, text
    assert "'response' has no attribute 'jsn'" in text and "did you mean 'json'?" in text


def test_an_unknown_filter_inside_an_if_fails_the_check(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        vars: {flag: true, name: ada}
        steps:
          - name: conditional
            request: {url: "/echo/{{ name | uper if flag else name }}"}
          - name: in a block
            request: {url: "/echo/{% if flag %}{{ name | lowr }}{% endif %}"}
        """,
        base=srv.url,
    )
    code, text = check(capsys, spec)
    assert code == 2, text
    assert "unknown filter 'uper' (did you mean 'upper'?)" in text
    assert "unknown filter 'lowr' (did you mean 'lower'?)" in text


def test_step_selecting_a_step_that_reads_response_runs_the_step_before(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: unrelated
            request: {url: /echo/unrelated}
          - name: makes the response
            request: {url: /echo/first}
          - name: reads it
            request: {url: "/echo/after-{{ response.json.path | replace('/', '') }}"}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, "--step", "reads it", str(spec))
    assert result.code == 0, result.text
    assert [r.path for r in echoed(srv)] == ["/echo/first", "/echo/after-echofirst"]


# -- templated mapping keys --------------------------------------------------------------------


def test_templated_keys_in_bodies_headers_params_form_and_jsonpath(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        vars:
          rp_uuid: 4e8e5957-649f-477b-9e5b-f1f75b21c03c
          header: X-Trace
          field: colour
        steps:
          - name: allocation
            request:
              method: PUT
              url: /echo
              headers: {"{{ header }}": true, "X-{{ field }}": "{{ field }}"}
              params: {"{{ field }}": red, "p-{{ field }}": [a, b]}
              json:
                allocations:
                  "{{ rp_uuid }}": {resources: {VCPU: 1}}
            expect:
              jsonpath:
                $.json.allocations["{{ rp_uuid }}"].resources.VCPU: 1
                $.query.colour: red
          - name: form
            request: {method: POST, url: /echo, form: {"f-{{ field }}": blue}}
            expect:
              jsonpath: {'$.form["f-{{ field }}"]': blue}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 0, result.text
    allocation, form = echoed(srv)
    uuid = "4e8e5957-649f-477b-9e5b-f1f75b21c03c"
    assert allocation.json() == {"allocations": {uuid: {"resources": {"VCPU": 1}}}}
    assert allocation.headers["x-trace"] == "true" and allocation.headers["x-colour"] == "colour"
    assert allocation.query == {"colour": ["red"], "p-colour": ["a", "b"]}
    assert form.text == "f-colour=blue"


def test_a_templated_jsonpath_key_that_does_not_match_fails(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        vars: {rp_uuid: abc}
        steps:
          - name: allocation
            request: {method: PUT, url: /echo, json: {"{{ rp_uuid }}": 1}}
            expect:
              jsonpath: {'$.json["{{ rp_uuid }}x"]': 1}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 1, result.text
    assert "abcx" in result.out


def test_the_check_covers_variables_in_keys(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        vars: {rp_uuid: abc}
        steps:
          - name: allocation
            request:
              method: PUT
              url: /echo
              headers: {"{{ hedaer }}": x}
              json: {"{{ rp_uid }}": 1}
            expect:
              jsonpath: {'$.json["{{ rp_uuuid }}"]': 1}
        """,
        base=srv.url,
    )
    code, text = check(capsys, spec)
    assert code == 2, text
    for name in ("hedaer", "rp_uid", "rp_uuuid"):
        assert f"undefined variable '{name}'" in text
    assert "did you mean 'rp_uuid'?" in text


def test_a_null_header_leaves_a_default_header_out(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        defaults:
          headers: {X-Auth-Token: secret-token-value, X-Keep: kept}
        steps:
          - name: with the default
            request: {url: /echo/with}
          - name: without it
            request: {url: /echo/without, headers: {x-auth-token: null}}
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 0, result.text
    with_default, without = echoed(srv)
    assert with_default.headers["x-auth-token"] == "secret-token-value"
    assert "x-auth-token" not in without.headers
    assert without.headers["x-keep"] == "kept"


# -- bounded templates -------------------------------------------------------------------------


def one_body_spec(tmp_path, srv, template: str):
    return write_spec(
        tmp_path,
        f"""
        base_url: {srv.url}
        steps:
          - name: body
            request: {{method: POST, url: /echo, json: {{x: "{template}"}}}}
        """,
    )


def test_constant_blowups_are_found_by_the_check(srv, capsys, tmp_path):
    for template, message in [
        ("{{ 'a' * 10**9 }}", "more than the 1,000,000 a template may build"),
        ("{{ 9**99999999 }}", "9 ** 99999999 has more than the 1,000 digits"),
        ("{{ 10**5000 }}", "10 ** 5000 has more than the 1,000 digits"),
    ]:
        spec = one_body_spec(tmp_path, srv, template)
        code, text = check(capsys, spec)
        assert code == 2, text
        assert message in text and "Traceback" not in text
    assert echoed(srv) == []


def test_blowups_from_variables_and_nested_ranges_stop_at_run_time(srv, capsys, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        vars: {n: 1000000000, big: 100000}
        steps:
          - name: repeat
            continue_on_failure: true
            request: {method: POST, url: /echo, json: {x: "{{ 'a' * n }}"}}
          - name: nested
            request:
              method: POST
              url: /echo
              data: "{% for i in range(big) %}{% for j in range(big) %}{% endfor %}{% endfor %}"
        """,
        base=srv.url,
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 2, result.text
    assert "more than the 1,000,000 a template may build" in result.out
    assert "a template may iterate 1,000,000 times in all" in result.out
    assert "Traceback" not in result.text
    assert echoed(srv) == []


def test_values_that_are_not_json_give_one_line(srv, capsys, tmp_path):
    result = run_cli(capsys, str(one_body_spec(tmp_path, srv, "{{ range(3) }}")))
    assert result.code == 0, result.text
    assert echoed(srv)[0].json() == {"x": [0, 1, 2]}
    result = run_cli(capsys, str(one_body_spec(tmp_path, srv, "{{ env }}")))
    assert result.code == 2, result.text
    assert "'env' is not a value: read one variable, env.NAME" in result.out
    assert "Traceback" not in result.text
    assert len(echoed(srv)) == 1
