"""__getitem__ / __setitem__ against NumPy's result shapes and values, and the indexing ops."""
import numpy as np
import pytest

import plugtorch as pt

N = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)

GET = [
    1, -1, (0, 1), (1, -2, 3, -1), slice(None), slice(1, None), slice(None, None, 2),
    (slice(None), slice(-2, None)), (Ellipsis, 1), (Ellipsis, slice(1, 4, 2)), (None, 0),
    (0, None, slice(None), None), (Ellipsis, None), (1, Ellipsis, 2), (slice(5, 10),),
    (slice(-10, 1),), (slice(None), slice(3, 1)),
    [1, 0], ([0, 1, 1],), (slice(None), [2, 0]), (0, [0, 2], [1, 3]),
    (slice(None), [0, 1], slice(None), [2, 3]),          # non-adjacent advanced -> front
    ([0, 1], slice(None), [1, 2]),                        # non-adjacent
    (slice(None), [[0], [2]], [1, 3]),                    # broadcasting index arrays
    (Ellipsis, [4, 0, 0]),
    (1, [0, 2], slice(None), 3),                          # int + list separated -> front
    (slice(None), None, [1, 2]), ([-1, -2],),
    np.array([1, 0]), (np.int64(1), slice(None)),
]


@pytest.mark.parametrize("key", GET, ids=[repr(k)[:40] for k in GET])
def test_getitem_matches_numpy(key):
    x = pt.tensor(N)
    want = N[key]
    got = x[key]
    assert tuple(got.shape) == want.shape
    assert got.tolist() == want.tolist()


def test_ints_are_basic_indices_as_in_pytorch():
    # PyTorch applies ints as select() first, so a lone list index stays in place
    # (NumPy would count the int as advanced and move the result's dims to the front)
    x = pt.tensor(N)
    assert x[0, :, [1]].shape == (3, 1, 5)
    assert x[0, :, [1]].tolist() == N[0][:, [1]].tolist()


def test_getitem_tensor_indices_and_masks():
    x = pt.tensor(N)
    i = pt.tensor([[1, 0], [0, 1]])
    assert x[i].tolist() == N[[[1, 0], [0, 1]]].tolist()
    assert x[:, pt.tensor([2, 0], dtype=pt.int32)].tolist() == N[:, [2, 0]].tolist()
    m = N[..., 0] % 3 == 0
    assert x[pt.tensor(m)].tolist() == N[m].tolist()
    m2 = N[0, :, 0, 0] > 5
    assert x[:, pt.tensor(m2)].tolist() == N[:, m2].tolist()
    assert x[0, pt.tensor([True, False, True])].shape == (2, 4, 5)
    assert x[pt.tensor(1)].tolist() == N[1].tolist()
    s = pt.tensor(3.0)
    assert s[None].shape == (1,) and s[...].shape == () and s[True].shape == (1,) and s[False].shape == (0,)
    assert x[[True, False]].shape == (1, 3, 4, 5)
    e = pt.zeros(0, 3)
    assert e[:, 1].shape == (0,) and e[pt.tensor([], dtype=pt.int64)].shape == (0, 3)


def test_basic_indexing_returns_views():
    x = pt.zeros(3, 4)
    x[1][2] = 5
    assert x[1, 2].item() == 5
    v = x[:, 1:3]
    v.fill_(1)
    assert x.tolist() == [[0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0]]
    assert v._version == x._version
    y = x[[0, 1]]                      # advanced indexing copies
    y.fill_(7)
    assert x[0, 0].item() == 0


SET = [
    (1, 9), ((0, 1), 9), (slice(None, None, 2), -1), ((Ellipsis, 0), 4), ([0, 2], 8),
    ((slice(None), [1, 3]), 2), (([0, 1], [2, 3]), 6), ((slice(1, None), slice(None, 2)), 3),
]


@pytest.mark.parametrize("key,val", SET, ids=[repr(k)[:40] for k, _ in SET])
def test_setitem_scalar(key, val):
    n = np.arange(12).reshape(3, 4)
    x = pt.tensor(n)
    n[key] = val
    x[key] = val
    assert x.tolist() == n.tolist()


