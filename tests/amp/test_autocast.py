"""plugtorch.autocast: result dtypes, nesting, the decorator, the weight-cast cache, gradients and errors.

cpu follows PyTorch's CPU lists in bfloat16. The CUDA lists are checked on "accel", a backend
registered at run time with the Backend defaults (the CUDA list, float16) over NumPy arrays,
as a plug-in accelerator would be.
"""
import threading
import warnings

import ml_dtypes
import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F
from plugtorch.backends.base import Backend
from plugtorch.backends.cpu import CPUBackend


@pytest.fixture
def accel():
    class Accel(CPUBackend):
        name = "accel"
        autocast_list = Backend.autocast_list
        autocast_dtype = Backend.autocast_dtype
    pt.backends.register(Accel())
    try:
        yield pt.device("accel:0")
    finally:
        pt.backends.unregister("accel")


@pytest.fixture
def casts(monkeypatch):
    """Counts the _to_dtype kernel calls on cpu (each cast autocast makes is one)."""
    kernels = pt.backends.get_backend("cpu").kernels
    real = kernels["_to_dtype"]
    calls = []

    def counting(x, dtype):
        calls.append((x.shape, dtype))
        return real(x, dtype)
    monkeypatch.setitem(kernels, "_to_dtype", counting)
    return calls


def rand(*shape, dtype=pt.float32, device="cpu", seed=0):
    g = np.random.default_rng([seed, len(shape)])
    return pt.tensor(g.standard_normal(shape), dtype=dtype, device=device)


def bf16(a):
    """NumPy float32 values rounded to bfloat16 and back, as a cast to bfloat16 does."""
    return np.asarray(a, np.float32).astype(ml_dtypes.bfloat16).astype(np.float32)


# ---- result dtypes -------------------------------------------------------------------------
def test_cpu_list_dtypes_inside_and_outside():
    a, w, b = rand(4, 3), rand(5, 3, seed=1), rand(5, seed=2)
    x, k = rand(2, 1, 6, 6), rand(4, 1, 3, 3, seed=3)
    target = pt.tensor([0, 1, 2, 3])
    with pt.autocast("cpu"):
        assert pt.is_autocast_enabled("cpu") and not pt.is_autocast_enabled("cuda") and not pt.is_autocast_enabled()
        assert F.linear(a, w, b).dtype is pt.bfloat16
        assert (a @ w.t()).dtype is pt.mm(a, w.t()).dtype is pt.bfloat16
        assert F.conv2d(x, k, padding=1).dtype is pt.bfloat16
        y = F.linear(a, w, b)
        assert F.cross_entropy(y, target).dtype is pt.float32          # CPU list: float32
        assert F.softmax(y, 1).dtype is pt.bfloat16                     # unlisted on cpu: as its input
        assert y.exp().dtype is y.sum().dtype is pt.bfloat16
        assert pt.cat([y, a[:, :1].expand(4, 5)]).dtype is pt.float32   # promote to the widest
        assert pt.stack([y, y]).dtype is pt.bfloat16
        assert (y + a[:, :1]).dtype is pt.float32                       # add promotes by itself
    assert not pt.is_autocast_enabled("cpu")
    assert F.linear(a, w, b).dtype is pt.float32 and (a @ w.t()).dtype is pt.float32


def test_cuda_list_dtypes_on_a_plugin_accelerator(accel):
    assert pt.get_autocast_dtype("accel") is pt.float16
    a, b = rand(4, 4, device=accel), rand(4, 4, device=accel, seed=1)
    with pt.autocast("accel"):
        h = a @ b
        assert h.dtype is pt.float16
        for r in (F.softmax(h, 1), F.log_softmax(h, 1), h.exp(), h.log1p(), h.sum(), h.cumsum(0), h.pow(2), h ** 2,
                  2 ** h, 1 / h, h.rsqrt(), F.layer_norm(h, (4,)), h.norm(), pt.logsumexp(h, 1)):
            assert r.dtype is pt.float32
        assert h.sum(dtype=pt.float16).dtype is pt.float16             # an explicit dtype is obeyed
        assert F.softmax(h, 1, dtype=pt.float16).dtype is pt.float16
        assert pt.atan2(h, a).dtype is pt.float32 and pt.atan2(h, h).dtype is pt.float16
        assert pt.dot(h[0], a[0]).dtype is pt.float32
        idx = (pt.tensor([0, 2], device=accel),)
        assert a.index_put(idx, h[:2, :]).dtype is pt.float32        # promote: values widened to a's float32
        assert pt.cat([h, a]).dtype is pt.float32                       # unlisted on cuda: cat promotes itself
        assert h.mean().dtype is pt.float16      # mean decomposes into sum, but runs as PyTorch's: in float16
        # tensors of other device types are left alone
        c = rand(2, 2)
        assert (c @ c).dtype is pt.float32
    assert (a @ b).dtype is pt.float32


