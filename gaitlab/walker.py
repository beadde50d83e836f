"""A small parametric walker: synthetic MediaPipe keypoints and videos for tests and demos.

The model is sagittal: joint-angle curves over the gait cycle (hip, knee, ankle, shoulder,
elbow) drive a stick figure with Winter's segment proportions; the pelvis progresses at
`speed` and rides up and down so that the lowest foot point stays on the ground. It is meant to
be grown (pathological patterns, assistive devices) by adding fields to `WalkerParams` and
terms to the angle curves, not to be biomechanically exact.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .constants import NUM_LANDMARKS
from .keypoints import LANDMARK_COLUMNS
from .render import RenderStyle, body_height, body_shapes, draw_body

# Segment lengths as a share of standing height (Winter, Biomechanics of Human Movement).
THIGH, SHANK, ANKLE_HEIGHT = 0.245, 0.246, 0.039
HIP_TO_SHOULDER, UPPER_ARM, FOREARM = 0.288, 0.186, 0.146
# Face landmarks (forward, up) relative to the shoulder line, share of height.
_FACE = {0: (0.055, 0.105), 1: (0.045, 0.125), 2: (0.038, 0.126), 3: (0.030, 0.125),
         4: (0.045, 0.125), 5: (0.038, 0.126), 6: (0.030, 0.125), 7: (-0.02, 0.11),
         8: (-0.02, 0.11), 9: (0.045, 0.078), 10: (0.045, 0.078)}
_BODY_LANDMARKS = {
    11: "left_shoulder", 12: "right_shoulder", 13: "left_elbow", 14: "right_elbow",
    15: "left_wrist", 16: "right_wrist", 17: "left_pinky", 18: "right_pinky",
    19: "left_index", 20: "right_index", 21: "left_thumb", 22: "right_thumb",
    25: "left_knee", 26: "right_knee", 27: "left_ankle", 28: "right_ankle",
    29: "left_heel", 30: "right_heel", 31: "left_toe", 32: "right_toe",
}
# MediaPipe-like relative depth: the left side faces the camera when walking left→right.
_LEFT = [1, 2, 3] + list(range(7, NUM_LANDMARKS, 2))
_RIGHT = [4, 5, 6] + list(range(8, NUM_LANDMARKS, 2))
_DEPTH = np.zeros(NUM_LANDMARKS)
_DEPTH[_LEFT], _DEPTH[_RIGHT], _DEPTH[0] = -0.08, 0.08, -0.02


@dataclass
class WalkerParams:
    """One walker. Lengths are shares of body height unless stated.

    Consistent (non-sliding) values satisfy speed ≈ step_length * cadence / 60.
    """

    speed: float = 0.8  # body heights per second
    cadence: float = 105.0  # steps per minute
    step_length: float = 0.46
    arm_swing: float = 30.0  # peak-to-peak shoulder swing, degrees
    asymmetry: float = 0.0  # 0..1: the right leg's step and swing are shortened
    knee_flexion: float = 60.0  # peak swing knee flexion, degrees
    trunk_flexion: float = 0.0  # forward lean, degrees
    height: float = 0.6  # share of the frame height the person spans
    direction: int = 1  # +1 walks left→right, -1 right→left
    start_x: float | None = None  # normalised pelvis x at t=0 (None: near the start edge)
    y_feet: float = 0.9  # normalised ground line
    phase: float = 0.0  # gait-cycle offset, 0..1


def _bump(p: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Periodic Gaussian bump over the gait cycle p in [0, 1)."""
    d = (p - centre + 0.5) % 1.0 - 0.5
    return np.exp(-0.5 * (d / width) ** 2)


def _leg(p: np.ndarray, amp: float, knee_peak: float) -> tuple[np.ndarray, ...]:
    """Hip, knee and ankle angles (radians) over the cycle; heel strike at p = 0.

    Hip: + is flexion (thigh forward). Knee: + is flexion. Ankle: + is dorsiflexion.
    """
    hip = 5.0 + amp * np.cos(2 * np.pi * (p + 0.05))
    knee = 5.0 + 12.0 * _bump(p, 0.12, 0.05) + (knee_peak - 5.0) * _bump(p, 0.72, 0.11)
    ankle = 8.0 * _bump(p, 0.45, 0.1) - 18.0 * _bump(p, 0.63, 0.05)
    return np.radians(hip), np.radians(knee), np.radians(ankle)


def _leg_points(hip_xy: np.ndarray, angles: tuple[np.ndarray, ...]) -> dict[str, np.ndarray]:
    """Knee, ankle, heel and toe [T, 2] (forward, down) from hip position and angles."""
    hip_a, knee_a, ankle_a = angles
    shank_a = hip_a - knee_a
    knee = hip_xy + THIGH * np.stack([np.sin(hip_a), np.cos(hip_a)], -1)
    ankle = knee + SHANK * np.stack([np.sin(shank_a), np.cos(shank_a)], -1)
    foot_a = shank_a + ankle_a  # toes up when the shank leans back
    along = np.stack([np.cos(foot_a), -np.sin(foot_a)], -1)
    down = np.stack([np.sin(foot_a), np.cos(foot_a)], -1)
    heel = ankle - 0.045 * along + ANKLE_HEIGHT * down
    toe = ankle + 0.12 * along + ANKLE_HEIGHT * down
    return {"knee": knee, "ankle": ankle, "heel": heel, "toe": toe}


