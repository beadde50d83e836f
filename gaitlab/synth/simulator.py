"""What-if gait simulator for teaching: clinical parameters, fitted presets, predictions, sweeps.

A simulated walk is a `WalkerParams` (`gaitlab.synth.walker`): `PARAMETERS` gives each clinically
meaningful field a label and range, `PRESETS` one walk per class fitted to that class's real
statistics (read at import from the data file `presets.json`; `gaitlab.synth.presets` fits and
checks them), `simulate` turns a walk into keypoints plus a walking-aid drawing (for the
video), `classify` asks the model, `sweep` moves one parameter across its range. Speed, cadence and step length are kept consistent
(speed = step length × cadence / 60).

Where a walking aid shows (see `gaitlab.synth.walker`): only in the simulated video. The model
reads landmarks, never pixels: every input becomes a MediaPipe landmark sequence drawn as pose
frames (limbs and joints only), and a keypoint CSV has no place for an aid (body landmarks
only). So the `keypoints` source (alias `device`, kept for older calls: the same clips) shows
the model the aid only through the posture it causes, exactly as `analyze` would a keypoint
file; the `video` source writes the walk with the aid drawn and takes `analyze`'s whole video
path, where the aid reaches the model only as far as it changes what MediaPipe Pose finds.
"""
from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from gaitlab.constants import CLASSES, DISPLAY_NAMES
from gaitlab.errors import InputError
from gaitlab.pipeline.landmarks import HIP
from gaitlab.synth.walker import DEVICES, SIDES, VIEWS, Device, WalkerParams, walk_with_device, write_keypoint_csv
from gaitlab.synth.walker_video import render_walk_video

