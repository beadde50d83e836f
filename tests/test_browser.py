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
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         # No "source file changed" prompt (it keeps the status widget up) if the tree is edited meanwhile.
         "--server.fileWatcherType", "none"],
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


def _wait_for_run(page) -> None:
    """Until the script run has finished (Streamlit's status widget is gone)."""
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=240_000,
                           polling=500)


def _upload_and_wait(page, server: str, video: Path) -> str:
    """Open the Analyse page, upload `video` and wait until its run has finished; the page's
    text, checked to hold no exception."""
    page.goto(server, timeout=120_000)
    page.get_by_role("heading", name="Analyse a case").first.wait_for(timeout=120_000)
    page.get_by_text("Upload a file").first.click()
    page.locator("input[type='file']").first.set_input_files(str(video))
    page.get_by_text("The walker's pose on the original video frames").first.wait_for(timeout=480_000)
    _wait_for_run(page)
    body = page.inner_text("body")
    assert page.locator("[data-testid='stException']").count() == 0, body[:2000]
    return body


@pytest.mark.parametrize("slug", list(PAGES))
def test_page_renders_result_and_chart(server, browser, slug):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    media: list[tuple[int, str]] = []  # Streamlit's media files (st.image and the like)
    page.on("response", lambda r: media.append((r.status, r.url)) if "/media/" in r.url else None)
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
    # Every picture the page asked for came (with starlette 1.10, Streamlit 1.60 answered 500 to each).
    assert all(status < 400 for status, _ in media), media
    if slug == "":
        assert "Predicted pattern" in body
        assert "Kinematics" in body and "Normal band" in body  # the section and its parameter table
        assert any(status == 200 and "/media/" in url and "/static/" not in url for status, url in media), media
    page.close()


VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def test_uploaded_real_video_shows_skeleton_and_gradcam_on_the_original_frames(server, browser, unavailable):
    """A person's path through the app with real footage: upload OpenCV's street scene
    (Debian's opencv-doc; real people walking) on the Analyse page, see the walker's skeleton
    drawn on the original frames, then the Grad-CAM maps taken back onto the original frames
    on the Explain page (the uploaded case carries over)."""
    if not VTEST.is_file():
        unavailable(f"{VTEST} not found (Debian: apt-get install opencv-doc)")
    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    body = _upload_and_wait(page, server, VTEST)
    assert "Predicted pattern" in body and "Several people" in body
    assert "People found" in body and "✓ analysed · Person" in body
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "Analyse_video.png"), full_page=True)
    # The skeleton's pixels on the original frames the page holds: both sides' limb colours in
    # every frame (measured: 18-37 pixels of each; the undrawn frames have none).
    from gaitlab.pipeline.render import SKELETON_COLORS

    originals = _plot_images(page, "The walker's pose on the original video frames")
    assert len(originals) == 8
    for k, frame in enumerate(originals):
        left, right = _near(frame, SKELETON_COLORS["left"]).sum(), _near(frame, SKELETON_COLORS["right"]).sum()
        assert left >= 8 and right >= 8, (k, left, right)
    page.get_by_role("link", name="Explain").first.click()
    page.get_by_text("The same maps on the original video frames").first.wait_for(timeout=480_000)
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=240_000)
    body = page.inner_text("body")
    assert page.locator("[data-testid='stException']").count() == 0, body[:2000]
    assert "Most weight on frame" in body
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "Explain_video.png"), full_page=True)
    page.close()


