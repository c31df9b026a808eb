"""unfold, rot90, kron, renorm, cummax/cummin, logcumsumexp, unique_consecutive, the *_scatter
ops, diag_embed/diagflat, masked_scatter, put, index_reduce and the Tensor queries, against
NumPy loops, with float64 gradchecks and PyTorch's errors; cpu and opencl."""
import math

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.autograd import gradcheck

DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]
nan = math.nan
RNG = np.random.default_rng(0)


def _t(values, dev="cpu", dtype=None, **kw):
    return pt.tensor(np.asarray(values), dtype=dtype, device=dev, **kw)


def _r(*shape, grad=True):
    return pt.tensor(RNG.standard_normal(shape), dtype=pt.float64, requires_grad=grad)


# ---- unfold --------------------------------------------------------------------------------
@pytest.mark.parametrize("dev", DEVICES)
def test_unfold_windows_are_a_view(dev):
    a = np.arange(24.0).reshape(4, 6)
    x = _t(a, dev).t()                                      # (6, 4), strided
    u = x.unfold(0, 3, 2)                                   # (2, 4, 3)
    want = np.stack([a.T[i * 2:i * 2 + 3].T for i in range(2)])
    assert u.shape == (2, 4, 3)
    np.testing.assert_array_equal(u.cpu().numpy(), want)
    x[2, 1] = 100.0                                         # in windows 0 and 1: the view sees the write
    assert u[0, 1, 2].item() == 100.0 and u[1, 1, 0].item() == 100.0
    assert pt.tensor(5.0, device=dev).unfold(0, 1, 1).tolist() == [5.0]


def test_unfold_gradient_adds_overlaps():
    x = _r(7, 2)
    assert gradcheck(lambda x: x.unfold(0, 3, 2) * 2, (x,))
    y = pt.arange(5.0, requires_grad=True)
    y.unfold(0, 2, 1).sum().backward()
    assert y.grad.tolist() == [1.0, 2.0, 2.0, 2.0, 1.0]


def test_unfold_errors():
    with pytest.raises(RuntimeError, match="maximum size for tensor at dimension 0 is 5 but size is 6"):
        pt.arange(5.0).unfold(0, 6, 1)
    with pytest.raises(RuntimeError, match="step is 0 but must be > 0"):
        pt.arange(5.0).unfold(0, 2, 0)


# ---- rot90, kron, renorm -------------------------------------------------------------------
@pytest.mark.parametrize("dev", DEVICES)
def test_rot90_and_kron_match_numpy(dev):
    a = np.arange(24).reshape(2, 3, 4)
    for k in (-3, -1, 0, 1, 2, 5):
        for dims in ((0, 1), (2, 0), (-1, 1)):
            np.testing.assert_array_equal(pt.rot90(_t(a, dev), k, dims).cpu().numpy(), np.rot90(a, k, dims))
    b, c = RNG.integers(-5, 5, (2, 3)), RNG.integers(-5, 5, (4, 1, 2))
    np.testing.assert_array_equal(pt.kron(_t(b, dev), _t(c, dev)).cpu().numpy(), np.kron(b, c))
    assert gradcheck(lambda x, y: pt.kron(x, y), (_r(2, 3), _r(3, 2)))


def test_rot90_errors():
    with pytest.raises(RuntimeError, match="expected total rotation dims == 2, but got dims = 3"):
        pt.rot90(pt.ones(2, 2), 1, [0, 1, 2])
    with pytest.raises(RuntimeError, match="expected total dims >= 2, but got total dims = 1"):
        pt.rot90(pt.ones(3))
    with pytest.raises(RuntimeError, match="expected rotation dims to be different"):
        pt.rot90(pt.ones(2, 2), 1, [0, 0])


def test_renorm_scales_only_the_long_slices():
    a = RNG.standard_normal((4, 3)) * 3
    got = pt.renorm(_t(a), 3, 0, 2.0).numpy()
    norms = (np.abs(a) ** 3).sum(1) ** (1 / 3)
    want = a * np.where(norms > 2.0, 2.0 / (norms + 1e-7), 1.0)[:, None]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert gradcheck(lambda x: pt.renorm(x, 2, 1, 0.5), (_r(3, 4),))
    with pytest.raises(RuntimeError, match="non-positive-norm not supported"):
        pt.renorm(pt.ones(2, 2), -1, 0, 1.0)


