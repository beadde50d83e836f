"""Cases for the explorer: what a case is (`CaseRef`, by content), where its bytes are while it
is analysed, and what it gives for the person analysed: clips, or a `Refusal` when that person
does not walk (cached by file hash and person).

Uploaded bytes are written to a private temporary folder only while they are analysed and
removed afterwards, even when the analysis fails. The person picked for a case is kept per file
digest in the session (`PEOPLE_CHOICE`), so every page analyses the same person.
"""
from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import streamlit as st

from gaitlab.constants import MAX_UPLOAD_MB, SUPPORTED_EXTENSIONS
from gaitlab.demo import demo_case
from gaitlab.errors import InputError

PEOPLE_CHOICE = "gaitlab_people_choice"  # session-state key: {file digest: person id picked to analyse}


@dataclass(frozen=True)
class CaseRef:
    """A case by content: its name for display, SHA-256, suffix, and where its bytes are."""

    name: str
    digest: str
    suffix: str
    path: str | None = None  # a file on the server (demo case, cohort row)
    data: bytes | None = None  # an upload, kept in memory only for the rerun that uses it
    description: str = ""

    def read(self) -> bytes:
        return self.data if self.data is not None else Path(self.path).read_bytes()



def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@st.cache_data(show_spinner=False)
def _file_digest(path: str, mtime: float, size: int) -> str:
    return sha256_bytes(Path(path).read_bytes())


def case_from_path(path: str | Path, name: str | None = None, description: str = "") -> CaseRef:
    p = Path(path)
    st_ = p.stat()
    return CaseRef(name or p.name, _file_digest(str(p), st_.st_mtime, st_.st_size), p.suffix.lower(), path=str(p), description=description)


def check_upload(name: str, size: int) -> str:
    """The upload's suffix, or InputError with a plain message for a file the app will not take.

    Streamlit already refuses files over `server.maxUploadSize` (config.toml mirrors
    `MAX_UPLOAD_MB`); this is the same limit, enforced here too so it holds whatever config
    the server was started with. The suffix must be a supported one: it names the temporary
    file and picks the reader.
    """
    suffix = Path(str(name)).suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        kinds = ", ".join(e.lstrip(".") for e in SUPPORTED_EXTENSIONS)
        raise InputError(f"{name} is not a supported file type (supported: {kinds}).")
    if size > MAX_UPLOAD_MB * 1024 * 1024:
        raise InputError(f"{name} is {size / 2**20:,.0f} MB; GaitLab takes uploads of at most "
                         f"{MAX_UPLOAD_MB} MB per file.")
    if size == 0:
        raise InputError(f"{name} is empty.")
    return suffix


def case_from_upload(upload: Any) -> CaseRef:
    """A CaseRef for an uploaded file; InputError (see `check_upload`) for one the app refuses."""
    suffix = check_upload(upload.name, upload.size if hasattr(upload, "size") else len(upload.getvalue()))
    data = upload.getvalue()
    return CaseRef(upload.name, sha256_bytes(data), suffix, data=data)


def demo_ref(name: str) -> CaseRef:
    case = demo_case(name)
    return case_from_path(case.path, case.title, case.description)


@contextmanager
def _private_copies(refs: list[CaseRef], prefix: str) -> Iterator[list[str]]:
    """The cases' bytes as files in a private temporary folder (mode 0700), for as long as the
    `with` block runs: the folder is removed when it ends or raises, so no upload outlives its
    analysis, and nothing is written anywhere else. Yields one path per ref, in order."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        paths = []
        for i, ref in enumerate(refs):
            path = Path(tmp) / f"{i:04d}{ref.suffix}"
            path.write_bytes(ref.read())
            paths.append(str(path))
        yield paths
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _with_file(ref: CaseRef, work: Callable[[str], Any]) -> Any:
    """Run `work(path)` on the case's file: a server file as it is, an upload as a private copy."""
    if ref.path is not None:
        return work(ref.path)
    with _private_copies([ref], "gaitlab-upload-") as (path,):
        return work(path)



# --- Cases, the people in them, and the person analysed ----------------------------------------
#
# A video holds everyone MediaPipe found; the user may pick whom to analyse (the Analyse page's
# "People found"). The pick is kept per case (by file digest) in the session, so Explain, Compare
# cases and Note ablations analyse the same person. A person who does not walk gets no gait class:
# their outcome is a `Refusal`, shown in place of the answer.


@dataclass(frozen=True)
class Refusal:
    """No gait class for this case: the person looked at does not walk (`errors.NoWalkError`).

    `message` starts with "no walk to analyse: " and says what was found instead; `people`,
    `person` and `people_images` as on `Analysis`; `keypoints_csv`: the person's landmarks as a
    keypoint CSV (None where none could be read)."""

    name: str
    message: str
    people: list
    person: int | None
    people_images: dict
    keypoints_csv: bytes | None = None


