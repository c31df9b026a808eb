"""trace is on PyTorch's CPU autocast float32 list (torch 2.13: ``torch.trace(x.bfloat16()).dtype``
is float32 in ``torch.autocast("cpu")``); the CUDA list, which opencl follows, leaves it to its
input's dtype. Values against a float64 NumPy reference rounded to the result's dtype."""
import numpy as np
import pytest

import plugtorch as pt

CASES = [("cpu", pt.bfloat16, pt.float32), pytest.param("opencl", pt.float16, pt.float16, marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]


@pytest.mark.parametrize("dev,dtype,want", CASES)
def test_trace_follows_the_device_types_list(dev, dtype, want):
    x = pt.tensor(np.random.default_rng(0).standard_normal((5, 5)).astype(np.float32)).to(dtype).to(dev)
    ref = np.trace(x.float().cpu().numpy().astype(np.float64))
    np_want = np.float32 if want is pt.float32 else np.float16
    with pt.autocast(dev):
        ys = (pt.trace(x), x.trace())
    for y in ys:
        assert y.dtype is want
        # float32: one rounding of the exact sum; float16: five adds in float16
        tol = np.finfo(np.float32).eps * abs(ref) if want is pt.float32 else 5 * np.finfo(np.float16).eps * 4
        assert abs(y.item() - float(np.asarray(ref).astype(np_want))) <= tol
    assert pt.trace(x).dtype is dtype                     # outside autocast: the input's dtype


def test_trace_errors_and_integers():
    assert pt.trace(pt.tensor([[1, 2], [3, 4]])).dtype is pt.int64 and pt.trace(pt.tensor([[1, 2], [3, 4]])).item() == 5
    with pytest.raises(RuntimeError, match=r"trace\(\): expected a matrix, but got tensor with dim 1"):
        pt.trace(pt.ones(3))
    with pytest.raises(TypeError, match=r"trace\(\): argument 'input' must be Tensor, not list"):
        pt.trace([[1.0]])
