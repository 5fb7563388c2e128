"""Request payloads from disk and bytes (issue 12, Requests): ``data: {file: PATH}``, bytes from
``b64decode``, multipart ``files:`` with ``form``, and TLS client certificates (``cert:``).

Each test drives the real command against a real server on 127.0.0.1 and asserts what the
server received: the bytes, the parts and their filenames, the client certificate's subject.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.server
import ipaddress
import os
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import apirun_command, assert_points, line_of, run_cli, run_process, write_spec

ROOT = Path(__file__).resolve().parent.parent

LOOPBACK = "127.0.0.1"
ALL_BYTES = bytes(range(256)) * 64 + b"\r\n\x00end"  # every byte value, CR LF and NUL


def _body_line(path: Path) -> int:
    return line_of(path, "data:")


# -- data: {file: PATH} --------------------------------------------------------------------------


def test_a_file_body_arrives_byte_for_byte_as_octet_stream(srv, tmp_path, capsys):
    (tmp_path / "blobs").mkdir()
    (tmp_path / "blobs" / "image.bin").write_bytes(ALL_BYTES)
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        defaults: {headers: {Content-Type: application/json}}  # meant for JSON steps only
        steps:
          - name: upload
            request:
              method: PUT
              url: /echo
              data: {file: blobs/image.bin}
        """,
        base=srv.url,
    )

    result = run_cli(capsys, str(spec))

    assert result.code == 0, result.text
    received = srv.app.last
    assert received.body == ALL_BYTES
    assert received.headers["content-type"] == "application/octet-stream"
    assert received.headers["content-length"] == str(len(ALL_BYTES))  # sized, not chunked
    assert "transfer-encoding" not in received.headers


def test_the_steps_own_content_type_wins_for_a_file_body(srv, tmp_path, capsys):
    (tmp_path / "disk.qcow2").write_bytes(b"QFI\xfb" + bytes(100))
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: upload
            request:
              method: PUT
              url: /echo
              headers: {content-type: application/x-qemu-disk}
              data: {file: disk.qcow2}
        """,
        base=srv.url,
    )

    result = run_cli(capsys, str(spec))

    assert result.code == 0, result.text
    assert srv.app.last.headers["content-type"] == "application/x-qemu-disk"
    assert srv.app.last.body == b"QFI\xfb" + bytes(100)


def test_a_missing_file_is_a_spec_error_and_nothing_is_sent(srv, tmp_path, capsys):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: first
            request: {url: /echo}
          - name: upload
            request:
              method: PUT
              url: /echo
              data: {file: no-such.bin}
        """,
        base=srv.url,
    )

    result = run_cli(capsys, str(spec))

    assert result.code == 2, result.text
    assert f"'data: {{file}}': no file no-such.bin (looked for {tmp_path}/no-such.bin)" in (
        result.err
    )
    assert_points(result.err, spec, _body_line(spec))
    assert srv.app.requests == []
    assert "Traceback" not in result.text


def test_data_mapping_takes_only_file(srv, tmp_path, capsys):
    (tmp_path / "x.bin").write_bytes(b"x")
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: upload
            request: {method: PUT, url: /echo, data: {file: x.bin, path: x.bin}}
        """,
        base=srv.url,
    )

    result = run_cli(capsys, "check", str(spec))

    assert result.code == 2
    assert "unknown key 'path' in 'data'" in result.err


def test_bytes_from_b64decode_are_sent_unchanged(srv, tmp_path, capsys):
    encoded = base64.b64encode(ALL_BYTES).decode().rstrip("=")  # padding may be left out
    spec = write_spec(
        tmp_path,
        f"""
        base_url: {{base}}
        vars:
          blob: "{encoded}"
        steps:
          - name: upload
            request:
              method: PUT
              url: /echo
              data: "{{{{ blob | b64decode }}}}"
        """,
        base=srv.url,
    )

    result = run_cli(capsys, str(spec))

    assert result.code == 0, result.text
    assert srv.app.last.body == ALL_BYTES
    assert srv.app.last.headers["content-type"] == "application/octet-stream"


def test_b64decode_of_text_that_is_not_base64_is_a_template_error(srv, tmp_path, capsys):
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: upload
            request: {method: PUT, url: /echo, data: "{{ 'a' | b64decode }}"}
        """,
        base=srv.url,
    )

    result = run_cli(capsys, str(spec))

    assert result.code == 2, result.text
    assert "b64decode: not base64" in result.out
    assert srv.app.requests == []


