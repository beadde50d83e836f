"""Every limit (all in `gaitlab/constants.py`) and its plain message; uploads in a private
temporary folder that is always removed; server-side cohort folders confined to the data root.
"""
from __future__ import annotations

import stat
import sys
import tempfile
import tomllib
from pathlib import Path

import cv2
import numpy as np
import pytest

from gaitlab import app
from gaitlab.cohort.inputs import collect_inputs, confined_path
from gaitlab.constants import (
    LONG_VIDEO_SECONDS,
    MAX_COHORT_FILES,
    MAX_KEYPOINT_FRAMES,
    MAX_NOTE_CHARS,
    MAX_UPLOAD_MB,
    MAX_VIDEO_LONG_SIDE,
    MAX_VIDEO_SECONDS,
    MIN_VIDEO_SIDE,
)
from gaitlab.errors import InputError
from gaitlab.inference import analyze, get_model, note_embedding
from gaitlab.pipeline.keypoints import LANDMARK_COLUMNS, load_keypoint_csv
from gaitlab.pipeline.video import probe_video

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(300)


def write_video(path: Path, n: int, w: int, h: int, fps: float, fourcc: str = "MJPG") -> Path:
    """A plain video: a dark bar sweeping over a grey background."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    if not writer.isOpened():
        pytest.skip(f"OpenCV cannot write {fourcc} at {w}x{h} here")
    frame = np.full((h, w, 3), 150, np.uint8)
    for i in range(n):
        f = frame.copy()
        x = int(i * w / max(n, 1)) % w
        f[h // 4 : 3 * h // 4, x : x + max(2, w // 12)] = 30
        writer.write(f)
    writer.release()
    return path


@pytest.fixture(scope="module")
def model(random_weights):
    return get_model(random_weights)


# --- Upload size ------------------------------------------------------------------------------
def test_upload_limit_is_mirrored_in_streamlit_config():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == MAX_UPLOAD_MB


class FakeUpload:
    """What `st.file_uploader` hands over: a name, a size and the bytes."""

    def __init__(self, name: str, data: bytes = b"x", size: int | None = None):
        self.name, self._data = name, data
        self.size = len(data) if size is None else size

    def getvalue(self) -> bytes:
        return self._data


def test_upload_too_large_is_refused_with_the_limit():
    with pytest.raises(InputError, match=rf"at most {MAX_UPLOAD_MB} MB per file"):
        app.case_from_upload(FakeUpload("walk.mp4", size=(MAX_UPLOAD_MB + 1) * 2**20))
    ref = app.case_from_upload(FakeUpload("walk.MP4", b"1234", size=MAX_UPLOAD_MB * 2**20))
    assert ref.suffix == ".mp4"


@pytest.mark.parametrize("name", ["walk.gif", "walk", "walk.mp4.exe", ".mp4/../x", "a.mp\x004"])
def test_upload_of_unsupported_type_is_refused(name):
    with pytest.raises(InputError, match="not a supported file type"):
        app.case_from_upload(FakeUpload(name))


def test_empty_upload_is_refused():
    with pytest.raises(InputError, match="empty"):
        app.case_from_upload(FakeUpload("walk.csv", b""))


# --- Video duration ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    # 1 frame per second keeps a 5-minute video small and quick to write.
    return write_video(tmp_path_factory.mktemp("long") / "long.avi", n=LONG_VIDEO_SECONDS + 20, w=64, h=48, fps=1.0)


def test_long_video_is_analysed_with_a_warning(long_video):
    info = probe_video(long_video)
    assert info.duration_s > LONG_VIDEO_SECONDS
    warning = [w for w in info.warnings if "minutes long" in w]  # analyze passes these on
    assert warning and "most of it is not looked at" in warning[0], info.warnings
    # One frame per second is also too coarse for gait, and the answer says so.
    assert any("frame rate is only 1 per second" in w for w in info.warnings), info.warnings


@pytest.mark.slow
def test_long_video_without_a_person_is_refused_after_reading_it(long_video, model):
    """Pose looks for a walker in all 320 frames (minutes on two busy cores): the slow tier."""
    with pytest.raises(InputError, match="No person was found in long.avi"):
        analyze(long_video, model=model)


def test_ordinary_video_has_no_limit_warning(walker_video, model):
    assert analyze(walker_video, model=model).warnings == []


def test_video_beyond_the_hard_cap_is_refused(tmp_path):
    path = write_video(tmp_path / "too_long.avi", n=MAX_VIDEO_SECONDS + 5, w=64, h=48, fps=1.0)
    with pytest.raises(InputError, match=rf"longer than {MAX_VIDEO_SECONDS // 60} minutes, the "
                       "longest GaitLab accepts; trim it"):
        probe_video(path)


# --- Resolution ----------------------------------------------------------------------------------
def test_4k_is_downscaled_on_arrival(tmp_path, model, monkeypatch):
    """Pose reads every 4K frame once and keeps only what it measured of it (landmarks, not pixels)."""
    from gaitlab.pipeline import pose

    path = write_video(tmp_path / "uhd.avi", n=12, w=3840, h=2160, fps=25.0)
    shapes = []
    real = pose.read_frames

    def spying(info, wanted, transform, with_index=False):
        def spy(*args):
            frame = args[-1]
            kept = transform(*args)
            shapes.append((frame.shape, sum(np.asarray(v).nbytes for v in (kept if isinstance(kept, tuple) else (kept,))
                                            if v is not None)))
            return kept
        return real(info, wanted, spy, with_index=with_index)

    monkeypatch.setattr(pose, "read_frames", spying)
    try:
        analyze(path, model=model)
    except InputError as exc:  # no person in the generated scene: refused plainly, after reading it
        assert "No person" in str(exc)
    assert shapes and all(s[:2] == (2160, 3840) and kept < 100_000 for s, kept in shapes)


def test_larger_than_8k_is_refused(tmp_path):
    w = MAX_VIDEO_LONG_SIDE + 64
    path = write_video(tmp_path / "huge.avi", n=10, w=w, h=64, fps=25.0)
    with pytest.raises(InputError, match=rf"{w}×64 pixels; GaitLab accepts frames up to "
                       rf"{MAX_VIDEO_LONG_SIDE} pixels on the long side"):
        probe_video(path)


def test_tiny_frames_are_refused(tmp_path):
    side = MIN_VIDEO_SIDE - 8
    path = write_video(tmp_path / "tiny.avi", n=10, w=side, h=side, fps=25.0)
    with pytest.raises(InputError, match=rf"only {side}×{side} pixels; GaitLab needs frames at "
                       rf"least {MIN_VIDEO_SIDE} pixels"):
        probe_video(path)


# --- Keypoint file length -----------------------------------------------------------------------
def test_keypoint_file_beyond_the_frame_limit_is_refused(tmp_path, monkeypatch):
    from gaitlab.pipeline import keypoints

    monkeypatch.setattr(keypoints, "MAX_KEYPOINT_FRAMES", 50)  # the real limit is 108 000 rows
    path = tmp_path / "long.csv"
    row = ",".join(["0.5"] * len(LANDMARK_COLUMNS))
    path.write_text(",".join(LANDMARK_COLUMNS) + "\n" + "\n".join([row] * 51) + "\n")
    with pytest.raises(InputError, match="more than 50 frames, the most GaitLab reads"):
        load_keypoint_csv(path)
    assert MAX_KEYPOINT_FRAMES == MAX_VIDEO_SECONDS * 60


# --- Note length --------------------------------------------------------------------------------
def test_long_note_is_cut_with_a_warning(walker_csv, model):
    _, none = note_embedding("n" * MAX_NOTE_CHARS)
    assert none == []
    _, warned = note_embedding("n" * (MAX_NOTE_CHARS + 1))
    assert warned == [f"The note is {MAX_NOTE_CHARS + 1:,} characters long; only the first "
                      f"{MAX_NOTE_CHARS:,} were used."]
    result = analyze(walker_csv, "knee pain. " * 10_000, model=model)
    assert any(f"only the first {MAX_NOTE_CHARS:,} were used" in w for w in result.warnings)


# --- Cohort size --------------------------------------------------------------------------------
def test_cohort_folder_beyond_the_limit_is_refused(tmp_path):
    folder = tmp_path / "cases"
    folder.mkdir()
    for i in range(MAX_COHORT_FILES + 1):
        (folder / f"{i:05d}.csv").touch()
    with pytest.raises(InputError, match=rf"lists {MAX_COHORT_FILES + 1:,} files; one run takes "
                       rf"at most {MAX_COHORT_FILES:,}"):
        collect_inputs(folder)


def test_cohort_upload_beyond_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    uploads = [FakeUpload(f"{i}.csv") for i in range(MAX_COHORT_FILES + 1)]
    with pytest.raises(InputError, match=rf"{MAX_COHORT_FILES + 1:,} files were uploaded; one "
                       rf"cohort run takes at most {MAX_COHORT_FILES:,}"):
        app.cohort_from_uploads(uploads, "big")
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


# --- Uploads live in a private temporary folder, removed even when the analysis fails -------
def snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


@pytest.mark.parametrize("failure", [RuntimeError("model exploded"), InputError("bad video")])
def test_upload_temp_dir_removed_when_the_analysis_fails(tmp_path, monkeypatch, failure):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    cwd_before = snapshot(ROOT)
    ref = app.CaseRef("walk.mp4", "0" * 64, ".mp4", data=b"not really a video")
    seen = {}

    def work(path: str):
        p = Path(path)
        seen["path"], seen["bytes"] = p, p.read_bytes()
        seen["mode"] = stat.S_IMODE(p.parent.stat().st_mode)
        raise failure

    with pytest.raises(type(failure)):
        app._with_file(ref, work)
    assert seen["bytes"] == ref.data
    assert seen["path"].parent.parent == scratch  # under the temp root, in a folder of its own
    if sys.platform != "win32":
        assert seen["mode"] == 0o700  # private to this user
    assert not seen["path"].parent.exists()
    assert snapshot(scratch) == set()  # nothing left behind
    assert snapshot(ROOT) - cwd_before == set()  # nothing written elsewhere


def test_upload_temp_dir_removed_after_a_failed_app_analysis(tmp_path, monkeypatch):
    """Through the app's own path: an undecodable upload shows an error, leaves nothing."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    made = []
    real_mkdtemp = tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", lambda *a, **k: made.append(real_mkdtemp(*a, **k)) or made[-1])
    ref = app.case_from_upload(FakeUpload("broken.mp4", b"\x00\x01garbage" * 100))
    assert app.analyze_case(ref, "") is None
    assert len(made) == 1 and Path(made[0]).parent == scratch  # the upload did go to a temp dir
    assert snapshot(scratch) == set()


