"""MediaPipe Pose keypoints as input: reading CSV and NPZ files, filling gaps, simple signals.

A keypoint sequence is float32 [T, 33, 4]: per frame and landmark `x, y, z, visibility`, with
`x`, `y` normalised to the source frame (0..1 of its width / height, origin top-left). A frame
where no person was detected is all-NaN. Landmark indices follow MediaPipe Pose (odd = left).
"""
from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from gaitlab.constants import CLIP_FRAMES, MAX_KEYPOINT_FRAMES, NUM_LANDMARKS
from gaitlab.pipeline.landmarks import ANKLE, ELBOW, FOOT_INDEX, HEEL, HIP, KNEE, LEG_SEGMENTS, MIRROR_ORDER, SHOULDER, WRIST
from gaitlab.errors import InputError, one_line

CHANNELS = ("x", "y", "z", "v")
# Header names of the landmark columns in the MediaPipe CSV layout, in the order we store them.
LANDMARK_COLUMNS: tuple[str, ...] = tuple(
    f"{c}_{i}" for i in range(NUM_LANDMARKS) for c in CHANNELS
)
_COLUMN_RE = re.compile(r"^([xyzv])_([0-9]+)$")  # ASCII digits only
# Largest magnitude float32 holds; bigger numbers would overflow to inf when stored.
_FLOAT32_MAX = float(np.finfo(np.float32).max)
# A frame whose landmarks all sit within this share of their own magnitude of one another is
# not a detection: exporters write all-zero (or all-equal) rows for "no person".
_DEGENERATE_SPREAD = 1e-6
# A detected frame is a glitch (a typo, a value in other units, a tracker jump) when its
# landmarks spread over more than OUTLIER_SPREAD times the sequence's median spread, or its
# centre lies more than OUTLIER_SHIFT median spreads from the sequence's median centre. A walker
# crossing the whole frame while small in it moves some 10 spreads; glitches are far beyond.
_OUTLIER_SPREAD, _OUTLIER_SHIFT = 10.0, 50.0
# Bytes looked at to tell a binary file from a text CSV.
_SNIFF_BYTES = 4096

# Assumed width/height of the source frame when the keypoints do not tell (most cameras).
FALLBACK_ASPECT = 16 / 9
_ASPECT_RANGE = (0.4, 2.5)


# --- Reading -------------------------------------------------------------------------------


def _open_text(path: Path):
    """The file as text for `csv.reader`; InputError when missing, unreadable, empty or binary."""
    name = path.name
    if not path.is_file():
        raise InputError(f"{name} was not found or is not a file.")
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
        if not head.strip():
            with open(path, "rb") as f:  # a file of blank lines is as empty as no bytes
                if not any(chunk.strip() for chunk in iter(lambda: f.read(1 << 16), b"")):
                    raise InputError(f"{name} is empty.")
        if b"\x00" in head:
            raise InputError(f"{name} is not a text CSV file (it looks binary).")
        # utf-8-sig drops a byte-order mark; newline="" lets csv handle line ends itself.
        return open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"{name} could not be read ({exc.strerror or 'read error'}).") from None


def _rows(path: Path) -> Iterator[list[str]]:
    """Non-blank CSV rows as strings, streamed; InputError for undecodable or malformed text.

    A row of empty cells is kept: it is a frame without detection.
    """
    name = path.name
    with _open_text(path) as handle:
        try:
            for row in csv.reader(handle):
                if row:
                    yield row
        except UnicodeDecodeError:
            raise InputError(f"{name} is not a readable UTF-8 text CSV file.") from None
        except csv.Error as exc:
            raise InputError(f"{name} could not be parsed as CSV ({one_line(exc, limit=200)}).") from None
        except OSError as exc:
            raise InputError(f"{name} could not be read ({exc.strerror or 'read error'}).") from None


def _landmark_positions(header: list[str], name: str) -> np.ndarray:
    """Column index of each of the 132 landmark columns, in `LANDMARK_COLUMNS` order."""
    found: dict[str, int] = {}
    for pos, col in enumerate(header):
        m = _COLUMN_RE.match(col.strip().lower())
        if m and int(m.group(2)) < NUM_LANDMARKS:
            found.setdefault(f"{m.group(1)}_{int(m.group(2))}", pos)
    if not found:
        raise InputError(
            f"{name} does not look like a MediaPipe keypoint CSV: it has no x_0..v_32 "
            "landmark columns."
        )
    missing = [c for c in LANDMARK_COLUMNS if c not in found]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise InputError(
            f"{name} is missing {len(missing)} of the {len(LANDMARK_COLUMNS)} MediaPipe "
            f"landmark columns ({shown})."
        )
    return np.array([found[c] for c in LANDMARK_COLUMNS])


