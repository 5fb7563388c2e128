"""Simple JSONPaths are evaluated without jsonpath-ng: they must agree with it exactly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonpath_ng.ext.parser import ExtendedJsonPathParser

from runner.operators.jsonpath import SimplePath, compile_jsonpath

NAMES = st.sampled_from(["a", "b", "users", "name", "id", "_x", "v2"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False)
    | st.text(max_size=3)
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(NAMES, children, max_size=4),
    max_leaves=20,
)
SEGMENT = NAMES.map(lambda n: f".{n}") | st.integers(0, 4).map(lambda i: f"[{i}]") | st.just("[*]")
PATHS = st.lists(SEGMENT, min_size=1, max_size=5).map(lambda parts: "$" + "".join(parts))


PARSER = ExtendedJsonPathParser()  # one parser: building it costs tens of milliseconds


def library_values(path: str, document) -> list | None:
    try:
        return [match.value for match in PARSER.parse(path).find(document)]
    except Exception:  # jsonpath-ng crashes on some inputs (an index into a dict): skip those
        return None


@settings(max_examples=150, deadline=None)
@given(path=PATHS, document=JSON)
def test_simple_paths_agree_with_jsonpath_ng(path, document):
    compiled = compile_jsonpath(path)
    assert isinstance(compiled, SimplePath)
    expected = library_values(path, document)
    if expected is not None:
        assert compiled.values(document) == expected


def test_other_paths_go_to_jsonpath_ng():
    document = {"users": [{"name": "admin", "id": 1}, {"name": "demo", "id": 2}]}
    path = compile_jsonpath("$.users[?(@.name=='demo')].id")
    assert not isinstance(path, SimplePath)
    assert path.values(document) == [2]
    assert compile_jsonpath("$.users[-1].name").values(document) == ["demo"]