# ---- scans ---------------------------------------------------------------------------------
def _cum_reference(a, better):
    """PyTorch's loop: a nan wins and stays (a later nan takes the index), ties take the later index."""
    vals, idx = np.empty_like(a), np.empty(a.shape, np.int64)
    best, at = a[0], 0
    for i, v in enumerate(a):
        if np.isnan(v) or (not np.isnan(best) and better(v, best)):
            best, at = v, i
        vals[i], idx[i] = best, at
    return vals, idx


@pytest.mark.parametrize("dev", DEVICES)
def test_cummax_cummin_against_the_loop(dev):
    a = np.array([1.0, 3.0, 3.0, -2.0, nan, 7.0, nan, 0.0, 5.0, 5.0, 9.0])
    for fn, better in ((pt.cummax, np.greater_equal), (pt.cummin, np.less_equal)):
        r = fn(_t(a, dev), 0)
        want_v, want_i = _cum_reference(a, better)
        np.testing.assert_array_equal(r.values.cpu().numpy(), want_v)
        np.testing.assert_array_equal(r.indices.cpu().numpy(), want_i)
    m = RNG.integers(0, 4, (3, 9))
    r = _t(m, dev).cummax(1)
    for row in range(3):
        v, i = _cum_reference(m[row].astype(float), np.greater_equal)
        np.testing.assert_array_equal(r.values[row].cpu().numpy(), v)
        np.testing.assert_array_equal(r.indices[row].cpu().numpy(), i)
    assert gradcheck(lambda x: pt.cummax(x, 1).values, (_r(3, 6),))


@pytest.mark.parametrize("dev", DEVICES)
def test_logcumsumexp_is_stable(dev):
    a = np.array([-1000.0, 0.0, -np.inf, 3.0, 800.0, 1.0])
    got = pt.logcumsumexp(_t(a, dev), 0).cpu().numpy()
    want = np.logaddexp.accumulate(a)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert gradcheck(lambda x: pt.logcumsumexp(x, 0), (_r(9, 2),))
    with pytest.raises(NotImplementedError, match="logcumsumexp"):
        pt.logcumsumexp(pt.tensor([1, 2]), 0)


def test_unique_consecutive():
    x = pt.tensor([1, 1, 2, 2, 3, 1, 1, 2])
    out, inv, cnt = pt.unique_consecutive(x, return_inverse=True, return_counts=True)
    assert out.tolist() == [1, 2, 3, 1, 2] and inv.tolist() == [0, 0, 1, 1, 2, 3, 3, 4] and cnt.tolist() == [2, 2, 1, 2, 1]
    rows = pt.tensor([[1, 1], [1, 1], [2, 3], [1, 1]])
    out, cnt = rows.unique_consecutive(return_counts=True, dim=0)
    assert out.tolist() == [[1, 1], [2, 3], [1, 1]] and cnt.tolist() == [2, 1, 1]


