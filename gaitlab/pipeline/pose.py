"""MediaPipe Pose: a video → the walker's landmark sequence float32 [T, 33, 4], with warnings.

`track_walker` streams the video once (`pipeline/video.read_frames`, rotation honoured) and
runs MediaPipe Pose (tracking mode, `model_complexity=1`, RGB input, the models bundled in
the mediapipe wheel; complexities 0 and 2 would download models) on each analysed frame,
keeping only the 33 landmarks. `pipeline/walker_follow.py` keeps Pose on the walker (people
search with HOG, crops when others are in view, dropped jumps); `pipeline/walker_choice.py`
holds the people detector and who counts as the walker. `check_pose_models` verifies the
mediapipe version and its model files first. `write_pose_csv` writes the shared data's raw
CSV layout, which `pipeline/keypoints.load_keypoint_csv` reads; `read_pose_times` recovers
its times.

Speed, measured on 2 shared CPU cores: 24-31 ms per frame on the 480×270 demo videos (Pose
~20 ms, the people search every half second 25-70 ms); ~45 ms per frame on the 768×576
vtest.avi at 10 fps, where the people search runs every 5th frame at full size. Frames are
analysed at most `DEFAULT_MAX_RATE` per second (`pose_stride`) and shrunk to `POSE_MAX_SIDE`
first (`pose_input`; the figures behind both are at the constants). `gaitlab bench` times the
whole against a bare decode + Pose pass over the same frames (`pose_factory`,
`native_logs_silenced`).
"""
from __future__ import annotations

import contextlib
import csv
import io
import functools
import importlib.metadata
import importlib.util
import math
import os
import sys
import threading
import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from gaitlab.constants import CLIP_SECONDS, NUM_LANDMARKS
from gaitlab.files import sha256_file
from gaitlab.errors import WeightsError
from gaitlab.pipeline.keypoints import LANDMARK_COLUMNS
from gaitlab.pipeline.landmarks import HIP, KNEE, SHOULDER
from gaitlab.pipeline.video import WARN_DAMAGED, VideoInfo, read_frames
from gaitlab.pipeline.walker_follow import Follower, FrameResult

MEDIAPIPE_VERSION = "0.10.14"
# Files of the mediapipe package that Pose (model_complexity=1) runs, with their SHA-256.
POSE_MODEL_FILES: dict[str, str] = {
    "modules/pose_detection/pose_detection.tflite":
        "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    "modules/pose_landmark/pose_landmark_full.tflite":
        "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
}

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
MIN_BODY_SHARE = 0.15  # body height / frame height below this: too few pixels per limb
MIN_VISIBILITY = 0.5  # median leg visibility below this: MediaPipe mostly guessed the legs
MAX_OUTSIDE_SHARE = 0.10  # frames with landmarks outside the picture above this: body cut off
# Legs too short for the body: MediaPipe can fit a whole skeleton into what it sees of someone
# cut off at the knees instead of placing the feet outside the picture. The thigh's vertical
# extent (hip to knee) is 0.58-0.78 of the trunk's (shoulder to hip) in the 216 real walks of
# the training data (median 0.69; 0.70-0.78 on the synthetic walker's videos); with the knees
# at the bottom edge of the picture it came out at 0.46-0.50.
MIN_THIGH_TRUNK = 0.55
# Someone else moving in at least this share of people searches (and twice): several people.
SEVERAL_SHARE = 0.2
# The hips travel less than this many body heights sideways: no forward progression
# (one gait cycle alone moves them about 1.5 heights).
MIN_PROGRESSION_HEIGHTS = 1.0
# Body height changing by this factor between the first and last quarter of the walk, with
# little sideways travel: the person walks towards or away from the camera.
DEPTH_HEIGHT_RATIO = 1.25
# Camera motion (measured by walker_follow, FLOW_* there): the camera moves when in most
# analysed frame pairs under CAMERA_STILL_SHARE of the background corners stood still.
CAMERA_STILL_SHARE = 0.05
CAMERA_MIN_VALID = 0.3  # the share of frame pairs with enough corners needed for a verdict

WARN_NO_WALKER = ("No walking person was found in most of the video (only in {share:.0%} of "
                  "the frames analysed); check that the whole body is in view and well lit.")
WARN_SEVERAL_PEOPLE = ("Several people move in the video. GaitLab followed the one walking "
                       "across the view, but someone else may have been measured in places; "
                       "film the walker alone for a reliable result.")
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


# --- The models -----------------------------------------------------------------------------


