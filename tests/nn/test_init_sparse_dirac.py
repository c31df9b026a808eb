"""nn.init.eye_, dirac_, sparse_ and the deprecated names without the underscore, as torch's."""
import math

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.nn import init


def test_eye_matches_numpy_rectangular():
    for shape in ((3, 5), (4, 2)):
        w = init.eye_(pt.empty(*shape, dtype=pt.float64))
        np.testing.assert_array_equal(w.numpy(), np.eye(*shape))
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(pt.empty(2, 2, 2))


def _dirac_ref(shape, groups):
    w = np.zeros(shape)
    per = shape[0] // groups
    centre = tuple(s // 2 for s in shape[2:])
    for g in range(groups):
        for d in range(min(per, shape[1])):
            w[(g * per + d, d) + centre] = 1
    return w


@pytest.mark.parametrize("shape,groups", [((4, 3, 3), 2), ((2, 5, 3, 3), 1), ((6, 2, 3, 4, 5), 3)])
def test_dirac_matches_reference_and_preserves_input(shape, groups):
    w = init.dirac_(pt.randn(*shape), groups)
    np.testing.assert_array_equal(w.numpy(), _dirac_ref(shape, groups))
    # torch 2.13, dirac_(empty(4, 3, 3), 2)[:, :, 1]: [[1,0,0],[0,1,0],[1,0,0],[0,1,0]]
    if shape == (4, 3, 3):
        assert w[:, :, 1].tolist() == [[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0]]
    if len(shape) == 4 and groups == 1:     # a conv with these weights copies its first channels
        x = pt.randn(1, 5, 6, 6)
        y = pt.nn.functional.conv2d(x, w, padding=1)
        np.testing.assert_allclose(y.numpy(), x[:, :2].numpy(), rtol=1e-6)


def test_dirac_errors():
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions are supported"):
        init.dirac_(pt.empty(2, 2))
    with pytest.raises(ValueError, match="^dim 0 must be divisible by groups$"):
        init.dirac_(pt.empty(5, 2, 3), groups=2)


def test_sparse_zeros_per_column_and_values_from_the_generator():
    rows, cols, sparsity, std = 10, 4, 0.25, 0.5
    w = init.sparse_(pt.empty(rows, cols, dtype=pt.float64), sparsity, std=std,
                     generator=pt.Generator().manual_seed(3))
    zeros = (w.numpy() == 0)
    assert zeros.sum(0).tolist() == [math.ceil(sparsity * rows)] * cols
    assert not np.signbit(w.numpy()[zeros]).any()          # +0.0, as torch's assignment
    # the values are the generator's normal draw, before the rows were zeroed
    ref = pt.empty(rows, cols, dtype=pt.float64).normal_(0, std, generator=pt.Generator().manual_seed(3)).numpy()
    np.testing.assert_array_equal(w.numpy()[~zeros], ref[~zeros])
    again = init.sparse_(pt.empty(rows, cols, dtype=pt.float64), sparsity, std=std,
                         generator=pt.Generator().manual_seed(3))
    np.testing.assert_array_equal(again.numpy(), w.numpy())
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.sparse_(pt.empty(3), 0.1)


def test_deprecated_names_warn_and_delegate():
    for name in ("uniform", "normal", "constant", "eye", "dirac", "xavier_uniform", "xavier_normal",
                 "kaiming_uniform", "kaiming_normal", "orthogonal", "sparse"):
        assert callable(getattr(init, name))
    with pytest.warns(FutureWarning, match=r"^`nn.init.eye` is now deprecated in favor of `nn.init.eye_`\.$"):
        w = init.eye(pt.empty(2, 3))
    assert w.tolist() == [[1, 0, 0], [0, 1, 0]]
    with pytest.warns(FutureWarning, match="nn.init.sparse_"):
        w = init.sparse(pt.empty(4, 2), 0.5)
    assert (w == 0).sum().item() == 4
    with pytest.warns(FutureWarning, match="nn.init.constant_"):
        assert init.constant(pt.empty(2), 1.5).tolist() == [1.5, 1.5]
