"""The student video model and the seed product's architecture, as builder functions.

Tensor contract of every model here: `model(clip, embedding)` → logits [B, 9] for
`clip` [B, 3, 8, 224, 224] (ImageNet-normalised) and `embedding` [B, 384] (the note; zeros
for no note). The student keeps all 8 time steps to its last conv layer, exposed as
`model.cam_layer`, so Grad-CAM gives one map per input frame.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from gaitlab.constants import CHANNELS, CLIP_FRAMES, EMBED_DIM, FRAME_SIZE, NUM_CLASSES
from gaitlab.teacher_net import TeacherEnsemble, TemporalConvNet


class Conv2Plus1d(nn.Sequential):
    """A (2+1)D block: spatial 3x3 conv (optionally strided or dilated), then a temporal conv of size 3.

    Time is never strided or pooled. [B, C_in, T, H, W] → [B, C_out, T, H/stride, W/stride].
    A spatial `dilation` d spreads the 3x3 taps d pixels apart: the receptive field grows at
    the same cost and the same resolution.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 2, dilation: int = 1) -> None:
        super().__init__(
            nn.Conv3d(c_in, c_out, (1, 3, 3), stride=(1, stride, stride), padding=(0, dilation, dilation),
                      dilation=(1, dilation, dilation), bias=False),
            nn.BatchNorm3d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv3d(c_out, c_out, (3, 1, 1), padding=(1, 0, 0), bias=False),
            nn.BatchNorm3d(c_out),
            nn.ReLU(inplace=True),
        )


