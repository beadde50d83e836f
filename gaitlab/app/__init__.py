"""Streamlit glue shared by the pages: the page header, case selection, cached work.

Pages arrange widgets and call these; all model, image and statistics logic lives elsewhere in
`gaitlab`. What a case is, where its bytes are and what it gives for the person analysed live in
`app.cases`; the people found in a video and the refusal of a non-walk, in `app.people` (their
names are re-exported here). Results are cached by the file's SHA-256 (`st.cache_data`; a case's
clips by file hash and person) and the model once per process (`st.cache_resource`). Uploaded
bytes are written to a private temporary folder only while they are analysed and removed
afterwards, even when the analysis fails.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from gaitlab.app.cases import (  # noqa: F401  (re-exported: pages and tests use them as app.X)
    PEOPLE_CHOICE,
    CaseRef,
    Refusal,
    _private_copies,
    _with_file,
    case_from_path,
    case_from_upload,
    check_upload,
    choose_person,
    chosen_person,
    demo_ref,
    prepare_outcome,
    sha256_bytes,
)
from gaitlab.app.people import (  # noqa: F401
    ANALYSED_BORDER,
    OTHER_BORDER,
    image_url,
    marked_thumbnail,
    people_row,
    person_caption,
    person_label,
    person_line,
    refusal_text,
    show_refusal,
)
from gaitlab.constants import (
    CLASSES,
    DATA_ROOT_ENV,
    DISPLAY_NAMES,
    MAX_COHORT_FILES,
    MAX_NOTE_CHARS,
    NOTICE,
    SUPPORTED_EXTENSIONS,
)
from gaitlab.demo import DEMO_CASES, DEMO_DIR, demo_case
from gaitlab.errors import InputError, WeightsError
from gaitlab.metrics import describe_ratio

UPLOAD_TYPES = [e.lstrip(".") for e in SUPPORTED_EXTENSIONS]
CURRENT_CASE = "gaitlab_current_case"  # session-state key: the case the user is looking at


def page_header(title: str, what_it_shows: str) -> None:
    """Page config, title, the one-line summary, the research-use notice, and a plain error
    when the pose model files that ship with MediaPipe are missing or altered."""
    st.set_page_config(page_title=f"GaitLab · {title}", layout="wide")
    st.title(title)
    st.caption(what_it_shows)
    st.warning(NOTICE, icon="⚠️")
    problem = pose_models_problem()
    if problem:
        st.error(f"Videos cannot be analysed: {problem} Keypoint files still work.")
    problem = embedder_problem()
    if problem:
        st.error(f"Clinical notes cannot be read: {problem}")


@st.cache_resource(show_spinner="Checking the note encoder…")
def embedder_problem() -> str | None:
    """None when the MiniLM note encoder's files pass their SHA-256 check, else what is wrong."""
    from gaitlab.text import check_embedder

    return check_embedder()


@st.cache_resource(show_spinner="Checking the pose model files…")
def pose_models_problem() -> str | None:
    """None when MediaPipe's bundled pose models pass their SHA-256 check (once per process),
    else what is wrong, in one sentence."""
    from gaitlab.pipeline.pose import check_pose_models

    try:
        check_pose_models()
    except WeightsError as exc:
        return str(exc)
    return None



def case_picker(key: str, label: str = "Case", allow_upload: bool = True,
                default_index: int = 0) -> tuple[CaseRef | None, str]:
    """Pick a demo case or upload a file, and write the note. Returns (case, note).

    The demo list starts at `default_index` (so side-by-side pickers start on different cases),
    or at the case the user looked at last.
    """
    sources = ["Demo case", "Upload a file"] if allow_upload else ["Demo case"]
    current: CaseRef | None = st.session_state.get(CURRENT_CASE)
    is_demo = current is not None and current.path is not None and DEMO_DIR in Path(current.path).parents
    if current is not None and not is_demo:
        sources.insert(0, "The case you opened last")
    source = st.radio(f"{label}: source", sources, horizontal=True, key=f"{key}_source")
    ref: CaseRef | None = None
    if source == "Demo case":
        titles = {c.title: c.name for c in DEMO_CASES}
        default = default_index % len(DEMO_CASES)
        if current is not None and default_index == 0:
            default = next((i for i, c in enumerate(DEMO_CASES) if c.title == current.name), 0)
        # Real walks come first; each option says whether it is a real walk or the synthetic walker.
        title = st.selectbox(f"{label}: demo", list(titles), index=default, key=f"{key}_demo",
                             format_func=lambda t: demo_case(titles[t]).option)
        ref = demo_ref(titles[title])
        st.caption(demo_case(titles[title]).caption)  # a real walk: its recorded label and credit
    elif source == "Upload a file":
        upload = st.file_uploader(f"{label}: video or MediaPipe keypoint CSV", type=UPLOAD_TYPES, key=f"{key}_upload")
        try:
            ref = case_from_upload(upload) if upload is not None else None
        except InputError as exc:
            st.error(str(exc))
            ref = None
    else:
        ref = current
        st.caption(f"{current.name}")
    default_note = ref.description if ref is not None else ""
    note = st.text_area(f"{label}: clinical note (optional)", value=default_note[:MAX_NOTE_CHARS],
                        max_chars=MAX_NOTE_CHARS, key=f"{key}_note_{ref.digest[:12] if ref else 'none'}",
                        height=80, help=f"At most {MAX_NOTE_CHARS:,} characters.")
    return ref, note



