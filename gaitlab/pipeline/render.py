"""Keypoints drawn as a binary person silhouette on the 224x224 model frame.

Every input reaches the model this way: a keypoint file's landmarks, or a video's as MediaPipe
Pose finds them (`gaitlab.pipeline.pose`). The body is drawn with plausible volumes (tapered
capsules for limbs, a torso, a head ellipse, feet, hands) and, for training, roughened by
`RenderStyle` augmentations. Framing goes through `gaitlab.pipeline.framing`: one scale and a
smoothed centre per sequence (`model_frame_matrices` gives the same placement for original
video frames). `draw_skeleton` draws the landmarks over any frames for people to read.

Coordinates: keypoints are normalised (x in frame widths, y in frame heights). "Source pixels"
put them on a virtual source frame 1000 px high and 1000*aspect px wide.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from gaitlab.constants import FRAME_SIZE, NUM_LANDMARKS
from gaitlab.pipeline.framing import Framing, framing_for_boxes
from gaitlab.pipeline.keypoints import detected_frames, estimate_aspect
from gaitlab.pipeline.landmarks import (ANKLE, ELBOW, FEET, FOOT_INDEX, HEEL, HIP, INDEX, KNEE, L_EAR, LEFT_BONES, NOSE,
                                       PINKY, R_EAR, RIGHT_BONES, SHOULDER, TRUNK_BONES, WRIST)

SOURCE_HEIGHT = 1000.0  # height of the virtual source frame, pixels
# (trunk + thigh + shank) length as a share of standing height (Winter's anthropometry);
# turns joint distances, which do not change as the legs swing, into a body height.
CHAIN_TO_HEIGHT = 0.78
_SHIFT = 4  # cv2 sub-pixel bits: coordinates are drawn at 1/16 pixel precision
_ONE = 1 << _SHIFT


@dataclass(frozen=True)
class RenderStyle:
    """How a body is drawn. Widths are multipliers of a plain adult's; knobs default to off."""

    arm: float = 1.0
    thigh: float = 1.0
    shank: float = 1.0
    torso: float = 1.0
    head: float = 1.0
    coat: float = 0.0  # 0..1: bulkier torso and arms plus a hem over the thighs
    skirt: float = 0.0  # 0..1: a trapezoid from the hips widening towards the knees
    trousers: float = 0.0  # 0..1: baggy legs
    morph_px: int = 0  # > 0 dilates, < 0 erodes the mask (model-frame pixels)
    holes: int = 0  # dark blobs punched inside the body per frame
    specks: int = 0  # stray foreground blobs near the body per frame
    ragged: float = 0.0  # 0..1: noisy, uneven edges
    shadow: float = 0.0  # 0..1: size of a shadow blob on the ground under the feet
    truncate: float = 0.0  # share of the frame cut away at `truncate_side`
    truncate_side: str = "bottom"
    scale: float = 1.0  # multiplies the framing scale
    shift: tuple[float, float] = (0.0, 0.0)  # (dx, dy) model-frame pixels
    mirror: bool = False  # flip horizontally (walking direction)

    @classmethod
    def random(cls, rng: np.random.Generator) -> RenderStyle:
        """Heavy augmentation so rendered silhouettes resemble extracted ones."""
        def maybe(p: float, value: float) -> float:
            return value if rng.random() < p else 0.0

        return cls(
            arm=rng.uniform(0.75, 1.35),
            thigh=rng.uniform(0.8, 1.3),
            shank=rng.uniform(0.8, 1.3),
            torso=rng.uniform(0.8, 1.35),
            head=rng.uniform(0.85, 1.2),
            coat=maybe(0.25, rng.uniform(0.3, 1.0)),
            skirt=maybe(0.12, rng.uniform(0.3, 1.0)),
            trousers=maybe(0.5, rng.uniform(0.0, 1.0)),
            morph_px=int(rng.integers(-2, 4)),
            holes=int(rng.integers(1, 4)) if rng.random() < 0.4 else 0,
            specks=int(rng.integers(1, 5)) if rng.random() < 0.3 else 0,
            ragged=rng.uniform(0.0, 0.8),
            shadow=maybe(0.35, rng.uniform(0.3, 1.0)),
            truncate=maybe(0.15, rng.uniform(0.03, 0.12)),
            truncate_side=str(rng.choice(["bottom", "top", "left", "right"])),
            scale=rng.uniform(0.88, 1.12),
            shift=(float(rng.normal(0, 6)), float(rng.normal(0, 6))),
            mirror=bool(rng.random() < 0.5),
        )


