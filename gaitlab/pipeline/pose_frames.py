"""Pose frames (view `pose_limbs`): landmarks drawn as soft limbs, one channel per body side.

Data flow: a cleaned landmark sequence float [T, 33, 4] (normalised x, y of a source frame
`aspect` = width/height wide) and the frame indices of whole clips → uint8 [N, 224, 224, 3]:
channel 0 = the left arm and leg, 1 = the right arm and leg, 2 = trunk and head. Limbs are
anti-aliased lines and joints discs, blurred so they are soft; where a landmark is unknown
(NaN) its bones are not drawn.

Framing keeps what tells the classes apart: one crop per clip (every `CLIP_FRAMES` indices),
at one body-height scale for the whole walk (the body is `BODY_FRACTION` of the frame high),
centred on the clip's mean mid-hip, so the walker's progression, stride and trunk motion over
the clip stay visible. Walking direction is normalised: a walker going right-to-left is
mirrored to walk left-to-right, with the two side channels swapped (the mirror image of a left
leg is a right leg). `pose_frame_matrices` gives each frame's placement (normalised image
coordinates → model-frame pixels, mirror included), so original footage can be warped under
the frames and maps drawn on the frames can be taken back to the footage.

Training draws the same frames through a random `PoseStyle` (scale, small rotation, shift,
landmark jitter, dropped bones, line width).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from gaitlab.constants import CLIP_FRAMES, FRAME_SIZE
from gaitlab.pipeline.landmarks import HIP, L_EAR, LEFT_BONES, NOSE, R_EAR, RIGHT_BONES, SHOULDER, TRUNK_BONES
from gaitlab.pipeline.render import SOURCE_HEIGHT, body_height

VIEW = "pose_limbs"
# The walker's standing height as a share of the frame height. 0.8 rather than 0.55: the 4x4
# pooled frames the student reads are 56 px, and a larger walker keeps the knee and arm detail
# (held-out accuracy 0.77 / 0.57 → 0.81 / 0.66 on folds 0 / 1 with the dilated student). The
# price: a long stride or a walker nearing the camera touches the frame's edge in some clips
# (a third of normal walkers' clips, most frontal ones), and the model reads them so in
# training and in use alike.
BODY_FRACTION = 0.8
LINE_WIDTH = 0.03  # limb line width, share of body height
HEAD_RADIUS = 0.055  # share of body height
BLUR = 0.5  # Gaussian sigma as a share of the line width
# A walk whose mid-hip moves less than this many body heights is not treated as sideways.
MIN_PROGRESSION = 0.3
_SHIFT = 4  # cv2 sub-pixel bits
_ONE = 1 << _SHIFT
_NECK = ((SHOULDER[0], NOSE), (SHOULDER[1], NOSE))


@dataclass(frozen=True)
class PoseStyle:
    """How landmarks are drawn; the default is the plain style of inference."""

    scale: float = 1.0  # multiplies the body-height scale
    rotation_deg: float = 0.0  # about the frame centre
    shift: tuple[float, float] = (0.0, 0.0)  # model-frame pixels
    jitter: float = 0.0  # landmark noise, standard deviation in body heights
    drop: float = 0.0  # probability that a bone is missing in a frame
    width: float = 1.0  # multiplies the line width

    @classmethod
    def random(cls, rng: np.random.Generator) -> PoseStyle:
        """Training augmentation: what differs between cameras, walkers and pose runs."""
        return cls(scale=float(rng.uniform(0.85, 1.15)), rotation_deg=float(rng.normal(0, 3)),
                   shift=(float(rng.normal(0, 6)), float(rng.normal(0, 6))),
                   jitter=float(rng.uniform(0.0, 0.012)), drop=float(rng.choice([0.0, 0.0, 0.05])),
                   width=float(rng.uniform(0.8, 1.25)))


def _source_points(seq: np.ndarray, aspect: float) -> np.ndarray:
    """[T, 33, 4] normalised → [T, 33, 2] source pixels (x and y in the same unit)."""
    return np.asarray(seq, dtype=np.float64)[..., :2] * [SOURCE_HEIGHT * aspect, SOURCE_HEIGHT]


def walking_direction(seq: np.ndarray) -> int:
    """+1 for a walk left-to-right (or no clear sideways walk), -1 for right-to-left.

    From the mid-hip's net horizontal travel over the sequence, in body heights (aspect does
    not change the sign)."""
    pts = _source_points(seq, 1.0)
    hip_x = pts[:, list(HIP), 0].mean(axis=1)
    ok = np.isfinite(hip_x)
    height = body_height(pts)
    if ok.sum() < 2 or not np.isfinite(height) or height <= 0:
        return 1
    x = hip_x[ok]
    travel = (np.median(x[-max(1, len(x) // 5):]) - np.median(x[: max(1, len(x) // 5)])) / height
    return -1 if travel < -MIN_PROGRESSION else 1


def _clip_groups(n: int) -> list[slice]:
    return [slice(k, min(k + CLIP_FRAMES, n)) for k in range(0, n, CLIP_FRAMES)]


def pose_frame_matrices(seq: np.ndarray, indices, aspect: float, style: PoseStyle | None = None) -> np.ndarray | None:
    """float64 [N, 2, 3]: per frame of `indices`, the affine map from normalised image
    coordinates to model-frame pixels that `render_pose_frames` draws with (mirror included).
    None when no frame of `seq` shows a person."""
    style = style or PoseStyle()
    seq = np.asarray(seq, dtype=np.float64)
    indices = np.asarray(indices, dtype=int)
    pts = _source_points(seq, aspect)
    height = body_height(pts)
    if not np.isfinite(height) or height <= 0:
        return None
    scale = BODY_FRACTION * FRAME_SIZE / height * style.scale
    mirror = walking_direction(seq) < 0
    hips = pts[:, list(HIP)].mean(axis=1)  # [T, 2]
    fallback = np.nanmedian(hips, axis=0) if np.isfinite(hips).any() else np.zeros(2)
    theta = np.radians(style.rotation_deg)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    to_source = np.diag([SOURCE_HEIGHT * aspect, SOURCE_HEIGHT])
    half = FRAME_SIZE / 2
    out = np.empty((len(indices), 2, 3))
    for group in _clip_groups(len(indices)):
        clip_hips = hips[indices[group]]
        ok = np.isfinite(clip_hips).all(axis=1)
        centre = clip_hips[ok].mean(axis=0) if ok.any() else fallback
        linear = rot @ (scale * to_source)
        if mirror:
            linear = np.diag([-1.0, 1.0]) @ linear
        offset = np.array([half, half]) + np.asarray(style.shift) - linear @ (centre / np.diag(to_source))
        out[group, :, :2] = linear
        out[group, :, 2] = offset
    return out


def _draw_channel(plane: np.ndarray, pts: np.ndarray, bones, width: float, keep: np.ndarray) -> None:
    """Bones (pairs of landmark indices) of one frame's pixel points `pts` [33, 2] into `plane`."""
    thickness = max(1, int(round(width)))
    radius = max(1, int(round(0.8 * width * _ONE)))
    fixed = np.round(np.nan_to_num(pts, nan=-1e4) * _ONE).astype(np.int64)
    finite = np.isfinite(pts).all(axis=1)
    joints = set()
    for k, (a, b) in enumerate(bones):
        if keep[k] and finite[a] and finite[b]:
            cv2.line(plane, tuple(fixed[a].tolist()), tuple(fixed[b].tolist()), 255, thickness, cv2.LINE_AA, _SHIFT)
            joints.update((a, b))
    for j in joints:
        cv2.circle(plane, tuple(fixed[j].tolist()), radius, 255, -1, cv2.LINE_AA, _SHIFT)


