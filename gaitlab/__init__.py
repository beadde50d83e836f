"""GaitLab: explore video-based gait screening. For research and education, not diagnosis.

Public API (see docs/ARCHITECTURE.md): `CLASSES`, `load_model`, `analyze`, `explain`, `embed_note`.
"""
from __future__ import annotations

import os

# FFmpeg and OpenCV print their own diagnostics for damaged files; GaitLab reports problems
# itself in plain language, so keep theirs off stderr (must be set before cv2 is imported).
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
# MediaPipe's C++ side logs through glog and TensorFlow Lite: errors only (read at its start).
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from gaitlab.constants import CLASSES, DESCRIPTIONS, DISPLAY_NAMES
from gaitlab.errors import InputError, WeightsError
from gaitlab.inference import Analysis, analyze
from gaitlab.text import embed_note
from gaitlab.weights import load_model


def explain(analysis: Analysis, method: str = "gradcam", target: str | int | None = None, model=None):
    """Explain an analysis: see `gaitlab.explanations.explain` (Captum is imported on first use)."""
    from gaitlab.explanations import explain as _explain

    return _explain(analysis, method=method, target=target, model=model)


__all__ = [
    "CLASSES", "DESCRIPTIONS", "DISPLAY_NAMES", "Analysis", "InputError", "WeightsError",
    "analyze", "embed_note", "explain", "load_model",
]
__version__ = "0.1.0"