def chosen_person(ref: CaseRef) -> int | None:
    """The person id picked for this case in this session (None: GaitLab's automatic choice)."""
    return st.session_state.get(PEOPLE_CHOICE, {}).get(ref.digest)


def choose_person(digest: str, person: int | None) -> None:
    """Analyse `person` (an id of the case's people; None: the automatic choice) in the case with
    this file digest, on every page of this session. Used as a button callback."""
    choices = dict(st.session_state.get(PEOPLE_CHOICE, {}))
    if person is None:
        choices.pop(digest, None)
    else:
        choices[digest] = int(person)
    st.session_state[PEOPLE_CHOICE] = choices


# Prepared cases (`CaseClips` or `Refusal`) by (digest, suffix, person), newest last. Not
# `st.cache_data`, for the reason given at `gaitlab.app._COHORTS`: the pose pass drives a
# progress bar. The automatic choice (person None) is stored under the id it chose as well, so
# picking that person by hand, or switching back to them, is instant.
_CASES: OrderedDict[tuple, Any] = OrderedDict()
_CASES_LOCK = threading.Lock()
MAX_CACHED_CASES = 32


def _cached_case(key: tuple):
    with _CASES_LOCK:
        if key in _CASES:
            _CASES.move_to_end(key)
            return _CASES[key]
    return None


def _store_case(keys: list[tuple], value) -> None:
    with _CASES_LOCK:
        for key in keys:
            _CASES[key] = value
            _CASES.move_to_end(key)
        while len(_CASES) > MAX_CACHED_CASES:
            _CASES.popitem(last=False)


def _known_people(digest: str, suffix: str) -> list:
    """The people of a case already prepared for any person (they do not depend on whom)."""
    with _CASES_LOCK:
        for (d, s, _), value in reversed(_CASES.items()):
            if d == digest and s == suffix and value.people:
                return value.people
    return []


def _refusal(path: str, name: str, person: int | None, progress=None, track=None) -> Refusal | None:
    """The `Refusal` for `person` in the video at `path`, with everyone's thumbnail and the
    person's keypoint CSV, from their `track` (`pipeline.pose.PoseTrack`; one pose pass when
    not given); None when that person walks after all."""
    from gaitlab.inference import person_thumbnail
    from gaitlab.pipeline.pose import keypoints_csv_text, track_walker
    from gaitlab.pipeline.video import probe_video, read_frames

    info = probe_video(path)
    track = track if track is not None else track_walker(info, progress, person=person)
    if not track.no_walk:
        return None
    people = [p.to_dict() for p in track.people]
    frames = read_frames(info, sorted({int(p["best_frame"]) for p in people}), lambda f: f)
    images = {int(p["id"]): person_thumbnail(frames[p["best_frame"]], p["box"])
              for p in people if p["best_frame"] in frames}
    csv = None
    if np.isfinite(track.landmarks[:, :, 0]).any():
        csv = keypoints_csv_text(track.landmarks, track.frame_indices, track.times_s).encode()
    return Refusal(name, track.no_walk, people, track.person, images, csv)


def _prepare(path: str, ref: CaseRef, person: int | None, expect_refusal: bool, progress):
    """`CaseClips` for the person (None: automatic), or their `Refusal`: one pose pass either way
    (a person already known not to walk goes straight to the refusal)."""
    from gaitlab.errors import NoWalkError
    from gaitlab.inference import prepare_case

    if expect_refusal:
        refused = _refusal(path, ref.name, person, progress)
        if refused is not None:
            return refused
    try:
        return prepare_case(path, progress, person=person)
    except NoWalkError as exc:  # found out only now: the error carries the person's track
        refused = _refusal(path, ref.name, exc.person, progress, track=exc.track) if exc.track else None
        return refused or Refusal(ref.name, str(exc), list(exc.people), exc.person, {})


def prepare_outcome(ref: CaseRef, person: int | None = None, bar=None):
    """The case's clips for `person` (None: the automatic choice), or its `Refusal`: cached by
    file hash and person, so switching between people already seen is instant. Raises
    `InputError` / `WeightsError` for input that cannot be used at all. `bar`: a progress bar
    that follows the pose pass."""
    key = (ref.digest, ref.suffix, person)
    found = _cached_case(key)
    if found is not None:
        return found
    expect_refusal = any(p["id"] == person and not p["walks"] for p in _known_people(ref.digest, ref.suffix))

    def progress(fraction: float, text: str) -> None:
        if bar is not None:
            bar.progress(0.05 + 0.6 * float(np.clip(fraction, 0.0, 1.0)), text=text)

    outcome = _with_file(ref, lambda path: _prepare(path, ref, person, expect_refusal, progress))
    chosen = outcome.person if isinstance(outcome, Refusal) else outcome.person_id
    keys = [key] + ([(ref.digest, ref.suffix, chosen)] if person is None and chosen is not None else [])
    _store_case(keys, outcome)
    return outcome


