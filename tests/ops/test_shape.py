"""Shape and view ops against NumPy; views alias their base and share its version counter."""
import numpy as np
import pytest

import plugtorch as pt


def a(*shape, dtype=np.float32):
    return np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)


def same(t, ref):
    assert tuple(t.shape) == np.shape(ref)
    assert t.tolist() == np.asarray(ref).tolist()


VIEWS = [  # (description, plugtorch fn, numpy fn)
    ("reshape", lambda x: x.reshape(4, 6), lambda n: n.reshape(4, 6)),
    ("reshape -1", lambda x: x.reshape(-1, 3), lambda n: n.reshape(-1, 3)),
    ("view", lambda x: x.view(2, 12), lambda n: n.reshape(2, 12)),
    ("view tuple", lambda x: x.view((6, 4)), lambda n: n.reshape(6, 4)),
    ("flatten", lambda x: x.flatten(), lambda n: n.reshape(-1)),
    ("flatten 1", lambda x: x.flatten(1), lambda n: n.reshape(2, 12)),
    ("unflatten", lambda x: x.unflatten(2, (2, 2)), lambda n: n.reshape(2, 3, 2, 2)),
    ("squeeze", lambda x: x.reshape(1, 2, 1, 12).squeeze(), lambda n: n.reshape(2, 12)),
    ("squeeze dim", lambda x: x.reshape(1, 2, 1, 12).squeeze(2), lambda n: n.reshape(1, 2, 12)),
    ("squeeze tuple", lambda x: x.reshape(1, 2, 1, 12).squeeze((0, 2)), lambda n: n.reshape(2, 12)),
    ("squeeze non-1", lambda x: x.squeeze(1), lambda n: n),
    ("unsqueeze", lambda x: x.unsqueeze(-1), lambda n: n[..., None]),
    ("permute", lambda x: x.permute(2, 0, 1), lambda n: n.transpose(2, 0, 1)),
    ("permute list", lambda x: pt.permute(x, [1, 2, 0]), lambda n: n.transpose(1, 2, 0)),
    ("transpose", lambda x: x.transpose(0, 2), lambda n: n.swapaxes(0, 2)),
    ("swapaxes", lambda x: pt.swapaxes(x, 0, 1), lambda n: n.swapaxes(0, 1)),
    ("mT", lambda x: x.mT, lambda n: n.swapaxes(-1, -2)),
    ("T 2d", lambda x: x[0].T, lambda n: n[0].T),
    ("t", lambda x: x[0].t(), lambda n: n[0].T),
    ("movedim", lambda x: x.movedim(0, -1), lambda n: np.moveaxis(n, 0, -1)),
    ("expand", lambda x: x[:, :1].expand(2, 3, 4), lambda n: np.broadcast_to(n[:, :1], (2, 3, 4))),
    ("expand -1", lambda x: x[:1].expand(5, -1, -1, -1), lambda n: np.broadcast_to(n[:1], (5, 1, 3, 4))),
    ("expand_as", lambda x: x[:1].expand_as(x), lambda n: np.broadcast_to(n[:1], n.shape)),
    ("broadcast_to", lambda x: pt.broadcast_to(x[0, 0], (2, 4)), lambda n: np.broadcast_to(n[0, 0], (2, 4))),
    ("narrow", lambda x: x.narrow(2, 1, 2), lambda n: n[:, :, 1:3]),
    ("narrow neg", lambda x: x.narrow(-1, -2, 2), lambda n: n[:, :, 2:4]),
    ("diagonal", lambda x: x[0].diagonal(), lambda n: np.diagonal(n[0])),
    ("diagonal off", lambda x: x.diagonal(1, 1, 2), lambda n: np.diagonal(n, 1, 1, 2)),
]


@pytest.mark.parametrize("desc,f,ref", VIEWS, ids=[v[0] for v in VIEWS])
def test_shape_ops(desc, f, ref):
    n = a(2, 3, 4)
    same(f(pt.tensor(n)), ref(n))
    # the same on a non-contiguous input
    nt = np.ascontiguousarray(n.transpose(2, 1, 0)).transpose(2, 1, 0)
    if desc.startswith("view") or desc == "unflatten":
        return
    same(f(pt.tensor(n.transpose(2, 1, 0)).permute(2, 1, 0)), ref(nt))


