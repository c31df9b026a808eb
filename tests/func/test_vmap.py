"""plugtorch.vmap against explicit loops: in_dims (ints, None, trees), out_dims, nesting,
chunk_size, empty batches, randomness, and torch's errors."""
from __future__ import annotations

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.func import vmap


def rand(*shape):
    return pt.tensor(np.random.default_rng(sum(shape)).standard_normal(shape))


def loop(f, n, *args):
    return [f(*[a(i) for a in args]) for i in range(n)]


def test_in_dims_ints_none_and_negative_against_a_loop():
    x, y, w = rand(4, 3), rand(3, 4), rand(3)
    out = vmap(lambda a, b, c: a * b + c, in_dims=(0, 1, None))(x, y, w)
    ref = np.stack([x.numpy()[i] * y.numpy()[:, i] + w.numpy() for i in range(4)])
    np.testing.assert_allclose(out.numpy(), ref)
    np.testing.assert_allclose(vmap(lambda a: a.sum(), in_dims=-1)(y).numpy(), y.numpy().sum(0))
    # an int in_dims maps every argument; keyword arguments are passed unmapped
    out = vmap(lambda a, b, scale=1.0: (a @ b) * scale)(rand(2, 3, 4), rand(2, 4, 5), scale=2.0)
    ref = 2.0 * np.einsum("bij,bjk->bik", rand(2, 3, 4).numpy(), rand(2, 4, 5).numpy())
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)
    # a function with data-dependent control flow is fine (one call per sample)
    f = lambda r: r * 2 if r.sum().item() > 0 else -r          # noqa: E731
    np.testing.assert_allclose(vmap(f)(x).numpy(), np.stack([f(x[i]).numpy() for i in range(4)]))


def test_tree_in_dims_and_out_dims():
    x, y = rand(2, 3), rand(3, 2)
    out = vmap(lambda d: d["a"] + d["b"][0], in_dims=({"a": 0, "b": [1]},))({"a": x, "b": [y]})
    np.testing.assert_allclose(out.numpy(), x.numpy() + y.numpy().T)
    out = vmap(lambda p: p[0] * p[1], in_dims=((0, None),))((x, rand(3)))   # a tuple argument, mapped in part
    np.testing.assert_allclose(out.numpy(), x.numpy() * rand(3).numpy())
    res = vmap(lambda a: {"s": a.sum(), "l": [a * 2, a]}, out_dims={"s": 0, "l": [1, 0]})(x)
    np.testing.assert_allclose(res["s"].numpy(), x.numpy().sum(1))
    np.testing.assert_allclose(res["l"][0].numpy(), 2 * x.numpy().T)
    np.testing.assert_allclose(res["l"][1].numpy(), x.numpy())
    a, b = vmap(lambda r: (r, r.sum()), out_dims=(1, 0))(x)
    np.testing.assert_allclose(a.numpy(), x.numpy().T)
    # out_dims=None for an output that does not depend on the sample returns it once
    out, c = vmap(lambda r: (r * 2, pt.ones(2)), out_dims=(0, None))(x)
    assert c.tolist() == [1.0, 1.0] and tuple(out.shape) == (2, 3)


def test_nested_vmap_chunk_size_and_empty_batch():
    a, v = rand(2, 3, 4), rand(4)
    out = vmap(vmap(pt.dot, in_dims=(0, None)), in_dims=(0, None))(a, v)
    np.testing.assert_allclose(out.numpy(), a.numpy() @ v.numpy(), rtol=1e-12)
    outer = vmap(vmap(lambda p, q: p * q, in_dims=(None, 0)), in_dims=(0, None))(rand(3), rand(4))
    np.testing.assert_allclose(outer.numpy(), np.outer(rand(3).numpy(), rand(4).numpy()), rtol=1e-12)
    for chunk in (1, 3, 100):
        np.testing.assert_allclose(vmap(lambda r: r.exp(), chunk_size=chunk)(a).numpy(), np.exp(a.numpy()))
    empty = vmap(lambda r: r.sum())(pt.ones(0, 2))
    assert tuple(empty.shape) == (0,)
    assert tuple(vmap(lambda r: r * 2, out_dims=1)(pt.ones(0, 2)).shape) == (2, 0)


