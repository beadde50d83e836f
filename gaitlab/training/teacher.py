"""Training the keypoint teacher (`gaitlab.teacher_net`), and its soft targets for distillation.

`Teacher` is a `KeypointTeacher` that can `fit` (scikit-learn style): `config.members` nets
from consecutive seeds (their mean is the teacher), each on random windows of whole estimated
gait cycles, augmented (mirror, camera roll, aspect and height error, keypoint jitter),
class-balanced draws, AdamW with a one-cycle schedule. `teacher_soft_targets` turns a
trained teacher into the `TeacherFn` a student distils from.

Input: keypoint sequences float [T_i, 33, 4] and class ids [N].
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from gaitlab.pipeline.features import BodyFrame, body_frame
from gaitlab.pipeline.landmarks import MIRROR_ORDER
from gaitlab.teacher_net import (N_FEATURES, KeypointTeacher, TeacherConfig, TeacherEnsemble,  # noqa: F401  (re-exported)
                                 TemporalConvNet, _batch, _window, features_from_points, keypoint_features)
from gaitlab.training.dataset import class_balanced_weights

# teacher_probs(rows [B], indices [B, 8]) → soft targets [B, 9]: the teacher's class
# probabilities (already at the distillation temperature) for the same video moments.
TeacherFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _augment(p: np.ndarray, rng: np.random.Generator, cfg: TeacherConfig) -> np.ndarray:
    if rng.random() < cfg.mirror_prob:
        p = p[:, MIRROR_ORDER]
    a = np.radians(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    scale = 1.0 + rng.uniform(-cfg.scale_jitter, cfg.scale_jitter, 2)
    return (p @ rot.T) * scale + rng.normal(0.0, cfg.noise, p.shape)


class Teacher(KeypointTeacher):
    """A teacher that can be trained: `fit(seqs, labels)` returns self, then `predict_proba`."""

    def fit(self, seqs: Sequence[np.ndarray], labels: np.ndarray) -> Teacher:
        """Train `config.members` fresh nets on `seqs` ([T_i, 33, 4] each) with class ids
        `labels` [N], from seeds `config.seed`, `config.seed + 1`, …; `net` becomes their
        `TeacherEnsemble` (one member: the plain `TemporalConvNet`)."""
        cfg, labels, threads = self.config, np.asarray(labels), torch.get_num_threads()
        torch.set_num_threads(cfg.threads)  # restored below: the caller's setting is its own
        frames = [body_frame(s) for s in seqs]
        self.history = []
        nets = [self._fit_member(frames, labels, cfg.seed + k, k) for k in range(max(1, cfg.members))]
        if len(nets) == 1:
            self.net = nets[0]
        else:
            self.net = TeacherEnsemble(len(nets), N_FEATURES, cfg.channels, cfg.dilations, cfg.dropout)
            for slot, net in zip(self.net.members, nets):
                slot.load_state_dict(net.state_dict())
        self.net.eval()
        torch.set_num_threads(threads)
        return self

    def _fit_member(self, frames: list[BodyFrame], labels: np.ndarray, seed: int, member: int) -> TemporalConvNet:
        """One `TemporalConvNet` trained from `seed`; its epochs are appended to `history`."""
        cfg = self.config
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        net = TemporalConvNet(N_FEATURES, cfg.channels, cfg.dilations, cfg.dropout)
        p_draw = class_balanced_weights(labels, cfg.class_balance)
        steps_per_epoch = math.ceil(cfg.windows_per_video * len(frames) / cfg.batch_size)
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
        for epoch in range(cfg.epochs):
            t0, losses = time.perf_counter(), []
            net.train()
            for _ in range(steps_per_epoch):
                rows = rng.choice(len(frames), size=cfg.batch_size, p=p_draw)
                x, mask = _batch([self._random_window(frames[r], rng) for r in rows])
                loss = F.cross_entropy(net(x, mask), torch.from_numpy(labels[rows]).long(),
                                       label_smoothing=cfg.label_smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                losses.append(float(loss.detach()))
            self.history.append({"member": member, "epoch": epoch + 1, "loss": float(np.mean(losses)),
                                 "seconds": time.perf_counter() - t0})
        return net.eval()

    def _random_window(self, frame: BodyFrame, rng: np.random.Generator) -> np.ndarray:
        cfg = self.config
        span = cfg.cycles_per_window * frame.cycle_frames * rng.uniform(*cfg.span_jitter)
        start = rng.uniform(0.0, max(len(frame.points) - 1 - span, 0.0))
        p = _augment(_window(frame, start, span, cfg), rng, cfg)
        return features_from_points(p, cfg.steps_per_cycle)


def train_teacher(seqs: Sequence[np.ndarray], labels: np.ndarray, config: TeacherConfig | None = None) -> Teacher:
    """A teacher trained on `seqs` (gap-filled [T_i, 33, 4]) and class ids `labels` [N]."""
    return Teacher(config or TeacherConfig()).fit(seqs, labels)


def teacher_soft_targets(teacher: Teacher, sequences: Mapping[int, np.ndarray] | Sequence[np.ndarray],
                         temperature: float = 2.0, scope: str = "window") -> TeacherFn:
    """A `TeacherFn` for distillation: (rows [B], indices [B, 8]) → soft targets [B, 9].

    `sequences[row]` is the gap-filled sequence of a `GaitData` row (e.g. `{r: data.sequence(r)
    for r in train_rows}`), `indices` the source frames of the student's clip. scope
    "window": the teacher's opinion of the same stretch of walking (`span_proba`);
    "sequence": its opinion of the whole walk (cached per row). Targets are
    softmax(logits / temperature), averaged over windows for "sequence".
    """
    if scope not in ("window", "sequence"):
        raise ValueError(f"scope must be 'window' or 'sequence', not {scope!r}")
    frames: dict[int, BodyFrame] = {}
    whole: dict[int, np.ndarray] = {}

    def targets(rows: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        out = []
        for row, idx in zip(rows.tolist(), indices.tolist()):
            if row not in frames:  # body frames are reused across epochs
                frames[row] = body_frame(sequences[row])
            if scope == "sequence":
                if row not in whole:
                    whole[row] = teacher.frame_proba(frames[row], temperature)
                out.append(whole[row])
            else:
                out.append(teacher.span_proba(frames[row], min(idx), max(idx), temperature))
        return torch.from_numpy(np.stack(out)).float()

    return targets
