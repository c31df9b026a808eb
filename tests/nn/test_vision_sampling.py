"""pixel_shuffle/pixel_unshuffle/channel_shuffle, the UpsamplingNearest2d/Bilinear2d layers, and
affine_grid + grid_sample against NumPy references (a per-point loop for grid_sample)."""
import warnings

import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F
from plugtorch import nn

from .helpers import scalar_gradcheck, t64

DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device (pip install plugtorch[opencl])"))]
rng = np.random.default_rng(0)


@pytest.mark.parametrize("device", DEVICES)
def test_pixel_and_channel_shuffle(device):
    x = rng.standard_normal((2, 3, 8, 2, 3)).astype(np.float32)        # extra leading dim
    out = F.pixel_shuffle(pt.tensor(x, device=device), 2)
    ref = np.zeros((2, 3, 2, 4, 6), np.float32)
    for c, i, j in np.ndindex(2, 4, 6):
        ref[:, :, c, i, j] = x[:, :, c * 4 + (i % 2) * 2 + j % 2, i // 2, j // 2]
    np.testing.assert_array_equal(out.cpu().numpy(), ref)
    back = nn.PixelUnshuffle(2)(out)
    np.testing.assert_array_equal(back.cpu().numpy(), x)
    y = rng.standard_normal((2, 6, 3)).astype(np.float32)
    shuffled = nn.ChannelShuffle(3)(pt.tensor(y, device=device)).cpu().numpy()
    np.testing.assert_array_equal(shuffled, y[:, [0, 2, 4, 1, 3, 5]])
    assert nn.PixelShuffle(3)(pt.ones(18, 2, 2)).shape == (2, 6, 6)   # unbatched


def test_shuffle_gradients_reprs_and_errors():
    scalar_gradcheck(lambda x: F.pixel_shuffle(x, 2), t64(rng.standard_normal((1, 4, 2, 3)), True))
    scalar_gradcheck(lambda x: F.channel_shuffle(x, 2), t64(rng.standard_normal((1, 4, 3)), True))
    assert repr(nn.PixelShuffle(2)) == "PixelShuffle(upscale_factor=2)"
    assert repr(nn.PixelUnshuffle(3)) == "PixelUnshuffle(downscale_factor=3)"
    assert repr(nn.ChannelShuffle(2)) == "ChannelShuffle(groups=2)"
    with pytest.raises(RuntimeError, match=r"pixel_shuffle expects input to have at least 3 dimensions, but got "
                                           r"input with 2 dimension\(s\)"):
        F.pixel_shuffle(pt.ones(4, 4), 2)
    with pytest.raises(RuntimeError, match=r"input.size\(-3\)=5 is not divisible by 4"):
        F.pixel_shuffle(pt.ones(1, 5, 2, 2), 2)
    with pytest.raises(RuntimeError, match="pixel_shuffle expects a positive upscale_factor, but got 0"):
        F.pixel_shuffle(pt.ones(1, 4, 2, 2), 0)
    with pytest.raises(RuntimeError, match=r"expects height to be divisible by downscale_factor, but "
                                           r"input.size\(-2\)=5 is not divisible by 2"):
        F.pixel_unshuffle(pt.ones(1, 1, 5, 4), 2)
    with pytest.raises(RuntimeError, match="Number of channels must be divisible by groups. Got 5 channels and 2"):
        F.channel_shuffle(pt.ones(1, 5, 2, 2), 2)
    with pytest.raises(RuntimeError, match=r"channel_shuffle expects input with > 2 dims, but got input with sizes"):
        F.channel_shuffle(pt.ones(5), 1)


def test_upsampling_layers():
    x = pt.arange(4.).reshape(1, 1, 2, 2)
    assert nn.UpsamplingNearest2d(scale_factor=2)(x).tolist() == [[[[0., 0., 1., 1.], [0., 0., 1., 1.],
                                                                   [2., 2., 3., 3.], [2., 2., 3., 3.]]]]
    # align_corners=True: the corners stay, the middle is the linear blend
    out = nn.UpsamplingBilinear2d(size=(3, 3))(x).numpy()
    np.testing.assert_allclose(out[0, 0], [[0, 0.5, 1], [1, 1.5, 2], [2, 2.5, 3]])
    assert repr(nn.UpsamplingNearest2d(scale_factor=2)) == "UpsamplingNearest2d(scale_factor=2.0, mode='nearest')"
    assert repr(nn.UpsamplingBilinear2d(size=(3, 4))) == "UpsamplingBilinear2d(size=(3, 4), mode='bilinear')"
    with pytest.warns(UserWarning, match="upsample_bilinear` is deprecated"):
        np.testing.assert_allclose(F.upsample_bilinear(x, size=(3, 3)).numpy(), out)
    with pytest.warns(UserWarning, match="upsample_nearest` is deprecated"):
        assert F.upsample_nearest(x, scale_factor=2).shape == (1, 1, 4, 4)


def unnormalize(g, n, align):
    return (g + 1) / 2 * (n - 1) if align else ((g + 1) * n - 1) / 2


def reflect(v, lo2, hi2):
    if lo2 == hi2:
        return 0.0
    lo, span = lo2 / 2, (hi2 - lo2) / 2
    v = abs(v - lo)
    extra, flips = np.fmod(v, span), np.floor(v / span)
    return extra + lo if flips % 2 == 0 else span - extra + lo


def source_coord(g, size, padding, align):
    """The input coordinate grid value ``g`` samples along a dim of ``size``, after padding_mode."""
    v = unnormalize(g, size, align)
    if padding == "reflection":
        v = reflect(v, 0, 2 * (size - 1)) if align else reflect(v, -1, 2 * size - 1)
    if padding != "zeros":
        v = min(max(v, 0), size - 1)
    return v


def grid_sample_ref(img, grid, mode, padding, align):
    n, c, h, w = img.shape
    out = np.zeros((n, c) + grid.shape[1:3])
    for b, i, j in np.ndindex(n, *grid.shape[1:3]):
        coords = []
        for g, size in ((grid[b, i, j, 0], w), (grid[b, i, j, 1], h)):
            coords.append(source_coord(g, size, padding, align))
        x, y = coords

        def at(yy, xx):
            return img[b, :, yy, xx] if 0 <= yy < h and 0 <= xx < w else np.zeros(c)
        if mode == "nearest":
            out[b, :, i, j] = at(int(np.rint(y)), int(np.rint(x)))
            continue
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        fx, fy = x - x0, y - y0
        out[b, :, i, j] = ((1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
                           + fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1)))
    return out


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sample(mode, padding, align, device):
    img = rng.standard_normal((2, 3, 4, 5))
    grid = rng.uniform(-1.6, 1.6, size=(2, 3, 4, 2))
    grid[0, 0, 0] = [1.0, -1.0]                       # exact corner
    ref = grid_sample_ref(img, grid, mode, padding, align)
    f32 = lambda a: pt.tensor(a.astype(np.float32), device=device)  # noqa: E731
    out = F.grid_sample(f32(img), f32(grid), mode, padding, align)
    np.testing.assert_allclose(out.cpu().numpy(), ref, rtol=1e-4, atol=1e-5)


