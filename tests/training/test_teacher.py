"""The keypoint teacher: rate-free inputs, a tiny training run, windows and soft targets."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from gaitlab.pipeline.features import mirror
from gaitlab.training.teacher import (N_FEATURES, TeacherConfig, TeacherEnsemble, TemporalConvNet, keypoint_features,
                                     teacher_soft_targets, train_teacher)
from gaitlab.synth.walker import WalkerParams, walk_keypoints

NORMAL, STOOPED = 0, 5  # class ids used for the two generated groups


def test_keypoint_features_shape_and_invariances(monkeypatch):
    # The extractor's invariances, on a walker seen without perspective (with it, walking the
    # other way turns the other side of the body towards the camera, a real difference).
    import gaitlab.synth.walker as walker

    monkeypatch.setattr(walker, "SIDE_DISTANCE", 1e12)
    seq = walk_keypoints(WalkerParams(), 120, 30.0)
    f = keypoint_features(seq)
    assert f.shape == (120, N_FEATURES) and f.dtype == np.float32 and np.isfinite(f).all()
    # Walking right→left gives the same features once the direction is normalised.
    back = keypoint_features(walk_keypoints(WalkerParams(direction=-1), 120, 30.0))
    assert np.abs(back - f).max() < 1e-3
    # Twice the frame rate: positions match at shared instants, velocities (per cycle) too.
    fast = keypoint_features(walk_keypoints(WalkerParams(), 240, 60.0))
    inner = slice(10, 110)
    # (The walker's hip snaps to the lowest foot, so compare typical, not worst-case, error; the
    # hip's velocity is the worst, 0.025 with MediaPipe's shorter feet.)
    assert (np.abs(fast[::2][inner] - f[inner]).mean(0) <= 0.05 * np.abs(f[inner]).max(0) + 0.015).all()


def test_network_shapes_and_masked_padding():
    net = TemporalConvNet().eval()
    x = torch.randn(3, N_FEATURES, 32)
    assert net(x).shape == (3, 9)
    mask = torch.ones(3, 32, dtype=torch.bool)
    mask[0, 20:] = False
    padded = x.clone()
    padded[0, :, 20:] = 123.0  # junk in the padding must not leak through the pooling much
    a, b = net(x, mask), net(padded, mask)
    assert torch.allclose(a, b, atol=1e-4)
    assert torch.allclose(net(x[:1, :, :20]), a[:1], atol=1e-4)  # same as an unpadded short window


def _two_groups(n: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Upright vs stooped walkers of random length, frame rate, phase and direction."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        stooped = i % 2 == 1
        fps = float(rng.choice([25.0, 30.0, 50.0]))
        params = WalkerParams(trunk_flexion=25.0 if stooped else 0.0, knee_flexion=rng.uniform(50, 65),
                              phase=rng.random(), direction=int(rng.choice([-1, 1])))
        seqs.append(walk_keypoints(params, int(rng.integers(2, 5) * fps), fps))
        labels.append(STOOPED if stooped else NORMAL)
    return seqs, np.array(labels)


def test_teacher_learns_two_generated_classes():
    seqs, labels = _two_groups(12, seed=0)
    # 10 epochs: at 6 the upright walkers were still at 0.29 vs 0.33 once the walker gained a side
    # camera's perspective (a nuisance that flips with the walking direction); at 10 all are right.
    config = TeacherConfig(epochs=10, windows_per_video=8, batch_size=16, channels=16, lr=5e-3, seed=0, members=1)
    teacher = train_teacher(seqs, labels, config)
    losses = [h["loss"] for h in teacher.history]
    assert losses[-1] < 0.7 * losses[0]
    test_seqs, test_labels = _two_groups(8, seed=1)
    proba = teacher.predict_proba(test_seqs)
    assert proba.shape == (8, 9) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert (proba.argmax(1) == test_labels).all()
    assert teacher.state_dict().keys() == TemporalConvNet(channels=16).state_dict().keys()

    # One window and the distillation helper agree with the whole-sequence view here.
    seq = test_seqs[1]
    w = teacher.window_proba(seq, 10, 40)
    assert w.shape == (9,) and w.argmax() == STOOPED
    assert teacher.window_proba(mirror(seq), 10, 40).argmax() == STOOPED
    for scope in ("window", "sequence"):
        fn = teacher_soft_targets(teacher, test_seqs, temperature=2.0, scope=scope)
        soft = fn(torch.tensor([0, 1]), torch.tensor([list(range(0, 32, 4))] * 2))
        assert soft.shape == (2, 9) and torch.allclose(soft.sum(1), torch.ones(2), atol=1e-5)
        assert soft[0].argmax() == NORMAL and soft[1].argmax() == STOOPED
        sharp = teacher_soft_targets(teacher, test_seqs, temperature=1.0, scope=scope)(
            torch.tensor([1]), torch.tensor([list(range(0, 32, 4))]))
        assert sharp.max() > soft[1].max()  # a higher temperature softens the targets
    with pytest.raises(ValueError):
        teacher_soft_targets(teacher, test_seqs, scope="clip")


def test_ensemble_is_the_mean_of_its_members_and_reads_mirrors():
    """Three members from consecutive seeds; the ensemble's output is the log of the members'
    mean softmax, and mirror reading averages a window with its left/right swap."""
    seqs, labels = _two_groups(8, seed=2)
    config = TeacherConfig(epochs=2, windows_per_video=4, batch_size=16, channels=8, lr=5e-3, seed=4, members=3)
    teacher = train_teacher(seqs, labels, config)
    assert isinstance(teacher.net, TeacherEnsemble) and len(teacher.net.members) == 3
    assert sorted({h["member"] for h in teacher.history}) == [0, 1, 2] and len(teacher.history) == 6
    single = train_teacher(seqs, labels, TeacherConfig(**{**config.__dict__, "members": 1, "seed": 5}))
    assert all(torch.equal(a, b) for a, b in zip(teacher.net.members[1].state_dict().values(),
                                                 single.net.state_dict().values()))  # member k: seed + k
    x = torch.randn(2, N_FEATURES, 32)
    mean = torch.stack([torch.softmax(m(x), 1) for m in teacher.net.members]).mean(0)
    assert torch.allclose(torch.softmax(teacher.net(x), 1), mean, atol=1e-5)
    assert not torch.allclose(teacher.net.members[0](x), teacher.net.members[1](x))  # the seeds differ

    from gaitlab.pipeline.features import body_frame
    from gaitlab.pipeline.landmarks import MIRROR_ORDER

    frame = body_frame(seqs[0])
    both = teacher.frame_proba(frame)
    teacher.config.mirror_tta = False
    plain = teacher.frame_proba(frame)
    swapped = teacher.frame_proba(type(frame)(frame.points[:, MIRROR_ORDER], frame.cycle_frames, frame.direction))
    assert np.allclose(both, (plain + swapped) / 2, atol=1e-5) and not np.allclose(plain, swapped)