# ---- writes into copies --------------------------------------------------------------------
@pytest.mark.parametrize("dev", DEVICES)
def test_scatter_family_matches_numpy_writes(dev):
    a = RNG.standard_normal((4, 5))
    w = a.copy()
    w[:, 2] = np.arange(4)
    np.testing.assert_array_equal(pt.select_scatter(_t(a, dev), _t(np.arange(4.0), dev), 1, -3).cpu().numpy(), w)
    w = a.copy()
    w[1::2] = 7.0
    np.testing.assert_array_equal(pt.slice_scatter(_t(a, dev), pt.full((2, 5), 7.0, dtype=pt.float64, device=dev),
                                                   0, 1, None, 2).cpu().numpy(), w)
    w = a.copy()
    w[np.arange(3) + 1, np.arange(3)] = [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(pt.diagonal_scatter(_t(a, dev), _t([1.0, 2.0, 3.0], dev), -1).cpu().numpy(), w)
    e = pt.diag_embed(_t([[1, 2], [3, 4]], dev), 1, 0, 2).cpu().numpy()
    want = np.zeros((3, 2, 3), np.int64)
    for b in range(2):
        want[:, b, :] = np.diag([[1, 2], [3, 4]][b], 1)
    np.testing.assert_array_equal(e, want)
    np.testing.assert_array_equal(pt.diagflat(_t([[1, 2]], dev), -1).cpu().numpy(), np.diagflat([[1, 2]], -1))
    assert gradcheck(lambda x, s: pt.diagonal_scatter(x, s, 1, 1, 0), (_r(3, 4), _r(2)))
    assert gradcheck(lambda x, s: pt.select_scatter(x, s, 0, 1), (_r(3, 4), _r(4)))


@pytest.mark.parametrize("dev", DEVICES)
def test_masked_scatter_and_put(dev):
    mask = np.array([[True, False, True], [False, True, True]])
    src = np.arange(10.0)
    want = np.zeros((2, 3))
    want[mask] = src[:mask.sum()]
    got = pt.zeros(2, 3, dtype=pt.float64, device=dev).masked_scatter(_t(mask, dev), _t(src, dev))
    np.testing.assert_array_equal(got.cpu().numpy(), want)
    x = pt.zeros(2, 3, dtype=pt.float64, device=dev)
    x.put_(_t([0, -1, 4], dev), _t([1.0, 2.0, 3.0], dev))
    np.testing.assert_array_equal(x.cpu().numpy().ravel(), [1, 0, 0, 0, 3, 2])
    acc = pt.zeros(3, device=dev).put(_t([1, 1, -2], dev), _t([1.0, 2.0, 4.0], dev, pt.float32), accumulate=True)
    assert acc.tolist() == [0.0, 7.0, 0.0]
    assert gradcheck(lambda x, s: x.masked_scatter(pt.tensor([True, False, True]), s), (_r(2, 3), _r(5)))
    with pytest.raises(RuntimeError, match="only supports boolean masks"):
        pt.zeros(3).masked_scatter(pt.tensor([1, 0, 1]), pt.ones(3))
    with pytest.raises(RuntimeError, match="Number of elements of source < number of ones in mask"):
        pt.zeros(3).masked_scatter(pt.tensor([True, True, False]), pt.ones(1))
    with pytest.raises(IndexError, match="same number of elements"):
        pt.zeros(3).put(pt.tensor([0, 1]), pt.ones(3))
    with pytest.raises(IndexError, match="out of range"):
        pt.zeros(3).put(pt.tensor([5]), pt.ones(1))


@pytest.mark.parametrize("dev", DEVICES)
def test_index_reduce_against_a_loop(dev):
    x = RNG.standard_normal((4, 3))
    src = RNG.standard_normal((5, 3))
    index = np.array([0, 2, 0, 3, 0])
    ops = {"prod": np.multiply, "amax": np.maximum, "amin": np.minimum}
    for reduce in ("prod", "mean", "amax", "amin"):
        for include_self in (True, False):
            want = x.copy()
            for row in range(4):
                picked = [src[j] for j in range(5) if index[j] == row]
                if not picked:
                    continue
                vals = ([x[row]] if include_self else []) + picked
                want[row] = np.mean(vals, 0) if reduce == "mean" else ops[reduce].reduce(np.stack(vals), 0)
            got = _t(x, dev).index_reduce(0, _t(index, dev), _t(src, dev), reduce, include_self=include_self)
            np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-12, err_msg=f"{reduce} {include_self}")
    ints = pt.ones(3, dtype=pt.int64).index_reduce(0, pt.tensor([0, 0]), pt.tensor([2, 3]), "mean")
    assert ints.tolist() == [2, 1, 1]       # (1 + 2 + 3) // 3, in the integer dtype as PyTorch's
    assert gradcheck(lambda a, b: a.index_reduce(0, pt.tensor([1, 1, 0]), b, "prod"), (_r(3, 2), _r(3, 2)))
    with pytest.raises(RuntimeError, match="prod, mean, amax or amin but got sum"):
        pt.zeros(3).index_reduce(0, pt.tensor([0]), pt.ones(1), "sum")


