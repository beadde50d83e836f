"""Bodies drawn from keypoints, for people: body shapes, their height, the skeleton.

The model never sees these: its input is drawn by `gaitlab.pipeline.pose_frames` (soft limbs,
one channel per body side), which takes its scale from `body_height`. Here live the shapes a
body is drawn with (tapered capsules for limbs, a torso, a head ellipse, feet, hands:
`body_shapes` and `draw_body`), which the synthetic walker's videos are made of
(`gaitlab.synth.walker_video`), and `draw_skeleton`, which draws the landmarks over any
frames for people to read.

Coordinates: keypoints are normalised (x in frame widths, y in frame heights). "Source pixels"
put them on a virtual source frame `SOURCE_HEIGHT` (1000) px high and 1000*aspect px wide.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from gaitlab.constants import NUM_LANDMARKS
from gaitlab.pipeline.landmarks import (ANKLE, ELBOW, FOOT_INDEX, HEEL, HIP, INDEX, KNEE, L_EAR, LEFT_BONES, NOSE, PINKY,
                                       R_EAR, RIGHT_BONES, SHOULDER, TRUNK_BONES, WRIST)

SOURCE_HEIGHT = 1000.0  # height of the virtual source frame, pixels
# (trunk + thigh + shank) length as a share of standing height (Winter's anthropometry);
# turns joint distances, which do not change as the legs swing, into a body height.
CHAIN_TO_HEIGHT = 0.78
_SHIFT = 4  # cv2 sub-pixel bits: coordinates are drawn at 1/16 pixel precision
_ONE = 1 << _SHIFT


@dataclass(frozen=True)
class RenderStyle:
    """How wide a body is drawn: multipliers of a plain adult's part widths (default 1)."""

    arm: float = 1.0
    thigh: float = 1.0
    shank: float = 1.0
    torso: float = 1.0
    head: float = 1.0


@dataclass
class BodyShapes:
    """Drawable body of a sequence, in one coordinate system (source or frame pixels).

    `caps` [T, K, 2, 2]: capsule end points; `radii` [K, 2]: their radii (constant over the
    sequence); `parts` [K]: part names (used for colours in videos). `head` [T, 2] ellipse
    centres with `head_axes` (a, b). `polys` [T, P, 4, 2]: filled quads (the torso).
    """

    caps: np.ndarray
    radii: np.ndarray
    parts: list[str]
    head: np.ndarray
    head_axes: tuple[float, float]
    polys: np.ndarray
    poly_parts: list[str] = field(default_factory=list)


# (from, to, width at from, width at to, part); widths are full widths as a share of height.
# Indices from NUM_LANDMARKS (33) on name derived points: see `_derived_points`.
_MID_SH, _MID_HIP, _HEAD, _HAND_L, _HAND_R = range(NUM_LANDMARKS, NUM_LANDMARKS + 5)
_CAPSULES: tuple[tuple[int, int, float, float, str], ...] = (
    *((HIP[s], KNEE[s], 0.10, 0.068, "thigh") for s in (0, 1)),
    *((KNEE[s], ANKLE[s], 0.068, 0.045, "shank") for s in (0, 1)),
    *((ANKLE[s], HEEL[s], 0.045, 0.040, "foot") for s in (0, 1)),
    *((HEEL[s], FOOT_INDEX[s], 0.040, 0.030, "foot") for s in (0, 1)),
    (_MID_SH, _MID_HIP, 0.14, 0.13, "torso"),
    (*SHOULDER, 0.10, 0.10, "torso"), (*HIP, 0.12, 0.12, "torso"),
    (_MID_SH, _HEAD, 0.05, 0.05, "neck"),
    *((SHOULDER[s], ELBOW[s], 0.055, 0.045, "arm") for s in (0, 1)),
    *((ELBOW[s], WRIST[s], 0.045, 0.035, "arm") for s in (0, 1)),
    (WRIST[0], _HAND_L, 0.035, 0.03, "hand"), (WRIST[1], _HAND_R, 0.035, 0.03, "hand"),
)
_HEAD_AXES = (0.06, 0.075)  # head ellipse half-width, half-height (share of height)


def _derived_points(pts: np.ndarray) -> np.ndarray:
    """[T, 33, 2] → [T, 38, 2]: landmarks plus mid-shoulder, mid-hip, head centre and the two
    hand tips."""
    mid_sh = pts[:, list(SHOULDER)].mean(axis=1)
    mid_hip = pts[:, list(HIP)].mean(axis=1)
    head = pts[:, [NOSE, L_EAR, R_EAR]].mean(axis=1)
    hand_l = pts[:, [PINKY[0], INDEX[0]]].mean(axis=1)
    hand_r = pts[:, [PINKY[1], INDEX[1]]].mean(axis=1)
    extra = np.stack([mid_sh, mid_hip, head, hand_l, hand_r], axis=1)
    return np.concatenate([pts, extra], axis=1)


def body_height(pts: np.ndarray) -> float:
    """Standing body height (same units as `pts` [T, 33, 2]) from joint distances."""
    def dist(a: int, b: int) -> np.ndarray:
        return np.linalg.norm(pts[:, a] - pts[:, b], axis=-1)

    trunk = np.linalg.norm(pts[:, list(SHOULDER)].mean(1) - pts[:, list(HIP)].mean(1), axis=-1)
    thigh = (dist(HIP[0], KNEE[0]) + dist(HIP[1], KNEE[1])) / 2
    shank = (dist(KNEE[0], ANKLE[0]) + dist(KNEE[1], ANKLE[1])) / 2
    chain = trunk + thigh + shank
    chain = chain[np.isfinite(chain)]
    return float(np.median(chain)) / CHAIN_TO_HEIGHT if len(chain) else float("nan")


