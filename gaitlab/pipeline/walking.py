"""Does the person walk? Walk features of a landmark sequence, a walking score and a refusal.

Data flow:
  landmarks float [T, 33, 4] (x, y normalised to the frame; NaN rows: nobody detected)
  → junk (non-finite, absurd values) and frames whose body is not upright become missed
    detections; a body upside down in most frames (a video filmed upside down) is turned over
  → `keypoints.clean_sequence` (gaps filled, side swaps fixed, smoothed): [T', 33, 4]
  → isotropic frame-height units (x × aspect), y down: points [T', 33, 2]; the body height of
    every frame h [T'] (trunk + thigh + shank chain) and its smooth trend s [T']
  → signals in body heights: pelvis path [T', 2], ankles relative to the pelvis [T', 2, 2] and
    their difference (the step signal) [T'], each foot's clearance above its ground [T', 2]
  → `WalkFeatures` (scalars) → `walking_score` (0..1) and `walk_refusal` (None or one sentence).
"Progress" is sideways travel and travel towards or away from the camera (a body growing or
shrinking in the frame), both in body heights. Size and position in the frame are never evidence.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from gaitlab.pipeline import keypoints
from gaitlab.pipeline.landmarks import ANKLE, FOOT_INDEX, HEEL, HIP, SHOULDER, WRIST
from gaitlab.pipeline.render import CHAIN_TO_HEIGHT

REFUSAL_PREFIX = "no walk to analyse: "

# --- Measuring ------------------------------------------------------------------------------------
# Distance to the camera in body heights = FOCAL / (body height in frame heights): a focal length
# of one frame height (a 53° field of view across the frame's height; phone and webcam lenses lie
# within 0.7-1.2). It turns a body growing in the frame into progress towards the camera.
FOCAL = 1.0
# A step is a swing of the step signal (ankle difference along its main axis) from one extreme to
# the other by max(STEP_FLOOR, STEP_SHARE × its 5-95 percentile range): real standing jitter
# swings 0.008 body heights, the shortest real steps (walking frames, 0.4 m) 0.05-0.1.
STEP_FLOOR, STEP_SHARE = 0.02, 0.25
# A foot is off the ground when it is this many body heights above the lower of its highest
# image positions half a cycle before and after (its contacts before and after): real side-view
# walks then show both feet up in at most 4.8 % of frames, a run with 4 cm flights in 20 %.
FLIGHT_CLEARANCE = 0.03
LEG_VISIBILITY = 0.5  # ankles seen less surely (0.03-0.2 on a real walk with the legs out of view) are guesses
DEFAULT_CYCLE = 30  # frames per gait cycle when fewer than two steps give a rhythm
# Seen from the side: the pelvis crosses the frame, or the shoulders overlap while the ankles
# swing fore and aft (the numbers `kinematics.prepare` decides the view by).
SIDE_TRAVEL, SIDE_SHOULDERS, SIDE_SWING = 0.5, 0.1, 0.25

# --- Refusing. Measured on the 216 real walks of gait-keypoints (fps None, 30 and 25), the 9
# simulator presets, a real man standing with dumbbells (walker_with_bystander.mp4, cropped) and the
# synthetic non-walks of tests/pipeline/test_walking.py; "walks" = the worst real walk.
# A person detected in under this share of the frames, none of them usable, is not judged (no
# evidence either way; the analysis warns that the person was missing): the real walk
# B08_Assistive has a pose in 9 of its 67 frames, with the ankles at the hips in all but 5.
JUDGE_SHARE = 0.5
MIN_STEPS = 2  # one gait cycle, a left and a right step: walks ≥ 2 (a 29-frame clip), clips of 0.4-0.6 s 1
# Progress (body heights) under which nobody gets anywhere: side walks ≥ 0.81, and 18 walks towards
# a camera that keeps its distance 0.08-0.29; standing 0.00-0.01. Below it the legs must show a walk:
STAND_PROGRESS = 0.3
STAND_LEG_MOTION = 0.025  # step signal of still legs: walks ≥ 0.062, standing (real man) 0.008, synthetic 0.005-0.009
TREADMILL_SWING = 0.3  # fore-aft ankle swing of a walk in place from the side (treadmill): walks 0.34 median
SPOT_DRIFT = 0.022  # stance foot drifting under the pelvis: walks ≥ 0.034, marching on the spot ≤ 0.012, standing 0.015
RUN_FLIGHT = 0.1  # share of frames with both feet up, from the side: walks ≤ 0.048, synthetic run 0.20
# A run by rhythm and speed (needs fps): brisk walks reach 2.2 steps/s and 1.0 body heights/s; real
# walks reach 0.84 body heights/s (0.70 × this threshold at worst, with the step rate), and
# frontal step counts are noisy (up to 5 steps/s), so the rate alone never decides.
RUN_STEP_RATE, RUN_SPEED = 2.6, 1.2
HOP_FLIGHT, HOP_TOGETHER = 0.1, 0.8  # feet up together: walks (side) ≤ 0.048 and ≤ 0.54; synthetic hops 0.40 and 1.0
ARM_MOTION = 0.15  # wrist travel about the shoulders worth mentioning: dumbbells 0.43, walks' arm swing 0.07-0.7

# --- Scoring: the value at which each term of `walking_score` is full (or, for progress, 63 %) ------
# Real walks: progress 0.8-3.2 body heights seen from the side, 0.08-1.6 towards the camera;
# bounce per progress 0.005-0.07 from the side; 3-35 steps; 0.8-32 s in view; leg visibility 0.84+.
SCORE_PROGRESS, SCORE_STEPS, SCORE_BOUNCE = 0.5, 4, 0.15
# Time in view is full at 6 s (180 frames without a rate): among several walkers in a street
# scene (vtest.avi) the one followed for 30 s outranks one glimpsed for 3 s.
SCORE_SECONDS, SCORE_FRAMES, SCORE_VISIBILITY = 6.0, 180, 0.8


@dataclass
class WalkFeatures:
    """What the landmarks show of a walk. Lengths in body heights, shares in 0..1."""

    frames_in_view: int = 0  # frames with an upright detected body
    frames_detected: int = 0  # frames with any pose at all
    frames_total: int = 0  # frames in the sequence
    frames_used: int = 0  # frames measured: the longest stretch without long gaps (0: too few)
    seconds: float | None = None  # frames_in_view / fps (None without fps)
    side_view: bool = False  # seen from the side (else towards/away from the camera)
    travel_heights: float = 0.0  # pelvis travel across the frame, 5-95 percentile range
    depth_ratio: float = 1.0  # body height in the last vs the first quarter, max(r, 1/r)
    depth_heights: float = 0.0  # travel towards/away from the camera that depth_ratio implies
    progress_heights: float = 0.0  # hypot(travel_heights, depth_heights)
    speed_heights_per_s: float | None = None  # progress_heights / seconds (a lower bound)
    swing_heights: float = 0.0  # fore-aft ankle swing about the pelvis (5-95 range, side view)
    stance_drift: float = 0.0  # vertical drift of the lower foot under the pelvis (5-95 range)
    leg_motion: float = 0.0  # step signal, 95th percentile of its deviation
    alternation: float = 0.0  # -1 ankles move together .. +1 in anti-phase (about the pelvis)
    steps: int = 0  # alternating steps found
    step_rate_hz: float | None = None  # steps per second (None without fps or two steps)
    bounce_heights: float = 0.0  # vertical pelvis oscillation (5-95 range, trend removed)
    bounce_per_progress: float = 0.0  # bounce_heights / max(progress_heights, 0.1)
    flight_share: float = 0.0  # frames with both feet off the ground
    together: float = 0.0  # correlation of the two feet's heights above ground: +1 hop together
    arm_motion: float = 0.0  # wrist travel relative to the shoulders
    visibility: float = 0.0  # median landmark visibility of the legs

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _mid(p: np.ndarray, pair: tuple[int, int]) -> np.ndarray:
    return (p[:, pair[0]] + p[:, pair[1]]) / 2


def _range(x: np.ndarray, axis=0) -> np.ndarray:
    """5-95 percentile range."""
    return np.ptp(np.percentile(x, [5, 95], axis=axis), axis=0)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two signals [T] or [T, k] (taken as one signal), 0 when either is flat."""
    a, b = a - a.mean(0), b - b.mean(0)
    denom = np.sqrt((a**2).sum() * (b**2).sum())
    return float((a * b).sum() / denom) if denom > 1e-9 else 0.0


