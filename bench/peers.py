"""The declarative peers for ``python bench/run.py --peers``: gabbi, Tavern and Step CI.

Each peer is installed into the benchmark's temporary folder (two throwaway virtualenvs made
with the running Python, and ``npm install --prefix`` for Step CI; the pip and npm caches live
there too), so nothing is left behind when the run ends. Each gets the bench workload written
in its own format -- the token POST capturing ``X-Subject-Token``, then N GETs of
``/v3/users`` sending it as ``X-Auth-Token``, each checking status 200 and that
``users[0].name`` is ``admin`` -- and is run once at every size and checked (exit code and the
peer's own summary: every test, stage or step passed, and as many as there are requests).
That run is the peer's warm-up. What passes is handed back to bench/run.py as
``(label, command)`` pairs, measured in the same alternating rounds as apirun and the
hand-written loop.

A peer that cannot be installed or does not pass (no npm, no network to the registry, a
changed format...) is reported as one line ``peer X skipped: reason`` and the run goes on.
Installing is not measured. Only the package registries (through pip and npm) and 127.0.0.1
are contacted: Step CI runs with ``STEPCI_DISABLE_ANALYTICS=1`` (no usage ping) and its
configuration folder in the temporary folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

GABBI = "4.2.3"
TAVERN = "3.7.1"
TAVERN_PYTEST = "pytest<9.2"  # Tavern 3.7.1 imports _pytest.python_api, gone in pytest 9.2
STEPCI = "2.8.2"
ROUNDS = 3  # peers are measured in the first 3 rounds only: gabbi and Step CI take seconds a run
GABBI_DEFAULT_MAX_N = 1000  # gabbi without -k keeps ~1 MB (an SSL context) per test
INSTALL_LIMIT = 900.0  # seconds for one peer's installation
CHECK_LIMIT = 300.0  # seconds for one checking run (bench/run.py's CHILD_LIMIT)

Command = Callable[[int], list[str]]  # gets -> argv
Check = Callable[[int, str], str]  # gets, output -> its summary line; ValueError: failed
Peer = tuple[str, Command, Check]  # label, command, check
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class PeerSkipped(Exception):
    """This peer cannot be measured; the message says why, in one line."""


class Workload:
    """What the peers' files are written from: bench/run.py's server, body, timeout, sizes."""

    def __init__(self, base_url: str, auth_body: dict, timeout: float, sizes: Sequence[int]):
        self.base_url = base_url
        self.auth_body = auth_body
        self.timeout = timeout
        self.sizes = tuple(sizes)


# -- running installers and checks ---------------------------------------------------------------


def _run(
    argv: Sequence[str], env: Mapping[str, str], limit: float, cwd: Path | None = None
) -> tuple[int, str]:
    """Run argv in its own process group; stdout and stderr together. The whole group is
    stopped afterwards, on a timeout and on Ctrl-C (npm and pip start children of their own)."""
    process = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        raise PeerSkipped(f"{Path(argv[0]).name} ran longer than {limit:.0f} s") from None
    finally:
        _stop_group(process)
    return process.returncode, output.decode(errors="replace")


def _stop_group(process: subprocess.Popen) -> None:
    for signum in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signum)  # its own session: the group id is its pid
        try:
            process.wait(timeout=5)
            break
        except subprocess.TimeoutExpired:
            continue
    if process.stdout:
        process.stdout.close()


def _last_line(output: str) -> str:
    lines = [line.strip() for line in _ANSI.sub("", output).splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def with_env(argv: list[str], unset: Sequence[str] = (), **values: str) -> list[str]:
    """argv through env(1): peer-specific variables without touching the shared environment.
    env execs the peer, so the measured process is the peer itself (same pid)."""
    env = shutil.which("env") or "/usr/bin/env"
    prefix = [env]
    for name in unset:
        prefix += ["-u", name]
    prefix += [f"{name}={value}" for name, value in values.items()]
    return prefix + argv


# Every peer runs without PYTHONPATH (bench/run.py puts this checkout first on it; with the
# editable install's apirun.egg-info there, pytest in Tavern's venv would load apirun's plugin)
# and without the user's pytest options.
UNSET = ("PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")


def venv(folder: Path, requirements: Sequence[str], say: Callable[[str], None]) -> Path:
    """A throwaway virtualenv in folder with requirements installed; returns its bin folder."""
    started = time.monotonic()
    code, output = _run([sys.executable, "-m", "venv", str(folder)], os.environ, INSTALL_LIMIT)
    if code != 0:
        raise PeerSkipped(f"python -m venv failed: {_last_line(output)}")
    bin_dir = folder / ("Scripts" if os.name == "nt" else "bin")
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--no-input"]
    pip += ["--disable-pip-version-check", "--cache-dir", str(folder.parent / "pip-cache")]
    code, output = _run([*pip, *requirements], os.environ, INSTALL_LIMIT)
    wanted = " ".join(requirements)
    if code != 0:
        errors = [line for line in output.splitlines() if "ERROR" in line]
        raise PeerSkipped(
            f"pip install {wanted} failed: {(errors or [_last_line(output)])[-1][:300]}"
        )
    code, output = _run([str(bin_dir / "python"), "-m", "pip", "freeze"], os.environ, 60)
    names = {re.split(r"[=<>@ ]", r)[0].lower() for r in requirements}
    pinned = [line for line in output.splitlines() if line.split("==")[0].lower() in names]
    say(f"  installed {', '.join(pinned) or wanted} in {time.monotonic() - started:.0f} s")
    return bin_dir


# -- gabbi ---------------------------------------------------------------------------------------


def gabbi_text(work: Workload, gets: int) -> str:
    """A gabbi YAML file; the token comes from the first test's headers via $HISTORY."""
    lines = [
        "defaults:",
        f"  timeout: {work.timeout:g}",
        "tests:",
        "- name: get token",
        "  POST: /v3/auth/tokens",
        "  request_headers:",
        "    content-type: application/json",
        f"  data: {json.dumps(work.auth_body)}",
        "  status: 201",
    ]
    step = [
        "- name: list users {i}",
        "  GET: /v3/users",
        "  request_headers:",
        "    x-auth-token: $HISTORY['get token'].$HEADERS['x-subject-token']",
        "  status: 200",
        "  response_json_paths:",
        "    $.users[0].name: admin",
    ]
    template = "\n".join(step)
    lines += (template.format(i=i) for i in range(1, gets + 1))
    return "\n".join(lines) + "\n"


