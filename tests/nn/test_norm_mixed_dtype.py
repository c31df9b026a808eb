"""batch_norm, layer_norm, group_norm and instance_norm on float16/bfloat16 input with float32
weight, bias and running statistics (a bf16 model's usual parameters): the result keeps the input's
dtype, computed in float32, as PyTorch's (torch 2.13: ``F.layer_norm(x.bfloat16(), (4,), w, b)`` is
bfloat16 on cpu). Values against a float64 NumPy reference rounded to the dtype."""
import ml_dtypes
import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F

CASES = [("cpu", pt.bfloat16), ("cpu", pt.float16),
         pytest.param("opencl", pt.float16, marks=pytest.mark.skipif(
             not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]
_NP = {pt.bfloat16: ml_dtypes.bfloat16, pt.float16: np.float16}
_ULP = {pt.bfloat16: 2.0 ** -7, pt.float16: 2.0 ** -10}


def _inputs(shape, dtype, dev, seed=0):
    x = pt.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32)).to(dtype).to(dev)
    return x, x.float().cpu().numpy().astype(np.float64)


def _params(c, dev, seed=1):
    rng = np.random.default_rng(seed)
    w, b = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    return pt.tensor(w).to(dev), pt.tensor(b).to(dev), w.astype(np.float64), b.astype(np.float64)


def _check(y, ref, dtype):
    assert y.dtype is dtype
    want = ref.astype(_NP[dtype]).astype(np.float64)        # the exact result, rounded as the dtype
    got = y.detach().float().cpu().numpy().astype(np.float64)
    np.testing.assert_allclose(got, want, rtol=_ULP[dtype], atol=_ULP[dtype] * 1e-2)   # within one ulp


@pytest.mark.parametrize("dev,dtype", CASES)
def test_layer_norm_keeps_the_input_dtype(dev, dtype):
    x, xn = _inputs((3, 8), dtype, dev)
    w, b, wn, bn = _params(8, dev)
    m = xn.mean(-1, keepdims=True)
    ref = (xn - m) / np.sqrt(((xn - m) ** 2).mean(-1, keepdims=True) + 1e-5) * wn + bn
    _check(F.layer_norm(x, (8,), w, b), ref, dtype)
    _check(pt.nn.LayerNorm(8).to(dev)(x), (xn - m) / np.sqrt(((xn - m) ** 2).mean(-1, keepdims=True) + 1e-5),
           dtype)


@pytest.mark.parametrize("dev,dtype", CASES)
@pytest.mark.parametrize("training", [False, True])
def test_batch_norm_keeps_the_input_dtype(dev, dtype, training):
    x, xn = _inputs((4, 3, 5), dtype, dev)
    w, b, wn, bn = _params(3, dev)
    rm = pt.tensor([0.5, -1.0, 0.25]).to(dev)
    rv = pt.tensor([2.0, 0.5, 1.0]).to(dev)
    if training:
        mean, var = xn.mean((0, 2), keepdims=True), xn.var((0, 2), keepdims=True)
        new_rm = 0.9 * np.array([0.5, -1.0, 0.25]) + 0.1 * mean.reshape(3)
    else:
        mean, var = np.array([0.5, -1.0, 0.25]).reshape(1, 3, 1), np.array([2.0, 0.5, 1.0]).reshape(1, 3, 1)
    ref = (xn - mean) / np.sqrt(var + 1e-5) * wn.reshape(1, 3, 1) + bn.reshape(1, 3, 1)
    _check(F.batch_norm(x, rm, rv, w, b, training=training), ref, dtype)
    assert rm.dtype is rv.dtype is pt.float32           # running statistics keep their dtype
    if training:
        np.testing.assert_allclose(rm.cpu().numpy(), new_rm, rtol=1e-6)


@pytest.mark.parametrize("dev,dtype", CASES)
def test_group_norm_and_instance_norm_keep_the_input_dtype(dev, dtype):
    x, xn = _inputs((2, 4, 3), dtype, dev)
    w, b, wn, bn = _params(4, dev)
    g = xn.reshape(2, 2, 6)
    yg = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5)).reshape(2, 4, 3)
    _check(F.group_norm(x, 2, w, b), yg * wn.reshape(1, 4, 1) + bn.reshape(1, 4, 1), dtype)
    yi = (xn - xn.mean(-1, keepdims=True)) / np.sqrt(xn.var(-1, keepdims=True) + 1e-5)
    _check(F.instance_norm(x, weight=w, bias=b), yi * wn.reshape(1, 4, 1) + bn.reshape(1, 4, 1), dtype)


def test_float32_parameters_get_float32_gradients():
    x, _ = _inputs((3, 8), pt.bfloat16, "cpu")
    w, b, _, _ = _params(8, "cpu")
    w.requires_grad_(True)
    b.requires_grad_(True)
    F.layer_norm(x, (8,), w, b).float().sum().backward()
    assert w.grad.dtype is b.grad.dtype is pt.float32
    np.testing.assert_allclose(b.grad.numpy(), np.full(8, 3.0))