def test_setitem_tensors_broadcast_and_masks():
    n = np.zeros((3, 4), np.float32)
    x = pt.tensor(n)
    x[:, 1] = pt.tensor([1.0, 2.0, 3.0])
    n[:, 1] = [1, 2, 3]
    x[0] = pt.tensor([9.0, 8.0, 7.0, 6.0])
    n[0] = [9, 8, 7, 6]
    x[1:] = pt.tensor([5.0])                   # broadcast
    n[1:] = 5
    assert x.tolist() == n.tolist()
    x[x > 6] = 0.5
    n[n > 6] = 0.5
    assert x.tolist() == n.tolist()
    x[pt.tensor([0, 2]), pt.tensor([3, 0])] = pt.tensor([-1.0, -2.0])
    n[[0, 2], [3, 0]] = [-1, -2]
    assert x.tolist() == n.tolist()
    x[:, [0, 1]] = pt.tensor([[10.0, 20.0]])
    n[:, [0, 1]] = [[10, 20]]
    assert x.tolist() == n.tolist()
    x[...] = 0
    assert x.sum().item() == 0
    x[1] = [1, 2, 3, 4]
    assert x[1].tolist() == [1, 2, 3, 4]
    xi = pt.zeros(3, dtype=pt.int32)
    xi[0] = 2.7                               # cast to the tensor's dtype
    assert xi.tolist() == [2, 0, 0] and xi.dtype is pt.int32
    v0 = x._version
    x[0, 0] = 1
    assert x._version > v0


def test_setitem_errors():
    x = pt.zeros(3, 4)
    with pytest.raises(RuntimeError, match=r"source of shape \(2,\) can't be broadcast.*\(3,\)|shape"):
        x[:, 0] = pt.ones(2)


def test_index_errors():
    x = pt.zeros(3, 4)
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        x[3]
    # as torch 2.13 counts it: the index's position among the dims (a None counts too)
    with pytest.raises(IndexError, match="index -5 is out of bounds for dimension 1 with size 4"):
        x[0, -5]
    with pytest.raises(IndexError, match="index -5 is out of bounds for dimension 2 with size 4"):
        x[None, 0, -5]
    with pytest.raises(IndexError, match="index 7 is out of bounds for dimension 0 with size 3"):
        x[[0, 7]]
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="invalid index of a 0-dim tensor"):
        pt.tensor(1.0)[0]
    with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or bool"):
        x[pt.tensor([0.0])]
    with pytest.raises(IndexError, match="only integers, slices"):
        x[0.5]
    with pytest.raises(TypeError, match="invalid index 'a'"):   # TypeError in torch 2.13
        x["a"]
    with pytest.raises(IndexError, match="shape of the mask"):
        x[pt.tensor([True, False])]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        x[::0]
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        x[:, ::0] = 1.0
    with pytest.raises(IndexError, match="out of bounds"):
        x[5] = 1


def test_index_select_gather_scatter():
    n = np.arange(12).reshape(3, 4)
    x = pt.tensor(n)
    idx = pt.tensor([2, 0])
    assert x.index_select(1, idx).tolist() == n[:, [2, 0]].tolist()
    assert pt.index_select(x, 0, idx).tolist() == n[[2, 0]].tolist()
    g = pt.tensor([[0, 3], [1, 1], [2, 0]])
    assert x.gather(1, g).tolist() == np.take_along_axis(n, g.numpy(), 1).tolist()
    assert pt.take_along_dim(x, g, 1).tolist() == np.take_along_axis(n, g.numpy(), 1).tolist()
    z = pt.zeros(3, 4, dtype=pt.int64)
    s = z.scatter(1, g, pt.tensor([[1, 2], [3, 4], [5, 6]]))
    want = np.zeros((3, 4), np.int64)
    np.put_along_axis(want, g.numpy(), [[1, 2], [3, 4], [5, 6]], 1)
    want[1, 1] = s[1, 1].item()  # duplicate index: one of the writes wins
    assert s.tolist() == want.tolist() and s[1, 1].item() in (3, 4)
    sa = z.scatter_add(1, g, pt.ones(3, 2, dtype=pt.int64))
    assert sa.tolist() == [[1, 0, 0, 1], [0, 2, 0, 0], [1, 0, 1, 0]]
    assert z.scatter(0, pt.tensor([[1, 0, 2, 1]]), 7).tolist() == [[0, 7, 0, 0], [7, 0, 0, 7], [0, 0, 7, 0]]
    z2 = z.clone()
    z2.scatter_(1, g, 1)
    assert z2.sum().item() == 5
    # int32 indices are taken as int64 ones (PyTorch 2.13); other dtypes are refused
    assert x.gather(1, g.int()).tolist() == x.gather(1, g).tolist()
    assert z.scatter_add(1, g.int(), pt.ones(3, 2, dtype=pt.int64)).tolist() == sa.tolist()
    with pytest.raises(RuntimeError, match="Expected dtype int32/int64 for index, got plugtorch.int16"):
        x.gather(1, g.short())
    with pytest.raises(RuntimeError, match="index 4 is out of bounds for dimension 1 with size 4"):
        x.gather(1, pt.tensor([[4]]))


