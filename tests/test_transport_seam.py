"""The transport seam: RunOptions.transport gives each file its transport, and the engine
sends through whatever it is given (runner/wire.py)."""

from __future__ import annotations

from helpers import write_spec

from runner import RunOptions, load_file, run_specs
from runner.errors import TransportError
from runner.messages import Headers, HttpRequest, Response, SentRequest
from runner.results import Outcome
from runner.wire import Transport, TransportSettings, network

SPEC = """
name: seam
base_url: {base}
steps:
  - name: login
    request:
      method: POST
      url: /v3/auth/tokens
      json:
        auth:
          identity:
            methods: [password]
            password: {{user: {{name: admin, password: "000000", domain: {{name: demo}}}}}}
    expect: {{status: 201}}
    capture: {{token: {{header: X-Subject-Token}}}}
  - name: users
    request: {{url: /v3/users, headers: {{X-Auth-Token: "{{{{ token }}}}"}}}}
    expect:
      status: 200
      jsonpath:
        $.users[*].name: {{contains: admin}}
"""


class Recording:
    """Records every request and forwards it to the network transport."""

    def __init__(self, settings: TransportSettings, log: list):
        self.inner = network(settings)
        self.log = log
        log.append(("open", settings.base_url))

    def send(self, request: HttpRequest) -> tuple[SentRequest, Response]:
        self.log.append((request.method, request.url))
        return self.inner.send(request)

    def close(self) -> None:
        self.log.append(("close", None))
        self.inner.close()


def test_a_recording_transport_sees_every_request_and_forwards_it(srv, tmp_path):
    spec = load_file(write_spec(tmp_path, SPEC.format(base=f"{srv.url}")))
    log: list = []

    def factory(settings: TransportSettings) -> Transport:
        return Recording(settings, log)

    result = run_specs([spec, spec], RunOptions(transport=factory), jobs=1)

    assert result.exit_code == 0
    one_file = [
        ("open", srv.url),
        ("POST", f"{srv.url}/v3/auth/tokens"),
        ("GET", f"{srv.url}/v3/users"),
        ("close", None),
    ]
    assert log == one_file * 2  # a transport per file, closed when the file is done
    assert [(r.method, r.path) for r in srv.app.requests] == [
        ("POST", "/v3/auth/tokens"),
        ("GET", "/v3/users"),
    ] * 2


class Canned:
    """Answers every request itself: nothing reaches a socket."""

    def __init__(self, settings: TransportSettings):
        self.sent: list[HttpRequest] = []

    def send(self, request: HttpRequest) -> tuple[SentRequest, Response]:
        self.sent.append(request)
        if request.url.endswith("/auth/tokens"):
            status, headers, body = 201, [("X-Subject-Token", "canned-token")], b"{}"
        elif request.headers.get("X-Auth-Token") != "canned-token":
            raise TransportError("the canned transport refuses requests without its token")
        else:
            status, headers, body = 200, [], b'{"users": [{"name": "admin"}]}'
        sent = SentRequest(
            request.method, request.url, Headers(list(request.headers.items())), None
        )
        response = Response(status, "OK", request.url, Headers(headers), body, 1.0)
        return sent, response

    def close(self) -> None:
        pass


def test_the_engine_runs_on_a_transport_that_never_touches_the_network(srv, tmp_path):
    spec = load_file(write_spec(tmp_path, SPEC.format(base="http://127.0.0.1:9")))
    made: list[Canned] = []

    def factory(settings: TransportSettings) -> Transport:
        made.append(Canned(settings))
        return made[-1]

    result = run_specs([spec], RunOptions(transport=factory))

    assert result.exit_code == 0
    assert [s.outcome for s in result.files[0].steps] == [Outcome.PASSED, Outcome.PASSED]
    assert [r.url for r in made[0].sent] == [
        "http://127.0.0.1:9/v3/auth/tokens",
        "http://127.0.0.1:9/v3/users",
    ]
    assert made[0].sent[1].headers["X-Auth-Token"] == "canned-token"
    assert srv.app.requests == []


def test_a_transport_error_is_the_steps_error(tmp_path):
    spec = load_file(write_spec(tmp_path, SPEC.format(base="http://127.0.0.1:9")))

    class Refusing(Canned):
        def send(self, request: HttpRequest) -> tuple[SentRequest, Response]:
            raise TransportError("refused by the test transport")

    result = run_specs([spec], RunOptions(transport=Refusing))
    first = result.files[0].steps[0]
    assert result.exit_code == 1
    assert (first.outcome, first.error.message) == (Outcome.ERROR, "refused by the test transport")
