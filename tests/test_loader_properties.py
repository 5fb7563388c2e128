"""Whatever YAML the loader is fed, it yields a spec or a SpecError: never anything else; and
the static check of a spec it yields gives a list of diagnostics, never an exception."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.checker import check_spec
from runner.errors import SpecError
from runner.loader import load_text
from runner.model import Spec
from runner.yamlsource import parse_yaml

KEYS = st.sampled_from(
    [
        "name",
        "steps",
        "request",
        "url",
        "method",
        "expect",
        "capture",
        "status",
        "json",
        "headers",
        "jsonpath",
        "vars",
        "base_url",
        "defaults",
        "timeout",
        "data",
        "form",
        "x",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-1000, 1000)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(
        [
            "{{ x }}",
            "{{",
            "$.a[*]",
            "$[",
            "2xx",
            "http://127.0.0.1:9/",
            "(",
            "{% for a in x %}{{ a | default(y) }}{% endfor %}",
            "{{ x is defined }}{% set z = q %}",
        ]
    )
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=DOCUMENTS)
def test_structured_documents_give_a_spec_or_a_spec_error(document):
    text = yaml.safe_dump(document)
    try:
        spec = load_text(text, "random.yaml")
    except SpecError as error:
        assert error.diagnostics
        for diagnostic in error.diagnostics:
            assert diagnostic.source.file == "random.yaml"
            assert diagnostic.source.line >= 1
    else:
        assert isinstance(spec, Spec)
        for diagnostic in check_spec(spec, ("given",)):
            assert diagnostic.source.file == "random.yaml" and diagnostic.source.line >= 1


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#%@` \t\n\\?,.$0")), max_size=60)
)
def test_arbitrary_text_gives_a_spec_or_a_spec_error(text):
    try:
        load_text(text, "noise.yaml")
    except SpecError as error:
        assert all(d.source.line >= 1 for d in error.diagnostics)


def test_positions_survive_anchors_and_merge_keys():
    data = parse_yaml("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n")
    assert data["other"] == {"x": 1, "y": 2}
    assert data["other"].key_position("y") == (4, 3)