def test_index_put_add_copy_fill():
    x = pt.zeros(5)
    x.index_put_((pt.tensor([0, 0, 2]),), pt.tensor(1.0), accumulate=True)
    assert x.tolist() == [2, 0, 1, 0, 0]
    y = pt.zeros(3, 2).index_add(0, pt.tensor([0, 2, 0]), pt.ones(3, 2))
    assert y.tolist() == [[2, 2], [0, 0], [1, 1]]
    assert pt.zeros(3).index_copy(0, pt.tensor([2, 0]), pt.tensor([5.0, 6.0])).tolist() == [6, 0, 5]
    assert pt.zeros(3).index_fill(0, pt.tensor([1]), -1).tolist() == [0, -1, 0]


def test_masked_fill_select_nonzero():
    x = pt.tensor([[1, -2], [-3, 4]])
    m = x < 0
    assert x.masked_fill(m, 0).tolist() == [[1, 0], [0, 4]]
    assert x.masked_fill(pt.tensor([True, False]), 9).tolist() == [[9, -2], [9, 4]]
    assert pt.masked_select(x, m).tolist() == [-2, -3]
    xf = pt.tensor([1.0, 2.0])
    xf.masked_fill_(pt.tensor([False, True]), pt.tensor(5.0))
    assert xf.tolist() == [1.0, 5.0]
    assert x.nonzero().tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert pt.nonzero(pt.tensor([0, 3, 0, 4])).tolist() == [[1], [3]]
    assert [t.tolist() for t in pt.nonzero(m, as_tuple=True)] == [[0, 1], [1, 0]]
    assert pt.tensor(0).nonzero().shape == (0, 0) and pt.tensor(5).nonzero().shape == (1, 0)
    assert pt.argwhere(pt.tensor([0, 1])).tolist() == [[1]]
    with pytest.raises(RuntimeError, match="masked_fill_ only supports boolean masks"):
        x.masked_fill(x, 0)


SET_ADV = [
    (slice(None), [0, 1], slice(None), [2, 3]),      # non-adjacent: broadcast dims go first
    ([0, 1], slice(None), [1, 2]),
    (Ellipsis, [4, 0]),
    (slice(None), [[0], [2]], [1, 3]),
    (N[..., 0, 0] > 0,),
]


@pytest.mark.parametrize("key", SET_ADV, ids=[repr(k)[:40] for k in SET_ADV])
def test_setitem_advanced_matches_numpy(key):
    n = np.zeros(N.shape, np.int64)
    x = pt.tensor(n)
    shape = n[key].shape
    vals = np.arange(int(np.prod(shape))).reshape(shape) + 1
    n[key] = vals
    x[tuple(pt.tensor(k) if isinstance(k, np.ndarray) else k for k in key)] = pt.tensor(vals)
    assert x.tolist() == n.tolist()
    n[key] = 7                          # a scalar broadcast over the advanced result
    x[tuple(pt.tensor(k) if isinstance(k, np.ndarray) else k for k in key)] = 7
    assert x.tolist() == n.tolist()


def test_index_tensors_that_do_not_broadcast_raise_index_error():
    # PyTorch raises IndexError ("shape mismatch: indexing tensors could not be broadcast together
    # with shapes [2], [3]"); plugtorch raised broadcast_shapes' RuntimeError
    x = pt.arange(6.0).reshape(2, 3)
    with pytest.raises(IndexError, match=r"shape mismatch: indexing tensors could not be broadcast together with "
                                         r"shapes \[2\], \[3\]"):
        x[[0, 0], [0, 1, 2]]
    with pytest.raises(IndexError, match="shape mismatch"):
        x.index_put_((pt.tensor([0, 1]), pt.tensor([0, 1, 2])), pt.tensor(1.0))
    assert x[pt.tensor([[0], [1]]), pt.tensor([0, 1, 2])].tolist() == x.tolist()   # (2, 1) with (3,) broadcasts


