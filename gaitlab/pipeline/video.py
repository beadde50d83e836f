"""Streaming video input: check a file once (`probe_video`), then pull frames in one pass.

A video is never held whole. `read_frames` walks the file once with `grab()` (demux and
decode, no colour conversion) and `retrieve()`s only the frames asked for, handing each to a
caller's `transform` at once (typically a downscale), so memory stays flat in video length.

Frame count. Containers may omit or misstate their frame count (variable frame rate, broken
indexes, hand-edited headers). Counting by streaming the whole file would make every analysis
decode the video twice, so `probe_video` trusts the reported count only after a cheap check:
it seeks to the last reported frame, which must grab, and the frame after it, which must not.
A seek decodes at most one group of pictures, not the file. Only when that check fails (or no
count is reported) does it count by streaming `grab()`s from the start. A file whose claim
still turns out wrong (a seek that lands inexactly) is handled by `read_frames` returning what
the stream really held.

Rotation. Phones store portrait video as landscape pixels plus a rotation in the metadata.
OpenCV can rotate on its own (`CAP_PROP_ORIENTATION_AUTO`); we turn that off and rotate
ourselves, so a frame is rotated exactly once whatever the OpenCV build's default. If a
backend refuses to turn it off, we leave the rotation to OpenCV. A portrait video (taller than
wide as displayed) and a turned one get a warning (`WARN_PORTRAIT`, `WARN_ROTATED`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar

import cv2
import numpy as np

from gaitlab.constants import (
    CLIP_FRAMES,
    CLIP_SECONDS,
    LONG_VIDEO_SECONDS,
    MAX_CLIPS,
    MAX_VIDEO_LONG_SIDE,
    MAX_VIDEO_SECONDS,
    MIN_VIDEO_SIDE,
    VIDEO_EXTENSIONS,
)
from gaitlab.errors import InputError, check_input_file

# Frame rate assumed when the container gives none or an absurd one: the commonest camera rate.
FALLBACK_FPS = 30.0
# Plausible frame rates; outside this range the container's value is a timebase or garbage
# (240 fps slow-motion phone video is real, 90000 "fps" is an MPEG timebase).
MIN_PLAUSIBLE_FPS = 1.0
MAX_PLAUSIBLE_FPS = 480.0
# A failed grab() usually means the end of the stream, but a damaged stretch also fails a few
# grabs before decoding resumes. Retrying is cheap at the true end (an immediate False), and
# the bound keeps a broken file from ever looping.
MAX_CONSECUTIVE_GRAB_FAILURES = 8

WARN_DAMAGED = ("Part of the video could not be decoded (the file may be damaged); the frames "
                "around it are left out or may be distorted.")

WARN_PORTRAIT = ("The video is in portrait format (taller than wide{turned}), so someone walking "
                 "across the view is seen for only a few steps; film side-on in landscape for a "
                 "longer walk.")
WARN_ROTATED = ("The video is stored turned by {degrees}°; it was turned back before analysis, as "
                "its metadata asks and video players do.")

T = TypeVar("T")

_ROTATE_CODES = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180,
                 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


@dataclass
class VideoInfo:
    """What `probe_video` learned about a video file.

    `width` and `height` are as displayed (after rotation); `rotation` is the clockwise turn
    in degrees (0, 90, 180, 270) the metadata asks for; `n_frames` is the verified count and
    `n_frames_reported` what the container claimed (0 when it claimed nothing).
    """

    path: Path
    n_frames: int
    n_frames_reported: int
    fps: float
    width: int
    height: int
    rotation: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps


def rotate_frame(frame: np.ndarray, rotation: int) -> np.ndarray:
    """Turn `frame` [H, W, ...] clockwise by `rotation` degrees (a multiple of 90)."""
    code = _ROTATE_CODES.get(int(rotation) % 360)
    return frame if code is None else cv2.rotate(frame, code)


def _normalise_rotation(value: float) -> int:
    """Metadata rotation → 0, 90, 180 or 270 (odd angles snap to the nearest quarter turn)."""
    if not np.isfinite(value):
        return 0
    return int(round(float(value) / 90.0)) % 4 * 90


def _as_bgr_uint8(frame: np.ndarray) -> np.ndarray:
    """Any decoded frame → BGR uint8 [H, W, 3] (grey, BGRA and 16-bit frames do occur)."""
    if frame.dtype != np.uint8:
        # 16-bit decodes keep their range in the high byte; floats are taken as 0..1.
        if frame.dtype == np.uint16:
            frame = (frame >> 8).astype(np.uint8)
        else:
            frame = np.clip(frame.astype(np.float32) * 255.0, 0, 255).astype(np.uint8)
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 1:
        return cv2.cvtColor(frame[:, :, 0], cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame


def _open_capture(path: Path) -> cv2.VideoCapture:
    """A capture on FFmpeg; other stream backends only where this OpenCV has no FFmpeg.

    Never the default chain: it also tries the image-sequence reader (which treats "%d" in a
    file name as a pattern and logs image-codec errors to stderr) and OpenCV's own MJPEG
    parser (which prints raw bytes of a damaged header to stderr). Where FFmpeg cannot open a
    file, those cannot either; they would only add noise to the one `error:` line.
    """
    if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG):
        return cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    skip = {cv2.CAP_FFMPEG, cv2.CAP_IMAGES, cv2.CAP_OPENCV_MJPEG, cv2.CAP_V4L2}
    for backend in cv2.videoio_registry.getStreamBackends():
        if backend not in skip:
            cap = cv2.VideoCapture(str(path), backend)
            if cap.isOpened():
                return cap
            cap.release()
    return cv2.VideoCapture()  # not opened


class _Reader:
    """An open capture with auto-rotation off, and the rotation we still owe each frame."""

    def __init__(self, path: Path):
        self.cap = _open_capture(path)
        self.opened = self.cap.isOpened()
        self.rotation = 0
        self.rotate_here = False
        self.skipped = False  # the last grab() stepped over failures
        if self.opened:
            self.rotation = _normalise_rotation(self.cap.get(cv2.CAP_PROP_ORIENTATION_META))
            self.cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)
            auto_still_on = bool(self.cap.get(cv2.CAP_PROP_ORIENTATION_AUTO))
            self.rotate_here = self.rotation != 0 and not auto_still_on

    def frame(self) -> np.ndarray | None:
        """Decode the grabbed frame → displayed BGR uint8 [H, W, 3], or None."""
        ok, frame = self.cap.retrieve()
        if not ok or frame is None or frame.size == 0:
            return None
        frame = _as_bgr_uint8(frame)
        return rotate_frame(frame, self.rotation) if self.rotate_here else frame

    def grab(self) -> bool:
        """Advance one frame; a few retries step over a damaged stretch, never loop long."""
        self.skipped = False
        for attempt in range(MAX_CONSECUTIVE_GRAB_FAILURES):
            if self.cap.grab():
                self.skipped = attempt > 0
                return True
        return False

    def index_after_gap(self, counted: int, fps: float) -> int:
        """After failed grabs the decoder may have dropped frames; where the stream has
        timestamps, move the frame index forward to match them (never back)."""
        msec = self.cap.get(cv2.CAP_PROP_POS_MSEC)
        if not np.isfinite(msec) or msec <= 0:
            return counted
        return max(counted, int(round(msec * fps / 1000.0)))

    def release(self) -> None:
        self.cap.release()


def _tail_matches(reader: _Reader, reported: int) -> bool:
    """True when frame `reported - 1` grabs and nothing follows it (see module docstring)."""
    if reported < 2 or not reader.cap.set(cv2.CAP_PROP_POS_FRAMES, reported - 1):
        return False
    return reader.cap.grab() and not reader.grab()


def _grab_indices(reader: _Reader, fps: float, last: int) -> Iterator[int]:
    """Grab frames from the start, yielding each one's index, up to index `last`.

    The index counts grabs, moved forward to the timestamps after a damaged stretch, so that
    counting (`probe_video`) and reading (`read_frames`) agree on what index a frame has.
    """
    index = 0
    while index <= last and reader.grab():
        if reader.skipped:
            index = reader.index_after_gap(index, fps)
            if index > last:
                return
        yield index
        index += 1


def _count_by_streaming(path: Path, fps: float, limit: int) -> int:
    """Frames from the start by `grab()` alone, stopping once past `limit` (too long).

    A fresh capture, not a seek back to 0, so a container confused enough to fail the tail
    check cannot also misplace the start.
    """
    reader = _Reader(path)
    count = 0
    try:
        if reader.opened:
            for index in _grab_indices(reader, fps, limit + 1):
                count = index + 1
    finally:
        reader.release()
    return count


def _check_size(name: str, width: float, height: float) -> None:
    """InputError for frames larger than 8K or too small to show a person (0 = unknown)."""
    if not (np.isfinite(width) and np.isfinite(height)) or width <= 0 or height <= 0:
        return
    w, h = int(width), int(height)
    if max(w, h) > MAX_VIDEO_LONG_SIDE:
        raise InputError(
            f"{name} is {w}×{h} pixels; GaitLab accepts frames up to {MAX_VIDEO_LONG_SIDE} "
            "pixels on the long side (8K). Downscale the video and try again."
        )
    if min(w, h) < MIN_VIDEO_SIDE:
        raise InputError(
            f"{name} is only {w}×{h} pixels; GaitLab needs frames at least {MIN_VIDEO_SIDE} "
            "pixels on each side to find a walking person."
        )


def _duration_text(seconds: float) -> str:
    return f"{seconds / 60:.0f} minutes" if seconds >= 120 else f"{seconds:.0f} seconds"


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Check a video file and measure it: true frame count, fps, displayed size, rotation.

    Raises `InputError` (one plain sentence) for a missing path, a folder or other non-file,
    an unsupported extension, an empty file, something that is not a decodable video, a file
    where no frame decodes, frames larger than `MAX_VIDEO_LONG_SIDE` or smaller than
    `MIN_VIDEO_SIDE`, fewer than `CLIP_FRAMES` frames, or more than `MAX_VIDEO_SECONDS` of
    video. Above `LONG_VIDEO_SECONDS` the video is accepted with a warning.
    """
    path = Path(path)
    check_input_file(path, VIDEO_EXTENSIONS)
    name = path.name
    reader = _Reader(path)
    try:
        if not reader.opened:
            raise InputError(
                f"{name} could not be opened as a video; it may not be a video file or it "
                "may be damaged."
            )
        warnings: list[str] = []
        fps = float(reader.cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not (np.isfinite(fps) and MIN_PLAUSIBLE_FPS <= fps <= MAX_PLAUSIBLE_FPS):
            warnings.append(
                f"The video does not state a usable frame rate; {FALLBACK_FPS:g} frames per "
                "second is assumed."
            )
            fps = FALLBACK_FPS
        raw_count = reader.cap.get(cv2.CAP_PROP_FRAME_COUNT)
        reported = int(raw_count) if np.isfinite(raw_count) and raw_count > 0 else 0
        # Before decoding anything: an absurd frame size would cost gigabytes per frame.
        _check_size(name, reader.cap.get(cv2.CAP_PROP_FRAME_WIDTH),
                    reader.cap.get(cv2.CAP_PROP_FRAME_HEIGHT))

        first = reader.frame() if reader.grab() else None
        if first is None:
            raise InputError(
                f"No frame of {name} could be decoded; the file may be truncated or damaged."
            )
        height, width = first.shape[:2]
        del first
        _check_size(name, width, height)  # what really decodes

        limit = int(MAX_VIDEO_SECONDS * fps)
        if 0 < reported <= limit and _tail_matches(reader, reported):
            n_frames = reported
        else:
            n_frames = _count_by_streaming(path, fps, limit)
            if reported and n_frames != reported and n_frames <= limit:
                warnings.append(
                    f"The video file claims {reported} frames but holds {n_frames}; "
                    "the real count is used."
                )
    finally:
        reader.release()

    if n_frames > limit:
        raise InputError(
            f"{name} is longer than {_duration_text(MAX_VIDEO_SECONDS)}, the longest GaitLab "
            "accepts; trim it to the walk and try again."
        )
    if n_frames < CLIP_FRAMES:
        raise InputError(f"{name} has only {n_frames} frames; GaitLab needs at least {CLIP_FRAMES}.")
    if fps * CLIP_SECONDS < CLIP_FRAMES:  # fewer frames per gait cycle than a clip needs
        warnings.append(
            f"The video's frame rate is only {fps:g} per second; a gait cycle spans fewer than "
            f"{CLIP_FRAMES} frames, so the motion is sampled coarsely and the answer is less "
            "reliable."
        )
    if height > width:  # displayed sizes: after the rotation the metadata asks for
        turned = f"; stored turned by {reader.rotation}° and analysed upright" if reader.rotation else ""
        warnings.append(WARN_PORTRAIT.format(turned=turned))
    elif reader.rotation:
        warnings.append(WARN_ROTATED.format(degrees=reader.rotation))
    duration = n_frames / fps
    if duration > LONG_VIDEO_SECONDS:
        warnings.append(
            f"The video is {_duration_text(duration)} long; GaitLab scores at most {MAX_CLIPS} "
            f"clips of about {CLIP_SECONDS:g} s spread over it, so most of it is not looked at. "
            "Trim it to the walk for a closer look."
        )
    return VideoInfo(path, n_frames, reported, fps, int(width), int(height), reader.rotation,
                     warnings)


class Frames(dict):
    """`read_frames`' result: {index: transformed frame}, plus `damaged`, True when the pass
    had to step over frames that did not decode."""

    damaged: bool = False


def read_frames(
    info: VideoInfo, wanted: Sequence[int], transform: Callable[..., T], with_index: bool = False
) -> Frames:
    """One streaming pass: `transform(frame)` for each wanted frame index, keyed by index.

    Every frame is grabbed (decoded) but only wanted ones are retrieved (colour-converted),
    made displayed BGR uint8 [H, W, 3] (grey → 3 channels, rotated exactly once) and passed
    to `transform` straight away (as `transform(frame)`, or `transform(index, frame)` when
    `with_index`), so no full-resolution frame outlives its own iteration.
    The pass stops after the last wanted index. If the stream ends early (a container that
    misstated its length) or a damaged stretch does not decode, those indices are simply
    missing from the result, and `result.damaged` says whether undecodable frames were met
    on the way (callers warn with `WARN_DAMAGED`).
    """
    targets = {int(i) for i in wanted if int(i) >= 0}
    out: Frames = Frames()
    if not targets:
        return out
    last = max(targets)
    reader = _Reader(info.path)
    try:
        if not reader.opened:
            return out
        for index in _grab_indices(reader, info.fps, last):
            out.damaged = out.damaged or reader.skipped
            if index in targets:
                frame = reader.frame()
                if frame is not None:
                    out[index] = transform(index, frame) if with_index else transform(frame)
                else:
                    out.damaged = True
                frame = None  # drop the full-resolution frame before decoding on
    finally:
        reader.release()
    return out
