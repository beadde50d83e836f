"""Person silhouettes from a fixed-camera video by temporal-median background subtraction.

One streaming pass (`read_frames`) brings back, downscaled on arrival to
`PROCESSING_LONG_SIDE`, the `BACKGROUND_SAMPLES` frames spread over the whole video and the
frames the caller asked for. The background is the per-pixel median of the samples: a walker
crosses the scene, so at any pixel most samples show the background. Foreground is a colour
difference to it, thresholded against the video's own noise level (hysteresis: weak pixels
are kept only where connected to strong ones), cleaned by morphology; the walking person is
the dominant component, with a detached head or foot merged back. Boxes then give one
`Framing` for the sequence and masks and colour frames are placed on the 224x224 model frame.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np

from gaitlab.constants import BACKGROUND_SAMPLES, FRAME_SIZE, PROCESSING_LONG_SIDE
from gaitlab.errors import InputError
from gaitlab.pipeline.framing import Framing, framing_for_boxes, place
from gaitlab.pipeline.video import WARN_DAMAGED, VideoInfo, read_frames

# --- Thresholds (processing resolution; shares are of the processing frame) ----------------
# Weak threshold = NOISE_GAIN x noise + NOISE_FLOOR, clipped. The noise is the median
# difference of the background samples to their median (camera and codec noise); a person
# differs by far more. The clip keeps a clean video from segmenting codec ringing and a noisy
# one from losing the person.
NOISE_GAIN, NOISE_FLOOR = 4.0, 12.0
WEAK_THRESHOLD_RANGE = (18.0, 45.0)
# Strong (seed) threshold / weak: a person has clearly different pixels; noise blobs do not.
STRONG_FACTOR = 2.0
# Enclosed holes up to this share of the person's area are filled (see `_fill_holes`).
HOLE_MAX_SHARE = 0.02
# Closing passes: one seals codec seams without bridging arm-to-body or leg-to-leg gaps.
CLOSE_ITERATIONS = 1
# Specks below this share are noise, not body parts (0.03% is ~40 px at 480x270).
MIN_BLOB_SHARE = 0.0003
# A person covers at least this share of the frame and this share of its height.
MIN_PERSON_SHARE, MIN_PERSON_HEIGHT_SHARE = 0.002, 0.10
# Two candidates within this area ratio are a tie, broken by nearness to the last person.
TIE_AREA_RATIO = 0.8
# A detached head, hand or foot: at most MERGE_MAX_AREA_RATIO of the person's area, overlapping
# it horizontally by MERGE_MIN_OVERLAP of its own width, at most MERGE_MAX_GAP of the person's
# height above or below.
MERGE_MAX_AREA_RATIO, MERGE_MIN_OVERLAP, MERGE_MAX_GAP = 0.5, 0.3, 0.25
# "Several people": another component of at least SECOND_PERSON_AREA_RATIO of the person's
# area in at least MULTI_PERSON_FRAME_SHARE of the frames with a person.
SECOND_PERSON_AREA_RATIO, MULTI_PERSON_FRAME_SHARE = 0.3, 0.2
# "Camera moving": foreground over CAMERA_FG_SHARE of the frame in CAMERA_FRAME_SHARE of the
# frames, or background samples typically differing from their median over
# CAMERA_BACKGROUND_SHARE of the frame. A walking person covers well under 20% of the frame,
# even in portrait video; a pan over a scene changes most of it.
CAMERA_FG_SHARE, CAMERA_FRAME_SHARE, CAMERA_BACKGROUND_SHARE = 0.35, 0.3, 0.3
# "No person": no person in more than this share of the requested frames.
NO_PERSON_FRAME_SHARE = 0.5

WARN_SEVERAL_PEOPLE = "Several people seem to move in the video; the largest one is followed."
WARN_CAMERA_MOVING = "The camera seems to move; silhouettes need a fixed camera and may be poor."
WARN_NO_PERSON = "No walking person was found in most frames; the result may be meaningless."
WARN_MISSING_FRAMES = ("Some frames could not be read (the video ended early or is damaged); "
                       "those frames are left out.")


@dataclass
class SilhouetteTrack:
    """Silhouettes of the requested frames, K = len(indices): those requested, in order, less
    any past the stream's real end (a container that over-reported its length).

    `masks` uint8 [K, 224, 224] (0/255) and `frames` uint8 [K, 224, 224, 3] RGB are placed
    by `framing` (source = processing pixels); `boxes` float [K, 4] (x0, y0, x1, y1) person
    boxes in processing pixels, NaN where none; `person_found` bool [K]; `scale` maps
    displayed video pixels to processing pixels.
    """

    indices: np.ndarray
    masks: np.ndarray
    frames: np.ndarray
    boxes: np.ndarray
    person_found: np.ndarray
    framing: Framing
    scale: float
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Segment:
    """One frame's result: person `mask` bool [h, w] and `box` [4] (None / NaN when none)."""

    mask: np.ndarray | None
    box: np.ndarray
    centroid: np.ndarray | None
    fg_share: float  # share of the frame in the foreground
    second_person: bool  # another person-sized component that is not part of this one


