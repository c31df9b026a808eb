"""cpu eager kernels that used to trail PyTorch the most, against NumPy written out by hand and
PyTorch when installed (one thread each), same run, same data; best of N with the contenders
alternating, ratios printed.

    OPENBLAS_NUM_THREADS=1 python benchmarks/cpu_eager.py [name ...]
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import row, try_import_torch  # noqa: E402

import plugtorch as pt  # noqa: E402
import plugtorch.nn.functional as F  # noqa: E402

REPEAT = 7


def alternate(fns, repeat=REPEAT):
    """Best milliseconds of each function, the functions called in turn ``repeat`` times."""
    for f in fns:
        f()
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, f in enumerate(fns):
            t = time.perf_counter()
            f()
            best[i] = min(best[i], time.perf_counter() - t)
    return [b * 1e3 for b in best]


def report(title, contenders):
    """contenders: (name, fn) with plugtorch first and NumPy second; prints each with its ratio to NumPy."""
    times = alternate([f for _, f in contenders])
    print(title)
    ref = times[1]
    for (name, _), t in zip(contenders, times):
        row(name, t, "ms", ref if name != contenders[1][0] else None, "numpy")
    torch_t = [t for (name, _), t in zip(contenders, times) if name.startswith("pytorch")]
    if torch_t:
        print(f"  {'plugtorch / pytorch':<34}{times[0] / torch_t[0]:>10.2f}x")


def fold_numpy(cols, hw, k, pad):
    n, ckk, _ = cols.shape
    c, (kh, kw), (h, w) = ckk // (k[0] * k[1]), k, hw
    ho, wo = h + 2 * pad - kh + 1, w + 2 * pad - kw + 1
    cols = cols.reshape(n, c, kh, kw, ho, wo)
    out = np.zeros((n, c, h + 2 * pad, w + 2 * pad), cols.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i:i + ho, j:j + wo] += cols[:, :, i, j]
    return out[:, :, pad:pad + h, pad:pad + w]


def bench_fold(torch, rng):
    cols = rng.standard_normal((8, 32 * 9, 32 * 32), dtype=np.float32)
    C = pt.from_numpy(cols)
    np.testing.assert_allclose(F.fold(C, (32, 32), 3, padding=1).numpy(), fold_numpy(cols, (32, 32), (3, 3), 1),
                               rtol=1e-6, atol=1e-6)
    cs = [("plugtorch F.fold", lambda: F.fold(C, (32, 32), 3, padding=1)),
          ("numpy strided adds", lambda: fold_numpy(cols, (32, 32), (3, 3), 1))]
    if torch is not None:
        tc = torch.from_numpy(cols)
        cs.append(("pytorch F.fold", lambda: torch.nn.functional.fold(tc, (32, 32), 3, padding=1)))
    report("fold 3x3 pad 1, (8, 288, 1024) -> (8, 32, 32, 32), float32 ms", cs)

    x = rng.standard_normal((8, 32, 16, 16), dtype=np.float32)
    w = rng.standard_normal((32, 16, 4, 4), dtype=np.float32)
    X, W = pt.from_numpy(x), pt.from_numpy(w)

    def ct_numpy():   # matmul with the weight's transpose, then fold (stride 2, padding 1)
        cols = np.matmul(w.reshape(32, -1).T, x.reshape(8, 32, -1))        # (N, Og*K, HW)
        n, ho = 8, 32
        out = np.zeros((n, 16, 34, 34), np.float32)
        cols = cols.reshape(n, 16, 4, 4, 16, 16)
        for i in range(4):
            for j in range(4):
                out[:, :, i:i + 31:2, j:j + 31:2] += cols[:, :, i, j]
        return out[:, :, 1:1 + ho, 1:1 + ho]

    with pt.no_grad():
        np.testing.assert_allclose(F.conv_transpose2d(X, W, stride=2, padding=1).numpy(), ct_numpy(),
                                   rtol=1e-4, atol=1e-4)
    cs = [("plugtorch F.conv_transpose2d", lambda: F.conv_transpose2d(X, W, stride=2, padding=1)),
          ("numpy matmul + strided adds", ct_numpy)]
    if torch is not None:
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        cs.append(("pytorch F.conv_transpose2d", lambda: torch.nn.functional.conv_transpose2d(tx, tw, stride=2,
                                                                                               padding=1)))
    with pt.no_grad():
        report("conv_transpose2d 4x4 stride 2, (8, 32, 16, 16) -> (8, 16, 32, 32), float32 ms", cs)

    XG, WG = pt.from_numpy(x.copy()).requires_grad_(), pt.from_numpy(w.copy()).requires_grad_()

    def pt_ct_backward():
        F.conv_transpose2d(XG, WG, stride=2, padding=1).sum().backward()
        XG.grad = WG.grad = None

    def numpy_ct_backward():   # forward as above; the gradients: windows of the ones, two matmuls
        ct_numpy()
        gp = np.ones((8, 16, 34, 34), np.float32)
        win = np.lib.stride_tricks.sliding_window_view(gp, (4, 4), axis=(2, 3))[:, :, ::2, ::2][:, :, :16, :16]
        gcols = win.transpose(0, 1, 4, 5, 2, 3).reshape(8, 16 * 16, 256)       # (N, Og*K, HW)
        gx = np.matmul(w.reshape(32, -1), gcols)
        gw = np.einsum("nci,nki->ck", x.reshape(8, 32, -1), gcols)
        return gx, gw

    cs = [("plugtorch conv_transpose2d fwd+bwd", pt_ct_backward), ("numpy by hand fwd+bwd", numpy_ct_backward)]
    if torch is not None:
        tg, twg = torch.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(w.copy()).requires_grad_()

        def torch_ct_backward():
            torch.nn.functional.conv_transpose2d(tg, twg, stride=2, padding=1).sum().backward()
            tg.grad = twg.grad = None
        cs.append(("pytorch conv_transpose2d fwd+bwd", torch_ct_backward))
    report("conv_transpose2d 4x4 stride 2, forward + backward, float32 ms", cs)


def bench_index_add(torch, rng):
    a = rng.standard_normal((10000, 128), dtype=np.float32)
    s = rng.standard_normal((2000, 128), dtype=np.float32)
    j = np.arange(2000) * 13 % 10000
    A, S, J = pt.from_numpy(a), pt.from_numpy(s), pt.from_numpy(j)

    def numpy_index_add():   # flat positions, one 1-d add.at (NumPy's fast path)
        r = a.copy()
        np.add.at(r.reshape(-1), (j[:, None] * 128 + np.arange(128)).reshape(-1), s.reshape(-1))
        return r

    np.testing.assert_array_equal(A.index_add(0, J, S).numpy(), numpy_index_add())
    cs = [("plugtorch Tensor.index_add", lambda: A.index_add(0, J, S)), ("numpy flat add.at", numpy_index_add)]
    if torch is not None:
        ta, ts, tj = torch.from_numpy(a), torch.from_numpy(s), torch.from_numpy(j)
        cs.append(("pytorch Tensor.index_add", lambda: ta.index_add(0, tj, ts)))
    report("index_add dim 0, (10000, 128) += 2000 rows, float32 ms", cs)

    x = rng.standard_normal((8, 32, 32, 32), dtype=np.float32)
    X = pt.from_numpy(x).requires_grad_()

    def pt_pad_backward():
        F.pad(X, (2, 2, 2, 2), mode="reflect").sum().backward()
        X.grad = None

    def numpy_pad_backward():   # the adjoint of reflect padding: fold the borders back in, cols then rows
        g = np.ones((8, 32, 36, 36), np.float32)     # d(sum)/d(padded)
        gc = g[:, :, :, 2:34].copy()
        gc[:, :, :, 1:3] += g[:, :, :, 1::-1]
        gc[:, :, :, -3:-1] += g[:, :, :, :-3:-1]
        gx = gc[:, :, 2:34].copy()
        gx[:, :, 1:3] += gc[:, :, 1::-1]
        gx[:, :, -3:-1] += gc[:, :, :-3:-1]
        return gx

    F.pad(X, (2, 2, 2, 2), mode="reflect").sum().backward()
    np.testing.assert_array_equal(X.grad.numpy(), numpy_pad_backward())
    X.grad = None
    cs = [("plugtorch pad reflect fwd+bwd", pt_pad_backward), ("numpy adjoint by hand", numpy_pad_backward)]
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_()

        def torch_pad_backward():
            torch.nn.functional.pad(tx, (2, 2, 2, 2), mode="reflect").sum().backward()
            tx.grad = None
        cs.append(("pytorch pad reflect fwd+bwd", torch_pad_backward))
    report("pad reflect 2, (8, 32, 32, 32), forward + backward, float32 ms", cs)


def bench_antialias(torch, rng):
    x = rng.standard_normal((1, 3, 256, 256), dtype=np.float32)
    X = pt.from_numpy(x)

    def numpy_bicubic_aa():   # PIL's widened Keys cubic (a = -0.5), one normalized matrix per dim
        s, n_in, n_out = 256 / 96, 256, 96
        center = s * (np.arange(n_out) + 0.5)
        v = np.abs((np.arange(n_in)[None, :] - center[:, None] + 0.5) / s)
        w = np.where(v < 1, (1.5 * v - 2.5) * v * v + 1, np.where(v < 2, ((-0.5 * v + 2.5) * v - 4) * v + 2, 0.0))
        lo = np.maximum(np.trunc(center - 2 * s + 0.5), 0)[:, None]
        hi = np.minimum(np.trunc(center + 2 * s + 0.5), n_in)[:, None]
        j = np.arange(n_in)[None, :]
        w = np.where((j >= lo) & (j < hi), w, 0.0)
        a = (w / w.sum(1, keepdims=True)).astype(np.float32)
        return a @ x @ a.T

    np.testing.assert_allclose(F.interpolate(X, size=(96, 96), mode="bicubic", antialias=True).numpy(),
                               numpy_bicubic_aa(), rtol=1e-4, atol=1e-5)
    cs = [("plugtorch interpolate bicubic aa", lambda: F.interpolate(X, size=(96, 96), mode="bicubic",
                                                                      antialias=True)),
          ("numpy weight matrices", numpy_bicubic_aa)]
    if torch is not None:
        tx = torch.from_numpy(x)
        cs.append(("pytorch interpolate bicubic aa", lambda: torch.nn.functional.interpolate(
            tx, size=(96, 96), mode="bicubic", antialias=True)))
    report("interpolate bicubic antialias 256 -> 96, (1, 3), float32 ms", cs)


def bench_topk(torch, rng):
    x = rng.standard_normal((256, 1000), dtype=np.float32)
    X = pt.from_numpy(x)
    XG = pt.from_numpy(x.copy()).requires_grad_()

    def numpy_topk():   # argpartition, then sort the k picked
        part = np.argpartition(-x, 10, axis=-1)[:, :10]
        v = np.take_along_axis(x, part, -1)
        order = np.argsort(-v, axis=-1, kind="stable")
        return np.take_along_axis(v, order, -1), np.take_along_axis(part, order, -1)

    np.testing.assert_array_equal(pt.topk(X, 10).values.numpy(), numpy_topk()[0])

    def pt_topk_backward():
        pt.topk(XG, 10).values.sum().backward()
        XG.grad = None

    cs = [("plugtorch topk", lambda: pt.topk(X, 10)), ("numpy argpartition + sort", numpy_topk)]
    if torch is not None:
        tx = torch.from_numpy(x)
        cs.append(("pytorch topk", lambda: torch.topk(tx, 10)))
    report("topk k=10 along the last dim of (256, 1000), float32 ms", cs)
    cs = [("plugtorch topk fwd+bwd", pt_topk_backward), ("numpy argpartition + sort", numpy_topk)]
    if torch is not None:
        tg = torch.from_numpy(x.copy()).requires_grad_()

        def torch_topk_backward():
            torch.topk(tg, 10).values.sum().backward()
            tg.grad = None
        cs.append(("pytorch topk fwd+bwd", torch_topk_backward))
    report("topk k=10 (256, 1000), forward + backward, float32 ms", cs)


def bench_linear3d(torch, rng):
    x = rng.standard_normal((8, 64, 256), dtype=np.float32)
    w = rng.standard_normal((768, 256), dtype=np.float32)
    b = rng.standard_normal(768, dtype=np.float32)
    X, W, B = pt.from_numpy(x).transpose(0, 1), pt.from_numpy(w), pt.from_numpy(b)   # (L, N, E) as MHA's
    xt = x.transpose(1, 0, 2)

    def numpy_linear():   # one gemm over all rows
        return (np.ascontiguousarray(xt).reshape(-1, 256) @ w.T + b).reshape(64, 8, 768)

    with pt.no_grad():
        np.testing.assert_allclose(F.linear(X, W, B).numpy(), numpy_linear(), rtol=1e-4, atol=1e-4)
    cs = [("plugtorch F.linear", lambda: F.linear(X, W, B)), ("numpy reshape + one matmul", numpy_linear)]
    if torch is not None:
        tx, tw, tb = torch.from_numpy(x).transpose(0, 1), torch.from_numpy(w), torch.from_numpy(b)
        cs.append(("pytorch F.linear", lambda: torch.nn.functional.linear(tx, tw, tb)))
    with pt.no_grad():
        report("linear of a (64, 8, 256) transposed view, 256 -> 768, float32 ms", cs)

    mha = pt.nn.MultiheadAttention(256, 8, batch_first=True)
    Xb = pt.from_numpy(x)
    q_w, q_b = mha.in_proj_weight.detach().numpy(), mha.in_proj_bias.detach().numpy()
    o_w, o_b = mha.out_proj.weight.detach().numpy(), mha.out_proj.bias.detach().numpy()

    def numpy_mha():
        qkv = (x.reshape(-1, 256) @ q_w.T + q_b).reshape(8, 64, 3, 8, 32).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(np.float32(32))
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        o = (p @ v).transpose(0, 2, 1, 3).reshape(-1, 256)
        return (o @ o_w.T + o_b).reshape(8, 64, 256)

    with pt.no_grad():
        np.testing.assert_allclose(mha(Xb, Xb, Xb, need_weights=False)[0].numpy(), numpy_mha(), rtol=1e-3, atol=1e-4)
        cs = [("plugtorch nn.MultiheadAttention", lambda: mha(Xb, Xb, Xb, need_weights=False)),
              ("numpy by hand", numpy_mha)]
        if torch is not None:
            tm = torch.nn.MultiheadAttention(256, 8, batch_first=True)
            tm.load_state_dict({k: torch.from_numpy(v.detach().numpy()) for k, v in mha.state_dict().items()})
            txb = torch.from_numpy(x)
            tm.eval()
            cs.append(("pytorch nn.MultiheadAttention", lambda: tm(txb, txb, txb, need_weights=False)))
            with torch.no_grad():
                report("MultiheadAttention 256, 8 heads, (8, 64, 256) self-attention, float32 ms", cs)
        else:
            report("MultiheadAttention 256, 8 heads, (8, 64, 256) self-attention, float32 ms", cs)


def bench_depthwise(torch, rng):
    x = rng.standard_normal((8, 64, 32, 32), dtype=np.float32)
    w = rng.standard_normal((64, 1, 3, 3), dtype=np.float32)
    g = rng.standard_normal((8, 64, 32, 32), dtype=np.float32)
    X, W, G = pt.from_numpy(x).requires_grad_(), pt.from_numpy(w).requires_grad_(), pt.from_numpy(g)

    def pt_dw():
        F.conv2d(X, W, padding=1, groups=64).backward(G)
        X.grad = W.grad = None

    def numpy_dw():   # 9 shifted multiply-adds forward; backward: 9 products each way
        xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        out = np.zeros_like(x)
        for i in range(3):
            for j in range(3):
                out += xp[:, :, i:i + 32, j:j + 32] * w[None, :, 0, i, j, None, None]
        gp = np.zeros_like(xp)
        gw = np.empty_like(w)
        for i in range(3):
            for j in range(3):
                gp[:, :, i:i + 32, j:j + 32] += g * w[None, :, 0, i, j, None, None]
                gw[:, 0, i, j] = np.einsum("nchw,nchw->c", g, xp[:, :, i:i + 32, j:j + 32])
        return out, gp[:, :, 1:33, 1:33], gw

    cs = [("plugtorch conv2d depthwise fwd+bwd", pt_dw), ("numpy shifted products", numpy_dw)]
    if torch is not None:
        tx, tw, tg = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_(), torch.from_numpy(g)

        def torch_dw():
            torch.nn.functional.conv2d(tx, tw, padding=1, groups=64).backward(tg)
            tx.grad = tw.grad = None
        cs.append(("pytorch conv2d depthwise fwd+bwd", torch_dw))
    report("conv2d depthwise 3x3, (8, 64, 32, 32), forward + backward, float32 ms", cs)


def bench_scatter(torch, rng):
    x = rng.standard_normal((8, 32, 64, 64), dtype=np.float32)
    X = pt.from_numpy(x).requires_grad_()

    def pt_pool():
        F.max_pool2d(X, 3, 2, 1).sum().backward()
        X.grad = None

    def numpy_pool():   # windows, argmax, the ones added back at the argmax positions (flat add.at)
        xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
        win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))[:, :, ::2, ::2]
        flat = win.reshape(8, 32, 32, 32, 9)
        a = flat.argmax(-1)
        out = np.take_along_axis(flat, a[..., None], -1)[..., 0]
        rows = np.arange(32)[:, None] * 2 + a // 3
        cols = np.arange(32)[None, :] * 2 + a % 3
        lin = (np.arange(8 * 32)[:, None, None] * 66 * 66).reshape(8, 32, 1, 1) + rows * 66 + cols
        g = np.zeros(8 * 32 * 66 * 66, np.float32)
        np.add.at(g, lin.reshape(-1), np.ones(lin.size, np.float32))
        return out, g.reshape(8, 32, 66, 66)[:, :, 1:65, 1:65]

    F.max_pool2d(X, 3, 2, 1).sum().backward()
    np.testing.assert_array_equal(X.grad.numpy(), numpy_pool()[1])
    X.grad = None
    cs = [("plugtorch max_pool2d fwd+bwd", pt_pool), ("numpy windows + flat add.at", numpy_pool)]
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_()

        def torch_pool():
            torch.nn.functional.max_pool2d(tx, 3, 2, 1).sum().backward()
            tx.grad = None
        cs.append(("pytorch max_pool2d fwd+bwd", torch_pool))
    report("max_pool2d 3, stride 2, padding 1, (8, 32, 64, 64), forward + backward, float32 ms", cs)


def bench_short_sum(torch, rng):
    v = rng.standard_normal((65536, 3), dtype=np.float32)
    V = pt.from_numpy(v)

    def numpy_rows():   # the same adds, in order from 0.0, across the rows
        r = v[:, 0] + 0.0
        r += v[:, 1]
        r += v[:, 2]
        return r

    np.testing.assert_array_equal(V.sum(-1).numpy(), numpy_rows())
    cs = [("plugtorch Tensor.sum(-1)", lambda: V.sum(-1)), ("numpy adds across rows", numpy_rows),
          ("numpy add.reduce(-1)", lambda: np.add.reduce(v, -1))]
    if torch is not None:
        tv = torch.from_numpy(v)
        cs.append(("pytorch Tensor.sum(-1)", lambda: tv.sum(-1)))
    report("sum over a last dim of 3, (65536, 3), float32 ms", cs)

    w = rng.standard_normal((65536, 16), dtype=np.float32)
    W = pt.from_numpy(w)

    def numpy_pairwise():   # NumPy's pairwise sum of 16: eight running sums, a tree, then to 0.0
        a = [w[:, j] + w[:, j + 8] for j in range(8)]
        r = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
        r += 0.0
        return r

    np.testing.assert_array_equal(W.sum(-1).numpy(), numpy_pairwise())
    cs = [("plugtorch Tensor.sum(-1)", lambda: W.sum(-1)), ("numpy pairwise across rows", numpy_pairwise),
          ("numpy add.reduce(-1)", lambda: np.add.reduce(w, -1))]
    if torch is not None:
        tw = torch.from_numpy(w)
        cs.append(("pytorch Tensor.sum(-1)", lambda: tw.sum(-1)))
    report("sum over a last dim of 16, (65536, 16), float32 ms", cs)


def _numpy_recurrence(mode, xw, w_hh_t, b_hh):
    """The forward recurrence in NumPy, the input projection done beforehand (as plugtorch's and torch's)."""
    T, B = xw.shape[:2]
    n = w_hh_t.shape[0]
    h = np.zeros((B, n), xw.dtype)
    c = np.zeros((B, n), xw.dtype)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    out = np.empty((T, B, n), xw.dtype)
    for t in range(T):
        if mode == "LSTM":
            g = xw[t] + h @ w_hh_t
            s = sig(g)
            c = s[:, n:2 * n] * c + s[:, :n] * np.tanh(g[:, 2 * n:3 * n])
            h = s[:, 3 * n:] * np.tanh(c)
        elif mode == "GRU":
            hh = h @ w_hh_t + b_hh
            rz = sig(xw[t, :, :2 * n] + hh[:, :2 * n])
            nn_ = np.tanh(xw[t, :, 2 * n:] + rz[:, :n] * hh[:, 2 * n:])
            h = (1 - rz[:, n:]) * nn_ + rz[:, n:] * h
        else:
            h = np.tanh(xw[t] + h @ w_hh_t)
        out[t] = h
    return out


def bench_rnn(torch, rng):
    """nn.LSTM / GRU / RNN, seq 32, batch 16, 64 -> 128, float32: forward under no_grad, and forward +
    backward of out.sum() with the input and the weights requiring grad, padded and packed (NumPy:
    the forward only)."""
    T, B, I, H = 32, 16, 64, 128
    x = rng.standard_normal((T, B, I), dtype=np.float32)
    for mode in ("LSTM", "GRU", "RNN"):
        pt.manual_seed(0)
        m = getattr(pt.nn, mode)(I, H)
        X = pt.from_numpy(x)
        Xg = pt.from_numpy(x.copy()).requires_grad_()
        w_ih, w_hh = m.weight_ih_l0.detach().numpy(), m.weight_hh_l0.detach().numpy()
        b_ih, b_hh = m.bias_ih_l0.detach().numpy(), m.bias_hh_l0.detach().numpy()
        w_hh_t = np.ascontiguousarray(w_hh.T)

        def numpy_fwd():
            b = b_ih if mode == "GRU" else b_ih + b_hh
            return _numpy_recurrence(mode, x @ w_ih.T + b, w_hh_t, b_hh)

        def pt_fwd():
            with pt.no_grad():
                return m(X)[0]

        def pt_fwd_bwd():
            m(Xg)[0].sum().backward()

        np.testing.assert_allclose(pt_fwd().numpy(), numpy_fwd(), rtol=1e-4, atol=1e-5)
        lengths = sorted(rng.integers(1, T + 1, B).tolist(), reverse=True)
        lengths[0] = T

        def pt_packed():
            m(pt.nn.utils.rnn.pack_padded_sequence(Xg, lengths))[0].data.sum().backward()
        cs = [(f"plugtorch nn.{mode} forward", pt_fwd), ("numpy forward by hand", numpy_fwd)]
        bw = [(f"plugtorch nn.{mode} forward+backward", pt_fwd_bwd),
              ("  the same, packed (lengths 1..32)", pt_packed)]
        if torch is not None:
            tm = getattr(torch.nn, mode)(I, H)
            tx = torch.from_numpy(x)
            txg = torch.from_numpy(x.copy()).requires_grad_()

            def t_fwd():
                with torch.no_grad():
                    return tm(tx)[0]

            def t_fwd_bwd():
                tm(txg)[0].sum().backward()

            def t_packed():
                tm(torch.nn.utils.rnn.pack_padded_sequence(txg, lengths))[0].data.sum().backward()
            cs.append((f"pytorch nn.{mode} forward", t_fwd))
            bw += [(f"pytorch nn.{mode} forward+backward", t_fwd_bwd), ("  the same, packed", t_packed)]
        report(f"nn.{mode}, seq {T}, batch {B}, {I} -> {H}, float32 ms", cs)
        times = alternate([f for _, f in bw], repeat=15)
        for k, ((name, _), t) in enumerate(zip(bw, times)):
            ref = times[k + 2] if len(bw) == 4 and k < 2 else None     # plugtorch's against pytorch's
            row(name, t, "ms", ref, "pytorch")

def bench_einsum(torch, rng):
    a = rng.standard_normal((16, 64, 32), dtype=np.float32)
    b = rng.standard_normal((16, 32, 48), dtype=np.float32)
    A, B = pt.from_numpy(a), pt.from_numpy(b)
    np.testing.assert_allclose(pt.einsum("bij,bjk->bik", A, B).numpy(), a @ b, rtol=1e-5, atol=1e-5)
    cs = [("plugtorch einsum", lambda: pt.einsum("bij,bjk->bik", A, B)), ("numpy matmul", lambda: np.matmul(a, b)),
          ("numpy einsum", lambda: np.einsum("bij,bjk->bik", a, b))]
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        cs.append(("pytorch einsum", lambda: torch.einsum("bij,bjk->bik", ta, tb)))
    report("einsum bij,bjk->bik, (16, 64, 32) x (16, 32, 48), float32 ms", cs)

    q = rng.standard_normal((8, 8, 64, 32), dtype=np.float32)
    Q = pt.from_numpy(q).requires_grad_()

    def pt_scores():
        pt.einsum("bhqd,bhkd->bhqk", Q, Q).sum().backward()
        Q.grad = None
    cs = [("plugtorch einsum fwd+bwd", pt_scores),
          ("numpy matmul fwd+bwd", lambda: (q @ q.swapaxes(-1, -2), 2 * (np.ones((8, 8, 64, 64), np.float32) @ q)))]
    if torch is not None:
        tq = torch.from_numpy(q).requires_grad_()

        def torch_scores():
            torch.einsum("bhqd,bhkd->bhqk", tq, tq).sum().backward()
            tq.grad = None
        cs.append(("pytorch einsum fwd+bwd", torch_scores))
    report("einsum bhqd,bhkd->bhqk, (8, 8, 64, 32), forward + backward, float32 ms", cs)


def bench_stack(torch, rng):
    parts = [rng.standard_normal((64, 128), dtype=np.float32) for _ in range(16)]
    P = [pt.from_numpy(p) for p in parts]
    cs = [("plugtorch stack", lambda: pt.stack(P)), ("numpy stack", lambda: np.stack(parts))]
    if torch is not None:
        tp = [torch.from_numpy(p) for p in parts]
        cs.append(("pytorch stack", lambda: torch.stack(tp)))
    report("stack of 16 (64, 128) float32 tensors, dim 0, ms", cs)


BENCHES = {"fold": bench_fold, "index_add": bench_index_add, "antialias": bench_antialias, "topk": bench_topk,
           "linear3d": bench_linear3d, "depthwise": bench_depthwise, "scatter": bench_scatter,
           "short_sum": bench_short_sum, "rnn": bench_rnn, "einsum": bench_einsum, "stack": bench_stack}


def main(names, benches=None):
    """Run the benchmarks named (all when none) of ``benches`` (default: this file's)."""
    torch = try_import_torch()
    if torch is not None:
        torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    for name, fn in (benches or BENCHES).items():
        if not names or name in names:
            fn(torch, rng)


if __name__ == "__main__":
    main(sys.argv[1:])
