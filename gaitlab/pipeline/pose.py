"""Pose from video: everyone in view tracked through the clip, then the walker's landmarks.

    video ─► read_frames (pipeline/video.py, one streaming pass, rotation honoured), every
      │      `pose_stride`-th frame, shrunk to `POSE_MAX_SIDE` (`pose_input`)
      ▼
    per frame: PeopleDetector (pose_models.py: MediaPipe's PoseLandmarker, several people)
      │        + CameraMotion (camera.py: does the background stand still?)
      ▼
    after the last frame: TrackLinker → tracks → describe_people → choose_walker (people.py)
      ▼
    PeopleScan: every track, the frames, the camera  ──► `PeopleScan.walker(person)`:
    PoseTrack: the chosen person's landmarks float32 [T, 33, 4] (NaN rows: not in view), the
    people list, the chosen id, plain warnings for the clinician

`track_walker(info, person=None)` does both steps. `write_pose_csv` writes the shared data's
raw CSV layout, which `pipeline/keypoints.load_keypoint_csv` reads; `read_pose_times`
recovers its times. The model files and their checks live in `pose_models.py` (re-exported
here: `check_pose_models`, `pose_factory`, `native_logs_silenced`).

Speed, measured on 2 shared CPU cores on `walker_alone.mp4` shrunk to 640×360: the
landmarker follows one person in about 18 ms a frame (the single-person Pose: 18.6 ms) and two
in about 32 ms. Frames are analysed at most `DEFAULT_MAX_RATE` per second (`pose_stride`) and
shrunk to `POSE_MAX_SIDE` first (`pose_input`; the figures behind both are at the constants).
`gaitlab bench` times the whole against a bare decode + single-person Pose pass.
"""
from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from gaitlab.constants import CLIP_SECONDS, NUM_LANDMARKS
from gaitlab.errors import InputError
from gaitlab.pipeline.camera import CameraMotion
from gaitlab.pipeline.keypoints import LANDMARK_COLUMNS
from gaitlab.pipeline.landmarks import HIP, KNEE, SHOULDER
from gaitlab.pipeline.people import (
    MIN_BODY_SHARE, Person, PersonTrack, TrackLinker, choose_walker, describe_people, no_walk_reason,
)
from gaitlab.pipeline.pose_models import (  # noqa: F401  (re-exported: the pose API in one place)
    MEDIAPIPE_VERSION, POSE_MODEL_FILES, PeopleDetector, check_pose_models, native_logs_silenced,
    pose_box, pose_factory,
)
from gaitlab.pipeline.video import WARN_DAMAGED, VideoInfo, read_frames

# --- Rate and size --------------------------------------------------------------------------
# Frames analysed per second at most (README, "Pose rate"). On three synthetic 5-s 640×360
# 60 fps walks, pose at 30/s agreed with pose on every frame within 1.0-1.3% of the body height
# (median, interpolated to every frame; knee angle 3-4°), with the same detections and the same
# error against the true landmarks (0.038-0.042 body heights), for half the Pose calls; 15/s
# drifts further (1.3-1.7%, 4-5°) and coarsens heel-strike timing to 67 ms.
DEFAULT_MAX_RATE = 30.0
# Frames longer than this are shrunk before Pose (its networks see 224/256 px anyway):
# on a 1920×1080 walker video it cut the time from 36 to 28 ms per frame (decoding
# included), with every frame detected both ways and the same landmark error (0.0055-0.0058).
POSE_MAX_SIDE = 960
# Shrinking to this scale or less averages areas (bilinear would alias); a milder shrink is
# bilinear: OpenCV's area resize is slow at non-integer factors (1280×720 → 960×540 took
# 14.5 ms against 3.2 ms bilinear on these cores, a third of a Pose call).
AREA_MAX_SCALE = 0.5
# --- Warnings -------------------------------------------------------------------------------
MIN_DETECTED_SHARE = 0.5  # below: the walker was missing most of the time
MIN_VISIBILITY = 0.5  # median leg visibility below this: MediaPipe mostly guessed the legs
MAX_OUTSIDE_SHARE = 0.10  # frames with landmarks outside the picture above this: body cut off
# Legs too short for the body: MediaPipe can fit a whole skeleton into what it sees of someone
# cut off at the knees instead of placing the feet outside the picture. The thigh's vertical
# extent (hip to knee) is 0.58-0.78 of the trunk's (shoulder to hip) in the 216 real walks of
# the training data (median 0.69; 0.70-0.78 on the synthetic walker's videos); with the knees
# at the bottom edge of the picture it came out at 0.46-0.50.
MIN_THIGH_TRUNK = 0.55
# Someone else in view for at least this long: several people (a glimpse is not).
SEVERAL_MIN_S = 1.0
# The hips travel less than this many body heights sideways: no forward progression
# (one gait cycle alone moves them about 1.5 heights).
MIN_PROGRESSION_HEIGHTS = 1.0
# Body height changing by this factor between the first and last quarter of the walk, with
# little sideways travel: the person walks towards or away from the camera.
DEPTH_HEIGHT_RATIO = 1.25
# Camera motion (measured by camera.CameraMotion): the camera moves when in most
# analysed frame pairs under CAMERA_STILL_SHARE of the background corners stood still.
CAMERA_STILL_SHARE = 0.05
CAMERA_MIN_VALID = 0.3  # the share of frame pairs with enough corners needed for a verdict