@pytest.mark.parametrize("dev", ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))])
def test_index_put_takes_bool_masks(dev):
    # index_put/index_put_ refused a bool mask ('must be long, int, byte or bool tensors, got bool');
    # PyTorch writes where it is true, as x[mask] = v does. NumPy reference: the same write
    a = np.zeros((2, 3))
    m2 = np.array([[True, False, True], [False, False, True]])
    x = pt.zeros(2, 3, device=dev)
    x.index_put_((pt.tensor(m2, device=dev),), pt.tensor(5.0, device=dev), accumulate=True)
    want = a.copy()
    want[m2] += 5.0
    np.testing.assert_array_equal(x.cpu().numpy(), want)
    got = pt.index_put(pt.zeros(2, 3, device=dev), (pt.tensor([True, False], device=dev), pt.tensor([0, 2], device=dev)),
                       pt.tensor(1.0, device=dev))
    want = a.copy()
    want[np.array([True, False]), np.array([0, 2])] = 1.0
    np.testing.assert_array_equal(got.cpu().numpy(), want)
    y = pt.zeros(2, 3, device=dev)
    y.index_put_((pt.tensor([True, False], device=dev),), pt.tensor([1.0, 2.0, 3.0], device=dev))
    assert y.tolist() == [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]
    with pytest.raises(IndexError, match=r"The shape of the mask \[3\] at index 0 does not match"):
        pt.index_put(pt.zeros(2, 3, device=dev), (pt.tensor([True, False, True], device=dev),), pt.tensor(1.0, device=dev))


@pytest.mark.parametrize("device", ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))])
def test_gathered_results_are_row_major_as_in_pytorch(device):
    # torch 2.13 gives index_select and advanced indexing row-major results; cpu returned NumPy's
    # advanced-indexing layout (the indexed dim kept in place logically but outermost in memory),
    # so x.index_select(2, i).view(-1) and F.interpolate(x).view(...) failed on cpu only
    x = pt.tensor(N, device=device)
    keys = [(slice(None), slice(None), [1, 0, 3]), (slice(None), [2, 0]), (Ellipsis, [4, 0, 0]),
            (slice(None), [[0], [2]], [1, 3]), (slice(None), [0, 1], slice(None), [2, 3]), (N > 60,)]
    for key in keys:
        tkey = tuple(pt.tensor(k, device=device) if isinstance(k, (list, np.ndarray)) else k for k in key)
        got = x[tkey]
        assert got.is_contiguous(), key
        np.testing.assert_array_equal(got.view(-1).cpu().numpy(), N[key].reshape(-1))
    for d in range(4):
        got = x.index_select(d, pt.tensor([1, 0, 1], device=device))
        assert got.is_contiguous() and got.stride() == pt.empty(got.shape).stride()
        np.testing.assert_array_equal(got.cpu().numpy(), np.take(N, [1, 0, 1], axis=d))
    up = pt.nn.functional.interpolate(x[:, :, :, :4].double(), scale_factor=2)
    assert up.is_contiguous() and up.view(2, -1).shape == (2, 3 * 8 * 8)


@pytest.mark.parametrize("dev", ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))])
def test_setitem_one_mask_one_element_value_of_another_dtype(dev):
    # x[mask] = v with v a one-element cpu tensor of another dtype raised 'Index put requires the
    # source and destination dtypes match'; PyTorch writes it as masked_fill_(mask, v.item())
    # (truncating 9.7 into int32, checking overflow as masked_fill does). NumPy reference: the same write
    m = np.array([True, False, True, False])
    a = np.arange(4, dtype=np.int32)
    a[m] = 9
    x = pt.arange(4, dtype=pt.int32, device=dev)
    x[pt.tensor(m, device=dev)] = pt.tensor(9.7, dtype=pt.float64)
    np.testing.assert_array_equal(x.cpu().numpy(), a)
    y = pt.arange(4.0, device=dev)
    y.index_put_((pt.tensor(m, device=dev),), pt.tensor([[7]]))          # any one-element shape
    assert y.tolist() == [7.0, 1.0, 7.0, 3.0]
    z = pt.zeros(2, 3, device=dev)
    z[1:, pt.tensor([True, False, True], device=dev)] = pt.tensor([2], dtype=pt.int64)
    assert z.tolist() == [[0.0, 0.0, 0.0], [2.0, 0.0, 2.0]]
    u = pt.zeros(4, dtype=pt.uint8, device=dev)
    with pytest.raises(RuntimeError, match=r"__setitem__\(\): value 300.5 cannot be converted to type uint8 without overflow"):
        u[pt.tensor(m, device=dev)] = pt.tensor(300.5, dtype=pt.float64)
    # with an integer index tensor the dtypes must still match, as in PyTorch
    with pytest.raises(RuntimeError, match="Index put requires the source and destination dtypes match"):
        y[pt.tensor([0, 2], device=dev)] = pt.tensor(1, dtype=pt.int64)