def _gabbi_check(gets: int, output: str) -> str:
    text = _ANSI.sub("", output)
    ran = re.search(r"^Ran (\d+) tests? in .*$", text, re.MULTILINE)
    if not ran or ran.group(1) != str(gets + 1):
        raise ValueError(f"expected 'Ran {gets + 1} tests', got: {_last_line(output)}")
    if _last_line(output) != "OK":
        raise ValueError(f"not OK: {_last_line(output)}")
    return f"{ran.group(0)}, OK"


def gabbi(folder: Path, work: Workload, say: Callable[[str], None]) -> list[Peer]:
    """gabbi-run URL -- FILE, with and without -k.

    gabbi 4 makes one httpx.Client per test (a new connection for every request, no option for
    keep-alive); ``-k`` (``--insecure``) turns certificate checks off, so those clients skip
    loading the CA store, which is most of gabbi's per-request cost even over plain HTTP.
    """
    bin_dir = venv(folder / "venv", [f"gabbi=={GABBI}"], say)
    files = {}
    for gets in work.sizes:
        files[gets] = folder / f"bench_{gets}.yaml"
        files[gets].write_text(gabbi_text(work, gets))
    run = [str(bin_dir / "gabbi-run")]

    def command(*options: str) -> Command:
        return lambda g: with_env([*run, *options, work.base_url, "--", str(files[g])], UNSET)

    found: list[Peer] = [(f"gabbi {GABBI}, -k (no CA store per test)", command("-k"), _gabbi_check)]
    if max(work.sizes) <= GABBI_DEFAULT_MAX_N:
        found.append((f"gabbi {GABBI}, default", command(), _gabbi_check))
    else:
        say(
            f"peer gabbi default skipped: N > {GABBI_DEFAULT_MAX_N} (it keeps ~1 MB and takes "
            "~60 ms of CPU per test)"
        )
    return found


# -- Tavern --------------------------------------------------------------------------------------