@dataclass
class BodyShapes:
    """Drawable body of a sequence, in one coordinate system (source or frame pixels).

    `caps` [T, K, 2, 2]: capsule end points; `radii` [K, 2]: their radii (constant over the
    sequence); `parts` [K]: part names (used for colours in videos). `head` [T, 2] ellipse
    centres with `head_axes` (a, b). `polys` [T, P, 4, 2]: filled quads (torso, skirt).
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
_MID_SH, _MID_HIP, _HEAD, _MID_KNEE, _HAND_L, _HAND_R = range(NUM_LANDMARKS, NUM_LANDMARKS + 6)
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
    """[T, 33, 2] → [T, 39, 2]: landmarks plus mid-shoulder, mid-hip, head centre,
    mid-knee and the two hand tips."""
    mid_sh = pts[:, list(SHOULDER)].mean(axis=1)
    mid_hip = pts[:, list(HIP)].mean(axis=1)
    head = pts[:, [NOSE, L_EAR, R_EAR]].mean(axis=1)
    mid_knee = pts[:, list(KNEE)].mean(axis=1)
    hand_l = pts[:, [PINKY[0], INDEX[0]]].mean(axis=1)
    hand_r = pts[:, [PINKY[1], INDEX[1]]].mean(axis=1)
    extra = np.stack([mid_sh, mid_hip, head, mid_knee, hand_l, hand_r], axis=1)
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
    width_mult = {"thigh": style.thigh + 0.25 * style.trousers,
                  "shank": style.shank + 0.3 * style.trousers,
                  "torso": style.torso + 0.25 * style.coat,
                  "arm": style.arm + 0.3 * style.coat,
                  "neck": style.torso, "foot": 1.0, "hand": 1.0}
    idx = np.array([(a, b) for a, b, *_ in _CAPSULES])
    radii = np.array([[w0, w1] for _, _, w0, w1, _ in _CAPSULES]) * height / 2
    parts = [c[4] for c in _CAPSULES]
    radii *= np.array([width_mult[name] for name in parts])[:, None]
    caps = p[:, idx]  # [T, K, 2, 2]

    polys = [p[:, [SHOULDER[0], SHOULDER[1], HIP[1], HIP[0]]]]  # torso quad: fills the chest seen from the front
    poly_parts = ["torso"]
    mid_hip, mid_knee = p[:, _MID_HIP], p[:, _MID_KNEE]
    for amount, length, part in ((style.coat, 0.6, "coat"), (style.skirt, 0.8, "skirt")):
        if amount > 0:
            hem = mid_hip + (mid_knee - mid_hip) * (length + 0.4 * amount)
            top = 0.07 * style.torso * height
            bottom = (0.08 + 0.08 * amount) * height
            polys.append(np.stack([mid_hip + [-top, 0], mid_hip + [top, 0],
                                   hem + [bottom, 0], hem + [-bottom, 0]], axis=1))
            poly_parts.append(part)
    if style.shadow > 0:
        feet = p[:, list(FEET)]
        ground = np.stack([feet[..., 0].mean(1), feet[..., 1].max(1)], axis=1)
        half_w, half_h = (0.12 + 0.15 * style.shadow) * height, 0.02 * height
        polys.append(np.stack([ground + [-half_w, -half_h], ground + [half_w, -half_h],
                               ground + [half_w, half_h], ground + [-half_w, half_h]], axis=1))
        poly_parts.append("shadow")
    axes = (_HEAD_AXES[0] * height * style.head, _HEAD_AXES[1] * height * style.head)
    return BodyShapes(caps, radii, parts, p[:, _HEAD], axes, np.stack(polys, axis=1), poly_parts)


def shapes_boxes(shapes: BodyShapes) -> np.ndarray:
    """[T, 4] (x0, y0, x1, y1) bounding the drawn shapes; NaN where a frame has none."""
    r = shapes.radii[None, :, :]
    cx, cy = shapes.caps[..., 0], shapes.caps[..., 1]
    hx, hy = shapes.head[:, 0], shapes.head[:, 1]
    a, b = shapes.head_axes
    px, py = shapes.polys[..., 0].reshape(len(hx), -1), shapes.polys[..., 1].reshape(len(hx), -1)
    x0 = np.minimum.reduce([(cx - r).reshape(len(hx), -1).min(1), hx - a, px.min(1)])
    x1 = np.maximum.reduce([(cx + r).reshape(len(hx), -1).max(1), hx + a, px.max(1)])
    y0 = np.minimum.reduce([(cy - r).reshape(len(hx), -1).min(1), hy - b, py.min(1)])
    y1 = np.maximum.reduce([(cy + r).reshape(len(hx), -1).max(1), hy + b, py.max(1)])
    return np.stack([x0, y0, x1, y1], axis=1)


def _source_pixels(seq: np.ndarray, aspect: float) -> np.ndarray:
    """[T, 33, 4] normalised → [T, 33, 2] source pixels."""
    return np.asarray(seq, dtype=np.float64)[..., :2] * [SOURCE_HEIGHT * aspect, SOURCE_HEIGHT]


def person_boxes(seq: np.ndarray, aspect: float) -> np.ndarray:
    """[T, 4] boxes (x0, y0, x1, y1) in source pixels around the body as a plain style draws it.

    Covers joints plus limb radii, head ellipse and feet, so `framing_for_boxes` frames a
    rendered silhouette consistently. NaN rows for undetected frames.
    """
    pts = _source_pixels(seq, aspect)
    return shapes_boxes(body_shapes(pts, body_height(pts)))


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
    # Geometry is computed for all capsules at once and the loop only calls cv2: training
    # renders millions of frames.
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


def _roughen(mask: np.ndarray, style: RenderStyle, height: float,
             rng: np.random.Generator) -> np.ndarray:
    """Per-frame background-subtraction artefacts on a 0/255 mask of a person `height` px tall."""
    if style.morph_px:
        k = 2 * abs(style.morph_px) + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        mask = (cv2.dilate if style.morph_px > 0 else cv2.erode)(mask, kernel)
    if style.ragged > 0:
        # Blur, then threshold against smooth noise: edges wander in and out by a few pixels.
        soft = cv2.blur(mask, (7, 7)).astype(np.float32) / 255.0
        noise = cv2.resize(rng.random((16, 16), dtype=np.float32), mask.shape[::-1])
        threshold = 0.5 + 0.9 * style.ragged * (noise - 0.5)
        mask = np.where(soft > threshold, 255, 0).astype(np.uint8)
    ys, xs = np.nonzero(mask) if (style.holes or style.specks) else ((), ())
    if len(xs):
        for _ in range(style.holes):
            i = rng.integers(len(xs))
            axes = tuple(int(v) + 1 for v in rng.uniform(0.01, 0.035, 2) * height)
            angle = float(rng.uniform(0, 180))
            cv2.ellipse(mask, (int(xs[i]), int(ys[i])), axes, angle, 0, 360, 0, -1)
        for _ in range(style.specks):
            i = rng.integers(len(xs))
            off = rng.normal(0, 0.15 * height, 2)
            centre = (int(xs[i] + off[0]), int(ys[i] + off[1]))
            cv2.circle(mask, centre, int(rng.integers(1, 4)), 255, -1)
    cut = int(round(style.truncate * mask.shape[0]))
    if cut > 0:  # (a zero cut would slice the whole frame away)
        side = {"bottom": (slice(-cut, None), slice(None)), "top": (slice(None, cut), slice(None)),
                "left": (slice(None), slice(None, cut)), "right": (slice(None), slice(-cut, None))}
        mask[side[style.truncate_side]] = 0
    return mask


def _framing(pts: np.ndarray, height: float) -> Framing:
    """The one framing of a whole sequence of source pixels [T, 33, 2] (plain body shapes)."""
    return framing_for_boxes(shapes_boxes(body_shapes(pts, height)))


def model_frame_matrices(seq: np.ndarray, indices, aspect: float | None = None) -> np.ndarray | None:
    """float64 [N, 2, 3]: for each frame of `indices`, the affine map from normalised image
    coordinates (x, y in 0..1 of the source frame) to model-frame pixels — the placement
    `render_silhouettes` (plain style) draws that frame with. Multiply on the right by
    diag(1/W, 1/H, 1) to place an original W×H video frame exactly under its rendering
    (`cv2.warpAffine`), or invert it to draw a model-frame map back onto the original frame.
    None when no frame shows a person. `seq` as for `render_silhouettes`."""
    seq = np.asarray(seq, dtype=np.float32)
    aspect = float(aspect) if aspect is not None else estimate_aspect(seq)
    pts = _source_pixels(seq, aspect)
    height = body_height(pts)
    if not np.isfinite(height):
        return None
    framing = _framing(pts, height)
    to_source = np.diag([SOURCE_HEIGHT * aspect, SOURCE_HEIGHT, 1.0])
    return np.stack([framing.matrix(int(t)) @ to_source for t in indices])


def render_silhouettes(seq: np.ndarray, indices=None, style: RenderStyle | None = None,
                       rng: np.random.Generator | None = None,
                       aspect: float | None = None) -> np.ndarray:
    """Render frames of a keypoint sequence [T, 33, 4] as uint8 silhouettes [N, 224, 224] (0/255).

    `seq` should be gap-filled (`keypoints.fill_gaps`); a frame without landmarks renders
    empty. Framing is computed once over the whole sequence, then `indices` (default: all
    frames) are drawn. `aspect` (source width/height) is estimated when not given. Widths
    and style are the same for every frame of a call; holes and ragged edges vary per frame.
    """
    seq = np.asarray(seq, dtype=np.float32)
    style = style or RenderStyle()
    rng = rng if rng is not None else np.random.default_rng(0)
    aspect = float(aspect) if aspect is not None else estimate_aspect(seq)
    indices = np.arange(len(seq)) if indices is None else np.asarray(indices, dtype=int)

    out = np.zeros((len(indices), FRAME_SIZE, FRAME_SIZE), dtype=np.uint8)
    pts = _source_pixels(seq, aspect)
    height = body_height(pts)
    if not np.isfinite(height):
        return out  # no frame with a person at all
    framing = _framing(pts, height)
    s = framing.scale * style.scale  # source pixels → model-frame pixels

    sub = np.full((len(indices), pts.shape[1], 2), np.nan)
    ok = detected_frames(seq)
    for j, t in enumerate(indices):
        if ok[t]:
            xy = framing.apply_points(int(t), pts[t])
            # Scale jitter about the frame centre, then position jitter.
            sub[j] = (xy - FRAME_SIZE / 2) * style.scale + FRAME_SIZE / 2 + np.asarray(style.shift)
    shapes = body_shapes(sub, height * s, style)
    for j in range(len(indices)):
        draw_body(out[j], shapes, j)
        out[j] = _roughen(out[j], style, height * s, rng)
    if style.mirror:
        out = np.ascontiguousarray(out[:, :, ::-1])
    return out


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
