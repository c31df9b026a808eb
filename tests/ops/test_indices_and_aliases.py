"""tril/triu_indices, unravel_index, isin, nonzero_static, trapezoid and cumulative_trapezoid,
logspace/range/scalar_tensor/empty_strided, tensordot, addr/ger/addbmm/chain_matmul, vander,
pdist, nuclear/frobenius norms, adjoint, fill_diagonal_ and PyTorch's alias names, against
NumPy/SciPy; cpu and opencl."""
import warnings

import numpy as np
import pytest
import scipy.integrate
import scipy.spatial.distance

import plugtorch as pt
from plugtorch.autograd import gradcheck

DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]
RNG = np.random.default_rng(2)


def _t(values, dev="cpu", dtype=None):
    return pt.tensor(np.asarray(values), dtype=dtype, device=dev)


def _np(x):
    return x.cpu().numpy()


@pytest.mark.parametrize("dev", DEVICES)
def test_triangle_indices_and_unravel(dev):
    for r, c, k in ((3, 4, 1), (4, 3, -1), (0, 3, 0), (3, 3, -5)):
        np.testing.assert_array_equal(_np(pt.tril_indices(r, c, k, device=dev)), np.stack(np.tril_indices(r, k, c)))
        np.testing.assert_array_equal(_np(pt.triu_indices(r, c, k, device=dev)), np.stack(np.triu_indices(r, k, c)))
    assert pt.tril_indices(3, 3, dtype=pt.int32).dtype is pt.int32
    with pytest.raises(RuntimeError, match="row must be non-negative"):
        pt.tril_indices(-1, 4)
    idx = np.array([4, 1, 0, 5])
    got = pt.unravel_index(_t(idx, dev), (2, 3))
    for g, w in zip(got, np.unravel_index(idx, (2, 3))):
        np.testing.assert_array_equal(_np(g), w)
    assert [t.item() for t in pt.unravel_index(pt.tensor(-1), (2, 3))] == [1, 2]
    with pytest.raises(TypeError, match="expected 'indices' to be integer dtype"):
        pt.unravel_index(pt.tensor(1.0), (2, 3))
    # torch 2.13 checks no range (plugtorch raised): an index outside [-6, 6) wraps modulo 6, and a
    # shape may be an int (torch 2.13's values)
    assert [t.tolist() for t in pt.unravel_index(_t([7, -7, 100], dev), (2, 3))] == [[0, 1, 1], [1, 2, 1]]
    assert [t.tolist() for t in pt.unravel_index(_t([0, 1, 3], dev), 2)] == [[0, 1, 1]]


@pytest.mark.parametrize("dev", DEVICES)
def test_isin_and_nonzero_static(dev):
    a, b = RNG.integers(0, 10, 30), RNG.integers(0, 10, 7)
    np.testing.assert_array_equal(_np(pt.isin(_t(a, dev), _t(b, dev))), np.isin(a, b))
    np.testing.assert_array_equal(_np(pt.isin(_t(a, dev), _t(b, dev), invert=True)), np.isin(a, b, invert=True))
    assert pt.isin(_t([1.0, 2.0, np.nan], dev), 2).tolist() == [False, True, False]
    assert pt.isin(2, _t([1, 2], dev)).item() is True
    assert pt.isin(_t([1, 2], dev), _t([], dev, pt.int64)).tolist() == [False, False]
    # nan among the test elements sorts last, where searchsorted's bisection would skip the
    # values before it (isin([3, nan], [nan, 3]) was [False, False]); nan never matches
    v = np.array([3.0, np.nan, 1.0, 3.0, -0.0, 0.0, np.nan, -np.inf, 1.0, np.inf])
    for test in ([np.nan, 3.0], [np.nan, np.inf, 0.0, np.nan], [np.nan], [-np.inf, np.nan, 1.0]):
        np.testing.assert_array_equal(_np(pt.isin(_t(v, dev), _t(test, dev))), np.isin(v, test))
        np.testing.assert_array_equal(_np(pt.isin(_t(v, dev), _t(test, dev), invert=True)), np.isin(v, test, invert=True))
    assert pt.nonzero_static(_t([0, 1, 1, 0, 1], dev), size=2).tolist() == [[1], [2]]
    assert pt.nonzero_static(_t([0, 1], dev), size=3, fill_value=-5).tolist() == [[1], [-5], [-5]]


@pytest.mark.parametrize("dev", DEVICES)
def test_trapezoid_matches_scipy(dev):
    y = RNG.standard_normal((3, 6))
    x = np.sort(RNG.standard_normal(6))
    np.testing.assert_allclose(_np(pt.trapezoid(_t(y, dev))), scipy.integrate.trapezoid(y), rtol=1e-12)
    np.testing.assert_allclose(_np(pt.trapezoid(_t(y, dev), _t(x, dev))), scipy.integrate.trapezoid(y, x), rtol=1e-12)
    np.testing.assert_allclose(_np(pt.trapz(_t(y, dev), dx=0.3, dim=0)), scipy.integrate.trapezoid(y, dx=0.3, axis=0),
                               rtol=1e-12)
    np.testing.assert_allclose(_np(pt.cumulative_trapezoid(_t(y, dev), _t(x, dev))),
                               scipy.integrate.cumulative_trapezoid(y, x), rtol=1e-12)
    assert pt.trapezoid(_t([1, 2, 4], dev)).item() == 4.5          # integers integrate in the default float
    yg = pt.tensor(y, requires_grad=True)
    assert gradcheck(lambda v: pt.cumulative_trapezoid(v, dx=0.5), (yg,))