def _arm_points(shoulder: np.ndarray, swing: np.ndarray) -> dict[str, np.ndarray]:
    """Elbow, wrist and hand points [T, 2] for shoulder angle `swing` (radians, + forward)."""
    elbow_flex = np.radians(20.0) + 0.5 * np.maximum(swing, 0.0)
    fore_a = swing + elbow_flex
    elbow = shoulder + UPPER_ARM * np.stack([np.sin(swing), np.cos(swing)], -1)
    d = np.stack([np.sin(fore_a), np.cos(fore_a)], -1)
    wrist = elbow + FOREARM * d
    side = np.stack([d[:, 1], -d[:, 0]], -1)  # perpendicular, towards the front
    return {"elbow": elbow, "wrist": wrist, "pinky": wrist + 0.075 * d,
            "index": wrist + 0.09 * d + 0.01 * side, "thumb": wrist + 0.05 * d + 0.025 * side}


def _body_pose(params: WalkerParams, t: np.ndarray) -> np.ndarray:
    """Landmarks [T, 33, 2] as (forward, down) in body heights, origin at the hips, with the
    lowest foot point of each frame on y = 0. A clinical simulator adds its terms here."""
    cycle = (t * params.cadence / 120.0 + params.phase) % 1.0  # two steps per cycle
    # Hip swing amplitude that roughly yields the step length (0.8: knee and foot rockers
    # lengthen the step beyond the pendulum's chord).
    ratio = min(params.step_length / (2 * (THIGH + SHANK)), 0.95)
    amp = math.degrees(math.asin(ratio)) * 0.8
    asym = float(np.clip(params.asymmetry, 0.0, 1.0))
    sides = {  # the right leg is the affected one: shorter swing, earlier and shorter step
        "left": (cycle, amp, params.knee_flexion),
        "right": ((cycle + 0.5 - 0.08 * asym) % 1.0, amp * (1 - 0.4 * asym),
                  params.knee_flexion * (1 - 0.3 * asym)),
    }
    lean = np.radians(params.trunk_flexion)  # the trunk pivots forward about the hips
    fwd, up = np.array([np.cos(lean), np.sin(lean)]), np.array([np.sin(lean), -np.cos(lean)])
    shoulder = np.broadcast_to(HIP_TO_SHOULDER * up, (len(t), 2))
    body: dict[str, np.ndarray] = {}
    for side, (p, a, knee_peak) in sides.items():
        angles = _leg(p, a, knee_peak)
        legs = _leg_points(np.zeros((len(t), 2)), angles)
        body.update({f"{side}_{n}": v for n, v in legs.items()})
        # Arms swing against the same-side leg, in proportion to its hip excursion.
        hip_excursion = (angles[0] - np.radians(5.0)) / max(np.radians(a), 1e-6)
        swing = -np.radians(params.arm_swing / 2) * hip_excursion
        body[f"{side}_shoulder"] = shoulder
        body.update({f"{side}_{n}": v for n, v in _arm_points(shoulder, swing).items()})

    local = np.zeros((len(t), NUM_LANDMARKS, 2))  # hips (23, 24) stay at the origin
    for i, name in _BODY_LANDMARKS.items():
        local[:, i] = body[name]
    for i, (f, u) in _FACE.items():
        local[:, i] = shoulder + f * fwd + u * up
    ground = local[:, 27:33, 1].max(axis=1)  # lowest of heels, toes and ankles
    local[..., 1] -= ground[:, None]
    return local


def walk_keypoints(params: WalkerParams, n_frames: int, fps: float = 30.0,
                   aspect: float = 16 / 9) -> np.ndarray:
    """Synthetic MediaPipe keypoints float32 [n_frames, 33, 4] (x, y normalised; z small; v=1).

    `aspect` is the width/height of the frame the keypoints are normalised to.
    """
    t = np.arange(n_frames) / fps
    local = _body_pose(params, t)
    start = params.start_x
    if start is None:
        start = 0.15 if params.direction > 0 else 0.85
    # Positions in frame heights first, so the body keeps its proportions at any aspect.
    pelvis_x = start * aspect + params.direction * params.speed * params.height * t
    x = pelvis_x[:, None] + params.direction * local[..., 0] * params.height
    y = params.y_feet + local[..., 1] * params.height
    z = np.broadcast_to(_DEPTH * params.direction, (n_frames, NUM_LANDMARKS))
    out = np.stack([x / aspect, y, z, np.ones_like(x)], axis=-1)
    return out.astype(np.float32)


# --- Files ---------------------------------------------------------------------------------


