"""gaitlab.training.clip_bank: training clips rendered once, pooled as the student pools (fast)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from gaitlab.constants import CLIP_FRAMES, FRAME_SIZE
from gaitlab.model import build
from gaitlab.pipeline.clips import to_model_input
from gaitlab.training.clip_bank import SHIFT, ClipBank, pool_frames
from gaitlab.training.dataset import GaitData, sample_training_clip


@pytest.fixture(scope="module")
def data() -> GaitData:
    from gaitlab.synth.walker import WalkerParams, walk_keypoints

    meta = pd.DataFrame({"video_id": ["a", "b"], "label": ["Normal", "PD_Mild"], "subject_id": ["s1", "s2"]})
    seqs = {"a": walk_keypoints(WalkerParams(), 90, aspect=16 / 9),
            "b": walk_keypoints(WalkerParams(speed=0.4, direction=-1), 120, aspect=16 / 9)}
    return GaitData.from_sequences(meta, seqs)


def test_bank_holds_the_pooled_training_draws(data):
    """Entry (row, k) is `sample_training_clip` with generator [seed, row, k], pooled 4x4: the
    bank is reproducible and its draws differ from one another."""
    bank = ClipBank(data, np.array([0, 1]), per_row=3, pool=4, seed=5)
    assert bank.clips.shape == (6, CLIP_FRAMES, FRAME_SIZE // 4, FRAME_SIZE // 4, 3) and bank.clips.dtype == np.uint8
    assert bank.rows.tolist() == [0, 0, 0, 1, 1, 1]
    n = int(bank.ids_of(1)[2])
    idx, frames = sample_training_clip(data, 1, np.random.default_rng([5, 1, 2]))
    assert np.array_equal(bank.clips[n], pool_frames(frames, 4)) and bank.indices[n].tolist() == list(idx)
    assert not np.array_equal(bank.clips[bank.ids_of(0)[0]], bank.clips[bank.ids_of(0)[1]])
    again = ClipBank(data, np.array([1]), per_row=3, pool=4, seed=5)
    assert np.array_equal(again.clips, bank.clips[bank.ids_of(1)])


def test_pool_frames_is_the_block_mean_rounded():
    frames = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3)).astype(np.uint8)
    pooled = pool_frames(frames, 4)
    assert pooled.shape == (2, 2, 2, 3)
    assert pooled[1, 0, 1, 2] == np.rint(frames[1, 0:4, 4:8, 2].astype(float).mean())
    with pytest.raises(ValueError):
        pool_frames(frames, 3)


def test_student_on_pooled_bank_clips_matches_the_full_clip(data):
    """Training reads the bank through `pooled_features`; inference reads the full frames through
    `features`: for the same clip both agree to the rounding of the pooled levels."""
    torch.manual_seed(0)
    model = build("pose_student").eval()
    bank = ClipBank(data, np.array([0]), per_row=1, pool=4, seed=1)
    _, frames = sample_training_clip(data, 0, np.random.default_rng([1, 0, 0]))
    with torch.no_grad():
        full = model.features(to_model_input(frames))
        pooled = model.pooled_features(bank.batch(np.array([0])))
    assert torch.allclose(full, pooled, atol=0.05 * float(full.abs().max()) + 1e-4)


def test_batches_are_normalised_and_shifted(data):
    bank = ClipBank(data, np.array([0]), per_row=2, pool=4, seed=0)
    plain = bank.batch(np.array([0, 1]))
    assert plain.shape == (2, 3, CLIP_FRAMES, FRAME_SIZE // 4, FRAME_SIZE // 4) and plain.dtype == torch.float32
    assert float(plain.min()) == pytest.approx(-0.485 / 0.229, abs=1e-3)  # black, normalised (channel 0)
    rng = np.random.default_rng(3)
    shifted = [bank.batch(np.array([0]), rng) for _ in range(8)]
    assert any(not torch.equal(s, plain[:1]) for s in shifted)
    for s in shifted:  # a translation by at most SHIFT pixels: the lit pixel count barely changes
        lit, lit0 = (s > 0).sum(), (plain[:1] > 0).sum()
        assert abs(int(lit) - int(lit0)) <= 0.1 * int(lit0) + 3 * SHIFT * CLIP_FRAMES * FRAME_SIZE // 4
    draws = bank.draw(np.array([0, 0, 0]), rng)
    assert set(draws.tolist()) <= set(bank.ids_of(0).tolist())