@pytest.mark.parametrize("dev", DEVICES)
def test_trapezoid_of_an_empty_dim_is_zero(dev):
    # an empty dim raised IndexError('narrow(): start out of range'); the integral over no points
    # is 0 (scipy.integrate.trapezoid too) and the running one has no entries, as torch 2.13
    for shape, dim in (((0,), -1), ((0, 3), 0), ((2, 0), 1), ((2, 0), 0)):
        y = np.zeros(shape)
        want = scipy.integrate.trapezoid(y, axis=dim)
        np.testing.assert_array_equal(_np(pt.trapezoid(_t(y, dev), dim=dim)), want)
        np.testing.assert_array_equal(_np(pt.trapezoid(_t(y, dev), _t(y, dev), dim=dim)), want)
        got = pt.cumulative_trapezoid(_t(y, dev), dx=2.0, dim=dim)
        want_shape = list(shape)
        want_shape[dim] = max(shape[dim] - 1, 0)
        assert list(got.shape) == want_shape
    assert pt.trapezoid(_t([5.0], dev)).item() == 0.0 and pt.cumulative_trapezoid(_t([5.0], dev)).shape == (0,)
    # a 0-d y has no dim to integrate along: IndexError (it was 'tuple index out of range'), as PyTorch
    for f in (pt.trapezoid, pt.cumulative_trapezoid):
        with pytest.raises(IndexError, match=r"Dimension specified as -1 but tensor has no dimensions"):
            f(_t(3.0, dev))

def test_factories():
    np.testing.assert_allclose(_np(pt.logspace(-1, 2, 7, dtype=pt.float64)), np.logspace(-1, 2, 7), rtol=1e-12)
    assert pt.logspace(0, 2, 3, base=2, dtype=pt.int64).tolist() == [1, 2, 4]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert pt.range(0, 2, 0.5).tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert any("deprecated" in str(m.message) for m in w)
    s = pt.scalar_tensor(3)
    assert s.shape == () and s.dtype is pt.float32 and s.item() == 3.0
    assert pt.empty_strided((2, 3), (1, 2)).shape == (2, 3)
    with pytest.raises(RuntimeError, match="mismatch in length of strides and shape"):
        pt.empty_strided((2, 3), (1,))


@pytest.mark.parametrize("dev", DEVICES)
def test_products_match_numpy(dev):
    a, b = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((4, 3, 5))
    np.testing.assert_allclose(_np(pt.tensordot(_t(a, dev), _t(b, dev), dims=([1, 2], [1, 0]))),
                               np.tensordot(a, b, axes=([1, 2], [1, 0])), rtol=1e-12)
    c = RNG.standard_normal((4, 5))
    np.testing.assert_allclose(_np(pt.tensordot(_t(a, dev), _t(c, dev), dims=1)), np.tensordot(a, c, 1), rtol=1e-12)
    np.testing.assert_allclose(_np(pt.tensordot(_t(a[0], dev), _t(c, dev), 0)), np.tensordot(a[0], c, 0), rtol=1e-12)
    with pytest.raises(RuntimeError, match="contracted dimensions need to match"):
        pt.tensordot(pt.ones(2, 3), pt.ones(4, 5), dims=1)
    with pytest.raises(RuntimeError, match="tensordot expects dims >= 0"):
        pt.tensordot(pt.ones(2, 3), pt.ones(3, 5), dims=-1)
    m, u, v = RNG.standard_normal((2, 3)), RNG.standard_normal(2), RNG.standard_normal(3)
    np.testing.assert_allclose(_np(pt.addr(_t(m, dev), _t(u, dev), _t(v, dev), beta=2, alpha=3)),
                               2 * m + 3 * np.outer(u, v), rtol=1e-12)
    nan_in = pt.full((2, 3), float("nan"), dtype=pt.float64, device=dev)
    np.testing.assert_allclose(_np(pt.addr(nan_in, _t(u, dev), _t(v, dev), beta=0)), np.outer(u, v))   # beta=0 ignores nan
    np.testing.assert_array_equal(_np(pt.ger(_t([1, 2], dev), _t([1, 2, 3], dev))), np.outer([1, 2], [1, 2, 3]))
    b1, b2 = RNG.standard_normal((3, 2, 4)), RNG.standard_normal((3, 4, 2))
    np.testing.assert_allclose(_np(_t(m[:, :2], dev).addbmm(_t(b1, dev), _t(b2, dev), beta=0.5, alpha=2)),
                               0.5 * m[:, :2] + 2 * np.einsum("bij,bjk->ik", b1, b2), rtol=1e-12)
    np.testing.assert_array_equal(_np(pt.vander(_t([1, 2, 3], dev))), np.vander([1, 2, 3]))
    np.testing.assert_allclose(_np(pt.vander(_t([1.5, 2.0], dev), N=4, increasing=True)),
                               np.vander([1.5, 2.0], 4, increasing=True))
    x = RNG.standard_normal((5, 3))
    np.testing.assert_allclose(_np(pt.pdist(_t(x, dev), 1.5)), scipy.spatial.distance.pdist(x, "minkowski", p=1.5),
                               rtol=1e-12)
    q = RNG.standard_normal((3, 3))
    assert pt.nuclear_norm(_t(q)).item() == pytest.approx(np.linalg.norm(q, "nuc"), rel=1e-12)
    assert pt.frobenius_norm(_t(q), dim=(0, 1)).item() == pytest.approx(np.linalg.norm(q), rel=1e-12)
    z = RNG.standard_normal((2, 3)) + 1j * RNG.standard_normal((2, 3))
    np.testing.assert_array_equal(pt.tensor(z).adjoint().numpy(), z.conj().T)
    with pytest.raises(RuntimeError, match="only supported on matrices"):
        pt.ones(2).adjoint()
    assert gradcheck(lambda s, t: pt.tensordot(s, t, 1), (pt.tensor(RNG.standard_normal((2, 3)), requires_grad=True),
                                                          pt.tensor(RNG.standard_normal((3, 2)), requires_grad=True)))


