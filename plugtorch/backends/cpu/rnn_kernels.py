"""cpu kernel of ``_rnn_layer`` (plugtorch/dispatch/ops/rnn.py): the recurrence of one layer and
direction stepped in NumPy, each step a few array operations written into preallocated outputs,
where the decomposition dispatches a dozen ops per step (and nn.LSTM / GRU at small sizes spent
most of their time in that dispatch). The arithmetic is the decomposition's, op for op: the same
matmul of a contiguous transposed weight, sigmoid as 1 / (1 + exp(-x)), tanh, and the same order
of products and sums, so float32 and float64 results are the decomposition's bits; float16 and
bfloat16 compute each op in float32 and round it to their dtype, as the cpu kernels of those ops."""
from __future__ import annotations

import numpy as np

from plugtorch import _dtypes
from plugtorch._packed_batch import offsets, rejoin, resize

_HALVES = (np.dtype(np.float16), np.dtype(_dtypes.bfloat16.numpy))
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _steps(xw, batch_sizes):
    """The batch size of each step and the offsets of its rows in the packed rows (padded ``xw``:
    seq steps of its whole batch)."""
    bs = list(batch_sizes) if batch_sizes is not None else [xw.shape[1]] * xw.shape[0]
    return bs, offsets(bs)


def _rows(x, a, b):
    return x[a:b]


def rnn_layer(xw, h0, c0, w_hh, b_hh, w_hr, mode, reverse, batch_sizes):
    arrays = [a for a in (xw, h0, c0, w_hh, b_hh, w_hr) if a is not None]
    dt = np.result_type(*arrays)
    half = dt in _HALVES
    ct = np.dtype(np.float32) if half else dt
    if half:
        def rd(a):   # one op's rounding to the tensors' dtype
            return a.astype(dt).astype(ct)
    else:
        def rd(a):
            return a
    one = ct.type(1)

    def sigmoid(a):   # 1 / (1 + exp(-a)), in one buffer
        r = np.negative(a)
        np.exp(r, out=r)
        np.add(one, r, out=r)
        return np.divide(one, r, out=r)
    lstm, gru = mode == "LSTM", mode == "GRU"
    packed = batch_sizes is not None
    bs, off = _steps(xw, batch_sizes)
    seq = len(bs)
    rows = off[-1]
    x2 = (xw if packed else xw.reshape(-1, xw.shape[-1])).astype(ct, copy=False)
    w_hh_t = np.ascontiguousarray(w_hh.T.astype(ct, copy=False))
    w_hr_t = None if w_hr is None else np.ascontiguousarray(w_hr.T.astype(ct, copy=False))
    b_hh = None if b_hh is None else b_hh.astype(ct, copy=False)
    h0 = h0.astype(ct, copy=False)
    c0 = None if c0 is None else c0.astype(ct, copy=False)
    n = w_hh.shape[0] // _GATES[mode]
    hs = h0.shape[1]
    out = np.empty((rows, hs), ct)
    hps = np.empty((rows, hs), ct)
    if lstm:
        cps = np.empty((rows, n), ct)
        cs = np.empty((rows, n), ct)
    if lstm or gru:
        ws = np.empty((rows, w_hh.shape[0]), ct)
    h, c = h0, c0
    done = [], []
    if not reverse:
        m = bs[0]
        order = range(seq)
    else:
        m = 0
        order = range(seq - 1, -1, -1)
    for t in order:
        (h, c), m = resize((h, c), (h0, c0), done, m, bs[t], not reverse, _rows, np.concatenate)
        a, z = off[t], off[t + 1]
        hps[a:z] = h
        x = x2[a:z]
        if lstm:
            cps[a:z] = c
            gates = ws[a:z]
            np.add(x, rd(np.matmul(h, w_hh_t)), out=gates)
            if half:
                gates[...] = rd(gates)
            s = rd(sigmoid(gates))
            if half:
                c = rd(rd(s[:, n:2 * n] * c) + rd(s[:, :n] * rd(np.tanh(gates[:, 2 * n:3 * n]))))
                cs[a:z] = c
                h = rd(s[:, 3 * n:] * rd(np.tanh(c)))
            else:
                ig = np.tanh(gates[:, 2 * n:3 * n])
                np.multiply(s[:, :n], ig, out=ig)
                c = np.multiply(s[:, n:2 * n], c, out=cs[a:z])
                c += ig
                h = np.tanh(c)
                np.multiply(s[:, 3 * n:], h, out=h)
            if w_hr_t is not None:
                h = rd(np.matmul(h, w_hr_t))
        elif gru:
            hh = rd(np.matmul(h, w_hh_t))
            if b_hh is not None:
                hh = rd(hh + b_hh)
            ws[a:z] = hh
            rz = rd(sigmoid(rd(x[:, :2 * n] + hh[:, :2 * n])))
            nn_ = rd(np.tanh(rd(x[:, 2 * n:] + rd(rz[:, :n] * hh[:, 2 * n:]))))
            zz = rz[:, n:]
            h = rd(rd(rd(one - zz) * nn_) + rd(zz * h))
        else:
            pre = rd(x + rd(np.matmul(h, w_hh_t)))
            h = rd(np.tanh(pre)) if mode == "RNN_TANH" else np.where(pre < 0, ct.type(0), pre)
        out[a:z] = h
        h = out[a:z]
    if done[0]:
        h, c = rejoin((h, c), done, np.concatenate)
    else:   # (h and c are views of out and cs)
        h, c = h.copy(), None if c is None else c.copy()
    if not packed:
        out = out.reshape(seq, bs[0], hs)
    res = (out, h, c) if lstm else (out, h)
    res += (hps,)
    if lstm:
        res += (cps, cs, ws)
    elif gru:
        res += (ws,)
    return tuple(r.astype(dt, copy=False) for r in res)


