"""``_rnn_layer``: one layer and direction of nn.RNN / LSTM / GRU over a padded sequence, as one op.

The input projection ``xw`` (seq, batch, gates) is computed beforehand (one matmul for all steps);
the op runs the recurrence and returns the outputs, the final state and what its backward formula
(plugtorch/autograd/rnn_formulas.py) reads, so autograd records one node per layer and direction
instead of a dozen per time step, and the hidden weight's gradient is one matmul over all steps.
The decomposition is the loop of plugtorch ops, so every backend and plug-in runs it unchanged.

``_rnn_layer(xw, h0, c0, w_hh, b_hh, w_hr, mode, reverse)``, ``mode`` one of RNN_TANH, RNN_RELU,
LSTM, GRU; ``c0`` LSTM's, ``b_hh`` GRU's only (the others' is folded into ``xw``), ``w_hr``
LSTM's projection (``proj_size``) or None. Returns ``(out, h_n)`` for RNN, ``(out, h_n, hh)`` for
GRU with ``hh`` = h W_hh^T + b_hh of every step, ``(out, h_n, c_n, c, gates)`` for LSTM with the
cell state after, and the gates (x W_ih^T + b + h W_hh^T) of, every step; the extra outputs are
(seq, batch, size) in time order, read by the backward (workspaces, as PyTorch's fused cells
return: their gradients are not propagated).
The arithmetic of the loop is that of the cells in plugtorch/nn/modules/rnn.py, op for op, so the
outputs are bit-identical to stepping them.
"""
from __future__ import annotations

from plugtorch.dispatch.ops.composite import _t, composite
from plugtorch.dispatch.registry import OUT_MULTI

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _pt():
    import plugtorch
    return plugtorch


def _cols(x, a, b):
    return _pt().ops.slice(x, -1, a, b)


def stack(ts):
    """pt.stack of equal-shaped contiguous tensors as one cat and a view (stack is a cat of
    unsqueezed views: one dispatch per tensor)."""
    return _pt().cat(ts).view((len(ts),) + tuple(ts[0].shape))


@composite("_rnn_layer", out_kind=OUT_MULTI)
def _rnn_layer(xw, h0, c0, w_hh, b_hh, w_hr, mode, reverse):
    pt = _pt()
    _t("_rnn_layer", xw, "xw")
    _t("_rnn_layer", h0, "h0")
    _t("_rnn_layer", w_hh, "w_hh")
    if mode not in GATES:
        raise ValueError(f"_rnn_layer(): unknown mode '{mode}'; expected one of {sorted(GATES)}")
    if (c0 is None) != (mode != "LSTM"):
        raise ValueError(f"_rnn_layer(): c0 is LSTM's cell state: pass it for mode LSTM only (mode {mode})")
    seq = xw.shape[0]
    n = w_hh.shape[0] // GATES[mode]
    if xw.ndim != 3 or h0.ndim != 2 or w_hh.ndim != 2 or xw.shape[-1] != w_hh.shape[0] or seq == 0 \
            or h0.shape != (xw.shape[1], w_hh.shape[1]) or w_hh.shape[0] % GATES[mode]:
        raise RuntimeError(f"_rnn_layer(): expected xw (seq > 0, batch, gates), h0 (batch, hidden) and w_hh "
                           f"(gates, hidden) of {mode}; got xw {list(xw.shape)}, h0 {list(h0.shape)}, w_hh "
                           f"{list(w_hh.shape)}")
    # contiguous copies: a transposed view makes every step's small matmul ~1.7x slower on cpu
    w_hh_t = w_hh.t().contiguous()
    w_hr_t = None if w_hr is None else w_hr.t().contiguous()
    xs = xw.unbind(0)
    order = range(seq - 1, -1, -1) if reverse else range(seq)
    outs = [None] * seq
    h, c = h0, c0
    if mode == "LSTM":
        cs, gs = [None] * seq, [None] * seq
        for t in order:
            gates = xs[t] + h @ w_hh_t
            s = gates.sigmoid()
            c = _cols(s, n, 2 * n) * c + _cols(s, 0, n) * _cols(gates, 2 * n, 3 * n).tanh()
            h = _cols(s, 3 * n, 4 * n) * c.tanh()
            if w_hr_t is not None:
                h = h @ w_hr_t
            outs[t], cs[t], gs[t] = h, c, gates
        return stack(outs), h, c, stack(cs), stack(gs)
    if mode == "GRU":
        hhs = [None] * seq
        for t in order:
            hh = h @ w_hh_t
            if b_hh is not None:
                hh = hh + b_hh
            x = xs[t]
            rz = (_cols(x, 0, 2 * n) + _cols(hh, 0, 2 * n)).sigmoid()
            nn_ = (_cols(x, 2 * n, 3 * n) + _cols(rz, 0, n) * _cols(hh, 2 * n, 3 * n)).tanh()
            z = _cols(rz, n, 2 * n)
            h = (1 - z) * nn_ + z * h
            outs[t], hhs[t] = h, hh
        return stack(outs), h, stack(hhs)
    for t in order:
        pre = xs[t] + h @ w_hh_t
        h = pre.tanh() if mode == "RNN_TANH" else pt.relu(pre)
        outs[t] = h
    return stack(outs), h