WARN_NO_WALKER = ("No walking person was found in most of the video (only in {share:.0%} of "
                  "the frames analysed); check that the whole body is in view and well lit.")
WARN_SEVERAL_PEOPLE = ("Several people are in view ({n}). GaitLab analysed person {chosen}, the one who "
                       "walks most like a walker; check the people found and pick another if that "
                       "is the wrong person (--person ID, or the people shown on the Analyse page).")
WARN_OTHERS_SMALL = ("{n} other {people} in view {are} too small to read (under {share:.0%} of "
                     "the picture's height) and {were} not considered.")
WARN_TOO_SMALL = ("The walker is small in the picture ({share:.0%} of its height); film closer "
                  "so that the whole body fills more of the picture height.")
WARN_LOW_VISIBILITY = ("The legs are hard to make out in most frames (poor light, loose "
                       "clothing or something in the way), so their positions are partly guessed.")
WARN_LEAVES_FRAME = ("The walker is partly outside the picture in {share:.0%} of the frames "
                     "(feet, head or a side cut off); keep the whole body in view.")
WARN_LEGS_CUT = ("The legs look too short for the body, so they are probably cut off at the "
                 "bottom of the picture (or hidden) and their positions guessed; keep the whole "
                 "body, feet included, in view.")
WARN_CAMERA_MOTION = ("The camera moves (panning or shaking), which looks like body movement; "
                      "film with a fixed camera.")
WARN_DEPTH_WALK = ("The person walks towards or away from the camera; gait is measured best "
                   "from the side, with the person crossing the view.")
WARN_SHORT_WALK = ("The walk in view lasts {seconds:.1f} s, shorter than one gait cycle "
                   f"(about {CLIP_SECONDS:g} s); record several steps.")
WARN_NO_PROGRESSION = ("The person does not walk forward: the hips move less than one body "
                       "height over the video (standing, stepping on the spot or turning).")


# --- Rate and size -----------------------------------------------------------------------------


def pose_stride(fps: float, max_rate: float | None = None) -> int:
    """Every how many source frames Pose runs: 1 up to `max_rate` frames per second (default
    `DEFAULT_MAX_RATE`), then the smallest step that brings the rate under it (60 fps → 2)."""
    cap = DEFAULT_MAX_RATE if max_rate is None else float(max_rate)
    if not cap > 0:
        raise ValueError(f"max_rate must be positive, not {max_rate!r}")
    return max(1, math.ceil(fps / cap - 1e-9))