def rnn_layer_backward(dout, dhn, dcn, xw, w_hh, w_hr, out, h_prev, c_prev, c_all, ws, mode, reverse, bias,
                       batch_sizes):
    """The decomposition's backpropagation through time (its arithmetic op for op: float32 and
    float64 give its bits), into preallocated gradients; float16 and bfloat16 compute in float32
    and round once at the end."""
    dt = out.dtype
    ct = np.dtype(np.float32) if dt in _HALVES else dt

    def f(a):
        return None if a is None else a.astype(ct, copy=False)
    dout, dhn, dcn, xw, w_hh, w_hr, out, h_prev, c_prev, c_all, ws = map(
        f, (dout, dhn, dcn, xw, w_hh, w_hr, out, h_prev, c_prev, c_all, ws))
    one = ct.type(1)
    lstm, gru = mode == "LSTM", mode == "GRU"
    packed = batch_sizes is not None
    bs, off = _steps(xw, batch_sizes)
    seq = len(bs)
    n = w_hh.shape[0] // _GATES[mode]
    x2 = xw if packed else xw.reshape(-1, xw.shape[-1])
    out = out if packed else out.reshape(-1, out.shape[-1])
    dout = dout if packed else dout.reshape(-1, dout.shape[-1])
    if lstm:
        s = np.divide(one, np.add(one, np.exp(np.negative(ws))))
        gg = np.tanh(ws[:, 2 * n:3 * n])
        tc = np.tanh(c_all)
        ds = s * (one - s)
        i, fg, o = s[:, :n], s[:, n:2 * n], s[:, 3 * n:]
        p = np.concatenate([gg * ds[:, :n], c_prev * ds[:, n:2 * n], i * (one - gg * gg), tc * ds[:, 3 * n:]], -1)
        k = o * (one - tc * tc)
    elif gru:
        hh = ws
        rz = np.divide(one, np.add(one, np.exp(np.negative(x2[:, :2 * n] + hh[:, :2 * n]))))
        hn = hh[:, 2 * n:]
        nn_ = np.tanh(x2[:, 2 * n:] + rz[:, :n] * hn)
        drz = rz * (one - rz)
        z = rz[:, n:]
        q = np.concatenate([hn * drz[:, :n], (h_prev - nn_) * drz[:, n:], rz[:, :n]], -1)
        b_ = (one - z) * (one - nn_ * nn_)
    else:
        deriv = (one - out * out) if mode == "RNN_TANH" else (out > 0).astype(ct)
    d_pre = np.empty((off[-1], w_hh.shape[0]), ct)
    dns = np.empty((off[-1], n), ct) if gru else None
    dhs = np.empty((off[-1], dhn.shape[1]), ct) if w_hr is not None else None
    dh, dc, m = (dhn, dcn, bs[0]) if reverse and bs else (None, None, 0)
    started = [], []   # reverse: the rows of dh0 (dc0) of the sequences that start at a step
    for t in (range(seq) if reverse else range(seq - 1, -1, -1)):
        (dh, dc), m = resize((dh, dc), (dhn, dcn), started, m, bs[t], reverse, _rows, np.concatenate)
        a, e = off[t], off[t + 1]
        dh = dh + dout[a:e]
        dg = d_pre[a:e]
        if lstm:
            if w_hr is not None:
                dhs[a:e] = dh
                dh = np.matmul(dh, w_hr)
            dc = dc + dh * k[a:e]
            np.multiply(np.concatenate([dc, dc, dc, dh], -1), p[a:e], out=dg)
            dc = dc * fg[a:e]
        elif gru:
            dn = np.multiply(dh, b_[a:e], out=dns[a:e])
            np.multiply(np.concatenate([dn, dh, dn], -1), q[a:e], out=dg)
            dh = dh * z[a:e]
        else:
            np.multiply(dh, deriv[a:e], out=dg)
        dh = np.matmul(dg, w_hh) if not gru else dh + np.matmul(dg, w_hh)
    dh, dc = rejoin((dh, dc), started, np.concatenate)
    d_xw = np.concatenate([d_pre[:, :2 * n], dns], -1) if gru else d_pre
    if not packed:
        d_xw = d_xw.reshape(xw.shape)
    d_hh = np.matmul(d_pre.T, h_prev)
    d_bhh = np.add.reduce(d_pre, axis=0) if gru and bias else None
    d_hr = np.matmul(dhs.T, o * tc) if w_hr is not None else None
    res = (d_xw, dh, dc if lstm else None, d_hh, d_bhh, d_hr)
    return tuple(None if r is None else r.astype(dt) if r.dtype != dt or r is dhn or r is dcn else r for r in res)


KERNELS = {"_rnn_layer": rnn_layer, "_rnn_layer_backward": rnn_layer_backward}
