"""`gaitlab bench`: every figure is measured and reported; no timing is asserted here
(timings depend on the machine and its load, so they belong in the bench's own report)."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from gaitlab.bench import FIGURES, SECTION_FIGURES, TARGETS, BenchReport, Target, format_report


@pytest.mark.slow
def test_quick_bench_reports_every_figure(tmp_path, random_weights):
    """Every bench section end to end (about 100 s on 2 cores): the slow tier, which CI runs too."""
    cmd = [sys.executable, "-m", "gaitlab", "bench", "--quick", "--json",
           "--cache", str(tmp_path / "cache"), "--weights", str(random_weights)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr  # 0 even when a target is missed
    report = json.loads(proc.stdout)
    assert report["mode"] == "quick"
    assert not [n for n in report["notes"] if "failed" in n], report["notes"]
    assert set(report["figures"]) == set(FIGURES)
    for key, value in report["figures"].items():
        assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, key
    assert set(report["units"]) == set(FIGURES)
    assert set(report["targets"]) == set(TARGETS)
    for key, check in report["targets"].items():
        assert isinstance(check["passed"], bool) and check["op"] in ("<=", "<", ">=")
        assert check["passed"] == Target(check["op"], check["limit"]).met(report["figures"][key])
    assert report["failed"] == [k for k, c in report["targets"].items() if not c["passed"]]
    assert report["all_passed"] == (not report["failed"])
    machine = report["machine"]
    assert machine["cpu_count"] >= 1 and machine["torch_threads"] >= 1
    assert (tmp_path / "cache").is_dir() and list((tmp_path / "cache").glob("*.mp4"))


def test_sections_cover_every_figure():
    listed = [k for keys in SECTION_FIGURES.values() for k in keys]
    assert sorted(listed) == sorted(FIGURES) and set(TARGETS) <= set(FIGURES)


def test_table_marks_passes_and_failures():
    report = BenchReport(mode="full", machine={"cpu_count": 2, "cpu_model": "x", "torch_threads": 2,
                                               "load_average_start": [0.1], "load_average_end": [0.2]})
    report.figures.update(forward_ratio=0.05, gradcam_ratio=0.5, forward_student_ms=12.0)
    text = format_report(report)
    lines = {line.split("  ")[0].strip(): line for line in text.splitlines()}
    assert lines[FIGURES["forward_ratio"][0]].rstrip().endswith("pass")
    assert lines[FIGURES["gradcam_ratio"][0]].rstrip().endswith("FAIL")
    assert "targets missed: gradcam_ratio" in text
    assert report.to_dict()["failed"] == ["gradcam_ratio"]


def test_bench_videos_are_the_synth_walker_rendered(tmp_path):
    """Bench videos come from `render_walk_video` (plain background, no noise) of the pacing
    walker: byte for byte what a direct call writes, cached by their parameters."""
    import cv2

    from gaitlab.bench_videos import VideoSpec, cached_video, pacing_keypoints
    from gaitlab.synth.walker_video import render_walk_video

    spec = VideoSpec(3, 160, 120, fps=20.0, variant=2)
    seq = pacing_keypoints(spec)
    assert seq.shape == (spec.n_frames, 33, 4)
    hips = seq[:, [23, 24], 0].mean(1)
    assert 0.05 < hips.min() and hips.max() < 0.95  # paces back and forth inside the frame
    path = cached_video(spec, tmp_path)
    assert path.name == spec.file_name() and [p.name for p in tmp_path.iterdir()] == [path.name]
    direct = tmp_path / "direct.mp4"
    render_walk_video(direct, [seq], spec.width, spec.height, spec.fps, seed=spec.variant, codec="mp4v",
                      background="plain", noise=0)
    assert path.read_bytes() == direct.read_bytes()
    cap = cv2.VideoCapture(str(path))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == spec.n_frames
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (160, 120)
    cap.release()
    stamp = path.stat().st_mtime_ns
    assert cached_video(spec, tmp_path) == path and path.stat().st_mtime_ns == stamp  # reused


def test_kinematics_section_times_a_10_s_walk_beyond_pose():
    """The `kinematics` section: both figures measured on 300-frame walks, side and frontal."""
    from gaitlab.bench import QUICK, SECTIONS, BenchReport
    from gaitlab.bench_kinematics import _walk, bench_kinematics, kinematics_after_pose

    assert "kinematics" in SECTIONS and TARGETS["kinematics_10s_ms"] == Target("<=", 50.0)
    report = BenchReport(mode="quick", machine={})
    bench_kinematics(QUICK, report)
    assert set(report.figures) == set(SECTION_FIGURES["kinematics"])
    assert all(math.isfinite(v) and v > 0 for v in report.figures.values())
    assert "300 frames" in report.inputs["kinematics"]
    for view, seen in (("side", "sagittal"), ("front", "frontal")):
        seq, fps, aspect = _walk(view)
        out = kinematics_after_pose(seq, fps, aspect)
        assert seq.shape == (300, 33, 4) and out["view"] == seen and len(out["frame_phases"]) == 8