def _parse_cell(cell: str) -> float:
    """A float, NaN for an empty cell, inf or a value float32 cannot hold; ValueError for junk."""
    cell = cell.strip()
    if not cell:
        return math.nan
    if len(cell) > 64:  # no number needs more; also keeps float() from chewing megabytes
        raise ValueError("cell too long for a number")
    value = float(cell)
    return value if math.isfinite(value) and abs(value) <= _FLOAT32_MAX else math.nan


def _degenerate(seq: np.ndarray) -> np.ndarray:
    """bool [T]: frames whose landmarks (x, y) all (nearly) coincide: no body to draw."""
    xy = seq[..., :2].astype(np.float64)
    with np.errstate(invalid="ignore"):
        spread = np.nanmax(xy, axis=1) - np.nanmin(xy, axis=1)  # [T, 2]
        size = np.nanmax(np.abs(xy), axis=(1, 2))
    return np.max(spread, axis=1) <= _DEGENERATE_SPREAD * np.maximum(size, 1.0)


def _outliers(seq: np.ndarray, detected: np.ndarray) -> np.ndarray:
    """bool [T]: detected frames far bigger than, or far away from, the rest of the walk."""
    out = np.zeros(len(seq), dtype=bool)
    if detected.sum() < 3:
        return out
    xy = seq[detected][..., :2].astype(np.float64)
    spread = np.max(xy.max(axis=1) - xy.min(axis=1), axis=1)
    ref = float(np.median(spread))
    if not ref > 0:
        return out
    centre = np.median(xy, axis=1)
    shift = np.max(np.abs(centre - np.median(centre, axis=0)), axis=1)
    out[np.flatnonzero(detected)] = (spread > _OUTLIER_SPREAD * ref) | (shift > _OUTLIER_SHIFT * ref)
    return out


def _parse_frames(rows: Iterator[list[str]], positions: np.ndarray,
                  name: str) -> tuple[list[np.ndarray], int]:
    """One float32 [132] per data row (all NaN where a cell is junk), and the junk-row count."""
    frames: list[np.ndarray] = []
    junk_rows = 0
    for row in rows:
        if len(frames) >= MAX_KEYPOINT_FRAMES:
            raise InputError(
                f"{name} has more than {MAX_KEYPOINT_FRAMES:,} frames, the most GaitLab reads "
                "from one keypoint file; trim it to the walk and try again."
            )
        frame = np.full(len(positions), np.nan, dtype=np.float32)
        try:
            frame[:] = [_parse_cell(row[p]) if p < len(row) else math.nan for p in positions]
        except ValueError:
            junk_rows += 1  # the frame stays NaN: one bad cell spoils its skeleton
            frame[:] = np.nan
        frames.append(frame)
    return frames, junk_rows


def load_keypoint_csv(path: str | Path) -> np.ndarray:
    """Read a MediaPipe keypoint CSV into float32 [T, 33, 4] (x, y, z, visibility).

    Columns are found by name (`x_0 .. v_32`, any order, surrounding whitespace ignored); every
    other column, `label` included, is ignored. A frame is kept as detected only when all its
    x and y cells are numbers; otherwise (empty cells, junk text, inf) the whole frame is NaN.
    Missing z / visibility in a detected frame become 0. A frame whose landmarks all coincide
    (exporters write all-zero rows for "no person") is not a detection either, nor is one far
    larger than or far away from the rest of the walk (a glitch or a typo). The file is
    parsed row by row; more than `MAX_KEYPOINT_FRAMES` rows are refused.
    """
    path = Path(path)
    name = path.name
    rows = _rows(path)
    try:
        header = next(rows, None)
        if header is None:
            raise InputError(f"{name} is empty.")
        positions = _landmark_positions(header, name)
        frames, junk_rows = _parse_frames(rows, positions, name)
    finally:
        rows.close()  # closes the file at once, also when a limit stops the read
    if not frames:
        raise InputError(f"{name} has a header but no data rows.")
    seq = np.stack(frames).reshape(len(frames), NUM_LANDMARKS, len(CHANNELS))
    del frames

    detected = np.isfinite(seq[..., :2]).all(axis=(1, 2))
    degenerate = np.zeros_like(detected)
    degenerate[detected] = _degenerate(seq[detected])
    detected &= ~degenerate
    detected &= ~_outliers(seq, detected)  # left as gaps: `fill_gaps` bridges short ones
    seq[~detected] = np.nan
    zv = seq[detected][..., 2:]
    zv[~np.isfinite(zv)] = 0.0
    seq[detected, :, 2:] = zv

    n_detected = int(detected.sum())
    if n_detected == 0:
        reason = "non-numeric values" if junk_rows else "no detected person in any frame"
        if degenerate.any():
            reason = "the landmarks of every frame coincide: no body to draw"
        raise InputError(f"{name} has no usable landmark values ({reason}).")
    if n_detected < CLIP_FRAMES:
        raise InputError(
            f"{name} has only {n_detected} frames with a detected person; at least "
            f"{CLIP_FRAMES} are needed."
        )
    return seq