def test_index_ops_refuse_a_source_of_none():
    # index_reduce's source None escaped as AttributeError ('NoneType' object has no attribute
    # 'ndim'), index_add's and index_copy's as a TypeError naming index_put: PyTorch's TypeError
    # names the op and the argument
    x, index = pt.zeros(3, 2), pt.tensor([0, 1, 2])
    for op, extra in (("index_reduce", ("mean",)), ("index_add", ()), ("index_copy", ())):
        for f in (getattr(pt, op), lambda *a: getattr(x, op + "_")(*a[1:])):
            with pytest.raises(TypeError, match=f"{op}\\(\\): argument 'source' must be Tensor, not NoneType"):
                f(x, 0, index, None, *extra)
    assert x.index_fill(0, pt.tensor([1]), 2.0).tolist() == [[0, 0], [2, 2], [0, 0]]


@pytest.mark.parametrize("dev", DEVICES)
def test_index_reduce_of_complex_numbers(dev):
    # mean took the integer floor division ("floor_divide(): not supported for complex"), and
    # amax/amin failed in iinfo() with a TypeError; a complex mean divides, and complex numbers
    # have no order: NotImplementedError, as scatter_reduce's
    x = np.array([1 + 1j, 2j], dtype=np.complex64)
    src = np.array([2j, 1 + 0j], dtype=np.complex64)
    for include_self, want in ((True, [(x[0] + src.sum()) / 3, x[1]]), (False, [src.mean(), x[1]])):
        got = _t(x, dev).index_reduce(0, _t([0, 0], dev), _t(src, dev), "mean", include_self=include_self)
        np.testing.assert_allclose(got.cpu().numpy(), np.array(want), rtol=1e-6)
    for reduce in ("amax", "amin"):
        with pytest.raises(NotImplementedError, match=f"index_reduce\\(reduce='{reduce}'\\) is not implemented for"):
            _t(x, dev).index_reduce(0, _t([0, 0], dev), _t(src, dev), reduce)


def test_scatter_src_shape_errors():
    with pytest.raises(RuntimeError, match=r"src size = \[3\], slice size = \[2\]"):
        pt.select_scatter(pt.zeros(2, 2), pt.ones(3), 0, 0)
    with pytest.raises(RuntimeError, match=r"src size = \[1, 2\], slice size = \[2, 2\]"):
        pt.slice_scatter(pt.zeros(4, 2), pt.ones(1, 2), 0, 1, 3)
    for step in (0, -1):   # PyTorch's RuntimeError (slicing's own x[::0] is Python's ValueError)
        with pytest.raises(RuntimeError, match="slice_scatter\\(\\): slice step must be positive"):
            pt.slice_scatter(pt.zeros(4), pt.ones(2), 0, 0, 4, step)


# ---- Tensor queries, sizes, storage --------------------------------------------------------
def test_tensor_queries_and_sizes():
    assert pt.ones(2).is_signed() and not pt.ones(2, dtype=pt.uint8).is_signed()
    assert pt.tensor([2.0]).is_nonzero() and not pt.tensor(0).is_nonzero()
    with pytest.raises(RuntimeError, match="more than one value is ambiguous"):
        pt.ones(2).is_nonzero()
    with pytest.raises(RuntimeError, match="no values is ambiguous"):
        pt.ones(0).is_nonzero()
    assert pt.ones(2, 3).is_same_size(pt.zeros(2, 3)) and not pt.ones(2).is_same_size(pt.ones(3))
    x = pt.ones(3, requires_grad=True)
    y = x * 2
    assert not y.retains_grad
    y.retain_grad()
    assert y.retains_grad
    assert pt.ones(2, 3).sum_to_size(3).tolist() == [2.0, 2.0, 2.0]
    assert pt.ones(2, 3).sum_to_size((1, 3)).tolist() == [[2.0, 2.0, 2.0]]
    with pytest.raises(RuntimeError, match=r"size \{\[1, 4\]\} is not expandable to size \{\[2, 3\]\}"):
        pt.ones(2, 3).sum_to_size(1, 4)
    assert [t.tolist() for t in pt.split_with_sizes(pt.arange(5), [2, 3])] == [[0, 1], [2, 3, 4]]
    with pytest.raises(RuntimeError, match="split_with_sizes expects split_sizes to sum exactly to 5"):
        pt.arange(5).split_with_sizes([1, 2])
    n = pt.narrow_copy(pt.arange(5), 0, 1, 2)
    assert n.tolist() == [1, 2] and n._base is None


