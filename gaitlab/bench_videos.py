"""The videos `gaitlab bench` measures, made once and cached in the bench's folder.

- `VideoSpec` (seconds, size, fps, variant) names a generated walk: the synth walker pacing
  back and forth (`pacing_keypoints`, [T, 33, 4]) rendered by `gaitlab.synth.walker_video` on a
  plain background (`write_bench_video`), cached by its parameters (`cached_video`).
- `crowded_video`: real footage with two people in view, `CROWDED_SOURCE` played forwards and
  backwards to the length asked for.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from gaitlab.constants import REAL_VIDEOS_DIR

RENDER_VERSION = 2  # bump when the generated videos change, so cached ones are not reused


@dataclass(frozen=True)
class VideoSpec:
    """A generated walking video: the file name is derived from every parameter (the cache key)."""

    seconds: float
    width: int
    height: int
    fps: float = 30.0
    variant: int = 0

    @property
    def n_frames(self) -> int:
        return int(round(self.seconds * self.fps))

    def file_name(self) -> str:
        return (f"walk_{self.width}x{self.height}_{self.seconds:g}s_{self.fps:g}fps"
                f"_v{self.variant}_r{RENDER_VERSION}.mp4")

    def describe(self) -> str:
        return f"{self.seconds:g} s {self.width}x{self.height} {self.fps:g} fps"


def pacing_keypoints(spec: VideoSpec) -> np.ndarray:
    """Keypoints [T, 33, 4] of a person pacing back and forth across the frame for the whole
    video (a straight walk would leave the frame after a few seconds)."""
    from gaitlab.synth.walker import WalkerParams, walk_keypoints

    aspect = spec.width / spec.height
    rng = np.random.default_rng(spec.variant)
    base = WalkerParams(speed=float(rng.uniform(0.6, 0.9)), cadence=float(rng.uniform(90, 115)),
                        asymmetry=float(rng.uniform(0.0, 0.5)) if spec.variant else 0.0,
                        trunk_flexion=float(rng.uniform(0.0, 12.0)) if spec.variant else 0.0)
    base.step_length = base.speed * 60.0 / base.cadence  # no sliding feet (see WalkerParams)
    left, right = 0.12, 0.88  # normalised pelvis x at the turns
    crossing = (right - left) * aspect / (base.speed * base.height)  # seconds per crossing
    per_leg = max(2, int(round(crossing * spec.fps)))
    legs, direction, done = [], 1, 0
    while done < spec.n_frames:
        n = min(per_leg, spec.n_frames - done)
        params = WalkerParams(**{**base.__dict__, "direction": direction,
                                 "start_x": left if direction > 0 else right,
                                 "phase": done * base.cadence / 120.0 / spec.fps % 1.0})
        legs.append(walk_keypoints(params, n, spec.fps, aspect))
        direction, done = -direction, done + n
    return np.concatenate(legs)




def write_bench_video(path: Path, spec: VideoSpec) -> None:
    """Write `spec`'s video with the synth walker's renderer (`render_walk_video`): the
    pacing walker (`pacing_keypoints`), clothed (palette by `spec.variant`), on the plain
    two-tone background without per-frame noise, so long 720p videos render fast (most of the
    time is the encoder), streamed frame by frame. Written to a temporary name and renamed, so
    an interrupted run never leaves a half video in the cache.
    """
    from gaitlab.synth.walker_video import render_walk_video

    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.mp4")  # cv2 picks the muxer by suffix
    try:
        render_walk_video(tmp, [pacing_keypoints(spec)], spec.width, spec.height, spec.fps,
                          seed=spec.variant, codec="mp4v", background="plain", noise=0)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def cached_video(spec: VideoSpec, cache: Path, say: Callable[[str], None] = lambda text: None) -> Path:
    """The video for `spec`, rendered on first use (told to `say`) and reused afterwards."""
    path = cache / spec.file_name()
    if not path.is_file():
        say(f"rendering a {spec.describe()} walking video (cached in {cache})")
        cache.mkdir(parents=True, exist_ok=True)
        write_bench_video(path, spec)
    return path


# The real two-person clip (Sports2D demos, BSD 3-Clause; ../shared/data/real-videos/README.md):
# a walker crossing the room and back behind a larger man who stands and lifts dumbbells.
CROWDED_SOURCE = REAL_VIDEOS_DIR / "walker_with_bystander.mp4"


def crowded_video(seconds: float, cache: Path, say: Callable[[str], None] = lambda text: None) -> Path | None:
    """`CROWDED_SOURCE` played forwards and backwards to `seconds` (1280×720, 30 fps), written
    to the cache on first use; None where the shared footage is absent."""
    import cv2

    path = cache / f"walker_with_bystander_{seconds:g}s.mp4"
    if path.is_file() or not CROWDED_SOURCE.is_file():
        return path if path.is_file() else None
    say(f"writing {seconds:g} s of {CROWDED_SOURCE.name} played to and fro (cached in {cache})")
    cap = cv2.VideoCapture(str(CROWDED_SOURCE))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while len(frames) < int(seconds * fps):
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    order = (list(range(len(frames))) + list(range(len(frames) - 2, 0, -1))) * int(seconds * fps)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, frames[0].shape[1::-1])
    for k in order[:int(round(seconds * fps))]:
        writer.write(frames[k])
    writer.release()
    os.replace(tmp, path)
    return path


__all__ = ["CROWDED_SOURCE", "RENDER_VERSION", "VideoSpec", "cached_video", "crowded_video", "pacing_keypoints",
           "write_bench_video"]
