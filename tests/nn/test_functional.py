"""pad, interpolate, one_hot, scaled_dot_product_attention, cosine_similarity."""
import math

import numpy as np
import pytest

import plugtorch as pt
import plugtorch.nn.functional as F

from .helpers import scalar_gradcheck, t64

rng = np.random.default_rng(7)


@pytest.mark.parametrize("mode,np_mode", [("constant", "constant"), ("reflect", "reflect"),
                                          ("replicate", "edge"), ("circular", "wrap")])
def test_pad_modes(mode, np_mode):
    x = rng.standard_normal((2, 3, 4, 5))
    got = F.pad(t64(x), (2, 1, 3, 0), mode=mode).numpy()
    np.testing.assert_allclose(got, np.pad(x, ((0, 0), (0, 0), (3, 0), (2, 1)), mode=np_mode))
    scalar_gradcheck(lambda x: F.pad(x, (1, 2), mode=mode), t64(x[0, 0], True))


def test_pad_constant_value_negative_and_errors():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(F.pad(t64(x), (1, -1), value=9.0).numpy(), [[9, 0, 1], [9, 3, 4]])
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(t64(x), (1,))
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding input dimension"):
        F.pad(t64(x), (3, 0), mode="reflect")


def test_interpolate_nearest():
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    got = F.interpolate(t64(x), size=(5, 3)).numpy()
    rows = np.floor(np.arange(5) * 3 / 5).astype(int)
    cols = np.floor(np.arange(3) * 4 / 3).astype(int)
    np.testing.assert_allclose(got, x[:, :, rows][:, :, :, cols])
    np.testing.assert_allclose(F.interpolate(t64(x), scale_factor=2).numpy(), x.repeat(2, 2).repeat(2, 3))


def bilinear_ref(x, oh, ow, align):
    n, c, h, w = x.shape
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            if align:
                sy = i * (h - 1) / (oh - 1) if oh > 1 else 0
                sx = j * (w - 1) / (ow - 1) if ow > 1 else 0
            else:
                sy = max((i + 0.5) * h / oh - 0.5, 0)
                sx = max((j + 0.5) * w / ow - 0.5, 0)
            y0, x0 = min(int(sy), h - 1), min(int(sx), w - 1)
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            ly, lx = sy - y0, sx - x0
            out[:, :, i, j] = ((1 - ly) * ((1 - lx) * x[:, :, y0, x0] + lx * x[:, :, y0, x1])
                               + ly * ((1 - lx) * x[:, :, y1, x0] + lx * x[:, :, y1, x1]))
    return out


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("size", [(5, 7), (2, 3)])
def test_interpolate_bilinear(align, size):
    x = rng.standard_normal((2, 2, 4, 5))
    got = F.interpolate(t64(x), size=size, mode="bilinear", align_corners=align).numpy()
    np.testing.assert_allclose(got, bilinear_ref(x, *size, align), atol=1e-12)
    scalar_gradcheck(lambda x: F.interpolate(x, size=size, mode="bilinear", align_corners=align),
                     t64(x[:1, :1], True))


def test_interpolate_linear_keeps_an_infinity_beside_a_zero_weight():
    # (1 - w) a + w b, as PyTorch: the lerp a + (b - a) w gave nan where w = 0 and a = -inf
    x = t64([[[-np.inf, 1.0, 2.0]]])
    got = F.interpolate(x, scale_factor=2, mode="linear").numpy()[0, 0]
    # sources -0.25 (clamped to 0, w 0), 0.25, 0.75, 1.25, 1.75, 2.25 (clamped to the last)
    np.testing.assert_array_equal(got, [-np.inf, -np.inf, -np.inf, 1.25, 1.75, 2.0])
    # (where the formula reads inf * 0 itself, at the clamped edge of an all-inf image, it is nan, as PyTorch's)
    got = F.interpolate(t64(np.ones((1, 1, 2, 2)) * np.inf), scale_factor=2, mode="bilinear").numpy()[0, 0]
    assert np.isnan(got[0]).all() and np.isnan(got[:, 0]).all() and (got[1:, 1:] == np.inf).all()


