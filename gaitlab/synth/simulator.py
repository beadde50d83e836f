"""What-if gait simulator for teaching: clinical parameters, fitted presets, predictions, sweeps.

A simulated walk is a `WalkerParams` (`gaitlab.synth.walker`): `PARAMETERS` gives each clinically
meaningful field a label and range, `PRESETS` one walk per class fitted to that class's real
statistics (the stored numbers; `gaitlab.synth.presets` fits and checks them), `simulate` turns
a walk into keypoints plus a walking-aid drawing, `classify` asks the model, `sweep` moves one
parameter across its range. Speed, cadence and step length are kept consistent
(speed = step length × cadence / 60).

Where a walking aid shows (see `gaitlab.synth.walker`): a keypoint CSV has no place for it (MediaPipe
layout: body landmarks only), so the `keypoints` source carries it only through posture; the
`device` source renders the keypoint silhouettes and draws the aid on them with the same framing
(what background subtraction of a real video would keep), and `video` writes pixels.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from gaitlab.constants import CLASSES, CLIP_FRAMES, DISPLAY_NAMES
from gaitlab.errors import InputError
from gaitlab.synth.walker import DEVICES, SIDES, VIEWS, Device, WalkerParams, walk_with_device, write_keypoint_csv
from gaitlab.synth.walker_video import render_walk_video

FPS, SECONDS = 30.0, 6.0
SOURCES = ("keypoints", "device", "video")  # what the model is shown; see the module docstring
_FRAMES = {"side": (640, 360), "front": (360, 640)}  # video size: landscape side, portrait phone front


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A simulator knob: `kind` "float" with [lo, hi] and slider `step`, or "choice" of `choices`."""

    label: str
    help: str
    lo: float = 0.0
    hi: float = 1.0
    step: float = 0.01
    choices: tuple = ()

    @property
    def kind(self) -> str:
        return "choice" if self.choices else "float"


PARAMETERS: dict[str, Parameter] = {
    "speed": Parameter("Walking speed (heights/s)", "≈ ×1.7 m/s for a 1.70 m adult", 0.1, 1.4, 0.02),
    "cadence": Parameter("Cadence (steps/min)", "steps per minute", 50.0, 140.0, 1.0),
    "step_length": Parameter("Step length (heights)", "one step, share of body height", 0.1, 0.7, 0.01),
    "asymmetry": Parameter("Step-length asymmetry", "the affected leg's step and swing shorten", 0.0, 1.0),
    "stance_asymmetry": Parameter("Stance-time asymmetry", "the affected leg's stance shortens (up to 30%)", 0.0, 1.0),
    "affected_side": Parameter("Affected side", "leg the asymmetries and tremor favour", choices=SIDES),
    "knee_flexion": Parameter("Knee flexion in swing (°)", "peak swing knee flexion", 10.0, 75.0, 1.0),
    "knee_extension": Parameter("Knee flexion in stance (°)", "least knee bend; high: a stiff, flexed knee",
                                0.0, 30.0, 0.5),
    "trunk_flexion": Parameter("Trunk flexion (°)", "forward stoop (negative: leaning back)", -10.0, 45.0, 0.5),
    "trunk_sway": Parameter("Lateral trunk sway (°)", "lean over the stance leg; seen from the front", 0.0, 30.0, 0.5),
    "arm_swing": Parameter("Arm swing, left (°)", "peak-to-peak shoulder swing", 0.0, 60.0, 1.0),
    "arm_swing_right": Parameter("Arm swing, right (°)", "peak-to-peak shoulder swing", 0.0, 60.0, 1.0),
    "elbow_flexion": Parameter("Elbow flexion (°)", "resting bend of the elbows", 0.0, 90.0, 1.0),
    "base_width": Parameter("Base width (heights)", "lateral ankle distance; seen from the front", 0.02, 0.35, 0.01),
    "shuffle": Parameter("Shuffling", "flat feet (no heel strike or push-off), less knee flexion", 0.0, 1.0),
    "festination": Parameter("Festination", "steps quicken and shorten within a bout", 0.0, 1.0),
    "freeze_rate": Parameter("Freezing episodes per 10 s", "forward progression stops", 0.0, 4.0, 0.1),
    "freeze_seconds": Parameter("Freezing episode length (s)", "", 0.5, 4.0, 0.1),
    "tremor": Parameter("Hand tremor (heights)", "rest tremor amplitude", 0.0, 0.03, 0.001),
    "tremor_hz": Parameter("Tremor frequency (Hz)", "parkinsonian rest tremor: 4-6 Hz", 3.0, 8.0, 0.1),
    "device": Parameter("Walking aid", "cane in the sound-side hand, or a walking frame", choices=DEVICES),
    "view": Parameter("Camera", "side (sagittal) or front (walking towards the camera)", choices=VIEWS),
}

