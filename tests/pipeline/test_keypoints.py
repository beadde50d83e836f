"""Keypoint input: CSV reading and its errors, NPZ access, gap filling, aspect estimation."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gaitlab.pipeline.clips import estimate_cycle_frames
from gaitlab.constants import CLIP_FRAMES
from gaitlab.errors import InputError
from gaitlab.pipeline.keypoints import (
    LANDMARK_COLUMNS,
    estimate_aspect,
    fill_gaps,
    load_keypoint_csv,
    load_npz_sequences,
    step_signal,
)
from gaitlab.synth.walker import WalkerParams, walk_keypoints, write_keypoint_csv



@pytest.fixture
def walk() -> np.ndarray:
    return walk_keypoints(WalkerParams(), 60)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- CSV round trip ------------------------------------------------------------------------


def test_csv_round_trip_ignores_extra_columns(tmp_path, walk):
    seq = walk.copy()
    seq[5] = np.nan  # a frame without detection
    path = tmp_path / "walk.csv"
    write_keypoint_csv(path, seq, extra_columns={"label": "PD_Severe", "video_file": "a.mov"})
    back = load_keypoint_csv(path)
    assert back.shape == seq.shape and back.dtype == np.float32
    assert np.isnan(back[5]).all()
    ok = np.arange(len(seq)) != 5
    np.testing.assert_allclose(back[ok], seq[ok], atol=1e-6)


def test_round_trip_without_extra_columns_keeps_empty_frames(tmp_path, walk):
    seq = walk.copy()
    seq[[0, 7]] = np.nan
    path = tmp_path / "plain.csv"
    write_keypoint_csv(path, seq)
    back = load_keypoint_csv(path)
    assert back.shape == seq.shape
    np.testing.assert_array_equal(np.isnan(back), np.isnan(seq))


def test_label_column_is_never_read(tmp_path, walk):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_keypoint_csv(a, walk, {"label": "Normal"})
    write_keypoint_csv(b, walk, {"label": "KOA_Severe", "video_file": "x.mov"})
    np.testing.assert_array_equal(load_keypoint_csv(a), load_keypoint_csv(b))


def test_column_order_and_header_whitespace_tolerated(tmp_path, walk):
    cols = list(LANDMARK_COLUMNS)
    order = np.random.default_rng(0).permutation(len(cols))
    flat = walk.reshape(len(walk), -1)
    lines = ["label, " + ", ".join(f" {cols[i]} " for i in order)]
    lines += ["Normal," + ",".join(f"{row[i]:.7g}" for i in order) for row in flat]
    path = _write(tmp_path / "shuffled.csv", "\n".join(lines) + "\n")
    np.testing.assert_allclose(load_keypoint_csv(path), walk, atol=1e-6)


def test_inf_and_junk_cells_make_a_frame_missing(tmp_path, walk):
    path = tmp_path / "w.csv"
    write_keypoint_csv(path, walk)
    lines = path.read_text().splitlines()
    cells = lines[3].split(",")
    cells[0] = "inf"
    lines[3] = ",".join(cells)
    cells = lines[7].split(",")
    cells[1] = "oops"
    lines[7] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    seq = load_keypoint_csv(path)
    assert np.isnan(seq[2]).all() and np.isnan(seq[6]).all()
    assert np.isfinite(seq[3]).all()


# --- Bad CSVs ------------------------------------------------------------------------------


def _message(path: Path) -> str:
    with pytest.raises(InputError) as info:
        load_keypoint_csv(path)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_no_landmark_columns(tmp_path):
    path = _write(tmp_path / "table.csv", "name,age\nann,3\nbob,4\n")
    assert "does not look like a MediaPipe keypoint CSV" in _message(path)


def test_missing_landmark_columns(tmp_path, walk):
    path = tmp_path / "w.csv"
    write_keypoint_csv(path, walk)
    lines = [",".join(line.split(",")[:-8]) for line in path.read_text().splitlines()]
    path.write_text("\n".join(lines) + "\n")
    message = _message(path)
    assert "missing 8" in message and "x_31" in message


def test_empty_file_and_header_only(tmp_path):
    assert "empty" in _message(_write(tmp_path / "empty.csv", ""))
    header = ",".join(LANDMARK_COLUMNS) + ",label\n"
    assert "no data rows" in _message(_write(tmp_path / "header.csv", header))


def test_too_few_detected_frames(tmp_path, walk):
    seq = walk.copy()
    seq[CLIP_FRAMES - 1 :] = np.nan
    path = tmp_path / "short.csv"
    write_keypoint_csv(path, seq)
    assert f"only {CLIP_FRAMES - 1} frames" in _message(path)


def test_junk_text_and_binary(tmp_path):
    header = ",".join(LANDMARK_COLUMNS)
    junk = "\n".join(",".join(["abc"] * len(LANDMARK_COLUMNS)) for _ in range(20))
    junk_csv = _write(tmp_path / "junk.csv", header + "\n" + junk)
    assert "no usable landmark values" in _message(junk_csv)
    binary = tmp_path / "video.csv"
    binary.write_bytes(b"\x00\x01\x02ftypmp42" * 100)
    assert "not a text CSV" in _message(binary)
    assert "not found" in _message(tmp_path / "nope.csv")


# --- Gaps, signals, aspect -----------------------------------------------------------------


def test_fill_gaps_interpolates_short_gaps_and_trims(walk):
    seq = walk.copy()
    seq[:3] = np.nan  # leading
    seq[20:25] = np.nan  # short gap: interpolated
    seq[-2:] = np.nan  # trailing
    filled = fill_gaps(seq, max_gap=10)
    assert len(filled) == len(seq) - 5
    assert np.isfinite(filled).all()
    # Interpolated values lie on the line between the frames around the gap.
    expected = seq[19] + (seq[25] - seq[19]) * (2 / 6)
    np.testing.assert_allclose(filled[21 - 3], expected, atol=1e-6)


def test_fill_gaps_keeps_longest_run_across_long_gap(walk):
    seq = walk.copy()
    seq[15:35] = np.nan  # 20 missing frames: too long to bridge
    filled = fill_gaps(seq, max_gap=10)
    np.testing.assert_array_equal(filled, walk[35:])


def test_fill_gaps_raises_when_too_short(walk):
    seq = walk.copy()
    seq[CLIP_FRAMES - 2 :] = np.nan
    with pytest.raises(InputError):
        fill_gaps(seq)


def test_step_signal_follows_cadence():
    fps, cadence = 30.0, 100.0
    seq = walk_keypoints(WalkerParams(cadence=cadence), 200, fps=fps)
    signal = step_signal(seq)
    assert signal.shape == (200,)
    cycle = estimate_cycle_frames(signal)
    assert cycle == pytest.approx(120.0 / cadence * fps, rel=0.1)


@pytest.mark.parametrize("aspect", [9 / 16, 4 / 3, 16 / 9, 2.2])
def test_estimate_aspect_recovers_walker_aspect(aspect):
    params = WalkerParams(direction=-1 if aspect > 2 else 1, knee_flexion=50)
    seq = walk_keypoints(params, 90, aspect=aspect)
    # MediaPipe-like jitter of about a pixel on a 1080p frame.
    seq[..., :2] += np.random.default_rng(0).normal(0, 0.0015, seq[..., :2].shape)
    assert estimate_aspect(seq) == pytest.approx(aspect, rel=0.1)


def test_estimate_aspect_falls_back_without_rotation(walk):
    still = np.repeat(walk[:1], 40, axis=0)  # rigid pose: no information
    assert estimate_aspect(still) == pytest.approx(16 / 9)


# --- NPZ and real samples ------------------------------------------------------------------


def test_npz_sequences_are_lazy_float32(tmp_path, walk):
    path = tmp_path / "keypoints.npz"
    np.savez(path, a=walk.astype(np.float16), b=walk[:10].astype(np.float16))
    with load_npz_sequences(path) as seqs:
        assert sorted(seqs) == ["a", "b"] and len(seqs) == 2
        assert seqs["a"].dtype == np.float32 and seqs["b"].shape == (10, 33, 4)
        with pytest.raises(KeyError):
            seqs["c"]
    with pytest.raises(InputError):
        load_npz_sequences(tmp_path / "missing.npz")


def test_real_sample_csvs(shared_data):
    files = sorted((shared_data / "raw-csv-samples").glob("*.csv"))
    assert files
    for path in files:
        seq = load_keypoint_csv(path)
        assert seq.shape[1:] == (33, 4)
        filled = fill_gaps(seq)
        assert np.isfinite(filled).all() and len(filled) >= CLIP_FRAMES
        assert 0.4 <= estimate_aspect(filled) <= 2.5


# --- Cleaning: side swaps, smoothing, the one cleaning function ------------------------------


def test_fix_side_swaps_undoes_planted_swaps():
    from gaitlab.pipeline.keypoints import fix_side_swaps
    from gaitlab.pipeline.landmarks import MIRROR_ORDER

    walk = walk_keypoints(WalkerParams(), 90)
    swapped, limbs = walk.copy(), np.arange(11, 33)
    for a, b in ((20, 24), (51, 53)):  # the pose estimator labels the limbs the wrong way round
        swapped[a:b, limbs] = walk[a:b][:, MIRROR_ORDER[limbs]]
    fixed = fix_side_swaps(swapped)
    assert np.abs(fixed - walk).max() < 1e-6
    assert np.abs(fix_side_swaps(walk) - walk).max() < 1e-6  # a clean walk is left alone


def test_clean_sequence_fills_fixes_and_smooths():
    from gaitlab.pipeline.keypoints import clean_sequence, kept_span

    walk = walk_keypoints(WalkerParams(), 90)
    raw = walk.copy()
    raw[:5] = np.nan  # the walker enters late
    raw[40:44] = np.nan  # a short gap
    clean = clean_sequence(raw)
    assert np.isfinite(clean).all() and len(clean) == 85
    assert kept_span(raw) == (5, 89)
    assert np.abs(clean[10:30, :, :2] - walk[15:35, :, :2]).max() < 0.01  # smoothing moves little
