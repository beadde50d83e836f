""""People found" on the pages: everyone tracked through a video as thumbnails, the person
analysed marked, a button to analyse another; and the refusal shown in place of a gait class
when the person analysed does not walk."""
from __future__ import annotations

import numpy as np
import streamlit as st

from gaitlab.app.cases import CaseRef, Refusal, choose_person


def refusal_text(message: str) -> str:
    """The box shown in place of the gait class: "No gait pattern: no walk to analyse: …"."""
    return f"**No gait pattern:** {message}"


def show_refusal(outcome: Refusal, elsewhere: bool = False) -> None:
    """The refusal in place of the answer, and what the user can do about it."""
    st.warning(refusal_text(outcome.message), icon=":material/block:")
    walkers = [p["id"] for p in outcome.people if p["walks"] and p["id"] != outcome.person]
    if walkers:
        names = " and ".join(f"person {i}" for i in walkers)
        where = "on the Analyse page, under “People found”" if elsewhere else "above"
        st.info(f"GaitLab gives a gait class only for a walk. Found walking: {names}; pick them {where}.")
    elif len(outcome.people) > 1:
        st.info("GaitLab gives a gait class only for a walk, and nobody found in this video walks.")
    else:
        st.info("GaitLab gives a gait class only for a walk.")


def person_label(person: dict) -> str:
    """What a person found in the video did, in a few words: "walks, score 0.88, 9.9 s in view"
    or "stands in place (…) and moves the arms; score 0.19, 13.4 s in view"."""
    from gaitlab.pipeline.walking import REFUSAL_PREFIX

    measured = f"score {person['walking_score']:.2f}, {person['seconds']:.1f} s in view"
    if person["walks"]:
        return f"walks, {measured}"
    why = str(person["refusal"])
    why = why[len(REFUSAL_PREFIX):] if why.startswith(REFUSAL_PREFIX) else why
    why = why[len("the person "):] if why.startswith("the person ") else why
    return f"{why.rstrip('.')}; {measured}"


def person_caption(person: dict, analysed: bool) -> str:
    """A thumbnail's caption: "✓ analysed · Person 2 — walks, score 0.88, 9.9 s in view"."""
    mark = "✓ analysed · " if analysed else ""
    return f"{mark}Person {person['id']} — {person_label(person)}"


ANALYSED_BORDER = (40, 180, 90)  # RGB frame around the analysed person's thumbnail
OTHER_BORDER = (200, 200, 200)


def marked_thumbnail(image: np.ndarray, analysed: bool) -> np.ndarray:
    """The thumbnail in a thick green frame when this person is the one analysed, a thin grey
    one otherwise."""
    colour, width = (ANALYSED_BORDER, 6) if analysed else (OTHER_BORDER, 2)
    h, w = image.shape[:2]
    out = np.empty((h + 2 * width, w + 2 * width, 3), dtype=np.uint8)
    out[:] = colour
    out[width:width + h, width:width + w] = image
    return out


def image_url(image: np.ndarray) -> str:
    """A small uint8 RGB image as a PNG `data:` URL, so the page carries it itself (lossless,
    and the browser test reads the thumbnails' pixels straight from the page).

    It was first a way round Streamlit 1.60's media endpoint answering HTTP 500 under
    starlette 1.x; requirements.txt now pins starlette 0.52.1, under which `st.image` of an
    array works too."""
    import base64

    import cv2

    ok, png = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise ValueError("could not encode the image as PNG")
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode("ascii")


PEOPLE_PER_ROW = 6


def people_row(ref: CaseRef, outcome, key: str = "people") -> None:
    """"People found": everyone tracked through a video, each at their clearest frame, the one
    analysed framed in green and captioned "✓ analysed"; a button under each other person
    analyses them instead (for this case, on every page). Nothing for keypoint input."""
    people = list(getattr(outcome, "people", None) or [])
    if not people:
        return
    images = outcome.people_images or {}
    st.subheader("People found")
    st.caption(f"Everyone GaitLab tracked through the video ({len(people)}), each at their clearest frame. "
               "The person analysed is framed in green; a gait class is given only for someone who walks.")
    for start in range(0, len(people), PEOPLE_PER_ROW):
        for column, person in zip(st.columns(PEOPLE_PER_ROW), people[start:start + PEOPLE_PER_ROW]):
            pid = int(person["id"])
            analysed = pid == outcome.person
            with column:
                caption = person_caption(person, analysed)
                if pid in images:
                    st.image(image_url(marked_thumbnail(images[pid], analysed)), caption=caption)
                else:
                    st.caption(caption)
                st.button("✓ Analysed" if analysed else f"Analyse person {pid}", disabled=analysed,
                          key=f"{key}_{ref.digest[:16]}_{pid}", on_click=choose_person, args=(ref.digest, pid),
                          help=None if analysed else f"Analyse person {pid} instead, on every page.")


def person_line(analysis) -> str | None:
    """Which person of a video the answer describes (None for one person or keypoint input)."""
    people = getattr(analysis, "people", None) or []
    if len(people) < 2 or analysis.person is None:
        return None
    return (f"Analysing person {analysis.person} of the {len(people)} people found in this video "
            "(pick another on the Analyse page, under “People found”).")