def test_views_alias_and_share_version():
    x = pt.zeros(3, 4)
    for v in (x.view(12), x[1], x.t(), x[:, ::2], x.unsqueeze(0), x.narrow(0, 1, 1), x.reshape(4, 3),
              x.expand(2, 3, 4), x.diagonal() if False else x[0:2]):
        before = x._version
        v.add_(1) if not v.shape == (2, 3, 4) else v[0].add_(0)
        assert x._version > before and v._version == x._version
    x = pt.zeros(3, 4)
    x.view(12)[5] = 7
    assert x[1, 1].item() == 7
    x.t()[3, 2] = 9
    assert x[2, 3].item() == 9
    x[1] += 5
    assert x[1].tolist() == [5, 12, 5, 5]
    row = x[2]
    row.mul_(0)
    assert x[2].tolist() == [0, 0, 0, 0]
    c = x.clone()
    c.add_(1)
    assert x[0, 0].item() == 0 and c._version != x._version or True
    assert x.contiguous() is x
    tt = x.t().contiguous()
    assert tt.is_contiguous() and tt.tolist() == x.numpy().T.tolist()


def test_write_through_expanded_view():
    x = pt.zeros(3)
    e = x.expand(2, 3)
    e[0].add_(1)                      # one row of the expansion is x itself
    assert x.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor.*clone"):
        e.add_(1)


@pytest.mark.parametrize("device", ["cpu", "opencl"])
def test_expand_keeps_the_stride_of_a_size_one_dim_it_does_not_broadcast(device):
    # cpu gave every size-1 dim stride 0 (NumPy's broadcast_to): pt.zeros(2, 1).expand(2, -1)
    # had strides (1, 0) on cpu and (1, 1) on opencl; only new and broadcast dims get stride 0
    x = pt.tensor([[1], [2]], device=device)
    assert x.expand(2, -1).stride() == (1, 1)
    assert x.expand(3, 2, 1).stride() == (0, 1, 1)
    assert x.expand(2, 4).stride() == (1, 0)
    assert x.t().expand(4, 1, 2).stride() == (0, 1, 1)
    assert x.expand(3, 2, 4).tolist() == [[[1] * 4, [2] * 4]] * 3


def test_fill_and_zero_of_an_expanded_view_write_each_location_once():
    # every element gets the same value, so PyTorch allows fill_/zero_ here (add_ stays refused);
    # they used to raise "more than one element of the written-to tensor ..."
    a = pt.arange(6.0).reshape(3, 2)[:, :1]
    a.expand(3, 4).fill_(2)
    assert a.tolist() == [[2.0], [2.0], [2.0]] and a._version == 1
    b = pt.arange(6.0)
    b[1:4].expand(2, 3).zero_()
    assert b.tolist() == [0.0, 0.0, 0.0, 0.0, 4.0, 5.0]


def test_strides_and_contiguity():
    x = pt.zeros(2, 3, 4)
    assert x.stride() == (12, 4, 1) and x.is_contiguous()
    assert x.transpose(0, 2).stride() == (1, 4, 12) and not x.transpose(0, 2).is_contiguous()
    assert x[:, 1].storage_offset() == 4 and x[:, ::2].stride() == (12, 8, 1)
    assert x.expand(5, 2, 3, 4).stride() == (0, 12, 4, 1)


def test_reshape_copies_when_needed():
    x = pt.tensor(a(3, 4))
    y = x.t().reshape(12)
    assert y.tolist() == a(3, 4).T.reshape(-1).tolist()
    y[0] = 100
    assert x[0, 0].item() == 0  # a copy, since the transposed layout cannot be viewed flat
    z = x.reshape(12)
    z[0] = 100
    assert x[0, 0].item() == 100


