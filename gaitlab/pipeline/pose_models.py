"""MediaPipe's pose models, checked and loaded offline: one person, or everyone in view.

Both routes run the two model files bundled in the `mediapipe==0.10.14` wheel, whose SHA-256
`check_pose_models` verifies before anything runs:

- `pose_factory()` makes the single-person `solutions.pose.Pose` (tracking mode,
  `model_complexity=1`; complexities 0 and 2 would download models). The bench's baseline.
- `PeopleDetector` runs the Tasks API's `PoseLandmarker` on the same two files, which finds
  several people per frame. The Tasks API reads a `.task` bundle: `pose_task_bundle()` builds
  it once, locally, in the user's cache folder (never downloaded): image-input metadata is
  written onto each file with MediaPipe's bundled metadata writer (mean/std 127.5/127.5 for
  the detector, 0/255 for the landmark model), each result's SHA-256 is checked, and the two
  are zipped as `pose_detector.tflite` + `pose_landmarks_detector.tflite`. The bundle's
  members are checked again each time it is opened.

`PeopleDetector` finds everyone in a video's frames (RGB uint8 [H, W, 3], in order); poses are
float32 [33, 4] (x, y normalised to the frame, z, visibility). MediaPipe's landmarker follows
people cheaply in VIDEO mode (its person detector runs only when it has lost someone) but its
detector often reports only the most prominent person of a frame, and misses someone half
covered by a larger person. So:
- `step(rgb)`: one VIDEO-mode landmarker follows one person over the whole frame, and every
  `CHECK_S` an IMAGE-mode pass looks for anyone else with the people already known painted
  grey (`_masked`);
- `look_around(rgb, centre, body, key)`: everyone else is followed in a narrow window around
  where they should be (`LOOK_WIDTH` × `LOOK_HEIGHT` body heights, padded to a square), each
  by a VIDEO-mode landmarker of their own, so the window follows them without a detection on
  every frame; `forget(keys)` closes the windows no longer needed.
Measured on `walker_alone.mp4` (Sports2D, 640×360): single-person Pose 18.6 ms a frame, the
landmarker following one person 17.8 ms; its landmarks agree with the single-person path
within 0.004 body heights (median; 99th percentile 0.008).

`native_logs_silenced()` keeps MediaPipe's C++ log lines (written to file descriptor 2) away
from the user while the models are loaded and run.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import sys
import threading
import warnings as _warnings
import zipfile
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from gaitlab.errors import WeightsError
from gaitlab.files import sha256_file, user_cache_dir

MEDIAPIPE_VERSION = "0.10.14"
# Files of the mediapipe package that Pose (model_complexity=1) runs, with their SHA-256.
POSE_MODEL_FILES: dict[str, str] = {
    "modules/pose_detection/pose_detection.tflite":
        "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    "modules/pose_landmark/pose_landmark_full.tflite":
        "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
}
# The `.task` bundle's members: name → (source file, input normalisation mean and std,
# SHA-256 of the source file with its image metadata written on).
TASK_MEMBERS: dict[str, tuple[str, float, float, str]] = {
    "pose_detector.tflite": ("modules/pose_detection/pose_detection.tflite", 127.5, 127.5,
                             "72ddcfa080336d081f515eac64e6b82e4149ae7d6080cad3036d34483c5941cf"),
    "pose_landmarks_detector.tflite": ("modules/pose_landmark/pose_landmark_full.tflite", 0.0, 255.0,
                                       "d93170bcce3915fd7a294a42fcb7b9033a96b3748a18ecf3faf7950031b7bdbd"),
}
TASK_NAME = f"pose_landmarker_mp{MEDIAPIPE_VERSION}.task"

# --- Detecting everyone ---------------------------------------------------------------------
MAX_PEOPLE = 4  # the masked IMAGE-mode search reports at most this many people a frame
# Every this many seconds an IMAGE-mode pass looks for people the VIDEO landmarker does not
# follow (a walker crosses about 0.4 body heights meanwhile), with those it follows masked out,
# their landmark boxes widened by MASK_MARGIN of the frame.
CHECK_S, MASK_MARGIN = 0.5, 0.02
# A pose found by the IMAGE pass is someone already followed when their landmark boxes overlap
# by this IoU, or when their box centres lie within SAME_PERSON_NEAR of the larger box's height
# and their heights within SAME_PERSON_SIZE of each other (a walker passing in front of or
# behind a larger bystander overlaps his box but is not him).
SAME_PERSON_IOU, SAME_PERSON_NEAR, SAME_PERSON_SIZE = 0.5, 0.25, 1.3
# A person lost beside or behind someone else is looked for in a narrow window around where
# they should be, LOOK_WIDTH body heights wide and LOOK_HEIGHT tall, padded to a square with
# grey: MediaPipe's person detector misses someone next to a larger person in the whole frame,
# and still in a square crop around them, but not once the other is mostly left out
# (walker_with_bystander.mp4, 34 such frames at her true place: whole frame 2, square crop of
# 1.2 heights 14, 0.9 × 1.3 heights 23, 0.7 × 1.3 31, 0.5 × 1.3 33).
LOOK_WIDTH, LOOK_HEIGHT = 0.6, 1.3
# MediaPipe's confidence thresholds (its defaults).
MIN_DETECTION, MIN_PRESENCE, MIN_TRACKING = 0.5, 0.5, 0.5


# --- The model files ------------------------------------------------------------------------


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


def _import_mediapipe(what: str):
    """`mediapipe` or one of its modules; a broken install (e.g. a protobuf mismatch) is a
    `WeightsError` with one plain sentence."""
    try:
        module = __import__(what, fromlist=["_"])
    except Exception as exc:
        raise WeightsError(f"MediaPipe could not be loaded ({type(exc).__name__}: "
                           f"{str(exc)[:200]}): pip install -r requirements.txt") from None
    _warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
    return module


def pose_factory() -> Callable[[], object]:
    """A maker of single-person MediaPipe Pose objects (tracking mode, model_complexity=1)."""
    check_pose_models()
    mp_pose = _import_mediapipe("mediapipe.python.solutions.pose")
    return functools.partial(mp_pose.Pose, static_image_mode=False, model_complexity=1,
                             smooth_landmarks=True, enable_segmentation=False)


def _bundle_is_intact(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return (sorted(z.namelist()) == sorted(TASK_MEMBERS)
                    and all(hashlib.sha256(z.read(name)).hexdigest() == member[3]
                            for name, member in TASK_MEMBERS.items()))
    except (OSError, zipfile.BadZipFile):
        return False


_BUNDLE_LOCK = threading.Lock()


def pose_task_bundle(folder: Path | None = None) -> Path:
    """The multi-person landmarker's `.task` file, built from the checked wheel files on first
    use in `folder` (default: the user's cache, `files.user_cache_dir`) and checked member by
    member every time. Raises `WeightsError` when it cannot be built or does not check out."""
    source = check_pose_models()
    path = Path(folder or user_cache_dir("models")) / TASK_NAME
    with _BUNDLE_LOCK:
        if path.is_file() and _bundle_is_intact(path):
            return path
        writer = _import_mediapipe("mediapipe.tasks.python.metadata.metadata_writers.metadata_writer")
        members = {}
        for name, (rel, mean, std, expected) in TASK_MEMBERS.items():
            model = bytearray((source / rel).read_bytes())
            written, _ = (writer.MetadataWriter.create(model).add_general_info(name, "GaitLab")
                          .add_image_input(norm_mean=[mean], norm_std=[std]).populate())
            if hashlib.sha256(written).hexdigest() != expected:
                raise WeightsError(f"The pose model {name} built from MediaPipe's {rel} does not "
                                   "match its expected SHA-256; reinstall MediaPipe: pip install "
                                   "--force-reinstall -r requirements.txt")
            members[name] = bytes(written)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{path.name}.{os.getpid()}.part")
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as z:
                for name, data in members.items():
                    z.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)
            os.replace(partial, path)  # atomic: a half-written bundle is never read
        except OSError as exc:
            raise WeightsError(f"The pose model bundle could not be written to {path.parent} "
                               f"({exc.strerror or exc}); set GAITLAB_CACHE to a writable folder.") from None
    return path


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


# --- Everyone in view, frame by frame -------------------------------------------------------


def pose_box(pose: np.ndarray) -> np.ndarray:
    """Normalised box [x0, y0, x1, y1] around a pose's landmarks [33, 4]."""
    xy = np.asarray(pose, dtype=np.float64)[:, :2]
    return np.concatenate([xy.min(axis=0), xy.max(axis=0)])


def _box_centre(pose: np.ndarray) -> np.ndarray:
    """The centre [x, y] of a pose's landmark box, normalised."""
    box = pose_box(pose)
    return (box[:2] + box[2:]) / 2


def same_person(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two poses [33, 4] of one frame are one person (see `SAME_PERSON_*`)."""
    ba, bb = pose_box(a), pose_box(b)
    w = min(ba[2], bb[2]) - max(ba[0], bb[0])
    h = min(ba[3], bb[3]) - max(ba[1], bb[1])
    if w > 0 and h > 0:
        inter = w * h
        union = np.prod(ba[2:] - ba[:2]) + np.prod(bb[2:] - bb[:2]) - inter
        if inter / max(union, 1e-12) >= SAME_PERSON_IOU:
            return True
    ha, hb = ba[3] - ba[1], bb[3] - bb[1]
    near = np.hypot(*(_box_centre(a) - _box_centre(b))) <= SAME_PERSON_NEAR * max(ha, hb)
    return bool(near and max(ha, hb) <= SAME_PERSON_SIZE * max(min(ha, hb), 1e-9))


class _Follower:
    """A VIDEO-mode landmarker following one person in their window (`PeopleDetector.look_around`)."""

    def __init__(self, landmarker, mp_module):
        self.landmarker, self._mp, self.side, self.last_ms = landmarker, mp_module, 0, -1

    def detect(self, image, stamp_ms: int) -> list[np.ndarray]:
        self.last_ms = max(self.last_ms + 1, stamp_ms)  # timestamps must grow
        return PeopleDetector._poses(self.landmarker.detect_for_video(image, self.last_ms))

    def reset(self) -> None:
        """Forget whom it followed: one blank frame, where nobody is found."""
        self.detect(self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.full((64, 64, 3), 128, np.uint8)),
                    self.last_ms + 1)


class PeopleDetector:
    """MediaPipe's PoseLandmarker over a video's frames: everyone in view (module docstring).

    `rate` is analysed frames per second. Call `step` with each analysed RGB frame in order,
    `look_around` for anyone `step` did not return, then `forget` the windows no longer
    needed; `close` at the end (or use it as a context manager).
    """

    def __init__(self, rate: float, task: Path | None = None):
        self.rate = float(rate)
        self.task = task or pose_task_bundle()
        self._vision = _import_mediapipe("mediapipe.tasks.python.vision")
        self._mp = _import_mediapipe("mediapipe")
        self._base = _import_mediapipe("mediapipe.tasks.python").BaseOptions(model_asset_path=str(self.task))
        self.main = self._make("VIDEO", 1)
        self.image = self._make("IMAGE", MAX_PEOPLE)
        self.windows: dict[object, _Follower] = {}  # key → the landmarker following them in their window
        self._idle: list[_Follower] = []  # window landmarkers no longer following anyone
        self.seen: list[np.ndarray] = []  # poses `look_around` found in this frame (masked at the next check)
        self.calls = 0
        self._check_every = max(1, round(CHECK_S * self.rate))

    def _make(self, mode: str, num_poses: int):
        options = self._vision.PoseLandmarkerOptions(
            base_options=self._base, running_mode=getattr(self._vision.RunningMode, mode),
            num_poses=num_poses, min_pose_detection_confidence=MIN_DETECTION,
            min_pose_presence_confidence=MIN_PRESENCE, min_tracking_confidence=MIN_TRACKING)
        return self._vision.PoseLandmarker.create_from_options(options)

    def _image(self, rgb: np.ndarray):
        return self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))

    @property
    def _stamp_ms(self) -> int:
        return round((self.calls - 1) * 1000.0 / self.rate)

    @staticmethod
    def _poses(result) -> list[np.ndarray]:
        return [np.array([(p.x, p.y, p.z, p.visibility) for p in pose], dtype=np.float32)
                for pose in result.pose_landmarks]

    def step(self, rgb: np.ndarray) -> list[np.ndarray]:
        """One RGB frame [H, W, 3] uint8 → the poses found in it, each float32 [33, 4]: the
        person the whole-frame landmarker follows and, every `CHECK_S`, anyone else found with
        the known people masked out (`_masked`)."""
        self.calls += 1
        poses = self._poses(self.main.detect_for_video(self._image(rgb), self._stamp_ms))
        if (self.calls - 1) % self._check_every == 0:
            poses += [p for p in self._poses(self.image.detect(self._masked(rgb, poses + self.seen)))
                      if not any(same_person(p, q) for q in poses)]
        self.seen = []
        return poses

    def _masked(self, rgb: np.ndarray, poses: list[np.ndarray]):
        """`rgb` as a MediaPipe image with `poses` painted grey (landmark boxes widened by
        `MASK_MARGIN`): the detector often reports only the most prominent person of a frame
        (a rendered walker beside a larger bystander: never found with him in view, found with
        him masked)."""
        if poses:
            h, w = rgb.shape[:2]
            rgb = rgb.copy()
            for pose in poses:
                x0, y0, x1, y1 = pose_box(pose) + (-MASK_MARGIN, -MASK_MARGIN, MASK_MARGIN, MASK_MARGIN)
                rgb[max(0, int(y0 * h)):max(0, int(np.ceil(y1 * h))), max(0, int(x0 * w)):max(0, int(np.ceil(x1 * w)))] = 128
        return self._image(rgb)

    def look_around(self, rgb: np.ndarray, centre_px: np.ndarray, body_px: float, key: object,
                    accept: Callable[[np.ndarray], bool] = lambda pose: True) -> np.ndarray | None:
        """The pose of the person `key` (e.g. a track id) in a window `LOOK_WIDTH` ×
        `LOOK_HEIGHT` body heights (`body_px`) around `centre_px` (pixels of this frame), as
        float32 [33, 4] normalised to the whole frame, once `accept(pose)` takes it; None when
        nobody acceptable is found there.

        A key found in the last frame is followed by a VIDEO-mode landmarker of its own, so a
        window that moves with its person follows them without a new detection. A key not
        found there (or whose landmarker followed someone else, e.g. the arm of the man beside
        her) is searched by an IMAGE-mode pass over the window instead, until found again."""
        h, w = rgb.shape[:2]
        follower = self.windows.get(key)
        side = follower.side if follower else 0
        if not side or not 0.75 < LOOK_HEIGHT * body_px / side < 1.33:  # none yet, or another size
            side = int(np.clip(round(LOOK_HEIGHT * body_px), 32, min(h, 2 * w)))
        cw = int(min(w, max(16, round(LOOK_WIDTH / LOOK_HEIGHT * side))))
        ch = min(h, side)
        x0 = int(np.clip(round(centre_px[0] - cw / 2), 0, w - cw))
        y0 = int(np.clip(round(centre_px[1] - ch / 2), 0, h - ch))
        left, top = (side - cw) // 2, (side - ch) // 2
        window = self._image(cv2.copyMakeBorder(rgb[y0:y0 + ch, x0:x0 + cw], top, side - ch - top, left,
                                                side - cw - left, cv2.BORDER_CONSTANT, value=(128, 128, 128)))

        def placed(found: list[np.ndarray]) -> list[np.ndarray]:
            """Poses of the window put back in the frame, nearest the window's centre first."""
            for pose in found:
                pose[:, 0] = (x0 - left + pose[:, 0] * side) / w
                pose[:, 1] = (y0 - top + pose[:, 1] * side) / h
            return sorted(found, key=lambda p: np.hypot(*(_box_centre(p) * (w, h) - centre_px)))

        pose = None
        if follower is not None and follower.side == side:
            found = placed(follower.detect(window, self._stamp_ms))
            pose = found[0] if found and accept(found[0]) else None
        if pose is None:
            self._drop(key)
            pose = next((p for p in placed(self._poses(self.image.detect(window))) if accept(p)), None)
            if pose is not None:  # found: followed from the next frame on
                self.windows[key] = self._follower(side)
        if pose is not None:
            self.seen.append(pose)
        return pose

    def _follower(self, side: int) -> "_Follower":
        """A VIDEO-mode landmarker for a window of `side` pixels: an idle one, else a new one
        (making one costs about 75 ms on 2 cores; an idle one is reset with a blank frame)."""
        follower = self._idle.pop() if self._idle else _Follower(self._make("VIDEO", 1), self._mp)
        follower.side = side
        return follower

    def _drop(self, key: object) -> None:
        if key in self.windows:
            follower = self.windows.pop(key)
            follower.reset()
            self._idle.append(follower)

    def forget(self, keep: set) -> None:
        """Stop following every key not in `keep`."""
        for key in [k for k in self.windows if k not in keep]:
            self._drop(key)

    def close(self) -> None:
        self.forget(set())
        for follower in self._idle:
            follower.landmarker.close()
        self.main.close()
        self.image.close()

    def __enter__(self) -> "PeopleDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["MAX_PEOPLE", "MEDIAPIPE_VERSION", "POSE_MODEL_FILES", "PeopleDetector", "check_pose_models",
           "native_logs_silenced", "pose_box", "pose_factory", "pose_task_bundle", "same_person"]
