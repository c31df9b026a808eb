"""The 3-d and sampling layers against NumPy written out by hand (and PyTorch when installed),
same run, same data: Conv3d (one conv2d over the depth-stacked planes), MaxPool3d (strided
windows), grid_sample (one gather for all taps) and antialiased bicubic interpolate (two
weight matrices).

    python benchmarks/nn_vision.py
"""
from __future__ import annotations

import os
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_ms, row, try_import_torch  # noqa: E402

import plugtorch as pt  # noqa: E402
import plugtorch.nn.functional as F  # noqa: E402


def conv3d_numpy(x, w, b):
    """Valid 3-d cross-correlation: sliding windows and one tensordot."""
    win = sliding_window_view(x, w.shape[2:], axis=(2, 3, 4))          # (N, C, Do, Ho, Wo, kd, kh, kw)
    return np.tensordot(win, w, axes=([1, 5, 6, 7], [1, 2, 3, 4])).transpose(0, 4, 1, 2, 3) + \
        b.reshape(1, -1, 1, 1, 1)


def max_pool3d_numpy(x, k):
    n, c, d, h, w = x.shape
    return x[:, :, :d // k * k, :h // k * k, :w // k * k].reshape(n, c, d // k, k, h // k, k, w // k, k).max((3, 5, 7))


def grid_sample_numpy(img, grid):
    """Bilinear, zero padding, align_corners=False, vectorized over the grid."""
    n, c, h, w = img.shape
    x = ((grid[..., 0] + 1) * w - 1) / 2
    y = ((grid[..., 1] + 1) * h - 1) / 2
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    out = np.zeros((n, c) + grid.shape[1:3], img.dtype)
    b = np.arange(n)[:, None, None]
    for dy in (0, 1):
        for dx in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            wgt = (1 - np.abs(x - xi)) * (1 - np.abs(y - yi))
            ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            v = img[b, :, np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]     # (N, Ho, Wo, C)
            out += np.moveaxis(v * (wgt * ok)[..., None], -1, 1)
    return out


def main():
    torch = try_import_torch()
    rng = np.random.default_rng(0)
    print("float32, ms (best of 5), plugtorch cpu against NumPy" + (" and PyTorch" if torch else ""))

    x = rng.standard_normal((4, 8, 16, 16, 16), dtype=np.float32)
    conv = pt.nn.Conv3d(8, 16, 3)
    w, b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
    X = pt.from_numpy(x)
    with pt.no_grad():
        np.testing.assert_allclose(conv(X).numpy(), conv3d_numpy(x, w, b), rtol=1e-3, atol=1e-3)
        tn, tp = best_ms(lambda: conv3d_numpy(x, w, b), repeat=5), best_ms(lambda: conv(X), repeat=5)
    row("numpy Conv3d (4x8x16^3, 8->16, 3^3)", tn, "ms")
    row("plugtorch nn.Conv3d", tp, "ms", tn, "numpy")
    if torch is not None:
        tc = torch.nn.Conv3d(8, 16, 3)
        with torch.no_grad():
            row("pytorch nn.Conv3d", best_ms(lambda: tc(torch.from_numpy(x)), repeat=5), "ms")

    with pt.no_grad():
        tn, tp = best_ms(lambda: max_pool3d_numpy(x, 2), repeat=5), best_ms(lambda: F.max_pool3d(X, 2), repeat=5)
    row("numpy max_pool3d 2 (reshape + max)", tn, "ms")
    row("plugtorch F.max_pool3d", tp, "ms", tn, "numpy")

    img = rng.standard_normal((4, 3, 64, 64), dtype=np.float32)
    grid = rng.uniform(-1.1, 1.1, size=(4, 64, 64, 2)).astype(np.float32)
    I, G = pt.from_numpy(img), pt.from_numpy(grid)
    with pt.no_grad():
        np.testing.assert_allclose(F.grid_sample(I, G, align_corners=False).numpy(), grid_sample_numpy(img, grid),
                                   rtol=1e-4, atol=1e-5)
        tn = best_ms(lambda: grid_sample_numpy(img, grid), repeat=5)
        tp = best_ms(lambda: F.grid_sample(I, G, align_corners=False), repeat=5)
    row("numpy grid_sample bilinear (4x3x64^2)", tn, "ms")
    row("plugtorch F.grid_sample", tp, "ms", tn, "numpy")
    if torch is not None:
        ti, tg = torch.from_numpy(img), torch.from_numpy(grid)
        row("pytorch F.grid_sample", best_ms(lambda: torch.nn.functional.grid_sample(ti, tg, align_corners=False),
                                             repeat=5), "ms")

    big = pt.from_numpy(rng.standard_normal((1, 3, 256, 256), dtype=np.float32))
    with pt.no_grad():
        tp = best_ms(lambda: F.interpolate(big, size=(96, 96), mode="bicubic", antialias=True), repeat=5)
    row("plugtorch interpolate bicubic aa 256->96", tp, "ms")
    if torch is not None:
        tb = torch.from_numpy(big.numpy())
        row("pytorch interpolate bicubic aa 256->96",
            best_ms(lambda: torch.nn.functional.interpolate(tb, size=(96, 96), mode="bicubic", antialias=True),
                    repeat=5), "ms")


if __name__ == "__main__":
    main()