# --- Presets ------------------------------------------------------------------------------
# Hand-set clinical terms (not measured by `gait_features`, so not fitted): textbook signs.
_TEMPLATES: dict[str, dict[str, Any]] = {
    "Normal": {},
    "KOA_Early": {},
    "KOA_Mild": {},
    "KOA_Severe": {"trunk_sway": 6.0},
    "PD_Early": {"tremor": 0.006},
    "PD_Mild": {"tremor": 0.008, "shuffle": 0.3},
    "PD_Severe": {"tremor": 0.01, "shuffle": 0.6, "festination": 0.5, "freeze_rate": 1.5},
    "Disabled_Assistive": {"view": "front", "device": "cane", "step_length": 0.3, "elbow_flexion": 25.0},
    "Disabled_NonAssistive": {"view": "front", "step_length": 0.35},
}
# FITTED and REAL_MEDIANS are printed by `python -m gaitlab.synth.simulator fit` (`fit_presets` of
# `gaitlab.synth.presets` on ../shared/data/gait-keypoints, 216 videos): per class, the parameters
# whose simulated `gait_features` best match (damped Gauss-Newton, `FIT_SPEC`) the class medians below.
FITTED: dict[str, dict[str, float]] = {
    'Normal': dict(step_length=0.443, knee_flexion=54.7, knee_extension=1.36, trunk_flexion=-2.77,
        arm_swing=31.8, elbow_flexion=15.3, asymmetry=0, stance_asymmetry=0, cadence=110),
    'KOA_Early': dict(step_length=0.399, knee_flexion=46.8, knee_extension=1.23, trunk_flexion=0.483,
        arm_swing=26.7, elbow_flexion=14.2, asymmetry=0.108, stance_asymmetry=0.054, cadence=105),
    'KOA_Mild': dict(step_length=0.337, knee_flexion=42.4, knee_extension=1.42, trunk_flexion=2.26,
        arm_swing=20.3, elbow_flexion=16.6, asymmetry=0.074, stance_asymmetry=0.095, cadence=99),
    'KOA_Severe': dict(step_length=0.279, knee_flexion=34.5, knee_extension=1.8, trunk_flexion=1.26,
        arm_swing=21.9, elbow_flexion=18.3, asymmetry=0.072, stance_asymmetry=0.025, cadence=91),
    'PD_Early': dict(step_length=0.274, knee_flexion=39.5, knee_extension=2.02, trunk_flexion=-0.778,
        arm_swing=12.5, elbow_flexion=15.3, asymmetry=0, stance_asymmetry=0.049, cadence=105),
    'PD_Mild': dict(step_length=0.221, knee_flexion=38, knee_extension=2.05, trunk_flexion=1.81, arm_swing=11,
        elbow_flexion=16.9, asymmetry=0, stance_asymmetry=0, cadence=83),
    'PD_Severe': dict(step_length=0.342, knee_flexion=58.7, knee_extension=5.65, trunk_flexion=-0.706,
        arm_swing=19.9, elbow_flexion=29.9, asymmetry=0.052, stance_asymmetry=0, cadence=75),
    'Disabled_Assistive': dict(trunk_sway=5.34, base_width=0.029, asymmetry=0.64, stance_asymmetry=0.132,
        cadence=90),
    'Disabled_NonAssistive': dict(trunk_sway=17.1, base_width=0.033, asymmetry=0, stance_asymmetry=0,
        cadence=90),
}
REAL_MEDIANS: dict[str, dict[str, float]] = {
    'Normal': dict(step_length=0.784, hip_range=42.3, stride_per_cycle=1.62, knee_range=51.5,
        knee_extension=1.51, trunk_flexion_mean=-2.77, arm_swing=0.257, elbow_flexion=15.3,
        knee_asymmetry=0.104, stance_asymmetry=0.059),
    'KOA_Early': dict(step_length=0.707, hip_range=36.1, stride_per_cycle=1.42, knee_range=42.9,
        knee_extension=1.34, trunk_flexion_mean=0.478, arm_swing=0.217, elbow_flexion=14.5,
        knee_asymmetry=0.128, stance_asymmetry=0.031),
    'KOA_Mild': dict(step_length=0.6, hip_range=31, stride_per_cycle=1.15, knee_range=38.5,
        knee_extension=1.52, trunk_flexion_mean=2.26, arm_swing=0.164, elbow_flexion=16.7,
        knee_asymmetry=0.116, stance_asymmetry=0.05),
    'KOA_Severe': dict(step_length=0.481, hip_range=26.5, stride_per_cycle=0.99, knee_range=30.9,
        knee_extension=1.91, trunk_flexion_mean=1.26, arm_swing=0.172, elbow_flexion=18.5,
        knee_asymmetry=0.133, stance_asymmetry=0.062),
    'PD_Early': dict(step_length=0.519, hip_range=24.2, stride_per_cycle=0.968, knee_range=36,
        knee_extension=2.12, trunk_flexion_mean=-0.779, arm_swing=0.102, elbow_flexion=15.8,
        knee_asymmetry=0.091, stance_asymmetry=0.029),
    'PD_Mild': dict(step_length=0.425, hip_range=21.1, stride_per_cycle=0.858, knee_range=32.9,
        knee_extension=2.15, trunk_flexion_mean=1.81, arm_swing=0.092, elbow_flexion=17.4,
        knee_asymmetry=0.137, stance_asymmetry=0.061),
    'PD_Severe': dict(step_length=0.477, hip_range=29.7, stride_per_cycle=0.99, knee_range=40.3,
        knee_extension=5.75, trunk_flexion_mean=-0.707, arm_swing=0.155, elbow_flexion=30.6,
        knee_asymmetry=0.087, stance_asymmetry=0.106),
    'Disabled_Assistive': dict(trunk_flexion_range=12.4, arm_swing=0.189, base_width=0.122,
        knee_asymmetry=0.378, stance_asymmetry=0.277),
    'Disabled_NonAssistive': dict(trunk_flexion_range=47.5, arm_swing=0.529, base_width=0.139,
        knee_asymmetry=0.114, stance_asymmetry=0.105),
}