def _package_dir() -> Path | None:
    """The installed mediapipe package folder (found without importing it), or None."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _installed_version() -> str | None:
    try:
        return importlib.metadata.version("mediapipe")
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)  # caches the first success only: errors are not cached
def check_pose_models() -> Path:
    """The mediapipe package folder, once its version and Pose model files are the expected.

    Raises `WeightsError` (one plain sentence) when mediapipe is not installed, is another
    version than `MEDIAPIPE_VERSION`, or a file of `POSE_MODEL_FILES` is missing or altered.
    """
    folder, version = _package_dir(), _installed_version()
    if folder is None or version is None:
        raise WeightsError("MediaPipe is not installed: pip install -r requirements.txt")
    if version != MEDIAPIPE_VERSION:
        raise WeightsError(f"MediaPipe {version} is installed but GaitLab needs MediaPipe "
                           f"{MEDIAPIPE_VERSION}: pip install -r requirements.txt")
    for rel, expected in POSE_MODEL_FILES.items():
        path = folder / rel
        if not path.is_file():
            raise WeightsError(f"The MediaPipe model file {path} is missing; reinstall "
                               "MediaPipe: pip install --force-reinstall -r requirements.txt")
        if sha256_file(path) != expected:
            raise WeightsError(f"The MediaPipe model file {path} has been altered: its SHA-256 "
                               "does not match; reinstall MediaPipe: pip install "
                               "--force-reinstall -r requirements.txt")
    return folder


def pose_factory() -> Callable[[], object]:
    """A maker of MediaPipe Pose objects (tracking mode, model_complexity=1)."""
    check_pose_models()
    try:
        from mediapipe.python.solutions import pose as mp_pose
    except Exception as exc:  # an installed but broken mediapipe (e.g. a protobuf mismatch)
        raise WeightsError(f"MediaPipe could not be loaded ({type(exc).__name__}: "
                           f"{str(exc)[:200]}): pip install -r requirements.txt") from None
    _warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
    return functools.partial(mp_pose.Pose, static_image_mode=False, model_complexity=1,
                             smooth_landmarks=True, enable_segmentation=False)


# MediaPipe's C++ side (glog, TensorFlow Lite) writes INFO and WARNING lines straight to file
# descriptor 2, past Python. A user must not meet them, so fd 2 points at the null device while
# Pose runs. Reference-counted under a lock: threads analysing at once restore it only once.
_SILENCE_LOCK = threading.Lock()
_SILENCE = {"depth": 0, "saved": -1}


@contextlib.contextmanager
def native_logs_silenced():
    with _SILENCE_LOCK:
        if _SILENCE["depth"] == 0:
            sys.stderr.flush()
            null = os.open(os.devnull, os.O_WRONLY)
            _SILENCE["saved"] = os.dup(2)
            os.dup2(null, 2)
            os.close(null)
        _SILENCE["depth"] += 1
    try:
        yield
    finally:
        with _SILENCE_LOCK:
            _SILENCE["depth"] -= 1
            if _SILENCE["depth"] == 0:
                os.dup2(_SILENCE["saved"], 2)
                os.close(_SILENCE["saved"])


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
    frame `width`×`height`; z; visibility; a whole row NaN where no walker), `frame_indices`
    int [T] (source frame of each row), `times_s` float [T], the video's `fps`, and plain
    `warnings` for the clinician."""

    landmarks: np.ndarray
    frame_indices: np.ndarray
    times_s: np.ndarray
    fps: float
    width: int
    height: int
    warnings: list[str] = field(default_factory=list)

    @property
    def detected(self) -> np.ndarray:
        """bool [T]: rows with a walker."""
        return np.isfinite(self.landmarks[..., :2]).all(axis=(1, 2))

    @property
    def detected_share(self) -> float:
        return float(self.detected.mean()) if len(self.landmarks) else 0.0


def track_walker(info: VideoInfo, progress: Callable[[float, str], None] | None = None,
                 max_rate: float | None = None) -> PoseTrack:
    """The walker's landmarks in a probed video (`probe_video`), one row per analysed frame.

    Every frame is analysed up to `max_rate` per second (default `DEFAULT_MAX_RATE`); faster
    video is subsampled evenly. `progress(fraction, text)` is called as frames go by. Raises
    `WeightsError` when MediaPipe or its models are not as expected; a video without a person
    gives all-NaN landmarks and a warning, never an error.
    """
    stride = pose_stride(info.fps, max_rate)
    wanted = list(range(0, info.n_frames, stride))
    every = max(1, len(wanted) // 100)

    def analyse(frame: np.ndarray) -> FrameResult:
        out = follower.step(pose_input(frame))
        if progress is not None and follower.calls % every == 0:
            progress(min(follower.calls / len(wanted), 1.0),
                     f"Finding the walker: frame {follower.calls} of {len(wanted)}")
        return out

    with native_logs_silenced():  # from loading MediaPipe until its graphs are closed: threads log late
        follower = Follower(pose_factory(), info.fps / stride)
        try:
            frames = read_frames(info, wanted, analyse)
        finally:
            follower.close()
    last = max(frames, default=-1)
    rows = [i for i in wanted if i <= last]  # undecodable frames stay as rows without walker
    landmarks = np.full((len(rows), NUM_LANDMARKS, 4), np.nan, dtype=np.float32)
    for k, i in enumerate(rows):
        if i in frames and frames[i].landmarks is not None:
            landmarks[k] = frames[i].landmarks
    indices = np.array(rows, dtype=np.int64)
    track = PoseTrack(landmarks, indices, indices / info.fps, float(info.fps), info.width,
                      info.height)
    searches = [f.moving_others for f in frames.values() if f.moving_others is not None]
    still = [f.still for f in frames.values() if f.still is not None]
    track.warnings = _warnings_for(track, searches, still, len(frames), info.fps / stride)
    if frames.damaged:
        track.warnings.append(WARN_DAMAGED)
    if progress is not None:
        progress(1.0, "Walker found" if track.detected.any() else "No walker found")
    return track


def _warnings_for(track: PoseTrack, searches: list[int], still: list[float], n_read: int,
                  rate: float) -> list[str]:
    """Plain-language warnings about what the track can tell (see the WARN_ constants)."""
    out: list[str] = []
    ok = track.detected
    share = track.detected_share
    if share < MIN_DETECTED_SHARE:
        out.append(WARN_NO_WALKER.format(share=share))
    several = sum(n > 0 for n in searches)
    if several >= 2 and several >= SEVERAL_SHARE * len(searches):
        out.append(WARN_SEVERAL_PEOPLE)
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


__all__ = ["MEDIAPIPE_VERSION", "POSE_MODEL_FILES", "PoseTrack", "check_pose_models",
           "keypoints_csv_text", "native_logs_silenced", "pose_factory", "pose_input", "pose_stride",
           "read_pose_times", "track_walker", "write_pose_csv"]
