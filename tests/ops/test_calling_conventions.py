"""PyTorch's calling conventions work: varargs dims and sizes, tuples, lists, Size, keyword
names (including NumPy's ``axis=``/``keepdims=``, which PyTorch accepts wherever an op has
``dim``/``keepdim``), and empty or 0-d inputs where PyTorch returns a result.

Each row is ``(description, call, NumPy reference)``: the call gets the tensor ``x`` (shape
(2, 3, 4), on the device under test) and the reference gets the same values as an array. The
calls and their results were checked against torch 2.13.
"""
import numpy as np
import pytest

import plugtorch as pt

DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]

# distinct values (no ties, so argmax and sort have one answer) of both signs
A = ((np.arange(24, dtype=np.float32) * 0.37 + 0.1) % 2.3 - 1.0).reshape(2, 3, 4)


def _first(r):
    return r[0] if isinstance(r, tuple) else r


CALLS = [
    # dims as varargs, a tuple, a list or a keyword
    ("flip varargs", lambda x: x.flip(0, 1), lambda a: np.flip(a, (0, 1))),
    ("flip tuple", lambda x: x.flip((0, 2)), lambda a: np.flip(a, (0, 2))),
    ("flip dims=", lambda x: x.flip(dims=[1]), lambda a: np.flip(a, 1)),
    ("permute varargs", lambda x: x.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
    ("permute list", lambda x: x.permute([2, 0, 1]), lambda a: a.transpose(2, 0, 1)),
    ("permute dims=", lambda x: x.permute(dims=(2, 0, 1)), lambda a: a.transpose(2, 0, 1)),
    ("pt.permute dims=", lambda x: pt.permute(x, dims=(1, 0, 2)), lambda a: a.transpose(1, 0, 2)),
    ("squeeze varargs", lambda x: x[:1, :, :1].squeeze(0, 2), lambda a: a[:1, :, :1].squeeze((0, 2))),
    ("squeeze tuple", lambda x: x[:1, :, :1].squeeze((0, 2)), lambda a: a[:1, :, :1].squeeze((0, 2))),
    ("squeeze dim=", lambda x: x[:1].squeeze(dim=0), lambda a: a[0]),
    ("swapaxes axis0=", lambda x: pt.swapaxes(x, axis0=0, axis1=2), lambda a: np.swapaxes(a, 0, 2)),
    ("swapdims dim0=", lambda x: pt.swapdims(x, dim0=1, dim1=2), lambda a: np.swapaxes(a, 1, 2)),
    ("movedim 0-d", lambda x: x[0, 0, 0].movedim(0, 0), lambda a: a[0, 0, 0]),
    ("roll shifts without dims", lambda x: x.roll((1,), ()), lambda a: np.roll(a, 1)),
    # sizes as varargs, a tuple, a Size or a keyword
    ("view size=", lambda x: x.view(size=(4, 6)), lambda a: a.reshape(4, 6)),
    ("view Size", lambda x: x.view(pt.Size([6, 4])), lambda a: a.reshape(6, 4)),
    ("reshape shape=", lambda x: x.reshape(shape=(4, -1)), lambda a: a.reshape(4, -1)),
    ("pt.reshape shape=", lambda x: pt.reshape(x, shape=(-1,)), lambda a: a.reshape(-1)),
    ("expand size=", lambda x: x[:, :1].expand(size=(2, 5, 4)), lambda a: np.broadcast_to(a[:, :1], (2, 5, 4))),
    ("repeat repeats=", lambda x: x.repeat(repeats=(1, 2, 1)), lambda a: np.tile(a, (1, 2, 1))),
    ("tile int", lambda x: x.tile(2), lambda a: np.tile(a, 2)),
    ("tile varargs", lambda x: x.tile(2, 1, 1, 1), lambda a: np.tile(a, (2, 1, 1, 1))),
    ("tile dims=", lambda x: x.tile(dims=(1, 2)), lambda a: np.tile(a, (1, 1, 2))),
    ("tile 0-d", lambda x: x[0, 0, 0].tile(3), lambda a: np.tile(a[0, 0, 0], 3)),
    ("broadcast_to varargs", lambda x: x[0, 0].broadcast_to(3, 4), lambda a: np.broadcast_to(a[0, 0], (3, 4))),
    ("broadcast_to size=", lambda x: x[0, 0].broadcast_to(size=(2, 4)), lambda a: np.broadcast_to(a[0, 0], (2, 4))),
    ("zeros size=", lambda x: pt.zeros(size=(2, 3), device=x.device), lambda a: np.zeros((2, 3))),
    ("ones size= list", lambda x: pt.ones(size=[3], device=x.device), lambda a: np.ones(3)),
    ("empty size=", lambda x: pt.empty(size=(2, 0), device=x.device), lambda a: np.empty((2, 0))),
    ("full_like fill_value=", lambda x: pt.full_like(x, fill_value=2.0), lambda a: np.full_like(a, 2.0)),
    ("arange end=", lambda x: pt.arange(end=5, device=x.device), lambda a: np.arange(5)),
    ("arange start= end=", lambda x: pt.arange(start=2, end=5, device=x.device), lambda a: np.arange(2, 5)),
    ("arange infinite step", lambda x: pt.arange(0, 10, float("inf"), device=x.device), lambda a: np.zeros(0)),
    # NumPy's axis= and keepdims=
    ("sum axis=", lambda x: x.sum(axis=1), lambda a: a.sum(1)),
    ("pt.sum axis= keepdims=", lambda x: pt.sum(x, axis=(0, 2), keepdims=True), lambda a: a.sum((0, 2), keepdims=True)),
    ("mean axis=", lambda x: x.mean(axis=(0, 1)), lambda a: a.mean((0, 1))),
    ("amax axis=", lambda x: x.amax(axis=0), lambda a: a.max(0)),
    ("std axis=", lambda x: x.std(axis=0, keepdims=True), lambda a: a.std(0, ddof=1, keepdims=True)),
    ("cumsum axis=", lambda x: x.cumsum(axis=2), lambda a: a.cumsum(2)),
    ("argmax axis=", lambda x: x.argmax(axis=1), lambda a: a.argmax(1)),
    ("max axis=", lambda x: x.max(axis=1).values, lambda a: a.max(1)),
    ("sort axis=", lambda x: pt.sort(x, axis=0).values, lambda a: np.sort(a, 0)),
    ("logsumexp axis=", lambda x: x.logsumexp(axis=2), lambda a: np.log(np.exp(a).sum(2))),
    ("cat axis=", lambda x: pt.cat([x, x], axis=1), lambda a: np.concatenate([a, a], 1)),
    ("concatenate axis=", lambda x: pt.concatenate([x, x], axis=2), lambda a: np.concatenate([a, a], 2)),
    ("stack axis=", lambda x: pt.stack([x, x], axis=1), lambda a: np.stack([a, a], 1)),
    ("unbind axis=", lambda x: x.unbind(axis=2)[1], lambda a: a[:, :, 1]),
    # other overloads and keyword names
    ("var(False)", lambda x: x.var(False), lambda a: a.var()),
    ("std(False)", lambda x: x.std(False), lambda a: a.std()),
    ("pt.var(x, False)", lambda x: pt.var(x, False), lambda a: a.var()),
    ("var_mean(False)", lambda x: pt.var_mean(x, False)[0], lambda a: a.var()),
    ("max other=", lambda x: pt.max(x, other=x.flip(0)), lambda a: np.maximum(a, np.flip(a, 0))),
    ("min other=", lambda x: pt.min(x, other=x.flip(2)), lambda a: np.minimum(a, np.flip(a, 2))),
    ("max dim of bool", lambda x: (x > 0).max(1).indices, lambda a: (a > 0).argmax(1)),
    ("pow exponent=", lambda x: pt.pow(x, exponent=2), lambda a: a ** 2),
    ("Tensor.pow exponent=", lambda x: x.pow(exponent=3), lambda a: a ** 3),
    ("dot tensor=", lambda x: pt.dot(x[0, 0], tensor=x[1, 0]), lambda a: np.dot(a[0, 0], a[1, 0])),
    ("split split_size=", lambda x: x.split(split_size=2, dim=2)[1], lambda a: a[:, :, 2:4]),
    ("pt.split split_size_or_sections=", lambda x: pt.split(x, split_size_or_sections=[1, 2], dim=1)[1],
     lambda a: a[:, 1:]),
    ("square of bool", lambda x: (x > 0).square(), lambda a: (a > 0).astype(np.int64)),
    # einsum's ellipsis
    ("einsum ...j->...", lambda x: pt.einsum("...j->...", x), lambda a: np.einsum("...j->...", a)),
    ("einsum ij...->ij sums the ellipsis", lambda x: pt.einsum("ij...->ij", x), lambda a: a.sum(2)),
    ("einsum implicit i...", lambda x: pt.einsum("i...", x), lambda a: np.einsum("i...", a)),
    ("einsum ...ij->...ji", lambda x: pt.einsum("...ij->...ji", x), lambda a: np.einsum("...ij->...ji", a)),
    ("einsum broadcast ellipsis", lambda x: pt.einsum("bij,...jk->bik", x, x[:1].mT),
     lambda a: np.einsum("bij,zjk->bik", a, a[:1].transpose(0, 2, 1))),   # NumPy wants the ... named
    ("einsum spaces", lambda x: pt.einsum("i j -> j", x[0]), lambda a: a[0].sum(0)),
    # functions PyTorch has
    ("tensor_split sections", lambda x: pt.tensor_split(x, 3, dim=2)[0], lambda a: np.array_split(a, 3, 2)[0]),
    ("tensor_split indices", lambda x: x.tensor_split([1, 3], dim=2)[1], lambda a: np.split(a, [1, 3], 2)[1]),
    ("tensor_split indices=", lambda x: x.tensor_split(indices=[1, 3], dim=2)[2], lambda a: np.split(a, [1, 3], 2)[2]),
    ("tensor_split tensor", lambda x: x.tensor_split(pt.tensor([2]), 1)[1], lambda a: a[:, 2:]),
    ("hsplit", lambda x: x.hsplit(3)[1], lambda a: np.hsplit(a, 3)[1]),
    ("vsplit", lambda x: x.vsplit([1])[1], lambda a: np.vsplit(a, [1])[1]),
    ("dsplit", lambda x: x.dsplit(2)[1], lambda a: np.dsplit(a, 2)[1]),
    ("fliplr", lambda x: x.fliplr(), lambda a: np.fliplr(a)),
    ("flipud", lambda x: pt.flipud(x), lambda a: np.flipud(a)),
    ("ravel", lambda x: x.mT.ravel(), lambda a: a.transpose(0, 2, 1).ravel()),
    ("msort", lambda x: x.msort(), lambda a: np.sort(a, 0)),
    ("row_stack", lambda x: pt.row_stack([x[0], x[1]]), lambda a: np.vstack([a[0], a[1]])),
    # empty and 0-d inputs where PyTorch returns a result
    ("argmax over a non-empty dim of an empty tensor", lambda x: x[:0].argmax(1), lambda a: a[:0].argmax(1)),
    ("argmin keepdim of an empty tensor", lambda x: x[:, :0].argmin(2, keepdim=True),
     lambda a: a[:, :0].argmin(2)[..., None]),
    ("max over a non-empty dim of an empty tensor", lambda x: x[:0].max(2).values, lambda a: a[:0].max(2)),
    ("max indices over a non-empty dim", lambda x: x[:, :0].max(2).indices, lambda a: a[:, :0].argmax(2)),
    ("min over a non-empty dim", lambda x: x[:0].min(1).values, lambda a: a[:0].min(1)),
    ("aminmax over a non-empty dim", lambda x: x[:0].aminmax(dim=2).max, lambda a: a[:0].max(2)),
    ("median of nothing is nan", lambda x: x[:0].median(), lambda a: np.float32(np.nan)),
    ("chunk of an empty dim", lambda x: len(x[:0].chunk(3)), lambda a: 3),
    ("chunk of an empty dim: the pieces", lambda x: x[:0].chunk(2)[1], lambda a: a[:0]),
    ("kthvalue of a 0-d tensor", lambda x: x[1, 2, 3].kthvalue(1).values, lambda a: a[1, 2, 3]),
    ("kthvalue index of a 0-d tensor", lambda x: x[1, 2, 3].kthvalue(1, 0).indices, lambda a: np.int64(0)),
    ("index_select of a 0-d tensor", lambda x: x[1, 2, 3].index_select(0, pt.tensor([0], device=x.device)),
     lambda a: a[1, 2, 3]),
]


def _check(got, want):
    want = np.asarray(want)
    if isinstance(got, int):
        assert got == want
        return
    assert tuple(got.shape) == want.shape, f"shape {tuple(got.shape)} != {want.shape}"
    kind = "b" if got.dtype is pt.bool else "f" if got.dtype.is_floating_point else "iu"
    assert want.dtype.kind in kind, f"dtype {got.dtype} is not of the reference's kind ({want.dtype})"
    np.testing.assert_allclose(got.cpu().numpy().astype(np.float64), want.astype(np.float64),
                               rtol=1e-5, atol=1e-5, equal_nan=True)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("desc,call,ref", CALLS, ids=[c[0] for c in CALLS])
def test_pytorch_calling_convention(device, desc, call, ref):
    x = pt.tensor(A, device=device)
    got = call(x)
    if isinstance(got, pt.Tensor):
        assert got.device == x.device
    _check(got, ref(A.copy()))


def test_split_is_the_method_torch_split_is_the_function():
    x = pt.tensor(A)
    assert [tuple(p.shape) for p in x.split(2, 2)] == [(2, 3, 2), (2, 3, 2)]
    with pytest.raises(TypeError, match="split\\(\\) got an unexpected keyword argument 'sections'"):
        x.split(sections=2)
    with pytest.raises(TypeError, match="both 'axis' and 'dim'"):
        x.sum(axis=0, dim=1)
    with pytest.raises(TypeError, match="view\\(\\) got an unexpected keyword argument 'shape'"):
        x.view(shape=(24,))
    with pytest.raises(TypeError, match="permute\\(\\) got an unexpected keyword argument 'dim'"):
        x.permute(dim=(0, 1, 2))