def _difference(frame: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Largest per-channel absolute difference, despeckled: uint8 [h, w]."""
    b, g, r = cv2.split(cv2.absdiff(frame, background))
    # Colour, not grey: clothing can match the background's brightness but rarely its colour.
    # (cv2.max, not np.max over the channel axis, which is ~25x slower.)
    diff = cv2.max(cv2.max(b, g), r)
    # A 3x3 median removes sensor and codec speckle without widening the body's edge, which a
    # Gaussian blur does (a pixel of halo costs several IoU points on a thin limb).
    return cv2.medianBlur(diff, 3)


def _fill_holes(mask: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Fill small background regions enclosed by `mask` (bool [h, w]) inside its `box`.

    Only holes up to HOLE_MAX_SHARE of the person's area: those are noise or clothing that
    matches the background; larger enclosed regions are real gaps (legs crossing, an arm
    touching the hip) that the true silhouette has too.
    """
    x0, y0, x1, y1 = (int(v) for v in box)
    crop = mask[y0:y1, x0:x1]
    padded = np.pad(~crop, 1).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(padded, connectivity=4)
    # Label 1.. are background regions; the one touching the padded border is the outside.
    outside = labels[0, 0]
    fill = stats[:, cv2.CC_STAT_AREA] <= HOLE_MAX_SHARE * crop.sum()
    fill[0] = False
    fill[outside] = False
    filled = mask.copy()
    filled[y0:y1, x0:x1] |= fill[labels[1:-1, 1:-1]]
    return filled


def _pick_person(
    diff: np.ndarray, weak: float, kernel: np.ndarray, prev_centroid: np.ndarray | None,
    min_blob: float, min_person: float, min_height: float,
) -> _Segment:
    """Foreground of one difference image uint8 [h, w] → the dominant moving component, with
    its detached parts merged back.

    Hysteresis: weak pixels, cleaned by open/close, count only in components that also hold
    a strong pixel, so faint noise blobs drop out while the person keeps its faint edges.
    """
    fg = cv2.threshold(diff, weak, 1, cv2.THRESH_BINARY)[1]
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, kernel)
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, kernel, iterations=CLOSE_ITERATIONS)
    none = _Segment(None, np.full(4, np.nan), None, cv2.countNonZero(fg) / fg.size, False)
    ox, oy, rw, rh = cv2.boundingRect(fg)  # label only where foreground is: much cheaper
    if rw == 0 or rh == 0:
        return none
    crop = fg[oy : oy + rh, ox : ox + rw]
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(crop, connectivity=8)
    stats[:, 0] += ox
    stats[:, 1] += oy
    centroids += (ox, oy)
    seeded = np.zeros(n, dtype=bool)
    seeded[labels[diff[oy : oy + rh, ox : ox + rw] > weak * STRONG_FACTOR]] = True
    area_of = stats[:, cv2.CC_STAT_AREA]
    comps = [i for i in range(1, n) if seeded[i] and area_of[i] >= min_blob]
    if not comps:
        return none
    comps.sort(key=lambda i: -area_of[i])
    main = comps[0]
    runner = comps[1] if len(comps) > 1 else 0
    if runner and prev_centroid is not None and area_of[runner] >= TIE_AREA_RATIO * area_of[main]:
        main = min(main, runner, key=lambda i: float(np.hypot(*(centroids[i] - prev_centroid))))
    x, y, w, h, area = stats[main]
    members = [main]
    second_person = False
    for i in comps:
        if i == main:
            continue
        cx, cy, cw, ch, carea = stats[i]
        overlap = min(x + w, cx + cw) - max(x, cx)
        gap = max(cy - (y + h), y - (cy + ch), 0)
        part = carea <= MERGE_MAX_AREA_RATIO * area and overlap >= MERGE_MIN_OVERLAP * cw
        if part and gap <= MERGE_MAX_GAP * h:
            members.append(i)
        elif carea >= max(SECOND_PERSON_AREA_RATIO * area, min_person):
            second_person = True
    member_stats = stats[members]
    x0, y0 = member_stats[:, 0].min(), member_stats[:, 1].min()
    x1 = (member_stats[:, 0] + member_stats[:, 2]).max()
    y1 = (member_stats[:, 1] + member_stats[:, 3]).max()
    if member_stats[:, 4].sum() < min_person or y1 - y0 < min_height:
        return none
    box = np.array([x0, y0, x1, y1], dtype=np.float64)
    member_lut = np.zeros(n, dtype=bool)
    member_lut[members] = True
    mask = np.zeros(fg.shape, dtype=bool)
    mask[oy : oy + rh, ox : ox + rw] = member_lut[labels]
    mask = _fill_holes(mask, box)
    return _Segment(mask, box, centroids[main].copy(), none.fg_share, second_person)


