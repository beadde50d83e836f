import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from gaitlab import text
from gaitlab.constants import EMBED_DIM, MAX_NOTE_CHARS
from gaitlab.errors import WeightsError
from gaitlab.text import embed_note, embed_notes

# (original, paraphrase sharing no content word with it, a note that shares the original's
# words but not its meaning). Drafted before looking at any cosine: of the ten first drafts,
# MiniLM puts the paraphrase nearer in these five ...
PARAPHRASES = [
    ("uses a cane outdoors", "relies on a walking stick outside", "uses a phone outdoors"),
    ("knee pain when climbing stairs", "aching joint below the thigh going up steps",
     "knee surgery scheduled for the spring"),
    ("shuffling gait with a resting tremor", "small dragging steps, hands shake when still",
     "shuffling cards with a resting dealer"),
    ("walks slowly with short steps", "moves at a reduced pace, taking tiny strides",
     "walks the dog with short leash"),
    ("left leg drags after a stroke", "one side of the body trails behind since a brain attack",
     "left the bag behind after a stroke of luck"),
]
# ... and the look-alike nearer in these five: a sentence encoder still weighs shared words.
# Kept as a record (and for the ranking test below), not asserted pair by pair.
LOOKALIKE_WINS = [
    ("falls often at home", "frequently trips and ends up on the floor indoors", "falls asleep often at home"),
    ("needs a wheelchair for long distances", "cannot go far unless someone pushes her seated",
     "needs a new chair for the long table"),
    ("swollen ankle, limps on the right", "puffy joint above the foot, favours one side when walking",
     "swollen river, limps the right way"),
    ("gets out of breath walking uphill", "short of air climbing a slope", "gets out of the car walking uphill"),
    ("hips are stiff in the morning", "joints feel rigid after waking up", "hips are in fashion in the morning"),
]


def content(note: str) -> set[str]:
    return {w for w in note.replace(",", " ").split() if len(w) > 3}


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)  # unit vectors


def test_shape_norm_and_empty():
    v = embed_note("Knee pain when walking")
    assert v.shape == (EMBED_DIM,) and v.dtype == np.float32
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-5
    for blank in ("", None, "   ", " \n\t ", float("nan")):
        vec = embed_note(blank)
        assert vec.shape == (EMBED_DIM,) and vec.dtype == np.float32 and not vec.any()
    assert abs(float(np.linalg.norm(embed_note(" ,,, "))) - 1.0) < 1e-5  # punctuation is text


def test_name_and_batches():
    assert text.NAME == "all-MiniLM-L6-v2"
    notes = ["knee pain", "", "resting tremor", "knee pain"]
    batch = embed_notes(notes)
    assert batch.shape == (4, EMBED_DIM) and batch.dtype == np.float32
    assert not batch[1].any() and np.array_equal(batch[0], batch[3])
    text.clear_cache()
    for note, vec in zip(notes, embed_notes(notes)):
        np.testing.assert_allclose(vec, embed_note(note), atol=1e-5)
    assert embed_notes([]).shape == (0, EMBED_DIM)


def test_cached_vectors_cannot_be_changed_by_callers():
    v = embed_note("morning stiffness")
    v[:] = 0
    assert embed_note("morning stiffness").any()


def test_long_notes_are_cut():
    long = "knee " * 30_000
    np.testing.assert_array_equal(embed_note(long), embed_note(long[:MAX_NOTE_CHARS]))
    assert np.isfinite(embed_note("ﷺ" * 6000)).all()


@pytest.mark.parametrize("original, paraphrase, lookalike", PARAPHRASES)
def test_paraphrase_closer_than_lookalike(original, paraphrase, lookalike):
    assert not content(original) & content(paraphrase), "the paraphrase must share no content word"
    assert content(original) & content(lookalike), "the look-alike must share words"
    a, b, c = embed_notes([original, paraphrase, lookalike])
    assert cos(a, b) > cos(a, c), (original, cos(a, b), cos(a, c))


def test_paraphrase_closer_than_other_paraphrases():
    # All ten pairs: each note is nearer its own paraphrase than the others on average.
    pairs = PARAPHRASES + LOOKALIKE_WINS
    for original, paraphrase, _ in pairs:
        assert not content(original) & content(paraphrase), original
    sims = embed_notes([p[0] for p in pairs]) @ embed_notes([p[1] for p in pairs]).T
    others = (sims.sum(axis=1) - np.diag(sims)) / (len(pairs) - 1)
    assert (np.diag(sims) > others + 0.05).all(), np.round(np.diag(sims) - others, 3)


# --- Offline and deterministic, in a fresh process -------------------------------------------
SUBPROCESS = """
import json, socket

def refuse(*args, **kwargs):
    raise OSError("the network was used")

socket.socket.connect = refuse
socket.create_connection = refuse
from gaitlab.text import embed_note
import huggingface_hub.constants as hub
print(json.dumps({"vec": embed_note("Resting tremor, slow walk").tolist(),
                  "offline": bool(hub.HF_HUB_OFFLINE)}))
"""


@pytest.fixture(scope="module")
def fresh_process():
    """The embedding from a new process whose network is refused and whose environment asks
    for the hub to be online, at a dead address."""
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0",
           "HF_ENDPOINT": "http://127.0.0.1:9", "PYTHONHASHSEED": "7", "HF_HOME": "/nonexistent/hf"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH", "")]))
    run = subprocess.run([sys.executable, "-c", SUBPROCESS], capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_offline(fresh_process):
    assert fresh_process["offline"] is True
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"


def test_deterministic_across_processes(fresh_process):
    text.clear_cache()
    np.testing.assert_allclose(fresh_process["vec"], embed_note("Resting tremor, slow walk"), atol=1e-6)


# --- The model file check --------------------------------------------------------------------
@pytest.fixture
def fresh_embedder():
    """Forget the loaded model and every cache before and after (the next use re-checks)."""
    def reset():
        text.check_embedder_files.cache_clear()
        text._load.cache_clear()
        text.clear_cache()

    reset()
    yield
    reset()


def test_installed_model_passes_the_check():
    assert text.check_embedder() is None
    assert (text.check_embedder_files() / text.MODEL_FILE).is_file()


def test_altered_model_file_is_refused(fresh_embedder, monkeypatch, tmp_path):
    tampered = tmp_path / "model"
    shutil.copytree(text.model_folder(), tampered)
    with open(tampered / text.MODEL_FILE, "r+b") as f:
        f.seek(4096)
        byte = f.read(1)
        f.seek(4096)
        f.write(bytes([byte[0] ^ 1]))
    monkeypatch.setattr(text, "model_folder", lambda: tampered)
    problem = text.check_embedder()
    assert problem and "altered" in problem and "\n" not in problem
    with pytest.raises(WeightsError, match="altered"):
        embed_note("knee pain")
    assert not embed_note("").any()  # a blank note needs no model


def test_wrong_hash_or_missing_package_is_refused(fresh_embedder, monkeypatch):
    monkeypatch.setattr(text, "MODEL_SHA256", "0" * 64)
    assert "altered" in text.check_embedder()
    monkeypatch.setattr(text, "model_folder", lambda: None)
    assert "not installed" in text.check_embedder()
    with pytest.raises(WeightsError, match="not installed"):
        embed_note("knee pain")
