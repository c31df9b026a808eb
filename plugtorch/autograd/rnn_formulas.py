"""The backward formula of ``_rnn_layer`` (plugtorch/dispatch/ops/rnn.py): backpropagation through
time written out. The activations of every step are recomputed at once from the op's workspace
outputs, and every factor that does not depend on the incoming gradient is computed for all steps;
the loop over time then runs a few ops per step, and the hidden (and projection) weights'
gradients are one matmul each over all steps. With create_graph the cells run again under
autograd, so higher derivatives are exact."""
from __future__ import annotations

import plugtorch as pt
from plugtorch.autograd.formulas import derivative
from plugtorch.dispatch.ops.rnn import GATES, _cols, stack


def _rnn_layer_grad(g, xw, h0, c0, w_hh, b_hh, w_hr, mode, reverse, result):
    if pt.is_grad_enabled():
        return _recorded(g, xw, h0, c0, w_hh, b_hh, w_hr, mode, reverse)
    out = result[0]
    dout, dh = g[0], g[1]
    seq = xw.shape[0]
    n = w_hh.shape[0] // GATES[mode]
    first = h0.unsqueeze(0)       # the state each step started from: h0, then the outputs
    h_prev = (pt.cat([out[1:], first]) if reverse else pt.cat([first, out[:-1]])) if seq > 1 else first
    order = range(seq) if reverse else range(seq - 1, -1, -1)
    douts = dout.unbind(0)
    steps = [None] * seq
    d_c0 = d_bhh = d_hr = None
    if mode == "LSTM":
        c_all, gates = result[3], result[4]
        c_first = c0.unsqueeze(0)
        c_prev = (pt.cat([c_all[1:], c_first]) if reverse else pt.cat([c_first, c_all[:-1]])) if seq > 1 else c_first
        s = gates.sigmoid()
        gg = _cols(gates, 2 * n, 3 * n).tanh()
        tc = c_all.tanh()
        ds = s * (1 - s)
        i, f, o = _cols(s, 0, n), _cols(s, n, 2 * n), _cols(s, 3 * n, 4 * n)
        # d gates = [dc, dc, dc, dh_full] * p; dc gains dh_full * k at each step
        p = pt.cat([gg * _cols(ds, 0, n), c_prev * _cols(ds, n, 2 * n), i * (1 - gg * gg),
                    tc * _cols(ds, 3 * n, 4 * n)], -1).unbind(0)
        k = (o * (1 - tc * tc)).unbind(0)
        f = f.unbind(0)
        dc = g[2]
        dhs = [None] * seq if w_hr is not None else None
        for t in order:
            dh = dh + douts[t]
            if w_hr is not None:
                dhs[t] = dh
                dh = dh @ w_hr
            dc = dc + dh * k[t]
            dg = pt.cat([dc, dc, dc, dh], -1) * p[t]
            steps[t] = dg
            dc = dc * f[t]
            dh = dg @ w_hh
        d_xw = d_pre = stack(steps)
        if w_hr is not None:
            d_hr = stack(dhs).flatten(0, -2).t() @ (o * tc).flatten(0, -2)
        d_c0 = dc
    elif mode == "GRU":
        hh = result[2]
        rz = (_cols(xw, 0, 2 * n) + _cols(hh, 0, 2 * n)).sigmoid()
        hn = _cols(hh, 2 * n, 3 * n)
        nn_ = (_cols(xw, 2 * n, 3 * n) + _cols(rz, 0, n) * hn).tanh()
        drz = rz * (1 - rz)
        z = _cols(rz, n, 2 * n)
        # [d r_pre, d z_pre, d hh_n] = [dn_pre, dh, dn_pre] * q, with dn_pre = dh * b
        q = pt.cat([hn * _cols(drz, 0, n), (h_prev - nn_) * _cols(drz, n, 2 * n), _cols(rz, 0, n)], -1).unbind(0)
        b = ((1 - z) * (1 - nn_ * nn_)).unbind(0)
        z = z.unbind(0)
        dns = [None] * seq
        for t in order:
            dh = dh + douts[t]
            dn = dh * b[t]
            dhh = pt.cat([dn, dh, dn], -1) * q[t]
            steps[t], dns[t] = dhh, dn
            dh = dh * z[t] + dhh @ w_hh
        d_pre = stack(steps)
        d_xw = pt.cat([_cols(d_pre, 0, 2 * n), stack(dns)], -1)
        if b_hh is not None:
            d_bhh = d_pre.sum((0, 1))
    else:
        deriv = ((1 - out * out) if mode == "RNN_TANH" else (out > 0).to(out.dtype)).unbind(0)
        for t in order:
            dp = (dh + douts[t]) * deriv[t]
            steps[t] = dp
            dh = dp @ w_hh
        d_xw = d_pre = stack(steps)
    d_hh = d_pre.flatten(0, -2).t() @ h_prev.flatten(0, -2)
    return d_xw, dh, d_c0, d_hh, d_bhh, d_hr


def _recorded(g, xw, h0, c0, w_hh, b_hh, w_hr, mode, reverse):
    """create_graph: the decomposition run again under autograd, differentiated op by op."""
    from plugtorch.dispatch.ops.rnn import _rnn_layer
    inputs = [xw, h0, c0, w_hh, b_hh, w_hr]
    need = [k for k, x in enumerate(inputs) if x is not None and x.requires_grad]
    outs = _rnn_layer(*inputs, mode, reverse)[:3 if mode == "LSTM" else 2]
    got = pt.autograd.grad(outs, [inputs[k] for k in need], list(g[:len(outs)]), create_graph=True,
                           allow_unused=True)
    res = [None] * 6
    for k, gk in zip(need, got):
        res[k] = gk
    return tuple(res)


derivative("_rnn_layer", _rnn_layer_grad, result=True)
