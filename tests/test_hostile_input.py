"""Hostile or careless input gets bounded work and one clear line: YAML alias bombs, include
trees that multiply, files that never end, numbers YAML reads as infinite, regexes that
backtrack for ever on a server's body, templates that grow without end.

Every case runs the installed ``apirun`` in a child process with a timeout, so a regression
fails the test instead of hanging the suite, against a real server on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import apirun_command, assert_points, line_of, write_spec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server import start_server

from runner.cli import main

SECONDS = 20  # far above what each case takes; a hang or a blow-up hits it


def apirun(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
    started = time.monotonic()
    done = subprocess.run(
        [*apirun_command(), "--color", "never", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        timeout=SECONDS,
        check=False,
    )
    done.text = done.stdout + done.stderr  # type: ignore[attr-defined]
    done.seconds = time.monotonic() - started  # type: ignore[attr-defined]
    assert "Traceback" not in done.text, done.text
    return done


def bomb(depth: int, use: str = "json: *a{depth}") -> str:
    lines = ['  a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, depth + 1):
        lines.append(f"  a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(
        [
            "vars:",
            *lines,
            "steps:",
            "  - name: s",
            '    request: {url: "{base}/echo", method: POST, ' + use.format(depth=depth) + "}",
            "",
        ]
    )


# -- YAML ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["check"], []])
def test_an_alias_bomb_is_refused_at_once_with_its_line(srv, tmp_path, command):
    spec = write_spec(tmp_path, bomb(9), base=srv.url)
    done = apirun(*command, str(spec))
    assert done.returncode == 2, done.text
    assert "repeat more than 100,000 values" in done.text
    assert_points(done.text, spec, line_of(spec, "a5: &a5"))
    assert srv.app.requests == []


def test_aliases_that_share_a_little_still_work(srv, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        vars:
          headers: &h {X-A: "1", X-B: "2"}
          body: &b {user: {name: ada, roles: [a, b, c]}}
        steps:
          - name: one
            request: {url: "{base}/echo", method: POST, headers: *h, json: *b}
          - name: two
            request: {url: "{base}/echo", method: POST, headers: *h, json: {<<: *b, x: 1}}
        """,
        base=srv.url,
    )
    done = apirun(str(spec))
    assert done.returncode == 0, done.text
    assert [r.json() for r in srv.app.requests] == [
        {"user": {"name": "ada", "roles": ["a", "b", "c"]}},
        {"user": {"name": "ada", "roles": ["a", "b", "c"]}, "x": 1},
    ]
    assert all(r.headers["x-b"] == "2" for r in srv.app.requests)


def test_pytest_collects_an_alias_bomb_in_bounded_time(tmp_path):
    write_spec(tmp_path, bomb(9).replace("{base}", "http://127.0.0.1:9"), name="test_bomb.yaml")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "runner.pytest_plugin",
            "-p",
            "no:cacheprovider",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=SECONDS * 2,
        check=False,
    )
    assert "repeat more than 100,000 values" in done.stdout + done.stderr, done.stdout
    assert done.returncode in (1, 2)  # 2: pytest stopped at the collection error


def test_yaml_1_2_booleans_numbers_and_tags(srv, tmp_path):
    """YAML 1.2 core schema: NO and on are words, 012 is twelve, 0o17 octal; !!binary has no
    JSON value and is refused where it stands."""
    spec = write_spec(
        tmp_path,
        """
        steps:
          - name: s
            request:
              url: "{base}/echo"
              method: POST
              json: {a: NO, b: on, c: y, d: 012, e: 0o17, f: 0x1F, g: True, h: ~, i: 1e3}
        """,
        base=srv.url,
    )
    done = apirun(str(spec))
    assert done.returncode == 0, done.text
    assert srv.app.requests[-1].json() == {
        "a": "NO",
        "b": "on",
        "c": "y",
        "d": 12,
        "e": 15,
        "f": 31,
        "g": True,
        "h": None,
        "i": 1000.0,
    }
    binary = write_spec(
        tmp_path,
        """
        steps:
          - name: s
            request: {url: "{base}/echo", method: POST, json: {b: !!binary aGVsbG8=}}
        """,
        name="binary.yaml",
        base=srv.url,
    )
    done = apirun("check", str(binary))
    assert done.returncode == 2, done.text
    assert "!!binary gives no JSON value" in done.text
    assert_points(done.text, binary, 3)


