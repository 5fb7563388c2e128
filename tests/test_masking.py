"""Secrets stay secret in every form they are written in, and nothing else is masked.

Each test runs the real command against the test server, makes the step fail (so the
request and response are printed) and reads the console, the JUnit, JSON and HTML reports
and the curl export, both ways: no form of the secret anywhere, and timestamps, status
codes, step names and expected values intact.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import parse_qs, quote, quote_plus

import pytest

try:
    from .helpers import run_cli, write_spec
except ImportError:  # tests/ is a plain directory
    from helpers import run_cli, write_spec

PASSWORD = 'Pä"ss hunter2 is secret'  # non-ASCII, a quote and spaces: every encoding differs
TOKEN = "gAAAAB" + "x7Kq9" * 35 + "Zz"  # 183 characters, as a Keystone Fernet token


def run_all_outputs(capsys, tmp_path: Path, path: Path, *args: str) -> tuple[int, str]:
    """Console (-v) plus every report, as one text to search."""
    reports = {
        "--junit": tmp_path / "junit.xml",
        "--report-json": tmp_path / "report.json",
        "--report-html": tmp_path / "report.html",
        "--curl": tmp_path / "replay.sh",
    }
    options = [item for pair in reports.items() for item in (pair[0], str(pair[1]))]
    result = run_cli(capsys, "-v", *options, *args, str(path))
    texts = [result.text] + [p.read_text(encoding="utf-8") for p in reports.values()]
    return result.code, "\n".join(texts)


def forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [
        secret,
        json.dumps(secret)[1:-1],  # P\u00e4\"ss ...
        json.dumps(secret, ensure_ascii=False)[1:-1],  # Pä\"ss ...
        quote(secret, safe=""),  # P%C3%A4%22ss%20...
        quote_plus(secret),  # P%C3%A4%22ss+hunter2+is+secret
        base64.b64encode(raw).decode(),
    ]


def test_a_secret_is_hidden_raw_json_escaped_url_and_form_encoded_and_in_base64(
    srv, tmp_path, capsys
):
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        vars:
          password: 'PASSWORD'
        steps:
          - name: every encoding
            request:
              method: POST
              url: /echo
              params: {p: "{{ password }}"}
              headers: {X-Plain: "{{ password | b64encode }}"}
              json: {auth: {password: "{{ password }}"}}
            expect: {status: 299}
            continue_on_failure: true
          - name: as a form
            request:
              method: POST
              url: /echo
              form: {password: "{{ password }}"}
            expect: {status: 299}
        """.replace("PASSWORD", PASSWORD),
        base=srv.url,
    )
    code, text = run_all_outputs(capsys, tmp_path, path)
    assert code == 1
    received = srv.app.requests
    assert received[0].json() == {"auth": {"password": PASSWORD}}  # the server got it all
    assert parse_qs(received[1].text) == {"password": [PASSWORD]}
    for form in forms(PASSWORD):
        assert form not in text, form
    assert "***" in text
    assert "every encoding" in text and "expected 299, got 200" in text


def test_a_long_token_cut_by_a_value_limit_is_hidden_before_the_cut(srv, tmp_path, capsys):
    # The 300-character value limit once cut a 183-character token, then masked nothing.
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: login
            request: {url: "/headers?X-Subject-Token=TOKEN"}
            capture: {token: {header: X-Subject-Token}}
          - name: echo it
            request:
              method: POST
              url: /echo
              json: {blob: "PADDING {{ token }}"}
            expect:
              jsonpath:
                $.json.blob: {equals: short}
        """.replace("TOKEN", TOKEN).replace("PADDING", "a" * 250),
        base=srv.url,
    )
    code, text = run_all_outputs(capsys, tmp_path, path)
    assert code == 1
    assert "…" in text  # the value was cut
    assert TOKEN[:12] not in text  # and not even the token's start shows
    assert 'expected "short"' in text


def test_a_short_secret_masks_only_where_it_stands_alone(srv, tmp_path, capsys):
    # The demo password 000000 once made Keystone timestamps ".***Z" and "expected 2***,
    # got 1***"; a noauth token 'admin' made a step name "a non-*** is refused".
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        vars: {password: "000000"}
        steps:
          - name: a non-admin is refused
            request:
              method: POST
              url: /echo
              headers: {X-Auth-Token: admin}
              json:
                password: "{{ password }}"
                created: "2026-12-02T10:00:00.000000Z"
                role: admin
                note: "sysadmin 1000000"
            expect: {status: 401}
        """,
        base=srv.url,
    )
    code, text = run_all_outputs(capsys, tmp_path, path)
    assert code == 1
    assert "a non-admin is refused" in text  # the spec's own words, as written
    assert "2026-12-02T10:00:00.000000Z" in text  # a fragment of a timestamp is not a value
    assert "expected 401, got 200" in text
    assert "sysadmin 1000000" in text  # nor is part of a longer word or number
    assert '"password": "000000"' not in text and '"role": "admin"' not in text
    assert "X-Auth-Token: ***" in text


