"""The keypoint teacher's network and how it reads a walk: the second opinion beside the student.

A temporal conv net over full-rate landmark sequences. Neither a sequence's length nor its
frame rate may reach the network (both differ by group in the data and would be a shortcut):
it sees windows of a fixed number of gait cycles, each resampled to a fixed number of steps
per estimated cycle, as per-step features (mid-hip-centred joints in body heights, joint
angles, their rates per cycle; `features_from_points`); a sequence's prediction is the mean
over windows tiling it.

The shipped teacher is the mean of three such nets fitted from different seeds
(`TeacherEnsemble`), and reads every window also with left and right swapped.

Input: cleaned keypoint sequences float [T_i, 33, 4]. `KeypointTeacher.predict_proba(seqs)` →
class probabilities [N, 9]; `span_proba` gives one window's. Training (augmentation, `fit`)
lives in `gaitlab.training.teacher`; the shipped teacher loads with `load_teacher`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gaitlab.constants import NUM_CLASSES
from gaitlab.pipeline.features import BodyFrame, angle_deg, body_frame, lean_deg, resample_time
from gaitlab.pipeline.landmarks import ANKLE, ELBOW, HIP, KNEE, MIRROR_ORDER, SHOULDER, WRIST

# The joints the teacher reads: nose, arms, hips and legs down to the toes (not the face).
JOINTS: tuple[int, ...] = (0,) + tuple(range(11, 17)) + tuple(range(23, 33))
N_ANGLES = 7
N_FEATURES = 2 * 2 * len(JOINTS) + 2 * N_ANGLES + 2  # positions, velocities, angles (+rates), hip velocity


def _angles(p: np.ndarray) -> np.ndarray:
    """Knees, thighs, elbows (left, right) and trunk lean [L, 7], radians. p: [L, 33, 2]."""
    hip_mid, sh_mid = p[:, list(HIP)].mean(1), p[:, list(SHOULDER)].mean(1)
    cols = [angle_deg(p[:, HIP[s]], p[:, KNEE[s]], p[:, ANKLE[s]]) for s in (0, 1)]
    cols += [lean_deg(p[:, KNEE[s]], p[:, HIP[s]]) for s in (0, 1)]
    cols += [angle_deg(p[:, SHOULDER[s]], p[:, ELBOW[s]], p[:, WRIST[s]]) for s in (0, 1)]
    cols.append(lean_deg(hip_mid, sh_mid))
    return np.radians(np.stack(cols, axis=1))


def _rate(x: np.ndarray, steps_per_cycle: float) -> np.ndarray:
    """Central differences over time in units per gait cycle (rate-free): [L, ...]. (A backward
    difference would sit half a frame early, and a frame's length differs between videos.)"""
    return np.gradient(x, axis=0) * steps_per_cycle if len(x) > 1 else np.zeros_like(x)


def features_from_points(p: np.ndarray, steps_per_cycle: float) -> np.ndarray:
    """Per-step features float32 [L, N_FEATURES] from `BodyFrame` points p [L, 33, 2] sampled at
    `steps_per_cycle` samples per gait cycle: mid-hip-centred joints, their velocities, joint
    angles and their rates, and the mid-hip's own velocity (walking speed, bounce)."""
    hip_mid = p[:, list(HIP)].mean(1)
    rel = (p[:, list(JOINTS)] - hip_mid[:, None]).reshape(len(p), -1)
    ang = _angles(p)
    parts = [rel, _rate(rel, steps_per_cycle), ang, _rate(ang, steps_per_cycle), _rate(hip_mid, steps_per_cycle)]
    return np.concatenate(parts, axis=1).astype(np.float32)


def keypoint_features(seq: np.ndarray) -> np.ndarray:
    """float32 [T, N_FEATURES] for a keypoint sequence [T, 33, 4] at its own frame rate.

    The person walks towards +x, lengths are in body heights and velocities in units per
    gait cycle, so the values do not depend on frame rate, image size or walking direction.
    """
    frame = body_frame(seq)
    return features_from_points(frame.points.astype(np.float64), frame.cycle_frames)


class _Block(nn.Module):
    """Residual pair of dilated convolutions: x [B, C, L], m float [B, 1, L] → [B, C, L].

    Every layer re-zeroes the padding (m = 0), so a padded short window gives the same
    result as the same window unpadded."""

    def __init__(self, channels: int, dilation: int, dropout: float) -> None:
        super().__init__()
        conv = lambda: nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)  # noqa: E731
        self.conv1, self.bn1, self.conv2, self.bn2 = conv(), nn.BatchNorm1d(channels), conv(), nn.BatchNorm1d(channels)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        h = self.drop(F.gelu(self.bn1(self.conv1(x))) * m)
        return F.gelu(x + self.bn2(self.conv2(h))) * m


