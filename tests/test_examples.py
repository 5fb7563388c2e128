"""The example specs shipped in specs/ run green against the test server, as documented."""

from __future__ import annotations

from pathlib import Path

from helpers import run_process

SPECS = Path(__file__).resolve().parent.parent / "specs"


def test_every_example_spec_passes_against_the_test_server(srv):
    result = run_process("-v", str(SPECS), env={"OS_AUTH_URL": f"{srv.url}/v3"})
    assert result.code == 0, result.text
    # known-issues.yaml: one expected failure and one parked step; unified-limits.yaml: a
    # parked file (its two steps).
    assert " 0 failed, 3 skipped, 1 xfailed" in result.out
    assert "XFAIL  version document is cacheable" in result.out
    assert not srv.app.find(path="/v3/registered_limits")  # skipped: never sent
    created = [r for r in srv.app.requests if r.method == "POST" and r.path == "/v3/users"]
    deleted = [r for r in srv.app.requests if r.method == "DELETE"]
    # The lifecycle example's user and data-driven.yaml's three (one per CSV row): all
    # deleted again.
    assert len(created) == 4 and len(deleted) == 4
    assert "Welcome-" not in result.text  # data-driven.yaml's password, marked secret


def test_the_known_issues_example_can_be_left_out_whole(srv):
    env = {"OS_AUTH_URL": f"{srv.url}/v3", "APIRUN_SKIP_KNOWN_ISSUES": "1"}
    result = run_process(str(SPECS / "known-issues.yaml"), env=env)
    assert result.code == 0, result.text
    assert "(skipped: when: env.APIRUN_SKIP_KNOWN_ISSUES is not defined is false)" in result.out
    assert srv.app.requests == []


def test_every_example_spec_passes_check():
    result = run_process("check", str(SPECS))
    assert result.code == 0, result.text
    assert result.out.startswith("ok: ")


def test_the_openstack_examples_pass_check():
    result = run_process("check", str(SPECS / "openstack"))
    assert result.code == 0, result.text
    assert result.out.startswith("ok: ")


def test_the_readme_sample_is_specs_users_yaml_word_for_word():
    readme = (SPECS.parent / "README.md").read_text(encoding="utf-8")
    start = readme.index("```yaml\n") + len("```yaml\n")
    sample = readme[start : readme.index("```\n", start)]
    assert sample == (SPECS / "users.yaml").read_text(encoding="utf-8")
