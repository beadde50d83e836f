"""Fitting the simulator's presets (`gaitlab.synth.simulator`) to the real data, and checking them.

`fit_presets` finds, per class, the `WalkerParams` whose simulated `gait_features`
(`simulated_features`) best match that class's real medians (damped Gauss-Newton over the
parameters `FIT_SPEC` names); its results are the tables `FITTED` and `REAL_MEDIANS` stored in
`gaitlab.synth.simulator`. `preset_report` checks how the model classifies the presets.

    python -m gaitlab.synth.presets fit              # refit; print the tables to paste
    python -m gaitlab.synth.presets report [WEIGHTS] # presets and sweeps through the model

(`python -m gaitlab.synth.simulator fit | report [WEIGHTS]` runs the same.)
"""
from __future__ import annotations

import dataclasses
import sys
import textwrap

import numpy as np
import pandas as pd

from gaitlab.constants import CLASSES
from gaitlab.synth.simulator import PARAMETERS, PRESETS, SECONDS, _TEMPLATES, _consistent, classify, simulate, sweep
from gaitlab.synth.walker import WalkerParams

# Per camera: the fitted parameters, then the features they are fitted to, each "abs" (the
# class median) or "excess" (median minus Normal's: real Normal asymmetries, ~0.1, are
# measurement noise a noise-free walker lacks). A front camera sees no step length, sagittal
# knee angle, stoop or forward arm swing, but trunk sway (with the arms it carries) and stance.
FIT_SPEC: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    "side": (("step_length", "knee_flexion", "knee_extension", "trunk_flexion", "arm_swing", "elbow_flexion",
              "asymmetry", "stance_asymmetry"),
             (("step_length", "abs"), ("hip_range", "abs"), ("stride_per_cycle", "abs"), ("knee_range", "abs"),
              ("knee_extension", "abs"), ("trunk_flexion_mean", "abs"), ("arm_swing", "abs"), ("elbow_flexion", "abs"),
              ("knee_asymmetry", "excess"), ("stance_asymmetry", "excess"))),
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
    """`gait_features` of the simulated walk, plus left/right means `knee_range`, `hip_range`, `arm_swing`."""
    return _with_means(_features(simulate(params, seconds)[0]))


def _features(seq: np.ndarray) -> dict[str, float]:
    from gaitlab.pipeline.features import gait_features

    return gait_features(seq)


def _with_means(f: dict[str, float]) -> dict[str, float]:
    mean = lambda key: (f[f"{key}_left"] + f[f"{key}_right"]) / 2  # noqa: E731
    return {**f, "knee_range": mean("knee_range"), "hip_range": mean("hip_range"), "arm_swing": mean("arm_swing")}


def _family_cadence(name: str, cycles: pd.Series) -> float:
    """Cadence from the within-family median cycle lengths (frames) and the family's anchor."""
    family = next(k for k in _CADENCE_ANCHOR if name.startswith(k))
    ref, anchor = _CADENCE_ANCHOR[family]
    value = anchor if ref is None else anchor * cycles[ref] / cycles[name]
    return float(np.clip(round(value), PARAMETERS["cadence"].lo, PARAMETERS["cadence"].hi))


def _fit_one(start: WalkerParams, names, features, targets: np.ndarray, scales: np.ndarray,
             iters: int = 15) -> WalkerParams:
    """Damped Gauss-Newton over parameters `names` (scaled to their ranges, kept in range)."""
    lo = np.array([PARAMETERS[n].lo for n in names])
    span = np.array([PARAMETERS[n].hi for n in names]) - lo

    def walk(u: np.ndarray) -> WalkerParams:
        return _consistent(dataclasses.replace(start, **dict(zip(names, lo + u * span))), set(names))

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


