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


def _receptive_width(model: torch.nn.Module) -> int:
    """Input pixels (224-frame columns) that reach the centre unit of `cam_layer`: the span of
    non-zero gradient of that unit with respect to the clip."""
    model.eval()
    x = torch.randn(1, 3, 8, 224, 224, requires_grad=True)
    out = model.cam_layer(model.blocks[:-1](model.stem(x)))
    h, w = out.shape[-2:]
    out[0, :, 4, h // 2, w // 2].sum().backward()
    cols = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 2, 3)) > 0)
    return int(cols.max() - cols.min() + 1)


def test_pose_student_sees_the_whole_body_at_the_cam_layers_resolution():
    """Dilated blocks widen what one cam_layer unit sees to most of the frame (a walker is
    0.8 of it high) while the map stays 14x14 with 8 time steps, at no extra cost."""
    from gaitlab.model import POSE_STUDENT, pose_student

    model, plain = pose_student(), pose_student(block_dilations=None)
    assert POSE_STUDENT["block_dilations"] and model.cam_layer[0].dilation[1:] == (4, 4)
    assert _receptive_width(model) >= 0.8 * 224 > 0.5 * 224 > _receptive_width(plain)
    seen = []
    model.cam_layer.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape)))
    model(torch.randn(1, 3, 8, 224, 224), torch.zeros(1, 384))
    assert seen[0][2:] == (8, 14, 14)
    assert count_flops(model) == count_flops(plain) and count_parameters(model) == count_parameters(plain)
