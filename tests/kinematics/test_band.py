"""The normal band: its data file, the flags it raises, how it is built, and the `band` command.

A small gait-keypoints folder of synthetic walks stands in for the shared data, so the builder
and the command are tested on a fresh clone too; the committed band is checked against the
shared data where that is present (it must be what `python -m gaitlab band` makes of it).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gaitlab.cli import main
from gaitlab.kinematics import band, load_band
from gaitlab.kinematics.reference import BAND_JSON, PARAMETERS, RATE_BOUND, base_name, outside_band
from gaitlab.synth.simulator import PRESETS, simulate


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """metadata.csv + keypoints.npz (float16, as the shared data) of 9 synthetic walks."""
    root = tmp_path_factory.mktemp("gait-keypoints")
    rows, arrays = [], {}
    for i, (label, speed) in enumerate([("Normal", 0.75), ("Normal", 0.85), ("Normal", 0.8), ("Normal", 0.7),
                                        ("Normal", 0.9), ("Normal", 0.78), ("KOA_Severe", None),
                                        ("PD_Mild", None), ("Disabled_NonAssistive", None)]):
        params = PRESETS[label] if speed is None else dataclasses.replace(PRESETS["Normal"], speed=speed,
                                                                          direction=1 if i % 2 else -1)
        seq, _ = simulate(params, seconds=5)
        seq[:3] = np.nan  # a walker entering the frame
        vid = f"{i:03d}_{label}"
        arrays[vid] = seq.astype(np.float16)
        rows.append({"video_id": vid, "label": label, "subject_id": f"S{i // 2}"})
    np.savez(root / "keypoints.npz", **arrays)
    pd.DataFrame(rows).to_csv(root / "metadata.csv", index=False)
    return root


def test_the_committed_band_is_complete_and_traceable():
    record = load_band()
    assert record is not None, f"{BAND_JSON} is missing: run `python -m gaitlab band`"
    prov = record["provenance"]
    assert prov["label"] == "Normal" and prov["walks"] >= 20 and prov["subjects"] >= 10
    assert set(prov["sha256"]) == {"keypoints.npz", "metadata.csv"} and prov["command"].startswith("python -m gaitlab band")
    for name in {base_name(n) for n in PARAMETERS} - set(RATE_BOUND):
        stats = record["parameters"].get(name)
        assert stats is not None or name in record["not_in_band"], name
    for name in ("knee_rom_deg", "hip_rom_deg", "stride_length_heights", "step_length_asymmetry"):
        stats = record["parameters"][name]
        assert stats["n"] >= 20 and stats["sd"] > 0 and np.isfinite(stats["mean"])
    assert set(RATE_BOUND) <= set(record["not_in_band"])
    knee = record["curves"]["knee"]
    assert len(knee["mean"]) == len(knee["sd"]) == 101 and knee["n"] >= 20
    assert 35 < max(knee["mean"]) < 75 and min(knee["mean"]) < 20  # swing peak, near-straight stance


def test_outside_band_flags_beyond_two_sd_only():
    band_record = {"parameters": {"knee_rom_deg": {"mean": 55.0, "sd": 8.0, "n": 50},
                                  "stride_length_heights": {"mean": 0.75, "sd": 0.08, "n": 3}}}
    values = {"knee_rom_deg_left": 38.0, "knee_rom_deg_right": 40.0, "stride_length_heights": 0.2,
              "hip_rom_deg_left": 1.0, "step_length_asymmetry": None}
    assert outside_band(values, band_record) == ["knee_rom_deg_left"]  # n = 3 and no band flag nothing
    assert outside_band(values, None) == []


def test_load_band_of_a_missing_or_broken_file_is_none(tmp_path):
    assert load_band(tmp_path / "none.json") is None
    (tmp_path / "bad.json").write_text("{not json")
    assert load_band(tmp_path / "bad.json") is None


def test_build_normal_band_on_a_small_folder(tiny_data):
    record = band.build_normal_band(tiny_data, command="test")
    prov = record["provenance"]
    assert (prov["walks"], prov["subjects"], prov["command"]) == (6, 3, "test")
    assert prov["sha256"] == band.fingerprint(tiny_data)
    assert record["parameters"]["knee_rom_deg"]["n"] == 12  # 6 walks, both sides
    assert record["parameters"]["knee_rom_deg"]["mean"] == pytest.approx(53.0, abs=3.0)
    assert record["parameters"]["stride_length_heights"]["sd"] > 0
    assert "cadence_steps_per_min" not in record["parameters"]
    assert len(record["curves"]["hip"]["mean"]) == 101
    json.dumps(record, allow_nan=False)


def test_class_medians_of_a_small_folder(tiny_data):
    table = band.class_medians(band.walk_table(tiny_data))
    assert list(table.index) == ["Normal", "KOA_Severe", "PD_Mild", "Disabled_NonAssistive"]
    assert table.loc["Normal", "knee_rom_deg"] > table.loc["KOA_Severe", "knee_rom_deg"] + 10
    assert table.loc["Normal", "stride_length_heights"] > table.loc["PD_Mild", "stride_length_heights"]
    assert table.loc["Disabled_NonAssistive", "side_view"] == 0
    assert np.isfinite(table.loc["Disabled_NonAssistive", "base_width_heights"])
    text = band.markdown_table(table)
    assert text.count("\n") == len(table) + 1 and "| Normal |" in text


def test_band_command_writes_the_file(tiny_data, tmp_path, capsys):
    out = tmp_path / "band.json"
    assert main(["band", "--data", str(tiny_data), "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["provenance"]["walks"] == 6
    assert record["provenance"]["command"]  # the command as typed
    assert "6 Normal walks" in capsys.readouterr().out


def test_band_command_prints_class_medians(tiny_data, capsys):
    assert main(["band", "--data", str(tiny_data), "--class-medians", "--markdown"]) == 0
    printed = capsys.readouterr().out
    assert "| Normal |" in printed and "knee_rom_deg" in printed


def test_band_command_on_a_folder_without_data_is_one_error_line(tmp_path, capsys):
    assert main(["band", "--data", str(tmp_path), "--out", str(tmp_path / "b.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1
    assert not (tmp_path / "b.json").exists()


def test_the_committed_band_is_what_the_shared_data_gives(shared_data):
    committed = load_band()
    if committed["provenance"]["sha256"] != band.fingerprint(shared_data):
        pytest.fail("the shared data changed since the band was built: run `python -m gaitlab band`")
    rebuilt = band.build_normal_band(shared_data)
    for name, stats in committed["parameters"].items():
        assert rebuilt["parameters"][name] == pytest.approx(stats, abs=1e-3), name
    assert rebuilt["curves"]["knee"]["mean"] == pytest.approx(committed["curves"]["knee"]["mean"], abs=1e-3)
