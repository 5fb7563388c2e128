"""apirun's benchmark: apirun against a hand-written ``requests.Session`` loop, same workload.

    python bench/run.py                 # everything (~4 min on a 2-core machine)
    python bench/run.py --quick         # smoke test (~1.5 min)
    python bench/run.py --only workload --rounds 11 --n 1000
    python bench/run.py --peers         # also gabbi, Tavern, Step CI (bench/peers.py; minutes)

The workload (issue 7): one ``POST /v3/auth/tokens`` capturing the ``X-Subject-Token`` header,
then N ``GET /v3/users`` sending it as ``X-Auth-Token``, each checking status 200 and the JSONPath
value ``$.users[0].name == admin``. Both tools run it as subprocesses (the real ``apirun``
command, and the raw loop: HAND_LOOP below, the minimal ``requests.Session`` script with the
same checks and the same 30 s timeout), alternating over several rounds; the medians are
printed, with the ratios apirun / raw loop and issue 16's targets (TARGETS):

    per-request cost  (W(N) - W(1)) / (N - 1), N written out     target <= 0.75
                      ... N as one looping step                   target <= 0.65
    W(1) wall time    start-up + 2 requests                       target <= 1.2
    peak memory       max RSS of the process at N                 target <= 1.3
    spec load+check   5,000 steps / 500 steps                     target <= 10
    TLS               W(200) over HTTPS, verify false / CA bundle  target <= 1.1
    scale-out         50 files x 10 steps, 20 ms server: --jobs 8 target >= 6x faster,
                      pytest -n 4                                 target >= 2.5x faster

and, for information, ``apirun --version`` against ``python -c "import requests"``, and the
scale-out suite hand-written (HAND_SCALE, HAND_TEST), whose own speed-ups say what the
machine allows.
``--only workload,tls,scale`` picks sections. bench/README.md says exactly what each measures.

Peak memory is each child's own ``ru_maxrss``, from ``os.wait4()`` on its pid. Linux carries
the spawning process's high-water mark into a child across fork and exec, so the children are
not spawned by this script (~30 MB, more than a bare ``import requests``) but by a tiny helper
(``python -S -I``, ~10 MB, below every measured child), which also times them (wall time from
spawn to reap, and their CPU time). ``/usr/bin/time -f %M`` gives the same figures;
``getrusage(RUSAGE_CHILDREN)`` is a maximum over every child ever reaped, not a per-run figure.

The server: nginx when it is installed (a generated configuration in a temporary folder,
bound to 127.0.0.1 only), else ``bench/server.py`` (asyncio, standard library) in its own
process, so it never shares the GIL with the client being measured. Choose with
``--server asyncio|nginx``. To install nginx on Debian/Ubuntu::

    sudo apt-get install nginx-light    # Debian 12 / Ubuntu: a small nginx (or: nginx)

(``nginx-light`` exists up to Debian 12, where it pulls in ``nginx``; on newer releases install
``nginx``.) It does not need to run as a service: ``sudo systemctl disable --now nginx`` is fine;
the benchmark starts its own instance on a free loopback port and stops it at the end.

Everything is bounded (rounds, steps, timeouts) and only 127.0.0.1 is contacted. The server is
stopped on exit, on failure and on Ctrl-C. Exit code: 0 when the benchmark ran (ratios over
target are printed, not failed), 1 when a run failed or the server could not start, 130 when
interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.metadata
import importlib.util
import json
import os
import platform
import selectors
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
import peers  # noqa: E402  (bench/peers.py: gabbi, Tavern and Step CI for --peers)
import server as bench_server  # noqa: E402  (bench/server.py: the token and the static bodies)

HOST = "127.0.0.1"
TIMEOUT = 30  # seconds, per request, in both tools (apirun's default)
CHILD_LIMIT = 300.0  # seconds: no single measured child may run longer than this
NOISY = 1.3  # max/min wall time of a measure above this: say the machine was busy
# Issue 16's targets. Ratios apirun / hand-written loop: at most this; speed-ups (jobs,
# pytest): at least this.
SECTIONS = ("workload", "tls", "scale")
TARGETS = {
    "per_request": 0.75,  # 500 GET steps written out
    "per_request_loop": 0.65,  # the same GETs as one looping step
    "w1": 1.2,
    "memory": 1.3,
    "load": 10.0,  # loading and checking 5,000 steps / 500 steps
    "tls": 1.1,  # W(200) over HTTPS, the same TLS setting in both
    "jobs": 6.0,  # apirun DIR / apirun DIR --jobs 8, latency-bound suite
    "pytest": 2.5,  # pytest DIR / pytest -n 4 DIR, the same suite
}

# The POST body, shared by the spec and the hand-written loop.
AUTH_BODY = {
    "auth": {
        "identity": {
            "methods": ["password"],
            "password": {
                "user": {"domain": {"name": "demo"}, "name": "admin", "password": "000000"}
            },
        },
        "scope": {"project": {"domain": {"name": "demo"}, "name": "admin"}},
    }
}


class BenchError(Exception):
    """The benchmark cannot go on (a run failed, the server did not start...)."""


# -- the server ----------------------------------------------------------------------------------


class Server:
    url: str = ""  # http://127.0.0.1:PORT
    kind: str = ""

    def stop(self) -> None:
        raise NotImplementedError


def _stop_process(process: subprocess.Popen, signum: int = signal.SIGTERM) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signum)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=5)


class AsyncioServer(Server):
    """bench/server.py in a subprocess; it prints ``READY <url>`` once it listens.

    ``options``: more of its command-line options (``--delay MS``, ``--tls-cert`` ...)."""

    kind = "asyncio (bench/server.py)"

    def __init__(self, options: Sequence[str] = (), what: str = "") -> None:
        if options:
            self.kind = f"asyncio (bench/server.py {what or ' '.join(options)})"
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(BENCH_DIR / "server.py"),
                "--port",
                "0",
                "--exit-on-stdin-eof",
                *options,
            ],
            stdin=subprocess.PIPE,  # closed when we die, however we die: the server then exits
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C is ours to handle: we stop it in order
        )
        try:
            self.url = self._wait_ready(10.0)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, limit: float) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + limit
        line = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    raise BenchError("bench/server.py did not start within 10 s")
                chunk = os.read(self.process.stdout.fileno(), 256)
                if not chunk:
                    error = self.process.stderr.read().decode(errors="replace")  # type: ignore[union-attr]
                    raise BenchError(f"bench/server.py exited: {error.strip()}")
                line += chunk
        if not line.startswith(b"READY "):
            raise BenchError(f"bench/server.py said {line!r}")
        return line.split()[1].decode()

    def stop(self) -> None:
        if self.process.stdin:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        _stop_process(self.process)
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()


def find_nginx() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    for candidate in ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def nginx_config(folder: Path, port: int) -> str:
    token = bench_server.TOKEN
    token_body = bench_server.TOKEN_BODY.decode()
    temp = "\n".join(
        f"    {name}_temp_path {folder / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""\
# Generated by bench/run.py for one benchmark run; deleted afterwards.
worker_processes 1;
daemon off;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    server_tokens off;
{temp}
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    types {{ application/json json; }}
    default_type application/json;
    server {{
        listen {HOST}:{port};
        root {folder / "www"};
        location = /v3/auth/tokens {{
            if ($request_method != POST) {{ return 405; }}
            add_header X-Subject-Token "{token}" always;
            return 201 '{token_body}';
        }}
        location = /v3/users {{
            if ($http_x_auth_token != "{token}") {{
                return 401 '{{"error": "the X-Auth-Token header is missing or wrong"}}';
            }}
            try_files /users.json =404;
        }}
        location / {{ return 404 '{{"error": "no such path"}}'; }}
    }}
}}
"""