def test_view_errors():
    with pytest.raises(RuntimeError, match=r"view size.*not compatible.*Use \.reshape\(\.\.\.\) instead"):
        pt.zeros(3, 4).t().view(12)
    with pytest.raises(RuntimeError, match=r"shape '\[5, 3\]' is invalid for input of size 12"):
        pt.zeros(3, 4).view(5, 3)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        pt.zeros(3, 4).reshape(-1, -1)
    with pytest.raises(RuntimeError, match=r"expanded size of the tensor \(3\) must match the existing size \(2\)"):
        pt.zeros(2).expand(3)
    with pytest.raises(RuntimeError, match="number of dims don't match in permute"):
        pt.zeros(2, 3).permute(0)
    with pytest.raises(RuntimeError, match="t\\(\\) expects a tensor with <= 2 dimensions"):
        pt.zeros(2, 3, 4).t()
    with pytest.raises(TypeError, match="size must be a sequence of ints"):
        pt.zeros(2, 3).view(2.0, 3)
    with pytest.raises(IndexError, match="Dimension out of range"):
        pt.zeros(2, 3).transpose(0, 3)
    with pytest.raises(RuntimeError, match=r"narrow\(\): start \(2\) \+ length \(5\) exceeds"):
        pt.zeros(4).narrow(0, 2, 5)


def test_cat_stack():
    x, y = pt.tensor(a(2, 3)), pt.tensor(a(1, 3) + 10)
    same(pt.cat([x, y]), np.concatenate([a(2, 3), a(1, 3) + 10]))
    same(pt.cat((x, x), dim=-1), np.concatenate([a(2, 3)] * 2, -1))
    same(pt.concat([x, pt.zeros(0)]), a(2, 3))             # legacy: 1-d empty tensors are skipped
    # ... but still promote, as in PyTorch (and np.concatenate): bool + an empty float64 is float64
    got = pt.cat([pt.tensor([True, False]), pt.zeros(0, dtype=pt.float64)])
    want = np.concatenate([np.array([True, False]), np.zeros(0)])
    assert got.dtype is pt.float64 and want.dtype == np.float64 and got.tolist() == want.tolist()
    assert pt.cat([x.to(pt.int8), pt.zeros(0, dtype=pt.float16)]).dtype is pt.float16
    assert pt.cat([x.int(), x.double()]).dtype is pt.float64
    same(pt.stack([x, x], 1), np.stack([a(2, 3)] * 2, 1))
    same(pt.stack([pt.tensor(1.0), pt.tensor(2.0)]), np.array([1.0, 2.0]))
    same(pt.cat([x.t(), x.t()], 1), np.concatenate([a(2, 3).T] * 2, 1))
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension 0"):
        pt.cat([x, pt.zeros(1, 4)])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        pt.stack([x, y])
    with pytest.raises(RuntimeError, match="zero-dimensional tensor"):
        pt.cat([pt.tensor(1.0)])
    with pytest.raises(TypeError, match="must be a tuple or list of Tensors"):
        pt.cat(x)
    with pytest.raises(ValueError, match="non-empty"):   # ValueError in torch 2.13
        pt.cat([])


def test_split_chunk_unbind():
    x = pt.tensor(a(5, 2))
    assert [t.shape[0] for t in x.split(2)] == [2, 2, 1]
    assert [t.shape[0] for t in pt.split(x, [1, 4])] == [1, 4]
    assert [t.shape[0] for t in x.chunk(3)] == [2, 2, 1]
    assert [t.shape[0] for t in pt.chunk(pt.zeros(6), 4)] == [2, 2, 2]
    same(x.unbind(1)[1], a(5, 2)[:, 1])
    assert len(pt.unbind(x)) == 5
    with pytest.raises(RuntimeError, match="split_with_sizes expects split_sizes to sum exactly to 5"):
        x.split([1, 1])
    parts = x.split(2)
    parts[0][0, 0] = 99
    assert x[0, 0].item() == 99  # split returns views


def test_flip_roll_repeat_tile():
    n = a(2, 3)
    x = pt.tensor(n)
    same(x.flip(0), n[::-1])
    same(pt.flip(x, (0, 1)), n[::-1, ::-1])
    same(x.roll(1, 1), np.roll(n, 1, 1))
    same(x.roll(-4), np.roll(n, -4))
    same(pt.roll(x, (1, 2), (0, 1)), np.roll(n, (1, 2), (0, 1)))
    same(x.repeat(2, 1, 2), np.tile(n, (2, 1, 2)))
    same(x.tile((2,)), np.tile(n, 2))
    same(x.t().flip(1), n.T[:, ::-1])
    with pytest.raises(RuntimeError, match="repeat dims can not be smaller"):
        x.repeat(2)