def test_setitem_value_drops_leading_ones_and_uint8_indices_are_masks():
    # PyTorch views a value without its leading 1s (x[1:3] = ones(1, 1, 2)); both raised
    x = pt.zeros(4)
    x[1:3] = pt.ones(1, 1, 2)
    x[pt.tensor([0])] = pt.full((1, 1, 1), 5.0)
    assert x.tolist() == [5.0, 1.0, 1.0, 0.0]
    # a uint8 index tensor is a mask in PyTorch (deprecated, with a warning): it was read as indices
    n = np.arange(4.0)
    with pytest.warns(UserWarning, match="indexing with dtype plugtorch.uint8 is now deprecated"):
        got = pt.tensor(n)[pt.tensor([1, 0, 1, 0], dtype=pt.uint8)]
    np.testing.assert_array_equal(got.numpy(), n[np.array([True, False, True, False])])
    y = pt.tensor(n)
    with pytest.warns(UserWarning, match="uint8 is now deprecated"):
        y.index_put_((pt.tensor([0, 1, 1, 0], dtype=pt.uint8),), pt.tensor(8.0))
    assert y.tolist() == [0.0, 8.0, 8.0, 3.0]


def test_lists_holding_sequences_are_tuples_and_ellipses_repeat_as_in_pytorch():
    # torch 2.13 (and NumPy before 1.23) reads a short list holding a sequence, tensor, slice, None
    # or Ellipsis as a tuple of indices; plugtorch read x[[[0, 1]]] as one (1, 2)-index (a (1, 2, 3, 4)
    # result where torch gives (2, 3, 4)) and x[[pt.tensor(0), 1]] as the rows 0 and 1
    x = pt.tensor(N[:, :, :, 0])                                      # (2, 3, 4)
    assert x[[[0, 1]]].tolist() == N[:, :, :, 0][[0, 1]].tolist()
    assert x[[pt.tensor(0), 1]].tolist() == N[0, 1, :, 0].tolist()
    assert x[[0, [1, 2]]].tolist() == N[0][[1, 2], :, 0].tolist()
    assert x[[slice(None), 1]].tolist() == N[:, 1, :, 0].tolist()
    assert x[[[True, False]]].tolist() == N[:1, :, :, 0].tolist()
    assert x[[0, 1, 1]].shape == (3, 3, 4)                           # ints only: one index
    y = pt.zeros(2, 3)
    y[[0, [0, 2]]] = 1.0
    assert y.tolist() == [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    # several ellipses: each stands for the dims the others leave (x[..., 0, ...] is x[..., 0])
    assert x[..., 0, ...].tolist() == N[:, :, 0, 0].tolist()
    assert x[..., ...].tolist() == x.tolist()


def test_setitem_a_complex_scalar_into_a_real_tensor_is_a_runtime_error():
    # torch 2.13: RuntimeError ("value cannot be converted to type float without overflow"); it was
    # the TypeError of plugtorch.tensor()
    x = pt.zeros(3)
    with pytest.raises(RuntimeError, match=r"__setitem__\(\): value 1j cannot be converted to type float32"):
        x[0] = 1j
    z = pt.zeros(2, dtype=pt.complex64)
    z[0] = 1j
    assert z.tolist() == [1j, 0j]


def test_scatter_0d_src_and_index_fill_complex_follow_pytorch():
    # a 0-d src of another dtype is refused as a tensor src is (plugtorch took its value);
    # index_fill refuses a complex value even for bool (fill_ and masked_fill take it)
    x = pt.zeros(3)
    with pytest.raises(RuntimeError, match=r"scatter\(\): Expected self.dtype to be equal to src.dtype"):
        x.scatter(0, pt.tensor([1]), pt.tensor(0.5, dtype=pt.float64))
    assert x.scatter(0, pt.tensor([1]), pt.tensor(2.0)).tolist() == [0.0, 2.0, 0.0]
    b = pt.zeros(3, dtype=pt.bool)
    with pytest.raises(RuntimeError, match="Converting complex Scalar to non-complex type is not supported"):
        b.index_fill(0, pt.tensor([1]), pt.tensor(1 + 2j))
    assert b.index_fill(0, pt.tensor([1]), pt.tensor(2.5)).tolist() == [False, True, False]
    assert b.masked_fill(pt.tensor([True, False, False]), 1 + 2j).tolist() == [True, False, False]


def test_masked_select_and_take_refuse_other_index_dtypes():
    # masked_select with an int64 mask indexed with it (x[[1, 0, 1, 0]] gave [1., 0., 1., 0.]) and
    # take took int32 indices (a bool or uint8 one would be a mask); torch 2.13 refuses both
    x = pt.arange(4.0)
    with pytest.raises(RuntimeError, match="masked_select: expected BoolTensor for mask"):
        pt.masked_select(x, pt.tensor([1, 0, 1, 0]))
    with pytest.raises(RuntimeError, match=r"take\(\): Expected a long tensor for index, but got Int"):
        pt.take(x, pt.tensor([1], dtype=pt.int32))
    assert pt.masked_select(x, x > 1).tolist() == [2.0, 3.0]
    assert pt.take(x, pt.tensor([[1, -1]])).tolist() == [[1.0, 3.0]]


OPENCL = pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))


