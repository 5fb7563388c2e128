"""Specs loaded once per pytest-xdist run: what one worker loads, another takes whole.

The plugin's runs under ``-n`` (tests/test_pytest_plugin.py) share loads for real; these
pin the folder's rules and the claim between workers.
"""

from __future__ import annotations

import os
import pickle
import threading
from pathlib import Path

import pytest

from runner.errors import SpecError
from runner.loader import load_file
from runner.operators.bodyschema import SCHEMA
from runner.shared_loads import folder_of, key_of, obtain

ROOT = Path(__file__).resolve().parent.parent
# Every example spec but uploads.yaml, whose client certificates its run makes first.
EXAMPLES = sorted(
    p
    for p in (ROOT / "specs").rglob("*.yaml")
    if p.name not in ("apirun.yaml", "uploads.yaml") and "data" not in p.parts
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o700)
    found = folder_of(str(shared))
    assert found is not None
    return found


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_spec_survives_the_trip_between_workers(path: Path):
    spec = load_file(path)
    again = pickle.loads(pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL))
    assert again == spec
    for before, after in zip(spec.all_steps(), again.all_steps(), strict=True):
        for expected, got in zip(before.expectations, after.expectations, strict=True):
            if expected.operator == SCHEMA:  # a compiled schema works as it did
                assert got.expected.validator.schema == expected.expected.validator.schema
                assert got.expected.violations({}) == expected.expected.violations({})


def test_the_second_worker_takes_what_the_first_loaded(folder: Path):
    path = ROOT / "specs" / "users.yaml"
    key = key_of(path, "specs/users.yaml")
    assert key is not None
    loads: list[str] = []

    def load():
        loads.append("loaded")
        return load_file(path)

    first = obtain(folder, key, load)
    second = obtain(folder, key, lambda: pytest.fail("loaded again"))
    assert loads == ["loaded"] and second == first and second is not first
    assert sorted(p.suffix for p in folder.iterdir()) == [".claim", ".pickle"]


def test_the_key_is_the_files_bytes_and_its_path(tmp_path: Path):
    spec = tmp_path / "a.yaml"
    spec.write_text("steps: []\n")
    before = key_of(spec, "a.yaml")
    assert key_of(spec, "other/a.yaml") != before
    spec.write_text("steps: [] \n")
    assert key_of(spec, "a.yaml") != before
    assert key_of(tmp_path / "missing.yaml", "missing.yaml") is None


def test_a_worker_waiting_for_a_load_that_fails_loads_it_itself(folder: Path):
    key = "k" * 64
    claimed, release = threading.Event(), threading.Event()

    def failing():
        claimed.set()
        release.wait(5)
        raise SpecError([])

    def claimer():
        with pytest.raises(SpecError):
            obtain(folder, key, failing)

    thread = threading.Thread(target=claimer)
    thread.start()
    assert claimed.wait(5)
    waiter: list[str] = []

    def waiting():
        waiter.append(obtain(folder, key, lambda: "its own load"))  # type: ignore[arg-type,return-value]

    second = threading.Thread(target=waiting)
    second.start()
    release.set()
    thread.join(5)
    second.join(5)
    assert waiter == ["its own load"]


def test_a_value_that_does_not_pickle_is_loaded_by_each_worker(folder: Path):
    class Unpicklable:
        def __reduce__(self):
            raise TypeError("no")

    key = "u" * 64
    value = Unpicklable()
    assert obtain(folder, key, lambda: value) is value  # type: ignore[arg-type,return-value]
    assert obtain(folder, key, lambda: "again") == "again"  # type: ignore[arg-type,return-value]
    assert not list(folder.glob("*.part")) and not list(folder.glob("*.pickle"))


def test_a_folder_others_can_write_or_not_a_folder_is_not_used(tmp_path: Path):
    open_folder = tmp_path / "open"
    open_folder.mkdir()
    os.chmod(open_folder, 0o777)
    assert folder_of(str(open_folder)) is None
    (tmp_path / "file").write_text("")
    assert folder_of(str(tmp_path / "file")) is None
    assert folder_of(str(tmp_path / "missing")) is None
    link = tmp_path / "link"
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    link.symlink_to(private)
    assert folder_of(str(link)) is None  # lstat: a symlink is not the folder
    assert folder_of(None) is None and folder_of("") is None