def fit_presets(data) -> dict[str, dict[str, dict[str, float]]]:
    """Fit every class's preset to the real per-class medians of `data` (a `dataset.GaitData`).

    Returns per class `params` (the fitted parameters and cadence: `FITTED`), `targets` (what
    the fit aimed at), `achieved` (the preset's own simulated features) and `medians` (the real
    class medians: `REAL_MEDIANS`).
    """
    feats = pd.DataFrame([_with_means(_features(data.sequence(r))) for r in range(len(data.meta))])
    feats["label"] = data.meta["label"].to_numpy()
    med = feats.groupby("label").median(numeric_only=True)
    q = feats.quantile([0.25, 0.75], numeric_only=True)
    cycles = data.meta.groupby("label")["cycle_frames"].median()
    out = {}
    for name in CLASSES:
        names, spec = FIT_SPEC[_TEMPLATES[name].get("view", "side")]
        keys = [k for k, _ in spec]
        targets = np.array([max(med.at[name, k] - med.at["Normal", k], 0.0) if kind == "excess" else med.at[name, k]
                            for k, kind in spec])
        scales = np.maximum((q.loc[0.75, keys] - q.loc[0.25, keys]).to_numpy() / 1.35, 1e-3)
        start = WalkerParams(**_TEMPLATES[name], cadence=_family_cadence(name, cycles))
        fitted = _fit_one(start, names, keys, targets, scales)
        achieved = simulated_features(fitted)
        out[name] = {"params": {p: round(float(getattr(fitted, p)), 3) for p in [*names, "cadence"]},
                     "targets": dict(zip(keys, np.round(targets, 3).tolist())),
                     "achieved": {k: round(float(achieved[k]), 3) for k in keys},
                     "medians": {k: round(float(med.at[name, k]), 3) for k in keys}}
    return out


def preset_report(model, source: str = "keypoints", seconds: float = SECONDS) -> pd.DataFrame:
    """Per preset: predicted class, its confidence, the probability of the preset's own class."""
    rows = []
    for name, params in PRESETS.items():
        a = classify(params, model, source, seconds)
        rows.append({"preset": name, "predicted": a.label, "confidence": a.confidence,
                     "p_own": a.probabilities[name], "correct": a.label == name})
    return pd.DataFrame(rows)


# --- Command line -------------------------------------------------------------------------
def _print_fit() -> None:
    """Refit on the shared data and print the tables to paste over FITTED and REAL_MEDIANS."""
    from gaitlab.training.dataset import load_gait_data

    fit = fit_presets(load_gait_data())
    for table, key in (("FITTED", "params"), ("REAL_MEDIANS", "medians")):
        print(f"{table}: dict[str, dict[str, float]] = {{")
        for name, res in fit.items():
            items = ", ".join(f"{k}={v:.3g}" for k, v in res[key].items())
            print(textwrap.fill(f"    {name!r}: dict({items}),", 110, subsequent_indent=" " * 8))
        print("}")
    for name, res in fit.items():
        print(f"# {name}: targets {res['targets']} achieved {res['achieved']}")


def _print_report(weights: str | None) -> None:
    """The issue's done-when check: presets as keypoints and as video, knee and trunk sweeps."""
    from gaitlab.inference import get_model

    model = get_model(weights)
    for source in ("keypoints", "video"):
        table = preset_report(model, source)
        print(f"presets as {source}: {int(table['correct'].sum())}/9 classified as their own class")
        print(table.round(3).to_string(index=False))
    for parameter in ("knee_flexion", "trunk_flexion"):
        spec = PARAMETERS[parameter]
        print(sweep("Normal", parameter, np.linspace(spec.lo, spec.hi, 6).round(1), model).round(3).to_string(index=False))


def main(argv: list[str] | None = None) -> None:
    """`fit` (the default) or `report [WEIGHTS]`, from `argv` (default: the command line)."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["report"]:
        _print_report(args[1] if len(args) > 1 else None)
    else:
        _print_fit()


if __name__ == "__main__":  # python -m gaitlab.synth.presets fit | report [WEIGHTS]
    main()