def tavern_text(work: Workload, gets: int) -> str:
    """One Tavern test, a stage per request; the JMESPath check is Tavern's validate_content."""
    base = work.base_url
    lines = [
        f"test_name: bench {gets} GET",
        "stages:",
        "  - name: get token",
        "    request:",
        f"      url: {base}/v3/auth/tokens",
        "      method: POST",
        f"      json: {json.dumps(work.auth_body)}",
        f"      timeout: {work.timeout:g}",
        "    response:",
        "      status_code: 201",
        "      save:",
        "        headers:",
        "          token: '\"X-Subject-Token\"'",  # a JMESPath: hyphens need quotes
    ]
    stage = [
        "  - name: list users {i}",
        "    request:",
        f"      url: {base}/v3/users",
        "      method: GET",
        '      headers: {{X-Auth-Token: "{{token}}"}}',
        f"      timeout: {work.timeout:g}",
        "    response:",
        "      status_code: 200",
        "      verify_response_with:",
        "        function: tavern.helpers:validate_content",
        "        extra_kwargs:",
        "          comparisons:",
        "            - {{jmespath: 'users[0].name', operator: eq, expected: admin}}",
    ]
    template = "\n".join(stage)
    lines += (template.format(i=i) for i in range(1, gets + 1))
    return "\n".join(lines) + "\n"


def _tavern_check(gets: int, output: str) -> str:
    # One test whose stages stop at the first failure: "1 passed" means every request passed.
    summary = _last_line(output)
    if not re.search(r"\b1 passed\b", summary) or re.search(r"failed|error", summary):
        raise ValueError(f"expected '1 passed', got: {summary}")
    return summary


def tavern(folder: Path, work: Workload, say: Callable[[str], None]) -> list[Peer]:
    """pytest (Tavern's plugin) on test_bench_N.tavern.yaml, no cache folder written."""
    bin_dir = venv(folder / "venv", [f"tavern=={TAVERN}", TAVERN_PYTEST], say)
    tests = folder / "tests"
    tests.mkdir()
    (tests / "pytest.ini").write_text("[pytest]\n")  # the rootdir: no ini file from elsewhere
    files = {}
    for gets in work.sizes:
        files[gets] = tests / f"test_bench_{gets}.tavern.yaml"
        files[gets].write_text(tavern_text(work, gets))
    pytest = [str(bin_dir / "pytest"), "-q", "-p", "no:cacheprovider"]
    return [
        (
            f"Tavern {TAVERN}",
            lambda g: with_env([*pytest, str(files[g])], UNSET),
            _tavern_check,
        )
    ]


# -- Step CI -------------------------------------------------------------------------------------


def stepci_text(work: Workload, gets: int) -> str:
    """A Step CI workflow: one test, a step per request, the token as a header capture."""
    base = work.base_url
    lines = [
        'version: "1.1"',
        f"name: bench {gets} GET",
        "tests:",
        "  bench:",
        "    steps:",
        "      - name: get token",
        "        http:",
        f"          url: {base}/v3/auth/tokens",
        "          method: POST",
        f"          timeout: {work.timeout:g}s",
        f"          json: {json.dumps(work.auth_body)}",
        "          captures:",
        "            token: {header: x-subject-token}",
        "          check: {status: 201}",
    ]
    step = [
        "      - name: list users {i}",
        "        http:",
        f"          url: {base}/v3/users",
        "          method: GET",
        f"          timeout: {work.timeout:g}s",
        '          headers: {{X-Auth-Token: "${{{{captures.token}}}}"}}',
        "          check:",
        "            status: 200",
        "            jsonpath:",
        "              $.users[0].name: admin",
    ]
    template = "\n".join(step)
    lines += (template.format(i=i) for i in range(1, gets + 1))
    return "\n".join(lines) + "\n"


def _stepci_check(gets: int, output: str) -> str:
    text = _ANSI.sub("", output)
    steps = re.search(r"Steps:\s*(\d+) failed, (\d+) skipped, (\d+) passed, (\d+) total", text)
    if not steps or steps.groups() != ("0", "0", str(gets + 1), str(gets + 1)):
        found = steps.group(0) if steps else _last_line(output)
        raise ValueError(f"expected all {gets + 1} steps passed, got: {found}")
    return steps.group(0)