def test_only_float16_bfloat16_and_float32_are_cast():
    d = rand(3, 3, dtype=pt.float64)
    i = pt.arange(9).reshape(3, 3).int()
    with pt.autocast("cpu"):
        assert (d @ d).dtype is pt.float64
        assert (i @ i).dtype is pt.int32
        h = rand(3, 3, dtype=pt.float16)
        assert (h @ h).dtype is pt.bfloat16
        assert pt.cat([h.bfloat16(), rand(3, 3)]).dtype is pt.float32


def test_values_are_those_of_rounded_operands():
    a, w = rand(3, 8), rand(2, 8, seed=1)
    with pt.autocast("cpu"):
        y = F.linear(a, w)
    expected = bf16(bf16(a.numpy()) @ bf16(w.numpy()).T)
    np.testing.assert_array_equal(y.float().numpy(), expected)


def test_products_with_an_added_term_follow_pytorchs_lists():
    # cpu list: addmm, baddbmm, addbmm run in bfloat16 (every operand cast, the added term too);
    # mv, addmv and addr are not listed and keep float32 (mv ran in bfloat16 through its matmul)
    a, b, c, v = rand(3, 8), rand(8, 4, seed=1), rand(3, 4, seed=2), rand(8, seed=3)
    b1, b2 = rand(2, 3, 8, seed=4), rand(2, 8, 4, seed=5)
    with pt.autocast("cpu"):
        y = pt.addmm(c, a, b)
        assert y.dtype is pt.bfloat16
        assert pt.baddbmm(c, b1, b2).dtype is pt.addbmm(c, b1, b2).dtype is pt.bfloat16
        m = pt.mv(a, v)
        assert m.dtype is pt.float32 and pt.addmv(c[:, 0], a, v).dtype is pt.float32
        assert pt.addr(c, c[:, 0], v[:4]).dtype is pt.float32
    np.testing.assert_array_equal(y.float().numpy(), bf16(bf16(c.numpy()) + bf16(bf16(a.numpy()) @ bf16(b.numpy()))))
    exact = a.numpy().astype(np.float64) @ v.numpy().astype(np.float64)
    np.testing.assert_allclose(m.numpy(), exact, rtol=1e-6, atol=1e-6)      # bfloat16 would be ~1e-2 off
    assert np.abs(bf16(bf16(a.numpy()) @ bf16(v.numpy())) - exact).max() > 1e-3


def test_products_with_an_added_term_on_the_cuda_list(accel):
    a, b, c, v = (rand(3, 8, device=accel), rand(8, 4, seed=1, device=accel), rand(3, 4, seed=2, device=accel),
                  rand(8, seed=3, device=accel))
    with pt.autocast("accel"):
        for r in (pt.addmm(c, a, b), pt.mv(a, v), pt.addmv(c[:, 0], a, v), pt.addr(c, c[:, 0], v[:4]),
                  pt.baddbmm(c, a.expand(2, 3, 8), b.expand(2, 8, 4)), pt.addbmm(c, a.expand(2, 3, 8), b.expand(2, 8, 4))):
            assert r.dtype is pt.float16


# ---- nesting, disabling, the decorator, threads ------------------------------------------
def test_nested_and_disabled_contexts():
    a = rand(2, 2)
    with pt.autocast("cpu"):
        assert (a @ a).dtype is pt.bfloat16
        with pt.autocast("cpu", enabled=False):
            assert not pt.is_autocast_enabled("cpu")
            assert (a @ a).dtype is pt.float32
            with pt.autocast("cpu", dtype=pt.float16):
                assert pt.get_autocast_dtype("cpu") is pt.float16
                assert (a @ a).dtype is pt.float16
            assert (a @ a).dtype is pt.float32 and pt.get_autocast_dtype("cpu") is pt.bfloat16
        assert (a @ a).dtype is pt.bfloat16 and pt.is_autocast_enabled("cpu")
    assert (a @ a).dtype is pt.float32
    with pt.autocast("cpu", enabled=False):
        assert (a @ a).dtype is pt.float32
    assert pt.amp.autocast_mode._state.mode is None and pt.dispatch.dispatcher.active_modes() == []