# -- includes -----------------------------------------------------------------------------------


def test_an_include_tree_that_multiplies_is_refused_fast(srv, tmp_path):
    levels = 6  # 6 ** 6 = 46,656 steps: 43 s to load before the limit
    for level in range(levels):
        if level == levels - 1:
            steps = "".join(
                f"  - name: s{i}\n    request: {{url: '{srv.url}/json'}}\n" for i in range(6)
            )
        else:
            steps = "".join(f"  - name: i{i}\n    include: l{level + 1}.yaml\n" for i in range(6))
        (tmp_path / f"l{level}.yaml").write_text("steps:\n" + steps)
    spec = tmp_path / "l0.yaml"
    done = apirun("check", str(spec))
    assert done.returncode == 2, done.text
    assert "includes bring more than 10,000 steps into this file" in done.text
    assert_points(done.text, spec, 5)  # the second include: 2 x 7,776 steps
    assert done.text.count("error:") == 1
    assert done.seconds < SECONDS / 2


def test_a_file_included_from_two_places_runs_twice(srv, tmp_path):
    write_spec(
        tmp_path, "steps:\n  - name: get\n    request: {url: '{base}/json'}\n", "leaf.yaml", srv.url
    )
    write_spec(tmp_path, "steps:\n  - name: mid\n    include: leaf.yaml\n", "mid.yaml")
    spec = write_spec(
        tmp_path,
        """
        steps:
          - {name: a, include: mid.yaml}
          - {name: b, include: leaf.yaml}
          - {name: c, include: mid.yaml}
        """,
    )
    done = apirun(str(spec))
    assert done.returncode == 0, done.text
    assert len(srv.app.find(path="/json")) == 3
    assert "c › mid › get" in done.text


# -- files that never end ------------------------------------------------------------------------


