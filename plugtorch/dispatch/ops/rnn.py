"""``_rnn_layer``: one layer and direction of nn.RNN / LSTM / GRU over a padded or packed sequence, as one op.

The input projection ``xw`` (seq, batch, gates) is computed beforehand (one matmul for all steps);
the op runs the recurrence and returns the outputs, the final state and what its backward formula
(plugtorch/autograd/rnn_formulas.py) reads, so autograd records one node per layer and direction
instead of a dozen per time step, and the hidden weight's gradient is one matmul over all steps.
The decomposition is the loop of plugtorch ops, so every backend and plug-in runs it unchanged.

``_rnn_layer(xw, h0, c0, w_hh, b_hh, w_hr, mode, reverse, batch_sizes=None)``, ``mode`` one of
RNN_TANH, RNN_RELU, LSTM, GRU; ``c0`` LSTM's, ``b_hh`` GRU's only (the others' is folded into
``xw``), ``w_hr`` LSTM's projection (``proj_size``) or None. ``xw`` is (seq, batch, gates), or with
``batch_sizes`` (a PackedSequence's, as ints) its packed rows (sum(batch_sizes), gates): step t
then runs the first batch_sizes[t] sequences, so each one's final state is taken at its own last
step (in reverse, each starts from its h0 at its last step). Returns ``(out, h_n)`` (LSTM ``(out,
h_n, c_n)``) then workspaces, packed rows (one per step and sequence) read by the backward, whose
gradients are not propagated (as PyTorch's fused cells' workspace): the state each step started
from (h, and LSTM's c), then LSTM's cell state after each step and its gates (x W_ih^T + b + h
W_hh^T), GRU's h W_hh^T + b_hh. The arithmetic is that of the cells in
plugtorch/nn/modules/rnn.py stepped over the padded or packed rows, op for op, so the outputs are
bit-identical to stepping them.

``_rnn_layer_backward(dout, dhn, dcn, xw, w_hh, w_hr, out, h_prev, c_prev, c_all, ws, mode, reverse,
bias, batch_sizes=None)``: the op's gradients (its formula, plugtorch/autograd/rnn_formulas.py) from
the incoming ones and the op's outputs and workspaces; returns (d_xw, d_h0, d_c0, d_w_hh, d_b_hh,
d_w_hr), None where the mode has no such input (``bias``: GRU's b_hh was given). Both ops have a
meta, so a backend may run either as one kernel (cpu: plugtorch/backends/cpu/rnn_kernels.py); the
others run these decompositions.
"""
from __future__ import annotations

from plugtorch._packed_batch import offsets, rejoin, resize
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.ops.composite import _t
from plugtorch.dispatch.registry import OUT_MULTI, register_op

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _pt():
    import plugtorch
    return plugtorch


def _cols(x, a, b):
    return _pt().ops.slice(x, -1, a, b)


def _rows(x, a, b):
    return _pt().ops.slice(x, 0, a, b)


def _check_mode(op, mode):
    if mode not in GATES:
        raise ValueError(f"{op}(): unknown mode '{mode}'; expected one of {sorted(GATES)}")


def _check(xw, h0, c0, w_hh, mode, batch_sizes):
    """The op's argument checks; returns the batch size of every step."""
    _t("_rnn_layer", xw, "xw")
    _t("_rnn_layer", h0, "h0")
    _t("_rnn_layer", w_hh, "w_hh")
    _check_mode("_rnn_layer", mode)
    if (c0 is None) != (mode != "LSTM"):
        raise ValueError(f"_rnn_layer(): c0 is LSTM's cell state: pass it for mode LSTM only (mode {mode})")
    packed = batch_sizes is not None
    bs = [int(b) for b in batch_sizes] if packed else [xw.shape[1]] * (xw.shape[0] if xw.ndim == 3 else 0)
    n = w_hh.shape[0] // GATES[mode]
    if xw.ndim != (2 if packed else 3) or h0.ndim != 2 or w_hh.ndim != 2 or xw.shape[-1] != w_hh.shape[0] \
            or not bs or h0.shape != (bs[0], w_hh.shape[1]) or w_hh.shape[0] % GATES[mode] \
            or any(b1 < b2 for b1, b2 in zip(bs, bs[1:])) or bs[-1] <= 0 or (packed and sum(bs) != xw.shape[0]):
        raise RuntimeError(f"_rnn_layer(): expected xw (seq > 0, batch, gates) (or packed rows (sum of "
                           f"batch_sizes, gates) with non-increasing positive batch_sizes), h0 (batch, hidden) "
                           f"and w_hh (gates, hidden) of {mode}; got xw {list(xw.shape)}, h0 {list(h0.shape)}, "
                           f"w_hh {list(w_hh.shape)}" + (f", batch_sizes {bs}" if packed else ""))
    return bs


