import json
import shutil

import pytest
import torch

from gaitlab.constants import CLASSES
from gaitlab.errors import WeightsError
from gaitlab.model import pose_student
from gaitlab.weights import DEFAULT_WEIGHTS, card_path, load_model, load_weights, read_card, save_weights


def _copy(src, dst_dir, name="w.safetensors"):
    dst = dst_dir / name
    shutil.copy(src, dst)
    shutil.copy(card_path(src), card_path(dst))
    return dst


def test_round_trip_gives_identical_outputs(random_weights):
    model, card = load_weights(random_weights)
    assert card["classes"] == list(CLASSES) and len(card["sha256"]) == 64
    torch.manual_seed(0)
    ref = pose_student().eval()
    x, e = torch.randn(1, 3, 8, 224, 224), torch.randn(1, 384)
    with torch.no_grad():
        assert torch.allclose(model(x, e), ref(x, e), atol=1e-6)


def test_refuses_pickles_and_non_safetensors(tmp_path, random_weights):
    pt = tmp_path / "model.pt"
    torch.save({"x": torch.zeros(1)}, pt)  # writing a pickle is fine; loading one is not
    with pytest.raises(WeightsError, match="pickle"):
        load_weights(pt)
    fake = tmp_path / "fake.safetensors"
    fake.write_bytes(pt.read_bytes())
    shutil.copy(card_path(random_weights), card_path(fake))
    with pytest.raises(WeightsError, match="not a safetensors"):
        load_weights(fake)


def test_refuses_missing_file_and_card(tmp_path, random_weights):
    with pytest.raises(WeightsError, match="No weights file"):
        load_weights(tmp_path / "none.safetensors")
    w = _copy(random_weights, tmp_path)
    card_path(w).unlink()
    with pytest.raises(WeightsError, match="card"):
        load_weights(w)


def test_refuses_card_mismatch(tmp_path, random_weights):
    w = _copy(random_weights, tmp_path)
    card = json.loads(card_path(w).read_text())
    card["classes"] = list(reversed(card["classes"]))
    card_path(w).write_text(json.dumps(card))
    with pytest.raises(WeightsError, match="classes"):
        load_weights(w)
    card["classes"] = list(CLASSES)
    card["architecture_kwargs"] = {"widths": [8, 16, 16, 16]}
    card_path(w).write_text(json.dumps(card))
    with pytest.raises(WeightsError, match="do not match"):
        load_weights(w)


def test_refuses_tampered_file(tmp_path, random_weights):
    w = _copy(random_weights, tmp_path)
    data = bytearray(w.read_bytes())
    data[-10] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="SHA-256"):
        load_weights(w)


def test_save_fills_card(tmp_path):
    card = save_weights(pose_student(), {"architecture": "pose_student"}, tmp_path / "m.safetensors")
    assert read_card(tmp_path / "m.safetensors") == card
    assert "cam_layer" not in card and card["tensors"]


def test_refuses_weights_trained_on_another_view(tmp_path, random_weights):
    """Silhouette-era weights load as tensors but would read pose frames as nonsense."""
    assert load_model(random_weights).card["view"] == "pose_limbs"
    w = _copy(random_weights, tmp_path)
    card = json.loads(card_path(w).read_text())
    card["view"] = "silhouette"
    card_path(w).write_text(json.dumps(card))
    load_weights(w)  # the file itself is sound
    with pytest.raises(WeightsError, match="silhouette"):
        load_model(w)


def test_shipped_weights_load():
    if not DEFAULT_WEIGHTS.exists():
        pytest.fail("the shipped weights are missing from weights/")
    model = load_model()
    assert hasattr(model, "cam_layer") and model.card["view"] == "pose_limbs"
    assert model.card["architecture"] == "pose_student"
    assert "metrics" in model.card and "protocol" in model.card
