"""No walk, no gait class: `gaitlab.pipeline.walking` tells walks from standing, stepping on the
spot, running, hopping and clips shorter than a gait cycle, and scores how walk-like a track is.

The non-walks are built here, deterministically, from the synthetic walker's public
`walk_keypoints`: a walker with no steps stands; its legs are lifted in turn (stepping on the
spot), the whole body is lifted off the ground (hops; a run's flight phases) or its forearms
curl (dumbbells). The real walks of the shared data and the simulator's presets must all pass.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gaitlab.pipeline.keypoints import NpzSequences, read_gait_metadata
from gaitlab.pipeline.walking import REFUSAL_PREFIX, WalkFeatures, walk_features, walk_refusal, walking_score
from gaitlab.synth.simulator import PRESETS, simulate
from gaitlab.synth.walker import WalkerParams, walk_keypoints

FPS = 30.0
ASPECT = {"side": 16 / 9, "front": 9 / 16}  # landscape side view, portrait phone facing the walker
HEIGHT = 0.6  # share of the frame height the person spans (the walker's default)


# --- Synthetic people -------------------------------------------------------------------------
def _pulse(t: np.ndarray, rate: float, share: float, offset: float = 0.0) -> np.ndarray:
    """0 → 1 → 0 (half a sine) over the first `share` of every period of `rate` Hz, else 0."""
    phase = (t * rate + offset) % 1.0
    return np.where(phase < share, np.sin(np.pi * phase / share), 0.0)


def _person(view: str = "side", seconds: float = 6.0, **params) -> np.ndarray:
    """Keypoints [T, 33, 4] of the synthetic walker; with no steps given, a person standing still."""
    still = {"speed": 0.0, "cadence": 0.0, "step_length": 0.0, "start_x": 0.5}
    p = WalkerParams(view=view, **({**still, **params} if "cadence" not in params else params))
    return walk_keypoints(p, int(round(seconds * FPS)), FPS, ASPECT[view])


def _turned(seq: np.ndarray, view: str, turns) -> np.ndarray:
    """`seq` with landmarks turned about a joint: `turns` = [(moving, pivot, degrees [T]), ...] in
    order; + swings a point below the pivot forward and up. From the side the turn is in the
    image; from the front it is towards the camera, seen (orthographically) as a rise."""
    out = seq.copy()
    a = ASPECT[view]
    fwd = seq[..., 0] * a if view == "side" else np.zeros(seq.shape[:2])
    pts = np.stack([fwd, seq[..., 1].astype(np.float64)], -1)  # [T, 33, (forward, down)]
    for moving, pivot, degrees in turns:
        v = pts[:, moving] - pts[:, pivot, None]
        c, s = np.cos(np.radians(degrees))[:, None], np.sin(np.radians(degrees))[:, None]
        pts[:, moving] = pts[:, pivot, None] + np.stack([v[..., 0] * c + v[..., 1] * s, -v[..., 0] * s + v[..., 1] * c], -1)
    if view == "side":
        out[..., 0] = pts[..., 0] / a
    out[..., 1] = pts[..., 1]
    return out


def _t(seq: np.ndarray) -> np.ndarray:
    return np.arange(len(seq)) / FPS


def standing(view: str = "side", height: float = HEIGHT, dumbbells: bool = True, seed: int = 0) -> np.ndarray:
    """Standing still, both forearms curling a dumbbell every 2 s, with landmark jitter."""
    seq = _person(view, height=height)
    if dumbbells:
        curl = 120 * _pulse(_t(seq), 0.5, 0.8)
        seq = _turned(seq, view, [([15, 17, 19, 21], 13, curl), ([16, 18, 20, 22], 14, curl)])
    seq[..., :2] += np.random.default_rng(seed).normal(0, 0.002, seq[..., :2].shape)
    return seq


def stepping_on_the_spot(view: str = "side", rate: float = 1.8, lift: float = 40.0) -> np.ndarray:
    """Knees lifted in turn (hip flexion `lift`°, knee flexion twice that) at `rate` steps/s."""
    seq = _person(view)
    turns = []
    for k, offset in ((0, 0.0), (1, 0.5)):
        a = lift * _pulse(_t(seq), rate / 2, 0.45, offset)
        turns += [([25 + k, 27 + k, 29 + k, 31 + k], 23 + k, a), ([27 + k, 29 + k, 31 + k], 25 + k, -2 * a)]
    return _turned(seq, view, turns)


def hopping(view: str = "side", travel: float = 0.0, rate: float = 2.0, height: float = 0.1) -> np.ndarray:
    """Both feet leave and land together: the whole body rises `height` body heights `rate`
    times a second, in place or gliding forward at `travel` body heights per second."""
    seq = _person(view, speed=travel)
    seq[..., 1] -= height * HEIGHT * _pulse(_t(seq), rate, 0.5)[:, None]
    return seq


def running(cadence: float = 175.0, lift: float = 0.07, view: str = "side") -> np.ndarray:
    """175 steps/min, 0.75 body-height steps, high knees and arms, and a flight phase: the body
    rises `lift` body heights above the ground in 40 % of every step (both feet in the air)."""
    height = 0.45
    seq = walk_keypoints(WalkerParams(cadence=cadence, step_length=0.75, speed=0.75 * cadence / 60, knee_flexion=100,
                                      arm_swing=60, height=height, view=view), int(4 * FPS), FPS, ASPECT[view])
    if view == "side":
        seq[..., 1] -= lift * height * _pulse(_t(seq), cadence / 60, 0.4, -0.55)[:, None]
    return seq


def walking(view: str = "side", height: float = HEIGHT, seconds: float = 6.0) -> np.ndarray:
    return walk_keypoints(WalkerParams(view=view, height=height), int(seconds * FPS), FPS, ASPECT[view])


def _refusal(seq: np.ndarray, fps: float | None = None, view: str = "side") -> str | None:
    return walk_refusal(walk_features(seq, fps=fps, aspect=ASPECT[view]))


# --- The contract: non-walks are refused, with what was found -------------------------------------
@pytest.mark.parametrize("view", ["side", "front"])
@pytest.mark.parametrize("fps", [None, FPS])
def test_standing_still_moving_the_arms_is_refused(view, fps):
    reason = _refusal(standing(view), fps, view)
    assert reason and reason.startswith(REFUSAL_PREFIX)
    assert "stands in place" in reason and "moves the arms" in reason, reason


@pytest.mark.parametrize("view", ["side", "front"])
@pytest.mark.parametrize("lift", [25.0, 40.0])
def test_stepping_on_the_spot_is_refused(view, lift):
    reason = _refusal(stepping_on_the_spot(view, lift=lift), FPS, view)
    assert reason and "steps on the spot" in reason, reason


@pytest.mark.parametrize("fps", [None, FPS, 25.0])
def test_running_is_refused(fps):
    reason = _refusal(running(), fps)
    assert reason and "runs" in reason and "both feet off the ground" in reason, reason
    if fps:
        assert "steps per second" in reason


def test_running_towards_the_camera_is_refused_by_its_rate_and_speed():
    """Seen from the front, flight hides in perspective; the step rate and speed still show."""
    reason = _refusal(running(view="front"), FPS, "front")
    assert reason and "runs" in reason and "steps per second" in reason, reason


@pytest.mark.parametrize("view", ["side", "front"])
@pytest.mark.parametrize("travel", [0.0, 0.6])
def test_hopping_is_refused(view, travel):
    reason = _refusal(hopping(view, travel=travel), FPS, view)
    assert reason and "hops" in reason and "together" in reason, reason


@pytest.mark.parametrize("frames", [12, 18])
def test_fewer_steps_than_one_gait_cycle_is_refused(frames):
    seq = walk_keypoints(WalkerParams(), frames, FPS)  # 105 steps/min: a step takes 17 frames
    reason = _refusal(seq, FPS)
    assert reason and "fewer steps than one gait cycle" in reason, reason


@pytest.mark.parametrize("view", ["side", "front"])
@pytest.mark.parametrize("fps", [None, FPS])
def test_a_synthetic_walk_is_a_walk(view, fps):
    f = walk_features(walking(view), fps=fps, aspect=ASPECT[view])
    assert walk_refusal(f) is None, f
    assert f.steps >= 8 and f.alternation > 0.3 and f.flight_share < 0.05


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_simulator_presets_are_walks(name):
    seq, _ = simulate(PRESETS[name], seconds=10.0, fps=FPS)
    for fps in (None, 30.0, 25.0):
        f = walk_features(seq, fps=fps)
        assert walk_refusal(f) is None, (name, fps, f)
        assert walking_score(f) > 0.7, (name, fps, walking_score(f))


# --- The real walks ---------------------------------------------------------------------------
# Every real walk must pass, with or without a frame rate, B08_Assistive included: 9 of its 67
# frames have a pose, in all but a few with the ankles at the hips' height; too little is seen
# to judge, so it is not refused (the analysis warns that the person is mostly missing).


def test_real_walks_are_not_refused(shared_data):
    meta = read_gait_metadata(shared_data)
    refused = []
    with NpzSequences(shared_data / "keypoints.npz") as sequences:
        for video_id in meta["video_id"]:
            seq = sequences[video_id]
            for fps in (None, 30.0, 25.0):
                reason = walk_refusal(walk_features(seq, fps=fps))
                if reason is not None:
                    refused.append((video_id, fps, reason))
    assert not refused, refused[:10]
    assert len(meta) >= 200


# --- The walking score: the walker wins, whatever her size ------------------------------------------
def test_a_walker_scores_higher_than_a_larger_person_standing_or_stepping_on_the_spot():
    walker = walking(height=0.4)
    score = {name: walking_score(walk_features(seq, fps=FPS, aspect=ASPECT["side"])) for name, seq in {
        "walker": walker, "standing": standing(height=0.9), "on the spot": stepping_on_the_spot()}.items()}
    assert score["walker"] > 0.8
    assert score["walker"] > score["standing"] + 0.4 and score["walker"] > score["on the spot"] + 0.4, score


def test_the_score_ignores_size_and_position():
    small, large = (walk_features(standing(height=h, seed=1), fps=FPS, aspect=ASPECT["side"]) for h in (0.3, 0.9))
    assert abs(walking_score(small) - walking_score(large)) < 0.05
    shifted = walking()
    shifted[..., 1] -= 0.05
    assert abs(walking_score(walk_features(shifted)) - walking_score(walk_features(walking()))) < 0.02


# --- Junk never raises ------------------------------------------------------------------------------
JUNK = {
    "all NaN": np.full((50, 33, 4), np.nan),
    "2 frames": walking()[:2],
    "1 frame": walking()[:1],
    "no frames": np.zeros((0, 33, 4)),
    "inf": np.full((40, 33, 4), np.inf),
    "huge": walking() * 1e30,
    "zeros": np.zeros((40, 33, 4)),
    "wrong shape": np.zeros((40, 33)),
    "not numbers": [["a"]],
}


@pytest.mark.parametrize("name", sorted(JUNK))
def test_junk_gives_features_and_a_refusal(name):
    f = walk_features(JUNK[name], fps=FPS)
    assert isinstance(f, WalkFeatures)
    reason = walk_refusal(f)
    assert reason and reason.startswith(REFUSAL_PREFIX) and "\n" not in reason
    assert 0.0 <= walking_score(f) <= 0.5
    json.dumps(f.to_dict())


def test_features_are_plain_numbers():
    d = walk_features(walking(), fps=FPS).to_dict()
    assert json.loads(json.dumps(d)) == d
    assert {"frames_in_view", "seconds", "travel_heights", "depth_ratio", "progress_heights", "alternation", "steps",
            "step_rate_hz", "bounce_per_progress", "flight_share", "together", "visibility"} <= set(d)
    assert d["depth_ratio"] >= 1.0 and -1.0 <= d["alternation"] <= 1.0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(seq=arrays(np.float64, st.tuples(st.integers(0, 24), st.just(33), st.just(4)),
                  elements=st.floats(allow_nan=True, allow_infinity=True)),
       fps=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
       aspect=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)))
def test_arbitrary_floats_never_raise(seq, fps, aspect):
    f = walk_features(seq, fps=fps, aspect=aspect)
    reason = walk_refusal(f)
    assert reason is None or reason.startswith(REFUSAL_PREFIX)
    assert 0.0 <= walking_score(f) <= 1.0


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), holes=st.floats(0.0, 0.9), spikes=st.floats(0.0, 0.2))
def test_damaged_walks_never_raise(seed, holes, spikes):
    """A real-looking walk with dropped frames, NaN and inf cells and wild values."""
    rng = np.random.default_rng(seed)
    seq = walking(seconds=2.0).astype(np.float64)
    seq[rng.random(len(seq)) < holes] = np.nan
    cells = rng.random(seq.shape) < spikes
    seq[cells] = rng.choice([np.nan, np.inf, -np.inf, 1e300, -5.0, 0.0], size=int(cells.sum()))
    f = walk_features(seq, fps=FPS)
    assert 0.0 <= walking_score(f) <= 1.0
    assert walk_refusal(f) is None or walk_refusal(f).startswith(REFUSAL_PREFIX)


# --- Through `analyze`: no walk, no gait class ----------------------------------------------------
@pytest.mark.parametrize("make, found", [(standing, "stands in place"), (stepping_on_the_spot, "on the spot"),
                                         (running, "runs"), (hopping, "hops")])
def test_analyze_refuses_a_non_walk_with_one_error_line(make, found, tmp_path, capsys):
    """A `gaitlab pose` style CSV (with its times, so the rate is known) of each non-walk: the
    command line exits 2 with one `error:` line naming what was found, and prints no class."""
    from gaitlab.cli import main
    from gaitlab.pipeline.pose import keypoints_csv_text

    seq = make()
    frames = np.arange(len(seq))
    path = tmp_path / "case.csv"
    path.write_text(keypoints_csv_text(seq, frames, frames / FPS), encoding="utf-8")
    assert main(["analyze", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith("error: " + REFUSAL_PREFIX) and found in err, err