def test_interpolate_uint8_images_resample_in_float_and_round_each_pass():
    # uint8 bilinear used integer weights (0 and 1): [[0, 10, 20, 30], ...] * 10 to 3x3 gave
    # [0, 10, 20, ...]; now width then height, each pass rounded half up and saturated to 0..255
    # (here the fixed-point weights round to the same values as the float ones: see the next test)
    x = (np.arange(16) * 10).reshape(1, 1, 4, 4).astype(np.uint8)
    got = F.interpolate(pt.tensor(x), size=(3, 3), mode="bilinear")
    assert got.dtype is pt.uint8
    wide = np.floor(bilinear_ref(x.astype(np.float64), 4, 3, False) + 0.5)
    want = np.floor(bilinear_ref(wide, 3, 3, False) + 0.5)
    np.testing.assert_array_equal(got.numpy(), want)
    assert want[0, 0].tolist() == [[9, 22, 35], [62, 75, 88], [115, 128, 141]]   # (PyTorch's too)
    # bicubic overshoots: each pass saturates before the next reads it
    edge = np.array([[[[0, 255, 255, 0]] * 4]], dtype=np.uint8)
    got = F.interpolate(pt.tensor(edge), size=(4, 7), mode="bicubic").numpy()
    assert got.dtype == np.uint8 and got.max() == 255 and got.min() == 0
    np.testing.assert_array_equal(got[0, 0], np.broadcast_to(got[0, 0, :1], (4, 7)))
    for mode in ("linear", "area"):
        with pytest.raises(NotImplementedError, match=f"interpolate\\(\\): mode '{mode}' is not implemented for "
                                                      f"plugtorch.int64 input"):
            F.interpolate(pt.arange(8).reshape(1, 1, 8), size=3, mode=mode)


def fixed_point_resample_ref(img, out_h, out_w, mode, antialias, align_corners=False):
    """PIL/PyTorch separable uint8 resampling by loops: width pass then height pass."""
    def clamped_cubic_rows(n_in, n_out):   # plain bicubic: a = -0.75, taps clamped to the edge
        s = ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0) if align_corners else n_in / n_out
        a, rows = -0.75, []
        for i in range(n_out):
            src = i * s if align_corners else (i + 0.5) * s - 0.5
            b = math.floor(src)
            row = [0.0] * n_in
            for k in range(4):
                t = abs(src - (b - 1 + k))
                w = ((a + 2) * t - (a + 3)) * t * t + 1 if t <= 1 else ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
                row[min(max(b - 1 + k, 0), n_in - 1)] += w
            rows.append((0, row))
        return rows

    def weights(n_in, n_out):
        s = ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0) if align_corners else n_in / n_out
        size = 2 if mode == "bilinear" else 4
        wide = antialias and s >= 1
        support = size / 2 * s if wide else size / 2
        inv = 1 / s if wide else 1.0
        delta = 0.5 if align_corners and not antialias else 0.0
        rows = [] if antialias or mode == "bilinear" else clamped_cubic_rows(n_in, n_out)
        for i in range(n_out if not rows else 0):
            c = s * (i + 0.5 - delta)
            lo = max(int(c - support + 0.5 + delta), 0)
            hi = min(int(c + support + 0.5 + delta), n_in)
            if not antialias:
                hi = min(hi, lo + size)
            ws = []
            for j in range(lo, hi):
                t = abs((j - c + 0.5 - delta) * inv)
                if mode == "bilinear":
                    ws.append(max(0.0, 1 - t))
                else:
                    a = -0.5
                    ws.append(((a + 2) * t - (a + 3)) * t * t + 1 if t < 1 else
                              ((a * t - 5 * a) * t + 8 * a) * t - 4 * a if t < 2 else 0.0)
            rows.append((lo, [w / sum(ws) for w in ws]))
        wmax = max(max(ws) for _, ws in rows)
        bits = 0
        while bits < 22 and int(0.5 + wmax * (1 << (bits + 1))) < (1 << 15):
            bits += 1
        return [(lo, [int(w * (1 << bits) + (0.5 if w >= 0 else -0.5)) for w in ws]) for lo, ws in rows], bits

    def one_pass(a, n_out):   # along the last axis
        n_in = a.shape[-1]
        if n_in == n_out:
            return a
        rows, bits = weights(n_in, n_out)
        out = np.zeros(a.shape[:-1] + (n_out,), np.int64)
        for i, (lo, ws) in enumerate(rows):
            acc = np.full(a.shape[:-1], 1 << (bits - 1), np.int64)
            for k, w in enumerate(ws):
                acc += a[..., lo + k].astype(np.int64) * w
            out[..., i] = np.clip(acc >> bits, 0, 255)
        return out
    x = one_pass(img.astype(np.int64), out_w)
    x = one_pass(np.swapaxes(x, -1, -2), out_h)
    return np.swapaxes(x, -1, -2).astype(np.uint8)