def test_cohort_upload_temp_dir_removed_when_the_run_fails(tmp_path, monkeypatch):
    from gaitlab.cohort import run as cohort

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    seen = []

    def failing_run(items, *args, **kwargs):
        seen.extend(Path(i.path) for i in items)
        assert all(p.exists() for p in seen)
        raise RuntimeError("worker died")

    monkeypatch.setattr(cohort, "run_items", failing_run)
    uploads = [FakeUpload("a.csv", b"x_0\n1\n"), FakeUpload("b.mp4", b"\x00" * 64)]
    with pytest.raises(RuntimeError, match="worker died"):
        app.cohort_from_uploads(uploads, "failing")
    assert len(seen) == 2 and not any(p.exists() for p in seen)
    assert snapshot(scratch) == set()


# --- Server-side cohort folders are confined to the data root ------------------------------------
@pytest.fixture()
def data_root(tmp_path):
    root = tmp_path / "data"
    (root / "site_a").mkdir(parents=True)
    (root / "site_a" / "walk.csv").write_text("x_0\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("x_0\n")
    (root / "link_to_outside").symlink_to(outside, target_is_directory=True)
    (root / "site_a" / "leak.csv").symlink_to(outside / "secret.csv")
    (root / "inner_link").symlink_to(root / "site_a", target_is_directory=True)
    return root


@pytest.mark.parametrize("typed", ["..", "../outside", "site_a/../..", "site_a/../../outside/secret.csv",
                                   "link_to_outside", "link_to_outside/secret.csv", "site_a/leak.csv",
                                   "/etc", "/", "//etc/passwd"])
def test_typed_paths_outside_the_root_are_refused(data_root, typed):
    with pytest.raises(InputError, match="outside the data folder GaitLab may read"):
        confined_path(typed, data_root)


def test_absolute_path_to_outside_is_refused(data_root):
    with pytest.raises(InputError, match="outside the data folder"):
        confined_path(str(data_root.parent / "outside"), data_root)


@pytest.mark.parametrize("typed", ["site_a", " site_a ", "site_a/walk.csv", "inner_link", "./site_a/"])
def test_typed_paths_inside_the_root_are_allowed(data_root, typed):
    path = confined_path(typed, data_root)
    assert path.resolve() == path and data_root.resolve() in path.parents


def test_absolute_path_inside_the_root_is_allowed(data_root):
    assert confined_path(str(data_root / "site_a"), data_root) == (data_root / "site_a").resolve()


@pytest.mark.parametrize("typed", ["site_a\x00", "\x00", "site_a/\x00/walk.csv", "../\x00outside"])
def test_typed_path_with_nul_is_refused_plainly(data_root, typed):
    # Without the check, resolving the path raises ValueError("embedded null byte"): not plain.
    with pytest.raises(InputError) as info:
        confined_path(typed, data_root)
    msg = str(info.value)
    assert "contains a NUL character" in msg, msg
    assert "\x00" not in msg and "\n" not in msg and "null byte" not in msg, repr(msg)


def test_cases_listed_inside_the_root_may_not_point_outside(data_root, monkeypatch):
    """A confined folder holding a link out of the root, or a confined manifest listing `..` or
    absolute paths, must not reach files outside the root either."""
    monkeypatch.setenv("GAITLAB_DATA_ROOT", str(data_root))
    with pytest.raises(InputError, match="leak.csv lies outside the data folder"):
        app.cohort_from_source(confined_path("site_a", data_root))
    for listed in ["../outside/secret.csv", str(data_root.parent / "outside" / "secret.csv")]:
        manifest = data_root / "manifest.csv"
        manifest.write_text(f"path\nsite_a/walk.csv\n{listed}\n")
        with pytest.raises(InputError, match="outside the data folder"):
            app.cohort_from_source(confined_path("manifest.csv", data_root))


def test_confinement_passes_cases_inside_the_root(data_root):
    (data_root / "site_a" / "leak.csv").unlink()
    items = collect_inputs(confined_path("site_a", data_root))
    app.confine_items(items, data_root)  # no error
    assert [Path(i.path).name for i in items] == ["walk.csv"]


def test_demo_cohort_is_allowed_whatever_the_data_root(tmp_path, monkeypatch):
    from gaitlab.demo import MANIFEST

    monkeypatch.setenv("GAITLAB_DATA_ROOT", str(tmp_path))
    items = collect_inputs(MANIFEST)
    demo = Path(MANIFEST).resolve().parent
    app.confine_items(items, demo)  # the rule cohort_from_source applies to the demo manifest
    with pytest.raises(InputError):
        app.confine_items(items, tmp_path)