@pytest.mark.parametrize("dev", DEVICES)
def test_resize_and_data_ptr(dev):
    x = pt.arange(6.0, device=dev)
    assert x.resize_(2, 2).tolist() == [[0.0, 1.0], [2.0, 3.0]]
    assert x.resize_(3, 3).shape == (3, 3) and x.reshape(-1)[:4].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert x.resize_as_(pt.ones(2)).tolist() == [0.0, 1.0]
    v = pt.arange(4.0, device=dev)
    assert v[1:].data_ptr() == v.data_ptr() + v.element_size()
    with pytest.raises(RuntimeError, match="shares its memory with views"):
        v[1:].resize_(5)
    with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
        pt.ones(2, requires_grad=True).resize_(3)
    e = pt.ones(2, device=dev).new_empty_strided((2, 3), (3, 1))
    assert e.shape == (2, 3) and e.device.type == dev


def test_multinomial_method_is_seeded():
    p = pt.tensor([0.1, 0.0, 0.6, 0.3])
    pt.manual_seed(3)
    a = p.multinomial(20, replacement=True)
    pt.manual_seed(3)
    b = pt.multinomial(p, 20, replacement=True)
    assert a.tolist() == b.tolist() and 1 not in a.tolist()
    assert sorted(p.multinomial(3).tolist()) == [0, 2, 3]


def test_layout_flags_and_host_callables():
    x = pt.ones(2, 3)
    assert x.is_sparse is False and x.is_quantized is False and x.is_mps is False
    assert x.t().dim_order() == (1, 0) and pt.ones(2, 3, 4).permute(2, 0, 1).dim_order() == (1, 2, 0)
    assert x.pin_memory() is x and not x.is_pinned() and x.share_memory_() is x
    y = pt.arange(4.0)
    y.apply_(lambda v: v * 2)
    y.map_(pt.ones(4), lambda a, b: a + b)
    y.map2_(pt.ones(4), pt.full((4,), 2.0), lambda a, b, c: a + b + c)
    assert y.tolist() == [4.0, 6.0, 8.0, 10.0]


@pytest.mark.parametrize("dev", DEVICES)
def test_as_strided_views_the_memory(dev):
    a = np.arange(12.0)
    x = _t(a, dev)
    got = x.as_strided((3, 3), (2, 1), 1)
    np.testing.assert_array_equal(_np_view(got), np.lib.stride_tricks.as_strided(a[1:], (3, 3), (16, 8)))
    tail = x[2:]
    assert tail.as_strided((2, 2), (1, 1)).tolist() == [[2.0, 3.0], [3.0, 4.0]]      # from its own offset
    assert tail.as_strided((2, 2), (1, 1), 0).tolist() == [[0.0, 1.0], [1.0, 2.0]]   # from the memory's start
    v = x.as_strided((2,), (3,))
    x[3] = 99.0
    assert v.tolist() == [0.0, 99.0]
    with pytest.raises(RuntimeError, match="requiring a storage size of 112 are out of bounds for storage of size 96"):
        x.as_strided((3, 4), (5, 1), 0)
    with pytest.raises(RuntimeError, match="mismatch in length of strides and shape"):
        x.as_strided((3,), (1, 2))
    with pytest.raises(RuntimeError, match="Negative strides are not supported"):
        x.as_strided((3,), (-1,))
    s = pt.as_strided_scatter(pt.zeros(6, device=dev), pt.ones(2, 2, device=dev), (2, 2), (1, 2), 1)
    assert s.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    z = pt.zeros(2, 3, device=dev)
    z.as_strided_((3,), (2,))
    assert z.shape == (3,) and z.stride() == (2,)


def _np_view(t):
    return t.cpu().numpy()