@st.cache_resource(show_spinner="Loading the model…")
def cached_model():
    from gaitlab.inference import get_model

    return get_model()


@st.cache_resource(show_spinner="Loading the keypoint teacher…")
def cached_teacher():
    from gaitlab.inference import get_teacher

    return get_teacher()


@st.cache_data(show_spinner=False, max_entries=64)
def _analysis(digest: str, person: int | None, description: str, name: str, _case):
    from gaitlab.inference import score_case

    return score_case(_case, description, cached_model(), name=name, teacher=cached_teacher())


def case_outcome(ref: CaseRef, description: str):
    """The case's `Analysis` for the person picked in this session (cached by file hash, person
    and note), its `Refusal` when that person does not walk, or None after showing the error.

    Decoding is cached apart from scoring, so editing the note does not re-read the video.
    """
    bar = st.progress(0.05, text=f"Reading {ref.name} and finding the people in it…")
    try:
        outcome = prepare_outcome(ref, chosen_person(ref), bar)
        if isinstance(outcome, Refusal):
            return outcome
        bar.progress(0.7, text="Scoring clips…")
        return _analysis(ref.digest, outcome.person_id, description, ref.name, outcome)
    except (InputError, WeightsError) as exc:
        st.error(str(exc))
        return None
    finally:
        bar.empty()


def analyze_case(ref: CaseRef, description: str):
    """The case's Analysis (see `case_outcome`); None after showing the error, or after showing
    the refusal when the person picked for it does not walk."""
    outcome = case_outcome(ref, description)
    if isinstance(outcome, Refusal):
        show_refusal(outcome, elsewhere=True)
        return None
    return outcome


def _case_key(ref: CaseRef, analysis) -> str:
    """What caches of an analysed case are keyed by: the file hash and the person analysed."""
    person = getattr(analysis, "person", None)
    return ref.digest if person is None else f"{ref.digest}#person{person}"


@st.cache_data(show_spinner=False, max_entries=64)
def _explanation(digest: str, description: str, method: str, target: str, _analysis_obj):
    from gaitlab.explanations import explain

    return explain(_analysis_obj, method=method, target=target, model=cached_model())


def explain_case(ref: CaseRef, description: str, analysis, method: str = "gradcam", target: str | None = None):
    """Cached explanation of an analysed case."""
    with st.spinner(f"Computing {method.replace('_', ' ')}…"):
        return _explanation(_case_key(ref, analysis), description, method, target or analysis.label, analysis)


@st.cache_data(show_spinner=False, max_entries=64)
def _faithfulness(digest: str, description: str, method: str, target: str, _analysis_obj, _explanation_obj):
    from gaitlab.explanations import faithfulness

    return faithfulness(_analysis_obj, _explanation_obj, model=cached_model())


def faithfulness_case(ref: CaseRef, description: str, analysis, explanation):
    return _faithfulness(_case_key(ref, analysis), description, explanation.method, explanation.target, analysis, explanation)


@st.cache_data(show_spinner=False, max_entries=64)
def _note_ablation(digest: str, description: str, extra_notes: tuple[str, ...], _analysis_obj):
    from gaitlab.ablation import note_ablation

    return note_ablation(_analysis_obj, list(extra_notes), model=cached_model())


def note_ablation_case(ref: CaseRef, description: str, analysis, extra_notes: tuple[str, ...] = ()):
    with st.spinner("Scoring the note variants…"):
        return _note_ablation(_case_key(ref, analysis), description, tuple(extra_notes), analysis)


