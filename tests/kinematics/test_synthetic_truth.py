"""On the synthetic walker, whose true parameters the simulator knows, the kinematics recover
knee and hip ranges within 5° and cadence within 5 % across the presets (issue 11, Done when).
Side-view presets are checked for angles and lengths; the frontal presets (walking towards the
camera) for cadence, base width and trunk sway, which is what a frontal view shows honestly.
"""
from __future__ import annotations

import pytest

from gaitlab.synth.simulator import FPS, PRESETS

SIDE_PRESETS = [name for name, p in PRESETS.items() if p.view == "side"]
FRONT_PRESETS = [name for name, p in PRESETS.items() if p.view == "front"]


@pytest.mark.parametrize("name", SIDE_PRESETS)
def test_knee_and_hip_ranges_within_5_degrees(name, measured_presets, walker_truth):
    params, seq, kin = measured_presets[name]
    true = walker_truth(params, len(seq), FPS)
    for side in ("left", "right"):
        assert kin.parameters[f"knee_rom_deg_{side}"] == pytest.approx(true["knee_rom"][side], abs=5.0)
        assert kin.parameters[f"hip_rom_deg_{side}"] == pytest.approx(true["hip_rom"][side], abs=5.0)


@pytest.mark.parametrize("name", list(PRESETS))
def test_cadence_within_5_percent(name, measured_presets, walker_truth):
    params, seq, kin = measured_presets[name]
    true = walker_truth(params, len(seq), FPS)["cadence"]
    assert kin.parameters["cadence_steps_per_min"] == pytest.approx(true, rel=0.05)


@pytest.mark.parametrize("name", [n for n in SIDE_PRESETS if PRESETS[n].festination == 0 and PRESETS[n].freeze_rate == 0])
def test_stride_speed_and_arm_swing(name, measured_presets):
    params, _, kin = measured_presets[name]
    p = kin.parameters
    stride = params.speed * 120.0 / params.cadence  # heights walked per cycle
    assert p["stride_length_heights"] == pytest.approx(stride, rel=0.05)
    assert p["speed_heights_per_s"] == pytest.approx(params.speed, rel=0.05)
    for side in ("left", "right"):
        assert p[f"step_length_heights_{side}"] == pytest.approx(stride / 2, rel=0.1)
        assert p[f"arm_swing_deg_{side}"] == pytest.approx(params.arm_swing, abs=3.0)
        assert 50 < p[f"stance_pct_{side}"] < 75  # the walker's stance: 60 % of the cycle
    assert p["stride_time_cv"] < 2.0  # the walker keeps a steady rhythm
    assert kin.view == "sagittal" and kin.direction == 1


@pytest.mark.parametrize("name", FRONT_PRESETS)
def test_frontal_walk_measures_base_width_and_sway(name, measured_presets):
    params, _, kin = measured_presets[name]
    p = kin.parameters
    assert kin.view == "frontal"
    assert p["base_width_heights"] == pytest.approx(params.base_width, abs=0.01)
    # The walker leans over the stance leg: fully to the affected side, 30 % to the other.
    assert p["trunk_sway_deg"] == pytest.approx(1.3 * params.trunk_sway, abs=2.0)


def test_the_normal_preset_lies_in_the_band_and_knee_oa_does_not(measured_presets):
    normal = measured_presets["Normal"][2]
    severe = measured_presets["KOA_Severe"][2]
    assert not {"knee_rom_deg_left", "knee_rom_deg_right", "hip_rom_deg_left"} & set(normal.outside_normal_band)
    assert {"knee_rom_deg_left", "knee_rom_deg_right"} <= set(severe.outside_normal_band)