def test_as_strided_gradient_adds_overlaps():
    a = _r(4, 5)
    assert gradcheck(lambda t: t.as_strided((3, 3), (5, 2), 1) * 1, (a,))
    assert gradcheck(lambda t: t.t().as_strided((3, 2), (1, 4), 2) * 1, (a,))
    y = pt.arange(4.0, requires_grad=True)
    y.as_strided((3, 2), (1, 1)).sum().backward()
    assert y.grad.tolist() == [1.0, 2.0, 2.0, 1.0]


def _memory_grad(size, stride, offset, weights, n):
    """d sum(weights * memory[positions]) / d memory, by NumPy: every read adds its weight."""
    pos = np.lib.stride_tricks.as_strided(np.arange(n)[offset:], size, tuple(8 * s for s in stride))
    out = np.zeros(n)
    np.add.at(out, pos.ravel(), np.asarray(weights).ravel())
    return out


@pytest.mark.parametrize("dev", DEVICES)
def test_as_strided_gradient_of_an_overlapping_input_counts_each_read_once(dev):
    # x reads memory[1:4] four times each (expand); as_strided reads memory 1, 2, 2, 3: the
    # gradient of memory[i] is the sum of the weights of the outputs that read it, not 4x that
    w = np.arange(1.0, 5.0).reshape(2, 2)
    base = pt.arange(8.0, dtype=pt.float32, device=dev).requires_grad_(True)
    x = base[1:4].reshape(3, 1).expand(3, 4)
    assert x.storage_offset() == 1
    y = pt.as_strided(x, (2, 2), (1, 1))
    assert y.tolist() == [[1.0, 2.0], [2.0, 3.0]]
    (y * _t(w, dev, dtype=pt.float32)).sum().backward()
    np.testing.assert_array_equal(base.grad.cpu().numpy(), _memory_grad((2, 2), (1, 1), 1, w, 8))
    # the same through unfold's overlapping windows and a transposed input
    base.grad = None
    win = base[2:].unfold(0, 3, 2)                          # (2, 3) windows, memory 2..6
    assert win.storage_offset() == 2
    y = win.as_strided((3, 3), (1, 1))                      # memory 2..6, reading 4 three times
    w = np.arange(1.0, 10.0).reshape(3, 3)
    (y * _t(w, dev, dtype=pt.float32)).sum().backward()
    np.testing.assert_array_equal(base.grad.cpu().numpy(), _memory_grad((3, 3), (1, 1), 2, w, 8))


def test_as_strided_gradient_of_overlapping_inputs_matches_finite_differences():
    a = _r(6)
    assert gradcheck(lambda t: t[1:4].reshape(3, 1).expand(3, 4).as_strided((2, 2), (1, 1)) * 1, (a,))
    assert gradcheck(lambda t: t.unfold(0, 3, 1).as_strided((3, 3), (1, 1), 1) * 1, (a,))
    assert gradcheck(lambda t: t.reshape(2, 3).t().expand(2, 3, 2).as_strided((2, 2), (2, 1), 1) * 1, (a,))


def test_legacy_constructor_and_identity_queries():
    x = pt.ones(2, 3, dtype=pt.float64)
    assert x.new(2, 3).shape == (2, 3) and x.new(2, 3).dtype is pt.float64
    assert x.new([1, 2]).tolist() == [1.0, 2.0] and x.new().shape == (0,)
    assert x.is_set_to(x) and not x.is_set_to(x.view(3, 2)) and not x.is_set_to(x.clone())
    assert x.output_nr == 0 and not x.is_inference() and x.const_data_ptr() == x.data_ptr()