class NginxServer(Server):
    """nginx with a generated configuration, in the foreground (``daemon off``), loopback only."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.kind = f"nginx ({binary})"
        self.folder = folder / "nginx"
        (self.folder / "www").mkdir(parents=True)
        (self.folder / "www" / "users.json").write_bytes(bench_server.USERS_BODY)
        for path in (folder, self.folder, self.folder / "www"):
            path.chmod(0o755)  # nginx workers run as "nobody" when started by root
        self.process: subprocess.Popen | None = None
        last_error = ""
        for _attempt in range(3):  # the free port may be taken between probe and bind: retry
            port = _free_port()
            config = self.folder / "nginx.conf"
            config.write_text(nginx_config(self.folder, port))
            self.process = subprocess.Popen(
                [
                    binary,
                    "-p",
                    str(self.folder),
                    "-c",
                    str(config),
                    "-e",
                    str(self.folder / "error.log"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            if self._wait_listening(port, 10.0):
                self.url = f"http://{HOST}:{port}"
                return
            last_error = self._error_text()
            self.stop()
        raise BenchError(f"nginx did not start: {last_error.strip()[-2000:]}")

    def _wait_listening(self, port: int, limit: float) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
                return True
            time.sleep(0.05)
        return False

    def _error_text(self) -> str:
        text = ""
        if self.process and self.process.poll() is not None:
            text += f"(exit code {self.process.returncode}) "
            if self.process.stderr:
                text += self.process.stderr.read().decode(errors="replace")
        with contextlib.suppress(OSError):
            text += (self.folder / "error.log").read_text(errors="replace")
        return text

    def stop(self) -> None:
        if self.process is not None:
            _stop_process(self.process)  # SIGTERM: nginx's fast shutdown
            if self.process.stderr:
                self.process.stderr.close()


def start_server(choice: str, folder: Path, nginx_binary: str | None = None) -> Server:
    nginx = nginx_binary or find_nginx()
    if choice == "nginx" and not nginx:
        raise BenchError("--server nginx: nginx is not installed (apt-get install nginx-light)")
    server: Server
    server = (
        NginxServer(nginx, folder) if nginx and choice in ("auto", "nginx") else AsyncioServer()
    )
    try:
        check_server(server.url)
    except BaseException:
        server.stop()
        raise
    return server


def check_server(url: str, ca: Path | None = None) -> None:
    """The server answers the workload as the benchmark needs, on one kept-alive connection
    (over TLS for an ``https`` URL, trusting the CA bundle ``ca``)."""
    port = int(url.rsplit(":", 1)[1])
    connection: http.client.HTTPConnection
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
        connection = http.client.HTTPSConnection(HOST, port, timeout=10, context=context)
    else:
        connection = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        connection.request("GET", "/v3/users", headers={"X-Auth-Token": "wrong"})
        response = connection.getresponse()
        response.read()
        if response.status != 401:
            raise BenchError(
                f"server check: GET /v3/users with a wrong token gave {response.status}"
            )
        body = json.dumps(AUTH_BODY)
        connection.request("POST", "/v3/auth/tokens", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        token = response.getheader("X-Subject-Token")
        if response.status != 201 or token != bench_server.TOKEN:
            raise BenchError(f"server check: POST gave {response.status}, token {token!r}")
        connection.request("GET", "/v3/users", headers={"X-Auth-Token": token})
        response = connection.getresponse()
        users = json.loads(response.read())
        if response.status != 200 or users["users"][0]["name"] != "admin":
            raise BenchError(f"server check: GET /v3/users gave {response.status} {users!r}")
    except (OSError, http.client.HTTPException, ValueError, KeyError, IndexError) as exc:
        raise BenchError(f"server check failed: {exc!r}") from None
    finally:
        connection.close()


def check_concurrency(url: str, delay: float, clients: int) -> float:
    """``clients`` connections asking at once are answered together, not one after the other:
    the delayed server must not serialise them. Returns the seconds all of them took."""
    port = int(url.rsplit(":", 1)[1])
    errors: list[BaseException] = []

    def ask() -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=10)
        try:
            for _ in range(2):
                connection.request("GET", "/v3/users", headers={"X-Auth-Token": "wrong"})
                response = connection.getresponse()
                response.read()
                if response.status != 401:
                    raise BenchError(f"concurrency check: got {response.status}")
        except BaseException as exc:  # reported by the caller
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    took = time.perf_counter() - started
    if errors:
        raise BenchError(f"concurrency check failed: {errors[0]!r}")
    serialised = 2 * clients * delay
    if took > serialised / 2:
        raise BenchError(
            f"the delayed server answered {clients} concurrent clients in {took * 1e3:.0f} ms "
            f"(serialised would be {serialised * 1e3:.0f} ms): it does not serve them concurrently"
        )
    return took


class TLSUnavailable(Exception):
    """No way to make a certificate here: the TLS row is skipped, saying why."""


def make_certificate(folder: Path) -> tuple[Path, Path, str]:
    """A self-signed certificate for 127.0.0.1 (its own CA, so it is also the CA bundle) and
    its key, in ``folder``: by the ``openssl`` command, else by ``cryptography`` if importable.
    Returns (certificate, key, what made them)."""
    cert, key = folder / "tls-cert.pem", folder / "tls-key.pem"
    why: list[str] = []
    openssl = shutil.which("openssl")
    if openssl:
        command = [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST}",
        ]  # fmt: skip
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            why.append(f"openssl failed: {exc}")
        else:
            if done.returncode == 0 and cert.is_file() and key.is_file():
                return cert, key, "openssl"
            last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
            why.append(f"openssl req exited {done.returncode}: {last}")
    else:
        why.append("no openssl command on PATH")
    try:
        made = _certificate_by_cryptography(cert, key)
    except ImportError:
        why.append("the cryptography package is not importable")
    else:
        return cert, key, made
    raise TLSUnavailable("; ".join(why))


def _certificate_by_cryptography(cert: Path, key: Path) -> str:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    identifier = x509.SubjectKeyIdentifier.from_public_key(private.public_key())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(identifier, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(identifier),
            critical=False,
        )
        .sign(private, hashes.SHA256())
    )
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return "cryptography"


# -- the workloads -------------------------------------------------------------------------------


def spec_text(base_url: str, gets: int, verify: str | None = None) -> str:
    """The POST capturing the token, then ``gets`` GET steps written out one by one.
    ``verify`` (the TLS row): the spec's ``defaults.verify``, ``false`` or a CA bundle."""
    lines = [
        f"name: bench {gets} GET",
        f"base_url: {base_url}/v3",
        *(["defaults:", f"  verify: {verify}"] if verify is not None else []),
        "steps:",
        "  - name: get token",
        "    request:",
        "      method: POST",
        "      url: /auth/tokens",
        f"      json: {json.dumps(AUTH_BODY)}",
        "    expect:",
        "      status: 201",
        "    capture:",
        "      token: {header: X-Subject-Token}",
    ]
    lines += _get_steps(gets)
    return "\n".join(lines) + "\n"


# One GET step of the workload, written out: the token header and the two checks.
_GET_STEP = "\n".join(
    [
        "  - name: list users {i}",
        "    request:",
        "      url: /users",
        '      headers: {{X-Auth-Token: "{{{{ token }}}}"}}',
        "    expect:",
        "      status: 200",
        "      jsonpath:",
        "        $.users[0].name: admin",
    ]
)


def _get_steps(count: int) -> list[str]:
    return [_GET_STEP.format(i=i) for i in range(1, count + 1)]


def loop_spec_text(base_url: str, gets: int) -> str:
    """The same workload with the GETs written as ONE step that loops ``gets`` times."""
    head = spec_text(base_url, 0)
    step = [
        "  - name: list users",
        f'    loop: "{{{{ range({gets}) }}}}"',
        "    request:",
        "      url: /users",
        '      headers: {X-Auth-Token: "{{ token }}"}',
        "    expect:",
        "      status: 200",
        "      jsonpath:",
        "        $.users[0].name: admin",
    ]
    return head + "\n".join(step) + "\n"


def scale_spec_text(base_url: str, number: int, steps: int) -> str:
    """One file of the scale-out suite: ``steps`` GETs, each with the token header and the
    same checks as the workload's (a file-level variable, so no file depends on another)."""
    lines = [
        f"name: scale file {number:02d}",
        f"base_url: {base_url}/v3",
        f"vars: {{token: {bench_server.TOKEN}}}",
        "steps:",
    ]
    lines += _get_steps(steps)
    return "\n".join(lines) + "\n"


