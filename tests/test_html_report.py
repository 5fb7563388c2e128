"""``--report-html FILE``: one self-contained page, checked as text and in a real browser."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from helpers import line_of, run_cli, write_spec

SPEC = """
name: html demo
base_url: {base}
vars:
  password: "000000"
steps:
  - name: login
    request:
      method: POST
      url: /v3/auth/tokens
      json:
        auth:
          identity:
            methods: [password]
            password: {user: {name: admin, domain: {name: demo}, password: "{{ password }}"}}
    capture: {token: {header: X-Subject-Token}}
  - name: big body
    request: {method: POST, url: /echo, json: {tag: "<b>&", blob: "{{ 'x' * 50000 }}"}}
  - name: wrong status
    retry: {times: 2, delay: 0.05}
    request: {url: /echo/users, headers: {X-Auth-Token: "{{ token }}"}}
    expect:
      status: 418
  - name: never reached
    request: {url: /echo/never}
"""


def _report(srv, capsys, tmp_path) -> tuple[Path, Path, str]:
    spec = write_spec(tmp_path, SPEC, base=srv.url)
    report = tmp_path / "report.html"
    result = run_cli(capsys, str(spec), "--report-html", str(report))
    assert result.code == 1, result.text
    return spec, report, report.read_text("utf-8")


def test_the_page_holds_the_run_and_hides_the_secrets(srv, capsys, tmp_path):
    spec, _, page = _report(srv, capsys, tmp_path)
    assert page.startswith("<!DOCTYPE html>")
    # self-contained: nothing to fetch, no script
    assert not re.search(r"""(src|href)\s*=|url\(|@import|<script|<link""", page, re.I)
    urls = set(re.findall(r"https?://[^\s\"'<&]+", page))
    assert urls and all(url.startswith(srv.url) for url in urls)
    # secrets: the password, and the token the server issued
    assert "000000" not in page
    assert srv.app.tokens and not any(token in page for token in srv.app.tokens)
    assert "X-Auth-Token: ***" in page
    # the failure, with its spec line, open; the others closed
    line = line_of(spec, "status: 418")
    assert "status: expected 418, got 200" in page
    assert f"--&gt; {spec}:{line}\n{line} |       status: 418" in page
    assert re.search(r'<details class="step failed" id="step-0-2" open>', page)
    assert re.search(r'<details class="step passed" id="step-0-0">', page)
    assert "2 attempts" in page and "Retried: 2 attempts in all" in page
    assert "skipped: step &#x27;wrong status&#x27; failed" in page
    # bodies: escaped, pretty-printed, cut
    assert "&quot;tag&quot;: &quot;&lt;b&gt;&amp;&quot;,\n" in page
    assert "more characters)" in page and "x" * 50000 not in page
    # the timing chart
    assert page.count("<rect ") == 4 and '<svg id="timing"' in page


def test_the_page_is_written_atomically(srv, capsys, tmp_path, monkeypatch):
    """Ctrl-C in the middle of writing leaves the old report whole, and no temporary file."""
    spec = write_spec(tmp_path, SPEC, base=srv.url)
    report = tmp_path / "report.html"
    report.write_text("the old report")

    import runner.report.html as html

    real = html.html_report

    def interrupted(*args, **kwargs):
        page = real(*args, **kwargs)
        yield page[: len(page) // 2]
        raise KeyboardInterrupt

    monkeypatch.setattr(html, "html_report", interrupted)
    result = run_cli(capsys, str(spec), "--report-html", str(report))
    assert result.code == 130
    assert report.read_text() == "the old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "spec.yaml"]


def test_a_report_in_a_missing_folder_is_a_usage_error(capsys, tmp_path):
    spec = write_spec(tmp_path, "steps: [{name: x, request: {url: 'http://127.0.0.1:9/'}}]")
    result = run_cli(capsys, str(spec), "--report-html", str(tmp_path / "no" / "r.html"))
    assert result.code == 2
    assert "--report-html" in result.err and "there is no folder" in result.err


# -- in a real browser ---------------------------------------------------------------------------

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1600",
)


def _browser():
    """A headless Debian chromium under selenium; skipped when absent, failed under CI."""
    chromium = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None
    missing = [
        name
        for name, found in (
            ("chromium", chromium),
            ("chromedriver", driver),
            ("selenium", webdriver),
        )
        if not found
    ]
    if missing:
        message = (
            f"no {', '.join(missing)}: apt-get install chromium chromium-driver; "
            "pip install -e '.[test]'"
        )
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(f"{message} (CI is set, so the browser test may not skip)", pytrace=False)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='apirun-chromium-')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


@pytest.mark.browser
def test_the_report_in_a_headless_browser(srv, capsys, tmp_path):
    from selenium.webdriver.common.by import By

    _, report, _ = _report(srv, capsys, tmp_path)
    screenshots = Path(os.environ.get("APIRUN_SCREENSHOTS") or tmp_path)
    screenshots.mkdir(parents=True, exist_ok=True)
    browser = _browser()
    try:
        browser.get(report.as_uri())
        assert browser.title == "apirun report"
        assert browser.find_element(By.ID, "verdict").text == "failed"
        assert browser.find_element(By.ID, "summary-bar").is_displayed()
        failing = browser.find_element(By.ID, "step-0-2")
        assert failing.get_attribute("open") is not None  # expanded
        failure = failing.find_element(By.CLASS_NAME, "failure")
        assert failure.is_displayed()
        assert "status: expected 418, got 200" in failure.text
        passing = browser.find_element(By.ID, "step-0-0")
        assert passing.get_attribute("open") is None
        assert not passing.find_element(By.TAG_NAME, "pre").is_displayed()  # collapsed
        assert browser.find_element(By.ID, "timing").is_displayed()
        fetched = browser.execute_script("return performance.getEntriesByType('resource').length")
        assert fetched == 0  # nothing loaded from anywhere
        errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        assert errors == []
        shot = screenshots / "html-report.png"
        assert browser.save_screenshot(str(shot))
    finally:
        browser.quit()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot: {shot}")


def test_what_a_server_sends_is_html_escaped_in_the_page(srv, capsys, tmp_path):
    evil = "<img src=x onerror=alert(1)>"
    (tmp_path / "a<i>.txt").write_text("<b>body</b>")
    spec = write_spec(
        tmp_path,
        f"""
        steps:
          - name: "<script>name</script>"
            request:
              method: POST
              url: {srv.url}/headers
              params: {{X-Evil: "{evil}", Content-Type: "text/html"}}
              data: {{file: "a<i>.txt"}}
            expect: {{status: 201}}
        """,
    )
    report = tmp_path / "report.html"
    result = run_cli(capsys, str(spec), "--report-html", str(report))
    assert result.code == 1, result.text
    page = report.read_text("utf-8")
    assert not re.search(r"<(img|script|i>)", page), page
    assert "X-Evil: &lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;script&gt;name&lt;/script&gt;" in page
    assert "(the bytes of " in page and "a&lt;i&gt;.txt)" in page
