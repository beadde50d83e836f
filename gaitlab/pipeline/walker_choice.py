"""Which person is the walker: people boxes from OpenCV's HOG detector, their tracks, crops.

MediaPipe Pose follows one person, whoever its detector likes best. `pipeline/pose.py` asks
this module who else is in view and where the walker should be looked for:

- `PeopleFinder` runs OpenCV's HOG people detector (`cv2.HOGDescriptor_getDefaultPeopleDetector`)
  on a downscaled frame and returns person boxes (normalised x0, y0, x1, y1 of the displayed
  frame) after non-maximum suppression;
- `Candidates` links the boxes of successive samples into tracks, tells which tracks move and
  scores them so that the large person moving across the frame wins;
- `body_geometry` and `crop_window` turn landmarks [33, 4] into a body centre and height and
  the square region Pose is run on when several people are in view.

Everything here works in displayed-frame coordinates: boxes normalised to its width/height,
distances in its pixels (so that "half a body height" means the same sideways and upwards).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from gaitlab.pipeline.landmarks import HIP, SHOULDER

# --- HOG people detector --------------------------------------------------------------------
# The default detector's window is 64×128 px with the person about 96 px tall in it: a person
# is found when they are at least that tall in the image HOG looks at.
HOG_PERSON_PX = 96
# Share of a HOG box's height the person's landmarks span (the window has a margin above and
# below): 0.55-0.6 measured on the people in vtest.avi (0.85 on the drawn demo figures).
HOG_PERSON_SHARE = 0.6
# Scale HOG's image so that people down to this share of the walker's height are found:
# someone much smaller than the walker (far behind) cannot be mistaken for them by Pose.
HOG_SMALLEST_PERSON = 0.7
# Until a walker is found, HOG looks for people down to this share of the frame height (the
# smallest walker GaitLab reads without a "too small" warning).
HOG_FLOOR_SHARE = 0.15
# HOG's image height stays in this range: below it HOG finds nobody the size of a walker in
# view; above it one pass costs over 100 ms. Small videos are enlarged to the lower bound.
HOG_MIN_HEIGHT, HOG_MAX_HEIGHT = 240, 720
# Pyramid step and SVM score: 1.1 is twice as fast as OpenCV's 1.05 and, measured on the demo
# videos and vtest.avi, finds the same people once boxes are merged; boxes scoring below
# 0.3 are mostly poles, trees and door frames.
HOG_SCALE, HOG_MIN_SCORE = 1.1, 0.3
# Two boxes are one person when they overlap by this IoU, or when this share of the smaller
# lies inside the larger (HOG often returns a person and a taller box around them).
NMS_IOU, NMS_INSIDE = 0.3, 0.6

# --- Tracks of people across HOG samples -----------------------------------------------------
# A box continues a track when its centre is within this many box heights of the track's
# last box (people move about 0.4 heights between samples half a second apart) and its
# height within this ratio.
MATCH_DISTANCE, MATCH_SIZE_RATIO = 0.8, 1.6
# A track unseen for this long is forgotten: the person left, or was a false detection.
TRACK_FORGET_S = 2.0
# A track moves when its centre has travelled this many box heights since first seen
# (HOG boxes jitter by about 0.1 heights from sample to sample).
MOVING_SHIFT = 0.3
# Score = height × (STILL_WEIGHT + horizontal speed in heights/s, at most FAST_SPEED):
# a person crossing at walking speed (~0.8 heights/s) outranks one standing even when
# standing closer (up to ~4× taller), and a glitchy fast track cannot win by speed alone.
STILL_WEIGHT, FAST_SPEED = 0.2, 1.5
# A box is the walker's own when it overlaps the walker's landmark box by this IoU or
# contains the walker's body centre.
SAME_PERSON_IOU = 0.2
# A pose found in a crop around a candidate is that candidate when its body centre lies in
# the candidate's box widened by this share of its height on each side (the person moved
# since the box was found), not someone next to them caught in the same crop.
ACQUIRE_MARGIN = 0.25

# --- Crops ------------------------------------------------------------------------------------
# With several people in view, Pose sees a square of this many body heights around the
# walker: the whole body with room for a step, little of anyone else.
CROP_HEIGHTS = 1.7
# A crop is never smaller than this many pixels on a side (Pose needs some context).
CROP_MIN_PX = 96


def body_geometry(landmarks: np.ndarray, width: int, height: int) -> tuple[np.ndarray, float]:
    """Body centre (mean of shoulders and hips) in pixels [2] and body height in pixels
    (vertical extent of all landmarks) of one pose [33, 4] normalised to a width×height frame."""
    xy = landmarks[:, :2].astype(np.float64) * (width, height)
    centre = xy[list(SHOULDER) + list(HIP)].mean(axis=0)
    return centre, float(np.ptp(xy[:, 1]))


def landmark_box(landmarks: np.ndarray) -> np.ndarray:
    """Normalised box [x0, y0, x1, y1] around a pose's landmarks [33, 4]."""
    xy = landmarks[:, :2].astype(np.float64)
    return np.concatenate([xy.min(axis=0), xy.max(axis=0)])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