def _plot_images(page, title: str) -> list:
    """The frames of the plotly chart titled `title`, decoded from the PNGs the page holds
    (`figures.frames_figure` sends each frame as one): uint8 RGB arrays."""
    import base64

    import cv2
    import numpy as np

    sources = page.evaluate("""title => {
        for (const el of document.querySelectorAll('.js-plotly-plot')) {
            const t = (el.layout && el.layout.title && el.layout.title.text) || "";
            if (t.replace(/<[^>]*>/g, "") === title) return el.data.map(d => d.source).filter(Boolean);
        }
        return [];
    }""", title)
    out = []
    for src in sources:
        raw = np.frombuffer(base64.b64decode(src.split(",", 1)[1]), np.uint8)
        out.append(cv2.cvtColor(cv2.imdecode(raw, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
    return out


def _near(image, colour, tolerance: int = 12):
    """bool [H, W]: pixels within `tolerance` of `colour` (RGB) in every channel."""
    import numpy as np

    return (np.abs(image.astype(np.int16) - np.array(colour, np.int16)) <= tolerance).all(axis=-1)



def test_people_found_in_a_real_video_switch_person_and_refusal(server, browser, real_videos):
    """Real footage (Sports2D demos, BSD 3-Clause), one upload: a woman walks behind a larger man
    who stands raising dumbbells. The Analyse page shows both people's thumbnails with the walker
    (person 2) framed and captioned as analysed, her skeleton drawn on the original video frames;
    "Analyse person 1" gives no gait class but the refusal, and his keypoint CSV downloads;
    "Analyse person 2" brings her answer back."""
    import cv2
    import numpy as np

    from gaitlab.app import ANALYSED_BORDER, OTHER_BORDER
    from gaitlab.pipeline.render import SKELETON_COLORS

    video = real_videos / "walker_with_bystander.mp4"
    page = browser.new_page(viewport={"width": 1400, "height": 2200}, accept_downloads=True)
    body = _upload_and_wait(page, server, video)
    assert "People found" in body and "Predicted pattern" in body
    assert "✓ analysed · Person 2 — walks, score" in body and "Person 1 — stands in place" in body
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "Analyse_people.png"), full_page=True)

    # The thumbnails: two pictures, the analysed one in a green frame, the other in grey.
    thumbs = page.locator("[data-testid='stImage'] img")
    assert thumbs.count() == 2
    for i, colour in ((0, OTHER_BORDER), (1, ANALYSED_BORDER)):
        shot = cv2.imdecode(np.frombuffer(thumbs.nth(i).screenshot(), np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
        edge = np.concatenate([shot[1, 2:-2], shot[-2, 2:-2], shot[2:-2, 1], shot[2:-2, -2]])
        assert _near(edge, colour, 30).mean() > 0.8, (i, edge.mean(axis=0))
    assert page.get_by_role("button", name="✓ Analysed").first.is_disabled()

    # Her skeleton on the original frames, as the page holds them: both sides' limb colours in
    # every frame (measured: 78-135 pixels of each; the undrawn frames have none), spanning only
    # her height (shoulders to ankles 0.32-0.39 of the frame; the man's, nearer the camera,
    # 0.52-0.62), so it is drawn on her and not on him.
    originals = _plot_images(page, "The walker's pose on the original video frames")
    assert len(originals) == 8
    for k, frame in enumerate(originals):
        left, right = _near(frame, SKELETON_COLORS["left"]), _near(frame, SKELETON_COLORS["right"])
        assert left.sum() >= 40 and right.sum() >= 40, (k, left.sum(), right.sum())
        rows = np.flatnonzero((left | right).any(axis=1))
        assert (rows[-1] - rows[0]) / frame.shape[0] < 0.47, (k, rows[0], rows[-1], frame.shape)

    # Person 1 does not walk: the refusal in place of a class, his keypoints still download.
    page.get_by_role("button", name="Analyse person 1").click()
    page.get_by_text("No gait pattern").first.wait_for(timeout=480_000)
    _wait_for_run(page)
    body = page.inner_text("body")
    assert page.locator("[data-testid='stException']").count() == 0, body[:2000]
    assert "no walk to analyse: the person stands in place" in body
    assert "Predicted pattern" not in body and "Traceback" not in body
    assert "✓ analysed · Person 1" in body and "Person 2 — walks" in body
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "Analyse_refusal.png"), full_page=True)
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Download keypoints (CSV)").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0].startswith("x_0,y_0,z_0,v_0,") and len(lines) > 300

    # And back to the walker: her answer again, from the cache.
    page.get_by_role("button", name="Analyse person 2").click()
    page.get_by_text("Predicted pattern").first.wait_for(timeout=60_000)
    _wait_for_run(page)
    body = page.inner_text("body")
    assert "✓ analysed · Person 2" in body and "No gait pattern" not in body
    page.close()