def pose_input(frame: np.ndarray) -> np.ndarray:
    """A decoded frame [H, W, 3] as Pose gets it: shrunk to `POSE_MAX_SIDE` on its long side
    when larger (Pose's own networks see 224-256 px), otherwise the same array."""
    h, w = frame.shape[:2]
    if max(h, w) <= POSE_MAX_SIDE:
        return frame
    s = POSE_MAX_SIDE / max(h, w)
    how = cv2.INTER_AREA if s <= AREA_MAX_SCALE else cv2.INTER_LINEAR
    return cv2.resize(frame, (round(w * s), round(h * s)), interpolation=how)


# --- The track ------------------------------------------------------------------------------


@dataclass
class PoseTrack:
    """The walker's landmarks: `landmarks` float32 [T, 33, 4] (x, y normalised to the displayed
    frame `width`×`height`; z; visibility; a whole row NaN where the walker is not in view),
    `frame_indices` int [T] (source frame of each row), `times_s` float [T], the video's `fps`,
    plain `warnings` for the clinician, everyone found (`people`, `people.Person`), the id of the
    person whose landmarks these are (`person`; None: nobody found) and, when that person does
    not walk, why (`no_walk`)."""

    landmarks: np.ndarray
    frame_indices: np.ndarray
    times_s: np.ndarray
    fps: float
    width: int
    height: int
    warnings: list[str] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    person: int | None = None
    no_walk: str | None = None

    @property
    def detected(self) -> np.ndarray:
        """bool [T]: rows with a walker."""
        return np.isfinite(self.landmarks[..., :2]).all(axis=(1, 2))

    @property
    def detected_share(self) -> float:
        return float(self.detected.mean()) if len(self.landmarks) else 0.0

    def people_summary(self) -> dict:
        """Who was found and who is analysed, JSON-ready (`gaitlab people --json`)."""
        return {"person": self.person, "people": [p.to_dict() for p in self.people], "no_walk": self.no_walk,
                "warnings": list(self.warnings)}


@dataclass
class PeopleScan:
    """Everyone tracked through a video (`track_people`): `tracks` (`people.PersonTrack`),
    `people` (their descriptions, `people.Person`), the analysed `frame_indices` and
    `times_s` [T], and what the stream told (`still`: background stillness per frame pair,
    `n_read` frames read, `damaged`)."""

    tracks: list[PersonTrack]
    people: list[Person]
    frame_indices: np.ndarray
    times_s: np.ndarray
    fps: float
    rate: float
    width: int
    height: int
    still: list[float]
    n_read: int
    damaged: bool = False

    def walker(self, person: int | None = None) -> PoseTrack:
        """The landmarks of `person` (an id of `people`; default: `people.choose_walker`) as a
        `PoseTrack`. Raises `InputError` for an id that was not found."""
        if person is not None and person not in {p.id for p in self.people}:
            found = ", ".join(str(p.id) for p in self.people) or "nobody"
            raise InputError(f"There is no person {person} in this video; people found: {found} "
                             "(list them with: gaitlab people VIDEO).")
        chosen = choose_walker(self.people) if person is None else int(person)
        people = [replace(p, chosen=p.id == chosen) for p in self.people]
        n = len(self.frame_indices)
        track = next((t for t in self.tracks if t.id == chosen), None)
        landmarks = track.landmarks(n) if track else np.full((n, NUM_LANDMARKS, 4), np.nan, np.float32)
        out = PoseTrack(landmarks, self.frame_indices, self.times_s, self.fps, self.width, self.height,
                        people=people, person=chosen, no_walk=no_walk_reason(people, chosen))
        out.warnings = _warnings_for(out, self.still, self.n_read, self.rate)
        if self.damaged:
            out.warnings.append(WARN_DAMAGED)
        return out