class GaitStudent(nn.Module):
    """Compact (2+1)D CNN over 8 frames fused with a projected note embedding.

    Visual path (defaults: the earlier silhouette student, `gait_student`): stem (5x5, stride 4: 224 → 56) then (2+1)D
    blocks 56 → 28 → 14 → 14; `input_pool` averages k×k pixels before the stem and
    `block_strides` sets each block's spatial stride (see `pose_student`). The last block
    ([B, widths[-1], 8, 14, 14]) is `cam_layer`. Global average pool → concat with the text
    projection → MLP → 9 logits.
    """

    def __init__(
        self,
        widths: tuple[int, ...] = (16, 32, 64, 96),
        text_dim: int = 64,
        hidden: int = 128,
        dropout: float = 0.3,
        input_pool: int = 1,
        stem_kernel: int = 5,
        stem_stride: int = 4,
        block_strides: tuple[int, ...] | None = None,
        block_dilations: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        # Every setting, as a weights card records it (so a card rebuilds this very network
        # even if a builder's defaults change later).
        self.settings = {"widths": list(widths), "text_dim": text_dim, "hidden": hidden, "dropout": dropout,
                         "input_pool": input_pool, "stem_kernel": stem_kernel, "stem_stride": stem_stride,
                         "block_strides": list(block_strides) if block_strides else None,
                         "block_dilations": list(block_dilations) if block_dilations else None}
        w = list(widths)
        self.input_pool = input_pool
        pool = [nn.AvgPool3d((1, input_pool, input_pool))] if input_pool > 1 else []
        self.stem = nn.Sequential(
            *pool,
            nn.Conv3d(CHANNELS, w[0], (1, stem_kernel, stem_kernel), stride=(1, stem_stride, stem_stride),
                      padding=(0, stem_kernel // 2, stem_kernel // 2), bias=False),
            nn.BatchNorm3d(w[0]),
            nn.ReLU(inplace=True),
        )
        strides = list(block_strides) if block_strides else [2, 2] + [1] * (len(w) - 3)
        dilations = list(block_dilations) if block_dilations else [1] * (len(w) - 1)
        self.blocks = nn.Sequential(
            *[Conv2Plus1d(w[i], w[i + 1], stride=strides[i], dilation=dilations[i]) for i in range(len(w) - 1)]
        )
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.text = nn.Sequential(nn.Linear(EMBED_DIM, text_dim), nn.ReLU(inplace=True))
        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(w[-1] + text_dim, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, NUM_CLASSES),
        )

    @property
    def cam_layer(self) -> nn.Module:
        return self.blocks[-1]

    def features(self, clip: torch.Tensor) -> torch.Tensor:
        """[B, 3, 8, 224, 224] → pooled visual features [B, widths[-1]]."""
        return self.pool(self.blocks(self.stem(clip))).flatten(1)

    def pooled_features(self, pooled: torch.Tensor) -> torch.Tensor:
        """The clip after `input_pool`, [B, 3, 8, 224/p, 224/p] → [B, widths[-1]]: the same as
        `features` of the full clip (training feeds its pre-pooled clip bank here)."""
        stem = self.stem[1:] if self.input_pool > 1 else self.stem
        return self.pool(self.blocks(stem(pooled))).flatten(1)

    def classify(self, features: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """Pooled visual `features` [B, widths[-1]] and notes [B, 384] → logits [B, 9]: scoring
        one clip under several notes needs the visual path once."""
        return self.head(torch.cat([features, self.text(embedding)], dim=1))

    def forward(self, clip: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(clip), embedding)


class SeedStudent(nn.Module):
    """The seed product's student, made runnable for 8 frames (the baseline we compare with).

    Three Conv3d 16/32/64 blocks with 2x max-pooling (8x224x224 → 1x28x28), flattened and
    projected to 128; the note through Linear 384→128; concatenated; MLP 256 → 256 → 9.
    6.6 M parameters. Its `cam_layer` is the last conv (only 2 time steps survive there).
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for c_in, c_out in ((CHANNELS, 16), (16, 32), (32, 64)):
            layers += [nn.Conv3d(c_in, c_out, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool3d(2)]
        self.conv = nn.Sequential(*layers)
        t, s = CLIP_FRAMES // 8, FRAME_SIZE // 8
        self.visual = nn.Sequential(nn.Flatten(), nn.Linear(64 * t * s * s, 128), nn.ReLU(inplace=True))
        self.text = nn.Sequential(nn.Linear(EMBED_DIM, 128), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Linear(256, 256), nn.ReLU(inplace=True), nn.Linear(256, NUM_CLASSES))

    @property
    def cam_layer(self) -> nn.Module:
        return self.conv[6]

    def forward(self, clip: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.visual(self.conv(clip)), self.text(embedding)], dim=1))


def gait_student(**kwargs) -> GaitStudent:
    """The shipped student architecture (keyword arguments as in `GaitStudent`)."""
    return GaitStudent(**kwargs)


# The pose-frame student: pose frames are thin lines on black, so the network averages 4×4
# pixels first (224 → 56), then a 3x3 stem at stride 2 (→ 28) and (2+1)D blocks 28 → 14 → 14
# → 14; `cam_layer` is [B, 64, 8, 14, 14]. The last two blocks' spatial convs are dilated 2 and
# 4, so one cam_layer unit sees most of the frame (the whole walker and its stride) rather than
# a third of it: undilated, the student could not even fit its training walks (plain-clip
# training accuracy 0.82 against 0.90 dilated, fold 0) and held-out accuracy rose with it (the
# README's model section). About 0.11 M parameters, 0.22 GFLOPs per clip.
POSE_STUDENT = {"widths": (16, 32, 48, 64), "input_pool": 4, "stem_kernel": 3, "stem_stride": 2,
                "block_strides": (2, 1, 1), "block_dilations": (1, 2, 4)}


def pose_student(**kwargs) -> GaitStudent:
    """The shipped student for pose frames (`POSE_STUDENT`, overridable by keyword)."""
    return GaitStudent(**{**POSE_STUDENT, **kwargs})


def seed_student() -> SeedStudent:
    """The seed product's student architecture, for comparisons."""
    return SeedStudent()


# Builders by name: weights cards record the name and keyword arguments.
ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "gait_student": gait_student,
    "pose_student": pose_student,
    "seed_student": seed_student,
    "keypoint_teacher": TemporalConvNet,  # the second opinion (gaitlab.teacher_net), one net
    "keypoint_teacher_ensemble": TeacherEnsemble,  # … or the mean of several (the shipped one)
}


def build(name: str, **kwargs) -> nn.Module:
    if name not in ARCHITECTURES:
        raise KeyError(f"unknown architecture {name!r}; known: {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name](**kwargs)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module) -> int:
    """Multiply-accumulates ×2 of one forward pass on a single clip, by forward hooks."""
    total = 0

    def conv_hook(mod: nn.Conv3d, _inp, out):
        nonlocal total
        k = mod.kernel_size[0] * mod.kernel_size[1] * mod.kernel_size[2]
        total += 2 * out.numel() * (mod.in_channels // mod.groups) * k

    def linear_hook(mod: nn.Linear, _inp, out):
        nonlocal total
        total += 2 * out.numel() * mod.in_features

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, CHANNELS, CLIP_FRAMES, FRAME_SIZE, FRAME_SIZE), torch.zeros(1, EMBED_DIM))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return total
