"""The static variable check (runner/checker.py): what it must find, and what it must leave
alone, since a false alarm would stop a good spec from running at all.

The broken-spec table (test_spec_errors.py) drives the finds through the real command; here
are the templates it must accept, the API, and the command-line variables it knows of.
"""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

try:
    from .helpers import assert_points, line_of, run_cli, write_spec
except ImportError:  # tests/ is a plain directory
    from helpers import assert_points, line_of, run_cli, write_spec

from runner import SpecError, check_spec, load_text


def problems(text: str, given: tuple[str, ...] = ()) -> list[str]:
    spec = load_text(text, "spec.yaml")
    return [d.message for d in check_spec(spec, given)]


def one_step(template: str, vars_: str = "{}") -> str:
    return (
        f"vars: {vars_}\n"
        "steps:\n"
        "  - name: a\n"
        "    request:\n"
        "      url: http://127.0.0.1:9/x\n"
        f"      data: {template!r}\n"
    )


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("{{ token }}", id="a-variable"),
        pytest.param("{{ token.id }} {{ token['x'] }}", id="attributes-and-items"),
        pytest.param("{{ env.HOME }} {{ os.auth_url | default('') }}", id="env-and-os"),
        pytest.param("{{ uuid() }} {{ range(3) | list }} {{ dict(a=1) }}", id="jinja-globals"),
        pytest.param("{{ maybe | default('x') }}", id="default"),
        pytest.param("{{ maybe | d('x') }}", id="default-short-name"),
        pytest.param("{{ maybe | default(other) | default('x') }}", id="chained-defaults"),
        pytest.param("{% if maybe is defined %}{{ maybe }}{% endif %}", id="is-defined"),
        pytest.param("{{ 'no' if maybe is undefined else maybe }}", id="is-undefined"),
        pytest.param("{% set x = token ~ '!' %}{{ x }}", id="set"),
        pytest.param("{% for u in token %}{{ loop.index }}:{{ u }}{% endfor %}", id="for-loop"),
        pytest.param(
            "{% macro m(a) %}{{ a }}{{ caller() }}{% endmacro %}{% call m(1) %}x{% endcall %}",
            id="macro-and-call",
        ),
        pytest.param("{{ (token ~ ':' ~ token) | b64encode }}", id="filters"),
        pytest.param("{# {{ nothing }} #}plain", id="comment"),
        pytest.param("{{ [1, 2] | map('string') | join(',') }}", id="literals"),
    ],
)
def test_templates_that_only_use_defined_names_pass(template):
    assert problems(one_step(template, "{token: abc}")) == []


@pytest.mark.parametrize(
    ("template", "missing"),
    [
        pytest.param("{{ tokn }}", "tokn", id="plain"),
        pytest.param("a {{ tokn }} b", "tokn", id="in-text"),
        pytest.param("{{ tokn.id }}", "tokn", id="attribute"),
        pytest.param("{{ tokn | upper }}", "tokn", id="filter"),
        pytest.param("{{ token | default(tokn) }}", "tokn", id="default-argument"),
        pytest.param("{{ tokn is string }}", "tokn", id="other-test"),
        pytest.param("{% set x = tokn %}{{ x }}", "tokn", id="set-from"),
        pytest.param("{{ x }}{% set x = 1 %}", "x", id="used-before-set"),
        pytest.param("{% for u in tokn %}{{ u }}{% endfor %}", "tokn", id="for-over"),
        pytest.param("{{ u }}{% for u in token %}{% endfor %}", "u", id="loop-variable-outside"),
        pytest.param("{{ uuid() ~ tokn }}", "tokn", id="beside-a-global"),
    ],
)
def test_templates_with_an_undefined_name_are_reported(template, missing):
    (message,) = problems(one_step(template, "{token: abc}"))
    assert f"undefined variable '{missing}'" in message


def test_names_given_on_the_command_line_are_defined():
    assert problems(one_step("{{ password }}")) != []
    assert problems(one_step("{{ password }}"), given=("password",)) == []


def test_a_variable_given_on_the_command_line_is_not_rendered_from_the_file():
    # As the engine does: the file's value is not used, so its template is not checked.
    text = "vars: {a: '{{ nowhere }}'}\nsteps: [{name: s, request: {url: 'http://h/{{ a }}'}}]\n"
    assert len(problems(text)) == 1
    assert problems(text, given=("a",)) == []


def test_captures_are_defined_for_later_steps_and_the_captures_below_them():
    text = """
steps:
  - name: login
    request: {url: http://127.0.0.1:9/x}
    capture:
      token: {header: X-Subject-Token}
      again: {regex: "{{ token }}"}
  - name: use
    request: {url: "http://127.0.0.1:9/x?t={{ token }}&a={{ again }}"}
"""
    assert problems(text) == []