def test_disabled_inside_another_mode_and_profiler_inside():
    a = rand(2, 2)
    with pt.autocast("cpu"):
        with pt.profiler.profile() as prof:
            y = a @ a
        assert y.dtype is pt.bfloat16 and prof.counts()["matmul"] == 1
    with pt.profiler.profile() as prof:
        with pt.autocast("cpu"):
            assert (a @ a).dtype is pt.bfloat16
    assert prof.counts()["matmul"] == 1


def test_casts_are_seen_by_the_modes_below_autocast():
    lin = pt.nn.Linear(4, 3)
    x = rand(2, 4)
    with pt.profiler.profile() as prof:      # entered first: below autocast
        with pt.autocast("cpu"):
            lin(x)
    assert prof.counts()["_to_dtype"] == 3 and prof.counts()["linear"] == 1

    def f(x):
        with pt.autocast("cpu"):
            return lin(x)
    traced = pt.jit.trace(f, (x,))
    assert [n.op.name for n in traced.graph.nodes if n.op.name in ("_to_dtype", "linear")] == \
        ["_to_dtype"] * 3 + ["linear"]
    y = traced(x)
    assert y.dtype is pt.bfloat16 and pt.equal(y, f(x))
    y.float().sum().backward()
    assert lin.weight.grad.dtype is pt.float32


