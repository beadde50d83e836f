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
        assert "Kinematics" in body and "Normal band" in body  # the section and its parameter table
    page.close()


VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def test_uploaded_real_video_shows_skeleton_and_gradcam_on_the_original_frames(server, browser):
    """A person's path through the app with real footage: upload OpenCV's street scene
    (Debian's opencv-doc; real people walking) on the Analyse page, see the walker's skeleton
    drawn on the original frames, then the Grad-CAM maps taken back onto the original frames
    on the Explain page (the uploaded case carries over)."""
    if not VTEST.is_file():
        pytest.skip(f"{VTEST} not found (Debian: apt-get install opencv-doc)")
    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    page.goto(server, timeout=120_000)
    page.get_by_role("heading", name="Analyse a case").first.wait_for(timeout=120_000)
    page.get_by_text("Upload a file").first.click()
    page.locator("input[type='file']").first.set_input_files(str(VTEST))
    page.get_by_text("The walker's pose on the original video frames").first.wait_for(timeout=480_000)
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=240_000)
    body = page.inner_text("body")
    assert page.locator("[data-testid='stException']").count() == 0, body[:2000]
    assert "Predicted pattern" in body and "Several people" in body
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "Analyse_video.png"), full_page=True)
    page.get_by_role("link", name="Explain").first.click()
    page.get_by_text("The same maps on the original video frames").first.wait_for(timeout=480_000)
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=240_000)
    body = page.inner_text("body")
    assert page.locator("[data-testid='stException']").count() == 0, body[:2000]
    assert "Most weight on frame" in body
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "Explain_video.png"), full_page=True)
    page.close()