def test_affine_grid_and_round_trip():
    theta = np.array([[[0.8, -0.3, 0.1], [0.2, 1.1, -0.2]]])
    grid = F.affine_grid(pt.tensor(theta), (1, 2, 3, 4), align_corners=False).numpy()
    xs, ys = (np.arange(4) * 2 + 1) / 4 - 1, (np.arange(3) * 2 + 1) / 3 - 1
    base = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None], np.ones((3, 4))), -1)
    np.testing.assert_allclose(grid[0], base @ theta[0].T, rtol=1e-12)
    # the identity grid with align_corners=True reproduces the image
    img = pt.tensor(rng.standard_normal((1, 2, 3, 4)))
    ident = F.affine_grid(pt.tensor([[[1.0, 0, 0], [0, 1, 0]]], dtype=pt.float64), (1, 2, 3, 4), align_corners=True)
    np.testing.assert_allclose(F.grid_sample(img, ident, align_corners=True).numpy(), img.numpy(), atol=1e-12)
    theta3 = rng.standard_normal((2, 3, 4))
    g3 = F.affine_grid(pt.tensor(theta3), (2, 1, 2, 3, 4), align_corners=True).numpy()
    zs, ys, xs = np.linspace(-1, 1, 2), np.linspace(-1, 1, 3), np.linspace(-1, 1, 4)
    base3 = np.stack(np.broadcast_arrays(xs[None, None], ys[None, :, None], zs[:, None, None], np.ones((2, 3, 4))), -1)
    np.testing.assert_allclose(g3, base3 @ theta3.transpose(0, 2, 1)[:, None, None], rtol=1e-12)