def _shrink(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Downscale [H, W, 3] → size (w, h): box-average by the whole factor, then bilinear.

    INTER_AREA at a non-integer factor is ~10x slower (it cost more than decoding); at an
    integer factor it is fast, and the bilinear remainder (under 2x) aliases little.
    """
    h, w = frame.shape[:2]
    if (w, h) == size:
        return frame
    whole = int(min(w / size[0], h / size[1]))
    if whole >= 2:
        frame = cv2.resize(frame, (w // whole, h // whole), interpolation=cv2.INTER_AREA)
    return cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR)


def _median(images: list[np.ndarray]) -> np.ndarray:
    """Per-pixel median of same-shape uint8 images (the upper one for an even count).

    A partial bubble sort by elementwise min/max: after pass p the p+1 largest values sit
    sorted at the top, so n - n//2 passes put the median at n//2. ~2.5x faster than np.median.
    """
    v = list(images)
    n, k = len(v), len(v) // 2
    for p in range(n - k):
        for i in range(n - 1 - p):
            v[i], v[i + 1] = cv2.min(v[i], v[i + 1]), cv2.max(v[i], v[i + 1])
    return v[k]


def _thresholds(samples: list[np.ndarray], background: np.ndarray) -> tuple[float, float]:
    """Weak threshold from the noise level, and the typical share of background samples that
    differ from the median (large when the camera moves)."""
    diffs = [_difference(s, background) for s in samples]
    # Every 4th pixel each way is plenty for a median and 16x cheaper.
    noise = float(np.median(np.stack([d[::4, ::4] for d in diffs])))
    weak = float(np.clip(NOISE_GAIN * noise + NOISE_FLOOR, *WEAK_THRESHOLD_RANGE))
    unstable = float(np.median([np.count_nonzero(d > weak) / d.size for d in diffs]))
    return weak, unstable


def extract_silhouettes(info: VideoInfo, indices: Sequence[int]) -> SilhouetteTrack:
    """Silhouettes (placed masks and RGB frames) of frames `indices` of a probed video.

    One call of `read_frames` fetches the background samples and the requested frames, each
    downscaled on arrival; nothing else is decoded beyond the last index needed.
    """
    indices = np.asarray(list(indices), dtype=np.int64).reshape(-1)
    scale = min(1.0, PROCESSING_LONG_SIDE / max(info.width, info.height))
    size = (max(1, round(info.width * scale)), max(1, round(info.height * scale)))
    n_samples = min(BACKGROUND_SAMPLES, info.n_frames)
    sample_idx = np.unique(np.linspace(0, info.n_frames - 1, n_samples).round().astype(int))

    wanted = sorted(set(sample_idx.tolist()) | set(indices.tolist()))
    # Every frame is downscaled on arrival: a 4K (or 8K) frame never outlives its decode.
    warnings: list[str] = []
    small = read_frames(info, wanted, lambda frame: _shrink(frame, size))
    if getattr(small, "damaged", False):
        warnings.append(WARN_DAMAGED)
    # Indices past the real end of a stream that over-reported its length are dropped, so the
    # track holds only frames that exist (callers drop clips that lost a frame).
    read = np.array([i in small for i in indices.tolist()], dtype=bool)
    if not read.all():
        warnings.append(WARN_MISSING_FRAMES)
        indices = indices[read]
    samples = [small[i] for i in sample_idx.tolist() if i in small]
    if not samples:  # probed fine, reads nothing: the file changed or broke since
        raise InputError(f"{info.path.name} could not be read; it may have changed or be damaged.")
    background = _median(samples)
    weak, unstable = _thresholds(samples, background)
    del samples
    for i in set(small) - set(indices.tolist()):  # background-only samples: done with
        del small[i]

    area = size[0] * size[1]
    # 5x5 at 270 rows: removes specks and seals seams, far thinner than an arm or a leg.
    radius = max(1, round(min(size) / 135))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    segments: dict[int, _Segment] = {}
    prev = None
    for i in sorted(set(indices.tolist())):
        segments[i] = seg = _pick_person(
            _difference(small[i], background), weak, kernel, prev, MIN_BLOB_SHARE * area,
            MIN_PERSON_SHARE * area, MIN_PERSON_HEIGHT_SHARE * size[1])
        prev = seg.centroid if seg.centroid is not None else prev

    k = len(indices)
    boxes = np.array([segments[i].box for i in indices.tolist()], dtype=np.float64).reshape(k, 4)
    found = np.isfinite(boxes[:, 0])
    framing_boxes = boxes if found.any() else np.tile([0.0, 0.0, size[0], size[1]], (k, 1))
    framing = framing_for_boxes(framing_boxes)

    masks = np.zeros((k, FRAME_SIZE, FRAME_SIZE), np.uint8)
    frames = np.zeros((k, FRAME_SIZE, FRAME_SIZE, 3), np.uint8)
    for j, i in enumerate(indices.tolist()):
        frames[j] = place(cv2.cvtColor(small[i], cv2.COLOR_BGR2RGB), framing, j)
        if found[j]:
            masks[j] = place(segments[i].mask, framing, j)

    seen = list(segments.values())
    with_person = [s for s in seen if s.mask is not None]
    big_fg = sum(s.fg_share > CAMERA_FG_SHARE for s in seen)
    camera_moves = big_fg >= max(1, CAMERA_FRAME_SHARE * len(seen))
    camera_moves = camera_moves or unstable > CAMERA_BACKGROUND_SHARE
    many = sum(s.second_person for s in with_person)
    # With a moving camera the extra blobs are background, not people: one warning says it.
    if not camera_moves and many >= 2 and many >= MULTI_PERSON_FRAME_SHARE * len(with_person):
        warnings.append(WARN_SEVERAL_PEOPLE)
    if camera_moves:
        warnings.append(WARN_CAMERA_MOVING)
    if k and (~found).sum() > NO_PERSON_FRAME_SHARE * k:
        warnings.append(WARN_NO_PERSON)
    return SilhouetteTrack(indices, masks, frames, boxes, found, framing, scale, warnings)