HAND_SCALE = '''\
"""The floor for --jobs: the scale-out suite hand-written, one requests.Session per file,
the files one after another (JOBS 1) or on a pool of JOBS threads."""
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import requests

TIMEOUT = {timeout}
TOKEN = {token!r}


def one_file(base, steps):
    with requests.Session() as session:
        for _ in range(steps):
            response = session.get(
                base + "/v3/users", headers={{"X-Auth-Token": TOKEN}}, timeout=TIMEOUT
            )
            if response.status_code != 200 or response.json()["users"][0]["name"] != "admin":
                return False
    return True


def main():
    base, files, steps, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    if jobs == 1:
        passed = [one_file(base, steps) for _ in range(files)]
    else:
        with ThreadPoolExecutor(jobs) as pool:
            passed = list(pool.map(lambda _: one_file(base, steps), range(files)))
    with open(sys.argv[5], "w") as out:  # the verdicts, one per file
        json.dump(passed, out)
    return 0 if all(passed) else 1


if __name__ == "__main__":
    sys.exit(main())
'''

HAND_TEST = '''\
"""One file of the scale-out suite as a hand-written pytest test: the floor for pytest -n."""
import requests

BASE = {base!r}
TOKEN = {token!r}
TIMEOUT = {timeout}


def test_scale_file_{number:02d}():
    with requests.Session() as session:
        for _ in range({steps}):
            response = session.get(
                BASE + "/v3/users", headers={{"X-Auth-Token": TOKEN}}, timeout=TIMEOUT
            )
            assert response.status_code == 200
            assert response.json()["users"][0]["name"] == "admin"
'''

# What going parallel itself costs on the machine at hand: the same 50 files doing nothing
# but wait as long as the server makes them (steps x delay), in processes that import
# requests as every client of the suite does. What their parallel run takes beyond its
# busiest thread's or worker's waiting is the interpreter, the import, and the threads or
# the xdist workers starting: a cost no client of the suite avoids.
WAIT_SCALE = '''\
"""The cost of threads: each file only waits SECONDS, one after another (JOBS 1) or on a
pool of JOBS threads, after the import of requests that any client pays."""
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import requests  # noqa: F401


def main():
    files, seconds, jobs = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    if jobs == 1:
        for _ in range(files):
            time.sleep(seconds)
    else:
        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(lambda _: time.sleep(seconds), range(files)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''

WAIT_TEST = '''\
"""One file of the scale-out suite as a pytest test that only waits: the cost of -n."""
import time

import requests  # noqa: F401


def test_wait_file_{number:02d}():
    time.sleep({seconds})
'''

HAND_LOOP = '''\
"""The floor for a requests-based runner: the benchmark workload as a hand-written loop."""
import sys

import requests

TIMEOUT = {timeout}
AUTH_BODY = {auth_body!r}


def main():
    base, gets, trust_env = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    verify = True  # the TLS row gives "false" or the path of a CA bundle
    if len(sys.argv) > 4:
        verify = False if sys.argv[4] == "false" else sys.argv[4]
    if verify is False:  # the spec's verify: false silences it in apirun too
        import urllib3

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    with requests.Session() as session:
        session.trust_env = trust_env
        # verify per call, not session.verify: requests lets REQUESTS_CA_BUNDLE or
        # CURL_CA_BUNDLE in the environment win over session.verify, not over a call's.
        response = session.post(
            base + "/v3/auth/tokens", json=AUTH_BODY, timeout=TIMEOUT, verify=verify
        )
        if response.status_code != 201:
            print(f"get token: expected 201, got {{response.status_code}}")
            return 1
        token = response.headers["X-Subject-Token"]
        for i in range(1, gets + 1):
            response = session.get(
                base + "/v3/users",
                headers={{"X-Auth-Token": token}},
                timeout=TIMEOUT,
                verify=verify,
            )
            if response.status_code != 200:
                print(f"list users {{i}}: expected 200, got {{response.status_code}}")
                return 1
            name = response.json()["users"][0]["name"]
            if name != "admin":
                print(f"list users {{i}}: expected admin, got {{name!r}}")
                return 1
    print(f"{{gets + 1}} passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''

LOAD_PROBE = """\
import json, sys, time
started = time.perf_counter()
mode, path = sys.argv[1], sys.argv[2]
if mode == "load":  # what the apirun command does before sending: read, parse, check, build
    from runner.checker import check_spec  # ... and the static check of the variables
    from runner.loader import load_file
    imported = time.perf_counter()
    spec = load_file(path)
    assert not check_spec(spec)
    steps = len(spec.steps)
elif mode == "yaml":  # only apirun's YAML step (the loader that keeps line numbers)
    from runner.yamlsource import parse_yaml
    text = open(path, encoding="utf-8").read()
    imported = time.perf_counter()
    steps = len(parse_yaml(text)["steps"])
else:  # "plain": PyYAML's C safe loader alone, the floor for YAML
    import yaml
    text = open(path, encoding="utf-8").read()
    imported = time.perf_counter()
    steps = len(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["steps"])
done = time.perf_counter()
print(json.dumps({"import_ms": (imported - started) * 1e3, "ms": (done - imported) * 1e3,
                  "steps": steps}))
"""


# -- running children ----------------------------------------------------------------------------


@dataclass
class Sample:
    wall_ms: float
    maxrss_kb: int
    cpu_ms: float  # user + system CPU time of the process (not of the server)


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(s.wall_ms for s in self.samples)

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu_ms for s in self.samples)

    @property
    def noise(self) -> float:
        walls = [s.wall_ms for s in self.samples]
        return max(walls) / min(walls)

    @property
    def memory_mb(self) -> float:
        return statistics.median(s.maxrss_kb for s in self.samples) / 1024

    @property
    def spread(self) -> str:
        walls = [s.wall_ms for s in self.samples]
        return f"{min(walls):.0f}-{max(walls):.0f}"


def _maxrss_kb(value: int) -> int:
    return value // 1024 if sys.platform == "darwin" else value  # bytes on macOS, KiB on Linux


# A child's ru_maxrss is at least the RSS of the process that forked it (Linux keeps the
# high-water mark across fork and execve), so children are not forked from this script
# (~30 MB): a tiny spawner (python -S -I, ~9 MB, below any measured child) forks them, times
# them and reads their peak RSS with wait4(). One JSON line in, one JSON line out per child.
SPAWNER = r"""
import json, os, signal, sys, time
child = 0
def kill_child(signum, frame):
    if child:
        try:
            os.kill(child, signal.SIGKILL)
        except OSError:
            pass
    if signum == signal.SIGTERM:
        os._exit(143)
signal.signal(signal.SIGALRM, kill_child)
signal.signal(signal.SIGTERM, kill_child)
signal.signal(signal.SIGINT, signal.SIG_IGN)
for line in sys.stdin:
    job = json.loads(line)
    log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    actions = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, log, 1),
               (os.POSIX_SPAWN_DUP2, log, 2)]
    started = time.perf_counter()
    child = os.posix_spawn(job["argv"][0], job["argv"], os.environ, file_actions=actions)
    signal.alarm(job["limit"])
    _, status, usage = os.wait4(child, 0)
    wall = time.perf_counter() - started
    signal.alarm(0)
    child = 0
    os.close(log)
    os.close(null)
    own = 0
    try:  # this process's own high-water mark (VmHWM), not the one inherited from its parent
        with open("/proc/self/status") as status_file:
            own = next(int(l.split()[1]) for l in status_file if l.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        pass
    print(json.dumps({"wall_ms": wall * 1e3, "maxrss": usage.ru_maxrss, "own_maxrss": own,
                      "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1e3,
                      "code": os.waitstatus_to_exitcode(status)}), flush=True)
"""