def test_grid_sample_gradients():
    img = t64(rng.standard_normal((1, 2, 3, 4)), True)
    grid = t64(rng.uniform(-0.9, 0.9, size=(1, 2, 3, 2)), True)      # away from pixel edges
    for padding in ("zeros", "border", "reflection"):
        scalar_gradcheck(lambda i, g: F.grid_sample(i, g, "bilinear", padding, False), img, grid)
    theta = t64([[[0.9, 0.1, 0.0], [-0.2, 0.8, 0.1]]], True)
    scalar_gradcheck(lambda t: F.affine_grid(t, (1, 1, 2, 3), align_corners=False), theta)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("padding", ["border", "reflection"])
def test_grid_sample_no_gradient_at_the_border(padding, device):
    # row [0, 1, 3], align_corners=True: x = -1, 1 land on pixels 0 and 2 exactly, where the
    # padding folds the coordinate; like PyTorch the borders count as outside (gradient 0).
    # Inside, d out / d x = slope * (w - 1) / 2: 1 at x = -0.5, 2 at x = 0.5.
    img = pt.tensor([[[[0.0, 1.0, 3.0]]]], dtype=pt.float64, device=device)
    grid = pt.tensor([[[[-1.0, 0.0], [1.0, 0.0], [-0.5, 0.0], [0.5, 0.0], [3.0, 0.0]]]], dtype=pt.float64,
                     device=device, requires_grad=True)
    out = F.grid_sample(img, grid, padding_mode=padding, align_corners=True)
    far = 3.0 if padding == "border" else 1.0                # x = 3 reflects to pixel 0 (value 0)
    np.testing.assert_allclose(out.detach().cpu().numpy().ravel(), [0.0, 3.0, 0.5, 2.0, 3.0 if far == 3.0 else 0.0])
    out.sum().backward()
    np.testing.assert_allclose(grid.grad.cpu().numpy()[0, 0, :, 0], [0.0, 0.0, 1.0, 2.0, 0.0])


def test_grid_sample_rejects_empty_spatial_input():
    with pytest.raises(RuntimeError, match=r"grid_sampler\(\): expected input to have non-empty spatial "
                                           r"dimensions, but input has sizes \[1, 2, 0, 4\] with dimension 2"):
        F.grid_sample(pt.ones(1, 2, 0, 4), pt.zeros(1, 3, 3, 2), align_corners=False)
    assert F.grid_sample(pt.ones(0, 2, 3, 4), pt.zeros(0, 3, 3, 2), align_corners=False).shape == (0, 2, 3, 3)

