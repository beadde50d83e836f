"""The one home of GaitLab's constants: classes, clip spec, normalisation, file types, limits.

Everything else imports from here; never repeat one of these numbers elsewhere.
"""
from __future__ import annotations

from pathlib import Path

from numbers import Integral

NOTICE = "GaitLab is for research and education, not diagnosis."

# --- The nine gait patterns, in canonical order (ids are list positions) -----------------
CLASSES: tuple[str, ...] = (
    "Normal",
    "KOA_Early",
    "KOA_Mild",
    "KOA_Severe",
    "PD_Early",
    "PD_Mild",
    "PD_Severe",
    "Disabled_Assistive",
    "Disabled_NonAssistive",
)
NUM_CLASSES = len(CLASSES)

DISPLAY_NAMES: dict[str, str] = {
    "Normal": "Normal gait",
    "KOA_Early": "Knee osteoarthritis, early",
    "KOA_Mild": "Knee osteoarthritis, mild",
    "KOA_Severe": "Knee osteoarthritis, severe",
    "PD_Early": "Parkinson's disease, early",
    "PD_Mild": "Parkinson's disease, mild",
    "PD_Severe": "Parkinson's disease, severe",
    "Disabled_Assistive": "Disabled gait with an assistive device",
    "Disabled_NonAssistive": "Disabled gait without an assistive device",
}

DESCRIPTIONS: dict[str, str] = {
    "Normal": "Symmetric steps, full knee extension at heel strike, upright trunk and "
    "reciprocal arm swing at a comfortable speed.",
    "KOA_Early": "Near-normal walk with slightly reduced knee flexion in swing and a mild "
    "shortening of the stance on the painful side.",
    "KOA_Mild": "Antalgic gait: shorter stance and step on the affected knee, reduced knee "
    "range of motion and a slower, more cautious pace.",
    "KOA_Severe": "Marked antalgic limp with a stiff or varus knee, lateral trunk lean over "
    "the affected leg, short asymmetric steps and slow speed.",
    "PD_Early": "Slightly reduced arm swing (often one side), mildly shorter steps and a "
    "subtle forward stoop; speed close to normal.",
    "PD_Mild": "Flexed posture, short shuffling steps, reduced arm swing on both sides and "
    "en-bloc turning; cadence kept while step length falls.",
    "PD_Severe": "Stooped, shuffling gait with festination and freezing episodes, minimal "
    "arm swing and very short steps; high fall risk.",
    "Disabled_Assistive": "Slow, irregular gait supported by a cane, crutch or walker, with "
    "the device taking load and shortening the steps.",
    "Disabled_NonAssistive": "Irregular, asymmetric gait without a walking aid: limping, "
    "circumduction or reduced push-off on one side.",
}

# --- Model input: clips of 8 frames at 224x224, 3 channels, ImageNet normalisation ------------
CLIP_FRAMES = 8
FRAME_SIZE = 224
CHANNELS = 3
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
EMBED_DIM = 384

# A clip spans about one gait cycle. Where the frame rate is known (video), the span is this
# many seconds; where it is not (keypoint files), it is estimated from the signal.
CLIP_SECONDS = 1.2
DEFAULT_CYCLE_FRAMES = 36  # fallback span when neither frame rate nor a clear rhythm is known
MAX_CLIPS = 12  # clips per case: covers a long walk without growing time or memory

# --- Inputs -------------------------------------------------------------------------------
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mov", ".avi", ".mkv", ".webm")
KEYPOINT_EXTENSIONS: tuple[str, ...] = (".csv",)
SUPPORTED_EXTENSIONS = VIDEO_EXTENSIONS + KEYPOINT_EXTENSIONS
NUM_LANDMARKS = 33

# --- Limits (one place; .streamlit/config.toml mirrors the upload size) ---------------------
# Each limit has one plain message where it is enforced; tests/test_limits.py checks them all.
# Largest upload the app takes, per file (Streamlit's `server.maxUploadSize` says the same).
MAX_UPLOAD_MB = 500
# Longer notes are cut to this many characters, with a warning (the app's text box stops here).
MAX_NOTE_CHARS = 5000
# Video duration. Clips are sampled (at most MAX_CLIPS of about one gait cycle), so a long video
# costs reading time, not memory: above LONG_VIDEO_SECONDS it is analysed with a warning that
# most of it is not looked at; above MAX_VIDEO_SECONDS it is refused (reading alone would take
# minutes, and a clinical gait recording is far shorter).
LONG_VIDEO_SECONDS = 5 * 60
MAX_VIDEO_SECONDS = 30 * 60
# Frame size. Frames are shrunk on arrival before pose runs (`pipeline.pose`), so 4K is fine; frames
# larger than 8K UHD (7680 px on the long side) or smaller than MIN_VIDEO_SIDE on either side
# cannot be a usable gait recording and are refused.
MAX_VIDEO_LONG_SIDE = 7680
MIN_VIDEO_SIDE = 32
# Keypoint CSVs: one row per frame; 30 minutes at 60 fps. Longer files are refused, and the
# file is parsed row by row so memory stays bounded whatever its size.
MAX_KEYPOINT_FRAMES = MAX_VIDEO_SECONDS * 60
# Cases per cohort run (folder, manifest or uploaded files).
MAX_COHORT_FILES = 2000
# Server-side folders typed in the app must lie under this root (env var, else the working dir).
DATA_ROOT_ENV = "GAITLAB_DATA_ROOT"
# The shared data's gait-keypoints folder beside the project (training, the protocol, the
# kinematics band); commands take another with --data.
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "gait-keypoints"
# Real walking footage beside the project (Sports2D demo clips, BSD 3-Clause; its README):
# the video tests and the bench's two-person figure read it, nothing ships it.
REAL_VIDEOS_DIR = DEFAULT_DATA_DIR.parent / "real-videos"


def class_index(target: str | int | None, default: str) -> int:
    """The class id of `target` (a class name or an index into CLASSES); `default` (a name) when
    None. ValueError for anything else, an out-of-range index included."""
    target = default if target is None else target
    if isinstance(target, Integral) and 0 <= int(target) < len(CLASSES):  # numpy ints included
        return int(target)
    if target in CLASSES:
        return CLASSES.index(target)
    raise ValueError(f"unknown target class {target!r}; known: {', '.join(CLASSES)}")
