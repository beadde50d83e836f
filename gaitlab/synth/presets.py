"""Fitting the simulator's presets (`gaitlab.synth.simulator`) to the real data, and checking them.

`fit_presets` finds, per class, the `WalkerParams` whose simulated `gait_features`
(`simulated_features`) best match that class's real medians (damped Gauss-Newton over the
parameters `FIT_SPEC` names); `fit_and_save` writes them, with the medians, targets, achieved
features and provenance, to the data file `gaitlab/synth/presets.json` that the simulator
reads (`PRESETS_JSON`). `preset_report` and `report_lines` check how the model classifies the
presets. The command line (`gaitlab.cli`) runs them:

    python -m gaitlab presets fit [--data DIR]   # refit; rewrite presets.json
    python -m gaitlab presets report             # presets and sweeps through the model
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from gaitlab.constants import CLASSES
from gaitlab.errors import InputError
from gaitlab.synth.simulator import (
    PARAMETERS, PRESETS, PRESETS_JSON, SECONDS, TEMPLATES, build_preset, classify, consistent, simulate, sweep,
)
from gaitlab.synth.walker import WalkerParams

# The file the simulator loads; a partial fit may not replace it. (`fit_and_save` writes to
# `PRESETS_JSON` by default: a test may point that elsewhere, never this.)
SHIPPED_PRESETS = PRESETS_JSON

# Per camera: the fitted parameters, then the features they are fitted to, each "abs" (the
# class median) or "excess" (median minus Normal's: real Normal asymmetries, ~0.1, are
# measurement noise a noise-free walker lacks). A front camera sees no step length, sagittal
# knee angle, stoop or forward arm swing, but trunk sway (with the arms it carries) and stance.
FIT_SPEC: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    "side": (("step_length", "knee_flexion", "knee_extension", "trunk_flexion", "arm_swing", "elbow_flexion",
              "asymmetry", "stance_asymmetry", "head_flexion"),
             (("step_length", "abs"), ("hip_range", "abs"), ("stride_per_cycle", "abs"), ("knee_range", "abs"),
              ("knee_extension", "abs"), ("trunk_flexion_mean", "abs"), ("arm_swing", "abs"), ("elbow_flexion", "abs"),
              ("knee_asymmetry", "excess"), ("stance_asymmetry", "excess"), ("head_forward", "abs"))),
    "front": (("trunk_sway", "base_width", "asymmetry", "stance_asymmetry"),
              (("trunk_flexion_range", "abs"), ("arm_swing", "abs"), ("base_width", "abs"),
               ("knee_asymmetry", "excess"), ("stance_asymmetry", "excess"))),
}
# Cadence cannot be fitted: the data carry no clock and Normal's 32-frame cycles against
# KOA's 64-74 show the groups were filmed at different rates. Within a family (one set-up)
# cadence scales with the inverse median cycle length from a textbook anchor.
_CADENCE_ANCHOR = {"Normal": ("Normal", 110.0), "KOA": ("KOA_Early", 105.0), "PD": ("PD_Early", 105.0),
                   "Disabled": (None, 90.0)}


def simulated_features(params: WalkerParams, seconds: float = 8.0) -> dict[str, float]:
    """`gait_features` of the simulated walk, plus `head_forward` and the left/right means
    `knee_range`, `hip_range`, `arm_swing`."""
    return _with_means(_features(simulate(params, seconds)[0]))


def _features(seq: np.ndarray) -> dict[str, float]:
    from gaitlab.pipeline.features import gait_features, head_forward

    return {**gait_features(seq), "head_forward": head_forward(seq)}


def _with_means(f: dict[str, float]) -> dict[str, float]:
    mean = lambda key: (f[f"{key}_left"] + f[f"{key}_right"]) / 2  # noqa: E731
    return {**f, "knee_range": mean("knee_range"), "hip_range": mean("hip_range"), "arm_swing": mean("arm_swing")}


def _family_cadence(name: str, cycles: pd.Series) -> float:
    """Cadence from the within-family median cycle lengths (frames) and the family's anchor (the
    anchor itself where the family has no reference class, or `cycles` lacks it)."""
    family = next(k for k in _CADENCE_ANCHOR if name.startswith(k))
    ref, anchor = _CADENCE_ANCHOR[family]
    value = anchor if ref not in cycles.index else anchor * cycles[ref] / cycles[name]
    return float(np.clip(round(value), PARAMETERS["cadence"].lo, PARAMETERS["cadence"].hi))


def _fit_one(start: WalkerParams, names, features, targets: np.ndarray, scales: np.ndarray,
             iters: int = 15) -> WalkerParams:
    """Damped Gauss-Newton over parameters `names` (scaled to their ranges, kept in range)."""
    lo = np.array([PARAMETERS[n].lo for n in names])
    span = np.array([PARAMETERS[n].hi for n in names]) - lo

    def walk(u: np.ndarray) -> WalkerParams:
        return consistent(dataclasses.replace(start, **dict(zip(names, lo + u * span))), set(names))

    def residual(u: np.ndarray) -> np.ndarray:
        f = simulated_features(walk(u))
        return (np.array([f[k] for k in features]) - targets) / scales

    u = np.clip((np.array([getattr(start, n) for n in names]) - lo) / span, 0, 1)
    r = residual(u)
    for _ in range(iters):
        h = np.where(u > 0.95, -0.03, 0.03)  # finite differences that stay in range
        jac = np.stack([(residual(u + h[i] * np.eye(len(u))[i]) - r) / h[i] for i in range(len(u))], 1)
        for damping in (0.01, 0.1, 1.0, 10.0, 100.0):  # accept the first step that helps
            trial = np.clip(u - np.linalg.solve(jac.T @ jac + damping * np.eye(len(u)), jac.T @ r), 0, 1)
            r_trial = residual(trial)
            if (r_trial**2).sum() < (r**2).sum():
                u, r = trial, r_trial
                break
        else:
            break
    return walk(u)


def fit_targets(medians: pd.DataFrame, name: str, spec) -> np.ndarray:
    """What class `name` is fitted to: per (feature, kind) of `spec`, the class median ("abs") or
    its excess over Normal's, floored at 0 ("excess"). `medians`: class × feature."""
    return np.array([max(medians.at[name, k] - medians.at["Normal", k], 0.0) if kind == "excess"
                     else medians.at[name, k] for k, kind in spec])


