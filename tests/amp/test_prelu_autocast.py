"""prelu is on both of PyTorch's lower-precision autocast lists: under ``autocast`` a float32 input
and weight run in bfloat16 on cpu (torch 2.13: ``F.prelu(x, w).dtype`` is bfloat16 in
``torch.autocast("cpu")``, for float32 or bfloat16 ``x``) and float16 on opencl (the CUDA list).
Values against a float64 NumPy reference of the rounded operands, rounded to the dtype."""
import ml_dtypes
import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F

CASES = [("cpu", pt.bfloat16), pytest.param("opencl", pt.float16, marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]
_NP = {pt.bfloat16: ml_dtypes.bfloat16, pt.float16: np.float16}


def _round(a, dtype):
    return np.asarray(a, np.float32).astype(_NP[dtype]).astype(np.float64)


@pytest.mark.parametrize("dev,dtype", CASES)
def test_prelu_runs_in_the_autocast_dtype(dev, dtype):
    rng = np.random.default_rng(0)
    xn, wn = rng.standard_normal((2, 3, 4)).astype(np.float32), np.array([0.3, -0.7, 1.3], np.float32)
    m = pt.nn.PReLU(3).to(dev)
    with pt.no_grad():
        m.weight.copy_(pt.tensor(wn))
    x = pt.tensor(xn).to(dev)
    xr, wr = _round(xn, dtype), _round(wn, dtype).reshape(1, 3, 1)
    ref = np.where(xr > 0, xr, wr * xr).astype(np.float32).astype(_NP[dtype]).astype(np.float64)
    with pt.autocast(dev):
        y = F.prelu(x, m.weight)
        y2 = m(x.to(dtype))
    for out in (y, y2):
        assert out.dtype is dtype
        np.testing.assert_array_equal(out.detach().float().cpu().numpy(), ref)
    y2.float().sum().backward()                    # the float32 weight gets a float32 gradient
    assert m.weight.grad.dtype is pt.float32
    np.testing.assert_allclose(m.weight.grad.cpu().numpy(), np.where(xr > 0, 0, xr).sum((0, 2)),
                               rtol=2 * np.finfo(_NP[dtype]).eps)


def test_prelu_outside_autocast_keeps_float32():
    x = pt.tensor([[-2.0, 3.0]])
    y = F.prelu(x, pt.tensor([0.25]))
    assert y.dtype is pt.float32 and y.tolist() == [[-0.5, 3.0]]