def test_interpolate_uint8_uses_the_fixed_point_weights_of_pytorch():
    # PyTorch's (and PIL's) uint8 kernels quantize each pass's weights to integers w * 2^p and
    # round the integer sums: resampling in float and rounding gave 133 where they give 132 here
    x = np.array([197, 245, 80, 18, 56, 59], dtype=np.uint8).reshape(1, 1, 1, 6)
    got = F.interpolate(pt.tensor(x), size=(1, 4), mode="bicubic", antialias=True).numpy()
    assert got.ravel().tolist() == [222, 132, 27, 59]
    # against the loop reference, on random images and sizes, aligned corners included
    r = np.random.default_rng(4)
    for _ in range(12):
        h, w, oh, ow = (int(v) for v in r.integers(1, 14, 4))
        img = r.integers(0, 256, (1, 2, h, w)).astype(np.uint8)
        for mode, antialias, align in (("bilinear", True, False), ("bicubic", True, False), ("bilinear", False, False),
                                       ("bilinear", False, True), ("bicubic", False, False), ("bicubic", False, True)):
            got = F.interpolate(pt.tensor(img), size=(oh, ow), mode=mode, antialias=antialias, align_corners=align)
            np.testing.assert_array_equal(got.numpy(), fixed_point_resample_ref(img, oh, ow, mode, antialias, align))
    # a scale factor that leaves a dim's size alone leaves the dim alone (9 * 1.05 -> 9)
    img = r.integers(0, 256, (1, 1, 9, 8)).astype(np.uint8)
    got = F.interpolate(pt.tensor(img), scale_factor=(1.05, 0.5), mode="bicubic")
    np.testing.assert_array_equal(got.numpy(), fixed_point_resample_ref(img, 9, 4, "bicubic", False))

def test_interpolate_errors():
    with pytest.raises(ValueError, match="only one of size or scale_factor should be defined"):
        F.interpolate(pt.randn(1, 1, 4), size=3, scale_factor=2)
    # an empty output (or input) is PyTorch's RuntimeError; scale_factor=0.1 of 5 used to divide by zero
    for kw in ({"scale_factor": 0.1}, {"size": (0, 3)}, {"size": (3, 3), "mode": "bilinear", "antialias": True,
                                                          "scale_factor": None}):
        x = pt.ones(1, 1, 5, 5) if "antialias" not in kw else pt.ones(1, 1, 0, 5)
        with pytest.raises(RuntimeError, match=r"interpolate\(\): Input and output sizes should be greater than 0, "
                                               r"but got input \(H: \d, W: 5\) output \(H: \d, W: \d\)"):
            F.interpolate(x, **kw)
    assert tuple(F.interpolate(pt.ones(1, 1, 5, 5), size=(0, 3), mode="area").shape) == (1, 1, 0, 3)   # as torch
    with pytest.raises(NotImplementedError, match="bilinear mode needs 4D input"):
        F.interpolate(pt.randn(1, 1, 4), size=3, mode="bilinear")
    # as PyTorch: fewer than 1 or more than 3 spatial dims, a size with recompute_scale_factor, and an
    # empty channel dim are refused (these used to raise ValueError, resize a 6-d input, pass silently)
    for shape in ((3, 4), (1, 1, 2, 2, 2, 2)):
        with pytest.raises(NotImplementedError, match=rf"Only 3D, 4D and 5D input Tensors supported \(got {len(shape)}D\)"):
            F.interpolate(pt.ones(shape), scale_factor=2)
    with pytest.raises(ValueError, match="recompute_scale_factor is not meaningful with an explicit size"):
        F.interpolate(pt.ones(1, 1, 3), size=5, recompute_scale_factor=True)
    for mode in ("nearest", "bilinear", "bicubic"):
        with pytest.raises(RuntimeError, match=r"Non-empty 4D data tensor expected but got a tensor with sizes "
                                               r"\[1, 0, 3, 4\]"):
            F.interpolate(pt.ones(1, 0, 3, 4), size=(5, 5), mode=mode)
    assert tuple(F.interpolate(pt.ones(0, 2, 3, 4), size=(5, 5), mode="bilinear").shape) == (0, 2, 5, 5)
    assert tuple(F.interpolate(pt.ones(1, 0, 3, 4), size=(5, 5), mode="area").shape) == (1, 0, 5, 5)