def body_shapes(pts: np.ndarray, height: float, style: RenderStyle | None = None) -> BodyShapes:
    """Shapes of the body for landmark pixels `pts` [T, 33, 2] of a person `height` tall."""
    style = style or RenderStyle()
    p = _derived_points(np.asarray(pts, dtype=np.float64))
    width_mult = {"thigh": style.thigh, "shank": style.shank, "torso": style.torso, "arm": style.arm,
                  "neck": style.torso, "foot": 1.0, "hand": 1.0}
    idx = np.array([(a, b) for a, b, *_ in _CAPSULES])
    radii = np.array([[w0, w1] for _, _, w0, w1, _ in _CAPSULES]) * height / 2
    parts = [c[4] for c in _CAPSULES]
    radii *= np.array([width_mult[name] for name in parts])[:, None]
    caps = p[:, idx]  # [T, K, 2, 2]
    polys = p[:, [SHOULDER[0], SHOULDER[1], HIP[1], HIP[0]]][:, None]  # torso quad: the chest seen from the front
    axes = (_HEAD_AXES[0] * height * style.head, _HEAD_AXES[1] * height * style.head)
    return BodyShapes(caps, radii, parts, p[:, _HEAD], axes, polys, ["torso"])


def _fixed(xy: np.ndarray) -> np.ndarray:
    """Float pixel coordinates → cv2 fixed-point integers (`_SHIFT` fractional bits)."""
    return np.round(np.asarray(xy) * _ONE).astype(np.int32)


def _capsule_quads(ends: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Side quads [K, 4, 2] joining the end circles of capsules `ends` [K, 2, 2]."""
    p0, p1 = ends[:, 0], ends[:, 1]
    d = p1 - p0
    length = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)[:, None]
    n = np.stack([-d[:, 1], d[:, 0]], axis=1) / length
    r0, r1 = radii[:, :1], radii[:, 1:]
    return np.stack([p0 + n * r0, p1 + n * r1, p1 - n * r1, p0 - n * r0], axis=1)


def _draw_capsules(img: np.ndarray, shapes: BodyShapes, t: int, colors: dict, default) -> None:
    """Tapered capsules of frame `t`: two end circles joined by a quad each."""
    # Geometry is computed for all capsules at once and the loop only calls cv2: a video
    # draws every frame.
    ends = _fixed(shapes.caps[t]).tolist()
    radii = _fixed(shapes.radii).tolist()
    quads = _fixed(_capsule_quads(shapes.caps[t], shapes.radii))
    for k, part in enumerate(shapes.parts):
        color = colors.get(part, default)
        (a, b), (r0, r1) = ends[k], radii[k]
        cv2.circle(img, a, r0, color, -1, cv2.LINE_8, _SHIFT)
        cv2.circle(img, b, r1, color, -1, cv2.LINE_8, _SHIFT)
        cv2.fillConvexPoly(img, quads[k], color, cv2.LINE_8, _SHIFT)


def draw_body(img: np.ndarray, shapes: BodyShapes, t: int,
              colors: dict[str, object] | None = None, default=255) -> None:
    """Draw frame `t` of `shapes` into `img`; `colors` maps part names to colours."""
    colors = colors or {}
    if not np.isfinite(shapes.caps[t]).all():
        return  # no person detected in this frame
    for k, part in enumerate(shapes.poly_parts):
        cv2.fillConvexPoly(img, _fixed(shapes.polys[t, k]), colors.get(part, default),
                           cv2.LINE_8, _SHIFT)
    _draw_capsules(img, shapes, t, colors, default)
    c = _fixed(shapes.head[t]).tolist()
    axes = tuple(_fixed(shapes.head_axes).tolist())
    cv2.ellipse(img, c, axes, 0, 0, 360, colors.get("head", default), -1, cv2.LINE_8, _SHIFT)


# Skeleton colours (RGB) by body side, as the pages name them.
SKELETON_COLORS = {"left": (0, 160, 255), "right": (255, 120, 0), "trunk": (240, 240, 240)}


def draw_skeleton(frames: np.ndarray, points: np.ndarray, thickness: int = 2) -> np.ndarray:
    """The walker's skeleton drawn over frames: uint8 RGB [N, H, W, 3] and landmark pixels
    float [N, 33, 2] (NaN where unknown) → a new uint8 [N, H, W, 3]; left side blue, right
    orange, trunk and head white."""
    out = np.ascontiguousarray(np.array(frames, dtype=np.uint8, copy=True))
    groups = (("left", LEFT_BONES), ("right", RIGHT_BONES), ("trunk", TRUNK_BONES))
    for img, pts in zip(out, np.asarray(points, dtype=np.float64)):
        for side, bones in groups:
            for a, b in bones:
                if np.isfinite(pts[[a, b]]).all():
                    cv2.line(img, tuple(_fixed(pts[a])), tuple(_fixed(pts[b])), SKELETON_COLORS[side],
                             thickness, cv2.LINE_AA, _SHIFT)
        for k in np.flatnonzero(np.isfinite(pts).all(axis=1)):
            cv2.circle(img, tuple(_fixed(pts[k])), 2 * _ONE, SKELETON_COLORS["trunk"], -1, cv2.LINE_AA, _SHIFT)
    return out
