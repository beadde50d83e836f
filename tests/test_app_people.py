"""The app's "People found" glue without a pose pass: captions, the analysed person's frame,
thumbnails carried in the page, and the per-person cache (the automatic choice stored under the
id it chose; a person known not to walk goes straight to the refusal)."""
from __future__ import annotations

import base64
import types

import cv2
import numpy as np
import pytest

from gaitlab import app
from gaitlab.app import cases
from gaitlab.errors import NoWalkError

WALKER = {"id": 2, "frames": 257, "seconds": 9.93, "walking_score": 0.883, "refusal": None, "walks": True}
STANDER = {"id": 1, "frames": 401, "seconds": 13.37, "walking_score": 0.19, "walks": False,
           "refusal": "no walk to analyse: the person stands in place (the hips move 0.01 body heights) "
                      "and moves the arms."}


def test_captions_say_who_walks_and_who_is_analysed():
    assert app.person_caption(WALKER, True) == "✓ analysed · Person 2 — walks, score 0.88, 9.9 s in view"
    assert app.person_caption(STANDER, False) == ("Person 1 — stands in place (the hips move 0.01 body heights) "
                                                  "and moves the arms; score 0.19, 13.4 s in view")


def test_the_analysed_thumbnail_is_framed_in_green_and_travels_in_the_page():
    image = np.full((40, 20, 3), 90, np.uint8)
    marked, other = app.marked_thumbnail(image, True), app.marked_thumbnail(image, False)
    assert marked.shape == (52, 32, 3) and other.shape == (44, 24, 3)
    assert (marked[0] == app.ANALYSED_BORDER).all() and (marked[6:-6, 6:-6] == 90).all()
    assert (other[:, 0] == app.OTHER_BORDER).all()
    url = app.image_url(marked)
    assert url.startswith("data:image/png;base64,")  # not Streamlit's media endpoint
    png = np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8)
    assert np.array_equal(cv2.imdecode(png, cv2.IMREAD_COLOR)[..., ::-1], marked)  # lossless, RGB kept


TRACKED = object()  # stands for the PoseTrack a NoWalkError carries


def _clips(person_id: int):
    return types.SimpleNamespace(person_id=person_id, people=[dict(STANDER), dict(WALKER)])


@pytest.fixture
def fake_video(tmp_path, monkeypatch):
    """A case whose pose work is counted instead of run: `calls` records (what, person)."""
    import gaitlab.inference as inference

    path = tmp_path / "two_people.mp4"
    path.write_bytes(b"not decoded here")
    calls = []

    def prepare_case(p, progress=None, person=None):
        calls.append(("prepare", person))
        if person in (None, 2):
            return _clips(2)
        raise NoWalkError(STANDER["refusal"], [dict(STANDER), dict(WALKER)], person, track=TRACKED)

    def refusal(p, name, person, progress=None, track=None):
        calls.append(("refusal", person) if track is None else ("refusal from the error's track", person))
        return app.Refusal(name, STANDER["refusal"], [dict(STANDER), dict(WALKER)], person, {}, b"x_0\n")

    monkeypatch.setattr(inference, "prepare_case", prepare_case)
    monkeypatch.setattr(cases, "_refusal", refusal)
    digest = f"test-{tmp_path.name}"
    yield app.CaseRef(path.name, digest, ".mp4", path=str(path)), calls
    with cases._CASES_LOCK:
        for key in [k for k in cases._CASES if k[0] == digest]:
            del cases._CASES[key]


def test_switching_people_reuses_what_was_prepared(fake_video):
    ref, calls = fake_video
    assert app.prepare_outcome(ref).person_id == 2
    assert app.prepare_outcome(ref, 2).person_id == 2  # the automatic choice, picked by hand: cached
    refused = app.prepare_outcome(ref, 1)
    assert isinstance(refused, app.Refusal) and refused.person == 1
    assert refused.message.startswith("no walk to analyse: ")
    assert app.prepare_outcome(ref, 1) is refused and app.prepare_outcome(ref, 2).person_id == 2
    # person 1 was known not to walk: straight to the refusal, one pose pass per person
    assert calls == [("prepare", None), ("refusal", 1)]


def test_a_refusal_found_only_while_preparing_still_carries_the_keypoints(fake_video):
    ref, calls = fake_video
    refused = app.prepare_outcome(ref, 1)  # nothing known about person 1 yet
    assert isinstance(refused, app.Refusal) and refused.keypoints_csv == b"x_0\n"
    assert calls == [("prepare", 1), ("refusal from the error's track", 1)]  # one pose pass, not two
