"""The what-if simulator: presets, clinical signs, walking aids, CLI and sweeps."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from gaitlab.cli import main as cli_main
from gaitlab.synth import simulator as sim
from gaitlab.constants import CLASSES
from gaitlab.errors import InputError
from gaitlab.pipeline.keypoints import load_keypoint_csv
from gaitlab.synth.walker_video import render_walk_video

FPS = sim.FPS


def _frames(path) -> list[np.ndarray]:
    cap, frames = cv2.VideoCapture(str(path)), []
    while (got := cap.read())[0]:
        frames.append(cv2.cvtColor(got[1], cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def _band_power(x: np.ndarray, lo_hz: float, hi_hz: float) -> float:
    """Power of the (mean-removed) signal between `lo_hz` and `hi_hz`."""
    power = np.abs(np.fft.rfft(x - x.mean())) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / FPS)
    return float(power[(freqs >= lo_hz) & (freqs <= hi_hz)].sum())


@pytest.mark.parametrize("name", CLASSES)
def test_preset_gives_plausible_keypoints(name):
    seq, device = sim.simulate(sim.PRESETS[name])
    assert seq.shape == (int(sim.SECONDS * FPS), 33, 4) and np.isfinite(seq).all()
    y = seq[..., 1]
    head, shoulders, hips = y[:, :11].max(1), y[:, [11, 12]].mean(1), y[:, [23, 24]].mean(1)
    knees, ankles = y[:, [25, 26]].mean(1), y[:, [27, 28]].mean(1)
    assert (head < shoulders).all() and (shoulders < hips).all() and (hips < knees).all() and (knees < ankles).all()
    # Rigid segments stay rigid (a front view shows perspective, so compare with the body's size).
    xy = seq[..., :2] * [sim.aspect_of(sim.PRESETS[name]), 1.0]
    body = ankles - head
    for a, b in ((23, 25), (25, 27), (24, 26), (26, 28), (11, 13), (12, 14)):
        length = np.linalg.norm(xy[:, a] - xy[:, b], axis=1) / body
        assert 0.08 < length.min() and length.max() < 0.45, (name, a, b)
    assert (device is not None) == (sim.PRESETS[name].device != "none")


def test_freezing_stops_forward_progression():
    params = sim.with_values(sim.PRESETS["PD_Mild"], {"freeze_rate": 3.0, "freeze_seconds": 1.5})
    hip_x = sim.simulate(params)[0][:, [23, 24], 0].mean(1)
    still = np.abs(np.diff(hip_x)) < 1e-5
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, still.astype(int), 0])))[::2]  # lengths of still stretches
    assert len(runs) >= 2 and runs.max() >= FPS  # two episodes, at least one second each
    moving = sim.simulate(sim.PRESETS["PD_Mild"])[0][:, [23, 24], 0].mean(1)
    assert not (np.abs(np.diff(moving)) < 1e-5).any()


def test_tremor_adds_high_frequency_wrist_motion():
    base = sim.PRESETS["Normal"]
    power = []
    for params in (base, sim.with_values(base, {"tremor": 0.015, "tremor_hz": 5.0})):
        seq = sim.simulate(params)[0]
        wrist = seq[:, 16, 0] - seq[:, 12, 0]  # right (affected) wrist against its shoulder
        power.append(_band_power(wrist, 4.8, 5.2))
    assert power[1] > 20 * power[0]  # the walk's own arm swing has little power at 5 Hz


def test_asymmetry_follows_the_affected_side():
    params = sim.with_values(sim.PRESETS["Normal"], {"asymmetry": 0.8})
    for side, short, long in (("right", 28, 27), ("left", 27, 28)):
        seq = sim.simulate(dataclasses.replace(params, affected_side=side))[0]
        reach = lambda ankle: np.ptp(seq[:, ankle, 0] - seq[:, [23, 24], 0].mean(1))  # noqa: E731
        assert reach(short) < 0.85 * reach(long)


@pytest.mark.parametrize("device, colour", [("cane", (70, 40, 20)), ("frame", (40, 60, 150))])
def test_walking_aid_is_in_the_video_pixels(tmp_path, device, colour):
    params = sim.with_values(sim.PRESETS["KOA_Severe"], {"device": device})
    seq, aid = sim.simulate(params, seconds=1.0)
    w, h = 640, 360
    masks = render_walk_video(tmp_path / "a.avi", [seq], w, h, devices=[aid], return_masks=True)
    render_walk_video(tmp_path / "b.avi", [seq], w, h)
    for k, (a, b) in enumerate(zip(_frames(tmp_path / "a.avi"), _frames(tmp_path / "b.avi"))):
        changed = np.abs(a.astype(int) - b).max(axis=2) > 60
        assert changed.sum() > 50 and (changed & ~masks[k]).sum() < 0.1 * changed.sum()  # in every frame
        # Drawn in the aid's colour (the middle of its tubes; edges blur in MJPG).
        core = cv2.erode(changed.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        assert np.median(np.abs(a[core].astype(int) - colour).max(axis=1)) < 40


def test_aid_is_drawn_in_the_video_only():
    """Keypoints stay MediaPipe's body landmarks: the cane is only where the hand is, and the
    `device` source (an alias) shows the model exactly the keypoint source's pose frames."""
    params = sim.PRESETS["Disabled_Assistive"]
    seq, aid = sim.simulate(params, seconds=2.0)
    assert seq.shape[1] == 33 and aid is not None
    hand = seq[:, [17, 19], :2].mean(1)  # left hand: the sound side holds the cane
    np.testing.assert_allclose(aid.points[:, 1], hand, atol=1e-4)
    device, keypoints = sim._case(params, "device", 2.0), sim._case(params, "keypoints", 2.0)
    np.testing.assert_array_equal(device.masks, keypoints.masks)
    with pytest.raises(InputError, match="keypoints, video"):
        sim._case(params, "silhouettes", 2.0)


