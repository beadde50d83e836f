"""Fitting the simulator's presets: simulated features, the stored presets.json, the fit and its
`presets fit | report` commands (on a tiny generated data set and the shipped model)."""
from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import re

import numpy as np
import pandas as pd
import pytest

from gaitlab.cli import main as cli_main
from gaitlab.constants import CLASSES
from gaitlab.errors import InputError
from gaitlab.synth import presets
from gaitlab.synth import simulator as sim
from gaitlab.training.dataset import load_gait_data

SIDE = CLASSES[:7]
# How far a side preset's simulated feature may lie from its class's real median. Measured on
# the stored presets (worst residual over the 7 side classes; std of the 7 class medians), last
# after the refit to the walker with perspective, MediaPipe's arm, foot and face placement and
# the head's tilt (issue 13):
# - step_length, stride_per_cycle, hip_range, knee_range: the fit trades these against each
#   other (the walker's stride cannot match all four at once); worst 0.053, 0.23, 4.35°
#   (PD_Severe, one real subject), 2.23° (std 0.12, 0.32, 6.1°, 6.0°). Tolerances: the earlier
#   fits' bounds, which still hold.
# - knee_extension, trunk_flexion_mean, arm_swing, elbow_flexion, head_forward: one parameter
#   each sets them, the fit meets them to 0.17° (PD_Severe), 0.04°, 0.002, 0.36°, 0.02° (std
#   1.5°, 1.6°, 0.053, 5.2°, 6.3°). Tolerance about a tenth of the class spread, and above the
#   fit's residual.
# With these, swapping any two side presets breaks at least five (class, feature) checks
# (measured after the last refit: at least 8).
TOLERANCE = {"step_length": 0.1, "stride_per_cycle": 0.3, "hip_range": 4.5, "knee_range": 2.5,
             "knee_extension": 0.25, "trunk_flexion_mean": 0.15, "arm_swing": 0.01, "elbow_flexion": 0.5,
             "head_forward": 0.5}


@pytest.fixture(scope="module")
def features() -> dict[str, dict[str, float]]:
    return {name: presets.simulated_features(params) for name, params in sim.PRESETS.items()}


def test_presets_move_features_the_clinical_way(features):
    normal = features["Normal"]
    for name in ("KOA_Mild", "KOA_Severe"):
        assert features[name]["knee_range"] < normal["knee_range"] - 5
        assert features[name]["stride_per_cycle"] < normal["stride_per_cycle"]
    assert features["KOA_Severe"]["knee_range"] < features["KOA_Early"]["knee_range"]
    for name in ("PD_Early", "PD_Mild", "PD_Severe"):
        assert features[name]["trunk_flexion_mean"] > normal["trunk_flexion_mean"] + 1
        assert features[name]["arm_swing"] < 0.7 * normal["arm_swing"]
    assert features["PD_Severe"]["elbow_flexion"] > normal["elbow_flexion"] + 8
    for name in ("PD_Early", "PD_Mild", "PD_Severe"):  # the head carried forward (real: 24-26° against 14°)
        assert features[name]["head_forward"] > normal["head_forward"] + 8


def test_side_presets_reproduce_their_real_medians(features):
    _, spec = presets.FIT_SPEC["side"]
    assert sorted(k for k, kind in spec if kind == "abs") == sorted(TOLERANCE)
    misses = [(name, key, round(features[name][key], 3), sim.REAL_MEDIANS[name][key])
              for name in SIDE for key, tol in TOLERANCE.items()
              if abs(features[name][key] - sim.REAL_MEDIANS[name][key]) > tol]
    assert not misses, misses


def test_presets_file_is_what_the_simulator_and_walker_use(features):
    record = json.loads(sim.PRESETS_JSON.read_text())
    assert record["dataset"] == "gait-keypoints" and record["command"] and record["date"]
    assert list(record["classes"]) == list(CLASSES)
    for name in CLASSES:
        entry = record["classes"][name]
        assert entry["params"] == sim.FITTED[name] and entry["medians"] == sim.REAL_MEDIANS[name]
        for key, value in entry["params"].items():  # the preset is built from these numbers
            assert getattr(sim.PRESETS[name], key) == pytest.approx(value)
        _, spec = presets.FIT_SPEC[sim.TEMPLATES[name].get("view", "side")]
        assert list(entry["targets"]) == list(entry["achieved"]) == [k for k, _ in spec]
        # `achieved` is still what the walker does (a changed walker means: refit).
        for key, value in entry["achieved"].items():
            assert features[name][key] == pytest.approx(value, rel=1e-3, abs=2e-3), (name, key)