FPS, SECONDS = 30.0, 6.0
SOURCES = ("keypoints", "video")  # what the model is shown; see the module docstring
SOURCE_ALIASES = {"device": "keypoints"}  # pose frames cannot show an aid: the aid is only in the video
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
    "head_flexion": Parameter("Head flexion (°)", "head carried forward and down (stooped neck in Parkinson's)",
                              -10.0, 40.0, 0.5),
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
# Hand-set clinical terms (not measured by `gait_features`, so not fitted): textbook signs; the
# fit starts from these and keeps them.
TEMPLATES: dict[str, dict[str, Any]] = {
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
# Per class, the fitted parameters (`FITTED`: the `WalkerParams` whose simulated `gait_features`
# best match the class's real medians) and those medians (`REAL_MEDIANS`), read from the data
# file `presets.json` beside this module, which also records where and how they were fitted.
# `python -m gaitlab presets fit` (`gaitlab.synth.presets.fit_and_save`) rewrites it.
PRESETS_JSON = Path(__file__).with_name("presets.json")


def load_presets_file(path: str | Path = PRESETS_JSON) -> dict[str, Any]:
    """The preset record of `path`: provenance (`dataset`, `videos`, `command`, `date`) and per
    class (`classes`) its `params`, `medians`, `targets` and `achieved` (dicts of numbers).
    ValueError when a class of `CLASSES` is missing or lacks `params` or `medians`."""
    record = json.loads(Path(path).read_text(encoding="utf-8"))
    classes = record.get("classes", {})
    missing = [c for c in CLASSES if not {"params", "medians"} <= set(classes.get(c, {}))]
    if missing:
        raise ValueError(f"{path}: no fitted preset for {', '.join(missing)}; "
                         "refit all classes with `python -m gaitlab presets fit`.")
    return record


PRESETS_RECORD: dict[str, Any] = load_presets_file()
FITTED: dict[str, dict[str, float]] = {c: PRESETS_RECORD["classes"][c]["params"] for c in CLASSES}
REAL_MEDIANS: dict[str, dict[str, float]] = {c: PRESETS_RECORD["classes"][c]["medians"] for c in CLASSES}


def consistent(params: WalkerParams, given: set[str]) -> WalkerParams:
    """Make speed = step_length × cadence / 60, deriving whichever of the three was not given."""
    lim = lambda name, v: float(np.clip(v, PARAMETERS[name].lo, PARAMETERS[name].hi))  # noqa: E731
    p = params
    if {"speed", "step_length"} <= given and "cadence" not in given:
        return dataclasses.replace(p, cadence=lim("cadence", p.speed * 60 / p.step_length))
    if "speed" in given:
        return dataclasses.replace(p, step_length=lim("step_length", p.speed * 60 / p.cadence))
    return dataclasses.replace(p, speed=lim("speed", p.step_length * p.cadence / 60))


def build_preset(name: str, fitted: dict[str, float]) -> WalkerParams:
    """The walk of class `name`'s template with the `fitted` parameters (speed derived)."""
    values = {**TEMPLATES[name], **fitted}
    return consistent(WalkerParams(**values), set(values) - {"speed"})


PRESETS: dict[str, WalkerParams] = {c: build_preset(c, FITTED[c]) for c in CLASSES}


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
    return consistent(dataclasses.replace(params, **clean), set(clean))


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


def preview_indices(params: WalkerParams, seq: np.ndarray, n: int = 8) -> list[int]:
    """`n` frame indices of `seq` [T, 33, 4] spread over the one gait cycle that keeps the
    walker most in view: the most landmarks inside the frame, then the pelvis nearest the
    frame's centre, then nearest the middle of the walk. (A side-view walk of a few seconds
    crosses the frame and leaves it: its middle cycle may show an empty corridor.)"""
    cycle = 120.0 / params.cadence * FPS
    span = int(min(len(seq) - 1, np.ceil(cycle)))
    xy = np.asarray(seq, dtype=np.float64)[..., :2]
    inside = ((xy >= 0) & (xy <= 1)).all(axis=-1).mean(axis=1)  # [T] share of landmarks in the frame
    off_centre = np.abs(xy[:, list(HIP), 0].mean(axis=1) - 0.5)  # [T] pelvis from the centre, widths
    middle = (len(seq) - 1 - span) / 2

    def cost(start: int) -> tuple:
        window = slice(start, start + span + 1)
        return (-round(float(inside[window].mean()), 2), round(float(off_centre[window].max()), 2),
                abs(start - middle))

    best = min(range(len(seq) - span), key=cost)
    return [int(best + k * cycle / n) for k in range(n)]


def preview_frames(params: WalkerParams, n: int = 8, seconds: float = SECONDS, seed: int = 0) -> np.ndarray:
    """`n` colour video frames uint8 [n, H, W, 3] of the walk's video (aid drawn) over the gait
    cycle that keeps the walker in view (`preview_indices`)."""
    seq, device = simulate(params, seconds)
    wanted = preview_indices(params, seq, n)
    with tempfile.TemporaryDirectory(prefix="gaitlab-sim-") as tmp:
        path = Path(tmp) / "walk.avi"  # only up to the last frame shown
        render_walk_video(path, [seq[: max(wanted) + 1]], *_FRAMES[params.view], FPS, seed, devices=[device])
        cap, frames = cv2.VideoCapture(str(path)), {}
        for t in range(max(wanted) + 1):
            ok, frame = cap.read()
            if ok and t in wanted:
                frames[t] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        cap.release()
    return np.stack([frames[t] for t in wanted])


def _case(params: WalkerParams, source: str, seconds: float):
    """The walk as model-ready `CaseClips`, shown the model the way `source` says: "keypoints"
    (or its alias "device") takes exactly `analyze`'s path for a keypoint file
    (`inference.keypoint_sequence_clips`); "video" writes the walk as an .mp4 (aid drawn) and
    runs `analyze`'s whole video path on it (MediaPipe Pose, then the same keypoint path)."""
    from gaitlab.inference import keypoint_sequence_clips, prepare_case

    source = SOURCE_ALIASES.get(source, source)
    if source not in SOURCES:
        raise InputError(f"source must be one of {', '.join(SOURCES)}, not {source!r}.")
    if source == "video":
        with tempfile.TemporaryDirectory(prefix="gaitlab-sim-") as tmp:
            return prepare_case(write_walk(params, Path(tmp) / "walk.mp4", seconds))
    return keypoint_sequence_clips(simulate(params, seconds)[0])


def classify(params: WalkerParams, model, source: str = "keypoints", seconds: float = SECONDS, teacher=None):
    """The model's `Analysis` of the simulated walk (no note), from `source` ("keypoints", its
    alias "device", or "video"; see the module docstring); `teacher` (e.g.
    `inference.get_teacher()`) adds its second opinion, as in `analyze`."""
    from gaitlab.inference import score_case

    return score_case(_case(params, source, seconds), "", model, name="simulated walk", teacher=teacher)


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