def _rnn_layer_meta(xw, h0, c0, w_hh, b_hh, w_hr, mode, reverse, batch_sizes=None):
    """A kernel receives ``(xw, h0, c0, w_hh, b_hh, w_hr, mode, reverse, batch_sizes as a tuple of
    ints or None)``, c0, b_hh and w_hr None where absent, and returns the op's outputs (see above),
    of the tensors' promoted floating point dtype."""
    bs = _check(xw, h0, c0, w_hh, mode, batch_sizes)
    tensors = [t for t in (xw, h0, c0, w_hh, b_hh, w_hr) if t is not None]
    for name, t in (("c0", c0), ("b_hh", b_hh), ("w_hr", w_hr)):
        if t is not None:
            _t("_rnn_layer", t, name)
    dt = tensors[0]._dtype
    for t in tensors[1:]:
        dt = M.promote(dt, t._dtype)
    if not dt.is_floating_point:
        raise TypeError(f"_rnn_layer(): expected floating point tensors, got {dt}")
    dev = M.common_device("_rnn_layer", tensors)
    kargs = tuple(None if t is None else t._data for t in (xw, h0, c0, w_hh, b_hh, w_hr))
    n_out = {"LSTM": 7, "GRU": 4}.get(mode, 3)
    return dev, kargs + (mode, bool(reverse), None if batch_sizes is None else tuple(bs)), [dt] * n_out


def _rnn_layer(xw, h0, c0, w_hh, b_hh, w_hr, mode, reverse, batch_sizes=None):
    pt = _pt()
    bs = _check(xw, h0, c0, w_hh, mode, batch_sizes)
    packed = batch_sizes is not None
    n = w_hh.shape[0] // GATES[mode]
    # contiguous copies: a transposed view makes every step's small matmul ~1.7x slower on cpu
    w_hh_t = w_hh.t().contiguous()
    w_hr_t = None if w_hr is None else w_hr.t().contiguous()
    seq = len(bs)
    off = offsets(bs)
    x2 = xw if packed else xw.reshape(-1, xw.shape[-1])
    lstm = mode == "LSTM"
    outs, hps, cps, cs, ws = ([None] * seq for _ in range(5))
    h, c = h0, c0
    done = [], []
    if not reverse:    # sequences that end leave the batch (their final state set aside)
        m = bs[0]
        order = range(seq)
    else:              # sequences start (from h0) at their last step as the batch grows
        m = 0
        order = range(seq - 1, -1, -1)
    for t in order:
        (h, c), m = resize((h, c), (h0, c0), done, m, bs[t], not reverse, _rows, pt.cat)
        hps[t], cps[t] = h, c
        x = _rows(x2, off[t], off[t + 1])
        if lstm:
            gates = x + h @ w_hh_t
            s = gates.sigmoid()
            c = _cols(s, n, 2 * n) * c + _cols(s, 0, n) * _cols(gates, 2 * n, 3 * n).tanh()
            h = _cols(s, 3 * n, 4 * n) * c.tanh()
            if w_hr_t is not None:
                h = h @ w_hr_t
            cs[t], ws[t] = c, gates
        elif mode == "GRU":
            hh = h @ w_hh_t
            if b_hh is not None:
                hh = hh + b_hh
            rz = (_cols(x, 0, 2 * n) + _cols(hh, 0, 2 * n)).sigmoid()
            nn_ = (_cols(x, 2 * n, 3 * n) + _cols(rz, 0, n) * _cols(hh, 2 * n, 3 * n)).tanh()
            z = _cols(rz, n, 2 * n)
            h = (1 - z) * nn_ + z * h
            ws[t] = hh
        else:
            pre = x + h @ w_hh_t
            h = pre.tanh() if mode == "RNN_TANH" else pt.relu(pre)
        outs[t] = h
    h, c = rejoin((h, c), done, pt.cat)
    out = pt.cat(outs)
    if not packed:
        out = out.view((seq, bs[0], out.shape[-1]))
    res = (out, h, c) if lstm else (out, h)
    res += (pt.cat(hps),)
    if lstm:
        return res + (pt.cat(cps), pt.cat(cs), pt.cat(ws))
    return res + (pt.cat(ws),) if mode == "GRU" else res


