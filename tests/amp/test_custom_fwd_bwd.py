"""plugtorch.amp.custom_fwd / custom_bwd on a custom autograd.Function, and the deprecated
plugtorch.cuda.amp spellings (FutureWarning) with `import plugtorch.cuda`."""
import importlib
import subprocess
import sys
import warnings

import numpy as np
import pytest

import plugtorch as pt


def _matmul_function(seen, fwd_kwargs, with_bwd=True):
    """A custom x @ w whose forward and backward record the autocast state and dtypes they see."""
    def bwd_deco(f):
        return pt.amp.custom_bwd(device_type="cpu")(f) if with_bwd else f

    class MatMul(pt.autograd.Function):
        @staticmethod
        @pt.amp.custom_fwd(device_type="cpu", **fwd_kwargs)
        def forward(ctx, x, w):
            ctx.save_for_backward(x, w)
            out = x @ w
            seen["fwd"] = (pt.is_autocast_enabled("cpu"), x.dtype, w.dtype, out.dtype)
            return out

        @staticmethod
        @bwd_deco
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            seen["bwd"] = (pt.is_autocast_enabled("cpu"), pt.get_autocast_dtype("cpu"), (g @ w.t()).dtype)
            return g @ w.t(), x.t() @ g
    return MatMul


def _inputs():
    rng = np.random.default_rng(0)
    xs, ws = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)
    return xs, ws, pt.tensor(xs, requires_grad=True), pt.tensor(ws, requires_grad=True)


def test_cast_inputs_casts_floating_inputs_and_runs_forward_without_autocast():
    seen = {}
    MatMul = _matmul_function(seen, {"cast_inputs": pt.float32})
    xs, ws, x, w = _inputs()
    with pt.autocast("cpu"):
        y = MatMul.apply(x.bfloat16(), w)
    assert seen["fwd"] == (False, pt.float32, pt.float32, pt.float32)
    assert y.dtype is pt.float32
    y.sum().backward()
    assert seen["bwd"] == (False, pt.bfloat16, pt.float32)     # the forward ran without autocast
    xb = x.detach().bfloat16().float().numpy()
    np.testing.assert_allclose(w.grad.numpy(), xb.T @ np.ones((3, 2), np.float32), rtol=1e-6)


def test_cast_inputs_does_nothing_outside_autocast():
    seen = {}
    MatMul = _matmul_function(seen, {"cast_inputs": pt.float32})
    _, _, x, w = _inputs()
    y = MatMul.apply(x.double(), w.double())
    assert seen["fwd"] == (False, pt.float64, pt.float64, pt.float64) and y.dtype is pt.float64


def test_without_cast_inputs_forward_runs_under_autocast_and_backward_in_that_state():
    seen = {}
    MatMul = _matmul_function(seen, {})
    xs, ws, x, w = _inputs()
    with pt.autocast("cpu"):
        y = MatMul.apply(x, w)
    assert seen["fwd"] == (True, pt.float32, pt.float32, pt.bfloat16) and y.dtype is pt.bfloat16
    y.float().sum().backward()           # called outside autocast: custom_bwd re-enters it
    assert seen["bwd"] == (True, pt.bfloat16, pt.bfloat16)
    assert pt.is_autocast_enabled("cpu") is False
    np.testing.assert_allclose(x.grad.float().numpy(), np.ones((3, 2)) @ ws.T, rtol=2e-2, atol=2e-2)


def test_backward_without_custom_bwd_runs_outside_autocast():
    # the same Function without custom_bwd: its backward multiplies the bfloat16 gradient by the
    # float32 weight with autocast off, which fails as it does in PyTorch
    seen = {}
    MatMul = _matmul_function(seen, {}, with_bwd=False)
    _, _, x, w = _inputs()
    with pt.autocast("cpu"):
        y = MatMul.apply(x, w)
    with pytest.raises(RuntimeError, match="matmul.*same dtype.*bfloat16 and plugtorch.float32"):
        y.float().sum().backward()