class NpzSequences(Mapping[str, np.ndarray]):
    """Lazy, read-only access to `keypoints.npz`: `seqs[video_id]` → float32 [T, 33, 4].

    Arrays are stored as float16; each is read and converted only when asked for, so opening
    the archive is cheap. Use as a context manager (or call `close`) to release the file.
    """

    def __init__(self, path: str | Path):
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path.name} was not found or is not a file.")
        try:
            self._npz = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            raise InputError(f"{path.name} is not a readable .npz keypoint archive.") from None
        self._keys = list(self._npz.files)

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._npz.files:
            raise KeyError(key)
        return np.asarray(self._npz[key], dtype=np.float32)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def close(self) -> None:
        self._npz.close()

    def __enter__(self) -> NpzSequences:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_gait_metadata(root: str | Path):
    """The `metadata.csv` of a gait-keypoints folder `root` (one row per walk; see the shared
    data's README) as a pandas DataFrame; InputError when the folder lacks metadata.csv or
    keypoints.npz, or the table lacks `video_id`, `label` or `subject_id`."""
    import pandas as pd  # here: keeps pandas off the keypoint readers' import

    root = Path(root)
    missing = [n for n in ("metadata.csv", "keypoints.npz") if not (root / n).is_file()]
    if missing:
        raise InputError(f"{root} is not a gait-keypoints folder: {' and '.join(missing)} missing.")
    meta = pd.read_csv(root / "metadata.csv", dtype={"sequence": str})
    for col in ("video_id", "label", "subject_id"):
        if col not in meta.columns:
            raise InputError(f"{root / 'metadata.csv'} has no {col!r} column.")
    return meta


def load_npz_sequences(path: str | Path) -> NpzSequences:
    """Open `keypoints.npz` (key = video_id) for lazy float32 access; see `NpzSequences`."""
    return NpzSequences(path)


# --- Cleaning ------------------------------------------------------------------------------


def detected_frames(seq: np.ndarray) -> np.ndarray:
    """bool [T]: frames whose x and y are finite for every landmark."""
    return np.isfinite(np.asarray(seq)[..., :2]).all(axis=(1, 2))


def kept_span(seq: np.ndarray, max_gap: int = 10) -> tuple[int, int]:
    """(first, last) row of `seq` [T, 33, 4] that `fill_gaps` keeps: the longest stretch of
    detected frames whose gaps are at most `max_gap` frames. Row r of the cleaned sequence is
    row first + r of `seq`."""
    idx = np.flatnonzero(detected_frames(seq))
    if len(idx) == 0:
        raise InputError("No frame of the sequence has a detected person.")
    # Split the detected frames wherever the gap to the next one is too long.
    breaks = np.flatnonzero(np.diff(idx) > max_gap + 1)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]])
    best = int(np.argmax(ends - starts))
    return int(starts[best]), int(ends[best])


def fill_gaps(seq: np.ndarray, max_gap: int = 10) -> np.ndarray:
    """Interpolate short detection gaps and trim the rest: [T, 33, 4] → [T', 33, 4], no NaN.

    Gaps of at most `max_gap` missing frames are filled by linear interpolation per landmark
    and channel. Leading and trailing missing frames are dropped. Where a longer gap splits the
    walk, only the longest contiguous part (counted in frames, gaps bridged) is kept: joining
    two parts across a long gap would invent motion that never happened.
    """
    seq = np.asarray(seq, dtype=np.float32)
    ok = detected_frames(seq)
    start, end = kept_span(seq, max_gap)

    part = seq[start : end + 1].copy()
    frames = np.arange(len(part))
    good = ok[start : end + 1]
    flat = part.reshape(len(part), -1)
    for col in range(flat.shape[1]):
        values = flat[:, col]
        finite = good & np.isfinite(values)
        if finite.any():
            flat[~finite, col] = np.interp(frames[~finite], frames[finite], values[finite])
        else:
            flat[:, col] = 0.0  # z / visibility never given: neutral value
    part = flat.reshape(part.shape)
    if len(part) < CLIP_FRAMES:
        raise InputError(
            f"Only {len(part)} consecutive frames with a detected person remain after "
            f"dropping detection gaps; at least {CLIP_FRAMES} are needed."
        )
    return part