class Spawner:
    """Runs measured children one at a time, from a process much smaller than they are."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-S", "-I", "-c", SPAWNER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,  # Ctrl-C reaches only us; we stop it (and its child) below
            text=True,
        )
        self.floor_kb = 0  # the spawner's own peak RSS: no child can measure below it

    def run(self, command: Sequence[str], log: Path) -> Sample:
        argv = list(command)
        if not os.path.isabs(argv[0]):
            argv[0] = shutil.which(argv[0]) or argv[0]
        job = {"argv": argv, "log": str(log), "limit": int(CHILD_LIMIT)}
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(job) + "\n")
            self.process.stdin.flush()
            answer = self.process.stdout.readline()
        except OSError as exc:
            raise BenchError(f"the spawner died: {exc}") from None
        if not answer:
            raise BenchError("the spawner died (see the error above)")
        result = json.loads(answer)
        self.floor_kb = max(self.floor_kb, _maxrss_kb(result["own_maxrss"]))
        if result["code"] != 0:
            tail = log.read_text(errors="replace")[-3000:]
            why = " (killed: ran too long)" if result["code"] == -signal.SIGKILL else ""
            raise BenchError(f"{' '.join(command)} exited {result['code']}{why}:\n{tail}")
        return Sample(result["wall_ms"], _maxrss_kb(result["maxrss"]), result["cpu_ms"])

    def stop(self) -> None:
        if self.process.stdin:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        _stop_process(self.process)  # SIGTERM: it kills a running child, then exits
        if self.process.stdout:
            self.process.stdout.close()


def apirun_command() -> tuple[list[str], str]:
    """The real command: the apirun script beside this Python (not a pyenv shim), else -m."""
    here = Path(sys.executable).parent
    for name in ("apirun", "apirun.exe"):
        script = here / name
        if script.is_file() and os.access(script, os.X_OK):
            return [str(script)], str(script)
    return [sys.executable, "-m", "runner"], f"{sys.executable} -m runner"


def child_env(folder: Path) -> dict[str, str]:
    """The measured children's environment: the user's, plus what makes the runs comparable.

    - this checkout's ``runner`` first on the path (the code being measured);
    - bytecode cached as on a normal install, but in the temporary folder
      (PYTHONPYCACHEPREFIX), never in the repository or site-packages; the warm-up fills it.
      Without this, PYTHONDONTWRITEBYTECODE (set in some sandboxes and CI images) would make
      every run compile apirun's modules from source while requests' came precompiled.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME", "PYTHONTRACEMALLOC"):
        env.pop(name, None)
    env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    env["NO_COLOR"] = "1"
    if any(env.get(v) for v in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")):
        no_proxy = env.get("no_proxy") or env.get("NO_PROXY") or ""
        env["no_proxy"] = env["NO_PROXY"] = ",".join(p for p in (no_proxy, HOST) if p)
    return env


# -- the benchmark -------------------------------------------------------------------------------


@dataclass
class Tool:
    label: str
    command: Callable[[int], list[str]]  # gets -> argv
    series: dict[int, Series] = field(default_factory=dict)
    rounds: int | None = None  # measured in the first `rounds` rounds only (None: all)


def fmt_ratio(value: float, target: float | None) -> str:
    if target is None:
        return f"{value:5.2f}"
    mark = "ok" if value <= target else "OVER TARGET"
    return f"{value:5.2f}   (target <= {target:g}: {mark})"


def noise_note(series: Iterable[Series], advice: str = "") -> list[str]:
    """The NOTE under a table whose rounds varied more than NOISY (one round never does)."""
    noisiest = max((one.noise for one in series), default=1.0)
    if noisiest <= NOISY:
        return []
    return [
        f"  NOTE: wall times varied up to {noisiest:.1f}x between rounds (load average now "
        f"{os.getloadavg()[0]:.2f}): the machine was busy.{advice}"
    ]


def fmt_speedup(value: float, target: float) -> str:
    """A speed-up (serial / parallel): higher is better."""
    mark = "ok" if value >= target else "OVER TARGET"
    return f"{value:5.2f}x faster (target >= {target:g}: {mark})"


def bench(
    args: argparse.Namespace,
    folder: Path,
    server: Server,
    spawner: Spawner,
    say: Callable[[str], None],
) -> dict:
    apirun, apirun_label = apirun_command()
    n = args.n
    sizes = (1, n)
    log = folder / "child.log"

    def run(command: Sequence[str]) -> Sample:
        return spawner.run(command, log)

    specs = {}
    for gets in sorted({1, n, *args.load_sizes}):
        path = folder / f"w{gets}.yaml"
        path.write_text(spec_text(server.url, gets))
        specs[gets] = path
    loops = {}
    for gets in sizes:
        path = folder / f"loop{gets}.yaml"
        path.write_text(loop_spec_text(server.url, gets))
        loops[gets] = path
    hand = folder / "hand_loop.py"
    hand.write_text(HAND_LOOP.format(timeout=TIMEOUT, auth_body=AUTH_BODY))
    python = sys.executable

    tools = [
        Tool("hand-written requests loop", lambda g: [python, str(hand), server.url, str(g), "1"]),
        Tool("apirun", lambda g: [*apirun, str(specs[g])]),
        Tool("apirun, N as one looping step", lambda g: [*apirun, str(loops[g])]),
    ]
    if not args.quick:
        tools.append(
            Tool(
                "hand-written, trust_env=False",
                lambda g: [python, str(hand), server.url, str(g), "0"],
            )
        )

    say(f"apirun command: {apirun_label}")
    say(f"warm-up (not counted): each tool once at N=1 and N={n}")
    for tool in tools:
        for gets in sizes:
            run(tool.command(gets))
            if tool.label.startswith("apirun"):  # every step passed, not only exit 0
                lines = log.read_text(errors="replace").strip().splitlines()
                say(f"  apirun W({gets}) says: {lines[-1] if lines else '(nothing)'}")

    peer_tools: list[Tool] = []
    if args.peers:  # installed, checked and warmed up (one run per size) by bench/peers.py
        found = peers.peer_tools(
            folder / "peers", server.url, sizes, AUTH_BODY, TIMEOUT, child_env(folder), say
        )
        peer_tools = [Tool(label, command, rounds=peers.ROUNDS) for label, command in found]
        tools += peer_tools

    for round_number in range(args.rounds):
        order = tools if round_number % 2 == 0 else tools[::-1]  # alternate who goes first
        order = [tool for tool in order if tool.rounds is None or round_number < tool.rounds]
        for gets in sizes:
            for tool in order:
                tool.series.setdefault(gets, Series()).samples.append(run(tool.command(gets)))
        say(f"round {round_number + 1}/{args.rounds} done")

    # Load and check big specs through the Python API, each in a fresh process; and, each in
    # its own fresh process too, the YAML part alone (apirun's loader, then plain CSafeLoader).
    load: dict[tuple[str, int], list[dict]] = {}
    probe = folder / "load_probe.py"
    probe.write_text(LOAD_PROBE)
    load_rounds = 2 if args.quick else max(3, (args.rounds + 1) // 2)
    for _ in range(load_rounds):
        for mode in ("load", "yaml", "plain"):
            for gets in args.load_sizes:
                try:
                    run([python, str(probe), mode, str(specs[gets])])
                except BenchError:
                    if mode == "load":
                        raise
                    continue  # runner.yamlsource may change shape: the breakdown is optional
                last = log.read_text().strip().splitlines()[-1]
                load.setdefault((mode, gets), []).append(json.loads(last))
    say("load-and-check done")

    # Start-up: apirun --version against a bare import of requests (and an empty interpreter).
    startup = {
        "python -c pass": [python, "-c", "pass"],
        'python -c "import requests"': [python, "-c", "import requests"],
        "apirun --version": [*apirun, "--version"],
    }
    startup_series = {label: Series() for label in startup}
    for round_number in range(max(5, args.rounds)):
        items = list(startup.items())
        for label, command in items if round_number % 2 == 0 else items[::-1]:
            startup_series[label].samples.append(run(command))
    say("start-up done")
    return {"tools": tools, "load": load, "startup": startup_series, "n": n, "peers": peer_tools}


def report(results: dict, args: argparse.Namespace, server: Server) -> list[str]:
    tools: list[Tool] = results["tools"]
    n = results["n"]
    out: list[str] = []
    hand, apirun = tools[0], tools[1]

    def per_request(tool: Tool) -> float:
        return (tool.series[n].wall - tool.series[1].wall) / (n - 1)

    def cpu_per_request(tool: Tool) -> float:
        return (tool.series[n].cpu - tool.series[1].cpu) / (n - 1)

    width = max(len(t.label) for t in tools) + 2
    out.append("")
    out.append(
        f"Workload: POST + N GET (status 200, $.users[0].name == admin); {args.rounds} rounds, "
        f"medians (wall ms: min-max in brackets)"
    )
    header = (
        f"{'tool':<{width}}{'W(1) ms':>18}{f'W({n}) ms':>22}{'per request ms':>16}"
        f"{'(CPU ms)':>10}{'peak MB N=1':>13}{f'peak MB N={n}':>15}"
    )
    out.append(header)
    out.append("-" * len(header))
    for tool in tools:
        w1, wn = tool.series[1], tool.series[n]
        out.append(
            f"{tool.label:<{width}}{w1.wall:>8.1f} [{w1.spread:>7}]"
            f"{wn.wall:>10.1f} [{wn.spread:>9}]"
            f"{per_request(tool):>16.3f}{cpu_per_request(tool):>10.3f}"
            f"{w1.memory_mb:>13.1f}{wn.memory_mb:>15.1f}"
        )

    out.append("")
    out.append("Ratios apirun / hand-written loop:")
    ratios = {
        "per_request": per_request(apirun) / per_request(hand),
        "w1": apirun.series[1].wall / hand.series[1].wall,
        "memory": apirun.series[n].memory_mb / hand.series[n].memory_mb,
    }
    out.append(
        f"  per-request cost        {fmt_ratio(ratios['per_request'], TARGETS['per_request'])}"
    )
    out.append(f"  W(1) wall time          {fmt_ratio(ratios['w1'], TARGETS['w1'])}")
    out.append(f"  peak memory at N={n:<6} {fmt_ratio(ratios['memory'], TARGETS['memory'])}")
    out.append(
        f"  (for information: per-request CPU time of the client process: "
        f"{cpu_per_request(apirun) / cpu_per_request(hand):.2f})"
    )
    looping = tools[2]
    ratios["per_request_loop"] = per_request(looping) / per_request(hand)
    out.append(
        f"  per-request cost, N as one looping step: "
        f"{fmt_ratio(ratios['per_request_loop'], TARGETS['per_request_loop'])}"
    )
    info = next((t for t in tools if t.label == "hand-written, trust_env=False"), None)
    if info is not None:
        out.append(
            f"  (for information: hand-written with trust_env=False / hand-written, per request: "
            f"{per_request(info) / per_request(hand):.2f})"
        )

    out += noise_note(
        (series for tool in tools for series in tool.series.values()),
        " Rerun on a quiet machine or with more --rounds before trusting the ratios; the "
        "CPU-time ratio is less sensitive.",
    )
    if results.get("peers"):
        out += peers.ratio_lines(results["peers"], hand, n)

    load = results["load"]
    small, big = args.load_sizes
    out.append("")
    out.append(
        "Load and check via the Python API (load_file, check_spec), a fresh process each, "
        "medians, ms:"
    )
    out.append(
        f"  {'GET steps':>10}{'load+check':>12}{'YAML part (apirun loader)':>27}"
        f"{'plain CSafeLoader':>19}{'import':>9}"
    )

    def median_of(mode: str, gets: int, key: str = "ms") -> float | None:
        rows = load.get((mode, gets))
        return statistics.median(r[key] for r in rows) if rows else None

    def cell(value: float | None, width: int) -> str:
        return f"{value:>{width}.1f}" if value is not None else f"{'n/a':>{width}}"

    for gets in (small, big):
        out.append(
            f"  {gets:>10}{cell(median_of('load', gets), 12)}{cell(median_of('yaml', gets), 27)}"
            f"{cell(median_of('plain', gets), 19)}{cell(median_of('load', gets, 'import_ms'), 9)}"
        )
    ratios["load"] = median_of("load", big) / median_of("load", small)  # type: ignore[operator]
    out.append(f"  ratio {big}/{small}:  load+check {fmt_ratio(ratios['load'], TARGETS['load'])}")
    plain_small, plain_big = median_of("plain", small), median_of("plain", big)
    if plain_small and plain_big:
        out.append(f"  (plain CSafeLoader alone grows {plain_big / plain_small:.2f}x)")

    out.append("")
    out.append("Start-up (medians, wall ms, fresh process):")
    startup: dict[str, Series] = results["startup"]
    for label, series in startup.items():
        out.append(f"  {label:<30}{series.wall:>8.1f}   peak {series.memory_mb:.1f} MB")
    version = startup["apirun --version"].wall
    bare = startup['python -c "import requests"'].wall
    out.append(f"  apirun --version / import requests: {version / bare:.2f}")
    out += noise_note(startup.values())
    results["ratios"] = ratios
    return out


# -- TLS -----------------------------------------------------------------------------------------

TLS_N = 200  # GET steps of the TLS row (issue 16)


def bench_tls(
    args: argparse.Namespace,
    folder: Path,
    spawner: Spawner,
    say: Callable[[str], None],
    stack: contextlib.ExitStack,
) -> tuple[list[str], dict[str, float]]:
    """POST + TLS_N GETs over HTTPS, apirun against the hand-written loop, with the same
    TLS setting in both: ``verify: false``, then a CA bundle (the self-signed certificate).
    W(1) too, to tell start-up from the cost per request."""
    try:
        cert, key, made_by = make_certificate(folder)
    except TLSUnavailable as exc:
        say(f"TLS row skipped: {exc}")
        return ["", f"TLS row skipped: {exc}"], {}
    server = AsyncioServer(["--tls-cert", str(cert), "--tls-key", str(key)], "TLS")
    stack.callback(server.stop)
    check_server(server.url, ca=cert)
    say(f"TLS server: {server.kind} at {server.url} (certificate made by {made_by})")
    apirun, _label = apirun_command()
    hand = folder / "hand_loop.py"
    hand.write_text(HAND_LOOP.format(timeout=TIMEOUT, auth_body=AUTH_BODY))
    log = folder / "child.log"
    sizes = (1, TLS_N)
    settings = {"verify: false": "false", "verify: CA bundle": str(cert)}
    tools: list[Tool] = []
    for label, verify in settings.items():
        specs = {}
        for gets in sizes:
            spec = folder / f"tls-{'insecure' if verify == 'false' else 'ca'}-{gets}.yaml"
            spec.write_text(
                spec_text(server.url, gets, verify if verify == "false" else json.dumps(verify))
            )
            specs[gets] = spec

        def hand_argv(gets: int, verify: str = verify) -> list[str]:
            return [sys.executable, str(hand), server.url, str(gets), "1", verify]

        def apirun_argv(gets: int, specs: dict[int, Path] = specs) -> list[str]:
            return [*apirun, str(specs[gets])]

        tools.append(Tool(f"hand-written, {label}", hand_argv))
        tools.append(Tool(f"apirun, {label}", apirun_argv))
    for tool in tools:  # warm-up, not counted
        for gets in sizes:
            spawner.run(tool.command(gets), log)
    for round_number in range(args.tls_rounds):
        order = tools if round_number % 2 == 0 else tools[::-1]
        for gets in sizes:
            for tool in order:
                sample = spawner.run(tool.command(gets), log)
                tool.series.setdefault(gets, Series()).samples.append(sample)
    say("TLS done")

    def per_request(tool: Tool, cpu: bool = False) -> float:
        one, many = tool.series[1], tool.series[TLS_N]
        return ((many.cpu - one.cpu) if cpu else (many.wall - one.wall)) / (TLS_N - 1)

    out = [
        "",
        f"TLS: POST + N GET over HTTPS, bench/server.py on {HOST} with a self-signed "
        f"certificate (made by {made_by}); {args.tls_rounds} rounds, medians (wall ms)",
        f"  {'tool':<34}{'W(1) ms':>10}{f'W({TLS_N}) ms':>12}{'[min-max]':>13}"
        f"{'per request':>13}{'(CPU)':>8}",
    ]
    for tool in tools:
        big = tool.series[TLS_N]
        out.append(
            f"  {tool.label:<34}{tool.series[1].wall:>10.1f}{big.wall:>12.1f}{big.spread:>13}"
            f"{per_request(tool):>13.3f}{per_request(tool, cpu=True):>8.3f}"
        )
    ratios: dict[str, float] = {}
    for index, label in enumerate(settings):
        hand_tool, apirun_tool = tools[2 * index], tools[2 * index + 1]
        ratio = apirun_tool.series[TLS_N].wall / hand_tool.series[TLS_N].wall
        ratios[f"tls {label}"] = ratio
        out.append(
            f"  apirun / hand-written W({TLS_N}), {label + ':':<19}"
            f"{fmt_ratio(ratio, TARGETS['tls'])}"
        )
        out.append(
            f"    (for information: W(1) "
            f"{apirun_tool.series[1].wall / hand_tool.series[1].wall:.2f}"
            f", per request {per_request(apirun_tool) / per_request(hand_tool):.2f}, CPU of "
            f"W({TLS_N}) {apirun_tool.series[TLS_N].cpu / hand_tool.series[TLS_N].cpu:.2f})"
        )
    out += noise_note(series for tool in tools for series in tool.series.values())
    return out, ratios


# -- scale-out -----------------------------------------------------------------------------------

SCALE_FILES = 50
SCALE_STEPS = 10
SCALE_DELAY_MS = 20
SCALE_JOBS = 8
SCALE_WORKERS = 4  # pytest -n
PLUGIN = "runner.pytest_plugin"  # its pytest11 entry point's name (pyproject.toml)
# The same suite hand-written (HAND_SCALE, HAND_TEST): what the speed-ups can reach here.
RAW_SERIAL = "raw loop, 50 files"
RAW_JOBS = f"raw loop, {SCALE_JOBS} threads"
RAW_PYTEST = "pytest RAW_TESTS"
RAW_PYTEST_N = f"pytest -n {SCALE_WORKERS} RAW_TESTS"
# The same suite doing nothing but wait (WAIT_SCALE, WAIT_TEST): what going parallel costs.
WAIT_SERIAL = "waiting only, 50 files"
WAIT_JOBS = f"waiting only, {SCALE_JOBS} threads"
WAIT_PYTEST = "pytest WAIT_TESTS"
WAIT_PYTEST_N = f"pytest -n {SCALE_WORKERS} WAIT_TESTS"

PYTEST_INI = """\
# Written by bench/run.py: the scale-out row's own pytest configuration, so that no other
# project's configuration applies. Plugins load as installed (apirun's through its entry point).
[pytest]
"""


def pytest_command(
    folder: Path, say: Callable[[str], None], here: bool = False
) -> tuple[list[str] | None, str]:
    """pytest as a user's CI has it: a virtualenv of the run's own (in ``folder``) with
    apirun installed from this checkout, and pytest and pytest-xdist at this environment's
    versions, nothing else. This environment is a developer's: its test dependencies bring
    pytest plugins of their own (hypothesis's imports all of hypothesis in every xdist worker
    and in the controller, ~0.45 s of CPU each), which would be measured as apirun's. Without
    the package index (or with ``here``), this environment's pytest, and the table says so.
    Returns the command, or None and why there is none that can run the specs."""
    if importlib.util.find_spec("pytest") is None:
        return None, "pytest is not installed (pip install -e '.[test]')"
    if importlib.util.find_spec("xdist") is None:
        return None, "pytest-xdist is not installed (pip install pytest-xdist)"
    if not here:
        wanted = [
            str(REPO),
            f"pytest=={importlib.metadata.version('pytest')}",
            f"pytest-xdist=={importlib.metadata.version('pytest-xdist')}",
        ]
        say("scale-out: installing apirun, pytest and pytest-xdist into a clean virtualenv")
        try:
            bin_dir = peers.venv(folder, wanted, say)
        except peers.PeerSkipped as exc:
            say(f"scale-out: no clean virtualenv ({exc}); measuring this environment's pytest")
        else:  # PYTHONPATH would put this checkout (and its egg-info) before the install
            return peers.with_env([str(bin_dir / "pytest")], unset=peers.UNSET), (
                "pytest in a clean virtualenv (apirun, pytest, pytest-xdist)"
            )
    plugins = importlib.metadata.entry_points(group="pytest11")
    if not any(entry.value == "runner.pytest_plugin" for entry in plugins):
        return None, "apirun's pytest plugin is not installed (pip install -e .)"
    script = Path(sys.executable).parent / "pytest"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)], f"this environment's pytest ({script})"
    return [sys.executable, "-m", "pytest"], f"this environment's pytest ({sys.executable} -m)"