def test_custom_bwd_follows_the_forwards_autocast_dtype():
    seen = {}
    MatMul = _matmul_function(seen, {})
    _, _, x, w = _inputs()
    with pt.autocast("cpu", dtype=pt.float16):
        y = MatMul.apply(x, w)
    assert y.dtype is pt.float16
    y.float().sum().backward()
    assert seen["bwd"] == (True, pt.float16, pt.float16)


def test_cast_reaches_nested_arguments_and_skips_float64_and_ints():
    got = {}

    class F(pt.autograd.Function):
        @staticmethod
        @pt.amp.custom_fwd(device_type="cpu", cast_inputs=pt.bfloat16)
        def forward(ctx, xs, d, n):
            got.update(list=[t.dtype for t in xs], dict={k: v.dtype for k, v in d.items()}, n=n)
            return xs[0] * 1

        @staticmethod
        def backward(ctx, g):
            return None, None, None
    with pt.autocast("cpu"):
        F.apply([pt.ones(1), pt.ones(1, dtype=pt.float64), pt.ones(1, dtype=pt.int64)],
                {"a": pt.ones(1, dtype=pt.float16)}, 3)
    assert got == {"list": [pt.bfloat16, pt.float64, pt.int64], "dict": {"a": pt.bfloat16}, "n": 3}


def test_device_type_is_required_and_must_be_a_string():
    with pytest.raises(TypeError, match="device_type"):
        pt.amp.custom_fwd(lambda ctx: 0)
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        pt.amp.custom_fwd(device_type=pt.device("cpu"))
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        pt.amp.custom_bwd(lambda ctx: 0, device_type=0)


def test_import_plugtorch_cuda_is_the_cuda_namespace():
    import plugtorch.cuda as cuda
    assert cuda is pt.cuda and cuda.is_available is pt.cuda.is_available
    from plugtorch.cuda.amp import GradScaler, autocast, custom_bwd, custom_fwd  # noqa: F401
    assert pt.cuda.amp is importlib.import_module("plugtorch.cuda.amp")
    assert pt.cuda.amp.amp_definitely_not_available() is (not pt.cuda.is_available())


def test_plugtorch_cuda_amp_loads_on_first_use_without_cupy():
    code = ("import sys, plugtorch; a = plugtorch.cuda.amp; import plugtorch.cuda; "
            "print(a.__name__, plugtorch.cuda is sys.modules['plugtorch.cuda'], 'cupy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["plugtorch.cuda.amp", "True", "False"]


def test_cuda_amp_spellings_warn_and_are_the_amp_ones():
    from plugtorch.cuda import amp as camp
    with pytest.warns(FutureWarning, match=r"`plugtorch.cuda.amp.custom_fwd\(args...\)` is deprecated"):
        fwd = camp.custom_fwd(cast_inputs=pt.float32)
    with pytest.warns(FutureWarning, match=r"`plugtorch.cuda.amp.custom_bwd\(args...\)` is deprecated"):
        bwd = camp.custom_bwd(lambda ctx, g: g)
    assert callable(fwd) and callable(bwd)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ac = camp.autocast()
        gs = camp.GradScaler()
    cats = [(x.category, str(x.message)) for x in w]
    assert (FutureWarning, "`plugtorch.cuda.amp.autocast(args...)` is deprecated. Please use "
            "`plugtorch.amp.autocast('cuda', args...)` instead.") in cats
    assert any(c is FutureWarning and m.startswith("`plugtorch.cuda.amp.GradScaler(args...)` is deprecated")
               for c, m in cats)
    assert isinstance(ac, pt.amp.autocast) and ac.device == "cuda" and ac.fast_dtype is pt.float16
    assert isinstance(gs, pt.amp.GradScaler) and gs._device == "cuda"
    if not pt.cuda.is_available():       # (as PyTorch: autocast and the scaler turn themselves off)
        assert ac._enabled is False and gs.is_enabled() is False