def test_randomness_modes():
    x = pt.zeros(3, 4)
    with pytest.raises(RuntimeError) as info:
        vmap(lambda r: r + pt.randn(4))(x)
    assert str(info.value) == ("vmap: called random operation while in randomness error mode. Please either use the "
                               "'same' or 'different' randomness flags on vmap or perform the randomness operation out "
                               "of vmap")
    with pytest.raises(RuntimeError, match="randomness error mode"):
        vmap(lambda r: pt.nn.functional.dropout(r, 0.5))(x)
    pt.manual_seed(1)
    same = vmap(lambda r: r + pt.randn(4), randomness="same")(x)
    assert all(bool(pt.equal(same[i], same[0])) for i in range(3))
    pt.manual_seed(1)
    assert bool(pt.equal(same[0], pt.randn(4)))                # the numbers a single draw gives
    diff = vmap(lambda r: r + pt.rand(4), randomness="different")(x)
    assert not bool(pt.equal(diff[0], diff[1]))
    with pytest.raises(RuntimeError, match="Only allowed values for randomness are 'error', 'different', or 'same'. "
                                           "Got bad"):
        vmap(lambda r: r, randomness="bad")


def _raises(exc, msg, fn):
    with pytest.raises(exc) as info:
        fn()
    assert str(info.value) == msg, str(info.value)


def f2(a, b):
    return a + b


def test_errors_as_torch():
    x = pt.ones(2, 3)
    _raises(ValueError, "vmap(f2, in_dims=[0, 0], ...)(<inputs>): expected `in_dims` to be int or a (potentially "
                        "nested) tuple matching the structure of inputs, got: <class 'list'>.",
            lambda: vmap(f2, in_dims=[0, 0])(x, x))
    _raises(ValueError, "vmap(f2, in_dims=(0,), ...)(<inputs>): in_dims is not compatible with the structure of "
                        "`inputs`. in_dims has structure (*,) but inputs has structure (*, *).",
            lambda: vmap(f2, in_dims=(0,))(x, x))
    _raises(ValueError, "vmap: Expected all tensors to have the same size in the mapped dimension, got sizes [2, 3] "
                        "for the mapped dimension", lambda: vmap(f2)(x, pt.ones(3, 3)))
    _raises(ValueError, "vmap(f2, in_dims=(2, 0), ...)(<inputs>): Got in_dim=2 for some input, but that input is a "
                        "Tensor of dimensionality 2 so expected in_dim to satisfy -2 <= in_dim < 2.",
            lambda: vmap(f2, in_dims=(2, 0))(x, x))
    _raises(ValueError, "vmap(f2, in_dims=0, ...)(<inputs>): Got in_dim=0 for an input but the input is of type "
                        "<class 'int'>. We cannot vmap over non-Tensor arguments, please use None as the respective "
                        "in_dim", lambda: vmap(f2)(x, 2))
    _raises(ValueError, "vmap(f2, in_dims=(0.5, 0), ...)(<inputs>): Got in_dim=0.5 for an input but in_dim must be "
                        "either an integer dimension or None.", lambda: vmap(f2, in_dims=(0.5, 0))(x, x))
    _raises(ValueError, "vmap: Expected at least one Tensor to vmap over",
            lambda: vmap(f2, in_dims=(None, None))(x, x))
    _raises(ValueError, "vmap(f2)(<inputs>): got no inputs. Maybe you forgot to add inputs, or you are trying to vmap "
                        "over a function with no inputs. The latter is unsupported.", lambda: vmap(f2)())
    _raises(ValueError, "vmap(<lambda>, ...): `<lambda>` must only return Tensors, got type <class 'int'>. Did you "
                        "mean to set out_dims= to None for output?", lambda: vmap(lambda a: 3)(x))
    _raises(ValueError, "vmap(<lambda>, ..., out_dims=(0, 0, 0))(<inputs>): out_dims is not compatible with the "
                        "structure of `outputs`. out_dims has structure (*, *, *) but outputs has structure (*, *).",
            lambda: vmap(lambda a: (a, a), out_dims=(0, 0, 0))(x))
    _raises(ValueError, "vmap(<lambda>, ...): `<lambda>` can not return a BatchedTensor when out_dim is None",
            lambda: vmap(lambda a: a * 1, out_dims=None)(x))
    _raises(ValueError, "vmap(<lambda>, ...): `<lambda>` can not return a BatchedTensor when out_dim is None",
            lambda: vmap(lambda a: pt.tensor(a.numpy()), out_dims=None)(rand(2, 3)))   # unseen by the tracker
    _raises(ValueError, "vmap(<lambda>, ..., out_dims=0.5): `out_dims` must be an int, None or a python collection "
                        "of ints representing where in the outputs the vmapped dimension should appear.",
            lambda: vmap(lambda a: a, out_dims=0.5)(x))
    _raises(ValueError, "vmap: chunk_size should be None or greater than 0. (got 0)", lambda: vmap(f2, chunk_size=0))
    with pytest.raises(IndexError, match="Dimension out of range"):
        vmap(lambda a: a, out_dims=2)(x)


