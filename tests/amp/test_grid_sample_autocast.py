"""grid_sample under autocast: PyTorch's CPU list runs it in float32 (its grid_sampler; torch 2.13:
``F.grid_sample(x.bfloat16(), g.bfloat16(), align_corners=False).dtype`` is float32 in
``torch.autocast("cpu")``), its CUDA list (opencl's) in the widest of the input's and grid's
dtypes. Values against a float64 NumPy bilinear reference of the rounded operands, rounded."""
import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F

OPENCL = pytest.mark.skipif(not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])")
# (device, input dtype, grid dtype, result dtype)
CASES = [("cpu", pt.bfloat16, pt.bfloat16, pt.float32), ("cpu", pt.bfloat16, pt.float32, pt.float32),
         pytest.param("opencl", pt.float16, pt.float32, pt.float32, marks=OPENCL),
         pytest.param("opencl", pt.float16, pt.float16, pt.float16, marks=OPENCL)]


def _bilinear(img, grid):
    """align_corners=True bilinear sampling of (H, W) ``img`` at (Ho, Wo, 2) ``grid`` inside [-1, 1]."""
    h, w = img.shape
    x, y = (grid[..., 0] + 1) / 2 * (w - 1), (grid[..., 1] + 1) / 2 * (h - 1)
    x0, y0 = np.clip(np.floor(x).astype(int), 0, w - 2), np.clip(np.floor(y).astype(int), 0, h - 2)
    fx, fy = x - x0, y - y0
    return (img[y0, x0] * (1 - fx) * (1 - fy) + img[y0, x0 + 1] * fx * (1 - fy)
            + img[y0 + 1, x0] * (1 - fx) * fy + img[y0 + 1, x0 + 1] * fx * fy)


@pytest.mark.parametrize("dev,xdt,gdt,want", CASES)
def test_grid_sample_follows_the_device_types_list(dev, xdt, gdt, want):
    rng = np.random.default_rng(0)
    x = pt.tensor(rng.standard_normal((1, 1, 4, 5)).astype(np.float32)).to(xdt).to(dev)
    g = pt.tensor(rng.uniform(-0.9, 0.9, (1, 3, 2, 2)).astype(np.float32)).to(gdt).to(dev)
    with pt.autocast(dev):
        y = F.grid_sample(x, g, align_corners=True)
    assert y.dtype is want
    ref = _bilinear(x.float().cpu().numpy()[0, 0].astype(np.float64), g.float().cpu().numpy()[0].astype(np.float64))
    np_want = np.float32 if want is pt.float32 else np.float16
    # float32: a few roundings of float32 arithmetic; float16: of float16's
    np.testing.assert_allclose(y.float().cpu().numpy()[0, 0], ref.astype(np_want), rtol=0,
                               atol=8 * np.finfo(np_want).eps * np.abs(ref).max())
    if dev == "cpu":
        assert F.grid_sample(x, g.to(xdt), align_corners=True).dtype is xdt   # outside autocast: as given


def test_the_align_corners_warning_points_at_the_callers_line():
    # grid_sample runs through the dispatcher now: the warning still names the user's file
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0") as rec:
        F.grid_sample(pt.ones(1, 1, 2, 2), pt.zeros(1, 1, 1, 2))
    assert rec[0].filename == __file__