class TemporalConvNet(nn.Module):
    """x float [B, F, L] (features over L time steps), mask bool [B, L] or None → logits [B, 9].

    Input batch norm, a width-5 stem, residual blocks with growing dilation (receptive field
    ≈ 1 + 4·Σ dilations + 4 steps), then mean and max pooling over the valid steps → linear.
    """

    def __init__(self, in_features: int = N_FEATURES, channels: int = 48,
                 dilations: Sequence[int] = (1, 2, 4), dropout: float = 0.2) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(in_features)
        self.stem = nn.Sequential(nn.Conv1d(in_features, channels, 5, padding=2), nn.BatchNorm1d(channels), nn.GELU())
        self.blocks = nn.ModuleList([_Block(channels, d, dropout) for d in dilations])
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * channels, NUM_CLASSES))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            mask = torch.ones(x.shape[0], x.shape[2], dtype=torch.bool, device=x.device)
        m = mask[:, None, :].to(x.dtype)
        h = self.stem(self.norm(x) * m) * m
        for block in self.blocks:
            h = block(h, m)
        mean = h.sum(2) / m.sum(2).clamp(min=1)
        peak = h.masked_fill(~mask[:, None, :], float("-inf")).amax(2)
        return self.head(torch.cat([mean, peak], dim=1))


class TeacherEnsemble(nn.Module):
    """`members` temporal conv nets fitted from different seeds, read as one model.

    x float [B, F, L], mask bool [B, L] or None → the log of the members' mean softmax [B, 9].
    It stands in for logits: its softmax is that mean, and dividing it by a temperature T
    tempers the mean as p^(1/T). One net's opinion swings by a few points of accuracy with its
    seed; the mean of three is steadier (`weights/protocol.json`, recipe `teacher`).
    """

    def __init__(self, members: int = 3, in_features: int = N_FEATURES, channels: int = 48,
                 dilations: Sequence[int] = (1, 2, 4), dropout: float = 0.2) -> None:
        super().__init__()
        self.members = nn.ModuleList([TemporalConvNet(in_features, channels, dilations, dropout) for _ in range(members)])

    @property
    def norm(self) -> nn.BatchNorm1d:
        """The first member's input norm (its `num_features` is the input width)."""
        return self.members[0].norm

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mean = torch.stack([torch.softmax(m(x, mask), dim=1) for m in self.members]).mean(0)
        return torch.log(mean.clamp_min(1e-12))


@dataclass
class TeacherConfig:
    """The teacher's architecture, windowing, augmentation and optimisation."""

    cycles_per_window: float = 2.0
    steps_per_cycle: int = 16  # window length = cycles_per_window * steps_per_cycle
    channels: int = 48
    dilations: tuple[int, ...] = (1, 2, 4)  # receptive field 33 steps: the whole window
    dropout: float = 0.2
    epochs: int = 40  # 25 → 40: pooled out-of-fold accuracy 0.759 → 0.792 (same folds)
    windows_per_video: int = 8  # random windows per training video per epoch
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    class_balance: float = 1.0  # see dataset.class_balanced_weights
    span_jitter: tuple[float, float] = (0.8, 1.25)  # cycle-estimate error, as the student sees it
    scale_jitter: float = 0.08  # independent x / y scale: aspect-ratio and height error
    rotate_deg: float = 4.0  # camera roll
    noise: float = 0.004  # keypoint jitter, body heights
    mirror_prob: float = 0.5  # swap left and right (a mirrored video, once walking direction is fixed)
    eval_stride_cycles: float = 1.0  # spacing of the windows that tile a sequence at evaluation
    members: int = 3  # nets fitted from seeds seed, seed + 1, …, averaged (`TeacherEnsemble`)
    mirror_tta: bool = True  # read every window as given and with left and right swapped, averaged
    seed: int = 0
    threads: int = 1  # torch threads while fitting (the caller's setting is restored afterwards)

    @property
    def window_steps(self) -> int:
        return int(round(self.cycles_per_window * self.steps_per_cycle))


