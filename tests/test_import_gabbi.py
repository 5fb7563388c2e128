"""apirun import gabbi: each gabbi feature converted, and the converted spec run in-process
against tests/app.py — the behaviour is asserted (which steps pass, fail, what was sent),
not the YAML text."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from helpers import run_cli

from runner import RunOptions, load_file, run_spec
from runner.results import Outcome
from runner.wire import in_process
from runner.wsgi import parse_target

P, F, E, S = Outcome.PASSED, Outcome.FAILED, Outcome.ERROR, Outcome.SKIPPED


def convert(capsys, tmp_path: Path, gabbi: str, *args: str, name: str = "t.yaml") -> Path:
    source = tmp_path / "gabbits"
    source.mkdir(exist_ok=True)
    (source / name).write_text(textwrap.dedent(gabbi).lstrip())
    result = run_cli(
        capsys, "import", "gabbi", str(source / name), "-o", str(tmp_path / "out"), *args
    )
    assert result.code == 0, result.text
    return tmp_path / "out" / name


def run(path: Path):
    options = RunOptions(transport=in_process(parse_target("tests.app:make_app()")))
    return run_spec(load_file(path), options)


def outcomes(path: Path) -> list[Outcome]:
    return [step.outcome for step in run(path).steps]


def test_status_200_is_expected_by_default_and_a_failure_does_not_stop_the_file(capsys, tmp_path):
    spec = convert(
        capsys,
        tmp_path,
        """
        tests:
        - name: ok
          GET: /status/200
        - name: not 200
          GET: /status/201
        - name: alternatives
          GET: /status/404
          status: 200 || 404
        - name: still runs
          url: /status/200
          method: GET
        """,
    )
    assert outcomes(spec) == [P, F, P, P]


def test_redirects_are_not_followed_unless_asked(capsys, tmp_path):
    spec = convert(
        capsys,
        tmp_path,
        """
        tests:
        - name: not followed
          GET: /redirect/1
          status: 302
        - name: followed
          GET: /redirect/2
          redirects: true
          response_json_paths:
            $.PATH_INFO: /echo
        """,
    )
    assert outcomes(spec) == [P, P]


def test_response_replacers_become_captures_of_the_steps_they_name(capsys, tmp_path):
    spec = convert(
        capsys,
        tmp_path,
        """
        tests:
        - name: create
          POST: /items
          request_headers: {content-type: application/json}
          data: {name: first}
          status: 201
        - name: location of the prior
          GET: $LOCATION
          response_json_paths:
            $.name: first
        - name: create another
          POST: /items
          request_headers: {content-type: application/json}
          data:
            name: $HISTORY['create'].$RESPONSE['$.name']-copy
            size: 2
          status: 201
        - name: response of a named test, typed
          PUT: /items/$HISTORY['create'].$RESPONSE['$.id']
          request_headers: {content-type: application/json}
          data:
            name: renamed
            size: $RESPONSE['$.size']
          response_json_paths:
            $.size: 2
            $.id: $HISTORY['create'].$RESPONSE['$.id']
        - name: header of a named test
          GET: $HISTORY['create'].$HEADERS['location']
          response_json_paths:
            $.name: renamed
        - name: the URL of the prior test
          GET: $LAST_URL
          response_json_paths:
            $.name: renamed
        - name: the URL of a named test
          GET: $HISTORY['location of the prior'].$URL
        """,
    )
    assert outcomes(spec) == [P] * 7
    text = spec.read_text()
    assert "t1_location1" in text and "t1_response" in text  # named captures on step 1


def test_environ_scheme_and_netloc(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ITEM_NAME", "from-env")
    spec = convert(
        capsys,
        tmp_path,
        """
        tests:
        - name: environ everywhere
          POST: /echo?who=$ENVIRON['ITEM_NAME']
          request_headers:
            x-item: $ENVIRON['ITEM_NAME']
            x-origin: $SCHEME://$NETLOC
          data: plain $ENVIRON['ITEM_NAME']
          response_json_paths:
            $.query.who[0]: from-env
            $.headers.x-item: from-env
            $.headers.x-origin: http://gabbi.test
            $.body: plain from-env
        """,
    )
    assert outcomes(spec) == [P]


def test_environ_as_a_whole_value_is_typed_as_gabbi_types_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SIZE", "3")
    monkeypatch.setenv("FLAG", "true")
    monkeypatch.setenv("WORD", "three")
    spec = convert(
        capsys,
        tmp_path,
        """
        tests:
        - name: create
          POST: /items
          request_headers: {content-type: application/json}
          data:
            name: $ENVIRON['WORD']
            size: $ENVIRON['SIZE']
            flag: $ENVIRON['FLAG']
            text: size $ENVIRON['SIZE']
          status: 201
          response_json_paths:
            $.size: $ENVIRON['SIZE']
            $.flag: true
            $.name: three
            $.text: size 3
        """,
    )
    assert outcomes(spec) == [P]
    created = run(spec).steps[0].response.json()
    assert created["size"] == 3 and created["flag"] is True


def test_cookie_replacer(capsys, tmp_path):
    spec = convert(
        capsys,
        tmp_path,
        """
        tests:
        - name: login
          POST: /login
          status: 303
        - name: send it back by hand
          GET: /echo
          request_headers: {x-cookie: $COOKIE}
          response_json_paths:
            $.headers.x-cookie: session=s3cr3t, theme=dark
        """,
    )
    assert outcomes(spec) == [P, P]


def test_response_json_paths_single_match_list_len_regex_and_files(capsys, tmp_path):
    (tmp_path / "gabbits").mkdir()
    (tmp_path / "gabbits" / "expected.json").write_text(json.dumps({"item": {"name": "w"}}))
    spec = convert(
        capsys,
        tmp_path,
        """
        tests:
        - name: create
          POST: /items
          request_headers: {content-type: application/json}
          data: {name: w, tags: [a, b]}
          status: 201
        - name: list
          GET: /items
          response_json_paths:
            $.items[*]: "1"
            $.items.`len`: 1
        - name: paths
          GET: /items/1
          response_json_paths:
            $.tags: [a, b]
            $.tags[*]: [a, b]
            $.name: /^w$/
            $.name.`len`: 1
            name: w
            $.id: <@expected.json:$.item.name
        """,
    )
    assert outcomes(spec) == [P, P, F]  # the last: $.id is "1", not "w"
    steps = run(spec).steps
    failed = [e for e in steps[2].expectations if not e.passed]
    assert [e.subject for e in failed] == ["jsonpath $.id"]


def test_json_paths_only_on_json_responses(capsys, tmp_path):
    spec = convert(
        capsys,
        tmp_path,
        """
        tests:
        - name: text is not JSON
          GET: /html
          response_json_paths:
            $.anything: 1
        """,
    )
    assert outcomes(spec) == [F]


def test_response_strings_headers_and_forbidden_headers(capsys, tmp_path):
    spec = convert(
        capsys,
        tmp_path,
        """
        tests:
        - name: all hold
          GET: /html
          response_strings:
            - héllo
            - /w.rld/
          response_headers:
            content-type: /^text/html/
            x-served-by: app-7
          response_forbidden_headers:
            - location
        - name: a forbidden header is there
          GET: /redirect/1
          status: 302
          response_forbidden_headers: [location]
        - name: a string is missing
          GET: /html
          response_strings: [absent]
        """,
    )
    assert outcomes(spec) == [P, F, F]


def test_query_parameters_data_files_and_desc(capsys, tmp_path):
    (tmp_path / "gabbits").mkdir()
    (tmp_path / "gabbits" / "body.txt").write_text("from a file")
    spec = convert(
        capsys,
        tmp_path,
        """
        tests:
        - name: query and data file
          desc: gabbi's desc becomes a comment
          POST: /echo?a=1
          query_parameters:
            b: [2, 3]
            flag: true
          request_headers: {content-type: text/plain}
          data: <@body.txt
          response_json_paths:
            $.QUERY_STRING: a=1&b=2&b=3&flag=True
            $.body: from a file
        """,
    )
    assert outcomes(spec) == [P]
    assert "# gabbi's desc becomes a comment" in spec.read_text()


def test_defaults_merge_into_every_test(capsys, tmp_path):
    spec = convert(
        capsys,
        tmp_path,
        """
        defaults:
          request_headers: {x-default: d, x-both: from-defaults}
          status: 200
          response_strings: ['"REQUEST_METHOD"']
        tests:
        - name: merged
          GET: /echo
          request_headers: {x-both: from-test}
          response_json_paths:
            $.headers.x-default: d
            $.headers.x-both: from-test
        - name: overridden status
          GET: /status/404
          status: 404
        """,
    )
    steps = run(spec).steps
    assert [s.outcome for s in steps] == [P, F]  # defaults' response_strings apply to both
    assert [e.subject for e in steps[1].expectations if not e.passed] == ["body"]


def test_skip_xfail_poll_ssl_and_use_prior_test_are_translated_or_reported(capsys, tmp_path):
    source = tmp_path / "gabbits"
    source.mkdir()
    (source / "t.yaml").write_text(
        textwrap.dedent(
            """
            tests:
            - name: skipped
              GET: /status/500
              skip: not today
            - name: polled
              GET: /status/200
              poll: {count: 3, delay: 0.01}
            - name: expected to fail
              GET: /status/500
              xfail: true
            - name: over tls
              GET: /echo
              ssl: true
              use_prior_test: false
              response_json_paths:
                $['wsgi.url_scheme']: https
            """
        )
    )
    result = run_cli(capsys, "import", "gabbi", str(source), "-o", str(tmp_path / "out"))
    assert result.code == 0, result.text
    assert "skip" not in result.err and "xfail" not in result.err  # translated: no notes
    assert "use_prior_test: false" in result.err
    spec = tmp_path / "out" / "t.yaml"
    # The app answers for https://gabbi.test too? Only base_url's origin is in-process, so
    # the TLS test runs with base_url https as gabbi's ssl: true does.
    steps = run(spec).steps
    assert [s.outcome for s in steps[:3]] == [S, P, Outcome.XFAIL]
    assert steps[0].skip_reason == "not today" and steps[0].request is None


def test_an_xfail_test_that_fails_is_an_expected_failure_and_one_that_passes_fails(
    capsys, tmp_path
):
    spec = convert(
        capsys,
        tmp_path,
        """
        tests:
        - name: known bug
          GET: /status/500
          xfail: true
        - name: wrong body
          GET: /echo
          xfail: true
          response_json_paths:
            $.REQUEST_METHOD: POST
        - name: runs after them
          GET: /status/200
        """,
    )
    result = run_cli(capsys, "--app", "tests.app:make_app()", str(spec))
    assert result.code == 0, result.text
    assert "1 passed, 0 failed, 0 skipped, 2 xfailed" in result.out
    assert "XFAIL  known bug" in result.out and "(expected failure)" in result.out
    fixed = convert(
        capsys,
        tmp_path,
        """
        tests:
        - name: fixed now
          GET: /status/200
          xfail: true
        - name: still runs
          GET: /status/200
        """,
        name="fixed.yaml",
    )
    result = run_cli(capsys, "--app", "tests.app:make_app()", str(fixed))
    assert result.code == 1
    assert "XPASS  fixed now" in result.out and "(unexpectedly passed)" in result.out
    assert "1 passed, 1 failed, 0 skipped" in result.out  # the file went on, as under gabbi


def test_a_skip_that_is_a_replacer_decides_when_the_test_runs(capsys, tmp_path, monkeypatch):
    spec = convert(
        capsys,
        tmp_path,
        """
        tests:
        - name: maybe
          GET: /status/200
          skip: $ENVIRON['SKIP_MAYBE']
        """,
    )
    monkeypatch.setenv("SKIP_MAYBE", "")
    assert outcomes(spec) == [P]  # gabbi: an empty reason does not skip
    monkeypatch.setenv("SKIP_MAYBE", "the backend is down")
    assert outcomes(spec) == [S]


def test_fixtures_need_a_module_and_then_run(capsys, tmp_path, monkeypatch):
    log = tmp_path / "fixtures.log"
    log.write_text("")
    monkeypatch.setenv("APIRUN_FIXTURE_LOG", str(log))
    gabbi = """
        fixtures: [Token]
        tests:
        - name: the fixture's environment
          POST: /items
          request_headers: {content-type: application/json}
          data:
            name: $ENVIRON['FIXTURE_ITEM_NAME']
          status: 201
        """
    spec = convert(capsys, tmp_path, gabbi, "--fixture-module", "tests.fixture_classes")
    assert outcomes(spec) == [P]
    assert log.read_text().split("\n")[:-1] == ["start Token", "stop Token clean"]


def test_converted_files_pass_check_and_duplicate_names_are_renamed(capsys, tmp_path):
    spec = convert(
        capsys,
        tmp_path,
        """
        tests:
        - name: same
          GET: /status/200
        - name: same
          GET: /status/200
        """,
    )
    checked = run_cli(capsys, "check", str(spec))
    assert checked.code == 0, checked.text
    assert [s.name for s in run(spec).steps] == ["same", "same (2)"]


def test_nothing_is_written_on_error_and_nothing_is_overwritten(capsys, tmp_path):
    source = tmp_path / "gabbits"
    source.mkdir()
    (source / "a.yaml").write_text("tests:\n- name: fine\n  GET: /status/200\n")
    (source / "b.yaml").write_text("not: a gabbi file\n")
    out = tmp_path / "out"
    broken = run_cli(capsys, "import", "gabbi", str(source), "-o", str(out))
    assert broken.code == 2
    assert "b.yaml: not a gabbi file" in broken.err and "nothing was written" in broken.err
    assert not out.exists()  # a.yaml converted fine, but nothing partial is written
    (source / "b.yaml").unlink()
    assert run_cli(capsys, "import", "gabbi", str(source), "-o", str(out)).code == 0
    (out / "a.yaml").write_text("mine")
    again = run_cli(capsys, "import", "gabbi", str(source), "-o", str(out))
    assert again.code == 2 and "exists: add --force" in again.err
    assert (out / "a.yaml").read_text() == "mine"
    forced = run_cli(capsys, "import", "gabbi", str(source), "-o", str(out), "--force")
    assert forced.code == 0
    assert "steps:" in (out / "a.yaml").read_text()


@pytest.mark.parametrize("reference", ["$RESPONSE['$.x']", "$LOCATION"])
def test_a_replacer_in_the_first_test_is_reported(capsys, tmp_path, reference):
    source = tmp_path / "gabbits"
    source.mkdir()
    (source / "t.yaml").write_text(f"tests:\n- name: first\n  GET: /echo?x={reference}\n")
    result = run_cli(capsys, "import", "gabbi", str(source), "-o", str(tmp_path / "out"))
    assert result.code == 0, result.text
    assert "test 'first':" in result.err and "refers to no earlier test" in result.err