def test_grid_errors_and_warning():
    with pytest.warns(UserWarning, match="Default grid_sample and affine_grid behavior has changed"):
        F.affine_grid(pt.ones(1, 2, 3), (1, 1, 2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                                             r"\(1, 1, 2, 2\)"):
            F.affine_grid(pt.ones(1, 2, 2), (1, 1, 2, 2))
        with pytest.raises(NotImplementedError, match="affine_grid only supports 4D and 5D sizes"):
            F.affine_grid(pt.ones(1, 2, 3), (1, 2, 2))
        with pytest.raises(RuntimeError, match="grid_sampler\\(\\): expected grid to have size 2 in last dimension"):
            F.grid_sample(pt.ones(1, 1, 2, 2), pt.zeros(1, 3, 3, 3))
        with pytest.raises(RuntimeError, match="expected grid and input to have same batch size"):
            F.grid_sample(pt.ones(1, 1, 2, 2), pt.zeros(2, 3, 3, 2))
        with pytest.raises(ValueError, match="expected mode to be 'bilinear', 'nearest' or 'bicubic', but got: 'foo'"):
            F.grid_sample(pt.ones(1, 1, 2, 2), pt.zeros(1, 3, 3, 2), mode="foo")
        with pytest.raises(ValueError, match="expected padding_mode to be 'zeros', 'border', or 'reflection'"):
            F.grid_sample(pt.ones(1, 1, 2, 2), pt.zeros(1, 3, 3, 2), padding_mode="foo")


def grid_sample3d_ref(img, grid, mode, padding, align):
    """Trilinear / nearest sampling of (N, C, D, H, W) at (x, y, z) grid points, by loops."""
    n, c, d, h, w = img.shape
    out = np.zeros((n, c) + grid.shape[1:4])
    for b, i, j, k in np.ndindex(n, *grid.shape[1:4]):
        coords = []
        for g, size in zip(grid[b, i, j, k], (w, h, d)):
            coords.append(source_coord(g, size, padding, align))
        x, y, z = coords

        def at(zz, yy, xx):
            return img[b, :, zz, yy, xx] if 0 <= zz < d and 0 <= yy < h and 0 <= xx < w else np.zeros(c)
        if mode == "nearest":
            out[b, :, i, j, k] = at(int(np.rint(z)), int(np.rint(y)), int(np.rint(x)))
            continue
        x0, y0, z0 = int(np.floor(x)), int(np.floor(y)), int(np.floor(z))
        acc = np.zeros(c)
        for dz, dy, dx in np.ndindex(2, 2, 2):
            wgt = (z - z0 if dz else 1 - (z - z0)) * (y - y0 if dy else 1 - (y - y0)) * (x - x0 if dx else 1 - (x - x0))
            acc += wgt * at(z0 + dz, y0 + dy, x0 + dx)
        out[b, :, i, j, k] = acc
    return out


@pytest.mark.parametrize("device", DEVICES)
def test_grid_sample_5d(device):
    img = rng.standard_normal((2, 2, 3, 4, 5))
    grid = rng.uniform(-1.4, 1.4, size=(2, 2, 3, 2, 3))
    f32 = lambda a: pt.tensor(a.astype(np.float32), device=device)  # noqa: E731
    for mode, padding, align in (("bilinear", "zeros", False), ("bilinear", "reflection", True),
                                 ("nearest", "border", False)):
        out = F.grid_sample(f32(img), f32(grid), mode, padding, align)
        np.testing.assert_allclose(out.cpu().numpy(), grid_sample3d_ref(img, grid, mode, padding, align),
                                   rtol=1e-4, atol=1e-5)
    # the identity 3-d affine grid reproduces the volume
    ident = F.affine_grid(pt.tensor([[[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]] * 2, dtype=pt.float64),
                          (2, 2, 3, 4, 5), align_corners=False)
    np.testing.assert_allclose(F.grid_sample(pt.tensor(img), ident, align_corners=False).numpy(), img, atol=1e-12)
    scalar_gradcheck(lambda i, g: F.grid_sample(i, g, "bilinear", "border", True),
                     t64(img[:1, :1, :2, :3, :3], True), t64(rng.uniform(-0.9, 0.9, size=(1, 2, 1, 2, 3)), True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="expected grid to have size 3 in last dimension"):
            F.grid_sample(pt.ones(1, 1, 2, 2, 2), pt.zeros(1, 3, 3, 3, 2))
        with pytest.raises(RuntimeError, match="bicubic interpolation only supports 4D input"):
            F.grid_sample(pt.ones(1, 1, 2, 2, 2), pt.zeros(1, 3, 3, 3, 3), mode="bicubic")


def cubic_kernel(v, a=-0.75):
    """Keys' cubic convolution kernel."""
    v = abs(v)
    if v <= 1:
        return (a + 2) * v ** 3 - (a + 3) * v ** 2 + 1
    if v < 2:
        return a * v ** 3 - 5 * a * v ** 2 + 8 * a * v - 4 * a
    return 0.0


def bicubic_matrix(n_in, n_out, align):
    """(n_out, n_in) resampling matrix: taps clamped to the edge, as PyTorch's upsample_bicubic2d."""
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        src = i * (n_in - 1) / (n_out - 1) if align else (i + 0.5) * n_in / n_out - 0.5
        base = int(np.floor(src))
        for k in range(base - 1, base + 3):
            m[i, min(max(k, 0), n_in - 1)] += cubic_kernel(src - k)
    return m


@pytest.mark.parametrize("device", DEVICES)
def test_interpolate_bicubic_area_nearest_exact(device):
    x = rng.standard_normal((2, 3, 5, 7))
    f32 = lambda a: pt.tensor(a.astype(np.float32), device=device)  # noqa: E731
    for size, align in (((9, 11), False), ((3, 4), False), ((8, 6), True)):
        ref = np.einsum("ih,nchw,jw->ncij", bicubic_matrix(5, size[0], align), x, bicubic_matrix(7, size[1], align))
        out = F.interpolate(f32(x), size=size, mode="bicubic", align_corners=align)
        np.testing.assert_allclose(out.cpu().numpy(), ref, rtol=1e-4, atol=1e-5)
    rows = np.minimum(np.floor((np.arange(8) + 0.5) * 5 / 8), 4).astype(int)
    cols = np.minimum(np.floor((np.arange(4) + 0.5) * 7 / 4), 6).astype(int)
    out = F.interpolate(f32(x), size=(8, 4), mode="nearest-exact")
    np.testing.assert_array_equal(out.cpu().numpy(), x.astype(np.float32)[:, :, rows][:, :, :, cols])
    y = rng.standard_normal((1, 2, 6, 8))
    out = nn.Upsample(scale_factor=0.5, mode="area")(f32(y))
    np.testing.assert_allclose(out.cpu().numpy(), y.reshape(1, 2, 3, 2, 4, 2).mean((3, 5)), rtol=1e-5)
    scalar_gradcheck(lambda x: F.interpolate(x, scale_factor=1.5, mode="bicubic"), t64(x[:1, :1, :3, :4], True))
    with pytest.raises(ValueError, match="align_corners option can only be set with the interpolating modes"):
        F.interpolate(pt.ones(1, 1, 4, 4), size=2, mode="area", align_corners=True)
    with pytest.raises(NotImplementedError, match="Got 3D input, but bicubic mode needs 4D input"):
        F.interpolate(pt.ones(1, 1, 4), size=2, mode="bicubic")
    with pytest.raises(NotImplementedError, match=r"for the modes: nearest \| linear .* \(got foo\)"):
        F.interpolate(pt.ones(1, 1, 4, 4), size=2, mode="foo")


def grid_sample_bicubic_ref(img, grid, padding, align):
    n, c, h, w = img.shape
    out = np.zeros((n, c) + grid.shape[1:3])

    def fold(v, size):
        if padding == "reflection":
            v = reflect(v, 0, 2 * (size - 1)) if align else reflect(v, -1, 2 * size - 1)
        return min(max(v, 0), size - 1) if padding != "zeros" else v
    for b, i, j in np.ndindex(n, *grid.shape[1:3]):
        x, y = unnormalize(grid[b, i, j, 0], w, align), unnormalize(grid[b, i, j, 1], h, align)
        x0, y0 = np.floor(x), np.floor(y)
        acc = np.zeros(c)
        for dy in range(-1, 3):
            for dx in range(-1, 3):
                yy, xx = int(fold(y0 + dy, h)), int(fold(x0 + dx, w))
                if 0 <= yy < h and 0 <= xx < w:
                    acc += cubic_kernel(x - (x0 + dx)) * cubic_kernel(y - (y0 + dy)) * img[b, :, yy, xx]
        out[b, :, i, j] = acc
    return out


@pytest.mark.parametrize("device", DEVICES)
def test_grid_sample_bicubic(device):
    img = rng.standard_normal((2, 2, 4, 5))
    grid = rng.uniform(-1.5, 1.5, size=(2, 3, 3, 2))
    f32 = lambda a: pt.tensor(a.astype(np.float32), device=device)  # noqa: E731
    for padding in ("zeros", "border", "reflection"):
        for align in (False, True):
            out = F.grid_sample(f32(img), f32(grid), "bicubic", padding, align)
            np.testing.assert_allclose(out.cpu().numpy(), grid_sample_bicubic_ref(img, grid, padding, align),
                                       rtol=1e-4, atol=1e-5, err_msg=f"{padding} {align}")
    scalar_gradcheck(lambda i, g: F.grid_sample(i, g, "bicubic", "border", False),
                     t64(img[:1, :1], True), t64(rng.uniform(-0.9, 0.9, size=(1, 2, 2, 2)), True))


def aa_matrix(n_in, n_out, kernel, radius, align=False):
    """PIL's antialiased resampling: the kernel stretched by the downscale factor, rows normalized."""
    s = (n_in - 1) / (n_out - 1) if align else n_in / n_out
    stretch = max(s, 1.0)
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        center = s * (i + 0.5)
        lo, hi = max(int(center - radius * stretch + 0.5), 0), min(int(center + radius * stretch + 0.5), n_in)
        w = np.array([kernel((j + 0.5 - center) / stretch) for j in range(lo, hi)])
        m[i, lo:hi] = w / w.sum()
    return m


def keys_a_half(v):
    return cubic_kernel(v, a=-0.5)


def lanczos3(v):
    return np.sinc(v) * np.sinc(v / 3) if abs(v) < 3 else 0.0


@pytest.mark.parametrize("device", DEVICES)
def test_interpolate_antialias(device):
    x = rng.standard_normal((1, 2, 17, 23))
    f32 = lambda a: pt.tensor(a.astype(np.float32), device=device)  # noqa: E731
    cases = (("bilinear", lambda v: max(0.0, 1 - abs(v)), 1, False), ("bicubic", keys_a_half, 2, True),
             ("lanczos", lanczos3, 3, False))
    for mode, kernel, radius, align in cases:
        for size in ((5, 9), (30, 12)):
            ref = np.einsum("ih,nchw,jw->ncij", aa_matrix(17, size[0], kernel, radius, align), x,
                            aa_matrix(23, size[1], kernel, radius, align))
            out = F.interpolate(f32(x), size=size, mode=mode, antialias=True, align_corners=align or None)
            np.testing.assert_allclose(out.cpu().numpy(), ref, rtol=1e-4, atol=1e-5, err_msg=f"{mode} {size}")
    flat = F.interpolate(pt.full((1, 1, 9, 9), 3.0), size=(4, 4), mode="bicubic", antialias=True)
    np.testing.assert_allclose(flat.numpy(), 3.0, rtol=1e-6)                   # weights sum to one
    scalar_gradcheck(lambda x: F.interpolate(x, size=(3, 2), mode="bilinear", antialias=True),
                     t64(x[:, :1, :7, :5], True))
    with pytest.raises(ValueError, match="Lanczos mode requires antialias=True"):
        F.interpolate(pt.ones(1, 1, 4, 4), size=2, mode="lanczos")
    with pytest.raises(ValueError, match="Anti-alias option is restricted to bilinear, bicubic, and lanczos modes"):
        F.interpolate(pt.ones(1, 1, 4), size=2, mode="linear", antialias=True)


def test_grid_sample_mode_tables():
    assert F.GRID_SAMPLE_INTERPOLATION_MODES == {"bilinear": 0, "nearest": 1, "bicubic": 2}
    assert F.GRID_SAMPLE_PADDING_MODES == {"zeros": 0, "border": 1, "reflection": 2}