def apirun_verdicts(report_path: Path) -> list[tuple[str, str, str]]:
    """(file's name, step, outcome) of every step of a --report-json report, in order."""
    data = json.loads(report_path.read_text())
    return [
        (file["name"], step["name"], step["outcome"])
        for file in data["files"]
        for step in file["steps"]
    ]


def raw_verdicts(path: Path) -> list[tuple[str, str]]:
    """(file's name, outcome) of every file HAND_SCALE ran, named as the spec files are."""
    passed = json.loads(path.read_text())
    return [(f"scale file {n:02d}", "passed" if ok else "failed") for n, ok in enumerate(passed)]


def no_verdicts(_path: Path) -> list:
    """The waiting rows check nothing; their exit code says they ran (Spawner.run)."""
    return []


def raw_test_verdicts(junit_path: Path) -> list[tuple[str, str]]:
    """pytest_verdicts of the HAND_TEST files, named as the spec files are."""
    return [
        (name.replace("test_scale_file_", "scale file "), outcome)
        for name, outcome in pytest_verdicts(junit_path)
    ]


def pytest_verdicts(junit_path: Path) -> list[tuple[str, str]]:
    """(test, outcome) of every test of a --junitxml report, sorted (xdist finishes in any
    order)."""
    import xml.etree.ElementTree as ElementTree

    verdicts = []
    for case in ElementTree.parse(junit_path).getroot().iter("testcase"):
        outcome = "passed"
        for kind, said in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
            if case.find(kind) is not None:
                outcome = said
        verdicts.append((case.get("name", ""), outcome))
    return sorted(verdicts)