def test_a_steps_checks_do_not_see_its_own_captures():
    text = """
steps:
  - name: login
    request: {url: http://127.0.0.1:9/x}
    capture:
      token: {header: X-Subject-Token}
    expect:
      headers: {X-Subject-Token: "{{ token }}"}
"""
    (problem,) = problems(text)
    assert "undefined variable 'token'" in problem
    assert "its own checks see the variables as they were before the step" in problem


def test_a_capture_can_only_use_the_captures_above_it_in_its_step():
    text = """
steps:
  - name: login
    request: {url: http://127.0.0.1:9/x}
    capture:
      first: {regex: "{{ second }}"}
      second: {header: X}
"""
    (message,) = problems(text)
    assert "undefined variable 'second'" in message


def test_every_use_is_reported_each_at_its_line():
    text = (
        "steps:\n"
        "  - name: a\n"
        "    request: {url: 'http://h/{{ one }}', headers: {X: '{{ two }}'}}\n"
        "  - name: b\n"
        "    request: {url: 'http://h/{{ one }}'}\n"
    )
    found = check_spec(load_text(text, "spec.yaml"))
    assert [(d.source.line, d.step) for d in found] == [(3, "a"), (3, "a"), (5, "b")]
    assert [d.message.split(" in ")[0] for d in found] == [
        "undefined variable 'one'",
        "undefined variable 'two'",
        "undefined variable 'one'",
    ]


def test_a_name_nothing_resembles_gets_the_ways_to_define_it():
    (message,) = problems(one_step("{{ zzz }}"))
    assert "define it in vars, pass --var zzz=..., or write {{ zzz | default(...) }}" in message


@pytest.mark.parametrize("command", ["check", "run"])
def test_check_and_run_know_var_and_vars_file(srv, tmp_path, capsys, command):
    spec = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: a
            request: {url: "/echo?p={{ password }}&r={{ region }}"}
        """,
        base=srv.url,
    )
    args = (command, str(spec))
    result = run_cli(capsys, *args)
    assert result.code == 2
    assert_points(result.err, spec, line_of(spec, "password"), 20)
    assert "undefined variable 'password'" in result.err
    assert "undefined variable 'region'" in result.err
    assert srv.app.requests == []

    variables = tmp_path / "vars.yaml"
    variables.write_text("region: RegionOne\n", encoding="utf-8")
    result = run_cli(
        capsys, command, "--var", "password=x", "--vars-file", str(variables), str(spec)
    )
    assert result.code == 0, result.text
    assert len(srv.app.requests) == (1 if command == "run" else 0)


# -- random specs: the check never fails itself, and only ever points at templates ---------------

NAMES = st.sampled_from(["token", "tokn", "user_id", "item", "env", "x"])
TEMPLATES = st.sampled_from(
    [
        "plain",
        "{{ token }}",
        "{{ tokn }}",
        "{{ user_id | default('') }}",
        "{{ x.y }}/{{ item }}",
        "{% for t in token %}{{ t }}{% endfor %}",
        "{% set y = x %}{{ y }}",
        "{{ env.HOME | default(token) }}",
        "{{ ",
    ]
)
STEPS = st.lists(
    st.fixed_dictionaries(
        {"request": st.fixed_dictionaries({"url": TEMPLATES.map(lambda t: f"http://h/{t}")})},
        optional={
            "capture": st.dictionaries(NAMES, st.just("$.a"), max_size=2),
            "expect": st.fixed_dictionaries(
                {"jsonpath": st.fixed_dictionaries({"$.a": TEMPLATES})}
            ),
        },
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    variables=st.dictionaries(NAMES, TEMPLATES, max_size=2),
    steps=STEPS,
    given_names=st.lists(NAMES, max_size=2),
)
def test_the_check_gives_diagnostics_at_templates_and_nothing_else(variables, steps, given_names):
    for number, step in enumerate(steps):
        step["name"] = f"s{number}"
    text = yaml.safe_dump({"vars": variables, "steps": steps}, sort_keys=False)
    try:
        spec = load_text(text, "random.yaml")
    except SpecError:
        return  # a broken template or a reserved name: the loader's business
    lines = text.splitlines()
    for diagnostic in check_spec(spec, given_names):
        assert diagnostic.message.startswith("undefined variable '")
        assert (
            "{{" in lines[diagnostic.source.line - 1] or "{%" in lines[diagnostic.source.line - 1]
        )