def _consistent(params: WalkerParams, given: set[str]) -> WalkerParams:
    """Make speed = step_length × cadence / 60, deriving whichever of the three was not given."""
    lim = lambda name, v: float(np.clip(v, PARAMETERS[name].lo, PARAMETERS[name].hi))  # noqa: E731
    p = params
    if {"speed", "step_length"} <= given and "cadence" not in given:
        return dataclasses.replace(p, cadence=lim("cadence", p.speed * 60 / p.step_length))
    if "speed" in given:
        return dataclasses.replace(p, step_length=lim("step_length", p.speed * 60 / p.cadence))
    return dataclasses.replace(p, speed=lim("speed", p.step_length * p.cadence / 60))


def _preset(name: str) -> WalkerParams:
    values = {**_TEMPLATES[name], **FITTED[name]}
    return _consistent(WalkerParams(**values), set(values) - {"speed"})


PRESETS: dict[str, WalkerParams] = {c: _preset(c) for c in CLASSES}


def preset(name: str) -> WalkerParams:
    """The preset walk of class `name`; InputError naming the known ones otherwise."""
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; known: {', '.join(CLASSES)}.")
    return PRESETS[name]


def with_values(params: WalkerParams, values: dict[str, Any]) -> WalkerParams:
    """`params` with parameters changed (validated against `PARAMETERS`), kept consistent."""
    clean: dict[str, Any] = {}
    for name, value in values.items():
        spec = PARAMETERS.get(name)
        if spec is None:
            raise InputError(f"unknown parameter {name!r}; known: {', '.join(PARAMETERS)}.")
        if spec.kind == "choice":
            if value not in spec.choices:
                raise InputError(f"{name} must be one of {', '.join(spec.choices)}, not {value!r}.")
            clean[name] = value
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InputError(f"{name} must be a number, not {value!r}.") from None
        if not spec.lo <= number <= spec.hi:
            raise InputError(f"{name} must lie in [{spec.lo:g}, {spec.hi:g}], not {number:g}.")
        clean[name] = number
    return _consistent(dataclasses.replace(params, **clean), set(clean))