def track_people(info: VideoInfo, progress: Callable[[float, str], None] | None = None,
                 max_rate: float | None = None) -> PeopleScan:
    """Everyone in a probed video (`probe_video`), tracked through the whole clip.

    Every frame is analysed up to `max_rate` per second (default `DEFAULT_MAX_RATE`); faster
    video is subsampled evenly. `progress(fraction, text)` is called as frames go by. Raises
    `WeightsError` when MediaPipe or its models are not as expected; a video without a person
    gives no tracks, never an error. Memory: the poses found (a few kB a frame), no frames.
    """
    stride = pose_stride(info.fps, max_rate)
    wanted = list(range(0, info.n_frames, stride))
    every = max(1, len(wanted) // 100)
    rate = info.fps / stride
    camera = CameraMotion()
    calls = [0]

    def analyse(index: int, frame: np.ndarray) -> float | None:
        small = pose_input(frame)
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        row = index // stride
        poses = detector.step(rgb)
        linker.update(row, poses)
        lost = linker.lost(row)  # everyone else: looked for where they should be
        shrink = small.shape[1] / info.width  # the linker measures in displayed pixels
        for track, centre in lost:
            detector.look_around(rgb, centre * shrink, track.body * shrink, key=track.id,
                                 accept=lambda pose, t=track, c=centre: linker.extend(t, row, pose, c))
        detector.forget({track.id for track, _ in lost})
        still = camera.step(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), [pose_box(p) for p in poses])
        calls[0] += 1
        if progress is not None and calls[0] % every == 0:
            progress(min(calls[0] / len(wanted), 1.0),
                     f"Finding the people in view: frame {calls[0]} of {len(wanted)}")
        return still

    linker = TrackLinker(info.width, info.height, rate)
    # Silenced from loading MediaPipe until its graphs are closed: its threads log late.
    with native_logs_silenced(), PeopleDetector(rate) as detector:
        frames = read_frames(info, wanted, analyse, with_index=True)
    last = max(frames, default=-1)
    rows = [i for i in wanted if i <= last]  # undecodable frames stay as rows without anyone
    tracks = linker.tracks()
    indices = np.array(rows, dtype=np.int64)
    people = describe_people(tracks, indices, rate, info.width, info.height)
    still = [frames[i] for i in rows if i in frames and frames[i] is not None]
    if progress is not None:
        progress(1.0, f"{len(people)} {'person' if len(people) == 1 else 'people'} found")
    return PeopleScan(tracks, people, indices, indices / info.fps, float(info.fps), rate, info.width,
                      info.height, still, len(frames), frames.damaged)


def track_walker(info: VideoInfo, progress: Callable[[float, str], None] | None = None,
                 max_rate: float | None = None, person: int | None = None) -> PoseTrack:
    """The walker's landmarks in a probed video: `track_people`, then the person who walks
    most like a walker (or `person`, an id from `track_people(...).people`)."""
    return track_people(info, progress, max_rate).walker(person)


