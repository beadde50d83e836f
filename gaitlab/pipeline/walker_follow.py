"""Keeping MediaPipe Pose on the walker, frame by frame (used by `pipeline/pose.py`).

MediaPipe Pose follows one person, whoever its detector finds first. `Follower.step` takes
each analysed frame (displayed BGR, in order) and returns the walker's landmarks [33, 4]:

- alone in view, Pose runs on the whole frame in tracking mode, as MediaPipe is meant to;
- every `HOG_INTERVAL_S` OpenCV's HOG people detector (`walker_choice.PeopleFinder`) looks
  for people; while anyone else is in view, or for `CROWD_HOLD_S` after the body jumped,
  Pose runs on a square crop around the walker (`walker_choice.crop_window`), so someone
  else cannot take over; with nobody followed yet, the crop goes to the best candidate (the
  large person moving across) and what Pose finds there must be that candidate;
- a body centre that moves more than `JUMP_HEIGHTS` body heights (plus a fast walk since the
  last detection) is another person or a glitch: it is dropped and the crop tracker restarts
  around the walker's last position; after `LOST_AFTER_S` without a detection the walker is
  lost and the next person found is taken;
- a followed person who stands still gives way to someone clearly walking (`SWITCH_*`).

Each step also measures how much of the background stood still (sparse optical flow), for
the camera-motion warning.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from gaitlab.pipeline.walker_choice import (
    FAST_SPEED, STILL_WEIGHT, Candidates, PeopleFinder, body_geometry, crop_window, landmark_box,
    uncrop,
)

# People search every this many seconds: a walker crosses about 0.4 body heights meanwhile.
HOG_INTERVAL_S = 0.5
# A body centre moving more than this many body heights between consecutive analysed frames
# is not the same person walking (walking moves it ~0.03 heights per frame at 30 fps)...
JUMP_HEIGHTS = 0.5
# ...plus this many heights per second since the last detection (a fast walk, 1.5 heights/s).
FAST_HEIGHTS_PER_S = 1.5
# Without a detection for this long the walker is lost and any person found next is taken.
LOST_AFTER_S = 0.5
# Crop around the walker for this long after anyone else was seen or the body jumped.
CROWD_HOLD_S = 1.0
# Another, moving person replaces a followed person who moves (in any direction) slower than
# SWITCH_SPEED body heights/s (a slow walk is ~0.5) and scores (walker_choice.Track.score)
# SWITCH_RATIO times lower: a standing companion found first gives way to the person walking;
# a walker is never dropped for someone else walking.
SWITCH_SPEED, SWITCH_RATIO = 0.3, 2.0
# The followed person's speed is measured over the last SPEED_WINDOW_S, once it spans at least
# SPEED_MIN_SPAN_S (about one step: a shorter span measures sway, not walking).
SPEED_WINDOW_S, SPEED_MIN_SPAN_S = 1.0, 0.5
# Camera motion, from sparse optical flow between analysed frames FLOW_WIDTH px wide (about
# 1 ms a frame), people masked out: a corner is still when it moves < FLOW_STILL_PX. With a
# fixed camera 16-80% of corners are still (demo videos, vtest.avi), even where the plain
# background leaves mostly corners on people; panning by 0.3 frame widths in 4 s or shaking
# leaves 0-4% (pose.py's CAMERA_STILL_SHARE decides).
FLOW_WIDTH, FLOW_STILL_PX = 160, 0.15
FLOW_MIN_POINTS = 12  # fewer trackable corners (a plain wall, darkness) tell nothing


@dataclass
class FrameResult:
    """What the streaming pass keeps of one frame."""

    landmarks: np.ndarray | None  # float32 [33, 4]
    moving_others: int | None  # people other than the walker moving (None: no search here)
    still: float | None  # share of background corners that stood still (None: unclear)


class Follower:
    """Runs Pose frame by frame and keeps it on the walker (see the module docstring).

    `make_pose()` makes a MediaPipe Pose object (tracking mode); `rate` is analysed frames
    per second. Call `step` with each analysed frame in order, then `close`.
    """

    def __init__(self, make_pose: Callable[[], object], rate: float):
        self.make_pose, self.rate = make_pose, rate
        self.full = make_pose()  # Pose on the whole frame
        self.crop = None  # Pose on a crop, made per target
        self.crop_key: object = None
        self.finder = PeopleFinder()
        self.cands: Candidates | None = None
        self.calls = 0
        self.hog_every = max(1, round(HOG_INTERVAL_S * rate))
        self.lost_after = max(1, math.ceil(LOST_AFTER_S * rate))
        self.last: tuple[float, np.ndarray, float, np.ndarray] | None = None  # t, centre, body, lm
        self.history: list[tuple[float, np.ndarray, float]] = []  # t, centre, body px
        self.missed = 0
        self.crowd_until = -1.0
        self.target: int | None = None  # HOG track to acquire when nobody is followed
        self.failed: set[int] = set()
        self.acquiring, self.tries = False, 0  # cropping to a candidate; misses there
        self.prev_grey: np.ndarray | None = None

    def close(self) -> None:
        for pose in (self.full, self.crop):
            if pose is not None:
                pose.close()

    def _run(self, pose, rgb: np.ndarray) -> np.ndarray | None:
        result = pose.process(np.ascontiguousarray(rgb))
        if result.pose_landmarks is None:
            return None
        return np.array([(p.x, p.y, p.z, p.visibility) for p in result.pose_landmarks.landmark],
                        dtype=np.float32)

    def _crop_pose(self, key: object):
        if self.crop is None or key != self.crop_key:
            if self.crop is not None:
                self.crop.close()
            self.crop, self.crop_key = self.make_pose(), key
        return self.crop

    def _walker_box(self) -> np.ndarray | None:
        return landmark_box(self.last[3]) if self.last is not None else None

    def _search(self, frame: np.ndarray, t: float) -> int:
        """HOG people search on the colour frame (grey loses people whose clothes match the
        background's brightness): update candidates, the crowd state and maybe the target."""
        h, w = frame.shape[:2]
        share = self.last[2] / h if self.last is not None else None
        boxes = self.finder.find(frame, self.finder.working_height(h, share))
        self.cands.update(t, boxes)
        walker = self._walker_box()
        others = self.cands.others(walker)
        if len(others) >= (1 if walker is not None else 2):
            self.crowd_until = t + CROWD_HOLD_S
        moving = self.cands.others(walker, moving_only=True)
        if walker is None:
            return max(0, len(moving) - 1)
        hist = [x for x in self.history if x[0] >= t - SPEED_WINDOW_S]
        if moving and len(hist) >= 2 and hist[-1][0] - hist[0][0] >= SPEED_MIN_SPAN_S:
            body = float(np.median([b for _, _, b in hist]))
            travel = np.hypot(*(hist[-1][1] - hist[0][1]))  # any direction: walking at all
            speed = travel / body / (hist[-1][0] - hist[0][0])
            mine = body / h * (STILL_WEIGHT + min(speed, FAST_SPEED))
            rival = max(moving, key=lambda tr: tr.score(w, h))
            if speed < SWITCH_SPEED and rival.score(w, h) > SWITCH_RATIO * mine:
                self.last, self.history, self.target = None, [], rival.id
                self.crowd_until = t + CROWD_HOLD_S
        # Someone else seen in two samples or more counts even when HOG's boxes barely move
        # (a small or partly hidden person, or two walkers crossing who swap tracks).
        return len([tr for tr in others if tr in moving or len(tr.boxes) >= 2])

    def _look(self, rgb: np.ndarray, t: float, crowded: bool) -> np.ndarray | None:
        """Landmarks [33, 4] of whoever Pose finds where the walker should be, or None."""
        h, w = rgb.shape[:2]
        self.acquiring = False
        if not crowded:
            if self.crop_key is not None:  # back from crops: the full-frame tracker is stale
                self.full.close()
                self.full, self.crop_key = self.make_pose(), None
            return self._run(self.full, rgb)
        if self.last is not None:
            centre, body = self.last[1], self.last[2]
        else:  # nobody followed: the chosen candidate (a switch's rival) or the best one
            seen = {tr.id: tr for tr in self.cands.latest if tr.id not in self.failed}
            track = seen.get(self.target) or self.cands.best(self.failed)
            if track is None:
                return self._run(self.full, rgb)
            if track.id != self.target:
                self.target, self.tries = track.id, 0
            b = track.box
            centre = np.array([(b[0] + b[2]) / 2 * w, (b[1] + b[3]) / 2 * h])
            body, self.acquiring = track.height_px(h), True
        window = crop_window(centre, body, w, h)
        pose = self._crop_pose(("target", self.target))
        found = self._run(pose, rgb[window[1]:window[3], window[0]:window[2]])
        if found is None:
            return None
        found = uncrop(found, window, w, h)
        if self.acquiring and not self.cands.contains(track, body_geometry(found, w, h)[0]):
            self.crop_key = object()  # someone beside the candidate: look afresh next time
            return None
        return found

    def step(self, frame: np.ndarray) -> FrameResult:
        """One displayed BGR frame [H, W, 3] → what is kept of it."""
        t = self.calls / self.rate
        self.calls += 1
        h, w = frame.shape[:2]
        if self.cands is None:
            self.cands = Candidates(w, h)
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        still = self._still_share(grey)
        moving_others = self._search(frame, t) if (self.calls - 1) % self.hog_every == 0 else None
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        found = self._look(rgb, t, t <= self.crowd_until)
        if found is not None and self.last is not None:
            centre, body = body_geometry(found, w, h)
            # Heights of the larger body: a degenerate pose (a few landmarks bunched at the
            # feet) must not stop the whole body near it from taking over.
            allowed = (JUMP_HEIGHTS + FAST_HEIGHTS_PER_S * (t - self.last[0])) * max(self.last[2], body)
            if np.hypot(*(centre - self.last[1])) > allowed:  # someone else, or a glitch
                self.crowd_until = t + CROWD_HOLD_S
                self.crop_key = object()  # the next crop starts with a fresh tracker
                found = None
        if found is None:
            self.missed += 1
            if self.acquiring:
                self.tries += 1
                if self.tries > self.lost_after:  # this candidate gives no pose: try another
                    self.failed.add(self.target)
                    self.target = None
            if self.missed > self.lost_after:
                self.last, self.history = None, []
            return FrameResult(None, moving_others, still)
        centre, body = body_geometry(found, w, h)
        self.last, self.missed = (t, centre, body, found), 0
        self.history = [x for x in self.history if x[0] >= t - SPEED_WINDOW_S] + [(t, centre, body)]
        return FrameResult(found, moving_others, still)

    def _still_share(self, grey: np.ndarray) -> float | None:
        """Share of corners (people masked out) that stood still since the previous analysed
        frame, by sparse optical flow on a small frame; None when there are too few."""
        h, w = grey.shape
        small = cv2.resize(grey, (FLOW_WIDTH, max(16, round(FLOW_WIDTH * h / w))),
                           interpolation=cv2.INTER_AREA)
        prev, self.prev_grey = self.prev_grey, small
        if prev is None or prev.shape != small.shape:
            return None
        sh, sw = small.shape
        mask = np.full(small.shape, 255, np.uint8)
        boxes = [tr.box for tr in self.cands.latest]
        if self.last is not None:
            boxes.append(self._walker_box())
        for b in boxes:  # people's own motion is not the camera's
            x0, y0, x1, y1 = (np.asarray(b) + (-0.05, -0.05, 0.05, 0.05)) * (sw, sh, sw, sh)
            mask[max(int(y0), 0):max(int(math.ceil(y1)), 0), max(int(x0), 0):max(int(math.ceil(x1)), 0)] = 0
        points = cv2.goodFeaturesToTrack(prev, 100, 0.01, 4, mask=mask)
        if points is None or len(points) < FLOW_MIN_POINTS:
            return None
        moved, status, _ = cv2.calcOpticalFlowPyrLK(prev, small, points, None)
        ok = status.ravel() == 1
        if ok.sum() < FLOW_MIN_POINTS:
            return None
        flow = (moved - points).reshape(-1, 2)[ok]
        return float(np.mean(np.hypot(flow[:, 0], flow[:, 1]) < FLOW_STILL_PX))