def write_keypoint_csv(path: str | Path, seq: np.ndarray,
                       extra_columns: dict[str, str] | None = None) -> None:
    """Write [T, 33, 4] keypoints in the MediaPipe CSV layout (`x_0,y_0,z_0,v_0,...,v_32`,
    then `extra_columns` with the same value on every row); NaN cells are left empty."""
    extra = extra_columns or {}
    flat = np.asarray(seq, dtype=np.float64).reshape(len(seq), -1)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(list(LANDMARK_COLUMNS) + list(extra))
        for row in flat:
            cells = ["" if not np.isfinite(v) else f"{v:.7g}" for v in row]
            writer.writerow(cells + list(extra.values()))


_FOURCC_BY_EXT = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG",
                  ".mkv": "XVID", ".webm": "VP80"}
# Clothing palettes (RGB): skin, shirt, trousers, shoes; saturated or dark, unlike the
# muted light background, so a background model separates them cleanly.
_PALETTES = (
    ((224, 172, 140), (200, 40, 40), (30, 40, 110), (20, 20, 20)),
    ((150, 100, 70), (40, 120, 200), (60, 50, 40), (120, 30, 30)),
    ((240, 200, 170), (230, 200, 30), (20, 20, 20), (240, 240, 240)),
    ((110, 70, 50), (30, 160, 80), (90, 30, 120), (30, 30, 90)),
)


def _background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A static, textured scene (RGB uint8): wall gradient, floor, a few fixed shapes.

    Cool greys and greens only, so skin and clothing colours stand well apart from it.
    """
    ys = np.linspace(0.0, 1.0, height)[:, None, None]
    xs = np.linspace(0.0, 1.0, width)[None, :, None]
    wall = np.array([155, 168, 182]) + 25 * xs * np.array([0.2, 0.6, 1.0]) - 15 * ys
    img = np.broadcast_to(wall, (height, width, 3)).copy()
    floor = int(height * 0.78)
    img[floor:] = np.array([118, 122, 128]) + 25 * (ys[floor:] - ys[floor])
    for _ in range(5):  # door frames, posters, plants: muted, never moving
        x0, y0 = int(rng.uniform(0, width * 0.9)), int(rng.uniform(0, floor * 0.7))
        w, h = int(rng.uniform(0.05, 0.15) * width), int(rng.uniform(0.1, 0.3) * height)
        colour = rng.uniform(140, 200) + rng.uniform(-12, 12, 3) - np.array([15, 0, 0])
        cv2.rectangle(img, (x0, y0), (x0 + w, y0 + h), colour.tolist(), -1)
    img += rng.normal(0.0, 5.0, img.shape)  # fixed texture
    return np.clip(img, 0, 255).astype(np.uint8)


def render_walk_video(path: str | Path, walkers: list[np.ndarray], width: int = 640,
                      height: int = 360, fps: float = 30.0, seed: int = 0,
                      return_masks: bool = False, codec: str | None = None) -> np.ndarray | None:
    """Write a colour video of clothed figures walking on a static background.

    `walkers`: keypoint sequences [T, 33, 4] normalised to this frame (e.g. `walk_keypoints`
    with aspect = width/height); T is taken from the first, shorter ones stop drawing early.
    `codec` is a FourCC; by default it is picked from the extension (mp4v for .mp4/.mov,
    MJPG for .avi, ...). Returns the true person mask bool [T, height, width] (union of all
    figures, exactly their drawn pixels) when `return_masks`, else None. Deterministic in `seed`.
    """
    path = Path(path)
    rng = np.random.default_rng(seed)
    fourcc = codec or _FOURCC_BY_EXT.get(path.suffix.lower(), "mp4v")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps),
                             (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write a {path.suffix} video with codec {fourcc}.")
    background = _background(width, height, rng)
    figures = []
    for k, seq in enumerate(walkers):
        pts = np.asarray(seq, dtype=np.float64)[..., :2] * [width, height]
        skin, shirt, trousers, shoes = _PALETTES[(seed + k) % len(_PALETTES)]
        colours = {"head": skin, "neck": skin, "hand": skin, "torso": shirt, "arm": shirt,
                   "thigh": trousers, "shank": trousers, "foot": shoes}
        figures.append((body_shapes(pts, body_height(pts), RenderStyle()), colours, len(seq)))

    n_frames = len(walkers[0]) if walkers else 0
    masks = np.zeros((n_frames, height, width), dtype=bool) if return_masks else None
    try:
        for t in range(n_frames):
            canvas = background.copy()
            mask = np.zeros((height, width), dtype=np.uint8)
            for shapes, colours, length in figures:
                if t < length:
                    draw_body(canvas, shapes, t, colours)
                    draw_body(mask, shapes, t)  # same primitives, so exactly the same pixels
            noise = rng.integers(-3, 4, canvas.shape, dtype=np.int16)  # mild sensor noise
            frame = np.clip(canvas.astype(np.int16) + noise, 0, 255).astype(np.uint8)
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            if masks is not None:
                masks[t] = mask > 0
    finally:
        writer.release()
    return masks
