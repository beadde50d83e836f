"""Hostile and broken input, property-based: the keypoint CSV loader, the note embedder and the
cohort manifest reader answer anything with either a valid result or an `InputError` carrying
a plain one-line message, never another exception.

Bounded: every property has a small `max_examples` and the whole file runs in well under two
minutes on two busy cores.
"""
from __future__ import annotations

import csv
import io
import itertools
import os
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gaitlab.cohort.inputs import CohortItem, read_manifest
from gaitlab.constants import CLASSES, CLIP_FRAMES, EMBED_DIM, MAX_NOTE_CHARS, NUM_LANDMARKS
from gaitlab.errors import InputError
from gaitlab.inference import keypoint_file_clips, note_embedding, score_case
from gaitlab.pipeline.keypoints import LANDMARK_COLUMNS, detected_frames, load_keypoint_csv
from gaitlab.ablation import note_words
from gaitlab.text import clear_cache, embed_note, model_text, note_text, token_inputs
from gaitlab.synth.walker import WalkerParams, walk_keypoints

BOM = "\ufeff"
# Text with every code point, lone surrogates included (they cannot even be encoded as UTF-8).
ANY_CHAR = st.characters(exclude_categories=[])
ANY_TEXT = st.text(alphabet=ANY_CHAR, max_size=300)


# GAITLAB_FUZZ_SCALE=20 runs twenty times the examples from a fresh random seed (a deep hunt);
# by default the examples are few and derandomised, so every run checks the same cases.
FUZZ_SCALE = float(os.environ.get("GAITLAB_FUZZ_SCALE", "1"))


