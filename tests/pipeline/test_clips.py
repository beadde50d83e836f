import numpy as np
import torch

from gaitlab.pipeline.clips import clip_indices, estimate_cycle_frames, from_model_input, plan_clips, to_model_input
from gaitlab.constants import CLIP_FRAMES, MAX_CLIPS


def test_plan_clips_tiles_and_caps():
    spans = plan_clips(300, 36)
    assert len(spans) == 8
    assert all(len(s.indices) == CLIP_FRAMES for s in spans)
    assert spans[0].start == 0 and spans[-1].end < 300
    assert all(b.start >= a.start for a, b in zip(spans, spans[1:]))
    long = plan_clips(100_000, 36)
    assert len(long) == MAX_CLIPS and long[-1].end < 100_000


def test_plan_clips_short_walk_and_empty():
    spans = plan_clips(10, 36)
    assert len(spans) == 1 and spans[0].end <= 9 and spans[0].start == 0
    assert plan_clips(0, 36) == []
    assert clip_indices(10, 16) == (10, 12, 14, 16, 18, 20, 22, 24)


def test_cycle_estimate_recovers_period():
    t = np.arange(300)
    # Ankle distance peaks at every step, twice per gait cycle: steps of 40 frames → cycle 80.
    signal = np.abs(np.sin(np.pi * t / 40.0))
    assert abs(estimate_cycle_frames(signal) - 80) <= 2
    assert estimate_cycle_frames(np.zeros(100)) == estimate_cycle_frames(np.full(5, np.nan))


def test_model_input_round_trip():
    frames = np.zeros((8, 224, 224), np.uint8)
    frames[:, 50:150, 100:120] = 255
    x = to_model_input(frames)
    assert x.shape == (1, 3, 8, 224, 224) and x.dtype == torch.float32
    back = from_model_input(x)
    assert back.shape == (8, 224, 224, 3)
    assert np.abs(back[..., 0].astype(int) - frames).max() <= 1


def test_plan_clips_never_passes_the_last_frame():
    for n in range(9, 60):
        for span in (1.2, 2.0, 3.3, 7.9, 8.0, 36.0):
            assert all(0 <= i < n for c in plan_clips(n, span) for i in c.indices)