def parse_settings(items: list[str]) -> dict[str, str]:
    """`["NAME=VALUE", ...]` → dict; InputError for an item without `=`."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--set expects NAME=VALUE, not {item!r}.")
        out[name.strip()] = value.strip()
    return out


# --- Simulation and rendering ---------------------------------------------------------------
def aspect_of(params: WalkerParams) -> float:
    w, h = _FRAMES[params.view]
    return w / h


def simulate(params: WalkerParams, seconds: float = SECONDS, fps: float = FPS) -> tuple[np.ndarray, Device | None]:
    """Keypoints [T, 33, 4] and the walking aid's drawing (or None), on the view's frame."""
    return walk_with_device(params, int(round(seconds * fps)), fps, aspect_of(params))


def write_walk(params: WalkerParams, path: str | Path, seconds: float = SECONDS, seed: int = 0,
               label: str = "") -> Path:
    """Write the walk as a video (.mp4, the aid drawn) or a MediaPipe keypoint CSV (.csv)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".csv"):
        raise InputError(f"{path.name}: cannot write {suffix or 'files without an extension'}; use .mp4 or .csv.")
    if not path.parent.is_dir():
        raise InputError(f"{path.parent} is not a folder.")
    seq, device = simulate(params, seconds)
    if suffix == ".csv":
        write_keypoint_csv(path, seq, {"label": label} if label else None)
    else:
        render_walk_video(path, [seq], *_FRAMES[params.view], fps=FPS, seed=seed, devices=[device])
    return path


def walk_bytes(params: WalkerParams, suffix: str, seconds: float = SECONDS, seed: int = 0) -> bytes:
    """The walk as the bytes of a .mp4 or .csv file (for downloads)."""
    with tempfile.TemporaryDirectory(prefix="gaitlab-sim-") as tmp:
        return write_walk(params, Path(tmp) / f"walk{suffix}", seconds, seed).read_bytes()


def preview_frames(params: WalkerParams, n: int = 8, seconds: float = SECONDS, seed: int = 0) -> np.ndarray:
    """`n` colour video frames uint8 [n, H, W, 3] spread over the middle gait cycle, aid drawn."""
    cycle = 120.0 / params.cadence * FPS
    wanted = set((np.arange(n) * cycle / n + (seconds * FPS - cycle) / 2).astype(int).tolist())
    with tempfile.TemporaryDirectory(prefix="gaitlab-sim-") as tmp:
        seq, device = simulate(params, seconds)
        render_walk_video(Path(tmp) / "walk.avi", [seq], *_FRAMES[params.view], FPS, seed, devices=[device])
        cap, frames = cv2.VideoCapture(str(Path(tmp) / "walk.avi")), []
        for t in range(max(wanted) + 1):
            ok, frame = cap.read()
            if ok and t in wanted:
                frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        cap.release()
    return np.stack(frames)


def device_silhouettes(seq: np.ndarray, device: Device | None, indices=None, aspect: float | None = None) -> np.ndarray:
    """`render.render_silhouettes` (plain style) with the walking aid drawn on, same framing."""
    from gaitlab.pipeline.framing import framing_for_boxes
    from gaitlab.training.dataset import source_aspect
    from gaitlab.pipeline.render import SOURCE_HEIGHT, body_height, body_shapes, render_silhouettes, shapes_boxes
    from gaitlab.synth.walker_video import draw_device

    aspect = source_aspect(seq) if aspect is None else aspect
    indices = np.arange(len(seq)) if indices is None else np.asarray(indices, dtype=int)
    out = render_silhouettes(seq, indices=indices, aspect=aspect)
    if device is None:
        return out
    px = np.array([SOURCE_HEIGHT * aspect, SOURCE_HEIGHT])
    pts = seq[..., :2].astype(np.float64) * px
    framing = framing_for_boxes(shapes_boxes(body_shapes(pts, body_height(pts))))
    for j, t in enumerate(indices):
        xy = framing.apply_points(int(t), device.points[t] * px)
        draw_device(out[j], xy, device.segments, device.thickness[t] * SOURCE_HEIGHT * framing.scale, 255)
    return out