def test_a_presets_file_missing_a_class_is_refused(tmp_path):
    record = json.loads(sim.PRESETS_JSON.read_text())
    del record["classes"]["PD_Mild"]
    path = tmp_path / "presets.json"
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match="PD_Mild"):
        sim.load_presets_file(path)


def test_fit_reproduces_the_stored_presets(shared_data):
    fit = presets.fit_presets(load_gait_data(shared_data))
    for name in CLASSES:
        assert fit[name]["medians"] == pytest.approx(sim.REAL_MEDIANS[name], rel=0.01, abs=0.002)
        for key, value in fit[name]["params"].items():
            scale = sim.PARAMETERS[key].hi - sim.PARAMETERS[key].lo
            assert abs(value - sim.FITTED[name][key]) <= 0.05 * scale, (name, key)


# --- `presets fit` on a tiny data set ------------------------------------------------------
TINY = ("Normal", "KOA_Severe", "Disabled_Assistive")  # two side classes and a front one


@pytest.fixture(scope="module")
def tiny_data_dir(tmp_path_factory):
    """A gait-keypoints folder (metadata.csv + keypoints.npz of float16 [T, 33, 4]) of three
    simulated walks per class in `TINY`, each from the class's preset at another size and phase."""
    root = tmp_path_factory.mktemp("tiny-gait-keypoints")
    rng = np.random.default_rng(0)
    rows, seqs = [], {}
    for label in TINY:
        for s in range(3):
            params = dataclasses.replace(sim.PRESETS[label], height=float(rng.uniform(0.5, 0.65)),
                                         phase=float(rng.uniform(0, 1)))
            vid = f"{label}-{s}"
            seqs[vid] = sim.simulate(params, seconds=6.0)[0].astype(np.float16)
            rows.append({"video_id": vid, "label": label, "subject_id": vid})
    pd.DataFrame(rows).to_csv(root / "metadata.csv", index=False)
    np.savez(root / "keypoints.npz", **seqs)
    return root


def _shipped_bytes() -> bytes:
    return presets.SHIPPED_PRESETS.read_bytes()


def test_fit_and_save_fits_the_classes_present(tiny_data_dir, tmp_path):
    shipped = _shipped_bytes()
    out = presets.fit_and_save(load_gait_data(tiny_data_dir), path=tmp_path / "fit.json",
                               command="python -m gaitlab presets fit")
    assert out == tmp_path / "fit.json" and _shipped_bytes() == shipped
    record = json.loads(out.read_text())
    assert record["dataset"] == "gait-keypoints" and record["videos"] == 3 * len(TINY)
    assert record["command"] == "python -m gaitlab presets fit" and re.fullmatch(r"\d{4}-\d\d-\d\d", record["date"])
    assert list(record["classes"]) == list(TINY) and "fitted only" in record["note"]
    for name, entry in record["classes"].items():
        names, spec = presets.FIT_SPEC[sim.TEMPLATES[name].get("view", "side")]
        assert set(entry["params"]) == {*names, "cadence"}
        for key in entry["params"]:
            assert sim.PARAMETERS[key].lo <= entry["params"][key] <= sim.PARAMETERS[key].hi
        assert list(entry["targets"]) == list(entry["achieved"]) == list(entry["medians"]) == [k for k, _ in spec]
    # Walks simulated from the presets: the fit lands near them again (side features measured
    # on the walker itself, so the same tolerances as against the real medians hold).
    for name in ("Normal", "KOA_Severe"):
        entry = record["classes"][name]
        for key, tol in TOLERANCE.items():
            assert abs(entry["achieved"][key] - entry["targets"][key]) <= tol, (name, key)
    with pytest.raises(ValueError, match="no fitted preset"):  # a partial file cannot drive the simulator
        sim.load_presets_file(out)


def test_a_partial_fit_may_not_replace_the_shipped_file(tiny_data_dir, tmp_path, monkeypatch):
    stand_in = tmp_path / "presets.json"  # plays the shipped file; the real one is never a target here
    stand_in.write_text("{}")
    monkeypatch.setattr(presets, "SHIPPED_PRESETS", stand_in)
    monkeypatch.setattr(presets, "PRESETS_JSON", stand_in)
    with pytest.raises(InputError, match="Disabled_NonAssistive"):
        presets.fit_and_save(load_gait_data(tiny_data_dir))
    assert stand_in.read_text() == "{}"