def _inside_share(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the smaller box's area that lies inside the other."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(w * h / smaller)


def merge_boxes(boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Non-maximum suppression: boxes [K, 4] → the best-scoring box of each person [K', 4]."""
    kept: list[np.ndarray] = []
    for i in np.argsort(-scores):
        if all(_iou(boxes[i], k) < NMS_IOU and _inside_share(boxes[i], k) < NMS_INSIDE for k in kept):
            kept.append(boxes[i])
    return np.array(kept, dtype=np.float64).reshape(-1, 4)


class PeopleFinder:
    """OpenCV's HOG people detector on a downscaled frame."""

    def __init__(self) -> None:
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    @staticmethod
    def working_height(frame_height: int, walker_share: float | None) -> int:
        """HOG's image height: people of `HOG_SMALLEST_PERSON` × the walker's height (share of
        the frame; at least `HOG_FLOOR_SHARE`) reach `HOG_PERSON_PX`."""
        share = max(walker_share or HOG_FLOOR_SHARE, HOG_FLOOR_SHARE) * HOG_SMALLEST_PERSON
        wanted = int(np.ceil(HOG_PERSON_PX / share))
        return int(min(max(wanted, HOG_MIN_HEIGHT), HOG_MAX_HEIGHT))  # small videos are enlarged

    def find(self, frame: np.ndarray, work_height: int) -> np.ndarray:
        """Person boxes [K, 4] (normalised x0, y0, x1, y1) in a BGR frame [H, W, 3]."""
        h, w = frame.shape[:2]
        scale = work_height / h
        small = frame if scale == 1.0 else cv2.resize(
            frame, (max(1, round(w * scale)), work_height), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        sh, sw = small.shape[:2]
        if sh < 128 or sw < 64:
            return np.zeros((0, 4))
        rects, weights = self.hog.detectMultiScale(small, winStride=(8, 8), padding=(8, 8),
                                                   scale=HOG_SCALE)
        if len(rects) == 0:
            return np.zeros((0, 4))
        rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
        weights = np.asarray(weights, dtype=np.float64).ravel()
        keep = weights >= HOG_MIN_SCORE
        rects, weights = rects[keep], weights[keep]
        boxes = np.stack([rects[:, 0] / sw, rects[:, 1] / sh, (rects[:, 0] + rects[:, 2]) / sw,
                          (rects[:, 1] + rects[:, 3]) / sh], axis=1)
        return merge_boxes(np.clip(boxes, 0.0, 1.0), weights)


@dataclass
class Track:
    """One person's HOG boxes over time: `times` [n] s and `boxes` [n, 4] normalised."""

    id: int
    times: list[float] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)

    @property
    def box(self) -> np.ndarray:
        return self.boxes[-1]

    def centre_px(self, k: int, width: int, height: int) -> np.ndarray:
        b = self.boxes[k]
        return np.array([(b[0] + b[2]) / 2 * width, (b[1] + b[3]) / 2 * height])

    def height_px(self, height: int) -> float:
        """The person's height in pixels (median over the track; the box has a margin)."""
        return float(np.median([b[3] - b[1] for b in self.boxes])) * height * HOG_PERSON_SHARE

    def moving(self, width: int, height: int) -> bool:
        """True when the latest box lies far from some earlier one: the person has moved
        (the farthest earlier box, not the first: two people crossing may swap tracks)."""
        if len(self.boxes) < 2:
            return False
        last = self.centre_px(-1, width, height)
        shift = max(np.hypot(*(last - self.centre_px(k, width, height))) for k in range(len(self.boxes) - 1))
        return bool(shift >= MOVING_SHIFT * self.height_px(height) / HOG_PERSON_SHARE)

    def score(self, width: int, height: int) -> float:
        """Height share × (STILL_WEIGHT + horizontal speed in heights per second, capped)."""
        h = self.height_px(height)
        speed = 0.0
        if len(self.boxes) >= 2 and self.times[-1] > self.times[0] and h > 0:
            dx = abs(self.centre_px(-1, width, height)[0] - self.centre_px(0, width, height)[0])
            speed = dx / h / (self.times[-1] - self.times[0])
        return h / height * (STILL_WEIGHT + min(speed, FAST_SPEED))


class Candidates:
    """The people HOG saw, linked into tracks from sample to sample."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.tracks: list[Track] = []
        self.latest: list[Track] = []  # tracks seen in the latest sample
        self._next_id = 0

    def update(self, t: float, boxes: np.ndarray) -> None:
        """Add one sample's boxes [K, 4] seen at time `t` (s)."""
        self.tracks = [tr for tr in self.tracks if t - tr.times[-1] <= TRACK_FORGET_S]
        free = list(self.tracks)
        self.latest = []
        for box in sorted(boxes, key=lambda b: -(b[3] - b[1])):  # large first: they match best
            track = self._match(box, free)
            if track is None:
                track = Track(self._next_id)
                self._next_id += 1
                self.tracks.append(track)
            else:
                free.remove(track)
            track.times.append(t)
            track.boxes.append(np.asarray(box, dtype=np.float64))
            self.latest.append(track)

    def _match(self, box: np.ndarray, free: list[Track]) -> Track | None:
        bh = (box[3] - box[1]) * self.height
        centre = np.array([(box[0] + box[2]) / 2 * self.width, (box[1] + box[3]) / 2 * self.height])
        best, best_d = None, np.inf
        for track in free:
            th = (track.box[3] - track.box[1]) * self.height
            if not 1 / MATCH_SIZE_RATIO <= bh / max(th, 1e-9) <= MATCH_SIZE_RATIO:
                continue
            d = np.hypot(*(centre - track.centre_px(-1, self.width, self.height))) / max(th, 1e-9)
            if d <= MATCH_DISTANCE and d < best_d:
                best, best_d = track, d
        return best

    def contains(self, track: Track, centre: np.ndarray) -> bool:
        """True when a body centre (pixels) lies in `track`'s latest box, widened by
        `ACQUIRE_MARGIN` box heights."""
        b = track.box
        m = ACQUIRE_MARGIN * (b[3] - b[1]) * self.height
        x, y = centre
        return bool(b[0] * self.width - m <= x <= b[2] * self.width + m
                    and b[1] * self.height - m <= y <= b[3] * self.height + m)

    def is_walker(self, track: Track, walker_box: np.ndarray | None) -> bool:
        """True when `track`'s latest box is the walker's (landmark box `walker_box`)."""
        if walker_box is None:
            return False
        cx, cy = (walker_box[0] + walker_box[2]) / 2, (walker_box[1] + walker_box[3]) / 2
        b = track.box
        return _iou(b, walker_box) >= SAME_PERSON_IOU or (b[0] <= cx <= b[2] and b[1] <= cy <= b[3])

    def others(self, walker_box: np.ndarray | None, moving_only: bool = False) -> list[Track]:
        """People in the latest sample other than the walker (optionally only those moving)."""
        out = [tr for tr in self.latest if not self.is_walker(tr, walker_box)]
        if moving_only:
            out = [tr for tr in out if tr.moving(self.width, self.height)]
        return out

    def best(self, exclude: set[int] = frozenset()) -> Track | None:
        """The latest sample's best walker candidate: the large person moving across."""
        pool = [tr for tr in self.latest if tr.id not in exclude]
        return max(pool, key=lambda tr: tr.score(self.width, self.height), default=None)


def crop_window(centre: np.ndarray, body_px: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Pixel window (x0, y0, x1, y1) of a square `CROP_HEIGHTS` body heights around `centre`,
    shifted to lie inside the width×height frame (and cut where the frame is smaller)."""
    side = int(round(max(CROP_HEIGHTS * body_px, CROP_MIN_PX)))
    sw, sh = min(side, width), min(side, height)
    x0 = int(round(min(max(centre[0] - sw / 2, 0), width - sw)))
    y0 = int(round(min(max(centre[1] - sh / 2, 0), height - sh)))
    return x0, y0, x0 + sw, y0 + sh


def uncrop(landmarks: np.ndarray, window: tuple[int, int, int, int], width: int, height: int) -> np.ndarray:
    """Landmarks [33, 4] normalised to a crop → normalised to the whole width×height frame.

    z is in units of the image width in MediaPipe, so it scales with x.
    """
    x0, y0, x1, y1 = window
    out = landmarks.astype(np.float32, copy=True)
    out[:, 0] = (x0 + landmarks[:, 0] * (x1 - x0)) / width
    out[:, 1] = (y0 + landmarks[:, 1] * (y1 - y0)) / height
    out[:, 2] = landmarks[:, 2] * (x1 - x0) / width
    return out