def test_top_level_names():
    assert pt.vmap is vmap and pt.func.vmap is vmap


def test_pointwise_op_batched_path_equals_the_loop():
    """vmap(pt.mul) batches without a loop; the same call through a lambda loops: equal results,
    dtype, and gradients, for unmapped arguments of higher rank and every out_dim."""
    from plugtorch.func._vmap import _batchable
    x, w, s = rand(4, 3), rand(2, 3), rand(4)
    assert _batchable(pt.mul, [x, w], 2, {}, 0) and not _batchable(pt.mul, [x, w.float()], 2, {}, 0)
    assert not _batchable(lambda a, b: a * b, [x, w], 2, {}, 0)
    cases = [(pt.mul, (x, w), (0, None), 0), (pt.mul, (x, w), (0, None), -1), (pt.atan2, (x.T, x), (1, 0), 1),
             (pt.mul, (s, w), (0, None), 0), (pt.sin, (x,), 0, 1), (pt.pow, (x, 2.0), (0, None), 0)]
    for f, args, in_dims, out_dims in cases:
        fast = vmap(f, in_dims=in_dims, out_dims=out_dims)(*args)
        slow = vmap(lambda *a: f(*a), in_dims=in_dims, out_dims=out_dims)(*args)
        assert fast.dtype == slow.dtype and fast.shape == slow.shape
        np.testing.assert_array_equal(fast.numpy(), slow.numpy())
    lo = pt.tensor(np.array([[0.0] * 3, [-5.0] * 3]))     # an unmapped keyword tensor of higher rank
    fast, slow = vmap(pt.clamp)(x[:2], min=lo), vmap(lambda u, min: pt.clamp(u, min=min))(x[:2], min=lo)
    assert tuple(fast.shape) == (2, 2, 3)
    np.testing.assert_array_equal(fast.numpy(), slow.numpy())
    xg = x.clone().requires_grad_()
    vmap(pt.mul, in_dims=(0, None), out_dims=1)(xg, w).sum().backward()
    np.testing.assert_allclose(xg.grad.numpy(), np.broadcast_to(w.numpy().sum(0), (4, 3)))


def test_batched_path_equals_the_loop_for_every_pointwise_op_sample():
    """Every pointwise op with a gradcheck sample (tests/autograd/op_samples.py), batched by 3:
    vmap(op) (batched path) and vmap(lambda: op) (loop) give the same bits, shapes and dtypes."""
    from plugtorch.dispatch.registry import OPS
    from plugtorch.func._vmap import _batchable
    from tests.autograd.op_samples import SAMPLES
    checked, bad = 0, []
    for name in sorted(n for n in SAMPLES if "pointwise" in OPS[n].tags):
        s = SAMPLES[name](np.random.default_rng(0))
        if s.call is not None:
            continue
        f = getattr(pt.ops, name)
        args = [pt.stack([a.detach() * (1 + 0.05 * k) if a.is_floating_point() else a for k in range(3)])
                if isinstance(a, pt.Tensor) else a for a in s.args]
        in_dims = tuple(0 if isinstance(a, pt.Tensor) else None for a in args)
        if not _batchable(f, args, len(args), s.kwargs, 0):
            continue
        fast = vmap(f, in_dims=in_dims)(*args, **s.kwargs)
        slow = vmap(lambda *a, **k: f(*a, **k), in_dims=in_dims)(*args, **s.kwargs)
        if fast.shape != slow.shape or fast.dtype != slow.dtype or \
                not np.array_equal(fast.detach().numpy(), slow.detach().numpy(), equal_nan=True):
            bad.append(name)
        checked += 1
    assert checked > 60 and not bad, bad