@pytest.mark.parametrize("dev", DEVICES)
def test_scatter_reduce_against_a_loop(dev):
    # scatter_reduce raised NotImplementedError for prod, mean, amax and amin (only sum ran);
    # reference: a loop over index's elements, PyTorch's rules (NaN wins in amax/amin; an integer
    # mean floors; include_self=False leaves the input out of the positions written)
    x = RNG.standard_normal((3, 4))
    src = RNG.standard_normal((4, 5))
    src[1, 2] = nan
    index = np.array([[0, 2, 0, 1], [2, 2, 0, 0], [1, 0, 0, 2]])     # (3, 4): a smaller index than src
    ops = {"sum": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}
    for reduce in ("sum", "prod", "mean", "amax", "amin"):
        for include_self in (True, False):
            want = x.copy()
            for col in range(4):
                for row in range(3):
                    picked = [src[i, col] for i in range(3) if index[i, col] == row]
                    if not picked:
                        continue
                    vals = ([x[row, col]] if include_self else []) + picked
                    want[row, col] = np.mean(vals) if reduce == "mean" else ops[reduce].reduce(np.array(vals))
            got = _t(x, dev).scatter_reduce(0, _t(index, dev), _t(src, dev), reduce, include_self=include_self)
            np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-12, err_msg=f"{reduce} {include_self}")
    ints = _t([10, 10, 10], dev).scatter_reduce(0, _t([0, 0, 1], dev), _t([-1, -2, -3], dev), "mean", include_self=False)
    assert ints.tolist() == [-2, -3, 10]                            # floor(-1.5) = -2, as PyTorch
    b = _t([True, False, True], dev).scatter_reduce(0, _t([0, 0, 1], dev), _t([False, True, True], dev), "amin",
                                                    include_self=False)
    assert b.tolist() == [False, True, True]
    # the gradient of amax goes to every input equal to the result, shared among ties (PyTorch's)
    h = pt.tensor([5.0, 2.0, 3.0], requires_grad=True)
    s = pt.tensor([4.0, 5.0, 6.0], requires_grad=True)
    h.scatter_reduce(0, pt.tensor([0, 0, 1]), s, "amax").sum().backward()
    assert h.grad.tolist() == [0.5, 0.0, 1.0] and s.grad.tolist() == [0.0, 0.5, 1.0]
    for reduce, inc in (("mean", False), ("prod", True), ("prod", False), ("amin", False)):
        assert gradcheck(lambda a, b: a.scatter_reduce(0, pt.tensor([[1, 0], [1, 1], [0, 0]]), b, reduce, include_self=inc),
                         (_r(3, 2), _r(3, 2))), (reduce, inc)
    # prod with zeros: a lone zero factor gets the product of the others, two zeros give none (torch 2.13's values)
    h = pt.tensor([0.0, 2.0, 3.0], requires_grad=True)
    s = pt.tensor([0.0, 5.0, 6.0], requires_grad=True)
    h.scatter_reduce(0, pt.tensor([0, 1, 1]), s, "prod").sum().backward()
    assert h.grad.tolist() == [0.0, 30.0, 1.0] and s.grad.tolist() == [0.0, 12.0, 10.0]
    with pytest.raises(RuntimeError, match="reduce argument must be either sum, prod, mean, amax or amin, got max"):
        pt.zeros(3).scatter_reduce(0, pt.tensor([0]), pt.ones(1), "max")
    with pytest.raises(NotImplementedError, match="scatter_reduce\\(reduce='mean'\\) is not implemented for plugtorch.bool"):
        pt.zeros(3, dtype=pt.bool).scatter_reduce(0, pt.tensor([0]), pt.ones(1, dtype=pt.bool), "mean")


def test_index_add_alpha_on_bool_and_complex_inputs():
    # bool index_add with alpha=2 raised a dtype mismatch (source * 2 is int64) and complex alpha
    # raised TypeError (int(1j)); PyTorch: source * alpha in the input's dtype
    b = pt.zeros(3, dtype=pt.bool).index_add(0, pt.tensor([0, 0]), pt.tensor([True, True]), alpha=2)
    assert b.tolist() == [True, False, False]
    c = pt.zeros(2, dtype=pt.complex128).index_add(0, pt.tensor([0, 0]), pt.tensor([1 + 1j, 2 + 0j], dtype=pt.complex128), alpha=1j)
    np.testing.assert_array_equal(c.numpy(), np.array([(1 + 1j) * 1j + 2j, 0]))