def test_devices_fifos_and_huge_files_are_not_read(srv, tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    spec = write_spec(
        tmp_path,
        """
        steps:
          - name: schema
            request: {url: "{base}/json"}
            expect: {schema: /dev/zero}
          - name: include
            include: /dev/zero
          - name: fifo
            include: fifo.yaml
        """,
        base=srv.url,
    )
    done = apirun("check", str(spec))
    assert done.returncode == 2, done.text
    assert "cannot read the schema file /dev/zero: not a regular file" in done.text
    assert "cannot read the included file /dev/zero: not a regular file" in done.text
    assert f"cannot read the included file {fifo}: not a regular file" in done.text
    assert_points(done.text, spec, 4)
    assert_points(done.text, spec, 6)

    done = apirun("check", "/dev/zero")
    assert done.returncode == 2, done.text
    assert "/dev/zero is not a regular file" in done.text

    done = apirun("--vars-file", "/dev/zero", str(spec))
    assert done.returncode == 2, done.text
    assert "--vars-file cannot read /dev/zero: not a regular file" in done.text

    big = tmp_path / "vars.yaml"
    big.write_text("x: " + "y" * 3000 + "\n")
    ok = write_spec(
        tmp_path, "steps:\n  - name: s\n    request: {url: '{base}/json'}\n", "ok.yaml", srv.url
    )
    done = apirun("--vars-file", str(big), str(ok), env={"APIRUN_MAX_FILE_MB": "0.001"})
    assert done.returncode == 2, done.text
    assert "3,004 bytes, more than the 1,048 bytes apirun reads" in done.text
    assert "APIRUN_MAX_FILE_MB" in done.text
    assert srv.app.requests == []
    done = apirun("--vars-file", str(big), str(ok))
    assert done.returncode == 0, done.text


# -- numbers and bodies --------------------------------------------------------------------------


def test_infinite_and_nan_timeouts_are_refused_by_check(srv, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        defaults: {timeout: .inf, max_body_mb: .inf}
        steps:
          - name: s
            request: {url: "{base}/json", timeout: .nan}
        """,
        base=srv.url,
    )
    done = apirun("check", str(spec))
    assert done.returncode == 2, done.text
    assert "'defaults.timeout' must be a positive number of seconds, found inf" in done.text
    assert "'max_body_mb' must be a positive number of MiB, found inf" in done.text
    assert "'timeout' must be a positive number of seconds, found nan" in done.text
    assert_points(done.text, spec, 1, 21)
    assert_points(done.text, spec, 4)
    assert srv.app.requests == []


def _raw_server(body: bytes):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return start_server(app)


def test_a_json_integer_of_thousands_of_digits_says_why(tmp_path):
    server = _raw_server(b'{"n": ' + b"7" * 5000 + b"}")
    try:
        spec = write_spec(
            tmp_path,
            "steps:\n  - name: s\n    request: {url: '{base}/'}\n"
            "    expect: {jsonpath: {$.n: {exists: true}}}\n",
            base=server.url,
        )
        done = apirun(str(spec))
    finally:
        server.stop()
    assert done.returncode == 1, done.text
    assert "JSON with an integer of 5,000 digits, more than the 4,300 apirun reads" in done.text
    assert "not JSON" not in done.text


@pytest.mark.parametrize("jobs", [(), ("--jobs", "2")], ids=["serial", "jobs"])
@pytest.mark.parametrize(
    "expect",
    ['body: {matches: "^(a|aa)+$"}', 'regex: {"^(a|aa)+$": {exists: true}}'],
    ids=["matches", "regex-query"],
)
def test_a_backtracking_regex_on_a_server_body_is_stopped(tmp_path, expect, jobs):
    # With --jobs the files run on threads, where a signal cannot reach a search.
    server = _raw_server(b"a" * 40 + b"!")
    try:
        spec = write_spec(
            tmp_path,
            f"steps:\n  - name: s\n    request: {{url: '{{base}}/'}}\n    expect: {{{expect}}}\n",
            base=server.url,
        )
        other = write_spec(tmp_path, spec.read_text(), name="other.yaml")
        started = time.monotonic()
        done = apirun(*jobs, str(spec), *([str(other)] if jobs else []))
    finally:
        server.stop()
    assert done.returncode == 1, done.text
    assert "took more than 1 s on 41 characters and was stopped" in done.text
    assert_points(done.text, spec, 4)
    assert time.monotonic() - started < 20


def test_a_template_whose_text_grows_without_end_stops(srv, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        steps:
          - name: s
            request:
              url: "{base}/echo"
              method: POST
              data: "{% for i in range(999999) %}{{ 'a' * 999999 }}{% endfor %}"
        """,
        base=srv.url,
    )
    done = apirun(str(spec))
    assert done.returncode == 2, done.text
    assert "grows past the 16,777,216 characters a template may build" in done.text
    assert_points(done.text, spec, 6)
    assert srv.app.requests == []


PADDINGS = {
    "percent": ("{{ '%0999999999d' % 1 }}", "a '%' format width of 999,999,999 characters"),
    "star": ("{{ '%*d' % (999999999, 1) }}", "a '%' format width of 999,999,999 characters"),
    "format": ("{{ '{:>999999999}'.format(1) }}", "a format width of 999,999,999 characters"),
    "nested": ("{{ '{:>{}}'.format(1, 999999999) }}", "a format width of 999,999,999"),
    "method": ("{{ 'a'.center(999999999) }}", "center() of 999,999,999 characters"),
    "filter": ("{{ 'a' | center(999999999) }}", "center of 999,999,999 characters"),
    "indent": ("{{ 'a' | indent(999999999) }}", "indent of 999,999,999 characters"),
    "format-filter": ("{{ '%0999999999d' | format(1) }}", "a '%' format width of 999,999,999"),
    "replace": (
        "{{ ('a' * 999999) | replace('a', 'a' * 999999) }}",
        "replace() would build more than the 16,777,216 characters",
    ),
}


def test_paddings_and_widths_in_templates_are_bounded(srv, tmp_path):
    specs = []
    for name, (template, _) in PADDINGS.items():
        specs.append(
            write_spec(
                tmp_path,
                f'steps:\n  - name: s\n    request: {{url: "{{base}}/echo", method: POST, '
                f'json: {{x: "{template}"}}}}\n',
                name=f"{name}.yaml",
                base=srv.url,
            )
        )
    done = apirun(*map(str, specs))
    assert done.returncode == 2, done.text
    for spec, (_, message) in zip(specs, PADDINGS.values(), strict=True):
        assert message in done.text.split(str(spec), 1)[1], (spec.name, done.text)
        assert_points(done.text, spec, 3)
    assert srv.app.requests == []


def test_check_folds_a_repeated_constant_list(srv, tmp_path):
    spec = write_spec(
        tmp_path,
        'steps:\n  - name: s\n    request: {url: "{base}/echo", method: POST, '
        'json: {x: "{{ [1, (2, 3)] * 10**8 }}"}}\n',
        base=srv.url,
    )
    done = apirun("check", str(spec))
    assert done.returncode == 2, done.text
    assert "'*' would repeat 2 items 100000000 times" in done.text
    assert_points(done.text, spec, 3)


def test_ordinary_paddings_and_formats_still_work(srv, tmp_path):
    spec = write_spec(
        tmp_path,
        """
        vars: {n: 5}
        steps:
          - name: s
            request:
              url: "{base}/echo"
              method: POST
              json:
                a: "{{ '%05d' % n }}"
                b: "{{ '{:>6}'.format('x') }}"
                c: "{{ 'ab' | center(6) }}"
                d: "{{ 'x' | indent(2, true) }}"
                e: "{{ 'aXa' | replace('X', '-') }}"
                f: "{{ '%s-%s' | format(1, 2) }}"
                g: "{{ 'a'.ljust(3, '.') }}"
                h: "{{ '{a}'.format_map({'a': 1}) }}"
                i: "{{ '%*d' % (4, 1) }}"
                j: "{{ 7 % 3 }}"
        """,
        base=srv.url,
    )
    done = apirun(str(spec))
    assert done.returncode == 0, done.text
    assert srv.app.requests[-1].json() == {
        "a": "00005",
        "b": "     x",
        "c": "  ab  ",
        "d": "  x",
        "e": "a-a",
        "f": "1-2",
        "g": "a..",
        "h": "1",
        "i": "   1",
        "j": 1,
    }


# -- fuzz: the example specs, mutated, and the bombs -------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(
    path
    for path in [*ROOT.glob("specs/**/*.yaml"), *ROOT.glob("tests/app_specs/*.yaml")]
    if path.name != "apirun.yaml"
)
_SEEN = iter(range(10**6))  # file names of the mutants
HOSTILE_VALUES = [
    "{{ 9**99999999 }}",
    "\"{{ 'a' * 10**9 }}\"",
    '"{{ range(10**9) | list }}"',
    '"{% for i in range(10**5) %}{% for j in range(10**5) %}{% endfor %}{% endfor %}"',
    '"{{ env }}"',
    '"{{ range(3) }}"',
    ".inf",
    ".nan",
    "NO",
    "!!binary aGVsbG8=",
    "*nowhere",
    "&self [*self]",
    "{include: /dev/zero}",
    '"{{ 10**5000 }}"',
    '"^(a+)+$"',
    "[" * 120 + "]" * 120,
]