def bench_scale(
    args: argparse.Namespace,
    folder: Path,
    spawner: Spawner,
    say: Callable[[str], None],
    stack: contextlib.ExitStack,
) -> tuple[list[str], dict[str, float]]:
    """SCALE_FILES files of SCALE_STEPS steps against a server answering after
    SCALE_DELAY_MS: serial against ``--jobs``, and serial pytest against ``pytest -n``."""
    delay = SCALE_DELAY_MS / 1000
    server = AsyncioServer(["--delay", str(SCALE_DELAY_MS)])
    stack.callback(server.stop)
    check_server(server.url)
    together = check_concurrency(server.url, delay, SCALE_JOBS)
    say(
        f"scale-out server: {server.kind} at {server.url}; {SCALE_JOBS} concurrent clients "
        f"answered twice in {together * 1e3:.0f} ms"
    )
    root = folder / "scale"
    specs, warm = root / "specs", root / "warm"
    specs.mkdir(parents=True)
    warm.mkdir()
    for number in range(SCALE_FILES):
        name = f"test_scale_{number:02d}.yaml"
        text = scale_spec_text(server.url, number, SCALE_STEPS)
        (specs / name).write_text(text)
        if number < 2:
            (warm / name).write_text(text)
    tests = root / "tests"  # the same suite as hand-written pytest tests
    tests.mkdir()
    for number in range(SCALE_FILES):
        (tests / f"test_hand_{number:02d}.py").write_text(
            HAND_TEST.format(
                base=server.url,
                token=bench_server.TOKEN,
                timeout=TIMEOUT,
                number=number,
                steps=SCALE_STEPS,
            )
        )
    hand = root / "hand_scale.py"
    hand.write_text(HAND_SCALE.format(timeout=TIMEOUT, token=bench_server.TOKEN))
    wait_seconds = SCALE_STEPS * delay  # what the server makes one file wait
    waits = root / "waits"  # the same suite as pytest tests that only wait
    waits.mkdir()
    for number in range(SCALE_FILES):
        (waits / f"test_wait_{number:02d}.py").write_text(
            WAIT_TEST.format(number=number, seconds=wait_seconds)
        )
    wait = root / "wait_scale.py"
    wait.write_text(WAIT_SCALE)
    ini = root / "pytest.ini"
    ini.write_text(PYTEST_INI)
    apirun, _label = apirun_command()
    pytest, pytest_label = pytest_command(root / "venv", say, args.scale_here)
    log = folder / "child.log"

    def apirun_argv(jobs: int, where: Path, report_name: str) -> list[str]:
        return [*apirun, str(where), "--jobs", str(jobs), "--report-json", str(root / report_name)]

    def pytest_argv(workers: int, where: Path, report_name: str, *more: str) -> list[str]:
        assert pytest is not None
        argv = [
            *pytest,
            "-c",
            str(ini),
            "--rootdir",
            str(root),
            "--junitxml",
            str(root / report_name),
            *more,
        ]
        return [*argv, *(["-n", str(workers)] if workers else []), str(where)]

    def raw_pytest_argv(workers: int, report_name: str, where: Path = tests) -> list[str]:
        return pytest_argv(workers, where, report_name, "-p", f"no:{PLUGIN}")

    def wait_argv(jobs: int) -> list[str]:
        return [sys.executable, str(wait), str(SCALE_FILES), str(wait_seconds), str(jobs)]

    def raw_argv(jobs: int, report_name: str) -> list[str]:
        files, steps = str(SCALE_FILES), str(SCALE_STEPS)
        return [
            sys.executable,
            str(hand),
            server.url,
            files,
            steps,
            str(jobs),
            str(root / report_name),
        ]

    # (label, argv, report file, parser of the verdicts)
    runs: list[tuple[str, list[str], Path, Callable[[Path], list]]] = [
        ("apirun DIR", apirun_argv(1, specs, "serial.json"), root / "serial.json", apirun_verdicts),
        (
            f"apirun DIR --jobs {SCALE_JOBS}",
            apirun_argv(SCALE_JOBS, specs, "jobs.json"),
            root / "jobs.json",
            apirun_verdicts,
        ),
        (RAW_SERIAL, raw_argv(1, "raw.json"), root / "raw.json", raw_verdicts),
        (RAW_JOBS, raw_argv(SCALE_JOBS, "raw_jobs.json"), root / "raw_jobs.json", raw_verdicts),
        (WAIT_SERIAL, wait_argv(1), wait, no_verdicts),
        (WAIT_JOBS, wait_argv(SCALE_JOBS), wait, no_verdicts),
    ]
    if pytest is not None:
        runs += [
            (
                "pytest DIR",
                pytest_argv(0, specs, "serial.xml"),
                root / "serial.xml",
                pytest_verdicts,
            ),
            (
                f"pytest -n {SCALE_WORKERS} DIR",
                pytest_argv(SCALE_WORKERS, specs, "workers.xml"),
                root / "workers.xml",
                pytest_verdicts,
            ),
            (RAW_PYTEST, raw_pytest_argv(0, "raw.xml"), root / "raw.xml", raw_test_verdicts),
            (
                RAW_PYTEST_N,
                raw_pytest_argv(SCALE_WORKERS, "raw_workers.xml"),
                root / "raw_workers.xml",
                raw_test_verdicts,
            ),
            (WAIT_PYTEST, raw_pytest_argv(0, "wait.xml", waits), root / "wait.xml", no_verdicts),
            (
                WAIT_PYTEST_N,
                raw_pytest_argv(SCALE_WORKERS, "wait_workers.xml", waits),
                root / "wait_workers.xml",
                no_verdicts,
            ),
        ]
    else:
        say(f"pytest rows skipped: {pytest_label}")

    # Warm-up on two files (bytecode of apirun --jobs, pytest, xdist and the plugin), which
    # also shows the plugin is loaded from its entry point.
    spawner.run(apirun_argv(2, warm, "warm.json"), log)
    if pytest is not None:
        spawner.run(pytest_argv(2, warm, "warm.xml"), log)
        if not pytest_verdicts(root / "warm.xml") == [
            (f"scale file {n:02d}", "passed") for n in range(2)
        ]:
            raise BenchError(f"pytest did not run the specs: {log.read_text()[-2000:]}")
        # pytest rewrites the asserts of the raw tests once, into the bytecode cache
        spawner.run([*raw_pytest_argv(0, "warm.xml"), "--collect-only"], log)
        spawner.run([*raw_pytest_argv(0, "warm.xml", waits), "--collect-only"], log)
    say(f"scale-out warm-up done; {len(runs)} commands x {args.scale_rounds} rounds follow")

    series = {label: Series() for label, *_ in runs}
    verdicts: dict[str, list] = {}
    for round_number in range(args.scale_rounds):
        order = runs if round_number % 2 == 0 else runs[::-1]
        for label, argv, report_path, parse in order:
            series[label].samples.append(spawner.run(argv, log))
            found = parse(report_path)
            if verdicts.setdefault(label, found) != found:
                raise BenchError(f"{label}: the verdicts changed between rounds")
        say(f"scale-out round {round_number + 1}/{args.scale_rounds} done")

    out = [
        "",
        f"Scale-out: {SCALE_FILES} files x {SCALE_STEPS} GET steps (status, $.users[0].name), "
        f"server answering after {SCALE_DELAY_MS} ms ({SCALE_JOBS} concurrent clients answered "
        f"twice in {together * 1e3:.0f} ms); {args.scale_rounds} round(s), medians",
        *([f"  pytest: {pytest_label}"] if pytest is not None else []),
        f"  {'command':<26}{'wall ms':>10}{'[min-max]':>14}{'CPU ms':>9}{'peak MB':>9}",
    ]
    for label, *_ in runs:
        s = series[label]
        out.append(f"  {label:<26}{s.wall:>10.0f}{s.spread:>14}{s.cpu:>9.0f}{s.memory_mb:>9.1f}")
    ratios: dict[str, float] = {}
    steps = SCALE_FILES * SCALE_STEPS
    serial, jobs = verdicts["apirun DIR"], verdicts[f"apirun DIR --jobs {SCALE_JOBS}"]
    passed = sum(1 for *_, outcome in serial if outcome == "passed")
    same = "identical" if serial == jobs else "DIFFERENT"
    by_file: dict[str, bool] = {}
    for file, _step, outcome in serial:
        by_file[file] = by_file.get(file, True) and outcome == "passed"
    apirun_files = sorted((f, "passed" if ok else "failed") for f, ok in by_file.items())
    raw_agree = verdicts[RAW_SERIAL] == verdicts[RAW_JOBS] == apirun_files
    ratios["jobs"] = series["apirun DIR"].wall / series[f"apirun DIR --jobs {SCALE_JOBS}"].wall
    ratios["jobs raw"] = series[RAW_SERIAL].wall / series[RAW_JOBS].wall
    out.append(
        f"  --jobs {SCALE_JOBS} / serial: {fmt_speedup(ratios['jobs'], TARGETS['jobs'])}; "
        f"per-step verdicts {same} ({passed} of {steps} steps passed serially)"
    )
    out.append(
        f"  the raw loop, {SCALE_JOBS} threads / serial: {ratios['jobs raw']:5.2f}x faster; "
        f"apirun's speed-up is {ratios['jobs'] / ratios['jobs raw']:.2f} of it"
    )
    waves = -(-SCALE_FILES // SCALE_JOBS)
    ratios["jobs wait"] = series[WAIT_SERIAL].wall / series[WAIT_JOBS].wall
    waiting = [
        f"  the same files only waiting {wait_seconds:.1f} s each, after importing requests: "
        f"{SCALE_JOBS} threads / serial {ratios['jobs wait']:5.2f}x; the threads' run takes "
        f"{series[WAIT_JOBS].wall - waves * wait_seconds * 1000:.0f} ms more than the busiest "
        f"one's {waves} files wait"
    ]
    if pytest is not None:
        serial_p = verdicts["pytest DIR"]
        workers_p = verdicts[f"pytest -n {SCALE_WORKERS} DIR"]
        files_passed = sum(1 for _, outcome in serial_p if outcome == "passed")
        agree = serial_p == workers_p == apirun_files
        raw_agree = raw_agree and verdicts[RAW_PYTEST] == verdicts[RAW_PYTEST_N] == apirun_files
        ratios["pytest"] = series["pytest DIR"].wall / series[f"pytest -n {SCALE_WORKERS} DIR"].wall
        ratios["pytest raw"] = series[RAW_PYTEST].wall / series[RAW_PYTEST_N].wall
        out.append(
            f"  pytest -n {SCALE_WORKERS} / serial pytest: "
            f"{fmt_speedup(ratios['pytest'], TARGETS['pytest'])}; verdicts "
            f"{'identical' if agree else 'DIFFERENT'} ({files_passed} of {SCALE_FILES} files "
            "passed serially)"
        )
        out.append(
            f"  the raw tests, pytest -n {SCALE_WORKERS} / serial: {ratios['pytest raw']:5.2f}x "
            f"faster; apirun's speed-up is {ratios['pytest'] / ratios['pytest raw']:.2f} of it"
        )
        pwaves = -(-SCALE_FILES // SCALE_WORKERS)
        ratios["pytest wait"] = series[WAIT_PYTEST].wall / series[WAIT_PYTEST_N].wall
        waiting.append(
            f"  the same as waiting tests: pytest -n {SCALE_WORKERS} / serial "
            f"{ratios['pytest wait']:5.2f}x; the workers' run takes "
            f"{series[WAIT_PYTEST_N].wall - pwaves * wait_seconds * 1000:.0f} ms more than the "
            f"busiest one's {pwaves} tests wait ({os.cpu_count()} CPUs)"
        )
        pytest_best = best_speedup(
            series["pytest DIR"].wall,
            series[WAIT_PYTEST].wall,
            series[WAIT_PYTEST_N].wall,
            pwaves,
            wait_seconds,
        )
        ratios["pytest best"] = pytest_best
    else:
        out.append(f"  pytest rows skipped: {pytest_label}")
    out += waiting
    ratios["jobs best"] = best_speedup(
        series["apirun DIR"].wall,
        series[WAIT_SERIAL].wall,
        series[WAIT_JOBS].wall,
        waves,
        wait_seconds,
    )
    out.append(
        f"  at best on this machine in this run: --jobs {SCALE_JOBS} {ratios['jobs best']:.2f}x"
        + (
            f", pytest -n {SCALE_WORKERS} {ratios['pytest best']:.2f}x"
            if pytest is not None
            else ""
        )
        + " (apirun's serial time per file for the busiest one's files, plus what going "
        "parallel cost the waiting files)"
    )
    if same != "identical" or not raw_agree or (pytest is not None and not agree):
        raise BenchError("\n".join([*out, "the verdicts differ between serial and parallel runs"]))
    out += noise_note(series.values())
    return out, ratios


def best_speedup(
    serial_ms: float, wait_serial_ms: float, wait_parallel_ms: float, waves: int, wait_s: float
) -> float:
    """The speed-up a parallel run would reach if it cost no more than the waiting files'
    parallel run beyond their wait: the busiest thread's (or worker's) ``waves`` files at
    the serial run's time per file, plus that cost. The serial time per file leaves out
    the waiting serial run's start (the interpreter and requests), which is less than
    apirun's, so it is a little high and this a little low: when it is below a target, no
    run of this suite on this machine at this moment meets the target."""
    files = SCALE_FILES
    start = max(0.0, wait_serial_ms - files * wait_s * 1000)
    per_file = (serial_ms - start) / files
    fixed = wait_parallel_ms - waves * wait_s * 1000
    return serial_ms / (waves * per_file + fixed)


def machine_lines(servers: Sequence[Server]) -> list[str]:
    lines = [
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    ]
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                lines[0] += f", {line.split(':', 1)[1].strip()}"
                break
    versions = [f"Python {platform.python_version()}"]
    for name in (
        "requests",
        "urllib3",
        "Jinja2",
        "jsonpath-ng",
        "PyYAML",
        "pytest",
        "pytest-xdist",
    ):
        with contextlib.suppress(Exception):
            versions.append(f"{name} {importlib.metadata.version(name)}")
    lines.append("versions: " + ", ".join(versions))
    commit = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    ).stdout.strip()
    lines.append(f"apirun checkout: {commit or 'unknown'}")
    lines += [f"server: {server.kind} at {server.url}" for server in servers]
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python bench/run.py",
        description="Benchmark apirun against a hand-written requests.Session loop.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="rounds per measure (default 7; --quick 3)"
    )
    parser.add_argument(
        "--n",
        type=int,
        default=None,
        help="GET steps of the big workload (default 500; --quick 200)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke test: fewer rounds, smaller N"
    )
    parser.add_argument(
        "--server",
        choices=("auto", "asyncio", "nginx"),
        default="auto",
        help="auto: nginx when installed, else bench/server.py",
    )
    parser.add_argument(
        "--nginx-binary",
        metavar="PATH",
        help="the nginx to use (default: nginx on PATH, or /usr/sbin/nginx)",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="also measure gabbi, Tavern and Step CI, installed into the temporary folder "
        "(needs pip's index, and npm for Step CI); see bench/README.md",
    )
    parser.add_argument(
        "--no-tls", action="store_true", help="leave out the TLS row (HTTPS, 200 requests)"
    )
    parser.add_argument(
        "--no-scale",
        action="store_true",
        help="leave out the scale-out rows (--jobs 8 and pytest -n 4 on a 20 ms server)",
    )
    parser.add_argument(
        "--only",
        metavar="SECTION[,SECTION]",
        help=f"run only these sections, of: {', '.join(SECTIONS)} (workload: the main table, "
        "load and start-up)",
    )
    parser.add_argument(
        "--scale-here",
        action="store_true",
        help="run the scale-out pytest rows with this environment's pytest, not in a clean "
        "virtualenv (which needs the package index; see bench/README.md)",
    )
    parser.add_argument(
        "--scale-rounds",
        type=int,
        default=None,
        help="rounds of the scale-out rows (default 3; --quick 1): each takes ~25 s, mostly "
        "the serial runs waiting on the 20 ms server",
    )
    args = parser.parse_args(argv)
    if args.only is not None:
        args.sections = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in args.sections if name not in SECTIONS]
        if unknown or not args.sections:
            parser.error(f"--only takes sections among {', '.join(SECTIONS)}")
    else:
        args.sections = list(SECTIONS)
    if args.no_tls:
        args.sections = [name for name in args.sections if name != "tls"]
    if args.no_scale:
        args.sections = [name for name in args.sections if name != "scale"]
    if not args.sections:
        parser.error("nothing left to run")
    args.scale_rounds = (
        args.scale_rounds if args.scale_rounds is not None else (1 if args.quick else 3)
    )
    if not 1 <= args.scale_rounds <= 20:
        parser.error("--scale-rounds must be between 1 and 20")
    args.tls_rounds = args.rounds if args.rounds is not None else (2 if args.quick else 7)
    args.rounds = args.rounds if args.rounds is not None else (3 if args.quick else 7)
    args.n = args.n if args.n is not None else (200 if args.quick else 500)
    if not 1 <= args.rounds <= 100:
        parser.error("--rounds must be between 1 and 100")
    if not 2 <= args.n <= 20000:
        parser.error("--n must be between 2 and 20000")
    args.load_sizes = (500, 5000)
    return args