def test_secret_looking_environment_variables_are_hidden(srv, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("APIRUN_TEST_GITHUB_TOKEN", "ghp_s3cr3tFromTheEnvironment")
    monkeypatch.setenv("APIRUN_TEST_API_KEY", "k3y-from-the-environment")
    monkeypatch.setenv("KEYSTONE_TEST_URL", "http://127.0.0.1:5000/v3")  # KEY in a word: shown
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        steps:
          - name: exfiltrate
            request:
              url: /echo
              params:
                a: "{{ env.APIRUN_TEST_GITHUB_TOKEN }}"
                b: "{{ env.APIRUN_TEST_API_KEY }}"
                c: "{{ env.KEYSTONE_TEST_URL }}"
            expect: {status: 299}
        """,
        base=srv.url,
    )
    code, text = run_all_outputs(capsys, tmp_path, path)
    assert code == 1
    assert srv.app.last.query["a"] == ["ghp_s3cr3tFromTheEnvironment"]
    assert "s3cr3tFromTheEnvironment" not in text
    assert "k3y-from-the-environment" not in text
    assert "127.0.0.1:5000/v3" in text or "127.0.0.1%3A5000%2Fv3" in text


@pytest.mark.parametrize(
    ("header", "shown"),
    [
        ("X-API-Key", "X-API-Key: ***"),
        ("X-Service-Token", "X-Service-Token: ***"),
        ("Proxy-Authorization", "Proxy-Authorization: ***"),
        ("Cookie", "Cookie: sid=***"),
    ],
)
def test_credential_headers_are_hidden_by_their_name(srv, tmp_path, capsys, header, shown):
    value = "sid=L0ngSessionValue77" if header == "Cookie" else "L0ngSessionValue77"
    path = write_spec(
        tmp_path,
        f"""
        base_url: "{{base}}"
        steps:
          - name: send it
            request:
              url: /echo
              headers: {{{header}: "{value}"}}
            expect: {{status: 299}}
        """,
        base=srv.url,
    )
    code, text = run_all_outputs(capsys, tmp_path, path)
    assert code == 1
    assert srv.app.last.headers[header.lower()] == value
    assert "L0ngSessionValue77" not in text  # in the header and in the echoed body
    assert shown in text


def test_session_cookies_and_secret_named_variables_and_lists_are_hidden(srv, tmp_path, capsys):
    path = write_spec(
        tmp_path,
        """
        base_url: "{base}"
        vars:
          api_key: ApiKeyValue123
          passwd: PasswdValue123
          credential: CredentialValue1
          app_secret: AppSecretValue1
        steps:
          - name: session
            request: {url: /cookies/set, params: {session: Cookie5essionValue}}
            capture:
              tokens: {jsonpath: "$.cookies.*"}
          - name: leak them
            request:
              method: POST
              url: /echo
              json:
                - "{{ api_key }}"
                - "{{ passwd }}"
                - "{{ credential }}"
                - "{{ app_secret }}"
                - "{{ tokens }}"
            expect: {status: 299}
        """,
        base=srv.url,
    )
    code, text = run_all_outputs(capsys, tmp_path, path)
    assert code == 1
    assert srv.app.last.headers["cookie"] == "session=Cookie5essionValue"
    for value in ("ApiKeyValue123", "PasswdValue123", "CredentialValue1", "AppSecretValue1"):
        assert value not in text, value
    assert "Cookie5essionValue" not in text
    assert "leak them" in text


def test_a_masker_masks_as_mask_does():
    """``masker`` (a report's many strings, one set of secrets) gives what ``mask`` gives."""
    from runner.masking import mask, masker

    secret, short = "s3cr3t-t0ken-value", "abc"
    texts = [
        "",
        "nothing here",
        f"token {secret} in the middle",
        f"url?t={quote(secret)}&x={quote_plus(secret)}",
        json.dumps({"t": secret}),
        base64.b64encode(f"user:{secret}".encode()).decode(),
        f"cut {secret[:10]}…",
        "a cut ordinary value…",
        f"{short} alone, and inside {short}def",
        f"the spec's own name_{secret} kept, {secret} not",
    ]
    for secrets in ([secret], [secret, short], ["ab"], []):
        for keep in ((), (f"name_{secret}",)):
            fast = masker(secrets, keep)
            for text in texts:
                assert fast(text) == mask(text, secrets, keep), (secrets, keep, text)


SECRETS_FOR_JSON = [PASSWORD, TOKEN, "s3cr3t", "12345678", 'a"b\\c\n', "abc"]


def _json_values():
    from hypothesis import strategies as st

    cut = TOKEN[:40] + "…"  # a value cut short by a truncation: its start is masked
    pieces = st.sampled_from(
        ["x", " ", '"', "\\", "\n", "…", "ä", "=", "/", cut, *SECRETS_FOR_JSON]
    )
    text = st.lists(pieces, max_size=6).map("".join)
    scalars = st.one_of(
        text,
        st.integers(),
        st.sampled_from([12345678, 1.5, float("nan"), float("inf"), True, None]),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)
        ),
        max_leaves=12,
    )


def test_json_text_without_a_secret_needs_no_masking():
    """The JSON report encodes a file once and masks only when its text may show a secret
    (may_hold_secret): whenever that says no, masking every value would change nothing.
    And it says yes for every secret written anywhere in the data, in any form."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from runner.masking import masker, may_hold_secret
    from runner.report.json_report import _masked

    @settings(max_examples=400, deadline=None)
    @given(_json_values(), st.sets(st.sampled_from(SECRETS_FOR_JSON), max_size=3))
    def check(value, secrets):
        text = json.dumps(value, indent=2, ensure_ascii=False)
        hidden = tuple(secrets)
        walked = json.dumps(_masked(value, hidden, masker(hidden)), indent=2, ensure_ascii=False)
        if not may_hold_secret(text, secrets):
            assert walked == text

    check()
    for secret in SECRETS_FOR_JSON:
        for form in (secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()):
            text = json.dumps({"k": f"before {form} after"}, ensure_ascii=False)
            assert may_hold_secret(text, [secret]) == (len(secret) >= 3), (secret, form)
            assert may_hold_secret(json.dumps({form: 1}, ensure_ascii=False), [secret])
