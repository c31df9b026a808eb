"""The backward formula of ``_rnn_layer`` (plugtorch/dispatch/ops/rnn.py): backpropagation through
time, the op ``_rnn_layer_backward`` (same module; on cpu one NumPy kernel), written out over the
packed rows (a padded input is packed rows of equal batch sizes). The activations of every step are
recomputed at once from the op's workspace outputs, and every factor that does not depend on the
incoming gradient is computed for all steps; the loop over time then runs a few ops per step, and
the hidden (and projection) weights' gradients are one matmul each over all steps. With
create_graph the cells run again under autograd, so higher derivatives are exact."""
from __future__ import annotations

import plugtorch as pt
from plugtorch.autograd.formulas import derivative


def _rnn_layer_grad(g, xw, h0, c0, w_hh, b_hh, w_hr, mode, reverse, batch_sizes=None, *, result):
    if pt.is_grad_enabled():
        return _recorded(g, xw, h0, c0, w_hh, b_hh, w_hr, mode, reverse, batch_sizes)
    lstm = mode == "LSTM"
    ws = result[6] if lstm else result[3] if mode == "GRU" else None
    return pt.ops._rnn_layer_backward(g[0], g[1], g[2] if lstm else None, xw, w_hh, w_hr, result[0],
                                      result[3 if lstm else 2], result[4] if lstm else None,
                                      result[5] if lstm else None, ws, mode, reverse, b_hh is not None,
                                      batch_sizes)


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