def test_keypoint_source_takes_the_analyze_path(tmp_path, random_weights):
    """The simulator shows the model what `analyze` would show it for the walk's keypoint CSV:
    the same pose frames (up to the CSV's 6 decimals) and the same answer."""
    from gaitlab.inference import analyze, get_model, keypoint_sequence_clips

    params = sim.with_values(sim.PRESETS["KOA_Severe"], {"device": "cane"})
    case = sim._case(params, "keypoints", 3.0)
    assert case.source == "keypoints" and case.masks.shape[1:] == (8, 224, 224, 3) and case.masks.any()
    np.testing.assert_array_equal(case.masks, keypoint_sequence_clips(sim.simulate(params, 3.0)[0]).masks)
    model = get_model(random_weights)
    path = sim.write_walk(params, tmp_path / "walk.csv", seconds=3.0)
    ours, theirs = sim.classify(params, model, seconds=3.0), analyze(path, model=model)
    assert [c.start for c in ours.clips] == [c.start for c in theirs.clips]
    assert np.abs(ours.frames.astype(int) - theirs.frames).max() <= 8  # anti-aliasing of 1e-6 shifts
    for c in CLASSES:
        assert ours.probabilities[c] == pytest.approx(theirs.probabilities[c], abs=2e-3)


@pytest.mark.parametrize("name", CLASSES)
def test_preview_cycle_keeps_the_walker_in_view(name):
    params = sim.PRESETS[name]
    seq, _ = sim.simulate(params)
    frames = sim.preview_indices(params, seq)
    cycle = 120.0 / params.cadence * FPS
    assert len(frames) == 8 and frames == sorted(frames) and frames[-1] - frames[0] <= cycle
    xy = seq[frames, :, :2]
    assert ((xy >= 0) & (xy <= 1)).all(), "the walker leaves the picture"


def test_preview_frames_show_the_walker():
    """A normal-speed side walk crosses the frame in about 3 s: the middle of a 6-s walk shows
    an empty corridor, so the strip is taken where the walker is."""
    params = sim.with_values(sim.PRESETS["Normal"], {"speed": 0.9})
    seq, _ = sim.simulate(params)
    middle = seq[len(seq) // 2 - 15 : len(seq) // 2 + 15, :, 0]
    assert (middle > 1).all(axis=1).any()  # why the middle cycle will not do
    frames = sim.preview_frames(params)
    assert frames.shape == (8, 360, 640, 3) and frames.dtype == np.uint8
    shirt = np.array((200, 40, 40))  # seed 0's palette: a red shirt, unlike the grey scene
    for frame in frames:
        assert (np.abs(frame.astype(int) - shirt).max(axis=-1) < 40).sum() > 100


def _run(args: list[str]) -> int:
    return cli_main(["simulate", *args])


def test_cli_writes_video_and_csv(tmp_path, capsys):
    out = ["--seconds", "2", "--out", str(tmp_path / "w.csv")]
    assert _run(["--preset", "PD_Mild", "--set", "trunk_flexion=20", *out]) == 0
    seq = load_keypoint_csv(tmp_path / "w.csv")
    assert seq.shape == (60, 33, 4)
    out = ["--seconds", "2", "--seed", "3", "--out", str(tmp_path / "w.mp4")]
    assert _run(["--preset", "Disabled_Assistive", *out]) == 0
    cap = cv2.VideoCapture(str(tmp_path / "w.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 60 and cap.get(cv2.CAP_PROP_FRAME_HEIGHT) == 640
    cap.release()
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--preset", "Jogging"], "unknown preset"),
    (["--preset", "Normal", "--set", "wings=2"], "unknown parameter"),
    (["--preset", "Normal", "--set", "knee_flexion=lots"], "must be a number"),
    (["--preset", "Normal", "--set", "knee_flexion=300"], "must lie in"),
    (["--preset", "Normal", "--set", "device=skateboard"], "must be one of"),
    (["--preset", "Normal", "--set", "knee_flexion"], "NAME=VALUE"),
    (["--preset", "Normal", "--seconds", "soon"], "--seconds"),
    (["--preset", "Normal", "--seconds", "0.5"], "--seconds"),
])
def test_cli_rejects_bad_input(tmp_path, capsys, args, message):
    assert _run([*args, "--out", str(tmp_path / "w.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0]
    assert not (tmp_path / "w.csv").exists()


@pytest.mark.parametrize("out", ["w.gif", "w", "missing_folder/w.csv"])
def test_cli_rejects_bad_output(tmp_path, capsys, out):
    assert _run(["--preset", "Normal", "--out", str(tmp_path / out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")


def test_sweep_rows_sum_to_one(random_weights):
    from gaitlab.weights import load_model

    model = load_model(random_weights)
    table = sim.sweep("Normal", "knee_flexion", [20.0, 45.0, 70.0], model, seconds=3.0)
    assert list(table["knee_flexion"]) == [20.0, 45.0, 70.0]
    np.testing.assert_allclose(table[list(CLASSES)].sum(axis=1), 1.0, atol=1e-5)
    assert set(table["predicted"]) <= set(CLASSES)
    assert len(sim.sweep_figure(table, "knee_flexion").data) == len(CLASSES)
    device = sim.classify(sim.PRESETS["Disabled_Assistive"], model, source="device", seconds=3.0)
    assert abs(sum(device.probabilities.values()) - 1) < 1e-5
    keypoints = sim.classify(sim.PRESETS["Disabled_Assistive"], model, source="keypoints", seconds=3.0)
    assert device.probabilities == keypoints.probabilities