@pytest.mark.parametrize("dev", DEVICES)
def test_as_strided_of_a_view_with_another_dtype_counts_in_its_own_elements(dev):
    # the cpu kernel indexed the base array (int64, complex64) with an offset in the view's
    # elements: as_strided(a.view(int32), (2,), (1,), 2) read int64 element 2 as two int32s
    a = pt.arange(4, dtype=pt.int64, device=dev).view(pt.int32)
    assert a.tolist() == [0, 0, 1, 0, 2, 0, 3, 0]
    assert pt.as_strided(a, (2,), (1,), 2).tolist() == [1, 0]
    assert pt.as_strided(a, (4,), (2,), 0).tolist() == [0, 1, 2, 3]
    r = pt.view_as_real(pt.tensor([1 + 2j, 3 + 4j], dtype=pt.complex64, device=dev))
    assert pt.as_strided(r, (4,), (1,), 0).tolist() == [1.0, 2.0, 3.0, 4.0]
    assert pt.as_strided(r, (2,), (2,), 1).tolist() == [2.0, 4.0]
    with pytest.raises(RuntimeError, match=r"setStorage: sizes \[9\], strides \[1\], storage offset 0, and itemsize 4 "
                                           r"requiring a storage size of 36 are out of bounds for storage of size 32"):
        pt.as_strided(a, (9,), (1,), 0)


@pytest.mark.parametrize("dev", DEVICES)
def test_masked_scatter_reads_a_source_overlapping_self_before_writing(dev):
    # a.masked_scatter_(a > 2, a[:3]), a = arange(6): the source [0, 1, 2] read before any
    # write gives [0, 1, 2, 0, 1, 2] (it was refused as a partial overlap). Where a sequential
    # kernel would read an element it already wrote (mask [F, T, T, F, F, T] with source a itself
    # or a[:5] into a[1:]), read-first gives the out-of-place masked_scatter's value,
    # [0, 0, 1, 3, 4, 2]: positions 1, 2, 5 take the old 0, 1, 2
    a = pt.arange(6.0, device=dev)
    a.masked_scatter_(a > 2, a[:3])
    assert a.tolist() == [0.0, 1.0, 2.0, 0.0, 1.0, 2.0]
    a = pt.arange(6.0, device=dev)
    a.masked_scatter_(a < 3, a[3:])
    assert a.tolist() == [3.0, 4.0, 5.0, 3.0, 4.0, 5.0]
    m = _t([False, True, True, False, False, True], dev)
    a = pt.arange(6.0, device=dev)
    a.masked_scatter_(m, a)
    assert a.tolist() == [0.0, 0.0, 1.0, 3.0, 4.0, 2.0]
    a = pt.arange(6.0, device=dev)
    a[1:].masked_scatter_(m[1:], a[:5])
    assert a.tolist() == [0.0, 0.0, 1.0, 3.0, 4.0, 2.0]
    b = _t([True, False, True, False], dev)
    b.masked_scatter_(b, b[1:])                  # (mask and source both in b's memory)
    assert b.tolist() == [False, False, True, False]
    # autograd: b = x; b[3:] takes b[:3], so x's gradient is g[:3] + g[3:] = [5, 7, 9] and 0 after
    x = pt.arange(6.0, device=dev, requires_grad=True)
    y = x * 1
    y.masked_scatter_(y > 2, y[:3])
    y.backward(pt.arange(1.0, 7.0, device=dev))
    assert y.tolist() == [0.0, 1.0, 2.0, 0.0, 1.0, 2.0]
    assert x.grad.tolist() == [5.0, 7.0, 9.0, 0.0, 0.0, 0.0]
    # the other in-place writes from an overlapping source stay refused, as PyTorch's
    for write in (lambda a: a.index_put_((_t([3, 4, 5], dev),), a[:3]),
                  lambda a: a.index_copy_(0, _t([1, 2, 3], dev), a[:3]),
                  lambda a: a.scatter_(0, _t([1, 2, 3], dev), a[:3]),
                  lambda a: a.put_(_t([1, 2, 3], dev), a[:3])):
        with pytest.raises(RuntimeError, match="refer to a single memory location. Please clone"):
            write(pt.arange(6.0, device=dev))
    a = pt.arange(6.0, device=dev)
    a.masked_fill_(a > 2, a[0])                  # (a 0-d value is a number, read once)
    assert a.tolist() == [0.0, 1.0, 2.0, 0.0, 0.0, 0.0]