_COPIES: list[Path] = []


def _copies(tmp_path_factory) -> Path:
    if not _COPIES:
        copies = tmp_path_factory.mktemp("examples")
        shutil.copytree(ROOT / "specs", copies / "specs")
        shutil.copytree(ROOT / "tests" / "app_specs", copies / "tests" / "app_specs")
        _COPIES.append(copies)
    return _COPIES[0]


@contextlib.contextmanager
def _bounded(seconds: float):
    """A hang in this process fails the test (a timer's signal) instead of the suite."""

    def expire(number, frame):
        raise AssertionError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _mutate(text: str, data) -> str:
    lines = text.splitlines()
    kind = data.draw(st.sampled_from(["none", "value", "truncate", "bomb", "include", "duplicate"]))
    if kind == "none":
        return text
    if kind == "value":
        candidates = [
            i for i, line in enumerate(lines) if ": " in line and not line.lstrip().startswith("#")
        ]
        if candidates:
            index = data.draw(st.sampled_from(candidates))
            key = lines[index].split(": ", 1)[0]
            lines[index] = f"{key}: {data.draw(st.sampled_from(HOSTILE_VALUES))}"
    elif kind == "truncate":
        cut = data.draw(st.integers(0, len(text)))
        return text[:cut]
    elif kind == "bomb":
        depth = data.draw(st.integers(3, 9))
        fragment = bomb(depth, "json: *a{depth}").split("steps:", 1)[0]
        return fragment.replace("vars:", "x-anchors:", 1) + text
    elif kind == "include":
        lines.append(
            "  - {name: hostile include, include: "
            + data.draw(
                st.sampled_from(["/dev/zero", "/dev/null", "/", "fuzz-0.yaml", "missing.yaml"])
            )
            + "}"
        )
    else:
        index = data.draw(st.integers(0, max(len(lines) - 1, 0)))
        lines[index:index] = lines[index : index + 3]
    return "\n".join(lines) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def test_mutated_example_specs_give_one_clear_answer(tmp_path_factory, data):
    """`apirun check` on a mutated example: exit 0, 1 or 2, no traceback, in bounded time."""
    example = data.draw(st.sampled_from(EXAMPLES))
    # Beside a copy of the example's folder, so that its includes, schemas and files resolve.
    copies = _copies(tmp_path_factory)
    folder = copies / example.parent.relative_to(ROOT)
    spec = folder / f"fuzz-{next(_SEEN)}.yaml"
    spec.write_text(_mutate(example.read_text("utf-8"), data), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    with _bounded(10), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["check", "--color", "never", str(spec)])
        except SystemExit as exc:  # argparse
            code = exc.code
    elapsed = time.monotonic() - started
    text = out.getvalue() + err.getvalue()
    assert code in (0, 1, 2), text
    assert "Traceback" not in text and "internal error" not in text, text
    assert elapsed < 5, f"{elapsed:.1f} s for:\n{spec.read_text()}"


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    kind=st.sampled_from(["alias", "include", "template"]),
    size=st.integers(5, 9),
)
def test_bombs_run_against_a_server_end_in_bounded_time(server, tmp_path_factory, kind, size):
    """The real command, run (not only checked) against the loopback server."""
    folder = tmp_path_factory.mktemp("bomb")
    if kind == "alias":
        spec = write_spec(folder, bomb(size), base=server.url)
    elif kind == "include":
        for level in range(size):
            target = f"l{level + 1}.yaml" if level < size - 1 else None
            steps = "".join(
                f"  - name: i{i}\n    include: {target}\n"
                if target
                else f"  - name: s{i}\n    request: {{url: '{server.url}/json'}}\n"
                for i in range(size)
            )
            (folder / f"l{level}.yaml").write_text("steps:\n" + steps)
        spec = folder / "l0.yaml"
    else:
        loops = "".join(f"{{% for i{n} in range(10**{size}) %}}" for n in range(3))
        ends = "{% endfor %}" * 3
        spec = write_spec(
            folder,
            f'steps:\n  - name: s\n    request: {{url: "{{base}}/echo", method: POST, '
            f'data: "{loops}x{ends}"}}\n',
            base=server.url,
        )
    done = apirun(str(spec))
    assert done.returncode in (0, 1, 2), done.text
    assert done.seconds < SECONDS / 2, done.text