@pytest.mark.parametrize("dev", ["cpu", OPENCL])
def test_index_tensors_are_long_int_byte_or_bool_and_ranges_are_lists(dev):
    # int8/int16 index tensors were taken as indices (PyTorch refuses them: IndexError); a NumPy
    # array of any int dtype and a range index as a list does (a range was an IndexError)
    n = np.arange(12.0).reshape(4, 3)
    x = pt.tensor(n, device=dev)
    for dt in (pt.int8, pt.int16):
        k = pt.tensor([3, 0], dtype=dt, device=dev)
        with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or bool tensors"):
            x[k]
        with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or bool tensors"):
            x[k] = 1.0
        with pytest.raises(IndexError, match=r"index_put\(\): tensors used as indices must be long"):
            x.index_put((k,), pt.tensor(1.0, device=dev))
    assert x[pt.tensor([3, 0], dtype=pt.int32, device=dev)].tolist() == n[[3, 0]].tolist()
    assert x[np.array([3, 0], dtype=np.int16)].tolist() == n[[3, 0]].tolist()
    assert x[range(1, 4)].tolist() == n[1:4].tolist()
    assert x[:, range(0, 3, 2)].tolist() == n[:, [0, 2]].tolist()
    assert x[range(2), range(2)].tolist() == [0.0, 4.0]
    x[range(1, 3)] = -1.0
    n[1:3] = -1.0
    assert x.tolist() == n.tolist()


@pytest.mark.parametrize("dev", ["cpu", OPENCL])
def test_nonzero_as_tuple_and_one_argument_where_of_a_0d_tensor(dev):
    # PyTorch counts a 0-d input as 1-d here: one index tensor, [0] or []; plugtorch gave ()
    for v, want in ((2.5, [0]), (0.0, [])):
        x = pt.tensor(v, device=dev)
        for got in (x.nonzero(as_tuple=True), pt.nonzero(x, as_tuple=True), pt.where(x)):
            assert len(got) == 1 and got[0].dtype is pt.int64 and got[0].tolist() == want
    assert pt.tensor(2.5, device=dev).nonzero().shape == (1, 0)


@pytest.mark.parametrize("dev", ["cpu", OPENCL])
def test_masked_fill_result_has_the_broadcast_shape(dev):
    # out-of-place masked_fill with a mask of more dims failed in expand(); PyTorch broadcasts
    # input and mask (the in-place masked_fill_ keeps the input's shape and refuses)
    x = pt.tensor([0.0, 1.0, 2.0], device=dev)
    m = np.array([[True, False, True], [False, False, True]])
    got = x.masked_fill(pt.tensor(m, device=dev), -1.0)
    assert got.shape == (2, 3) and got.tolist() == np.where(m, -1.0, [0.0, 1.0, 2.0]).tolist()
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        x.masked_fill_(pt.tensor(m, device=dev), -1.0)


def test_setitem_a_complex_scalar_into_a_bool_tensor_is_its_truth():
    # b[0] = 1j was a TypeError from tensor(); PyTorch stores bool(1j) (a real dtype refuses it)
    b = pt.zeros(3, dtype=pt.bool)
    b[0] = 1j
    b[1] = 0j
    b[2] = 0.5 - 2j
    assert b.tolist() == [bool(1j), bool(0j), bool(0.5 - 2j)] == [True, False, True]
