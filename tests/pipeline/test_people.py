"""Everyone in view as tracks, and the choice of the walker (`pipeline.people`), on known
landmarks: no MediaPipe here (tests/pipeline/test_real_footage.py runs it on real people).

Each scene is built frame by frame from the synthetic walker's landmarks, as the detector
would return them (a list of [33, 4] poses per frame, in no particular order), and run
through `TrackLinker`, `describe_people` and `choose_walker`.
"""
from __future__ import annotations

import numpy as np
import pytest

from gaitlab.pipeline.landmarks import HIP
from gaitlab.pipeline.people import (
    EXPIRE_S, TrackLinker, body_geometry, choose_walker, describe_people, no_walk_reason,
)
from gaitlab.pipeline.walking import REFUSAL_PREFIX
from gaitlab.synth.walker import WalkerParams, walk_keypoints

W, H, FPS = 1280, 720, 30.0


def standing(n: int, x: float, height: float, seed: int = 0) -> np.ndarray:
    """A person standing at pelvis x, `height` of the frame tall, breathing (tiny jitter)."""
    one = walk_keypoints(WalkerParams(start_x=x, height=height, speed=0.0), 1, FPS, aspect=W / H)[0]
    jitter = np.random.default_rng(seed).normal(0, 0.001, (n, 33, 2))
    seq = np.repeat(one[None], n, axis=0)
    seq[..., :2] += jitter
    return seq.astype(np.float32)


def walking(n: int, **kw) -> np.ndarray:
    return walk_keypoints(WalkerParams(**kw), n, FPS, aspect=W / H)


def run(scene: list[np.ndarray], shuffle_seed: int = 0):
    """Link a scene (people's sequences [T, 33, 4], NaN rows where out of view) and describe
    the tracks; poses reach the linker in a shuffled order each frame."""
    rng = np.random.default_rng(shuffle_seed)
    n = len(scene[0])
    linker = TrackLinker(W, H, FPS)
    for row in range(n):
        poses = [s[row] for s in scene if np.isfinite(s[row, :, :2]).all()]
        rng.shuffle(poses)
        linker.update(row, poses)
    tracks = linker.tracks()
    people = describe_people(tracks, np.arange(n), FPS, W, H)
    return tracks, people


def owner(tracks, scene, row: int) -> dict[int, int]:
    """track id → index of the scene person whose pose it holds at `row`."""
    out = {}
    for t in tracks:
        if row in t.rows:
            pose = t.poses[t.rows.index(row)]
            out[t.id] = next(k for k, s in enumerate(scene) if np.array_equal(s[row], pose))
    return out


def test_a_large_person_standing_does_not_beat_a_smaller_one_crossing():
    n = 150
    big = standing(n, x=0.5, height=0.85)  # nearer the camera, in view first and all along
    walker = walking(n, start_x=0.1, height=0.45, speed=0.8)
    tracks, people = run([big, walker])
    assert len(people) == 2
    chosen = choose_walker(people)
    holder = {tid: k for row in range(n) for tid, k in owner(tracks, [big, walker], row).items()}
    assert holder[chosen] == 1  # the walker, though smaller and found second
    standing_one = next(p for p in people if p.id != chosen)
    assert standing_one.refusal is not None and standing_one.refusal.startswith(REFUSAL_PREFIX)
    assert no_walk_reason(people, chosen) is None
    assert no_walk_reason(people, standing_one.id) == standing_one.refusal  # --person the other


def test_two_people_passing_each_other_keep_their_own_tracks():
    n = 120
    a = walking(n, start_x=0.15, height=0.5, speed=0.9)
    b = walking(n, start_x=0.85, height=0.5, speed=0.9, direction=-1, phase=0.3)
    scene = [a, b]
    tracks, people = run(scene, shuffle_seed=3)
    assert len(tracks) == 2
    for row in range(n):  # every frame, each track holds the same person as at the start
        assert owner(tracks, scene, row) == owner(tracks, scene, 0)
    xs = [np.array([np.mean(p[list(HIP), 0]) for p in t.poses]) for t in tracks]
    assert all(abs(np.sign(np.diff(x)).sum()) > 0.9 * (len(x) - 1) for x in xs)  # one direction each


def test_a_person_alone_at_the_start_and_a_walker_entering_later():
    n = 180
    early = standing(n, x=0.75, height=0.6)
    late = walking(n, start_x=-0.1, height=0.55, speed=0.8)
    late[:60] = np.nan  # enters after 2 s
    scene = [early, late]
    tracks, people = run(scene)
    assert len(tracks) == 2
    first = owner(tracks, scene, 0)
    assert list(first.values()) == [0]
    chosen = choose_walker(people)
    assert owner(tracks, scene, 120)[chosen] == 1 and chosen not in first  # a new track, chosen


def test_a_newcomer_never_inherits_a_track_that_expired():
    n = 180
    leaver = walking(n, start_x=0.7, height=0.5, speed=0.9)
    leaver[40:] = np.nan  # gone after 1.3 s
    comer = walking(n, start_x=0.05, height=0.5, speed=0.9)
    comer[:40 + int(2 * EXPIRE_S * FPS)] = np.nan  # appears 2 s later, far away
    tracks, _ = run([leaver, comer])
    assert len(tracks) == 2


def test_a_walker_hidden_for_a_moment_stays_one_person():
    n = 150
    walker = walking(n, start_x=0.1, height=0.5, speed=0.8)
    walker[60:95] = np.nan  # behind someone for a little over a second
    tracks, people = run([walker])
    assert len(tracks) == 1 and people[0].frames == n - 35


def test_nobody_walking_among_several_is_said_plainly():
    n = 120
    tracks, people = run([standing(n, 0.3, 0.6), standing(n, 0.7, 0.5, seed=1)])
    chosen = choose_walker(people)
    reason = no_walk_reason(people, chosen)
    assert reason.startswith(REFUSAL_PREFIX + "2 people in view and none of them walks")


def test_body_geometry_is_in_pixels():
    pose = walking(1, start_x=0.5, height=0.5)[0]
    centre, body = body_geometry(pose, W, H)
    assert body == pytest.approx(np.ptp(pose[:, 1]) * H)
    assert 0.4 * W < centre[0] < 0.6 * W


def test_no_people_no_choice():
    assert choose_walker([]) is None and no_walk_reason([], None) is None