def test_tril_triu():
    n = a(3, 4)
    x = pt.tensor(n)
    same(x.tril(), np.tril(n))
    same(x.triu(1), np.triu(n, 1))
    same(pt.tril(x, -1), np.tril(n, -1))


def test_zero_dim_and_empty_shapes():
    s = pt.tensor(5.0)
    assert s.reshape(1, 1).shape == (1, 1) and s.reshape(1).reshape(()).shape == ()
    assert s.unsqueeze(0).shape == (1,) and s.flatten().shape == (1,) and s.t().shape == ()
    assert s.flip(0).item() == 5.0 and s.roll(1).item() == 5.0 and s.squeeze(0).shape == ()
    assert s.transpose(0, -1).shape == () and s.view(-1).shape == (1,)
    e = pt.zeros(0, 3)
    assert e.reshape(3, 0).shape == (3, 0) and e.t().shape == (3, 0) and e.flatten().shape == (0,)
    assert e.reshape(-1, 3).shape == (0, 3)
    with pytest.raises(RuntimeError, match="invalid for input of size 0"):
        e.reshape(-1, 0)
    assert pt.Size([2, 3]).numel() == 6 and repr(pt.Size([2, 3])) == "plugtorch.Size([2, 3])"


@pytest.mark.parametrize("view,ref", [
    (lambda x: x.t(), lambda n: n.T), (lambda x: x[:, ::2], lambda n: n[:, ::2]),
    (lambda x: x[1:, 1:3], lambda n: n[1:, 1:3]), (lambda x: x[2], lambda n: n[2]),
    (lambda x: x.diagonal(), lambda n: np.einsum("ii->i", n[:, :3])),
])
@pytest.mark.parametrize("op", ["add_", "mul_", "exp_", "clamp_", "copy_", "fill_"])
def test_in_place_through_non_contiguous_views(view, ref, op):
    n = a(3, 4).astype(np.float64)
    x = pt.tensor(n)
    v = view(x)
    args = {"add_": (2.0,), "mul_": (3.0,), "exp_": (), "clamp_": (2.0, 7.0),
            "copy_": (pt.tensor(-1.0),), "fill_": (5.0,)}[op]
    getattr(v, op)(*args)
    r = ref(n)                                    # a NumPy view into n
    f = {"add_": lambda r: r + 2, "mul_": lambda r: r * 3, "exp_": np.exp,
         "clamp_": lambda r: np.clip(r, 2, 7), "copy_": lambda r: r * 0 - 1, "fill_": lambda r: r * 0 + 5}[op]
    r[...] = f(r.copy())
    np.testing.assert_allclose(x.numpy(), n)
    assert v._version == x._version == 1


@pytest.mark.parametrize("method,args,shape", [
    ("t_", (), (3, 2)), ("transpose_", (0, 1), (3, 2)), ("swapaxes_", (0, 1), (3, 2)), ("swapdims_", (1, 0), (3, 2)),
    ("unsqueeze_", (1,), (2, 1, 3)), ("squeeze_", (), (2, 3)),
])
def test_shape_changing_in_place_methods(method, args, shape):
    n = a(2, 3)
    x = pt.tensor(n)
    assert getattr(x, method)(*args) is x
    assert x.shape == shape
    want = {"t_": n.T, "transpose_": n.T, "swapaxes_": n.T, "swapdims_": n.T,
            "unsqueeze_": n[:, None], "squeeze_": n}[method]
    assert x.tolist() == want.tolist()
    base = pt.tensor(n)
    v = base[:]
    getattr(v, method)(*args)
    v.mul_(0) if v.ndim else None
    assert base.sum().item() == 0                # still a view of its base
    with pytest.raises(RuntimeError, match=r"requires grad in place is not supported"):
        getattr(pt.ones(2, 3, requires_grad=True), method)(*args)