# Landmarks whose motion decides whether a limb pair's labels swapped between frames (the
# distal joints: hips and shoulders sit too close together in a side view to tell).
_SWAP_GROUPS = {"legs": (KNEE, ANKLE, HEEL, FOOT_INDEX), "arms": (ELBOW, WRIST)}
# Landmarks whose labels follow each group's decision (whole limbs, hands and feet included).
_SWAP_MEMBERS = {"legs": tuple(range(HIP[0], 33)), "arms": tuple(range(SHOULDER[0], HIP[0]))}
# The price of reading a frame as swapped, as a share of the walk's median frame-to-frame limb
# motion: a frame is relabelled only when that clearly makes the motion smoother.
SWAP_PRICE = 0.5


def _swap_states(pos: np.ndarray, left: list[int], right: list[int]) -> np.ndarray:
    """bool [T]: which frames to relabel, by Viterbi over {as given, swapped} per frame.

    Cost of a labelling = the limbs' total frame-to-frame travel (distal joints `left`/`right`
    of `pos` [T, 33, 2]) + `SWAP_PRICE` × the median travel for every relabelled frame. Frames
    where the legs cross cost the same either way, so the whole walk decides them."""
    views = [pos[:, left + right], pos[:, right + left]]  # state 0: as given, 1: swapped

    def travel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.linalg.norm(a - b, axis=-1).sum(axis=-1)

    step = np.stack([[travel(views[p][:-1], views[q][1:]) for q in (0, 1)] for p in (0, 1)])  # [2, 2, T-1]
    price = SWAP_PRICE * float(np.median(step[0, 0])) if step.shape[-1] else 0.0
    cost = np.array([0.0, price])
    back = np.zeros((len(pos), 2), dtype=int)
    for t in range(1, len(pos)):
        options = cost[:, None] + step[:, :, t - 1]  # [from, to]
        back[t] = options.argmin(axis=0)
        cost = options.min(axis=0) + [0.0, price]
    states = np.zeros(len(pos), dtype=bool)
    states[-1] = bool(cost.argmin())
    for t in range(len(pos) - 1, 0, -1):
        states[t - 1] = bool(back[t, int(states[t])])
    return states


def fix_side_swaps(seq: np.ndarray) -> np.ndarray:
    """Undo frames where the pose estimator swapped left and right limbs: float [T, 33, 4].

    MediaPipe, seeing a walker side-on, now and then labels the near leg as the far one for a
    few frames. For the legs and for the arms separately, the labelling of every frame (as
    given, or swapped) is chosen so that the limbs move least over the whole walk, with a price
    on every relabelled frame (`_swap_states`). `seq` must have no NaN (gap-filled).
    """
    out = np.array(seq, dtype=np.float32, copy=True)
    pos = out[:, :, :2].astype(np.float64)
    for group, pairs in _SWAP_GROUPS.items():
        states = _swap_states(pos, [p[0] for p in pairs], [p[1] for p in pairs])
        members = np.array(_SWAP_MEMBERS[group])
        rows = np.flatnonzero(states)
        out[np.ix_(rows, members)] = out[np.ix_(rows, MIRROR_ORDER[members])]
    return out


def smooth(seq: np.ndarray) -> np.ndarray:
    """x and y through a centred [1, 2, 1] / 4 filter over time (ends kept): float [T, 33, 4]."""
    out = np.array(seq, dtype=np.float32, copy=True)
    if len(out) >= 3:
        xy = seq[..., :2].astype(np.float64)
        out[1:-1, :, :2] = (xy[:-2] + 2 * xy[1:-1] + xy[2:]) / 4
    return out


def clean_sequence(seq: np.ndarray, max_gap: int = 10) -> np.ndarray:
    """The one cleaning every landmark sequence gets — a user's video after pose, a keypoint
    file, and every training walk: `fill_gaps` (short gaps filled, the rest trimmed),
    `fix_side_swaps`, then `smooth`. [T, 33, 4] with NaN rows → [T', 33, 4] with none."""
    return smooth(fix_side_swaps(fill_gaps(seq, max_gap=max_gap)))


# --- Signals -------------------------------------------------------------------------------


def step_signal(seq: np.ndarray) -> np.ndarray:
    """float [T]: horizontal distance between the ankles (peaks twice per gait cycle)."""
    seq = np.asarray(seq, dtype=np.float32)
    return np.abs(seq[:, ANKLE[0], 0] - seq[:, ANKLE[1], 0])


