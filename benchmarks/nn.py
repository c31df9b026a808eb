"""nn layers against NumPy written out by hand (and PyTorch when installed), same run, same data.

Issue 6's target: Conv2d forward (batch 32, 3->16 channels, 32x32, 3x3, padding 1) at least 2x
faster than a straightforward im2col + matmul in NumPy (the index-array im2col of the classic
course notes), and within 4x of PyTorch where it is installed. A hand-tuned NumPy im2col (one
strided copy per kernel offset) is timed too, as the floor this design can reach on NumPy.

    python benchmarks/nn.py
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_ms, row, try_import_torch  # noqa: E402

import plugtorch as pt  # noqa: E402
import plugtorch.nn.functional as F  # noqa: E402


def im2col_indices(x, kh, kw, pad, stride):
    """(N, C*kh*kw, Ho*Wo) columns by fancy indexing with precomputed index arrays."""
    n, c, h, w = x.shape
    ho, wo = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    i0 = np.tile(np.repeat(np.arange(kh), kw), c)
    i1 = stride * np.repeat(np.arange(ho), wo)
    j0 = np.tile(np.arange(kw), kh * c)
    j1 = stride * np.tile(np.arange(wo), ho)
    i = i0.reshape(-1, 1) + i1.reshape(1, -1)
    j = j0.reshape(-1, 1) + j1.reshape(1, -1)
    k = np.repeat(np.arange(c), kh * kw).reshape(-1, 1)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    return xp[:, k, i, j], ho, wo


def conv_numpy_indices(x, w, b):
    cols, ho, wo = im2col_indices(x, w.shape[2], w.shape[3], 1, 1)
    out = w.reshape(w.shape[0], -1) @ cols + b.reshape(-1, 1)
    return out.reshape(x.shape[0], w.shape[0], ho, wo)


def conv_numpy_slices(x, w, b):
    n, c, h, wd = x.shape
    kh, kw = w.shape[2], w.shape[3]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.empty((n, c, kh, kw, h, wd), x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, i:i + h, j:j + wd]
    out = w.reshape(w.shape[0], -1) @ cols.reshape(n, c * kh * kw, h * wd) + b.reshape(-1, 1)
    return out.reshape(n, w.shape[0], h, wd)


def bench_conv(torch):
    print("Conv2d forward: x (32, 3, 32, 32) float32, 3->16 channels, 3x3, padding 1 (ms, best of 20)")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3, 32, 32), dtype=np.float32)
    conv = pt.nn.Conv2d(3, 16, 3, padding=1)
    w, b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
    X = pt.from_numpy(x)
    ref = conv_numpy_indices(x, w, b)
    np.testing.assert_allclose(conv(X).detach().numpy(), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(conv_numpy_slices(x, w, b), ref, rtol=1e-4, atol=1e-4)
    t_idx = best_ms(lambda: conv_numpy_indices(x, w, b), repeat=20)
    t_sl = best_ms(lambda: conv_numpy_slices(x, w, b), repeat=20)
    t_pt = best_ms(lambda: conv(X), repeat=20)
    with pt.no_grad():
        t_ng = best_ms(lambda: conv(X), repeat=20)
    row("numpy im2col (index arrays)", t_idx, "ms")
    row("numpy im2col (strided slices)", t_sl, "ms")
    row("plugtorch cpu nn.Conv2d", t_pt, "ms", t_idx, "numpy index im2col (target <= 0.5x)")
    row("plugtorch cpu nn.Conv2d no_grad", t_ng, "ms", t_sl, "numpy strided im2col")
    if torch is not None:
        tconv = torch.nn.Conv2d(3, 16, 3, padding=1)
        tx = torch.from_numpy(x)
        with torch.no_grad():
            t_t = best_ms(lambda: tconv(tx), repeat=20)
        row("pytorch nn.Conv2d", t_t, "ms")
        row("plugtorch / pytorch", t_ng / t_t, "x", None, "(target <= 4x)")
    g = pt.randn(32, 16, 32, 32)
    Xg = X.clone().requires_grad_()

    def fwd_bwd():
        conv.zero_grad()
        conv(Xg).backward(g)
    row("plugtorch cpu Conv2d fwd+bwd", best_ms(fwd_bwd, repeat=5), "ms")


def bench_layers():
    print("\nOther layers, float32 (ms, best of 10), plugtorch cpu against the NumPy formula")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((256, 512), dtype=np.float32)
    lin = pt.nn.Linear(512, 512)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    X = pt.from_numpy(x)
    with pt.no_grad():
        tn, tp = best_ms(lambda: x @ w.T + b), best_ms(lambda: lin(X))
    row("numpy x @ W.T + b (256x512x512)", tn, "ms")
    row("plugtorch nn.Linear", tp, "ms", tn, "numpy")
    ln = pt.nn.LayerNorm(512)

    def ln_np():
        m = x.mean(-1, keepdims=True)
        c = x - m
        return c / np.sqrt((c * c).mean(-1, keepdims=True) + 1e-5)
    with pt.no_grad():
        tn, tp = best_ms(ln_np), best_ms(lambda: ln(X))
    row("numpy layer norm (256x512)", tn, "ms")
    row("plugtorch nn.LayerNorm", tp, "ms", tn, "numpy")
    y = rng.integers(0, 512, 256)
    Y = pt.from_numpy(y)

    def ce_np():
        m = x.max(1, keepdims=True)
        lse = np.log(np.exp(x - m).sum(1)) + m[:, 0]
        return (lse - x[np.arange(256), y]).mean()
    tn, tp = best_ms(ce_np), best_ms(lambda: F.cross_entropy(X, Y))
    row("numpy cross entropy (256x512)", tn, "ms")
    row("plugtorch F.cross_entropy", tp, "ms", tn, "numpy")
    q = pt.randn(8, 4, 64, 32)
    qn = q.numpy()

    def sdpa_np():
        s = qn @ qn.swapaxes(-1, -2) / np.sqrt(32)
        e = np.exp(s - s.max(-1, keepdims=True))
        return (e / e.sum(-1, keepdims=True)) @ qn
    tn, tp = best_ms(sdpa_np), best_ms(lambda: F.scaled_dot_product_attention(q, q, q))
    row("numpy attention (8x4x64x32)", tn, "ms")
    row("plugtorch F.sdpa", tp, "ms", tn, "numpy")
    lstm = pt.nn.LSTM(64, 128)
    xs = pt.randn(32, 16, 64)
    with pt.no_grad():
        t_pad = best_ms(lambda: lstm(xs), repeat=5)
        row("plugtorch nn.LSTM 32 steps, 16x64->128", t_pad, "ms")
        lengths = sorted(np.random.default_rng(0).integers(1, 33, 16).tolist(), reverse=True)
        packed = pt.nn.utils.rnn.pack_padded_sequence(xs, lengths)     # lengths 1..32, mean ~16
        row("  the same, packed (lengths 1..32)", best_ms(lambda: lstm(packed), repeat=5), "ms", t_pad, "padded")


def main():
    torch = try_import_torch()
    bench_conv(torch)
    bench_layers()


if __name__ == "__main__":
    main()
