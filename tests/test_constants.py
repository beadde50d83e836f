"""gaitlab.constants: the class list and the one class-index helper every module uses."""
import numpy as np
import pytest

from gaitlab.constants import CLASSES, DESCRIPTIONS, DISPLAY_NAMES, class_index


def test_nine_classes_each_with_a_name_and_a_description():
    assert len(CLASSES) == 9 and len(set(CLASSES)) == 9
    assert set(DISPLAY_NAMES) == set(CLASSES) == set(DESCRIPTIONS)


@pytest.mark.parametrize("target, expected", [
    (None, CLASSES.index("PD_Mild")), ("KOA_Severe", 3), (0, 0), (8, 8), (np.int64(4), 4),
])
def test_class_index_accepts_names_indices_and_the_default(target, expected):
    assert class_index(target, "PD_Mild") == expected


@pytest.mark.parametrize("target", [9, -1, "Jogging", "normal", 2.0])
def test_class_index_rejects_anything_else(target):
    with pytest.raises(ValueError, match="unknown target class"):
        class_index(target, "Normal")