def _warnings_for(track: PoseTrack, still: list[float], n_read: int, rate: float) -> list[str]:
    """Plain-language warnings about what the track can tell (see the WARN_ constants)."""
    out: list[str] = []
    ok = track.detected
    share = track.detected_share
    if share < MIN_DETECTED_SHARE:
        out.append(WARN_NO_WALKER.format(share=share))
    readable = [p for p in track.people if p.body_share >= MIN_BODY_SHARE or p.id == track.person]
    several = [p for p in readable if p.seconds >= SEVERAL_MIN_S or p.id == track.person]
    if len(several) >= 2:
        out.append(WARN_SEVERAL_PEOPLE.format(n=len(several), chosen=track.person))
    small = len(track.people) - len(readable)
    if small:
        out.append(WARN_OTHERS_SMALL.format(n=small, people="person" if small == 1 else "people",
                                            are="is" if small == 1 else "are",
                                            were="was" if small == 1 else "were", share=MIN_BODY_SHARE))
    camera_moves = (n_read > 1 and len(still) >= CAMERA_MIN_VALID * (n_read - 1)
                    and float(np.median(still)) < CAMERA_STILL_SHARE)
    if camera_moves:
        out.append(WARN_CAMERA_MOTION)
    if ok.sum() < 3:
        return out
    lm = track.landmarks[ok].astype(np.float64)
    px = lm[..., :2] * (track.width, track.height)
    body = np.ptp(px[..., 1], axis=1)  # [n] body height, pixels
    median_body = float(np.median(body))
    if median_body < MIN_BODY_SHARE * track.height:
        out.append(WARN_TOO_SMALL.format(share=median_body / track.height))
    if float(np.median(lm[:, HIP[0]:, 3].mean(axis=1))) < MIN_VISIBILITY:
        out.append(WARN_LOW_VISIBILITY)
    trunk = lm[:, list(HIP), 1].mean(axis=1) - lm[:, list(SHOULDER), 1].mean(axis=1)
    thigh = lm[:, list(KNEE), 1].mean(axis=1) - lm[:, list(HIP), 1].mean(axis=1)
    upright = trunk > 0  # shares of the trunk mean nothing for someone lying or upside down
    if upright.sum() >= 3 and float(np.median(thigh[upright] / trunk[upright])) < MIN_THIGH_TRUNK:
        out.append(WARN_LEGS_CUT)
    outside = ((lm[..., :2] < 0) | (lm[..., :2] > 1)).any(axis=(1, 2)).mean()
    if outside > MAX_OUTSIDE_SHARE:
        out.append(WARN_LEAVES_FRAME.format(share=outside))
    times = track.times_s[ok]
    span = float(times[-1] - times[0]) + 1.0 / rate
    if span < CLIP_SECONDS:
        out.append(WARN_SHORT_WALK.format(seconds=span))
    if span < CLIP_SECONDS or camera_moves:  # too short, or image travel is not walking
        return out
    hips_x = px[:, list(HIP), 0].mean(axis=1)
    travel = float(np.percentile(hips_x, 95) - np.percentile(hips_x, 5))
    quarter = max(1, len(body) // 4)
    ratio = float(np.median(body[-quarter:]) / max(np.median(body[:quarter]), 1e-9))
    if travel < MIN_PROGRESSION_HEIGHTS * median_body:
        if max(ratio, 1 / max(ratio, 1e-9)) >= DEPTH_HEIGHT_RATIO:
            out.append(WARN_DEPTH_WALK)
        else:
            out.append(WARN_NO_PROGRESSION)
    return out


# --- CSV --------------------------------------------------------------------------------------


def write_pose_csv(track: PoseTrack, path: str | os.PathLike) -> Path:
    """Write the track in the shared data's raw CSV layout (`keypoints_csv_text`)."""
    path = Path(path)
    path.write_text(keypoints_csv_text(track.landmarks, track.frame_indices, track.times_s), encoding="utf-8")
    return path


def keypoints_csv_text(landmarks: np.ndarray, frames, times=None) -> str:
    """A landmark sequence [T, 33, 4] as CSV text in the shared data's raw layout:
    `x_0,y_0,z_0,v_0,…,v_32`, then `frame` (source frame numbers [T]) and `time_s` ([T] seconds,
    blank when unknown); empty landmark cells where no walker. Values keep 9 significant
    digits, so they read back to the same float32."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(LANDMARK_COLUMNS) + ["frame", "time_s"])
    flat = np.asarray(landmarks, dtype=np.float32).reshape(len(landmarks), -1)
    times = [None] * len(flat) if times is None else times
    for row, frame, t in zip(flat, frames, times):
        cells = [f"{float(v):.9g}" if math.isfinite(v) else "" for v in row]
        writer.writerow(cells + [int(frame), "" if t is None else repr(float(t))])  # exact: the rate comes back
    return out.getvalue()


def read_pose_times(path: str | os.PathLike) -> np.ndarray | None:
    """The `time_s` column of a pose CSV as float [T] (NaN where blank), None when absent."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = (row for row in csv.reader(f) if row)
        header = next(rows, None)
        names = [c.strip().lower() for c in header or []]
        if "time_s" not in names:
            return None
        col = names.index("time_s")
        times = []
        for row in rows:
            cell = row[col].strip() if col < len(row) else ""
            try:
                times.append(float(cell) if cell else math.nan)
            except ValueError:
                times.append(math.nan)
    return np.array(times, dtype=np.float64)


__all__ = ["MEDIAPIPE_VERSION", "POSE_MODEL_FILES", "PeopleScan", "PoseTrack", "check_pose_models",
           "keypoints_csv_text", "native_logs_silenced", "pose_factory", "pose_input", "pose_stride",
           "read_pose_times", "track_people", "track_walker", "write_pose_csv"]