def _segment_deltas(seq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """dx, dy [T', 4] of the leg segments over detected frames (normalised units)."""
    seq = np.asarray(seq, dtype=np.float64)[detected_frames(seq)]
    a = np.array([s[0] for s in LEG_SEGMENTS])
    b = np.array([s[1] for s in LEG_SEGMENTS])
    return seq[:, b, 0] - seq[:, a, 0], seq[:, b, 1] - seq[:, a, 1]


def _aspect_cost(aspects: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """For each candidate aspect: summed variance over segments of log segment length."""
    a = aspects[:, None, None]
    # Lengths in units of frame height; the log makes the variance blind to overall scale.
    log_len = 0.5 * np.log((a * dx) ** 2 + dy**2 + 1e-12)
    return log_len.var(axis=1).sum(axis=1)


def estimate_aspect(seq: np.ndarray, fallback: float = FALLBACK_ASPECT) -> float:
    """Estimate the source frame's width/height ratio from leg-segment rigidity.

    x is in units of frame width and y of frame height, so a segment's true length is
    sqrt((aspect*dx)^2 + dy^2). Thighs and shanks rotate during gait; only the right aspect
    keeps their lengths constant. The ratio is searched over [0.4, 2.5]; `fallback` is
    returned when there are too few frames, the segments barely rotate, or the best ratio
    sits at the edge of the range or is not clearly better than the rest.
    """
    dx, dy = _segment_deltas(seq)
    if len(dx) > 300:  # a few hundred frames pin the ratio down; more only cost time
        keep = np.linspace(0, len(dx) - 1, 300).astype(int)
        dx, dy = dx[keep], dy[keep]
    if len(dx) < CLIP_FRAMES:
        return float(fallback)
    lo, hi = _ASPECT_RANGE
    grid = np.geomspace(lo, hi, 161)
    cost = _aspect_cost(grid, dx, dy)
    i = int(np.argmin(cost))
    # Segments that barely rotate make every ratio fit: the cost curve is flat (a 1 %
    # spread of log lengths is about the least a walking leg shows at a wrong ratio).
    if float(np.median(cost)) < 1e-4 or i == 0 or i == len(grid) - 1:
        return float(fallback)
    # Unclear when the minimum is shallow. On the real KOA-PD-NM sequences (16:9 video) fits
    # below this ratio land near 1.6-1.8; shallower ones scatter over the whole range.
    if not cost[i] < 0.6 * float(np.median(cost)):
        return float(fallback)
    fine = np.geomspace(grid[i - 1], grid[i + 1], 41)
    return float(fine[int(np.argmin(_aspect_cost(fine, dx, dy)))])


# Frontal-view body proportions (Winter): shoulder width 0.259 H, hip-to-ankle 0.491 H,
# hip-to-shoulder 0.288 H. MediaPipe's shoulder points sit a little inside the acromion.
_SHOULDER_PER_LEG, _SHOULDER_PER_TRUNK = 0.53, 0.90
_FRONTAL_RANGE = (0.45, 1.6)  # plausible width/height of a frontal recording


def source_aspect(seq: np.ndarray) -> float:
    """Source frame width/height of a gap-filled sequence [T, 33, 4].

    `estimate_aspect` needs legs that rotate in the image plane (a side view); for
    a person walking towards the camera it returns its 16:9 fallback, which renders portrait
    phone videos (the disabled-gait set) as absurdly wide figures. Then the ratio of shoulder
    width (x, frame widths) to leg and trunk length (y, frame heights) gives the aspect, used
    when it is plausible for a frontal view (a side view's shoulders overlap: huge values).
    """
    fallback = FALLBACK_ASPECT
    side = estimate_aspect(seq, fallback=fallback)
    if side != fallback:
        return side
    s = np.asarray(seq, dtype=np.float64)
    shoulders = np.percentile(np.abs(s[:, SHOULDER[0], 0] - s[:, SHOULDER[1], 0]), 90)  # the most frontal frames
    leg = np.median(s[:, list(ANKLE), 1].mean(1) - s[:, list(HIP), 1].mean(1))
    trunk = np.median(s[:, list(HIP), 1].mean(1) - s[:, list(SHOULDER), 1].mean(1))
    with np.errstate(all="ignore"):
        frontal = np.sqrt(_SHOULDER_PER_LEG * leg / shoulders * _SHOULDER_PER_TRUNK * trunk / shoulders)
    lo, hi = _FRONTAL_RANGE
    return float(frontal) if np.isfinite(frontal) and lo <= frontal <= hi else fallback
