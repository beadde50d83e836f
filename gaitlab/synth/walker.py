"""A parametric walker: synthetic MediaPipe keypoints (and their CSVs) for tests, demos and the simulator.

The body is built in body coordinates (forward, down, lateral; shares of standing height):
joint-angle curves over the gait cycle (hip, knee, ankle, shoulder, elbow; the head's tilt)
drive a stick figure with Winter's leg and trunk proportions and arms, feet and face where
MediaPipe puts its landmarks on real walkers; the lowest foot point stays on the ground. A gait
*clock* (cycle phase and distance walked) carries festination and freezing. A camera with
perspective then sees the body from the side (sagittal, the KOA-PD-NM set-up) or from the front
(walking towards it: the disabled-gait set-up). Clinical terms are fields of `WalkerParams`
whose defaults leave the plain walk unchanged; `gaitlab.synth.simulator` gives them ranges and
presets.

Walking aids have no MediaPipe landmarks. Keypoint output therefore carries a device only
through what it does to the body (a hand on the cane, both hands on the frame's handles, no arm
swing), as a pose estimator would report a real person; `Device` is the drawing that videos
and the simulated videos add in pixels; `gaitlab.synth.walker_video` draws it and renders walk videos.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gaitlab.constants import NUM_LANDMARKS
from gaitlab.pipeline.keypoints import LANDMARK_COLUMNS
from gaitlab.pipeline.landmarks import INDEX, KNEE, PINKY

# Segment lengths as a share of standing height: legs and trunk from Winter (Biomechanics of
# Human Movement); arms, feet and hands where MediaPipe Pose puts its landmarks on the real
# Normal walks (median distances over their frames relative to the leg: upper arm 0.36, forearm
# 0.32, ankle to heel 0.10, ankle to toe 0.23, wrist to index 0.10 legs). The real trunk
# (shoulder-mid to hip-mid) is 0.67 legs against Winter's 0.59, but `render.body_height`, which
# scales the pose frames and the kinematics, assumes Winter's chain, so the trunk keeps it.
THIGH, SHANK, ANKLE_HEIGHT = 0.245, 0.246, 0.039
HIP_TO_SHOULDER, UPPER_ARM, FOREARM = 0.288, 0.175, 0.158
# Face landmarks (forward, up) relative to the shoulder line, share of height, where MediaPipe
# puts them on the real Normal walks (median offsets in the trunk's frame); `head_flexion` tilts
# the head forward from there.
_FACE = {0: (0.071, 0.095), 1: (0.062, 0.124), 2: (0.059, 0.126), 3: (0.055, 0.126),
         4: (0.062, 0.124), 5: (0.059, 0.126), 6: (0.055, 0.126), 7: (0.032, 0.117),
         8: (0.032, 0.117), 9: (0.058, 0.075), 10: (0.058, 0.075)}
_BODY_LANDMARKS = {
    11: "left_shoulder", 12: "right_shoulder", 13: "left_elbow", 14: "right_elbow",
    15: "left_wrist", 16: "right_wrist", 17: "left_pinky", 18: "right_pinky",
    19: "left_index", 20: "right_index", 21: "left_thumb", 22: "right_thumb",
    25: "left_knee", 26: "right_knee", 27: "left_ankle", 28: "right_ankle",
    29: "left_heel", 30: "right_heel", 31: "left_toe", 32: "right_toe",
}
# MediaPipe-like relative depth: the right side faces the camera when walking left→right (as
# in the real side-view walks: there the left shoulder's z is the larger in every such walk).
_LEFT = [1, 2, 3] + list(range(7, NUM_LANDMARKS, 2))
_RIGHT = [4, 5, 6] + list(range(8, NUM_LANDMARKS, 2))
_DEPTH = np.zeros(NUM_LANDMARKS)
_DEPTH[_LEFT], _DEPTH[_RIGHT], _DEPTH[0] = 0.08, -0.08, -0.02
# Lateral offset of the upper body (+ = the person's left), share of height; legs follow
# `base_width`. Only a front camera sees it.
_LATERAL = np.zeros(NUM_LANDMARKS)
_LATERAL[:23] = [0, .012, .018, .024, -.012, -.018, -.024, .045, -.045, .01, -.01,
                 .11, -.11, .125, -.125, .12, -.12, .125, -.125, .115, -.115, .105, -.105]
_LATERAL[23:25] = .08, -.08
FRONT_DISTANCE = 3.0  # front camera: distance (heights) at the walk's nearest point
CAMERA_HEIGHT = 0.55  # camera height above the floor, share of body height
# Side camera: distance (heights) from the walking line, its axis through the frame's centre.
# Real side-view walks show the perspective: the shoulders' horizontal separation runs from
# +0.03 to -0.065 body heights across the frame; 6 heights gives that slope.
SIDE_DISTANCE = 6.0
SIDES, DEVICES, VIEWS = ("left", "right"), ("none", "cane", "frame"), ("side", "front")


@dataclass
class WalkerParams:
    """One walker. Lengths are shares of body height unless stated.

    Consistent (non-sliding) values satisfy speed ≈ step_length * cadence / 60.
    """

    speed: float = 0.8  # body heights per second
    cadence: float = 105.0  # steps per minute
    step_length: float = 0.46
    arm_swing: float = 30.0  # peak-to-peak shoulder swing, degrees (both arms unless arm_swing_right)
    asymmetry: float = 0.0  # 0..1: the affected leg's step and swing are shortened
    knee_flexion: float = 60.0  # peak swing knee flexion, degrees
    trunk_flexion: float = 0.0  # forward lean, degrees
    height: float = 0.6  # share of the frame height the person spans (front view: when nearest)
    direction: int = 1  # side: +1 walks left→right, -1 right→left; front: +1 towards the camera
    start_x: float | None = None  # normalised pelvis x at t=0 (None: start edge; front: centre)
    y_feet: float = 0.9  # normalised ground line (front view: at the nearest point)
    phase: float = 0.0  # gait-cycle offset, 0..1
    # --- Clinical terms; the defaults add nothing ---
    affected_side: str = "right"  # the leg `asymmetry`, `stance_asymmetry` and tremor favour
    stance_asymmetry: float = 0.0  # 0..1: the affected leg's stance is up to 30% shorter
    arm_swing_right: float | None = None  # degrees; None: same as `arm_swing`
    elbow_flexion: float = 20.0  # resting elbow flexion, degrees (flexed arms in Parkinson's)
    knee_extension: float = 5.0  # least knee flexion (stance), degrees: a flexed, stiff knee keeps it high
    base_width: float = 0.1  # lateral distance between the ankles
    trunk_sway: float = 0.0  # lateral trunk lean over the stance leg, degrees
    shuffle: float = 0.0  # 0..1: flat feet (no heel strike or push-off), less knee flexion
    festination: float = 0.0  # 0..1: steps quicken (×1.6) and shorten (×0.5) within a bout
    freeze_rate: float = 0.0  # freezing episodes per 10 s
    freeze_seconds: float = 1.5  # length of one freezing episode
    tremor: float = 0.0  # hand tremor amplitude, share of height (affected hand; other 30%)
    tremor_hz: float = 5.0  # parkinsonian rest tremor: 4–6 Hz
    head_flexion: float = 0.0  # head carried forward and down about the neck, degrees
    device: str = "none"  # "none", "cane" (sound-side hand) or "frame" (walking frame)
    view: str = "side"  # "side" (sagittal camera) or "front" (walking towards the camera)


@dataclass
class Device:
    """A walking aid as drawn: `points` [T, K, 2] normalised like the keypoints, `segments`
    (i, j) tubes between them, `thickness` [T] in frame heights, RGB `colour`."""

    kind: str
    points: np.ndarray
    segments: tuple[tuple[int, int], ...]
    thickness: np.ndarray
    colour: tuple[int, int, int]


def _bump(p: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Periodic Gaussian bump over the gait cycle p in [0, 1)."""
    d = (p - centre + 0.5) % 1.0 - 0.5
    return np.exp(-0.5 * (d / width) ** 2)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _axes(angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (forward, up) in (forward, down) body coordinates of a segment tilted
    forward by `angle` radians."""
    return np.array([np.cos(angle), np.sin(angle)]), np.array([np.sin(angle), -np.cos(angle)])


def _leg(p: np.ndarray, amp, knee_peak, shuffle: float = 0.0, knee_min: float = 5.0) -> tuple[np.ndarray, ...]:
    """Hip, knee and ankle angles (radians) over the cycle; heel strike at p = 0.

    Hip: + is flexion (thigh forward). Knee: + is flexion. Ankle: + is dorsiflexion.
    """
    hip = 5.0 + amp * np.cos(2 * np.pi * (p + 0.05))
    knee = knee_min + 12.0 * _bump(p, 0.12, 0.05) + (knee_peak - knee_min) * _bump(p, 0.72, 0.11)
    ankle = (8.0 * _bump(p, 0.45, 0.1) - 18.0 * _bump(p, 0.63, 0.05)) * (1.0 - shuffle)
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
    heel = ankle - 0.03 * along + ANKLE_HEIGHT * down
    toe = ankle + 0.107 * along + ANKLE_HEIGHT * down
    return {"knee": knee, "ankle": ankle, "heel": heel, "toe": toe}


def _hand_points(elbow: np.ndarray, wrist: np.ndarray) -> dict[str, np.ndarray]:
    """Elbow, wrist and hand points [T, 2], the hand continuing the forearm."""
    d = (wrist - elbow) / np.linalg.norm(wrist - elbow, axis=-1, keepdims=True)
    side = np.stack([d[:, 1], -d[:, 0]], -1)  # perpendicular, towards the front
    return {"elbow": elbow, "wrist": wrist, "pinky": wrist + 0.042 * d,
            "index": wrist + 0.048 * d + 0.008 * side, "thumb": wrist + 0.028 * d + 0.02 * side}


def _arm_points(shoulder: np.ndarray, swing: np.ndarray, elbow: float = 20.0) -> dict[str, np.ndarray]:
    """Arm points [T, 2] for shoulder angle `swing` (radians, + forward), elbow flexed `elbow`°."""
    elbow_flex = np.radians(elbow) + 0.5 * np.maximum(swing, 0.0)
    joint = shoulder + UPPER_ARM * np.stack([np.sin(swing), np.cos(swing)], -1)
    fore_a = swing + elbow_flex
    return _hand_points(joint, joint + FOREARM * np.stack([np.sin(fore_a), np.cos(fore_a)], -1))


def _reach(shoulder: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
    """Arm points [T, 2] with the wrist on `target` (or as near as the arm reaches), elbow back."""
    d = target - shoulder
    dist = np.linalg.norm(d, axis=-1)
    reach = np.clip(dist, 0.05, 0.98 * (UPPER_ARM + FOREARM))
    cos_a = (UPPER_ARM**2 + reach**2 - FOREARM**2) / (2 * UPPER_ARM * reach)
    upper = np.arctan2(d[:, 0], d[:, 1]) - np.arccos(np.clip(cos_a, -1.0, 1.0))
    elbow = shoulder + UPPER_ARM * np.stack([np.sin(upper), np.cos(upper)], -1)
    return _hand_points(elbow, shoulder + d * (reach / np.maximum(dist, 1e-9))[:, None])


def _clock(p: WalkerParams, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gait cycles done [T] (unwrapped, + phase), distance walked [T] (heights), step size [T].

    Festination builds over the first 4 s of each walking bout; a freeze stops progression
    while the legs tremble in place (tiny steps at three times the cadence).
    """
    if p.festination <= 0 and p.freeze_rate <= 0:
        return t * p.cadence / 120.0 + p.phase, p.speed * t, np.ones_like(t)
    walking, bout = np.ones_like(t), t.copy()
    if p.freeze_rate > 0:  # episodes at P/2, P/2 + P, ... with P = 10 s / rate
        period = 10.0 / p.freeze_rate
        length = min(p.freeze_seconds, 0.8 * period)
        frozen = (t >= period / 2) & ((t - period / 2) % period < length)
        bout = np.where(t >= period / 2 + length, (t - period / 2 - length) % period, t)
        dt = t[1] - t[0] if len(t) > 1 else 1.0
        win = max(1, int(round(0.3 / dt)))  # ease in and out of a freeze over ~0.3 s
        walking = np.convolve(np.pad(1.0 - frozen, win // 2, mode="edge"), np.ones(win) / win, "valid")[: len(t)]
    r = np.clip(bout / 4.0, 0.0, 1.0) * p.festination
    quick, short = 1 + 0.6 * r, 1 - 0.5 * r
    dt = np.diff(t, prepend=t[:1])
    cycles = p.phase + np.cumsum(p.cadence / 120.0 * (walking * quick + (1 - walking) * 3.0) * dt)
    travel = np.cumsum(p.speed * walking * quick * short * dt)
    return cycles, travel, walking * short + (1 - walking) * 0.12


def _body(params: WalkerParams, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Landmarks [T, 33, 3] (forward, down, lateral) in heights, origin at the hips, lowest
    foot point on down = 0; distance walked [T]; device points [T, K, 3] or None."""
    for name, value, allowed in (("affected_side", params.affected_side, SIDES),
                                 ("device", params.device, DEVICES), ("view", params.view, VIEWS)):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    cycles, travel, size = _clock(params, t)
    cycle = cycles % 1.0  # two steps per cycle
    # Hip swing amplitude that roughly yields the step length (0.8: knee and foot rockers
    # lengthen the step beyond the pendulum's chord).
    ratio = min(params.step_length / (2 * (THIGH + SHANK)), 0.95)
    amp = math.degrees(math.asin(ratio)) * 0.8 * size
    asym = float(np.clip(params.asymmetry, 0.0, 1.0))
    aff = params.affected_side
    sound = "left" if aff == "right" else "right"
    knee_peak = params.knee_flexion * (1 - 0.3 * params.shuffle)
    lean = np.radians(params.trunk_flexion)  # the trunk pivots forward about the hips
    shoulder = np.broadcast_to(HIP_TO_SHOULDER * _axes(lean)[1], (len(t), 2))
    body: dict[str, np.ndarray] = {}
    excursion: dict[str, np.ndarray] = {}
    for side, offset in zip(SIDES, (0.0, 0.5)):
        hit = side == aff  # the affected leg: shorter swing, earlier and shorter step
        p = (cycle + offset - (0.08 * asym if hit else 0.0)) % 1.0
        if hit and params.stance_asymmetry > 0:  # toe-off comes early: stance shortened
            s = 0.6 * (1 - 0.3 * float(np.clip(params.stance_asymmetry, 0, 1)))
            p = np.where(p < s, p * 0.6 / s, 0.6 + (p - s) * 0.4 / (1 - s))
        a = amp * (1 - 0.4 * asym) if hit else amp
        angles = _leg(p, a, knee_peak * (1 - 0.3 * asym) if hit else knee_peak, params.shuffle, params.knee_extension)
        body.update({f"{side}_{n}": v for n, v in _leg_points(np.zeros((len(t), 2)), angles).items()})
        # Arms swing against the same-side leg, in proportion to its hip excursion.
        excursion[side] = (angles[0] - np.radians(5.0)) / np.maximum(np.radians(a), 1e-6)
    ground = np.max([body[f"{s}_{n}"][:, 1] for s in SIDES for n in ("ankle", "heel", "toe")], axis=0)
    device, lat_hand = None, {s: 0.0 for s in SIDES}
    if params.device == "frame":  # a frame carried forward one stride per cycle, hands on it
        q = np.floor(cycles) + _smoothstep((cycles % 1.0) / 0.3)
        lift = 0.03 * np.sin(np.pi * np.clip((cycles % 1.0) / 0.3, 0, 1))
        x0 = np.interp(q, cycles, travel) - travel + 0.05
        top, foot = ground - 0.5 - lift, ground - lift
        corners = [(x0, top), (x0 + 0.22, top), (x0, foot), (x0 + 0.26, foot)]
        device = np.stack([np.stack([x, y, np.full_like(x, w)], -1) for w in (0.16, -0.16) for x, y in corners], 1)
        lat_hand = {"left": 0.04, "right": -0.04}
    for side in SIDES:
        swing_deg = params.arm_swing if side == "left" or params.arm_swing_right is None else params.arm_swing_right
        swing = -np.radians(swing_deg / 2) * excursion[side]
        if params.device == "frame":
            arm = _reach(shoulder, np.stack([device[:, 0 if side == "left" else 4, 0] + 0.03, top], -1))
        elif params.device == "cane" and side == sound:  # the hand follows the cane's tip
            tip = body[f"{aff}_ankle"][:, 0] + 0.06
            reach = np.arcsin(np.clip((tip - shoulder[:, 0]) / 0.3, -0.9, 0.9))
            arm = _arm_points(shoulder, reach, params.elbow_flexion)
        else:
            arm = _arm_points(shoulder, swing, params.elbow_flexion)
        if params.tremor > 0:  # rest tremor shakes the hand and, less, the forearm
            k = (1.0 if side == aff else 0.3) * params.tremor
            w = 2 * np.pi * params.tremor_hz * t
            shake = np.stack([np.sin(w), 0.5 * np.cos(w)], -1)
            arm = {n: v + (0.4 if n == "elbow" else 1.0) * k * shake for n, v in arm.items()}
        body[f"{side}_shoulder"] = shoulder
        body.update({f"{side}_{n}": v for n, v in arm.items()})

    local = np.zeros((len(t), NUM_LANDMARKS, 3))  # hips (23, 24) stay at the origin
    for i, name in _BODY_LANDMARKS.items():
        local[:, i, :2] = body[name]
    fwd, up = _axes(lean + np.radians(params.head_flexion))  # the head tilts on the trunk
    for i, (f, u) in _FACE.items():
        local[:, i, :2] = shoulder + f * fwd + u * up
    local[..., 2] = _LATERAL
    local[:, 13:23, 2] += np.tile([lat_hand["left"], lat_hand["right"]], 5)
    for i, sign in ((KNEE[0], 1), (KNEE[1], -1)):  # knees halfway between hip and ankle; toes out a little
        local[:, i, 2] = sign * (0.08 + params.base_width / 2) / 2
        local[:, [i + 2, i + 4, i + 6], 2] = sign * (params.base_width / 2 + np.array([0, 0, 0.01]))
    if params.trunk_sway:  # lean over the stance leg, more over the affected one
        s = np.sin(2 * np.pi * cycle) * (1 if aff == "left" else -1)  # > 0: affected leg in mid-stance
        roll = np.radians(params.trunk_sway) * np.where(s > 0, s, 0.3 * s) * (1 if aff == "left" else -1)
        c, n = np.cos(roll)[:, None], np.sin(roll)[:, None]
        lat, height = local[:, :23, 2].copy(), -local[:, :23, 1]
        local[:, :23, 2], local[:, :23, 1] = lat * c + height * n, -(height * c - lat * n)
    if params.device == "cane":  # from the sound hand to the ground beside the affected foot's step
        held = SIDES.index(sound)  # 0: left, 1: right, as in the landmark pairs
        hand = local[:, [PINKY[held], INDEX[held]]].mean(axis=1)
        side_out = 0.06 if sound == "left" else -0.06
        tip = np.stack([body[f"{aff}_ankle"][:, 0] + 0.06, ground, hand[:, 2] + side_out], -1)
        device = np.stack([hand + [0.05, 0, 0], hand, tip], axis=1)
    local[..., 1] -= ground[:, None]
    if device is not None:
        device[..., 1] -= ground[:, None]
    return local, travel, device


def _project(params: WalkerParams, pts: np.ndarray, travel: np.ndarray, aspect: float) -> tuple[np.ndarray, ...]:
    """Body points [T, N, 3] → normalised x, y [T, N] and the person's scale [T] (frame heights
    per body height) for the camera of `params.view`."""
    d = params.direction
    if params.view == "side":
        start = params.start_x if params.start_x is not None else (0.15 if d > 0 else 0.85)
        # Positions in frame heights first, so the body keeps its proportions at any aspect.
        pelvis_x = start * aspect + d * travel * params.height
        x = pelvis_x[:, None] + d * pts[..., 0] * params.height
        y = params.y_feet + pts[..., 1] * params.height
        # Perspective (`SIDE_DISTANCE`): walking left→right the person's right side is nearer,
        # so it is magnified about the camera's axis. Past the frame's edges, where a camera would
        # not see the walker, the view stays as at the edge: a longer walk does not look more oblique.
        g = SIDE_DISTANCE / (SIDE_DISTANCE + d * pts[..., 2]) - 1.0
        cx, cy = aspect / 2, params.y_feet - CAMERA_HEIGHT * params.height
        x = x + (np.clip(x, 0.0, aspect) - cx) * g
        return x / aspect, y + (y - cy) * g, np.full(len(pts), params.height)
    # Front: pinhole camera at CAMERA_HEIGHT; nearest at the end (towards) or start (away).
    pelvis = FRONT_DISTANCE + (travel[-1] - travel if d > 0 else travel)
    depth = pelvis[:, None] - d * pts[..., 0]
    f = params.height * FRONT_DISTANCE
    start = params.start_x if params.start_x is not None else 0.5
    x = start * aspect + d * f * pts[..., 2] / depth  # facing the camera, the left is image right
    y = params.y_feet + f * (CAMERA_HEIGHT + pts[..., 1]) / depth - f * CAMERA_HEIGHT / FRONT_DISTANCE
    return x / aspect, y, f / pelvis


def walk_with_device(params: WalkerParams, n_frames: int, fps: float = 30.0,
                     aspect: float = 16 / 9) -> tuple[np.ndarray, Device | None]:
    """Keypoints float32 [n_frames, 33, 4] (see `walk_keypoints`) and the walking aid's drawing
    (None without one), both normalised to a frame of width/height `aspect`."""
    t = np.arange(n_frames) / fps
    local, travel, device = _body(params, t)
    x, y, scale = _project(params, local, travel, aspect)
    if params.view == "side":
        z = np.broadcast_to(_DEPTH * params.direction, (n_frames, NUM_LANDMARKS))
    else:  # MediaPipe z: nearer the camera is smaller, in about the units of x
        z = -params.direction * local[..., 0] * scale[:, None] / aspect
    out = np.stack([x, y, z, np.ones_like(x)], axis=-1).astype(np.float32)
    if device is None:
        return out, None
    dx, dy, _ = _project(params, device, travel, aspect)
    if params.device == "cane":
        return out, Device("cane", np.stack([dx, dy], -1), ((0, 1), (1, 2)), 0.016 * scale, (70, 40, 20))
    segments = ((0, 1), (0, 2), (1, 3), (4, 5), (4, 6), (5, 7), (0, 4), (1, 5))
    return out, Device("frame", np.stack([dx, dy], -1), segments, 0.014 * scale, (40, 60, 150))


def walk_keypoints(params: WalkerParams, n_frames: int, fps: float = 30.0,
                   aspect: float = 16 / 9) -> np.ndarray:
    """Synthetic MediaPipe keypoints float32 [n_frames, 33, 4] (x, y normalised; z small; v=1).

    `aspect` is the width/height of the frame the keypoints are normalised to.
    """
    return walk_with_device(params, n_frames, fps, aspect)[0]


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