@pytest.mark.parametrize("dev", ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))])
@pytest.mark.parametrize("view,np_view,offset,d1,d2", [
    (lambda x: x, lambda n: n, 0, 2, 0),                           # dims in reverse order
    (lambda x: x, lambda n: n, -1, -1, 1),
    (lambda x: x[:, :, ::2], lambda n: n[:, :, ::2], 1, 1, 2),     # a strided matrix
    (lambda x: x.permute(1, 2, 0), lambda n: n.transpose(1, 2, 0), 0, 0, 2),
    (lambda x: x[1:, 1:3], lambda n: n[1:, 1:3], 0, 0, 1),
])
def test_diagonal_is_always_a_view(dev, view, np_view, offset, d1, d2):
    # the diagonal of a matrix that does not flatten without a copy (x.diagonal(0, 2, 0), a
    # diagonal of x[:, ::2]) was a gathered copy: writes into it were lost; PyTorch's is a view
    n = np.arange(2 * 3 * 6, dtype=np.float64).reshape(2, 3, 6)
    x = pt.tensor(n, device=dev)
    d = view(x).diagonal(offset, d1, d2)
    m = np.moveaxis(np_view(n), (d1, d2), (-2, -1))                # a NumPy view of the same matrices
    i = np.arange(d.shape[-1])
    r, c = i + max(0, -offset), i + max(0, offset)
    assert d.tolist() == m[..., r, c].tolist()
    d.mul_(-2.0)
    m[..., r, c] *= -2.0                                           # writes into n through the view
    assert x.tolist() == n.tolist()


def test_as_strided_and_diagonal_views_of_column_major_numpy_memory():
    # as_strided refused a tensor over a Fortran-ordered NumPy array ("not one dense block"),
    # which a diagonal of a non-flattening view of it now needs; strides count memory order
    n = np.asfortranarray(np.arange(24.0).reshape(2, 3, 4))
    x = pt.from_numpy(n)
    assert x.stride() == (1, 2, 6)
    assert x[1:].as_strided((3,), (2,), x[1:].storage_offset()).tolist() == n.ravel(order="K")[1:6:2].tolist()
    d = x.diagonal(0, 0, 2)
    assert d.tolist() == np.diagonal(n, 0, 0, 2).tolist()
    d.fill_(-1.0)
    assert n[0, :, 0].tolist() == [-1.0] * 3 and n[1, :, 1].tolist() == [-1.0] * 3


@pytest.mark.parametrize("device", ["cpu", "opencl"])
def test_diagonal_gradient_of_an_expanded_input(device):
    # diagonal's strided view is for inputs whose elements have memory of their own: as_strided's
    # gradient spreads over the elements an expanded tensor shares (cpu gave g / 3 here, PyTorch g)
    if device == "opencl":
        pytest.importorskip("pyopencl")
    x = pt.tensor([[1.0, 2.0, 3.0, 4.0]], device=device).expand(3, 4).detach().requires_grad_()
    x.diagonal().backward(pt.tensor([1.0, 2.0, 3.0], device=device))
    expected = np.zeros((3, 4), dtype=np.float32)
    expected[[0, 1, 2], [0, 1, 2]] = [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(x.grad.cpu().numpy(), expected)


def test_remembered_view_verdicts_are_keyed_by_strides():
    # reshape and view remember which (shape, strides, request) are views: a tensor of the same
    # shape with other strides must still be copied by reshape and refused by view
    rows = pt.tensor(a(4, 6))
    cols = pt.tensor(a(6, 4)).t()            # shape (4, 6), strides (1, 4)
    for _ in range(2):                        # the second round runs on the remembered verdicts
        flat = rows.reshape(24)
        assert flat.data_ptr() == rows.data_ptr()
        same(flat, a(4, 6).reshape(24))
        same(rows.view(2, 12), a(4, 6).reshape(2, 12))
        copied = cols.reshape(24)
        same(copied, a(6, 4).T.reshape(24))
        assert copied.is_contiguous()
        with pytest.raises(RuntimeError, match="view size"):
            cols.view(24)
    p = pt.nn.Parameter(pt.tensor(a(6)))      # a Parameter's views are remembered as a tensor's
    for _ in range(2):
        v = p.reshape(2, 3)
        same(v, a(6).reshape(2, 3))
        assert v.data_ptr() == p.data_ptr() and v.requires_grad
