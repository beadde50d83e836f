"""Corrupted videos, made by mutating real walker videos (mp4 and avi): truncated files, flipped
bytes in the header and in the stream, zeroed chunks.

Each mutant is analysed as a user would, `python -m gaitlab analyze PATH --json --weights W`,
in its own subprocess with a timeout. Every run must end, either with exit status 2 and one
`error:` line on stderr, or with exit status 0 and a valid answer on stdout (with a warning
where the damage shows: lost frames, a wrong frame count, frames that do not decode). Never a
hang, a crash, a traceback or decoder noise on stderr.

The mutants run two at a time (module fixture), so the file takes about a minute.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
import pytest

from video_helpers import Outcome, assert_clean_ending, run_analyze_cli


def truncate(share: float) -> Callable[[bytes], bytes]:
    return lambda data: data[: int(len(data) * share)]


def flip(offsets: Callable[[int], list[int]]) -> Callable[[bytes], bytes]:
    def mutate(data: bytes) -> bytes:
        out = bytearray(data)
        for off in offsets(len(data)):
            out[off] ^= 0xFF
        return bytes(out)
    return mutate


def zero(start_share: float, size: int = 4096) -> Callable[[bytes], bytes]:
    def mutate(data: bytes) -> bytes:
        out = bytearray(data)
        start = min(int(len(data) * start_share), len(data) - size)
        out[start : start + size] = bytes(size)
        return bytes(out)
    return mutate


def stream_offsets(seed: int) -> Callable[[int], list[int]]:
    """20 random byte positions past the first 10% of the file (the coded frames)."""
    return lambda n: np.random.default_rng(seed).integers(n // 10, n, 20).tolist()


MUTATIONS: dict[str, Callable[[bytes], bytes]] = {
    "intact": lambda data: data,
    "truncated_at_10pct": truncate(0.10),
    "truncated_at_50pct": truncate(0.50),
    "truncated_at_90pct": truncate(0.90),
    "truncated_last_byte": lambda data: data[:-1],
    "header_byte_0_flipped": flip(lambda n: [0]),
    "header_bytes_8_to_12_flipped": flip(lambda n: list(range(8, 12))),
    "header_byte_40_flipped": flip(lambda n: [40]),
    "stream_bytes_flipped_a": flip(stream_offsets(1)),
    "stream_bytes_flipped_b": flip(stream_offsets(2)),
    "zeroed_4k_at_start": zero(0.0),
    "zeroed_4k_at_50pct": zero(0.5),
    "zeroed_4k_at_end": zero(1.0),
}
FORMATS = (".mp4", ".avi")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, random_weights) -> dict[tuple[str, str], Outcome]:
    """Every mutant of every format, analysed in subprocesses two at a time."""
    from gaitlab.synth.walker import WalkerParams, walk_keypoints
    from gaitlab.synth.walker_video import render_walk_video

    folder = tmp_path_factory.mktemp("corrupt")
    # A walker who stays in the picture (3 s at 0.5 heights/s), so the intact video needs no warning.
    seq = walk_keypoints(WalkerParams(speed=0.5, step_length=0.3, cadence=100), n_frames=75, fps=25.0, aspect=320 / 240)
    jobs = {}
    for ext in FORMATS:
        original = folder / f"walker{ext}"
        render_walk_video(original, [seq], width=320, height=240, fps=25.0)
        data = original.read_bytes()
        for name, mutate in MUTATIONS.items():
            path = folder / f"{name}{ext}"
            path.write_bytes(mutate(data))
            jobs[(ext, name)] = path
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {key: pool.submit(run_analyze_cli, path, random_weights) for key, path in jobs.items()}
        results = {key: fut.result() for key, fut in futures.items()}
    # A table for whoever reads the log with -s.
    for (ext, name), out in sorted(results.items()):
        if out.returncode == 0:
            what = "answer; warnings: " + (" | ".join(json.loads(out.stdout)["warnings"]) or "none")
        else:
            what = out.stderr.strip()[:140]
        print(f"{ext:5s} {name:30s} rc={out.returncode} {out.seconds:5.1f}s  {what}")
    return results


@pytest.mark.timeout(900)
@pytest.mark.parametrize("ext", FORMATS)
@pytest.mark.parametrize("name", list(MUTATIONS))
def test_corrupted_video_ends_cleanly(outcomes, ext, name):
    answer = assert_clean_ending(outcomes[(ext, name)])
    if name == "intact":
        assert answer is not None and answer["warnings"] == []
    if answer is not None and name in ("truncated_at_10pct", "truncated_at_50pct", "truncated_at_90pct"):
        # Frames were lost: the answer must say the video is not what its header claims.
        assert answer["warnings"], "a truncated video answered without a warning"


@pytest.mark.timeout(900)
def test_corruption_is_not_always_refused(outcomes):
    """Damage that leaves most frames decodable still gets an answer: the pipeline degrades
    rather than refusing anything odd."""
    answered = [key for key, out in outcomes.items() if out.returncode == 0 and key[1] != "intact"]
    assert len(answered) >= len(MUTATIONS) // 2, answered
