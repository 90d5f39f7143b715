import numpy as np
import torch

from training.augment import augment, hue_rotate, to_model_range, to_uint8
from training.trainer import unwrap  # noqa: F401  (import check: the trainer imports cleanly)

from .drawing import draw_sprites


def _colours(u8: np.ndarray) -> int:
    op = u8[..., 3] > 0
    return len({tuple(p) for p in u8[op][:, :3]})


def test_round_trip_is_exact():
    s = draw_sprites(4, 16)
    assert np.array_equal(to_uint8(to_model_range(torch.from_numpy(s))).numpy(), s)


def test_augment_keeps_alpha_hard_and_adds_no_colours():
    s = draw_sprites(16, 16)
    x = to_model_range(torch.from_numpy(s))
    out = to_uint8(augment(x, torch.Generator().manual_seed(0), flip_p=0.5, hue_p=1.0)).numpy()
    assert set(np.unique(out[..., 3])) <= {0, 255}
    assert np.array_equal(np.sort((out[..., 3] > 0).sum((1, 2))), np.sort((s[..., 3] > 0).sum((1, 2))))
    for a, b in zip(s, out):
        assert _colours(b) <= _colours(a)


def test_hue_rotation_by_zero_probability_is_identity():
    x = to_model_range(torch.from_numpy(draw_sprites(4, 16)))
    assert torch.equal(hue_rotate(x, 0.0, torch.Generator().manual_seed(0)), x)