@st.cache_data(show_spinner=False, max_entries=64)
def _word_attribution(digest: str, description: str, target: str, _analysis_obj):
    from gaitlab.ablation import word_attribution

    return word_attribution(_analysis_obj, target=target, model=cached_model())


def word_attribution_case(ref: CaseRef, description: str, analysis, target: str):
    with st.spinner("Integrating gradients through the note encoder…"):
        return _word_attribution(_case_key(ref, analysis), description, target, analysis)


def picked_outcome(key: str, prompt: str = "Upload a file or pick a demo case."):
    """The page's case picker and its outcome: `(ref, note, outcome)`, the outcome an `Analysis`
    or a `Refusal` (see `case_outcome`). Stops the page run (after saying `prompt`, or after
    showing the error) when there is no case or the case cannot be used."""
    ref, note = case_picker(key)
    if ref is None:
        st.info(prompt)
        st.stop()
    outcome = case_outcome(ref, note)
    if outcome is None:
        st.stop()
    return ref, note, outcome


def picked_case(key: str, prompt: str = "Upload a file or pick a demo case."):
    """The page's case picker and its analysis: `(ref, note, analysis)`. Stops the page run
    (after saying `prompt`, or after showing the error or the refusal) when there is no case or
    no answer. Says which person is analysed when the video shows several."""
    ref, note, outcome = picked_outcome(key, prompt)
    if isinstance(outcome, Refusal):
        show_refusal(outcome, elsewhere=True)
        st.stop()
    line = person_line(outcome)
    if line:
        st.caption(line)
    return ref, note, outcome


def card_faithfulness() -> str | None:
    """The held-out faithfulness figure recorded in the model card, as one sentence."""
    from gaitlab.weights import read_card

    f = read_card().get("faithfulness")
    if not f:
        return None
    return (f"blanking the top 10% of Grad-CAM pixels lowered the predicted class's probability by "
            f"{f['top_drop']:.3f} on average, vs {f['random_drop']:.3f} for 10% random pixels "
            f"({describe_ratio(f['top_drop'], f['random_drop'])}, {f['cases']} cases).")


def data_root() -> Path:
    """The folder server-side cohort paths are confined to."""
    import os

    return Path(os.environ.get(DATA_ROOT_ENV) or Path.cwd()).resolve()


# Cohort results by (key, workers), newest last. Not `st.cache_data`: the run drives a progress
# bar, and a cached function's Streamlit calls are replayed on later runs, where the bar is gone.
_COHORTS: OrderedDict[tuple, Any] = OrderedDict()
_COHORTS_LOCK = threading.Lock()
MAX_CACHED_COHORTS = 16


def cohort_table(items, key: tuple, workers: int = 1):
    """Run the cohort engine with a progress bar; cached by `key` (paths and file hashes)."""
    from gaitlab.cohort.run import run_items

    with _COHORTS_LOCK:
        if (key, workers) in _COHORTS:
            _COHORTS.move_to_end((key, workers))
            return _COHORTS[(key, workers)]
    bar = st.progress(0.0, text=f"Analysing {len(items)} cases…")
    try:
        result = run_items(list(items), workers=workers,
                           progress=lambda k, n, row: bar.progress(k / n, text=f"{k}/{n}: {Path(str(row['path'])).name}"))
    finally:
        bar.empty()
    with _COHORTS_LOCK:
        _COHORTS[(key, workers)] = result
        while len(_COHORTS) > MAX_CACHED_COHORTS:
            _COHORTS.popitem(last=False)
    return result


def cohort_from_uploads(uploads, cohort: str, workers: int = 1):
    """Analyse uploaded files as one cohort; the files live in a private temp dir meanwhile."""
    from gaitlab.cohort.inputs import CohortItem

    if len(uploads) > MAX_COHORT_FILES:
        raise InputError(f"{len(uploads):,} files were uploaded; one cohort run takes at most "
                         f"{MAX_COHORT_FILES:,}.")
    refs = [case_from_upload(u) for u in uploads]
    key = ("uploads", cohort, tuple((r.name, r.digest) for r in refs))
    with _private_copies(refs, "gaitlab-cohort-") as paths:
        table = cohort_table([CohortItem(path, cohort) for path in paths], key, workers).copy()
    names = dict(zip(paths, (r.name for r in refs)))
    table["path"] = table["path"].map(lambda p: names.get(p, p))
    return table, {r.name: r for r in refs}