# -- large files stream from disk ---------------------------------------------------------------


class _Sink(http.server.BaseHTTPRequestHandler):
    """Reads a request body in chunks, keeps only its length and SHA-256."""

    received: list[tuple[int, str]] = []

    def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
        left = int(self.headers["Content-Length"])
        digest, size = hashlib.sha256(), 0
        while left:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
            left -= len(chunk)
        self.received.append((size, digest.hexdigest()))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def sink() -> Iterator[str]:
    _Sink.received = []
    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


def _peak_rss_mib(command: list[str]) -> tuple[int, int, str]:
    """Run a command; its exit status, its own peak RSS (MiB) and its output."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    output = process.stdout.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_maxrss // 1024, output


def test_a_large_file_streams_with_flat_memory(sink, tmp_path):
    size = 256 * 1024 * 1024
    big = tmp_path / "big.img"
    with big.open("wb") as handle:  # sparse: reads as zeros, costs no disk
        handle.truncate(size)
    spec = write_spec(
        tmp_path,
        f"""
        steps:
          - name: upload
            request: {{method: PUT, url: "{sink}/big", data: {{file: big.img}}}}
            expect: {{status: 204}}
        """,
    )

    code, peak, output = _peak_rss_mib([*apirun_command(), "--color", "never", str(spec)])

    assert code == 0, output
    assert _Sink.received == [(size, hashlib.sha256(bytes(size)).hexdigest())]
    assert peak < 128, f"apirun's peak RSS was {peak} MiB for a 256 MiB upload"


# -- multipart: files: and form: -----------------------------------------------------------------


def test_multipart_files_and_form_fields_arrive_as_parts(srv, tmp_path, capsys):
    (tmp_path / "report.csv").write_text("a,b\n1,2\n")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0JFIF")
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        vars: {who: alice}
        steps:
          - name: upload
            request:
              method: POST
              url: /echo
              form: {owner: "{{ who }}", tags: [x, y]}
              files:
                report: report.csv
                picture: {file: photo.jpg, filename: me.jpg, content_type: image/jpeg}
            expect:
              jsonpath:
                $.form.owner: alice
                $.files.report.filename: report.csv
                $.files.picture.filename: me.jpg
                $.files.picture.content_type: image/jpeg
        """,
        base=srv.url,
    )

    result = run_cli(capsys, str(spec))

    assert result.code == 0, result.text
    received = srv.app.last
    assert received.headers["content-type"].startswith("multipart/form-data; boundary=")
    body = received.body
    assert b'Content-Disposition: form-data; name="owner"\r\n\r\nalice\r\n' in body
    assert body.count(b'name="tags"') == 2
    assert (
        b'Content-Disposition: form-data; name="report"; filename="report.csv"\r\n\r\n'
        b"a,b\n1,2\n\r\n"
    ) in body
    assert (
        b'Content-Disposition: form-data; name="picture"; filename="me.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0JFIF\r\n"
    ) in body


