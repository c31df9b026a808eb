"""max_pool3d, avg_pool3d and adaptive_avg_pool3d are on PyTorch's CPU autocast float32 list:
under ``autocast("cpu")`` a bfloat16 input runs in float32 (torch 2.13:
``F.max_pool3d(x.bfloat16(), 2).dtype`` is float32 in ``torch.autocast("cpu")``). The CUDA list,
which opencl follows, does not name them: a float16 input stays float16. Values against a
float64 NumPy reference rounded to the result's dtype."""
import ml_dtypes
import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F

OPENCL = pytest.mark.skipif(not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])")
CASES = [("cpu", pt.bfloat16, pt.float32), pytest.param("opencl", pt.float16, pt.float16, marks=OPENCL)]
_NP = {pt.float32: np.float32, pt.float16: np.float16}


def _blocks(xn):
    """(N, C, 4, 4, 4) -> (N, C, 2, 2, 2, 8): the 2x2x2 windows."""
    n, c = xn.shape[:2]
    return xn.reshape(n, c, 2, 2, 2, 2, 2, 2).transpose(0, 1, 2, 4, 6, 3, 5, 7).reshape(n, c, 2, 2, 2, 8)


@pytest.mark.parametrize("dev,dtype,want", CASES)
def test_3d_pools_follow_the_device_types_list(dev, dtype, want):
    x = pt.tensor(np.random.default_rng(0).standard_normal((2, 3, 4, 4, 4)).astype(np.float32)).to(dtype).to(dev)
    xn = x.float().cpu().numpy().astype(np.float64)
    win = _blocks(xn)
    with pt.autocast(dev):
        got = {"max_pool3d": F.max_pool3d(x, 2), "avg_pool3d": F.avg_pool3d(x, 2),
               "adaptive_avg_pool3d": F.adaptive_avg_pool3d(x, 2),
               "MaxPool3d": pt.nn.MaxPool3d(2)(x), "max_pool3d indices": F.max_pool3d(x, 2, return_indices=True)[0]}
    refs = {"max_pool3d": win.max(-1), "avg_pool3d": win.mean(-1), "adaptive_avg_pool3d": win.mean(-1),
            "MaxPool3d": win.max(-1), "max_pool3d indices": win.max(-1)}
    for name, y in got.items():
        assert y.dtype is want, name
        ref = refs[name].astype(_NP[want]).astype(np.float64)
        # float32: within one ulp; float16 sums 8 values in float16 (a few ulps of the sum)
        atol = 0 if want is pt.float32 else 8 * np.finfo(np.float16).eps * np.abs(xn).max() / 8
        np.testing.assert_allclose(y.float().cpu().numpy(), ref, rtol=np.finfo(_NP[want]).eps, atol=atol,
                                   err_msg=name)


def test_outside_autocast_and_with_it_disabled_the_pools_keep_bfloat16():
    x = pt.randn(1, 2, 4, 4, 4, generator=pt.Generator().manual_seed(0)).bfloat16()
    assert F.avg_pool3d(x, 2).dtype is pt.bfloat16
    with pt.autocast("cpu"), pt.autocast("cpu", enabled=False):
        assert F.adaptive_avg_pool3d(x, 1).dtype is F.max_pool3d(x, 2).dtype is pt.bfloat16
    np.testing.assert_array_equal(F.max_pool3d(x, 4).float().numpy().ravel(),
                                  x.float().numpy().reshape(2, -1).max(1))