def test_transforms_of_a_pointwise_op_are_not_batched_as_the_op():
    # functools.wraps copies the op's _op onto grad(pt.sin) and vmap(pt.mul): the batched path
    # took them for the op itself. vmap(grad(pt.sin)) raised (grad of a 1-d output), vmap(jacrev(pt.sin))
    # gave the whole batch's 3x3 jacobian, and the nested vmap stacked (3, 4, 3, 2) for torch's (4, 3, 3, 2)
    from plugtorch.func import grad, jacrev
    x = np.array([0.1, 0.5, 1.0])
    np.testing.assert_allclose(vmap(grad(pt.sin))(pt.tensor(x)).numpy(), np.cos(x), rtol=1e-15)
    np.testing.assert_allclose(vmap(jacrev(pt.exp))(pt.tensor(x)).numpy(), np.exp(x), rtol=1e-15)
    y, z = rand(3, 2), rand(4, 3, 2)
    out = vmap(vmap(pt.mul, in_dims=(0, None)), in_dims=(None, 0))(y, z)
    assert tuple(out.shape) == (4, 3, 3, 2)
    np.testing.assert_array_equal(out.numpy(), y.numpy()[None, :, None, :] * z.numpy()[:, None, :, :])


def test_inplace_write_of_a_batched_value_into_an_unmapped_tensor_raises_and_leaves_it():
    # the loop would add every row into u in turn (u ends as x.sum(0), every output row the same);
    # torch's vmap refuses the write, as u has no per-sample copy
    x = rand(3, 4)
    for f in (lambda a, b: b.add_(a), lambda a, b: b.copy_(a), lambda a, b: b.__setitem__(0, a[0])):
        u = pt.zeros(4)
        with pytest.raises(RuntimeError, match=r"in-place copy_ writes a value that depends on the mapped inputs"):
            vmap(f, in_dims=(0, None))(x, u)
        assert u.tolist() == [0.0] * 4
    buf = pt.zeros(4)   # a closure's tensor
    with pytest.raises(RuntimeError, match="not mapped over"):
        vmap(lambda a: buf.mul_(a))(x)


def test_batchnorm_in_training_under_vmap_raises_instead_of_updating_running_stats_per_sample():
    bn = pt.nn.BatchNorm1d(3)
    params, buffers = dict(bn.named_parameters()), dict(bn.named_buffers())
    with pytest.raises(RuntimeError, match="track_running_stats=False"):
        vmap(lambda xx: pt.func.functional_call(bn, (params, buffers), (xx,)))(rand(2, 4, 3))
    assert bn.running_mean.tolist() == [0.0, 0.0, 0.0]
    # without running stats it is per-sample batch norm: (x - mean) / sqrt(var + eps) over each sample
    pt.func.replace_all_batch_norm_modules_(bn)
    x = rand(2, 4, 3)
    out = vmap(lambda xx: pt.func.functional_call(bn, dict(bn.named_parameters()), (xx,)))(x)
    xn = x.numpy()
    ref = (xn - xn.mean(1, keepdims=True)) / np.sqrt(xn.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-5, atol=1e-5)


def test_inplace_write_into_an_outside_tensor_repeated_per_sample_raises():
    # torch's vmap adds 1 into u once (outputs x + 1, u == 1); the loop would add it batch-size
    # times (outputs x + 1, x + 2, x + 3 and u == 3)
    x, u = rand(3, 4), pt.zeros(4)
    with pytest.raises(RuntimeError, match="once per sample"):
        vmap(lambda a, b: a + b.add_(1.0), in_dims=(0, None))(x, u)


def test_inplace_on_the_samples_own_tensors_still_works():
    x = rand(3, 4)
    # on the mapped input (a view of x), on a temporary of it, on a tensor made inside, through detach
    np.testing.assert_allclose(vmap(lambda a: (a * 2).add_(1))(x).numpy(), x.numpy() * 2 + 1, rtol=1e-6)
    np.testing.assert_allclose(vmap(lambda a: pt.zeros(4).add_(a))(x).numpy(), x.numpy())
    np.testing.assert_allclose(vmap(lambda a: a.detach().clone().mul_(3))(x).numpy(), x.numpy() * 3, rtol=1e-6)

    def write_made(a):
        t = pt.tensor([0.0, 0.0])
        t[0] = 5.0
        return t + a[:2]
    np.testing.assert_allclose(vmap(write_made)(x).numpy(), x.numpy()[:, :2] + [5.0, 0.0], rtol=1e-6)
    c = x.clone()
    vmap(lambda a: a.mul_(2))(c)
    np.testing.assert_allclose(c.numpy(), x.numpy() * 2, rtol=1e-6)