def test_decorator_form():
    a = rand(3, 3)

    @pt.autocast("cpu")
    def f(x, depth=0):
        inner = f(x, depth + 1) if depth < 2 else None    # re-entrant: the same instance nests
        assert pt.is_autocast_enabled("cpu")
        return x @ x, inner

    y, inner = f(a)
    assert y.dtype is inner[0].dtype is pt.bfloat16 and not pt.is_autocast_enabled("cpu")

    @pt.amp.autocast("cpu")
    def fails(x):
        raise KeyError("inside")
    with pytest.raises(KeyError, match="inside"):
        fails(a)
    assert not pt.is_autocast_enabled("cpu") and pt.dispatch.dispatcher.active_modes() == []

    class M(pt.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = pt.nn.Linear(3, 2)

        @pt.autocast("cpu", dtype=pt.float16)
        def forward(self, x):
            return self.lin(x)
    assert M()(a).dtype is pt.float16


def test_state_is_per_thread():
    a = rand(2, 2)
    seen = {}

    def other():
        seen["enabled"] = pt.is_autocast_enabled("cpu")
        seen["dtype"] = (a @ a).dtype

    with pt.autocast("cpu"):
        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert (a @ a).dtype is pt.bfloat16
    assert seen == {"enabled": False, "dtype": pt.float32}


# ---- the weight-cast cache -----------------------------------------------------------------
def test_weight_casts_are_cached_for_the_outermost_context(casts):
    lin = pt.nn.Linear(4, 3)
    x = rand(2, 4)
    with pt.autocast("cpu"):
        ys = [lin(x) for _ in range(3)]
        assert len(casts) == 2 + 3          # weight and bias once, the input (no leaf) every call
        with pt.autocast("cpu"):            # a nested context keeps the cache
            lin(x)
        assert len(casts) == 2 + 4
    assert all(y.dtype is pt.bfloat16 for y in ys)
    with pt.autocast("cpu"):                # a new outermost context casts again
        lin(x)
    assert len(casts) == 2 + 4 + 3
    del casts[:]
    with pt.autocast("cpu", cache_enabled=False):
        for _ in range(3):
            lin(x)
    assert len(casts) == 3 * 3


def test_cache_skips_what_it_must(casts):
    lin = pt.nn.Linear(4, 3)
    x = rand(2, 4)
    with pt.autocast("cpu"):
        with pt.no_grad():
            lin(x)
        n = len(casts)
        y = lin(x)                          # casts made under no_grad are not reused with grad on
        assert len(casts) == n + 3
        y.float().sum().backward()
        assert lin.weight.grad is not None
        with pt.no_grad():
            lin.weight.add_(1.0)            # an updated weight is cast again (PyTorch would reuse the stale cast)
        n = len(casts)                      # (backward's own casts counted too)
        z = lin(x)
        assert len(casts) == n + 2          # the input and the weight; the bias is unchanged
        expected = bf16(bf16(x.numpy()) @ bf16(lin.weight.detach().numpy()).T + bf16(lin.bias.detach().numpy()))
        np.testing.assert_allclose(z.detach().float().numpy(), bf16(expected), rtol=1e-2)
        w = pt.randn(3, 4)                  # not a leaf that requires grad: never cached
        n = len(casts)
        F.linear(x, w)
        F.linear(x, w)
        assert len(casts) == n + 4


# ---- gradients -----------------------------------------------------------------------------
def test_gradients_reach_the_parameters_in_their_dtype():
    pt.manual_seed(0)
    model = pt.nn.Sequential(pt.nn.Conv2d(1, 2, 3, padding=1), pt.nn.ReLU(), pt.nn.Flatten(), pt.nn.Linear(32, 3))
    x = rand(2, 1, 4, 4)
    with pt.autocast("cpu"):
        out = model(x)
        loss = F.cross_entropy(out, pt.tensor([0, 2]))
    assert out.dtype is pt.bfloat16 and loss.dtype is pt.float32
    loss.backward()
    for p in model.parameters():
        assert p.grad.dtype is pt.float32 and p.grad.shape == p.shape
        assert bool(p.grad.isfinite().all()) and float(p.grad.abs().sum()) > 0


def test_gradient_values_are_the_rounded_products():
    x = rand(3, 5)
    w = pt.nn.Parameter(rand(2, 5, seed=1))
    with pt.autocast("cpu"):
        y = F.linear(x, w)
    y.float().sum().backward()
    # d sum(x w^T) / dw = ones(3, 2)^T @ bf16(x), computed in bfloat16 and cast back to float32
    expected = bf16(np.ones((2, 3), np.float32) @ bf16(x.numpy()))
    assert w.grad.dtype is pt.float32
    np.testing.assert_array_equal(w.grad.numpy(), expected)


# ---- errors --------------------------------------------------------------------------------
def test_errors():
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        pt.autocast(pt.device("cpu"))
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'nosuchdev'"):
        pt.autocast("nosuchdev")
    with pytest.raises(TypeError, match="dtype must be a plugtorch.dtype"):
        pt.autocast("cpu", dtype="bfloat16")
    with pytest.raises(TypeError, match="requires a callable, but got int"):
        pt.autocast("cpu")(3)
    with pytest.warns(UserWarning, match="CPU autocast, but the target dtype is not supported. Disabling"):
        ac = pt.autocast("cpu", dtype=pt.float32)
    a = rand(2, 2)
    with ac:
        assert not pt.is_autocast_enabled("cpu") and (a @ a).dtype is pt.float32
    assert pt.amp.is_autocast_available("cpu") and not pt.amp.is_autocast_available("nosuchdev")


def opencl_ok():
    try:
        return pt.opencl.is_available()
    except Exception:
        return False


@pytest.mark.skipif(not opencl_ok(), reason="plugtorch.opencl is unavailable (no OpenCL device or pyopencl)")
def test_opencl_follows_the_cuda_list():
    be = pt.backends.get_backend("opencl")
    assert be.autocast_list == "cuda" and pt.get_autocast_dtype("opencl") is pt.float16
    dtype = pt.float16 if pt.float16 in be.supported_dtypes(0) else pt.bfloat16
    if dtype is pt.bfloat16:
        with pytest.warns(UserWarning, match="does not support plugtorch.float16.*dtype=plugtorch.bfloat16 may work"):
            pt.autocast("opencl")
    a = rand(3, 3, device="opencl")
    with pt.autocast("opencl", dtype=dtype), warnings.catch_warnings():
        warnings.simplefilter("error")
        h = a @ a
        assert h.dtype is dtype and F.softmax(h, 1).dtype is pt.float32
    np.testing.assert_allclose(h.float().cpu().numpy(), (a.cpu() @ a.cpu()).numpy(), rtol=2e-2, atol=2e-2)
