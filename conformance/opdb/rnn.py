"""``_rnn_layer``: one layer and direction of nn.RNN / LSTM / GRU (plugtorch/dispatch/ops/rnn.py), and
``_rnn_layer_backward``, its formula's op.

Samples: each mode forward and in reverse, LSTM with a projection (proj_size), GRU without its
hidden bias, a transposed input projection, packed rows (a PackedSequence's batch sizes). nn.RNN / LSTM / GRU themselves are checked through
the module entries (conformance/opdb/modules.py), which call this op when gradients are recorded.
"""
from __future__ import annotations

import numpy as np

import plugtorch as pt
from plugtorch import _dtypes

from .. import tolerances
from ..compare import Mismatch, compare_values, magnitude, may_overflow
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


def _bptt_compare(actual, expected, sample):
    """The backward's gradients against cpu's. Backpropagation through time multiplies the
    incoming gradient by the weights and the gates' derivatives at every step, so the terms each
    gradient sums grow far past the inputs' magnitude (inputs up to 9 give gradients of 4e3 in
    float32 after 4 LSTM steps, 2e9 in bfloat16): the sums' rounding error is bounded by the size
    of their terms, which the largest gradient the call returns stands for (every gradient is
    summed from the same steps' hidden-state gradients), not by the inputs' (reduction_length's
    bound, tolerances.py). A gradient ``n * u`` (in that scale) away is rounding in another
    order; a wrong formula is off by the scale itself."""
    n = sample.reduction_length or 1
    scale = 0.0
    for b in expected:
        if isinstance(b, np.ndarray) and b.size:
            f = np.abs(b.astype(np.float64))
            f = f[np.isfinite(f)]
            scale = max(scale, float(f.max()) if f.size else 0.0)
    for i, (a, b) in enumerate(zip(actual, expected)):
        if not isinstance(b, np.ndarray):
            continue
        dt = _dtypes.from_numpy_dtype(b.dtype)
        rtol, atol = tolerances.for_reduction(dt, n, magnitude(sample))
        atol += 2.0 * n * tolerances.UNIT_ROUNDOFF.get(dt, 0.0) * scale
        try:
            compare_values("forward", f"output {i}: ", a, b, rtol, atol,
                           overflow_order=may_overflow(n, magnitude(sample), dt), signed_zeros=False)
        except Mismatch as e:
            return str(e)
    return None


ENTRIES = [Entry("_rnn_layer", samples=_samples, dtypes=DTYPES),
           Entry("_rnn_layer_backward", samples=_backward_samples, dtypes=DTYPES, compare=_bptt_compare)]