def _rnn_layer_backward_meta(dout, dhn, dcn, xw, w_hh, w_hr, out, h_prev, c_prev, c_all, ws, mode, reverse, bias,
                             batch_sizes=None):
    """A kernel receives the arguments as given (tensors as arrays, None where absent, batch_sizes a
    tuple of ints or None) and returns (d_xw, d_h0, d_c0, d_w_hh, d_b_hh, d_w_hr), None where the
    mode has no such input, of ``out``'s dtype."""
    for name, t in (("dout", dout), ("dhn", dhn), ("xw", xw), ("w_hh", w_hh), ("out", out), ("h_prev", h_prev)):
        _t("_rnn_layer_backward", t, name)
    _check_mode("_rnn_layer_backward", mode)
    lstm = mode == "LSTM"
    need = ("dcn", "c_prev", "c_all", "ws") if lstm else ("ws",) if mode == "GRU" else ()
    for name, t in (("dcn", dcn), ("c_prev", c_prev), ("c_all", c_all), ("ws", ws)):
        if (t is None) == (name in need):
            raise ValueError(f"_rnn_layer_backward(): {name} is {'required' if name in need else 'not taken'} "
                             f"for mode {mode}")
        if t is not None:
            _t("_rnn_layer_backward", t, name)
    tensors = [t for t in (dout, dhn, dcn, xw, w_hh, w_hr, out, h_prev, c_prev, c_all, ws) if t is not None]
    if out.shape != dout.shape or xw.ndim != out.ndim or w_hh.ndim != 2 or xw.shape[-1] != w_hh.shape[0]:
        raise RuntimeError(f"_rnn_layer_backward(): expected dout of out's shape and xw (..., gates) for w_hh "
                           f"(gates, hidden); got dout {list(dout.shape)}, out {list(out.shape)}, xw "
                           f"{list(xw.shape)}, w_hh {list(w_hh.shape)}")
    packed = batch_sizes is not None
    bs = [int(b) for b in batch_sizes] if packed else [xw.shape[1]] * (xw.shape[0] if xw.ndim == 3 else 0)
    if xw.ndim != (2 if packed else 3) or not bs or any(b1 < b2 for b1, b2 in zip(bs, bs[1:])) \
            or bs[-1] <= 0 or (packed and sum(bs) != xw.shape[0]) or out.shape[:-1] != xw.shape[:-1] \
            or dhn.shape != (bs[0], out.shape[-1]):
        raise RuntimeError(f"_rnn_layer_backward(): expected xw (seq > 0, batch, gates) (or packed rows (sum "
                           f"of batch_sizes, gates) with non-increasing positive batch_sizes), out (..., hidden) "
                           f"of xw's rows and dhn (batch, hidden); got xw {list(xw.shape)}, out "
                           f"{list(out.shape)}, dhn {list(dhn.shape)}" + (f", batch_sizes {bs}" if packed else ""))
    dt = out._dtype
    if not dt.is_floating_point:
        raise TypeError(f"_rnn_layer_backward(): expected floating point tensors, got {dt}")
    if any(t._dtype is not dt for t in tensors):
        raise RuntimeError(f"_rnn_layer_backward(): expected every tensor of out's dtype {dt}, got "
                           f"{sorted({str(t._dtype) for t in tensors})}")
    dev = M.common_device("_rnn_layer_backward", tensors)
    kargs = tuple(None if t is None else t._data for t in (dout, dhn, dcn, xw, w_hh, w_hr, out, h_prev, c_prev,
                                                             c_all, ws))
    return dev, kargs + (mode, bool(reverse), bool(bias), tuple(bs) if packed else None), [dt] * 6


def _rnn_layer_backward(dout, dhn, dcn, xw, w_hh, w_hr, out, h_prev, c_prev, c_all, ws, mode, reverse, bias,
                        batch_sizes=None):
    pt = _pt()
    lstm = mode == "LSTM"
    packed = batch_sizes is not None
    bs = [int(b) for b in batch_sizes] if packed else [xw.shape[1]] * xw.shape[0]
    off = offsets(bs)
    seq = len(bs)
    n = w_hh.shape[0] // GATES[mode]
    x2 = xw if packed else xw.reshape(-1, xw.shape[-1])
    out = out if packed else out.reshape(-1, out.shape[-1])
    dout = dout if packed else dout.reshape(-1, dout.shape[-1])

    def rows(x, t):
        return _rows(x, off[t], off[t + 1])
    if lstm:
        gates = ws
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
        hh = ws
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
    # forward: the sequences ending at step t join with their final state's gradient; reverse: those
    # that started at step t - 1 leave with their h0's (c0's) gradient, set aside in started
    dh, dc, m = (dhn, dcn, bs[0]) if reverse and bs else (None, None, 0)
    started = [], []
    for t in (range(seq) if reverse else range(seq - 1, -1, -1)):
        (dh, dc), m = resize((dh, dc), (dhn, dcn), started, m, bs[t], reverse, _rows, pt.cat)
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
    dh, dc = rejoin((dh, dc), started, pt.cat)
    d_pre = pt.cat(steps)
    d_xw = pt.cat([_cols(d_pre, 0, 2 * n), pt.cat(dns)], -1) if mode == "GRU" else d_pre
    if not packed:
        d_xw = d_xw.view(tuple(xw.shape))
    d_hh = d_pre.t() @ h_prev
    d_bhh = d_pre.sum(0) if mode == "GRU" and bias else None
    d_hr = pt.cat(dhs).t() @ (o * tc) if w_hr is not None else None
    return d_xw, dh, (dc if lstm else None), d_hh, d_bhh, d_hr


register_op("_rnn_layer", _rnn_layer_meta, decomposition=_rnn_layer, out_kind=OUT_MULTI)
register_op("_rnn_layer_backward", _rnn_layer_backward_meta, decomposition=_rnn_layer_backward,
            out_kind=OUT_MULTI, differentiable=True)