def _window(frame: BodyFrame, start: float, span: float, cfg: TeacherConfig) -> np.ndarray:
    """BodyFrame points over frames [start, start + span] at cfg.steps_per_cycle per (estimated)
    cycle, where `span` is in frames; shorter when the sequence ends first: [L, 33, 2]."""
    last = len(frame.points) - 1
    span_in = min(span, last - start)
    steps = max(2, int(round(cfg.window_steps * span_in / span)) if span > 0 else 2)
    return resample_time(frame.points.astype(np.float64), start + np.linspace(0.0, span_in, steps))


def _batch(windows: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Feature windows [L_i, F] → zero-padded x [B, F, L] and mask [B, L]."""
    length = max(len(w) for w in windows)
    x = np.zeros((len(windows), length, windows[0].shape[1]), np.float32)
    mask = np.zeros((len(windows), length), bool)
    for i, w in enumerate(windows):
        x[i, : len(w)], mask[i, : len(w)] = w, True
    return torch.from_numpy(x).transpose(1, 2), torch.from_numpy(mask)


@dataclass
class KeypointTeacher:
    """A keypoint teacher for inference: `config` (windowing) and a trained `net`.

    `gaitlab.training.teacher.Teacher` adds `fit`. `net` is a `TeacherEnsemble` (or one
    `TemporalConvNet`), saved and loaded like the student (`weights.save_weights`, architecture
    "keypoint_teacher_ensemble" or "keypoint_teacher"). With `config.mirror_tta` every window
    is also read with left and right swapped (training mirrors half its windows so) and the two
    readings' probabilities are averaged.
    """

    config: TeacherConfig = field(default_factory=TeacherConfig)
    net: TemporalConvNet | None = None
    history: list[dict[str, float]] = field(default_factory=list)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.net.state_dict()

    def _spans(self, frame: BodyFrame) -> list[tuple[float, float]]:
        """(start, span) in frames of the windows tiling a whole sequence."""
        span = self.config.cycles_per_window * frame.cycle_frames
        free = len(frame.points) - 1 - span
        if free <= 0:
            return [(0.0, span)]
        count = int(math.ceil(free / (self.config.eval_stride_cycles * frame.cycle_frames))) + 1
        return [(float(s), span) for s in np.linspace(0.0, free, count)]

    @torch.no_grad()
    def _window_proba(self, frame: BodyFrame, spans: Sequence[tuple[float, float]], temperature: float) -> np.ndarray:
        """softmax(logits / temperature) of each window `spans` of `frame`: [len(spans), 9]
        (with `config.mirror_tta`, the mean of the window read as given and mirrored)."""
        cfg = self.config
        points = [_window(frame, s, w, cfg) for s, w in spans]
        if cfg.mirror_tta:
            points += [p[:, MIRROR_ORDER] for p in points]
        x, mask = _batch([features_from_points(p, cfg.steps_per_cycle) for p in points])
        self.net.eval()
        probs = torch.softmax(self.net(x, mask) / temperature, dim=1).numpy()
        return probs.reshape(2, len(spans), -1).mean(0) if cfg.mirror_tta else probs

    def frame_proba(self, frame: BodyFrame, temperature: float = 1.0) -> np.ndarray:
        """Mean softmax(logits / temperature) over the windows tiling a `BodyFrame`: [9]."""
        return self._window_proba(frame, self._spans(frame), temperature).mean(0)

    def predict_proba(self, seqs: Sequence[np.ndarray], temperature: float = 1.0) -> np.ndarray:
        """Whole-sequence class probabilities [N, 9] (mean over windows tiling each sequence)."""
        return np.stack([self.frame_proba(body_frame(s), temperature) for s in seqs])

    def span_proba(self, frame: BodyFrame, start: float, end: float, temperature: float = 1.0) -> np.ndarray:
        """softmax(logits / temperature) [9] of one window centred on frames [start, end] of a
        `BodyFrame`, widened to `cycles_per_window` cycles (the teacher's context) and kept
        inside the sequence."""
        span = max(self.config.cycles_per_window * frame.cycle_frames, end - start)
        first = float(np.clip((start + end - span) / 2, 0.0, max(len(frame.points) - 1 - span, 0.0)))
        return self._window_proba(frame, [(first, span)], temperature)[0]

    def window_proba(self, seq: np.ndarray, start: float, end: float, temperature: float = 1.0) -> np.ndarray:
        """`span_proba` of frames [start, end] of a gap-filled sequence [T, 33, 4]: [9]."""
        return self.span_proba(body_frame(seq), start, end, temperature)
