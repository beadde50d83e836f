import torch

from gaitlab.constants import NUM_CLASSES
from gaitlab.model import build, count_flops, count_parameters, gait_student, seed_student


def test_student_shapes_and_cam_layer_keeps_time():
    model = gait_student().eval()
    seen = []
    model.cam_layer.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    out = model(torch.randn(2, 3, 8, 224, 224), torch.randn(2, 384))
    assert out.shape == (2, NUM_CLASSES)
    assert seen[0][2] == 8  # no temporal downsampling: one Grad-CAM map per input frame
    assert seen[0][3] >= 7


def test_student_is_much_cheaper_than_seed():
    student, seed = gait_student(), seed_student()
    assert 6_500_000 < count_parameters(seed) < 6_700_000  # the seed's 6.6 M
    assert count_parameters(student) < count_parameters(seed) / 10
    assert count_flops(student) < count_flops(seed) / 4


def test_seed_runs_on_8_frames_and_note_matters():
    model = seed_student().eval()
    x = torch.randn(1, 3, 8, 224, 224)
    with torch.no_grad():
        a = model(x, torch.zeros(1, 384))
        b = model(x, torch.ones(1, 384))
    assert a.shape == (1, NUM_CLASSES) and not torch.allclose(a, b)


def test_build_by_name():
    assert isinstance(build("gait_student", widths=(8, 16, 16, 16)), torch.nn.Module)