def bounded(n: int):
    return settings(max_examples=max(1, int(n * FUZZ_SCALE)), deadline=None,
                    derandomize=FUZZ_SCALE == 1, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


# One scratch folder for the module; hypothesis reuses a test's fixtures across examples, so
# each example writes a file of its own name.
_SCRATCH = tempfile.TemporaryDirectory(prefix="gaitlab-hostile-")
_COUNTER = itertools.count()


def scratch_file(data: bytes, suffix: str = ".csv") -> Path:
    path = Path(_SCRATCH.name) / f"case{next(_COUNTER):06d}{suffix}"
    path.write_bytes(data)
    return path


def assert_plain(exc: InputError) -> None:
    """A message fit for the CLI's single `error:` line and the app's red box."""
    msg = str(exc)
    assert msg.strip(), "empty error message"
    assert "\n" not in msg and "\r" not in msg, f"message spans several lines: {msg!r}"
    assert "Traceback" not in msg
    assert len(msg) < 600, f"message too long ({len(msg)} chars)"


# --- The keypoint CSV loader ----------------------------------------------------------------
def check_keypoints(path: Path) -> np.ndarray | None:
    """Load; the result is InputError (plain) or a valid sequence. Returns the sequence or None.

    Numeric warnings count as failures: an overflow warning means a value silently became inf.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            seq = load_keypoint_csv(path)
    except InputError as exc:
        assert_plain(exc)
        return None
    assert isinstance(seq, np.ndarray) and seq.dtype == np.float32
    assert seq.ndim == 3 and seq.shape[1:] == (NUM_LANDMARKS, 4)
    ok = detected_frames(seq)
    assert ok.sum() >= CLIP_FRAMES
    assert np.isfinite(seq[ok]).all(), "a detected frame holds NaN or inf"
    assert np.isnan(seq[~ok]).all(), "an undetected frame is partly filled"
    return seq


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


WALK = walk_keypoints(WalkerParams(), n_frames=40, fps=30.0)
GOOD_ROWS = [[f"{v:.6g}" for v in frame.reshape(-1)] for frame in WALK]

# Cells a hostile or broken exporter might write.
JUNK_CELLS = st.one_of(
    st.sampled_from(["", " ", "nan", "NaN", "inf", "-inf", "Infinity", "1e309", "-1e309", "1e-400",
                     "3.5e38", "1e38", "0x10", "1_000", "١٢", "½", "true", "None", "null", "#N/A",
                     "1,5", "0.5.5", "--1", "\x00", "\ufeff0.5", " 0.5 ", "1" * 70, "9" * 5000]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(width=32).map(lambda v: f"{v:.9g}"),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    ANY_TEXT.filter(lambda s: "\x00" not in s),
)


def canonical_column(name: str) -> int | None:
    """Position in LANDMARK_COLUMNS of a header cell as the loader reads it, or None."""
    m = re.match(r"^([xyzv])_([0-9]+)$", name.strip().lower())
    key = f"{m.group(1)}_{int(m.group(2))}" if m else None
    return LANDMARK_COLUMNS.index(key) if key in LANDMARK_COLUMNS else None


@st.composite
def header_variants(draw) -> list[str]:
    """The 132 landmark columns, possibly shuffled, re-cased, padded, with extra columns."""
    cols = list(LANDMARK_COLUMNS)
    if draw(st.booleans()):
        cols = draw(st.permutations(cols))
    style = draw(st.sampled_from(["plain", "upper", "padded", "zero-padded"]))
    if style == "upper":
        cols = [c.upper() for c in cols]
    elif style == "padded":
        cols = [f"  {c} " for c in cols]
    elif style == "zero-padded":
        cols = [f"{c[0]}_{int(c[2:]):02d}" for c in cols]
    extra = draw(st.lists(st.sampled_from(["label", "video_file", "frame", "x_33", "x_-1", "y_",
                                           "v_0", "", " "]) | ANY_TEXT, max_size=3))
    for name in extra:
        cols.insert(draw(st.integers(0, len(cols))), name)
    if draw(st.integers(0, 9)) == 0:  # now and then a column goes missing
        del cols[draw(st.integers(0, len(cols) - 1))]
    return cols


@st.composite
def keypoint_csvs(draw) -> bytes:
    """A MediaPipe-layout CSV of a real walk with some junk: bad cells, short and long rows,
    blank rows, an encoding twist."""
    header = draw(header_variants())
    n = draw(st.integers(0, len(GOOD_ROWS)))
    source = [canonical_column(c) for c in header]  # which landmark value each column holds
    rows = [[frame[i] if i is not None else "x" for i in source] for frame in GOOD_ROWS[:n]]
    for _ in range(draw(st.integers(0, 12)) if rows else 0):
        r = draw(st.integers(0, len(rows) - 1))
        kind = draw(st.sampled_from(["cell", "cell", "cell", "cut", "extend", "blank", "all-empty"]))
        if kind == "cell" and rows[r]:
            rows[r][draw(st.integers(0, len(rows[r]) - 1))] = draw(JUNK_CELLS)
        elif kind == "cut":
            rows[r] = rows[r][: draw(st.integers(0, len(rows[r])))]
        elif kind == "extend":
            rows[r] = rows[r] + draw(st.lists(JUNK_CELLS, max_size=5))
        elif kind == "blank":
            rows[r] = []
        else:
            rows[r] = [""] * len(rows[r])
    text = csv_text(header, rows)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-bom", "crlf", "utf-16", "latin-1"]))
    if encoding == "utf-8-bom":
        return (BOM + text).encode("utf-8", errors="surrogatepass")
    if encoding == "crlf":
        return text.replace("\n", "\r\n").encode("utf-8", errors="surrogatepass")
    if encoding == "utf-16":
        return text.encode("utf-16", errors="surrogatepass")
    if encoding == "latin-1":
        return text.encode("latin-1", errors="replace")
    return text.encode("utf-8", errors="surrogatepass")


@bounded(120)
@given(st.binary(max_size=4000))
@example(b"")
@example(b"\xef\xbb\xbf")
@example(b"\x00" * 10)
@example(b"\n\n\n\r\n")
@example(b"x_0\n" + b"\x00" * 5000)
def test_loader_on_arbitrary_bytes(data):
    check_keypoints(scratch_file(data))


@bounded(80)
@given(st.text(alphabet=ANY_CHAR, max_size=3000), st.sampled_from(["", BOM]))
@example(",".join(LANDMARK_COLUMNS), "")
@example(",".join(LANDMARK_COLUMNS) + "\n" + "," * 131, BOM)
@example(",".join(LANDMARK_COLUMNS) + "\n" + '"' + "1" * 200_000 + '"', "")
@example('"' + "x" * 10, "")
def test_loader_on_arbitrary_text(text, prefix):
    check_keypoints(scratch_file((prefix + text).encode("utf-8", errors="surrogatepass")))


@bounded(150)
@given(keypoint_csvs())
def test_loader_on_keypoint_csvs_with_junk(data):
    check_keypoints(scratch_file(data))


def test_loader_special_cases(tmp_path):
    """Hand-picked hostile files, each with the expected answer."""
    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8", newline="")
        return path

    header = ",".join(LANDMARK_COLUMNS)
    good = "\n".join(",".join(r) for r in GOOD_ROWS)
    # BOM and CRLF are fine.
    assert check_keypoints(write("bom.csv", BOM + header + "\r\n" + good.replace("\n", "\r\n"))) is not None
    # All-zero rows (an exporter's "no person") are not detections.
    zeros = "\n".join(",".join(["0"] * len(LANDMARK_COLUMNS)) for _ in range(20))
    with pytest.raises(InputError, match="coincide"):
        load_keypoint_csv(write("zeros.csv", header + "\n" + zeros))
    seq = check_keypoints(write("mixed.csv", header + "\n" + good + "\n" + zeros))
    assert detected_frames(seq).sum() == len(GOOD_ROWS)
    # Values beyond float32 are not detections (they would overflow to inf).
    huge = "\n".join(",".join(["1e39"] * len(LANDMARK_COLUMNS)) for _ in range(20))
    with pytest.raises(InputError, match="no usable landmark values"):
        load_keypoint_csv(write("huge.csv", header + "\n" + huge))
    # A cell of 100 000 digits is junk, not a number: that frame is dropped, the rest is kept.
    rows = [r[:] for r in GOOD_ROWS]
    rows[3][0] = "1" * 100_000
    seq = check_keypoints(write("longcell.csv", csv_text(list(LANDMARK_COLUMNS), rows)))
    assert detected_frames(seq).sum() == len(GOOD_ROWS) - 1
    # A binary file with a .csv name.
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(InputError, match="binary|text"):
        load_keypoint_csv(path)


@pytest.fixture(scope="module")
def model(random_weights):
    from gaitlab.inference import get_model

    return get_model(random_weights)


@bounded(20)
@given(keypoint_csvs())
def test_junk_csvs_that_load_also_analyse(model, data):
    """Past the loader, the rest of the pipeline holds too: clips of the right shape and a
    probability distribution with finite values."""
    path = scratch_file(data)
    if check_keypoints(path) is None:
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            case = keypoint_file_clips(path)
    except InputError as exc:  # e.g. detections too scattered to keep 8 consecutive frames
        assert_plain(exc)
        return
    assert case.masks.dtype == np.uint8 and case.masks.shape[1:] == (CLIP_FRAMES, 224, 224, 3)
    assert case.masks.any(), "the pose frames are empty"
    result = score_case(case, "", model, name=str(path))
    probs = np.array([result.probabilities[c] for c in CLASSES])
    assert np.isfinite(probs).all() and abs(probs.sum() - 1) < 1e-4
    assert torch.isfinite(result.clip).all()


# --- The note embedder (MiniLM) ------------------------------------------------------------
def check_embedding(vec: np.ndarray, note: object) -> None:
    """float32 [384], finite; zeros exactly for a blank note, else unit length."""
    assert isinstance(vec, np.ndarray) and vec.dtype == np.float32 and vec.shape == (EMBED_DIM,)
    assert np.isfinite(vec).all()
    norm = float(np.linalg.norm(vec))
    if note_text(note)[:MAX_NOTE_CHARS].strip():
        assert abs(norm - 1.0) < 1e-4, norm
    else:
        assert norm == 0.0


def long_note(piece: str) -> str:
    """About 100 000 characters made of `piece`."""
    return piece * (100_000 // max(1, len(piece)) + 1)


@bounded(150)
@given(ANY_TEXT)
@example("")
@example(BOM + "knee pain")
@example("\x00\x01\x02")
@example("\ud800 lone surrogate \udfff")
@example("\ud83d\ude00 a split surrogate pair")
@example("ﷺ" * 6000)  # NFKC expands this ligature eighteen-fold
@example("e\u0301" * 3000)
@example(" " * 100_000)
@example("\u200b\u200d\ufeff")  # zero-width characters only: no word pieces at all
@example("[CLS] [SEP] [PAD] [MASK] [UNK]")
def test_embed_any_text(text):
    vec = embed_note(text)
    check_embedding(vec, text)
    clear_cache()  # recompute rather than read back the cached vector
    np.testing.assert_allclose(vec, embed_note(text), atol=1e-6, err_msg="embedding is not deterministic")


@bounded(25)
@given(st.text(alphabet=ANY_CHAR, min_size=1, max_size=40))
def test_embed_very_long_notes(piece):
    note = long_note(piece)
    vec = embed_note(note)
    check_embedding(vec, note)
    # Only the first MAX_NOTE_CHARS characters count, and the caller says so.
    clear_cache()
    np.testing.assert_allclose(vec, embed_note(note[:MAX_NOTE_CHARS]), atol=1e-6)
    tensor, warnings = note_embedding(note)
    assert tensor.shape == (1, EMBED_DIM) and torch.isfinite(tensor).all()
    assert len(warnings) == 1 and f"{MAX_NOTE_CHARS:,}" in warnings[0]


@bounded(100)
@given(ANY_TEXT | st.text(alphabet=ANY_CHAR, min_size=1, max_size=20).map(long_note))
@example("Don't walk_fast, ü 膝 😀 knee-pain")
@example("ﷺ" * 6000)
def test_note_words_on_any_text(text):
    """The words word attribution reports: substrings of the note as read, with a letter or a
    digit, over valid word pieces, in order, never [CLS] or [SEP]."""
    inputs = token_inputs(text)
    length = inputs.input_ids.shape[1]
    assert inputs.attention_mask.shape == (1, length) and length <= 256
    assert inputs.text == model_text(text)
    last = 0
    for word, pieces in note_words(inputs):
        assert any(ch.isalnum() for ch in word) and word in inputs.text
        assert all(0 < i < length - 1 for i in pieces) and pieces == sorted(pieces) and pieces[0] >= last
        last = pieces[-1] + 1


WRONG_TYPES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=200), st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.tuples(st.integers()),
    st.just(np.float32("nan")), st.just(np.array(["knee"])), st.just(object()),
)


@bounded(100)
@given(WRONG_TYPES)
@example(None)
@example(float("nan"))
@example(b"\xff\xfe knee pain")
def test_embed_wrong_types(note):
    try:
        vec = embed_note(note)
    except InputError as exc:
        assert_plain(exc)
        assert "text" in str(exc)
        return
    check_embedding(vec, note)
    # Accepted non-strings are missing values (→ an empty note) or bytes (decoded).
    assert note is None or isinstance(note, (bytes, float))


def test_missing_note_is_empty():
    assert not embed_note(None).any() and not embed_note(float("nan")).any()
    assert np.array_equal(embed_note(b"knee pain"), embed_note("knee pain"))
    with pytest.raises(InputError, match="must be text"):
        embed_note(42)
    with pytest.raises(InputError, match="must be text"):
        note_embedding(["knee", "pain"])


# --- The cohort manifest reader -------------------------------------------------------------
def check_manifest(path: Path) -> list[CohortItem] | None:
    """InputError or a list of CohortItem whose fields are all strings."""
    try:
        items = read_manifest(path)
    except InputError as exc:
        assert str(exc).strip()
        return None
    assert isinstance(items, list)
    for item in items:
        assert isinstance(item, CohortItem)
        for field in ("path", "cohort", "label", "description"):
            assert isinstance(getattr(item, field), str), (field, getattr(item, field))
        assert item.label == "" or item.label in CLASSES
    return items


MANIFEST_COLUMNS = st.sampled_from(["path", "Path", " PATH ", "cohort", "label", "description",
                                    "Label", "notes", "", "Unnamed: 0"]) | ANY_TEXT
MANIFEST_CELLS = st.one_of(
    st.sampled_from(["", " ", "a.mp4", "sub/b.csv", "/abs/c.avi", "../up.mkv", "Normal", "PD_Mild",
                     "nan", "NaN", "NULL", "#N/A", "None", '"', "a,b", "line\nbreak", "x" * 5000]),
    st.sampled_from(list(CLASSES)),
    ANY_TEXT,
)


@st.composite
def manifests(draw) -> bytes:
    header = ["path"] + draw(st.lists(MANIFEST_COLUMNS, max_size=4))
    header = draw(st.permutations(header))
    rows = draw(st.lists(st.lists(MANIFEST_CELLS, min_size=0, max_size=len(header) + 1), max_size=6))
    text = csv_text(header, rows)
    if draw(st.booleans()):
        text = BOM + text
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8", "utf-16"])), errors="surrogatepass")


@bounded(100)
@given(st.binary(max_size=3000))
@example(b"")
@example(b"\xef\xbb\xbfpath\na.mp4\n")
@example(b"path\n\x00\n")
def test_manifest_on_arbitrary_bytes(data):
    check_manifest(scratch_file(data))


@bounded(100)
@given(manifests())
def test_manifest_on_hostile_csvs(data):
    check_manifest(scratch_file(data))


def test_manifest_long_fields(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("path,description\na.mp4," + "word " * 20_000 + "\n", encoding="utf-8")
    items = check_manifest(path)
    assert items is not None and len(items) == 1 and len(items[0].description) == len(("word " * 20_000).strip())


# Former bugs of the manifest reader (gaitlab/cohort/inputs.py, owned by another team), each a
# minimal repro asserting the one behaviour it has now: a plain, one-line refusal that says
# what is wrong and where.
def _raises_plain(data: bytes, tmp_path: Path) -> InputError:
    path = tmp_path / "m.csv"
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_manifest(path)
    assert_plain(info.value)
    return info.value


def test_manifest_bug_duplicate_path_columns(tmp_path):
    exc = _raises_plain(b"path,Path\na.mp4,b.mp4\n", tmp_path)
    assert re.search(r"m\.csv\b.*'path'.*more than once", str(exc)), str(exc)


def test_manifest_bug_duplicate_label_columns(tmp_path):
    exc = _raises_plain(b"path,label,LABEL\na.mp4,Normal,Normal\n", tmp_path)
    assert "classes: label" not in str(exc)
    assert re.search(r"'label'.*more than once", str(exc)), str(exc)


def test_manifest_bug_rows_longer_than_header(tmp_path):
    """Extra cells would otherwise be dropped silently (or shift into the wrong column): the
    row is refused with its line number and both counts."""
    exc = _raises_plain(b"path,cohort\na.mp4,x\nb.mp4,x,y,z\n", tmp_path)
    assert re.search(r"m\.csv line 3 has 4 cells\b.*header names 2\b", str(exc)), str(exc)


def test_manifest_bug_empty_path_cell(tmp_path):
    """An empty path would resolve to the manifest's own folder: refused, with the line."""
    for content, line in ((b"path,cohort\n,x\n", 2), (b"path,cohort\na.mp4,x\n   ,y\n", 3)):
        exc = _raises_plain(content, tmp_path)
        assert re.search(rf"m\.csv line {line} has an empty path", str(exc)), (content, str(exc))


def test_manifest_bug_multi_line_message(tmp_path):
    _raises_plain(b"path\na\n\x01,\x02\n", tmp_path)
