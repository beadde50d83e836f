import subprocess
import sys

import numpy as np

from gaitlab.constants import EMBED_DIM
from gaitlab.text import embed_note, embed_notes, tokenize


def test_shape_norm_and_empty():
    v = embed_note("Knee pain when walking")
    assert v.shape == (EMBED_DIM,) and v.dtype == np.float32
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-5
    assert not embed_note("").any()
    assert not embed_note(None).any()
    assert not embed_note("   ,,, ").any()


def test_deterministic_across_processes():
    code = "from gaitlab.text import embed_note; print(embed_note('Resting tremor, slow walk').tolist())"
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout
        for seed in ("1", "2")
    ]
    assert runs[0] == runs[1]
    assert np.allclose(eval(runs[0]), embed_note("Resting tremor, slow walk"))


def test_similar_notes_closer_than_unrelated():
    a = embed_note("Right knee pain on walking, stiffness in the morning")
    b = embed_note("painful right knee, morning stiffness, worse when walking")
    c = embed_note("Tremor of the left hand and slowness of movement for two years")
    d = embed_note("uses a walking frame after a stroke")
    assert a @ b > a @ c + 0.1
    assert a @ b > a @ d
    assert embed_note("walks with a cane") @ embed_note("walking with canes") > 0.2


def test_case_unicode_and_long_notes():
    assert np.allclose(embed_note("KNEE PAIN"), embed_note("knee pain"))
    assert embed_note("Gonarthrose — Schmerzen beim Gehen ü ñ 膝").shape == (EMBED_DIM,)
    long = embed_note("knee " * 30000)
    assert np.isfinite(long).all()
    assert tokenize("Don't walk_fast") == ["don", "t", "walk", "fast"]
    assert embed_notes(["a", "b"]).shape == (2, EMBED_DIM)
