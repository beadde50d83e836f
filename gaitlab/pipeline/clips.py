"""Which frames become model clips, how a keypoint sequence becomes clips, and how 8 frames become one model input tensor.

A clip is `CLIP_FRAMES` frames evenly spaced over about one gait cycle. A case is covered by up
to `MAX_CLIPS` such clips spread over the whole walk, so the per-clip probabilities form a
timeline and a long video costs no more than a short one.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gaitlab.pipeline.keypoints import clean_sequence, source_aspect, step_signal
from gaitlab.pipeline.pose_frames import PoseStyle, pose_frame_matrices, render_pose_frames
from gaitlab.constants import (
    CHANNELS,
    CLIP_FRAMES,
    DEFAULT_CYCLE_FRAMES,
    FRAME_SIZE,
    IMAGENET_MEAN,
    IMAGENET_STD,
    MAX_CLIPS,
)


@dataclass(frozen=True)
class ClipSpan:
    """One clip: the source frame indices of its `CLIP_FRAMES` frames."""

    indices: tuple[int, ...]

    @property
    def start(self) -> int:
        return self.indices[0]

    @property
    def end(self) -> int:
        return self.indices[-1]


def clip_indices(start: float, span: float) -> tuple[int, ...]:
    """`CLIP_FRAMES` frame indices evenly spaced over [start, start + span)."""
    step = span / CLIP_FRAMES
    return tuple(int(round(start + step * i)) for i in range(CLIP_FRAMES))


def plan_clips(n_frames: int, span: float, max_clips: int = MAX_CLIPS) -> list[ClipSpan]:
    """Clips of `span` frames tiling [0, n_frames), at most `max_clips`, spread evenly.

    A walk shorter than one span gives one clip stretched over the whole walk (its frames may
    repeat when there are fewer than 8 frames to spread).
    """
    if n_frames <= 0:
        return []
    span = float(max(span, 1.0))
    if n_frames <= span:
        step = max(n_frames - 1, 0) / max(CLIP_FRAMES - 1, 1)
        return [ClipSpan(tuple(int(round(step * i)) for i in range(CLIP_FRAMES)))]
    n_fit = int(n_frames // span)
    count = min(n_fit, max_clips)
    last_start = n_frames - span
    starts = np.linspace(0.0, last_start, count) if count > 1 else [last_start / 2]
    # Rounding can land the last index on n_frames when a span is only a few frames long.
    return [ClipSpan(tuple(min(i, n_frames - 1) for i in clip_indices(float(s), span))) for s in starts]


def estimate_cycle_frames(signal: np.ndarray, default: float = DEFAULT_CYCLE_FRAMES) -> float:
    """Gait-cycle length in frames from a step signal (e.g. the horizontal ankle distance).

    The step signal peaks twice per gait cycle; its autocorrelation's first clear peak is one
    step, so a cycle is twice that lag. Falls back to `default` when no rhythm is found.
    """
    x = np.asarray(signal, dtype=np.float64)
    ok = np.isfinite(x)
    if ok.sum() < 16:
        return float(default)
    idx = np.arange(len(x))
    x = np.interp(idx, idx[ok], x[ok])
    x = x - x.mean()
    if np.allclose(x, 0):
        return float(default)
    ac = np.correlate(x, x, mode="full")[len(x) - 1 :]
    ac = ac / ac[0]
    min_lag, max_lag = 4, min(len(x) // 2, 90)
    best_lag, best_val = None, 0.2  # demand a reasonably clear rhythm
    for lag in range(min_lag, max_lag):
        if ac[lag] > ac[lag - 1] and ac[lag] >= ac[lag + 1] and ac[lag] > best_val:
            best_lag, best_val = lag, ac[lag]
            break
    if best_lag is None:
        return float(default)
    return float(np.clip(2 * best_lag, 12, 180))


# Per-channel lookup of the normalised value of every uint8 level: [3, 256].
NORMALISED_LEVELS = (
    (np.arange(256, dtype=np.float32)[None, :] / 255.0 - np.array(IMAGENET_MEAN, np.float32)[:, None])
    / np.array(IMAGENET_STD, np.float32)[:, None]
)


def to_model_input(frames: np.ndarray) -> torch.Tensor:
    """`frames` uint8 [8, 224, 224, 3] (pose frames, RGB) or [8, 224, 224] (one channel) → [1, 3, 8, 224, 224].

    Values are scaled to 0..1 and ImageNet-normalised per channel (by table lookup: exact and
    fast); a single-channel frame (e.g. `blank_clip`) is repeated on the three channels.
    """
    frames = np.asarray(frames)
    if frames.shape[:3] != (CLIP_FRAMES, FRAME_SIZE, FRAME_SIZE) or frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames [{CLIP_FRAMES}, {FRAME_SIZE}, {FRAME_SIZE}(, 3)], got {frames.dtype} {frames.shape}")
    if frames.ndim == 3:
        x = NORMALISED_LEVELS[:, frames]  # [3, T, H, W]
    else:
        x = np.stack([NORMALISED_LEVELS[c][frames[..., c]] for c in range(CHANNELS)])
    return torch.from_numpy(x).unsqueeze(0)


def blank_clip() -> torch.Tensor:
    """The model input of 8 all-zero frames [1, 3, 8, 224, 224]: "no video", "nothing there"."""
    return to_model_input(np.zeros((CLIP_FRAMES, FRAME_SIZE, FRAME_SIZE), dtype=np.uint8))


def from_model_input(clip: torch.Tensor) -> np.ndarray:
    """Inverse of `to_model_input` for display: [1, 3, 8, H, W] → uint8 [8, H, W, 3]."""
    mean = torch.tensor(IMAGENET_MEAN).view(CHANNELS, 1, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(CHANNELS, 1, 1, 1)
    x = clip.detach()[0].cpu() * std + mean
    x = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    return x.permute(1, 2, 3, 0).numpy()


def _finite(seq: np.ndarray) -> np.ndarray:
    seq = np.asarray(seq, dtype=np.float32)
    return seq if np.isfinite(seq[..., :2]).all() else clean_sequence(seq)


def keypoint_clips(seq: np.ndarray, style: PoseStyle | None = None, rng: np.random.Generator | None = None,
                   aspect: float | None = None) -> list[tuple[ClipSpan, np.ndarray]]:
    """The evaluation / inference clips of a keypoint sequence: [(span, uint8 [8, 224, 224, 3])].

    `seq` float32 [T, 33, 4], cleaned (`keypoints.clean_sequence`); one with gaps is cleaned
    here first, and span indices then refer to the cleaned sequence. Clips span one estimated
    gait cycle and tile the walk (`plan_clips`, at most 12) and are drawn as pose frames
    (`pose_frames.render_pose_frames`, one crop per clip). `style` defaults to the plain
    `PoseStyle()`. `aspect` (source width/height) defaults to `source_aspect(seq)`.
    """
    seq = _finite(seq)
    cycle = estimate_cycle_frames(step_signal(seq))
    spans = plan_clips(len(seq), cycle)
    aspect = source_aspect(seq) if aspect is None else aspect
    # One render call for all clips keeps one body-height scale and direction for the walk.
    indices = [min(i, len(seq) - 1) for s in spans for i in s.indices]
    frames = render_pose_frames(seq, indices=indices, style=style, rng=rng, aspect=aspect)
    return [(s, frames[k * CLIP_FRAMES : (k + 1) * CLIP_FRAMES]) for k, s in enumerate(spans)]


def keypoint_clip_matrices(seq: np.ndarray, rows, aspect: float | None = None) -> np.ndarray | None:
    """float64 [len(rows), 2, 3]: where `keypoint_clips` placed each of these frames — the affine
    map from normalised image coordinates to model-frame pixels (`pose_frames.pose_frame_matrices`;
    `rows` are whole clips, 8 after 8), with the same cleaning and aspect. None when no frame
    shows a person."""
    seq = _finite(seq)
    return pose_frame_matrices(seq, rows, source_aspect(seq) if aspect is None else aspect)
