"""Fitting the simulator's presets: simulated features, the stored tables, the fit and its command."""
from __future__ import annotations

import runpy
import sys
import warnings

import pytest

from gaitlab.synth import simulator as sim
from gaitlab.synth import presets as simulator_fit
from gaitlab.constants import CLASSES
from gaitlab.training.dataset import DEFAULT_DATA_DIR


@pytest.fixture(scope="module")
def features() -> dict[str, dict[str, float]]:
    return {name: simulator_fit.simulated_features(params) for name, params in sim.PRESETS.items()}


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


def test_side_presets_reproduce_their_real_medians(features):
    # The stored table is still what the walker does (a changed walker means: refit).
    names, spec = simulator_fit.FIT_SPEC["side"]
    for name in CLASSES[:7]:
        for key, kind in spec:
            if kind == "abs":
                real, got = sim.REAL_MEDIANS[name][key], features[name][key]
                assert abs(got - real) <= 0.1 * abs(real) + 1.0, (name, key, got, real)


@pytest.mark.skipif(not (DEFAULT_DATA_DIR / "keypoints.npz").is_file(), reason="needs ../shared/data/gait-keypoints")
def test_fit_reproduces_the_stored_presets():
    from gaitlab.training.dataset import load_gait_data

    fit = simulator_fit.fit_presets(load_gait_data())
    for name in CLASSES:
        assert fit[name]["medians"] == pytest.approx(sim.REAL_MEDIANS[name], rel=0.01, abs=0.002)
        for key, value in fit[name]["params"].items():
            scale = sim.PARAMETERS[key].hi - sim.PARAMETERS[key].lo
            assert abs(value - sim.FITTED[name][key]) <= 0.05 * scale, (name, key)


def test_fit_and_report_commands_dispatch(monkeypatch):
    calls = []
    monkeypatch.setattr(simulator_fit, "_print_fit", lambda: calls.append("fit"))
    monkeypatch.setattr(simulator_fit, "_print_report", lambda weights: calls.append(("report", weights)))
    simulator_fit.main(["fit"])
    simulator_fit.main(["report"])
    simulator_fit.main(["report", "w.safetensors"])
    # The older `python -m gaitlab.synth.simulator fit | report [WEIGHTS]` still runs the same.
    monkeypatch.setattr(sys, "argv", ["simulator", "report", "x.safetensors"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # runpy: gaitlab.synth.simulator is already imported
        runpy.run_module("gaitlab.synth.simulator", run_name="__main__")
    assert calls == ["fit", ("report", None), ("report", "w.safetensors"), ("report", "x.safetensors")]