def stepci(folder: Path, work: Workload, say: Callable[[str], None]) -> list[Peer]:
    """node .../stepci/dist/index.js run workflow_N.yml, installed with npm into folder."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if not npm or not node:
        raise PeerSkipped("npm and node are not both on PATH")
    started = time.monotonic()
    prefix = folder / "npm"
    install = [npm, "install", "--prefix", str(prefix), "--cache", str(folder / "npm-cache")]
    install += ["--no-audit", "--no-fund", "--no-update-notifier", "--loglevel=error"]
    env = dict(os.environ, npm_config_update_notifier="false")
    code, output = _run([*install, f"stepci@{STEPCI}"], env, INSTALL_LIMIT, cwd=folder)
    script = prefix / "node_modules" / "stepci" / "dist" / "index.js"
    if code != 0 or not script.is_file():
        raise PeerSkipped(f"npm install stepci@{STEPCI} failed: {_last_line(output)}")
    say(f"  installed stepci@{STEPCI} in {time.monotonic() - started:.0f} s")
    files = {}
    for gets in work.sizes:
        files[gets] = folder / f"workflow_{gets}.yml"
        files[gets].write_text(stepci_text(work, gets))
    quiet = {  # no usage ping to posthog.com, its config.json (a user id) in our folder
        "STEPCI_DISABLE_ANALYTICS": "1",
        "XDG_CONFIG_HOME": str(folder / "config"),
        "NO_UPDATE_NOTIFIER": "1",
    }
    return [
        (
            f"Step CI {STEPCI}",
            lambda g: with_env([node, str(script), "run", str(files[g])], UNSET, **quiet),
            _stepci_check,
        )
    ]


# -- the entry point for bench/run.py ------------------------------------------------------------

PEERS = (("gabbi", gabbi), ("Tavern", tavern), ("Step CI", stepci))


def peer_tools(
    folder: Path,
    base_url: str,
    sizes: Sequence[int],
    auth_body: dict,
    timeout: float,
    env: Mapping[str, str],
    say: Callable[[str], None],
) -> list[tuple[str, Command]]:
    """Install, write and check every peer; the (label, command) of those that passed.

    env is the measured children's environment (bench/run.py's child_env): the checking runs
    use it too, so they also warm the bytecode cache as the warm-up does for the others.
    """
    folder.mkdir(parents=True, exist_ok=True)
    work = Workload(base_url, auth_body, timeout, sizes)
    found: list[tuple[str, Command]] = []
    say(f"peers: installing into {folder} (not measured), then one checking run per size")
    for name, make in PEERS:
        peer_folder = folder / name.lower().replace(" ", "")
        try:
            peer_folder.mkdir()
            made = make(peer_folder, work, say)
        except (PeerSkipped, OSError) as exc:
            say(f"peer {name} skipped: {exc}")
            continue
        for label, command, check in made:
            try:
                for gets in work.sizes:
                    started = time.monotonic()
                    code, output = _run(command(gets), env, CHECK_LIMIT)
                    if code != 0:
                        raise ValueError(f"exit code {code}: {_last_line(output)}")
                    summary = check(gets, output)
                    say(f"  {label} W({gets}): {summary} ({time.monotonic() - started:.1f} s)")
            except ValueError as exc:
                say(f"peer {label} skipped: W({gets}) did not pass: {exc}")
            except (PeerSkipped, OSError) as exc:
                say(f"peer {label} skipped: {exc}")
            else:
                found.append((label, command))
    return found


class _Tool(Protocol):
    label: str
    series: Any  # dict[int, Series] in bench/run.py


def ratio_lines(peers: Sequence[_Tool], hand: _Tool, n: int) -> list[str]:
    """For information, no targets: each peer against the hand-written loop."""

    def per_request(tool: _Tool, key: str = "wall") -> float:
        return (getattr(tool.series[n], key) - getattr(tool.series[1], key)) / (n - 1)

    width = max(len(tool.label) for tool in peers) + 2
    out = ["", "Peers / hand-written loop (for information, no targets):"]
    out.append(
        f"  {'peer':<{width}}{'W(1)':>7}{'per request':>13}{'(CPU)':>8}{f'peak MB N={n}':>15}"
    )
    for tool in peers:
        w1 = tool.series[1].wall / hand.series[1].wall
        request = per_request(tool) / per_request(hand)
        cpu = per_request(tool, "cpu") / per_request(hand, "cpu")
        memory = tool.series[n].memory_mb / hand.series[n].memory_mb
        out.append(f"  {tool.label:<{width}}{w1:>7.2f}{request:>13.2f}{cpu:>8.2f}{memory:>15.2f}")
    return out
