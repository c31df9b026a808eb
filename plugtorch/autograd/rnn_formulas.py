"""The backward formula of ``_rnn_layer`` (plugtorch/dispatch/ops/rnn.py): backpropagation through
time written out over the packed rows (a padded input is packed rows of equal batch sizes). The
activations of every step are recomputed at once from the op's workspace outputs, and every factor
that does not depend on the incoming gradient is computed for all steps; the loop over time then
runs a few ops per step, and the hidden (and projection) weights' gradients are one matmul each
over all steps. With create_graph the cells run again under autograd, so higher derivatives are
exact."""
from __future__ import annotations

import plugtorch as pt
from plugtorch.autograd.formulas import derivative
from plugtorch.dispatch.ops.rnn import GATES, _cols, _rows, offsets


def _rnn_layer_grad(g, xw, h0, c0, w_hh, b_hh, w_hr, mode, reverse, batch_sizes=None, *, result):
    if pt.is_grad_enabled():
        return _recorded(g, xw, h0, c0, w_hh, b_hh, w_hr, mode, reverse, batch_sizes)
    lstm = mode == "LSTM"
    packed = batch_sizes is not None
    bs = [int(b) for b in batch_sizes] if packed else [xw.shape[1]] * xw.shape[0]
    off = offsets(bs)
    seq = len(bs)
    n = w_hh.shape[0] // GATES[mode]
    x2 = xw if packed else xw.reshape(-1, xw.shape[-1])
    out = result[0] if packed else result[0].reshape(-1, result[0].shape[-1])
    dout = g[0] if packed else g[0].reshape(-1, g[0].shape[-1])
    dhn, dcn = g[1], (g[2] if lstm else None)
    h_prev = result[3 if lstm else 2]

    def rows(x, t):
        return _rows(x, off[t], off[t + 1])
    if lstm:
        c_prev, c_all, gates = result[4:7]
        s = gates.sigmoid()
        gg = _cols(gates, 2 * n, 3 * n).tanh()
        tc = c_all.tanh()
        ds = s * (1 - s)
        i, f, o = _cols(s, 0, n), _cols(s, n, 2 * n), _cols(s, 3 * n, 4 * n)
        # d gates = [dc, dc, dc, dh_full] * p; dc gains dh_full * k at each step
        p = pt.cat([gg * _cols(ds, 0, n), c_prev * _cols(ds, n, 2 * n), i * (1 - gg * gg),
                    tc * _cols(ds, 3 * n, 4 * n)], -1)
        k = o * (1 - tc * tc)
    elif mode == "GRU":
        hh = result[3]
        rz = (_cols(x2, 0, 2 * n) + _cols(hh, 0, 2 * n)).sigmoid()
        hn = _cols(hh, 2 * n, 3 * n)
        nn_ = (_cols(x2, 2 * n, 3 * n) + _cols(rz, 0, n) * hn).tanh()
        drz = rz * (1 - rz)
        z = _cols(rz, n, 2 * n)
        # [d r_pre, d z_pre, d hh_n] = [dn_pre, dh, dn_pre] * q, with dn_pre = dh * b
        q = pt.cat([hn * _cols(drz, 0, n), (h_prev - nn_) * _cols(drz, n, 2 * n), _cols(rz, 0, n)], -1)
        b_ = (1 - z) * (1 - nn_ * nn_)
    else:
        deriv = (1 - out * out) if mode == "RNN_TANH" else (out > 0).to(out.dtype)
    steps = [None] * seq
    dns = [None] * seq if mode == "GRU" else None
    dhs = [None] * seq if w_hr is not None else None
    dh = dc = None
    m = 0
    h0_parts, c0_parts = [], []       # reverse: the rows of dh0 (dc0) of the sequences starting at a step
    for t in (range(seq) if reverse else range(seq - 1, -1, -1)):
        b = bs[t]
        if not reverse and b > m:      # sequences ending at step t: their final state's gradient joins
            dh = pt.cat([dh, _rows(dhn, m, b)]) if m else _rows(dhn, 0, b)
            if lstm:
                dc = pt.cat([dc, _rows(dcn, m, b)]) if m else _rows(dcn, 0, b)
            m = b
        elif reverse and dh is None:
            dh, dc, m = dhn, dcn, b
        elif reverse and b < m:        # sequences that started at step t - 1: their h0's gradient
            h0_parts.append(_rows(dh, b, m))
            dh = _rows(dh, 0, b)
            if lstm:
                c0_parts.append(_rows(dc, b, m))
                dc = _rows(dc, 0, b)
            m = b
        dh = dh + rows(dout, t)
        if lstm:
            if w_hr is not None:
                dhs[t] = dh
                dh = dh @ w_hr
            dc = dc + dh * rows(k, t)
            dg = pt.cat([dc, dc, dc, dh], -1) * rows(p, t)
            dc = dc * rows(f, t)
        elif mode == "GRU":
            dn = dh * rows(b_, t)
            dg = pt.cat([dn, dh, dn], -1) * rows(q, t)
            dns[t] = dn
            dh = dh * rows(z, t)
        else:
            dg = dh * rows(deriv, t)
        steps[t] = dg
        dh = dg @ w_hh if mode != "GRU" else dh + dg @ w_hh
    if reverse:
        dh = pt.cat([dh] + h0_parts[::-1]) if h0_parts else dh
        dc = (pt.cat([dc] + c0_parts[::-1]) if c0_parts else dc) if lstm else None
    d_pre = pt.cat(steps)
    d_xw = pt.cat([_cols(d_pre, 0, 2 * n), pt.cat(dns)], -1) if mode == "GRU" else d_pre
    if not packed:
        d_xw = d_xw.view(tuple(xw.shape))
    d_hh = d_pre.t() @ h_prev
    d_bhh = d_pre.sum(0) if mode == "GRU" and b_hh is not None else None
    d_hr = pt.cat(dhs).t() @ (o * tc) if w_hr is not None else None
    return d_xw, dh, (dc if lstm else None), d_hh, d_bhh, d_hr


def _recorded(g, xw, h0, c0, w_hh, b_hh, w_hr, mode, reverse, batch_sizes):
    """create_graph: the decomposition run again under autograd, differentiated op by op."""
    from plugtorch.dispatch.ops.rnn import _rnn_layer
    inputs = [xw, h0, c0, w_hh, b_hh, w_hr]
    need = [k for k, x in enumerate(inputs) if x is not None and x.requires_grad]
    outs = _rnn_layer(*inputs, mode, reverse, batch_sizes)[:3 if mode == "LSTM" else 2]
    got = pt.autograd.grad(outs, [inputs[k] for k in need], list(g[:len(outs)]), create_graph=True,
                           allow_unused=True)
    res = [None] * 6
    for k, gk in zip(need, got):
        res[k] = gk
    return tuple(res)


derivative("_rnn_layer", _rnn_layer_grad, result=True)