def test_one_hot():
    got = F.one_hot(pt.tensor([[0, 2], [1, 1]]), 4)
    assert got.dtype is pt.int64
    np.testing.assert_array_equal(got.numpy(), np.eye(4, dtype=np.int64)[[[0, 2], [1, 1]]])
    assert tuple(F.one_hot(pt.tensor([0, 5])).shape) == (2, 6)
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes."):
        F.one_hot(pt.tensor([3]), 3)
    with pytest.raises(RuntimeError, match="Class values must be non-negative."):
        F.one_hot(pt.tensor([-1]), 3)


def sdpa_ref(q, k, v, mask=None, causal=False, scale=None):
    s = q @ np.swapaxes(k, -1, -2) * (scale if scale is not None else 1 / math.sqrt(q.shape[-1]))
    if causal:
        mask = np.tril(np.ones((q.shape[-2], k.shape[-2]), dtype=bool))
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    e = np.exp(s - s.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)) @ v


def test_scaled_dot_product_attention():
    q, k, v = rng.standard_normal((2, 3, 4, 8)), rng.standard_normal((2, 3, 6, 8)), rng.standard_normal((2, 3, 6, 5))
    np.testing.assert_allclose(F.scaled_dot_product_attention(t64(q), t64(k), t64(v)).numpy(), sdpa_ref(q, k, v),
                               rtol=1e-10)
    bmask = rng.random((4, 6)) > 0.3
    bmask[:, 0] = True
    np.testing.assert_allclose(F.scaled_dot_product_attention(t64(q), t64(k), t64(v), pt.tensor(bmask)).numpy(),
                               sdpa_ref(q, k, v, bmask), rtol=1e-10)
    fmask = rng.standard_normal((4, 6))
    np.testing.assert_allclose(F.scaled_dot_product_attention(t64(q), t64(k), t64(v), t64(fmask), scale=0.3).numpy(),
                               sdpa_ref(q, k, v, fmask, scale=0.3), rtol=1e-10)
    qc = q[:, :, :4]
    kc, vc = k[:, :, :4], v[:, :, :4]
    np.testing.assert_allclose(F.scaled_dot_product_attention(t64(qc), t64(kc), t64(vc), is_causal=True).numpy(),
                               sdpa_ref(qc, kc, vc, causal=True), rtol=1e-10)
    # grouped-query attention: 3 query heads share 1 key/value head
    np.testing.assert_allclose(
        F.scaled_dot_product_attention(t64(q), t64(k[:, :1]), t64(v[:, :1]), enable_gqa=True).numpy(),
        sdpa_ref(q, np.repeat(k[:, :1], 3, 1), np.repeat(v[:, :1], 3, 1)), rtol=1e-10)
    scalar_gradcheck(F.scaled_dot_product_attention, t64(q[0, :1, :2, :3], True), t64(k[0, :1, :3, :3], True),
                     t64(v[0, :1, :3, :2], True))
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(t64(qc), t64(kc), t64(vc), t64(fmask[:4, :4]), is_causal=True)


def test_sdpa_rows_masked_entirely_give_zero_output_and_gradient():
    # PyTorch's attention (its _safe_softmax) returns 0 for a query row whose keys are all masked,
    # not softmax's 0/0 = nan, and the row passes no gradient; the other rows are ordinary
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 2))
    bmask = rng.random((3, 5)) > 0.4
    bmask[0] = False
    bmask[1:, 0] = True
    fmask = np.where(bmask, 0.0, -np.inf)
    for mask in (pt.tensor(bmask), t64(fmask)):
        qt, kt, vt = t64(q, True), t64(k, True), t64(v, True)
        out = F.scaled_dot_product_attention(qt, kt, vt, mask)
        want = sdpa_ref(q, k, v, bmask)
        want[:, 0] = 0.0
        np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-10)
        out.sum().backward()
        assert np.isfinite(qt.grad.numpy()).all() and not qt.grad.numpy()[:, 0].any()
        assert np.isfinite(kt.grad.numpy()).all() and np.isfinite(vt.grad.numpy()).all()
    scalar_gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, pt.tensor(bmask)),
                     t64(q[:1], True), t64(k[:1], True), t64(v[:1], True))