@contextlib.contextmanager
def signals_as_exit() -> Iterator[None]:
    """SIGTERM / SIGHUP end the run through the normal ``finally`` clean-up, like Ctrl-C."""

    def handler(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {text}", file=sys.stderr, flush=True)

    spawner: Spawner | None = None
    with (
        signals_as_exit(),
        tempfile.TemporaryDirectory(prefix="apirun-bench-") as temp,
        contextlib.ExitStack() as stack,  # every server started, stopped however we leave
    ):
        try:
            folder = Path(temp)
            servers: list[Server] = []
            spawner = Spawner(child_env(folder))
            lines: list[str] = []
            if "workload" in args.sections:
                server = start_server(args.server, folder, args.nginx_binary)
                stack.callback(server.stop)
                servers.append(server)
                say(f"server: {server.kind} at {server.url}")
                results = bench(args, folder, server, spawner, say)
                lines += report(results, args, server)
            if "tls" in args.sections:
                more, _ratios = bench_tls(args, folder, spawner, say, stack)
                lines += more
            if "scale" in args.sections:
                more, _ratios = bench_scale(args, folder, spawner, say, stack)
                lines += more
            lines = machine_lines(servers) + lines
            lines.append("")
            lines.append(
                f"Peak memory is each child's ru_maxrss from wait4(), spawned by a "
                f"{spawner.floor_kb / 1024:.1f} MB helper (a child never measures below it)."
            )
            lines.append(
                "Children run with bytecode cached in a temporary PYTHONPYCACHEPREFIX, "
                "filled by the warm-up."
            )
            print("\n".join(lines), flush=True)
        except BenchError as exc:
            print(f"bench/run.py: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("bench/run.py: interrupted; servers stopped", file=sys.stderr)
            return 130
        finally:  # the spawner (and a child it runs) first, then the stack stops the servers
            if spawner is not None:
                spawner.stop()
    say("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