def _swings(sig: np.ndarray, band: float) -> tuple[int, list[int]]:
    """Steps in the step signal `sig` [T]: its swings from one extreme to the other by at least
    `band` (a zigzag), and the frames where it turned between swings."""
    turns: list[int] = []
    lo = hi = ext = 0
    direction = 0
    for i, v in enumerate(sig):
        if direction == 0:
            lo, hi = (i if v < sig[lo] else lo), (i if v > sig[hi] else hi)
            if sig[hi] - sig[lo] >= band:
                direction, ext = (1, hi) if hi > lo else (-1, lo)
        elif direction * (v - sig[ext]) > 0:
            ext = i
        elif direction * (sig[ext] - v) >= band:
            turns.append(ext)
            direction, ext = -direction, i
    return (len(turns) + 1 if direction else 0), turns


def _sanitise(landmarks) -> np.ndarray | None:
    """float64 [T, 33, 4] with junk and non-upright frames NaN, turned upright; None if unusable."""
    try:
        seq = np.array(landmarks, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    if seq.ndim != 3 or seq.shape[1:] != (33, 4) or len(seq) == 0:
        return None
    bad = ~(np.isfinite(seq[..., :2]) & (np.abs(seq[..., :2]) < 1e3)).all(axis=(1, 2))
    seq[bad] = np.nan
    y = seq[..., 1]
    if (~bad).any() and np.median(_mid(y[~bad], HIP) - _mid(y[~bad], SHOULDER)) < 0:
        seq[..., :2] = 1.0 - seq[..., :2]  # filmed upside down
    hip = _mid(y, HIP)
    trunk, leg = hip - _mid(y, SHOULDER), _mid(y, ANKLE) - hip
    hidden = ~(np.nan_to_num(seq[:, list(ANKLE), 3]) >= LEG_VISIBILITY).all(1)  # legs guessed, out of view
    ok = ~bad & (trunk > 0) & ((leg > 0) | hidden)
    if ok.any():  # pose estimators fold the body of someone entering or leaving the frame
        ok &= (trunk > 0.5 * np.median(trunk[ok])) & ((leg > 0.5 * np.median(leg[ok])) | hidden)
    seq[~ok] = np.nan
    return seq


def walk_features(landmarks: np.ndarray, fps: float | None = None, aspect: float | None = None) -> WalkFeatures:
    """The `WalkFeatures` of one person's landmarks [T, 33, 4]; zeros where nothing is usable.

    `fps` (frames per second) gives seconds, speed and step rate; `aspect` is the source frame's
    width/height (None: `keypoints.source_aspect` estimates it). Never raises on junk."""
    with np.errstate(all="ignore"):
        try:
            raw = np.asarray(landmarks, dtype=np.float64)
            total = int(raw.shape[0]) if raw.ndim == 3 else 0
            detected = int(np.isfinite(raw[..., :2]).all(axis=(1, 2)).sum()) if raw.ndim == 3 and raw.shape[2] >= 2 else 0
        except (TypeError, ValueError, OverflowError):
            total = detected = 0
        seq = _sanitise(landmarks)
        if seq is None:
            return WalkFeatures(frames_detected=detected, frames_total=total)
        try:
            fps = float(fps) if fps is not None and 0.1 <= float(fps) <= 1e4 else None
        except (TypeError, ValueError, OverflowError):
            fps = None
        ok = np.isfinite(seq[:, 0, 0])
        legs = seq[ok][:, HIP[0]:, 3]
        vis = float(np.clip(np.median(legs), 0, 1)) if legs.size and np.isfinite(legs).all() else 0.0
        f = WalkFeatures(frames_in_view=int(ok.sum()), frames_detected=detected, frames_total=total, visibility=vis,
                         seconds=float(ok.sum() / fps) if fps else None)
        try:
            part = keypoints.clean_sequence(seq.astype(np.float32))
        except ValueError:  # InputError: too few consecutive frames
            return f
        try:
            a = float(aspect) if aspect is not None and 0.05 < float(aspect) < 20 else None
        except (TypeError, ValueError, OverflowError):
            a = None
        _measure(part[..., :2].astype(np.float64) * [a or keypoints.source_aspect(part), 1.0], f, fps)
        return f


def _measure(p: np.ndarray, f: WalkFeatures, fps: float | None) -> None:
    """Fill `f` from points [T', 33, 2] in frame heights (y down)."""
    n = f.frames_used = len(p)
    dist = lambda i, j: np.linalg.norm(p[:, i] - p[:, j], axis=-1)  # noqa: E731
    h = (np.linalg.norm(_mid(p, SHOULDER) - _mid(p, HIP), axis=-1) + (dist(23, 25) + dist(24, 26)) / 2
         + (dist(25, 27) + dist(26, 28)) / 2) / CHAIN_TO_HEIGHT
    height = float(np.median(h))
    if not (np.isfinite(height) and height > 1e-6):
        return
    t = np.linspace(-1, 1, n)
    s = np.exp(np.polyval(np.polyfit(t, np.log(np.maximum(h, height * 1e-3)), min(2, n - 1)), t))
    q = max(1, n // 4)
    first, last = float(np.median(h[:q])), float(np.median(h[-q:]))
    f.depth_ratio = max(last / first, first / last)
    f.depth_heights = FOCAL * abs(1 / first - 1 / last)
    hip = _mid(p, HIP)
    f.travel_heights = float(_range(hip[:, 0])) / height
    f.progress_heights = float(np.hypot(f.travel_heights, f.depth_heights))
    if f.seconds:
        f.speed_heights_per_s = f.progress_heights / f.seconds

    rel = (p[:, list(ANKLE)] - hip[:, None]) / s[:, None, None]  # [T', 2 ankles, 2]
    f.swing_heights = float(np.mean(_range(rel[..., 0])))
    diff = rel[:, 0] - rel[:, 1]
    axis = np.linalg.eigh(np.cov(diff.T))[1][:, -1] if n > 2 else np.array([1.0, 0.0])
    sig = (diff - np.median(diff, axis=0)) @ axis
    f.leg_motion = float(np.percentile(np.abs(sig), 95))
    f.steps, turns = _swings(sig, max(STEP_FLOOR, STEP_SHARE * float(_range(sig))))
    period = float(np.median(np.diff(turns))) if len(turns) >= 2 else float("nan")
    if fps and np.isfinite(period):
        f.step_rate_hz = fps / period
    cycle = int(np.clip(2 * period, 8, 120)) if np.isfinite(period) else DEFAULT_CYCLE
    detrend = lambda x: x - uniform_filter1d(x, cycle, axis=0, mode="nearest")  # noqa: E731
    f.alternation = -_correlation(detrend(rel[:, 0]), detrend(rel[:, 1])) if f.leg_motion >= STEP_FLOOR else 0.0
    f.bounce_heights = float(_range(detrend(hip[:, 1] / s)))
    f.bounce_per_progress = f.bounce_heights / max(f.progress_heights, 0.1)

    feet = np.stack([p[:, [ANKLE[k], HEEL[k], FOOT_INDEX[k]], 1].max(1) for k in (0, 1)], 1)  # lowest points
    w = max(3, cycle // 2)
    before = maximum_filter1d(feet, w, axis=0, origin=(w - 1) // 2, mode="nearest")
    after = maximum_filter1d(feet, w, axis=0, origin=-(w // 2), mode="nearest")
    clear = (np.minimum(before, after) - feet) / s[:, None]  # [T', 2] height above ground
    f.flight_share = float((clear.min(1) > FLIGHT_CLEARANCE).mean())
    f.together = _correlation(clear[:, 0], clear[:, 1]) if clear.max() > FLIGHT_CLEARANCE else 0.0
    f.stance_drift = float(_range(detrend((feet.max(1) - hip[:, 1]) / s)))
    shoulders = float(np.median(np.abs(p[:, SHOULDER[0], 0] - p[:, SHOULDER[1], 0]) / s))
    f.side_view = bool(f.travel_heights >= SIDE_TRAVEL or (shoulders < SIDE_SHOULDERS and f.swing_heights >= SIDE_SWING))
    wrists = (p[:, list(WRIST)] - _mid(p, SHOULDER)[:, None]) / s[:, None, None]
    f.arm_motion = float(np.max(_range(wrists)))


def walk_refusal(features: WalkFeatures) -> str | None:
    """None when `features` show a walk; otherwise one plain-language sentence, starting with
    `REFUSAL_PREFIX`, saying why and what was found instead."""
    f = features
    if f.frames_used == 0 and 0 < f.frames_detected < JUDGE_SHARE * f.frames_total:
        return None  # too little of anyone is seen to judge: the analysis warns how little
    if f.frames_used == 0:
        return REFUSAL_PREFIX + (f"too few frames show the person upright ({f.frames_in_view}) to see a single step."
                                 if f.frames_in_view else "no person is seen standing upright in any frame.")
    seen = f.visibility >= LEG_VISIBILITY  # feet in the air only count where the feet are seen
    alternating = f.steps >= MIN_STEPS and f.alternation > 0
    flies = seen and f.side_view and f.flight_share >= RUN_FLIGHT and alternating and f.together < HOP_TOGETHER
    fast = (f.step_rate_hz or 0) >= RUN_STEP_RATE and (f.speed_heights_per_s or 0) >= RUN_SPEED
    if flies or fast:
        found = [f"both feet off the ground in {f.flight_share:.0%} of frames"] if flies else []
        found += [f"{f.step_rate_hz:.1f} steps per second"] if f.step_rate_hz else []
        found += [f"{f.speed_heights_per_s:.1f} body heights per second"] if fast else []
        return REFUSAL_PREFIX + f"the person runs ({', '.join(found)})."
    if seen and f.flight_share >= HOP_FLIGHT and f.together >= HOP_TOGETHER and (f.side_view or f.steps < MIN_STEPS):
        return REFUSAL_PREFIX + (f"the person hops or jumps (both feet leave and land together; in the air "
                                 f"in {f.flight_share:.0%} of frames).")
    if f.progress_heights < STAND_PROGRESS:
        moved = f"the hips move {f.progress_heights:.2f} body heights"
        if f.leg_motion < STAND_LEG_MOTION:
            arms = " and moves the arms" if f.arm_motion >= ARM_MOTION else ""
            return REFUSAL_PREFIX + f"the person stands in place ({moved}){arms}."
        if f.steps >= MIN_STEPS and f.swing_heights < TREADMILL_SWING and f.stance_drift < SPOT_DRIFT:
            return REFUSAL_PREFIX + f"the person steps on the spot ({moved}; {f.steps} steps found)."
    if f.steps < MIN_STEPS:
        return REFUSAL_PREFIX + (f"fewer steps than one gait cycle ({f.steps} step{'' if f.steps == 1 else 's'} "
                                 f"found in {f.frames_in_view} frames).")
    return None


def walking_score(features: WalkFeatures) -> float:
    """How much `features` look like a person walking, 0..1: a weighted sum of progress (across
    the frame or towards/away from the camera), alternating steps, little bounce for the progress
    made, time in view and leg visibility; feet in the air (running, hopping) and any refusal
    halve it. Size and position in the frame play no part."""
    f = features
    progress = 1.0 - np.exp(-f.progress_heights / SCORE_PROGRESS)
    stride = min(1.0, max(f.swing_heights / TREADMILL_SWING, f.stance_drift / (2 * SPOT_DRIFT)))  # feet pass under the body
    rhythm = (1.0 + f.alternation) / 2 * min(1.0, f.steps / SCORE_STEPS) * stride
    smooth = 1.0 / (1.0 + (f.bounce_per_progress / SCORE_BOUNCE) ** 2)
    time = min(1.0, f.seconds / SCORE_SECONDS) if f.seconds is not None else min(1.0, f.frames_in_view / SCORE_FRAMES)
    visible = min(1.0, f.visibility / SCORE_VISIBILITY)
    score = 0.35 * progress + 0.25 * rhythm + 0.15 * smooth + 0.15 * time + 0.10 * visible
    if f.side_view:  # from the front, perspective and a following camera fake flight
        score *= 1.0 - 0.5 * min(1.0, f.flight_share / (2 * RUN_FLIGHT))
    score *= 0.5 if walk_refusal(f) else 1.0
    return float(np.clip(np.nan_to_num(score), 0.0, 1.0))
