"""The command line as a user meets it: subprocesses, exit codes, one `error:` line."""
import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from gaitlab.constants import CLASSES
from gaitlab.cohort.run import COLUMNS



def run(*args, weights=None):
    cmd = [sys.executable, "-m", "gaitlab", *map(str, args)]
    if weights is not None:
        cmd += ["--weights", str(weights)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def assert_bad_input(proc):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def assert_distribution(proc):
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out["probabilities"]) == set(CLASSES)
    assert abs(sum(out["probabilities"].values()) - 1) < 1e-5
    assert out["label"] in CLASSES and 0 < out["confidence"] <= 1
    assert isinstance(out["warnings"], list) and len(out["clips"]) >= 1
    return out


def test_analyze_walker_video(walker_video, random_weights):
    out = assert_distribution(run("analyze", walker_video, "--json", "--description", "knee pain", weights=random_weights))
    assert out["description"] == "knee pain"


def test_analyze_two_walkers_warns(two_walkers_video, random_weights):
    out = assert_distribution(run("analyze", two_walkers_video, "--json", weights=random_weights))
    assert any("people" in w.lower() for w in out["warnings"])


def test_analyze_raw_sample_csv(random_weights, shared_data):
    samples = sorted((shared_data / "raw-csv-samples").glob("*.csv"))
    assert samples
    for csv in samples:
        assert_distribution(run("analyze", csv, "--json", weights=random_weights))


def test_analyze_human_readable(walker_csv, random_weights):
    proc = run("analyze", walker_csv, weights=random_weights)
    assert proc.returncode == 0 and "confidence" in proc.stdout and "not diagnosis" in proc.stdout


def _truncated(src, dst, keep):
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def _short_video(path):
    from gaitlab.synth.walker import WalkerParams, walk_keypoints
    from gaitlab.synth.walker_video import render_walk_video

    render_walk_video(path, [walk_keypoints(WalkerParams(), n_frames=5)], width=160, height=120)
    return path


BAD_INPUTS = {
    "missing": lambda d, v: d / "nope.mp4",
    "directory": lambda d, v: d,
    "empty": lambda d, v: (d / "empty.mp4").write_bytes(b"") and None or d / "empty.mp4",
    "text_as_mp4": lambda d, v: (d / "text.mp4").write_text("not a video\n" * 50) and None or d / "text.mp4",
    "truncated": lambda d, v: _truncated(v, d / "cut.mp4", 0.02),
    "csv_without_landmarks": lambda d, v: (d / "t.csv").write_text("a,b\n1,2\n3,4\n") and None or d / "t.csv",
    "too_few_frames": lambda d, v: _short_video(d / "short.mp4"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_one_error_line(name, tmp_path, walker_video, random_weights):
    assert_bad_input(run("analyze", BAD_INPUTS[name](tmp_path, walker_video), weights=random_weights))


def test_an_unknown_person_is_one_error_line(walker_video, walker_csv, random_weights):
    for path in (walker_video, walker_csv):
        proc = run("analyze", path, "--person", "9", weights=random_weights)
        assert_bad_input(proc)
        assert "person 9" in proc.stderr


def test_people_lists_the_walker(walker_video):
    proc = run("people", walker_video, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["person"] == 1 and [p["id"] for p in out["people"]] == [1] and out["people"][0]["chosen"]
    assert out["people"][0]["walks"] and out["no_walk"] is None


def test_corrupt_video_never_tracebacks(tmp_path, walker_video, random_weights):
    data = bytearray(walker_video.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 2000):
        data[i] ^= 0x5A
    bad = tmp_path / "flipped.mp4"
    bad.write_bytes(bytes(data))
    proc = run("analyze", bad, "--json", weights=random_weights)
    assert proc.returncode in (0, 2) and "Traceback" not in proc.stderr
    if proc.returncode == 2:
        assert_bad_input(proc)
    else:
        assert_distribution(proc)


def test_cohort_folder_with_a_bad_file(tmp_path, walker_video, walker_csv, two_walkers_video, random_weights):
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    shutil.copy(walker_video, tmp_path / "A" / "one.mp4")
    shutil.copy(two_walkers_video, tmp_path / "A" / "two.mp4")
    shutil.copy(walker_csv, tmp_path / "B" / "k.csv")
    (tmp_path / "B" / "bad.mp4").write_text("not a video")
    (tmp_path / "B" / "ignored.txt").write_text("not a case")
    out = tmp_path / "out.csv"
    proc = run("cohort", tmp_path, "--out", out, weights=random_weights)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns) == COLUMNS and len(table) == 4
    bad = table[table["path"].str.endswith("bad.mp4")]
    assert len(bad) == 1 and bad["error"].iloc[0] and bad["predicted"].iloc[0] == ""
    good = table[table["error"] == ""]
    assert len(good) == 3 and set(good["cohort"]) == {"A", "B"}
    probs = good[[f"prob_{c}" for c in CLASSES]].astype(float).sum(axis=1)
    assert ((probs - 1).abs() < 1e-4).all()


def test_cohort_bad_input(tmp_path, random_weights):
    assert_bad_input(run("cohort", tmp_path / "none", "--out", tmp_path / "o.csv", weights=random_weights))


def test_explain_writes_overlays(tmp_path, walker_video, random_weights):
    proc = run("explain", walker_video, "--out", tmp_path / "x", weights=random_weights)
    assert proc.returncode == 0, proc.stderr
    record = json.loads((tmp_path / "x" / "explanation.json").read_text())
    assert record["method"] == "gradcam" and len(record["frame_importance"]) == 8
    assert len(list((tmp_path / "x").glob("frame_*.png"))) == 8
    assert len(list((tmp_path / "x").glob("source_frame_*.png"))) == 8
    assert_bad_input(run("explain", walker_video, "--target", "Nope", "--out", tmp_path / "y", weights=random_weights))