def render_pose_frames(seq: np.ndarray, indices=None, style: PoseStyle | None = None,
                       rng: np.random.Generator | None = None, aspect: float = 1.0) -> np.ndarray:
    """Pose frames uint8 [N, 224, 224, 3] of frames `indices` (default all) of `seq` [T, 33, 4].

    Every `CLIP_FRAMES` consecutive entries of `indices` are one clip and share one crop.
    `style` (default plain) and `rng` (for jitter and dropped bones) augment; `aspect` is the
    source frame's width / height. A sequence with no person gives black frames.
    """
    style = style or PoseStyle()
    rng = rng if rng is not None else np.random.default_rng(0)
    seq = np.asarray(seq, dtype=np.float64)
    indices = np.arange(len(seq)) if indices is None else np.asarray(indices, dtype=int)
    out = np.zeros((len(indices), FRAME_SIZE, FRAME_SIZE, 3), dtype=np.uint8)
    matrices = pose_frame_matrices(seq, indices, aspect, style)
    if matrices is None:
        return out
    height_px = BODY_FRACTION * FRAME_SIZE * style.scale
    width = LINE_WIDTH * height_px * style.width
    sigma = BLUR * width
    body = body_height(_source_points(seq, aspect)) / SOURCE_HEIGHT  # in frame heights
    noise = style.jitter * body * np.array([1.0 / aspect, 1.0])  # per-axis sd, normalised units
    mirror = matrices[0, 0, 0] < 0
    sides = (RIGHT_BONES, LEFT_BONES) if mirror else (LEFT_BONES, RIGHT_BONES)
    trunk = TRUNK_BONES + _NECK
    groups = (*sides, trunk)
    for j, t in enumerate(indices):
        xy = seq[t, :, :2]
        if style.jitter > 0:
            xy = xy + rng.normal(0.0, 1.0, xy.shape) * noise
        pts = xy @ matrices[j, :, :2].T + matrices[j, :, 2]
        planes = [np.zeros((FRAME_SIZE, FRAME_SIZE), np.uint8) for _ in range(3)]
        for c, bones in enumerate(groups):
            keep = rng.random(len(bones)) >= style.drop if style.drop > 0 else np.ones(len(bones), bool)
            _draw_channel(planes[c], pts, bones, width, keep)
        head = pts[[NOSE, L_EAR, R_EAR]]
        if np.isfinite(head).all():
            centre = np.round(head.mean(axis=0) * _ONE).astype(np.int64)
            cv2.circle(planes[2], tuple(centre.tolist()), int(round(HEAD_RADIUS * height_px * _ONE)), 255, -1,
                       cv2.LINE_AA, _SHIFT)
        for c in range(3):
            out[j, :, :, c] = cv2.GaussianBlur(planes[c], (0, 0), sigma)
    return out