def test_presets_fit_command_writes_the_file(tiny_data_dir, tmp_path, monkeypatch, capsys):
    shipped = _shipped_bytes()
    out = tmp_path / "presets.json"
    monkeypatch.setattr(presets, "PRESETS_JSON", out)  # the command's default target, moved to tmp
    assert cli_main(["presets", "fit", "--data", str(tiny_data_dir)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    assert list(json.loads(out.read_text())["classes"]) == list(TINY)
    assert _shipped_bytes() == shipped


def test_presets_fit_command_without_normal_walks_is_one_error_line(tmp_path, capsys):
    root = tmp_path / "data"
    root.mkdir()
    seq = sim.simulate(sim.PRESETS["PD_Mild"], seconds=4.0)[0].astype(np.float16)
    pd.DataFrame([{"video_id": "a", "label": "PD_Mild", "subject_id": "a"}]).to_csv(root / "metadata.csv", index=False)
    np.savez(root / "keypoints.npz", a=seq)
    shipped = _shipped_bytes()
    assert cli_main(["presets", "fit", "--data", str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "Normal" in err[0]
    assert _shipped_bytes() == shipped


# --- `presets report` on the shipped model -----------------------------------------------------
@pytest.fixture(scope="module")
def report_output() -> list[str]:
    """What `python -m gaitlab presets report` prints: the real `report_lines` of the shipped
    model (`get_model()`), 9 presets as keypoints and as video (MediaPipe Pose on 9 rendered
    walks) plus two sweeps: over a minute of CPU (3.5 min wall on two busy cores), so the tests
    below are in the slow tier; run once for them."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = cli_main(["presets", "report"])
    assert status == 0
    return buffer.getvalue().splitlines()


def _preset_rows(lines: list[str], source: str) -> tuple[str, list[list[str]]]:
    start = next(i for i, line in enumerate(lines) if line.startswith(f"presets as {source}:"))
    header = lines[start + 1].split()
    assert header == ["preset", "predicted", "confidence", "p_own", "correct"]
    return lines[start], [line.split() for line in lines[start + 2:start + 2 + len(CLASSES)]]


@pytest.mark.slow
@pytest.mark.parametrize("source", ["keypoints", "video"])
def test_presets_report_lists_every_preset(report_output, source):
    count_line, rows = _preset_rows(report_output, source)
    assert [r[0] for r in rows] == list(CLASSES)
    for preset, predicted, confidence, p_own, correct in rows:
        assert predicted in CLASSES
        assert 1 / len(CLASSES) <= float(confidence) <= 1 and 0 <= float(p_own) <= float(confidence)
        assert correct == str(predicted == preset)
    own = sum(r[1] == r[0] for r in rows)
    assert count_line == f"presets as {source}: {own}/{len(CLASSES)} classified as their own class"


@pytest.mark.slow
def test_shipped_model_reads_the_presets_and_the_knee_sweep(report_output):
    """Issue 13's bar for the shipped weights: at least 7 of 9 presets read as their own class
    from keypoints, and the knee-flexion sweep of Normal moves probability towards the KOA group
    as knee range falls (Spearman of KOA-group probability against knee flexion <= -0.8)."""
    from scipy.stats import spearmanr

    _, rows = _preset_rows(report_output, "keypoints")
    assert sum(r[1] == r[0] for r in rows) >= 7, rows
    start = report_output.index("sweep of knee_flexion on the Normal preset (keypoints)")
    header = report_output[start + 1].split()
    table = pd.DataFrame([line.split() for line in report_output[start + 2:start + 8]], columns=header)
    koa = table[["KOA_Early", "KOA_Mild", "KOA_Severe"]].astype(float).sum(axis=1)
    assert spearmanr(table["knee_flexion"].astype(float), koa)[0] <= -0.8, koa.tolist()


@pytest.mark.slow
def test_presets_report_sweeps_knee_and_trunk_flexion(report_output):
    for parameter in presets.REPORT_SWEEPS:
        start = report_output.index(f"sweep of {parameter} on the Normal preset (keypoints)")
        assert report_output[start + 1].split() == [parameter, *CLASSES, "predicted"]
        rows = [line.split() for line in report_output[start + 2:start + 8]]
        spec = sim.PARAMETERS[parameter]
        assert [float(r[0]) for r in rows] == pytest.approx(np.linspace(spec.lo, spec.hi, 6).round(1))
        for r in rows:
            assert sum(map(float, r[1:-1])) == pytest.approx(1.0, abs=0.01) and r[-1] in CLASSES
    assert len(report_output) == 2 * (2 + len(CLASSES)) + len(presets.REPORT_SWEEPS) * (2 + 6)  # nothing else

