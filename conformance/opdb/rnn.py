"""``_rnn_layer``: one layer and direction of nn.RNN / LSTM / GRU (plugtorch/dispatch/ops/rnn.py), and
``_rnn_layer_backward``, its formula's op.

Samples: each mode forward and in reverse, LSTM with a projection (proj_size), GRU without its
hidden bias, a transposed input projection, packed rows (a PackedSequence's batch sizes). nn.RNN / LSTM / GRU themselves are checked through
the module entries (conformance/opdb/modules.py), which call this op when gradients are recorded.
"""
from __future__ import annotations

import plugtorch as pt

from ..entry import Entry, Sample

DTYPES = (pt.float32, pt.float64)


def _samples(ctx):
    x = ctx.input
    t, b, h, p = 4, 2, 3, 2
    return [
        Sample(x((t, b, 4 * h)), x((b, h)), x((b, h)), x((4 * h, h)), None, None, "LSTM", False,
               name="LSTM", reduction_length=h),
        Sample(x((t, b, 4 * h), layout="transposed"), x((b, p)), x((b, h)), x((4 * h, p)), None, x((p, h)), "LSTM",
               True, name="LSTM, proj_size, reverse", reduction_length=h),
        Sample(x((t, b, 3 * h)), x((b, h)), None, x((3 * h, h)), x((3 * h,)), None, "GRU", False, name="GRU",
               reduction_length=h),
        Sample(x((t, b, 3 * h)), x((b, h)), None, x((3 * h, h)), None, None, "GRU", True,
               name="GRU without b_hh, reverse", reduction_length=h),
        Sample(x((t, b, h)), x((b, h)), None, x((h, h)), None, None, "RNN_TANH", False, name="RNN tanh",
               reduction_length=h),
        Sample(x((t, b, h)), x((b, h)), None, x((h, h)), None, None, "RNN_RELU", True, name="RNN relu, reverse",
               reduction_length=h),
        # packed rows: batch sizes 3, 2, 2, 1 (sequences of lengths 4, 3, 1)
        Sample(x((8, 4 * h)), x((3, h)), x((3, h)), x((4 * h, h)), None, None, "LSTM", False, (3, 2, 2, 1),
               name="LSTM, packed", reduction_length=h),
        Sample(x((8, 3 * h)), x((3, h)), None, x((3 * h, h)), x((3 * h,)), None, "GRU", True, (3, 2, 2, 1),
               name="GRU, packed, reverse", reduction_length=h),
    ]


def _backward_samples(ctx):
    # (dout, dhn, dcn, xw, w_hh, w_hr, out, h_prev, c_prev, c_all, ws, mode, reverse, bias, batch_sizes):
    # the gradients _rnn_layer's formula computes, from the op's outputs and workspaces; the hidden
    # state's gradient passes a matmul per step (through w_hr too with proj_size), so the rounding
    # grows with steps x gates
    x = ctx.input
    t, b, h, p = 4, 2, 3, 2
    return [
        Sample(x((t, b, h)), x((b, h)), x((b, h)), x((t, b, 4 * h)), x((4 * h, h)), None, x((t, b, h)), x((t * b, h)),
               x((t * b, h)), x((t * b, h)), x((t * b, 4 * h)), "LSTM", False, False, name="LSTM",
               reduction_length=t * 4 * h),
        Sample(x((8, p)), x((3, p)), x((3, h)), x((8, 4 * h)), x((4 * h, p)), x((p, h)), x((8, p)), x((8, p)),
               x((8, h)), x((8, h)), x((8, 4 * h)), "LSTM", True, False, (3, 2, 2, 1),
               name="LSTM, proj_size, packed, reverse", reduction_length=t * 4 * h),
        Sample(x((t, b, h)), x((b, h)), None, x((t, b, 3 * h)), x((3 * h, h)), None, x((t, b, h)), x((t * b, h)),
               None, None, x((t * b, 3 * h)), "GRU", True, True, name="GRU, reverse", reduction_length=t * 3 * h),
        Sample(x((8, h)), x((3, h)), None, x((8, 3 * h)), x((3 * h, h)), None, x((8, h)), x((8, h)), None, None,
               x((8, 3 * h)), "GRU", False, True, (3, 2, 2, 1), name="GRU, packed", reduction_length=t * 3 * h),
        Sample(x((t, b, h)), x((b, h)), None, x((t, b, h)), x((h, h)), None, x((t, b, h)), x((t * b, h)), None, None,
               None, "RNN_TANH", False, False, name="RNN tanh", reduction_length=t * h),
    ]


ENTRIES = [Entry("_rnn_layer", samples=_samples, dtypes=DTYPES),
           Entry("_rnn_layer_backward", samples=_backward_samples, dtypes=DTYPES)]