def _case(params: WalkerParams, source: str, seconds: float):
    """The walk as model-ready `CaseClips`, shown the model the way `source` says."""
    from gaitlab.pipeline.clips import estimate_cycle_frames, plan_clips
    from gaitlab.training.dataset import source_aspect
    from gaitlab.inference import CaseClips, prepare_case
    from gaitlab.pipeline.keypoints import step_signal

    if source not in SOURCES:
        raise InputError(f"source must be one of {', '.join(SOURCES)}, not {source!r}.")
    if source == "video":  # through the whole video path: decoding, background subtraction
        with tempfile.TemporaryDirectory(prefix="gaitlab-sim-") as tmp:
            return prepare_case(write_walk(params, Path(tmp) / "walk.mp4", seconds))
    seq, device = simulate(params, seconds)
    spans = plan_clips(len(seq), estimate_cycle_frames(step_signal(seq)))  # as `keypoint_clips`
    frames = device_silhouettes(seq, device if source == "device" else None,
                                [i for s in spans for i in s.indices], source_aspect(seq))
    masks = frames.reshape(len(spans), CLIP_FRAMES, *frames.shape[1:])
    return CaseClips("keypoints", spans, masks, np.ones(masks.shape[:2], bool), None, [])


def classify(params: WalkerParams, model, source: str = "keypoints", seconds: float = SECONDS):
    """The model's `Analysis` of the simulated walk (no note)."""
    from gaitlab.inference import score_case

    return score_case(_case(params, source, seconds), "", model, name="simulated walk")


def sweep(preset_name: str | WalkerParams, parameter: str, values, model, source: str = "keypoints",
          seconds: float = SECONDS) -> pd.DataFrame:
    """One row per value of `parameter` (others as in the preset): the value, every class's
    probability (columns `CLASSES`, summing to 1) and the `predicted` class."""
    base = preset(preset_name) if isinstance(preset_name, str) else preset_name
    rows = []
    for value in values:
        analysis = classify(with_values(base, {parameter: value}), model, source, seconds)
        rows.append({parameter: value, **analysis.probabilities, "predicted": analysis.label})
    return pd.DataFrame(rows, columns=[parameter, *CLASSES, "predicted"])


def sweep_figure(table: pd.DataFrame, parameter: str) -> go.Figure:
    """Lines: each class's probability against the swept parameter (class colours as `figures`)."""
    from gaitlab.figures import CLASS_COLORS

    label = PARAMETERS[parameter].label if parameter in PARAMETERS else parameter
    fig = go.Figure([go.Scatter(x=table[parameter], y=table[c], name=DISPLAY_NAMES[c], mode="lines+markers",
                                line_color=CLASS_COLORS[c],
                                hovertemplate=f"{DISPLAY_NAMES[c]}: %{{y:.1%}}<extra></extra>") for c in CLASSES])
    fig.update_layout(title=dict(text=f"How the prediction moves with {label.lower()}"), xaxis_title=label,
                      yaxis_title="Probability", yaxis_tickformat=".0%", yaxis_range=[0, 1], template="plotly_white")
    return fig


# --- Command line -------------------------------------------------------------------------
def add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `gaitlab simulate` (values are checked in `run_simulate`, one `error:` line)."""
    parser.add_argument("--preset", required=True, help=f"class whose preset walk to start from: {', '.join(CLASSES)}")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="settings",
                        help=f"change a parameter (repeatable): {', '.join(PARAMETERS)}")
    parser.add_argument("--seconds", default=str(SECONDS), help=f"length of the walk (default {SECONDS:g})")
    parser.add_argument("--seed", default="0", help="video background and clothing (default 0)")
    parser.add_argument("--out", required=True, help="output: .mp4 video (aid drawn) or .csv MediaPipe keypoints")


def run_simulate(args: argparse.Namespace) -> int:
    """Write the walk; 0 on success, 2 with one `error:` line on stderr for bad input."""
    try:
        params = with_values(preset(args.preset), parse_settings(args.settings))
        try:
            seconds, seed = float(args.seconds), int(args.seed)
        except ValueError:
            raise InputError(f"--seconds needs a number and --seed an integer, not {args.seconds!r}, "
                             f"{args.seed!r}.") from None
        if not 2.0 <= seconds <= 60.0:
            raise InputError(f"--seconds must lie in [2, 60], not {seconds:g}.")
        path = write_walk(params, args.out, seconds, seed, label=args.preset)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {seconds:g} s of the {args.preset} preset walk to {path}")
    return 0


if __name__ == "__main__":  # python -m gaitlab.synth.simulator fit | report [WEIGHTS]: see `simulator_fit`
    from gaitlab.synth.presets import main

    main()