def confine_items(items, root: Path) -> None:
    """InputError if any case resolves outside `root`: a manifest row with `..` or an absolute
    path, or a link inside the folder pointing out of it, would otherwise escape the
    confinement of the typed folder."""
    root = Path(root).resolve()
    for item in items:
        try:
            real = Path(item.path).resolve()
        except (OSError, ValueError):
            raise InputError(f"{item.path} is not a usable path.") from None
        if real != root and root not in real.parents:
            raise InputError(f"{item.path} lies outside the data folder GaitLab may read ({root}); "
                             "list only files inside it.")


def cohort_from_source(source: Path, workers: int = 1, root: Path | None = None):
    """Analyse a server-side folder or manifest (already confined by the caller); every case it
    lists must also lie under `root` (default `data_root()`)."""
    from gaitlab.cohort.inputs import collect_inputs

    items = collect_inputs(source)
    if root is None:  # the bundled demo cohort lives with the package, wherever the data root is
        demo = DEMO_DIR.resolve()
        root = demo if demo in Path(source).resolve().parents else data_root()
    confine_items(items, root)
    key = ("server", str(source), tuple((i.path, i.cohort, i.label, i.description, _mtime(i.path)) for i in items))
    return cohort_table(items, key, workers)


def _mtime(path: str) -> float:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return -1.0


def class_label(cls: str) -> str:
    return f"{DISPLAY_NAMES[cls]} ({cls})"


def target_picker(key: str, default: str) -> str:
    return st.selectbox("Explain which class", list(CLASSES), index=CLASSES.index(default),
                        format_func=class_label, key=key)


def pose_frames_caption(analysis) -> str:
    """What the colours of the model's pose frames mean for this case."""
    # The crop that drew the frames says whether they were mirrored (x scale < 0).
    mirrored = analysis.placements is not None and analysis.placements[0][0, 0] < 0
    sides = ("The walker goes right to left, so the frames are mirrored (as if walking left to right): red is the "
             "right arm and leg, green the left" if mirrored else "Red is the left arm and leg, green the right")
    return (f"Pose frames, drawn from the walker's landmarks, one crop per clip so the stride stays visible. {sides}; "
            "blue is the trunk and head.")


def second_opinion_line(analysis) -> str | None:
    """One plain sentence comparing the student's answer with the keypoint teacher's."""
    t = analysis.teacher
    if not t:
        return None
    theirs = f"{DISPLAY_NAMES[t['label']]} ({t['confidence']:.0%})"
    if t["agrees"]:
        return f"**Second opinion: the two models agree.** The keypoint teacher, reading the same landmarks, also says {theirs}."
    return (f"**Second opinion: the two models disagree.** The keypoint teacher, reading the same landmarks, says {theirs}; "
            "treat the answer with extra caution.")


def show_warnings(analysis) -> None:
    for w in analysis.warnings:
        st.warning(w)


def with_skeleton(frames, analysis):
    """The analysis' 8 frames (model or original) with the walker's skeleton drawn on them."""
    from gaitlab.pipeline.render import draw_skeleton

    return frames if analysis.skeleton is None else draw_skeleton(frames, analysis.skeleton)


def originals_with_skeleton(analysis):
    """The main clip's whole original video frames with the walker's skeleton, or None
    (keypoint input): the model-frame landmarks taken back through each frame's crop."""
    from gaitlab.pipeline.render import draw_skeleton

    frames, placements = analysis.original_frames, analysis.placements
    if frames is None or placements is None or analysis.skeleton is None:
        return None
    h, w = frames.shape[1:3]
    points = []
    for pts, m in zip(analysis.skeleton, placements):
        norm = (np.asarray(pts, np.float64) - m[:, 2]) @ np.linalg.inv(m[:, :2]).T
        points.append(norm * [w, h])
    return draw_skeleton(frames, np.stack(points))


def keypoints_file_name(name: str, person: int | None) -> str:
    """The keypoint download's file name: `<case>.keypoints.csv`, `<case>.person<N>.keypoints.csv`
    for one person of a video."""
    return f"{name}{'' if person is None else f'.person{person}'}.keypoints.csv"


def keypoints_csv(analysis) -> bytes:
    """The analysis' landmark sequence as a keypoint CSV (shared data layout, frame and time_s)."""
    from gaitlab.pipeline.pose import keypoints_csv_text

    return keypoints_csv_text(analysis.keypoints, analysis.keypoint_frames, analysis.keypoint_times).encode()
