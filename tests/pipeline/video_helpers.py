"""Helpers shared by the video tests (`from video_helpers import …`; pytest puts this folder on
the import path): phone rotation metadata, an empty scene, warning matching, and running
`python -m gaitlab analyze` as a user would, with the checks every such run must pass."""
from __future__ import annotations

import json
import math
import struct
import sys
from pathlib import Path

import cv2
import numpy as np

from gaitlab.bench_sections import MeasuredRun, run_measured
from gaitlab.constants import CLASSES

RUN_TIMEOUT_S = 120  # a healthy CLI analysis of a small video takes ~5-10 s (mostly imports)


def starts(warnings: list[str], template: str) -> bool:
    """True when one of `warnings` is `template` (its text before any {placeholder})."""
    return any(w.startswith(template.split("{")[0]) for w in warnings)


# --- Rotation metadata ------------------------------------------------------------------------
def mp4_boxes(buf: bytes, start: int, end: int):
    """(kind, offset, size) of the MP4 boxes between `start` and `end` of `buf`."""
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack(">I4s", buf[i : i + 8])
        if size < 8:
            return
        yield kind, i, size
        i += size


def set_mp4_rotation(path: Path, degrees: int) -> None:
    """Write a display matrix into the track header (what phones do for portrait video)."""
    a, b, c, d = {90: (0, 1, -1, 0), 180: (-1, 0, 0, -1), 270: (0, -1, 1, 0)}[degrees]
    buf = bytearray(path.read_bytes())
    patched = False
    for kind, i, size in mp4_boxes(buf, 0, len(buf)):
        if kind != b"moov":
            continue
        for kind2, i2, size2 in mp4_boxes(buf, i + 8, i + size):
            if kind2 != b"trak":
                continue
            for kind3, i3, _ in mp4_boxes(buf, i2 + 8, i2 + size2):
                if kind3 == b"tkhd":
                    off = i3 + 8 + (40 if buf[i3 + 8] == 0 else 52)
                    buf[off : off + 36] = struct.pack(
                        ">9i", a << 16, b << 16, 0, c << 16, d << 16, 0, 0, 0, 1 << 30
                    )
                    patched = True
    assert patched, "no track header found"
    path.write_bytes(bytes(buf))


# --- Scenes -----------------------------------------------------------------------------------
def write_empty_scene(path: Path, n_frames: int = 40, width: int = 320, height: int = 240,
                      fps: float = 30.0) -> Path:
    """A still wall-and-floor scene with sensor noise and nobody in it (mp4v)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    rng = np.random.default_rng(0)
    for _ in range(n_frames):
        frame = np.full((height, width, 3), (150, 160, 170), np.uint8)
        frame[height * 3 // 4:] = (110, 115, 120)
        writer.write(np.clip(frame + rng.integers(-3, 4, frame.shape), 0, 255).astype(np.uint8))
    writer.release()
    return path


# --- The command line -------------------------------------------------------------------------
Outcome = MeasuredRun  # returncode (None: timed out), stdout, stderr, peak_rss_mb, seconds


def run_analyze_cli(path: Path, weights: Path, timeout: float = RUN_TIMEOUT_S) -> Outcome:
    """`python -m gaitlab analyze PATH --json --weights W` in a fresh process, with its own
    peak memory (the bench's measured run)."""
    cmd = [sys.executable, "-m", "gaitlab", "analyze", str(path), "--json", "--weights", str(weights)]
    return run_measured(cmd, timeout=timeout)


def assert_clean_ending(out: Outcome) -> dict | None:
    """Exit 2 with one `error:` line, or exit 0 with a valid answer (returned)."""
    assert out.returncode is not None, f"no answer within {RUN_TIMEOUT_S} s (hang)"
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout, out.stderr
    assert out.returncode in (0, 2), f"exit status {out.returncode}: {out.stderr}"
    if out.returncode == 2:
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
        assert out.stdout == ""
        return None
    assert out.stderr.strip() == "", f"noise on stderr: {out.stderr!r}"
    answer = json.loads(out.stdout)
    probs = [answer["probabilities"][c] for c in CLASSES]
    assert all(math.isfinite(p) and 0 <= p <= 1 for p in probs) and abs(sum(probs) - 1) < 1e-4
    assert answer["label"] in CLASSES and len(answer["clips"]) >= 1
    assert isinstance(answer["warnings"], list) and all(isinstance(w, str) and w for w in answer["warnings"])
    return answer