def test_sdpa_mask_that_would_grow_the_output_raises():
    # a (2, 1, S) mask over (2, 1, L, S) scores broadcasts to (2, 2, L, S): PyTorch refuses it
    # (it used to return a (2, 2, L, Ev) result)
    q = k = v = pt.ones(2, 1, 3, 4)
    with pytest.raises(RuntimeError, match=r"attn_mask of shape \[2, 1, 3\] does not broadcast to the attention "
                                           r"weights' shape \[2, 1, 3, 3\]"):
        F.scaled_dot_product_attention(q, k, v, pt.ones(2, 1, 3, dtype=pt.bool))
    with pytest.raises(RuntimeError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=1.5)   # (a ValueError from dropout before)
    # a float mask of another dtype than the query's is refused by name (it promoted the scores,
    # then failed in matmul with no word of the mask)
    with pytest.raises(RuntimeError, match="attention mask of dtype plugtorch.float64 does not match the "
                                           "query's dtype plugtorch.float32"):
        F.scaled_dot_product_attention(q, k, v, pt.zeros(3, 3, dtype=pt.float64))
    with pytest.raises(RuntimeError, match="attention mask of dtype plugtorch.float64 does not match"):
        pt.nn.MultiheadAttention(4, 2)(q[0, 0], q[0, 0], q[0, 0], key_padding_mask=pt.zeros(3, dtype=pt.float64))


def test_distances():
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    np.testing.assert_allclose(F.cosine_similarity(t64(a), t64(b)).numpy(), cos, rtol=1e-12)
    # broadcast first: dim counts the dims of the broadcast shape (as PyTorch's)
    a3 = rng.standard_normal((2, 4, 3))
    cos3 = (a3 * b).sum(2) / (np.linalg.norm(a3, axis=2) * np.linalg.norm(b, axis=1))
    np.testing.assert_allclose(F.cosine_similarity(t64(a3), t64(b), dim=2).numpy(), cos3, rtol=1e-12)
    np.testing.assert_allclose(F.pairwise_distance(t64(a), t64(b)).numpy(), np.linalg.norm(a - b + 1e-6, axis=1),
                               rtol=1e-12)
    np.testing.assert_allclose(F.normalize(t64(a)).numpy(), a / np.linalg.norm(a, axis=1, keepdims=True), rtol=1e-12)


def test_cosine_similarity_raises_each_norm_to_eps_and_keeps_the_norms_gradient():
    # PyTorch's formula: each norm raised to eps on its own, the gradient the unraised norm's
    # (torch 2.13: cos([1e-5, 0], itself) = 1, cos([1e-9, 0], [1, 0]) = 0.1, finite gradients at 0)
    assert F.cosine_similarity(pt.tensor([[1e-5, 0.0]]), pt.tensor([[1e-5, 0.0]])).tolist() == [1.0]
    np.testing.assert_allclose(F.cosine_similarity(t64([[1e-9, 0.0]]), t64([[1.0, 0.0]])).numpy(), [0.1], rtol=1e-12)
    eps = 1e-8
    x, y = np.array([[1e-9, 2e-9]]), np.array([[1.0, 3.0]])
    xt, yt = t64(x, True), t64(y, True)
    F.cosine_similarity(xt, yt).sum().backward()
    yhat = y / np.linalg.norm(y)
    want_x = yhat / eps - (x @ yhat.T) / eps ** 2 * x / np.linalg.norm(x)     # d(x / eps . yhat), d eps = d||x||
    want_y = (x / eps) / np.linalg.norm(y) - ((x / eps) @ y.T) * y / np.linalg.norm(y) ** 3
    np.testing.assert_allclose(xt.grad.numpy(), want_x, rtol=1e-9)
    np.testing.assert_allclose(yt.grad.numpy(), want_y, rtol=1e-9)
    z, o = t64(np.zeros((2, 3)), True), t64(np.ones((2, 3)), True)
    F.cosine_similarity(z, o).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), np.full((2, 3), 1 / (eps * np.sqrt(3))), rtol=1e-12)
    assert o.grad.tolist() == [[0.0] * 3] * 2


def test_cosine_similarity_dtypes():
    ints, floats = pt.tensor([[1, 2, 3]]), pt.tensor([[1.0, 0.0, 1.0]])
    np.testing.assert_allclose(F.cosine_similarity(ints, floats).numpy(), [4 / np.sqrt(28)], rtol=1e-6)
    assert F.cosine_similarity(ints.bfloat16(), floats).dtype is pt.float32
    with pytest.raises(RuntimeError, match=r"cosine_similarity\(\): expected common dtype to be floating point, yet "
                                           r"common dtype is plugtorch.int64"):
        F.cosine_similarity(ints, ints)


def test_interpolate_nearest_gradcheck():
    scalar_gradcheck(lambda x: F.interpolate(x, size=(5, 3)), t64(rng.standard_normal((1, 1, 3, 4)), True))
