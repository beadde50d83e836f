"""Shared fixtures: small generated cases, a randomly initialised model on disk, the real data.

Tests that need something the machine may lack (the shared gait data beside the clone,
Chromium, a Jupyter kernel, MediaPipe) go through `unavailable`: outside CI they skip, under CI
(`CI=true`) they fail, since CI has all of it and a skip there would hide a broken set-up.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from gaitlab.model import pose_student
from gaitlab.constants import REAL_VIDEOS_DIR
from gaitlab.training.dataset import DEFAULT_DATA_DIR
from gaitlab.weights import save_weights

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; CI=true, where it must be there: failing instead of skipping", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def unavailable():
    """`unavailable(reason)`: skip the test outside CI, fail it under CI."""
    return _unavailable


@pytest.fixture(scope="session")
def mediapipe(unavailable) -> None:
    """MediaPipe importable (requirements.txt installs it): skip outside CI, fail under CI."""
    try:
        import mediapipe  # noqa: F401
    except ImportError:
        unavailable("mediapipe is not installed (pip install -r requirements.txt)")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The gait-keypoints folder (metadata.csv, keypoints.npz, raw-csv-samples/) from ../shared."""
    missing = [n for n in ("metadata.csv", "keypoints.npz", "raw-csv-samples") if not (DEFAULT_DATA_DIR / n).exists()]
    if missing:
        _unavailable(f"gait-keypoints data not found at {DEFAULT_DATA_DIR} ({', '.join(missing)} missing)")
    return DEFAULT_DATA_DIR




@pytest.fixture(scope="session")
def real_videos() -> Path:
    """../shared/data/real-videos (walker_alone.mp4, walker_with_bystander.mp4; Sports2D demos,
    BSD 3-Clause): skip outside CI where absent, fail under CI."""
    missing = [n for n in ("walker_alone.mp4", "walker_with_bystander.mp4") if not (REAL_VIDEOS_DIR / n).is_file()]
    if missing:
        _unavailable(f"real footage not found at {REAL_VIDEOS_DIR} ({', '.join(missing)} missing)")
    return REAL_VIDEOS_DIR


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory) -> Path:
    """A student with random weights saved like the shipped one (pipeline tests need no training)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "random.safetensors"
    save_weights(pose_student(), {"architecture": "pose_student", "view": "pose_limbs"}, path)
    return path


@pytest.fixture(scope="session")
def walker_video(tmp_path_factory) -> Path:
    """A 3-second 320x240 video of one generated walker."""
    from gaitlab.synth.walker import WalkerParams, walk_keypoints
    from gaitlab.synth.walker_video import render_walk_video

    path = tmp_path_factory.mktemp("cases") / "walker.mp4"
    seq = walk_keypoints(WalkerParams(), n_frames=90, fps=30.0, aspect=320 / 240)
    render_walk_video(path, [seq], width=320, height=240, fps=30.0)
    return path


@pytest.fixture(scope="session")
def walker_csv(tmp_path_factory) -> Path:
    """A MediaPipe-layout keypoint CSV of one generated walker (with a misleading label column)."""
    from gaitlab.synth.walker import WalkerParams, walk_keypoints, write_keypoint_csv

    path = tmp_path_factory.mktemp("cases") / "walker.csv"
    seq = walk_keypoints(WalkerParams(), n_frames=120, fps=30.0)
    write_keypoint_csv(path, seq, extra_columns={"label": "PD_Severe", "video_file": "x.mp4"})
    return path


@pytest.fixture(scope="session")
def two_walkers_video(tmp_path_factory) -> Path:
    """Two people walking in opposite directions in one video."""
    from gaitlab.synth.walker import WalkerParams, walk_keypoints
    from gaitlab.synth.walker_video import render_walk_video

    path = tmp_path_factory.mktemp("cases") / "two_walkers.mp4"
    a = walk_keypoints(WalkerParams(start_x=0.1, direction=1), n_frames=90, fps=30.0, aspect=4 / 3)
    b = walk_keypoints(WalkerParams(start_x=0.9, direction=-1, height=0.5), n_frames=90, fps=30.0, aspect=4 / 3)
    render_walk_video(path, [a, b], width=320, height=240, fps=30.0)
    return path
