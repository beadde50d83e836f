"""Hostile but real-life videos, analysed as a user would (`gaitlab.analyze`, or the CLI where
the exit status and the one `error:` line matter): a portrait phone video with rotation
metadata, 60 fps, 4K, a walker cut off at the knees, nobody in view, a person standing still.

Each is answered with plain warnings where it is odd, or refused with one sentence. The walks
come from the synthetic walker's renderer, small and short (the 4K one is 1.6 s).
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import gaitlab
from gaitlab.constants import CLASSES
from gaitlab.errors import InputError, NoWalkError
from gaitlab.inference import get_model
from gaitlab.pipeline import pose
from gaitlab.pipeline.landmarks import ANKLE, HIP, KNEE
from gaitlab.pipeline.walking import REFUSAL_PREFIX
from gaitlab.pipeline.pose import WARN_LEAVES_FRAME, WARN_LEGS_CUT, PoseTrack
from gaitlab.pipeline.video import WARN_PORTRAIT, probe_video
from gaitlab.synth.walker import WalkerParams, walk_keypoints
from gaitlab.synth.walker_video import render_walk_video
from video_helpers import assert_clean_ending, run_analyze_cli, set_mp4_rotation, starts, write_empty_scene

pytestmark = pytest.mark.timeout(300)

LEGS = list(HIP + KNEE + ANKLE)
# Refusal of a video without anyone (inference.video_clips).
NO_PERSON = "No person was found in {name}: GaitLab needs a video of someone walking."


@pytest.fixture(scope="module")
def model(mediapipe, random_weights):
    return get_model(random_weights)


def walker(path, params: WalkerParams, n_frames: int, width: int = 320, height: int = 240,
           fps: float = 30.0, **render) -> np.ndarray:
    """Render one synthetic walker into `path`; returns its true keypoints [T, 33, 4]."""
    seq = walk_keypoints(params, n_frames, fps, aspect=width / height)
    render_walk_video(path, [seq], width=width, height=height, fps=fps, **render)
    return seq


def assert_answer(result) -> None:
    assert result.label in CLASSES and 0 < result.confidence <= 1
    assert abs(sum(result.probabilities.values()) - 1) < 1e-4
    assert all(isinstance(w, str) and w and "\n" not in w for w in result.warnings)


def test_portrait_phone_video_is_turned_upright_once(tmp_path, model):
    """A phone stores portrait video as landscape pixels plus a 90° display matrix."""
    w, h = 270, 480  # as displayed
    upright = tmp_path / "upright.mp4"
    truth = walker(upright, WalkerParams(height=0.35, speed=0.35, start_x=0.15), 90, w, h)
    stored = tmp_path / "portrait.mp4"
    cap = cv2.VideoCapture(str(upright))
    writer = cv2.VideoWriter(str(stored), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (h, w))
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        writer.write(cv2.rotate(frame, cv2.ROTATE_90_COUNTERCLOCKWISE))  # lying on its side
    cap.release()
    writer.release()
    set_mp4_rotation(stored, 90)
    info = probe_video(stored)
    assert (info.rotation, info.width, info.height) == (90, w, h)

    result = gaitlab.analyze(stored, model=model)
    assert_answer(result)
    assert result.warnings == [WARN_PORTRAIT.format(turned="; stored turned by 90° and analysed upright")]
    found = np.isfinite(result.keypoints[:, 0, 0])
    assert found.mean() >= 0.8
    lm = result.keypoints[found]
    assert (lm[:, 0, 1] < lm[:, ANKLE[0], 1]).all()  # head above the feet: upright, not turned twice
    err = np.abs(lm[:, LEGS, :2] - truth[result.keypoint_frames[found]][:, LEGS, :2])
    assert np.median(err) < 0.03  # in the displayed frame's own coordinates


def test_60_fps_video_is_posed_at_30_frames_per_second(tmp_path, model):
    path = tmp_path / "fast.mp4"
    walker(path, WalkerParams(start_x=0.2), 150, fps=60.0)
    result = gaitlab.analyze(path, model=model)
    assert_answer(result)
    assert result.warnings == []
    np.testing.assert_array_equal(result.keypoint_frames, np.arange(0, 150, 2))
    np.testing.assert_allclose(result.keypoint_times, np.arange(0, 150, 2) / 60.0)
    assert np.isfinite(result.keypoints[:, 0, 0]).mean() >= 0.75


def test_4k_video_is_answered_in_bounded_memory(tmp_path, random_weights, mediapipe):
    path = tmp_path / "uhd.mp4"
    walker(path, WalkerParams(start_x=0.3), 40, 3840, 2160, fps=25.0, noise=0)
    out = run_analyze_cli(path, random_weights)
    answer = assert_clean_ending(out)
    assert answer is not None and answer["warnings"] == []
    assert all(clip["person_frames"] >= 6 for clip in answer["clips"])
    # One 4K frame is 25 MB; frames are streamed and shrunk for Pose, never held together.
    assert out.peak_rss_mb < 1500, out.peak_rss_mb


@pytest.mark.parametrize("y_feet", [1.15, 1.25], ids=["shins_cut", "cut_at_the_knees"])
def test_walker_cut_off_at_the_knees_is_named(tmp_path, model, y_feet):
    """A walker 0.9 of the frame tall with the feet below the picture: at y_feet 1.15 the
    knees are in view (MediaPipe puts the ankles outside the frame); at 1.25 the knees sit on
    the bottom edge and MediaPipe squeezes whole legs into the picture instead (legs too short
    for the trunk). Either way the answer must say the body is cut off."""
    path = tmp_path / "knees.mp4"
    truth = walker(path, WalkerParams(start_x=0.15, height=0.9, y_feet=y_feet, speed=0.5), 90)
    assert (truth[:, ANKLE[0], 1] > 1).all()  # the feet are never in the picture
    result = gaitlab.analyze(path, model=model)
    assert_answer(result)
    assert starts(result.warnings, WARN_LEAVES_FRAME) or WARN_LEGS_CUT in result.warnings, result.warnings


def test_short_legs_rule_on_known_landmarks():
    """The cut-legs rule alone: whole legs squeezed under the trunk trip it; a normal walk, a
    walk towards the camera and a crouched walk do not."""
    idx = np.arange(75)

    def warnings(seq: np.ndarray) -> list[str]:
        track = PoseTrack(seq.astype(np.float32), idx, idx / 30.0, 30.0, 640, 360)
        return pose._warnings_for(track, [], 75, 30.0)

    walk = walk_keypoints(WalkerParams(start_x=0.15), 75, 30.0)
    assert warnings(walk) == []
    hips = walk[:, list(HIP), 1].mean(axis=1, keepdims=True)
    squeezed = walk.copy()
    squeezed[:, 25:, 1] = hips + (walk[:, 25:, 1] - hips) * 0.55  # legs at 55% of their length
    assert WARN_LEGS_CUT in warnings(squeezed)
    front = walk_keypoints(WalkerParams(view="front"), 75, 30.0)
    crouched = walk_keypoints(WalkerParams(start_x=0.15, knee_extension=30.0, trunk_flexion=20.0), 75, 30.0)
    assert WARN_LEGS_CUT not in warnings(front) + warnings(crouched)


def test_a_video_with_nobody_is_refused_in_one_sentence(tmp_path, random_weights, model):
    path = write_empty_scene(tmp_path / "empty.mp4", n_frames=40)
    with pytest.raises(InputError) as err:
        gaitlab.analyze(path, model=model)
    assert str(err.value) == NO_PERSON.format(name="empty.mp4")
    out = run_analyze_cli(path, random_weights)
    assert assert_clean_ending(out) is None and out.returncode == 2
    assert out.stderr.strip() == "error: " + NO_PERSON.format(name="empty.mp4")


def test_a_person_standing_still_gets_no_gait_class(tmp_path, model):
    """No walk, no gait class: a rendered person standing still is refused with the reason, in
    one plain sentence (the real man standing with dumbbells: tests/pipeline/test_real_footage.py)."""
    w, h = 320, 240
    pose_frame = walk_keypoints(WalkerParams(start_x=0.5), 30, 30.0, aspect=w / h)[15]
    path = tmp_path / "still.mp4"
    render_walk_video(path, [np.repeat(pose_frame[None], 90, axis=0)], width=w, height=h, fps=30.0)
    with pytest.raises(NoWalkError) as refused:
        gaitlab.analyze(path, model=model)
    message = str(refused.value)
    assert message.startswith(REFUSAL_PREFIX) and "\n" not in message
    assert "stands in place" in message or "steps on the spot" in message, message
    assert len(refused.value.people) == 1 and refused.value.person == 1
    track = refused.value.track  # the tracked person travels with the refusal (no second pose pass)
    assert track.person == 1 and track.no_walk == message and np.isfinite(track.landmarks[:, 0, 0]).mean() > 0.9
