"""The app as a person meets it: `streamlit run streamlit_app.py` on loopback, loaded in
headless Chromium (Debian's package, driven by Playwright). Skips where Chromium is absent,
except under CI (`CI=true`), where it fails: `.ci/run` installs Chromium, so its absence there
means the browser test silently stopped running.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = os.environ.get("GAITLAB_SCREENSHOTS")  # set to a folder to keep page screenshots
PAGES = {"": "Analyse a case", "Explain": "Explain", "Compare_cases": "Compare cases",
         "Note_ablations": "Note ablations", "Cohorts": "Cohorts", "Simulator": "Simulator", "About_the_model": "About the model"}

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", autouse=True)
def chromium(unavailable) -> str:
    if CHROMIUM is None:
        unavailable("Debian's chromium is not installed (apt-get install chromium)")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not start within 60 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.mark.parametrize("slug", list(PAGES))
def test_page_renders_result_and_chart(server, browser, slug):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(f"{server}/{slug}", timeout=120_000)
    page.get_by_role("heading", name=PAGES[slug]).first.wait_for(timeout=120_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=240_000)
    page.wait_for_load_state("networkidle")
    # Wait until the script run finished (the status widget disappears).
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=240_000)
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{slug or 'Analyse'}.png"), full_page=True)
    body = page.inner_text("body")
    assert "not diagnosis" in body
    assert page.locator("[data-testid='stException']").count() == 0, body[:2000]
    assert "Traceback" not in body
    if slug == "":
        assert "Predicted pattern" in body
    page.close()