def test_multipart_problems_are_spec_errors_with_their_line(srv, tmp_path, capsys):
    (tmp_path / "a.txt").write_text("a")
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: upload
            request:
              method: POST
              url: /echo
              json: {a: 1}
              files:
                gone: missing.txt
                odd: {file: a.txt, name: b}
                listed: [a.txt]
        """,
        base=srv.url,
    )

    result = run_cli(capsys, str(spec))

    assert result.code == 2
    err = result.err
    assert "'files' (a multipart body) goes with 'form' fields, not with 'json'" in err
    assert "'files' entry 'gone': no file missing.txt" in err
    assert_points(err, spec, line_of(spec, "gone:"))
    assert "unknown key 'name' in 'files' entry 'odd'" in err
    assert "'files' entry 'listed' takes a path or {file: PATH" in err
    assert srv.app.requests == []


# -- client certificates -------------------------------------------------------------------------


def _name(common_name: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(subject: str, issuer_key, issuer: str, *, ca: bool = False, server: bool = False):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return key, builder.sign(issuer_key or key, hashes.SHA256())


def _pem(key=None, certificate=None) -> bytes:
    from cryptography.hazmat.primitives import serialization

    out = b""
    if certificate is not None:
        out += certificate.public_bytes(serialization.Encoding.PEM)
    if key is not None:
        out += key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    return out


class _MutualTLS(http.server.BaseHTTPRequestHandler):
    subjects: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        peer = self.connection.getpeercert() or {}
        subject = ",".join(f"{k}={v}" for rdn in peer.get("subject", ()) for k, v in rdn)
        self.subjects.append(subject)
        body = subject.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


class _TLSServer(http.server.ThreadingHTTPServer):
    def __init__(self, context: ssl.SSLContext):
        super().__init__((LOOPBACK, 0), _MutualTLS)
        self.context = context

    def get_request(self):
        sock, address = self.socket.accept()
        sock.settimeout(10)
        return self.context.wrap_socket(sock, server_side=True), address

    def handle_error(self, request, client_address) -> None:
        pass  # a client without a certificate: refused in the handshake, nothing to log


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key, ca = _issue("apirun test CA", None, "apirun test CA", ca=True)
    server_key, server = _issue("apirun mtls server", ca_key, "apirun test CA", server=True)
    client_key, client = _issue("apirun-client", ca_key, "apirun test CA")
    files = {
        "ca": _pem(certificate=ca),
        "server": _pem(certificate=server),
        "server_key": _pem(key=server_key),
        "client": _pem(certificate=client),
        "client_key": _pem(key=client_key),
        "client_both": _pem(key=client_key, certificate=client),
    }
    paths = {}
    for name, data in files.items():
        paths[name] = folder / f"{name}.pem"
        paths[name].write_bytes(data)
    return paths


@pytest.fixture
def mtls(pki) -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 that requires a client certificate from the test CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server"], pki["server_key"])
    context.load_verify_locations(pki["ca"])
    context.verify_mode = ssl.CERT_REQUIRED
    _MutualTLS.subjects = []
    server = _TLSServer(context)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"https://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


def _mtls_spec(folder: Path, url: str, ca: Path, request_cert: str = "", defaults: str = ""):
    return write_spec(
        folder,
        f"""
        defaults:
          verify: {ca}
          {defaults}
        steps:
          - name: call
            request:
              url: {url}/whoami
              {request_cert}
            expect:
              body: {{contains: commonName=apirun-client}}
        """,
    )


@pytest.mark.parametrize(
    "where",
    ["step-one-pem", "step-cert-and-key", "defaults"],
)
def test_the_client_certificate_reaches_the_server(mtls, pki, tmp_path, capsys, where):
    one, pair = str(pki["client_both"]), f"{{cert: {pki['client']}, key: {pki['client_key']}}}"
    request_cert = {"step-one-pem": f"cert: {one}", "step-cert-and-key": f"cert: {pair}"}
    spec = _mtls_spec(
        tmp_path,
        mtls,
        pki["ca"],
        request_cert=request_cert.get(where, ""),
        defaults=f"cert: {pair}" if where == "defaults" else "",
    )

    result = run_cli(capsys, str(spec))

    assert result.code == 0, result.text
    assert _MutualTLS.subjects == ["commonName=apirun-client"]


def test_the_clouds_cert_and_key_are_used_with_os_cloud(mtls, pki, tmp_path, capsys, monkeypatch):
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n  mtls:\n"
        f"    auth: {{auth_url: '{mtls}/v3'}}\n"
        f"    cacert: {pki['ca']}\n    cert: {pki['client']}\n    key: {pki['client_key']}\n"
    )
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    spec = write_spec(
        tmp_path,
        f"""
        defaults: {{verify: "{{{{ os.cacert }}}}"}}
        steps:
          - name: call
            request: {{url: "{mtls}/whoami"}}
        """,
    )

    result = run_cli(capsys, "--os-cloud", "mtls", str(spec))

    assert result.code == 0, result.text
    assert _MutualTLS.subjects == ["commonName=apirun-client"]


def test_a_refused_handshake_is_a_one_line_step_failure(mtls, pki, tmp_path, capsys):
    spec = _mtls_spec(tmp_path, mtls, pki["ca"])  # no certificate

    result = run_cli(capsys, str(spec))

    assert result.code == 1, result.text
    (error,) = [line for line in result.out.splitlines() if "TLS error" in line]
    assert f"TLS error with {mtls}/whoami: " in error  # the alert, or EOF: a race of TLS 1.3
    assert "Traceback" not in result.text
    assert _MutualTLS.subjects == []


def test_cert_problems_are_spec_errors_before_sending(mtls, pki, tmp_path, capsys):
    (tmp_path / "not-pem.pem").write_text("hello")
    spec = write_spec(
        tmp_path,
        f"""
        defaults:
          cert: {{cert: {pki["client"]}, key: missing-key.pem}}
        steps:
          - name: a
            request: {{url: "{mtls}/a", cert: not-pem.pem}}
          - name: b
            request: {{url: "{mtls}/b", cert: {{key: {pki["client_key"]}}}}}
        """,
    )

    result = run_cli(capsys, str(spec))

    assert result.code == 2, result.text
    err = result.err
    assert f"'cert' key: no file missing-key.pem (looked for {tmp_path}/missing-key.pem)" in err
    assert f"{tmp_path}/not-pem.pem is not a PEM certificate with its private key" in err
    assert "'cert' is missing the required key 'cert'" in err
    assert_points(err, spec, line_of(spec, "cert: not-pem.pem"))
    assert _MutualTLS.subjects == []


def test_every_new_connection_presents_the_cert_and_checks_the_ca(mtls, pki, tmp_path, capsys):
    """The SSL context is built once per TLS setting and shared by the file's connections:
    each new connection (this server closes every one) still presents the client
    certificate and still checks the server against the CA."""
    pair = f"{{cert: {pki['client']}, key: {pki['client_key']}}}"
    steps = "".join(
        f"  - name: call {n}\n    request: {{url: {mtls}/whoami}}\n"
        "    expect: {body: {contains: commonName=apirun-client}}\n"
        for n in range(6)
    )
    spec = write_spec(
        tmp_path, f"defaults:\n  verify: {pki['ca']}\n  cert: {pair}\nsteps:\n{steps}"
    )
    result = run_cli(capsys, str(spec))
    assert result.code == 0, result.text
    assert _MutualTLS.subjects == ["commonName=apirun-client"] * 6  # six handshakes, each with it

    _, other_ca = _issue("another CA", None, "another CA", ca=True)
    (tmp_path / "other-ca.pem").write_bytes(_pem(certificate=other_ca))
    wrong = write_spec(
        tmp_path,
        f"defaults:\n  verify: other-ca.pem\n  cert: {pair}\nsteps:\n{steps}",
        name="wrong.yaml",
    )
    result = run_cli(capsys, str(wrong))
    assert result.code == 1, result.text
    assert "certificate verify failed" in result.out
    assert "Traceback" not in result.text
    assert len(_MutualTLS.subjects) == 6  # the server was never trusted, nothing more sent


def test_verbose_names_the_file_a_body_came_from(srv, tmp_path, capsys):
    (tmp_path / "x.bin").write_bytes(b"\x00\x01")
    spec = write_spec(
        tmp_path,
        """
        base_url: {base}
        steps:
          - name: upload
            request: {method: PUT, url: /echo, data: {file: x.bin}}
        """,
        base=srv.url,
    )

    result = run_cli(capsys, "-v", str(spec))

    assert result.code == 0, result.text
    assert f"(body: the bytes of {tmp_path}/x.bin)" in result.out


# -- the example: specs/payloads/uploads.yaml ------------------------------------------------


def test_the_payloads_example_uploads_10_mib_a_form_and_calls_with_a_client_cert(
    srv, sink, mtls, pki, tmp_path
):
    """The example spec, as shipped, from the real command: a 10 MiB binary file arrives
    byte for byte, the multipart parts arrive, and the TLS server sees the client cert."""
    folder = tmp_path / "payloads"
    shutil.copytree(ROOT / "specs" / "payloads", folder)
    blob = os.urandom(10 * 1024 * 1024)
    (folder / "files" / "blob.bin").write_bytes(blob)
    (folder / "pki").mkdir()
    for name in ("ca", "client", "client_key"):
        shutil.copy(pki[name], folder / "pki" / f"{name}.pem")
    env = {"APIRUN_UPLOAD_URL": sink, "APIRUN_ECHO_URL": srv.url, "APIRUN_MTLS_URL": mtls}

    done = run_process(str(folder / "uploads.yaml"), env=env)

    assert done.code == 0, done.text
    assert "3 passed, 0 failed" in done.out
    assert _Sink.received == [(len(blob), hashlib.sha256(blob).hexdigest())]
    form = srv.app.last.body
    assert b'name="report"; filename="report.csv"\r\n\r\nquarter,revenue\nQ1,100' in form
    assert b'filename="me.jpg"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0' in form
    assert _MutualTLS.subjects == ["commonName=apirun-client"]
