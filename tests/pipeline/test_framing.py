import numpy as np

from gaitlab.constants import FRAME_SIZE, PERSON_HEIGHT_FRACTION
from gaitlab.pipeline.framing import framing_for_boxes, place


def test_fixed_height_scale_and_centering():
    boxes = np.array([[100, 50, 140, 250]] * 10, dtype=float)
    boxes[:, [0, 2]] += np.arange(10)[:, None] * 20  # walking right
    boxes[3] = np.nan  # a frame with no person
    f = framing_for_boxes(boxes, smooth=1)
    assert np.isclose(f.scale, PERSON_HEIGHT_FRACTION * FRAME_SIZE / 200)
    assert np.allclose(f.centers[3], [120 + 3 * 20, 150])  # gap interpolated
    mapped = f.apply_points(5, np.array([[120 + 100, 150.0]]))
    assert np.allclose(mapped, [[FRAME_SIZE / 2, FRAME_SIZE / 2]])


def test_place_mask_puts_person_in_the_middle_at_the_right_height():
    mask = np.zeros((480, 640), bool)
    mask[100:400, 300:360] = True
    f = framing_for_boxes(np.array([[300, 100, 360, 400]], float))
    out = place(mask, f, 0)
    ys, xs = np.nonzero(out)
    assert out.shape == (FRAME_SIZE, FRAME_SIZE) and set(np.unique(out)) <= {0, 255}
    assert abs((ys.max() - ys.min() + 1) - PERSON_HEIGHT_FRACTION * FRAME_SIZE) <= 2
    assert abs(xs.mean() - FRAME_SIZE / 2) <= 1.5 and abs(ys.mean() - FRAME_SIZE / 2) <= 1.5