@pytest.mark.parametrize("dev", DEVICES)
def test_fill_diagonal(dev):
    for shape, wrap in (((3, 4), False), ((7, 3), True), ((7, 3), False), ((3, 3, 3), False)):
        want = np.zeros(shape)
        np.fill_diagonal(want, 5, wrap=wrap)
        np.testing.assert_array_equal(_np(pt.zeros(*shape, device=dev).fill_diagonal_(5, wrap=wrap)), want)
    with pytest.raises(RuntimeError, match="all dimensions of input must be of equal length"):
        pt.zeros(3, 4, 5).fill_diagonal_(1)


def test_alias_names():
    x = pt.arange(6).reshape(2, 3)
    c = pt.select_copy(x, 1, 0)
    assert c.tolist() == [0, 3] and c._base is None
    assert pt.transpose_copy(x, 0, 1).tolist() == [[0, 3], [1, 4], [2, 5]]
    assert pt.view_copy(x, (3, 2)).shape == (3, 2) and pt.unfold_copy(pt.arange(4.0), 0, 2, 2).tolist() == [[0, 1], [2, 3]]
    assert [t.tolist() for t in pt.unsafe_split(pt.arange(5), 2)] == [[0, 1], [2, 3], [4]]
    assert [t.tolist() for t in pt.arange(5).unsafe_chunk(2)] == [[0, 1, 2], [3, 4]]
    assert pt.fill(pt.ones(2), 3.0).tolist() == [3.0, 3.0]
    y = pt.ones(2)
    pt.zero_(y)
    assert y.tolist() == [0.0, 0.0]
    assert pt.is_complex(pt.ones(1, dtype=pt.complex64)) and not pt.is_signed(pt.ones(1, dtype=pt.uint8))
    assert pt.tensor([[0, 1], [1, 0]]).argwhere().tolist() == [[0, 1], [1, 0]]
    assert pt.ones(2).cfloat().dtype is pt.complex64 and pt.ones(2).cdouble().dtype is pt.complex128


def test_casting_padding_and_device_names():
    assert not pt.can_cast(pt.float32, pt.int32) and pt.can_cast(pt.int32, pt.float16)
    assert pt.can_cast(pt.bool, pt.uint8) and not pt.can_cast(pt.complex64, pt.float64)
    assert pt.can_cast(pt.float64, pt.float16) and not pt.can_cast(pt.int64, pt.bool)
    a = np.arange(12.0).reshape(3, 4)
    got = pt.constant_pad_nd(_t(a), [-1, 2, 1, -2], 7.0)
    want = np.pad(a[:1, 1:], ((1, 0), (0, 2)), constant_values=7.0)
    np.testing.assert_array_equal(_np(got), want)
    with pytest.raises(RuntimeError, match="Length of pad must be even"):
        pt.constant_pad_nd(pt.ones(2), [1])
    assert pt.slice_copy(pt.arange(6), 0, 1, None, 2).tolist() == [1, 3, 5]
    assert pt.get_device(pt.ones(1)) == -1


def test_spmm_is_mm_on_dense_matrices():
    # gcn's torch.spmm(adj_mat, support) with a dense adjacency matrix
    a = np.arange(12.0).reshape(3, 4)
    b = np.arange(8.0).reshape(4, 2) - 3
    np.testing.assert_array_equal(pt.spmm(pt.tensor(a), pt.tensor(b)).numpy(), a @ b)
    with pytest.raises(RuntimeError, match=r"expected 2-D tensors, got 1-D and 2-D"):
        pt.spmm(pt.ones(3), pt.ones(3, 2))