def fit_presets(data) -> dict[str, dict[str, dict[str, float]]]:
    """Fit the preset of every class present in `data` (a `dataset.GaitData`) to that class's
    real medians; classes without walks in `data` are left out of the result.

    Returns per class `params` (the fitted parameters and cadence), `targets` (what the fit
    aimed at), `achieved` (the preset's own simulated features) and `medians` (the real class
    medians). InputError when `data` has no Normal walks: the "excess" asymmetry targets are
    measured against them. A family whose cadence reference class (`_CADENCE_ANCHOR`) is
    absent gets the anchor's cadence itself.
    """
    feats = pd.DataFrame([_with_means(_features(data.sequence(r))) for r in range(len(data.meta))])
    feats["label"] = data.meta["label"].to_numpy()
    med = feats.groupby("label").median(numeric_only=True)
    if "Normal" not in med.index:
        raise InputError("fitting the presets needs Normal walks in the data: the asymmetry targets are "
                         "measured against them.")
    q = feats.quantile([0.25, 0.75], numeric_only=True)
    cycles = data.meta.groupby("label")["cycle_frames"].median()
    out = {}
    for name in [c for c in CLASSES if c in med.index]:
        names, spec = FIT_SPEC[TEMPLATES[name].get("view", "side")]
        keys = [k for k, _ in spec]
        targets = fit_targets(med, name, spec)
        scales = np.maximum((q.loc[0.75, keys] - q.loc[0.25, keys]).to_numpy() / 1.35, 1e-3)
        start = WalkerParams(**TEMPLATES[name], cadence=_family_cadence(name, cycles))
        fitted = _fit_one(start, names, keys, targets, scales)
        params = {p: round(float(getattr(fitted, p)), 3) for p in [*names, "cadence"]}
        achieved = simulated_features(build_preset(name, params))  # the stored (rounded) preset's own
        out[name] = {"params": params,
                     "targets": dict(zip(keys, np.round(targets, 3).tolist())),
                     "achieved": {k: round(float(achieved[k]), 3) for k in keys},
                     "medians": {k: round(float(med.at[name, k]), 3) for k in keys}}
    return out


def fit_and_save(data, path: str | Path | None = None, command: str = "") -> Path:
    """Run `fit_presets(data)` and write the result as JSON to `path` (default `PRESETS_JSON`,
    the file `gaitlab.synth.simulator` loads); returns the path.

    The file holds `dataset` (the data set's name), `videos`, `command`, `date`, `note` and per
    fitted class `params`, `medians`, `targets` and `achieved`. A fit that lacks classes (data
    without some of them) says so in `note`, and is refused (InputError) for the shipped file,
    which must hold every class. Written to a temporary name first, then renamed.
    """
    from gaitlab.training.dataset import DATASET_NAME

    target = Path(path) if path is not None else PRESETS_JSON
    fit = fit_presets(data)
    missing = [c for c in CLASSES if c not in fit]
    if missing and target.resolve() == SHIPPED_PRESETS.resolve():
        raise InputError(f"the data hold no walks of {', '.join(missing)}; a fit of only some classes "
                         f"cannot replace {target.name}, which needs every class.")
    record = {"dataset": DATASET_NAME, "videos": int(len(data.meta)), "command": command,
              "date": datetime.date.today().isoformat(),
              "note": f"fitted only {', '.join(fit)}: the data hold no other class" if missing else "",
              "classes": fit}
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return target


def preset_report(model, source: str = "keypoints", seconds: float = SECONDS) -> pd.DataFrame:
    """Per preset: predicted class, its confidence, the probability of the preset's own class."""
    rows = []
    for name, params in PRESETS.items():
        a = classify(params, model, source, seconds)
        rows.append({"preset": name, "predicted": a.label, "confidence": a.confidence,
                     "p_own": a.probabilities[name], "correct": a.label == name})
    return pd.DataFrame(rows)


REPORT_SWEEPS = ("knee_flexion", "trunk_flexion")  # swept across their range on the Normal preset


def report_lines(model) -> list[str]:
    """How `model` reads the presets, as lines of text: per source (keypoints, video) a count
    line `presets as SOURCE: K/9 classified as their own class` and the `preset_report` table,
    then per `REPORT_SWEEPS` parameter a heading and its `sweep` table (6 values) on Normal."""
    lines = []
    for source in ("keypoints", "video"):
        table = preset_report(model, source)
        lines.append(f"presets as {source}: {int(table['correct'].sum())}/{len(table)} classified as their own class")
        lines += table.round(3).to_string(index=False).splitlines()
    for parameter in REPORT_SWEEPS:
        spec = PARAMETERS[parameter]
        lines.append(f"sweep of {parameter} on the Normal preset (keypoints)")
        values = np.linspace(spec.lo, spec.hi, 6).round(1)
        lines += sweep("Normal", parameter, values, model).round(3).to_string(index=False).splitlines()
    return lines
