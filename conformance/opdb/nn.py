"""The ops nn.functional registers: linear layers, convolutions, pooling, normalization,
embedding, losses and attention.

They are composites (decompositions into the core ops) that a backend may override with
native kernels; either way they must match cpu. Checked in float32 and float64: in half
precision they chain many rounded ops, which the core ops' own half-precision entries check.
"""
from __future__ import annotations

import numpy as np

import plugtorch as pt
import plugtorch.nn.functional  # noqa: F401  (registers the ops)

from ..entry import FLOAT_DTYPES, Entry, ErrorInput, Input, Sample
from . import creation
from .hard import hard_rows

NN_DTYPES = (pt.float32, pt.float64)


def _x(ctx, shape, layout="contiguous", **kw):
    return ctx.input(shape, layout=layout, **kw)


def _targets(ctx, shape, n, ignore=None):
    v = ctx.rng.integers(0, n, size=shape).astype(np.int64)
    if ignore is not None and v.size:
        v.reshape(-1)[0] = ignore
    return Input(v, pt.int64, requires_grad=False)


def _linear(ctx):
    return [Sample(_x(ctx, (4, 3)), _x(ctx, (2, 3)), _x(ctx, (2,)), reduction_length=3),
            Sample(_x(ctx, (2, 5, 3), "transposed"), _x(ctx, (4, 3), "stepped"), reduction_length=3),
            Sample(_x(ctx, (0, 3)), _x(ctx, (2, 3)), _x(ctx, (2,)))]


def _linear_backward(ctx):
    # (grad, input, weight, output_mask): linear's formula
    return [Sample(_x(ctx, (4, 2)), _x(ctx, (4, 3)), _x(ctx, (2, 3)), (True, True, True), reduction_length=4),
            Sample(_x(ctx, (2, 5, 4), "transposed"), _x(ctx, (2, 5, 3)), _x(ctx, (4, 3), "stepped"),
                   (False, True, True), reduction_length=10),
            Sample(_x(ctx, (2,)), _x(ctx, (3,)), _x(ctx, (2, 3)), (True, True, False), reduction_length=2),
            Sample(_x(ctx, (0, 2)), _x(ctx, (0, 3)), _x(ctx, (2, 3)), (True, True, True))]


def _bilinear(ctx):
    i32 = dict(dtype=pt.int32, requires_grad=False)   # integer inputs keep their dtype (and wrap), as PyTorch's
    return [Sample(_x(ctx, (4, 3)), _x(ctx, (4, 5), "stepped"), _x(ctx, (2, 3, 5)), _x(ctx, (2,)), reduction_length=15),
            Sample(_x(ctx, (4, 3), **i32), _x(ctx, (4, 5), **i32), _x(ctx, (2, 3, 5), **i32), name="int32")]


def _conv1d(ctx):
    return [Sample(_x(ctx, (2, 3, 8)), _x(ctx, (4, 3, 3)), _x(ctx, (4,)), padding=1, reduction_length=9),
            Sample(_x(ctx, (1, 4, 9), "stepped"), _x(ctx, (2, 2, 3)), None, stride=2, dilation=2, groups=2,
                   reduction_length=6)]


def _conv2d(ctx):
    return [Sample(_x(ctx, (2, 3, 6, 6)), _x(ctx, (4, 3, 3, 3)), _x(ctx, (4,)), padding=1, reduction_length=27),
            Sample(_x(ctx, (1, 4, 5, 7), "transposed"), _x(ctx, (4, 2, 2, 2)), None, stride=2, groups=2,
                   reduction_length=8),
            Sample(_x(ctx, (1, 2, 5, 5)), _x(ctx, (3, 2, 3, 3), "stepped"), _x(ctx, (3,)), padding=2, dilation=2,
                   reduction_length=18)]


def _depthwise_conv2d_weight_grad(ctx):
    # (grad, input, weight, stride, padding (left, right, top, bottom), dilation): conv2d's formula
    return [Sample(_x(ctx, (2, 3, 6, 6)), _x(ctx, (2, 3, 6, 6)), _x(ctx, (3, 1, 3, 3)), (1, 1), (1, 1, 1, 1), (1, 1),
                   reduction_length=72),
            Sample(_x(ctx, (1, 4, 3, 2), "transposed"), _x(ctx, (1, 4, 7, 6), "stepped"), _x(ctx, (4, 1, 3, 2)),
                   (2, 3), (0, 1, 0, 0), (1, 2), reduction_length=6)]


def _conv_transpose2d(ctx):
    return [Sample(_x(ctx, (2, 3, 4, 4)), _x(ctx, (3, 2, 3, 3)), _x(ctx, (2,)), stride=2, padding=1,
                   output_padding=1, reduction_length=27),
            Sample(_x(ctx, (1, 4, 3, 5), "transposed"), _x(ctx, (4, 1, 2, 2)), None, groups=2, reduction_length=8)]


def _avg_pool(ctx):
    i64 = _x(ctx, (1, 2, 7, 5), dtype=pt.int64, low=-50, high=50)   # int64 stays int64, rounded toward zero
    return [Sample(_x(ctx, (2, 3, 6, 6)), 2, reduction_length=4),
            Sample(_x(ctx, (1, 2, 7, 5), "transposed"), 3, 2, 1, True, False, reduction_length=9),
            Sample(i64, 3, 2, 1, True, False, name="int64"), Sample(i64, 2, name="int64, no padding")]


def _max_pool(ctx):
    return [Sample(_x(ctx, (2, 3, 6, 6), unique=True), 2),
            Sample(_x(ctx, (1, 2, 7, 5), "transposed", unique=True), 3, 2, 1),
            Sample(_x(ctx, (1, 2, 6, 6), unique=True), 2, return_indices=True, name="return_indices")]


def _max_pool3d(ctx):
    return [Sample(_x(ctx, (2, 2, 4, 4, 4), unique=True), 2),
            Sample(_x(ctx, (2, 5, 4, 3), "transposed", unique=True), 3, 2, 1, ceil_mode=True),
            Sample(_x(ctx, (1, 2, 4, 3, 5), unique=True), (2, 2, 3), return_indices=True, name="return_indices")]


def _avg_pool3d(ctx):
    return [Sample(_x(ctx, (2, 2, 4, 4, 4)), 2, reduction_length=8),
            Sample(_x(ctx, (2, 5, 4, 3), "transposed"), 3, 2, 1, True, False, reduction_length=27),
            Sample(_x(ctx, (1, 2, 4, 4, 5)), (2, 2, 3), divisor_override=5, reduction_length=12)]


def _adaptive_avg_pool3d(ctx):
    return [Sample(_x(ctx, (2, 2, 4, 4, 4)), 2, reduction_length=8),
            Sample(_x(ctx, (2, 5, 4, 3), "transposed"), (3, None, 2), reduction_length=8),
            Sample(_x(ctx, (1, 2, 7, 5, 3)), (3, 2, 1), reduction_length=27)]


def _prelu(ctx):
    return [Sample(_x(ctx, (2, 3, 4)), _x(ctx, (3,))),
            Sample(_x(ctx, (3, 5), "transposed"), _x(ctx, (1,)), name="one weight"),
            Sample(_x(ctx, (4,)), _x(ctx, (1,)), name="1-d input")]


def _hardtanh(ctx):
    return [Sample(_x(ctx, (2, 3, 4)), -0.5, 0.5),
            Sample(_x(ctx, (3, 5), "transposed"), 0.0, 6.0, name="relu6's limits"),
            Sample(_x(ctx, (4,)), name="default limits")]


def _gelu(ctx):
    return [Sample(_x(ctx, (2, 3, 4))), Sample(_x(ctx, (3, 5), "transposed"), "tanh", name="tanh formula")]


def _silu(ctx):
    return [Sample(_x(ctx, (2, 3, 4))), Sample(_x(ctx, (3, 5), "transposed"), name="transposed")]


def _gelu_backward(ctx):
    # gelu's formula's op: the input's gradient given the output's (both formulas)
    return [Sample(_x(ctx, (2, 3, 4)), _x(ctx, (2, 3, 4))),
            Sample(_x(ctx, (3, 5), "transposed"), _x(ctx, (3, 5)), "tanh", name="tanh formula")]


def _silu_backward(ctx):
    return [Sample(_x(ctx, (2, 3, 4)), _x(ctx, (2, 3, 4))),
            Sample(_x(ctx, (3, 5)), _x(ctx, (3, 5), "transposed"), name="transposed input")]


def _mode_pad(n):
    """Samples of reflection_pad{n}d / replication_pad{n}d: batched and unbatched, asymmetric and
    negative pads (a crop), a transposed input."""
    shape = (2, 3) + (4, 5, 3)[:n]
    pads = ((1, 2, 2, 0, 1, 1)[:2 * n], (2, -1, 0, 1, 1, 0)[:2 * n])
    return lambda ctx: [Sample(_x(ctx, shape), list(pads[0])),
                        Sample(_x(ctx, shape[1:], "transposed"), list(pads[1]), name="unbatched, a negative pad")]


def _stats(ctx, c):
    mean = Input(ctx.values((c,)), ctx.dtype, requires_grad=False)
    var = Input(ctx.values((c,), low=0.5, high=2.0), ctx.dtype, requires_grad=False)
    return mean, var


def _batch_norm(ctx):
    m, v = _stats(ctx, 3)
    return [Sample(_x(ctx, (4, 3, 2, 2)), m, v, _x(ctx, (3,)), _x(ctx, (3,)), False, name="eval"),
            Sample(_x(ctx, (4, 3, 5), "stepped"), None, None, _x(ctx, (3,)), _x(ctx, (3,)), True,
                   name="training, no running stats", reduction_length=20)]


def _group_norm(ctx):
    return [Sample(_x(ctx, (2, 4, 3, 3)), 2, _x(ctx, (4,)), _x(ctx, (4,)), reduction_length=18),
            Sample(_x(ctx, (3, 6, 5), "transposed"), 3, reduction_length=10)]


def _layer_norm(ctx):
    return [Sample(_x(ctx, (2, 3, 4)), (4,), _x(ctx, (4,)), _x(ctx, (4,)), reduction_length=4),
            Sample(_x(ctx, (2, 3, 4), "transposed"), (3, 4), reduction_length=12)]


def _layer_norm_backward(ctx):
    # layer_norm's formula's op: the input's, weight's and bias's gradients (the latter two summed
    # over the leading dims)
    return [Sample(_x(ctx, (2, 3, 4)), _x(ctx, (2, 3, 4)), (4,), _x(ctx, (4,)), 1e-5, (True, True, True),
                   reduction_length=6),
            Sample(_x(ctx, (2, 3, 4), "transposed"), _x(ctx, (2, 3, 4)), (3, 4), None, 1e-5, (True, False, False),
                   name="no weight, input only", reduction_length=12)]


def _rms_norm(ctx):
    return [Sample(_x(ctx, (2, 3, 4)), (4,), _x(ctx, (4,)), reduction_length=4),
            Sample(_x(ctx, (2, 3, 4), "transposed"), (3, 4), eps=1e-3, reduction_length=12),
            Sample(_x(ctx, (0, 4)), (4,))]


def _embedding(ctx):
    return [Sample(_targets(ctx, (2, 5), 10), _x(ctx, (10, 3))),
            Sample(_targets(ctx, (7,), 6), _x(ctx, (6, 4), "transposed"), padding_idx=0)]


def _embedding_bag(ctx):
    # (input, weight, offsets, mode, per_sample_weights, include_last_offset, padding_idx): a 1-D
    # input's bags, empty ones included (zeros)
    def offsets(*v):
        return Input(np.array(v, np.int64), pt.int64, requires_grad=False)
    return [Sample(_targets(ctx, (7,), 6), _x(ctx, (6, 4)), offsets(0, 2, 2, 5), "sum", None, False, None),
            Sample(_targets(ctx, (7,), 6), _x(ctx, (6, 4), "transposed"), offsets(0, 3, 7), "mean", None, False, 0,
                   name="mean, padding_idx, an empty last bag"),
            Sample(_targets(ctx, (7,), 6), _x(ctx, (6, 3)), offsets(0, 0, 4, 7), "max", None, True, 2,
                   name="max, include_last_offset"),
            Sample(_targets(ctx, (5,), 4), _x(ctx, (4, 2)), offsets(0, 1, 1), "sum", _x(ctx, (5,)), False, None,
                   name="per_sample_weights"),
            Sample(_targets(ctx, (0,), 3), _x(ctx, (3, 2)), offsets(0, 0), "mean", None, False, None, name="empty")]


def _cross_entropy(ctx):
    return [Sample(_x(ctx, (4, 5)), _targets(ctx, (4,), 5), reduction_length=20),
            Sample(_x(ctx, (4, 5), "transposed"), _targets(ctx, (4,), 5), reduction="sum", label_smoothing=0.1,
                   reduction_length=20),
            Sample(_x(ctx, (3, 5, 2)), _targets(ctx, (3, 2), 5), _x(ctx, (5,), low=0.5, high=2, requires_grad=False),
                   reduction="none", reduction_length=5)]


def _hard_logits(ctx):
    """Logits whose exp overflows and logits near the dtype's overflow, equal rows among them
    (hard.py): only a kernel that subtracts each row's max gets them right."""
    if not ctx.dtype.is_floating_point:   # (the fuzzer asks for other dtypes too)
        return []
    rows = hard_rows(ctx.dtype)
    return [(Input(rows[k], ctx.dtype, requires_grad=False), k) for k in ("large", "near overflow")]


def _cross_entropy_hard(ctx):
    return [Sample(x, _targets(ctx, (4,), 6), reduction_length=24, name=f"hard: {k}") for x, k in _hard_logits(ctx)] + \
        [Sample(x, _targets(ctx, (4,), 6), reduction="none", label_smoothing=0.1, reduction_length=6,
                name=f"hard: {k}, smoothed") for x, k in _hard_logits(ctx)]


def _cross_entropy_backward(ctx):
    # (grad, input, target, weight, ignore_index, reduction, label_smoothing): cross_entropy's formula
    w = _x(ctx, (5,), low=0.5, high=2, requires_grad=False)
    return [Sample(_x(ctx, ()), _x(ctx, (4, 5)), _targets(ctx, (4,), 5), None, -100, "mean", 0.0, reduction_length=5),
            Sample(_x(ctx, ()), _x(ctx, (4, 5), "transposed"), _targets(ctx, (4,), 5, ignore=1), w, 1, "sum", 0.1,
                   reduction_length=5),
            Sample(_x(ctx, (3, 2)), _x(ctx, (3, 5, 2)), _targets(ctx, (3, 2), 5, ignore=-100), w, -100, "none", 0.2,
                   reduction_length=5),
            Sample(_x(ctx, ()), _x(ctx, (5,)), _targets(ctx, (), 5), None, -100, "mean", 0.0, reduction_length=5)] + \
        [Sample(_x(ctx, ()), x, _targets(ctx, (4,), 6), None, -100, "mean", 0.0, reduction_length=6, name=f"hard: {k}")
         for x, k in _hard_logits(ctx)]


def _cross_entropy_backward_errors(ctx):
    # a grad of the wrong shape for the reduction
    return [ErrorInput(Sample(_x(ctx, (4,)), _x(ctx, (4, 5)), _targets(ctx, (4,), 5), None, -100, "mean", 0.0),
                       RuntimeError, "expected a .* grad of shape")]


def _nll_loss(ctx):
    return [Sample(_x(ctx, (4, 5)), _targets(ctx, (4,), 5), reduction_length=4),
            Sample(_x(ctx, (6, 5), "stepped"), _targets(ctx, (6,), 5, ignore=1), ignore_index=1, reduction="sum",
                   reduction_length=6)]


def _sdpa(ctx):
    mask = Input(ctx.rng.integers(0, 2, size=(3, 5)).astype(bool) | np.eye(3, 5, dtype=bool), pt.bool,
                 requires_grad=False)
    return [Sample(_x(ctx, (2, 3, 4)), _x(ctx, (2, 5, 4)), _x(ctx, (2, 5, 6)), reduction_length=5),
            Sample(_x(ctx, (2, 4, 4), "transposed"), _x(ctx, (2, 4, 4)), _x(ctx, (2, 4, 3)), is_causal=True,
                   reduction_length=4),
            Sample(_x(ctx, (1, 3, 4)), _x(ctx, (1, 5, 4), "stepped"), _x(ctx, (1, 5, 2)), attn_mask=mask,
                   reduction_length=5)]


def _shape_error(*shapes):
    return lambda ctx: [ErrorInput(Sample(*[_x(ctx, s) for s in shapes]), RuntimeError)]


def _errors(*cases):
    """ErrorInputs from ``(make(ctx) -> (args, kwargs), error, match)`` cases."""
    def f(ctx):
        out = []
        for make, err, match in cases:
            args, kwargs = make(ctx)
            out.append(ErrorInput(Sample(*args, **kwargs), err, match))
        return out
    return f


def _not_a_tensor(op, *rest, **kwargs):
    """A list for the input tensor: PyTorch's TypeError (callables in ``rest`` make tensors)."""
    def make(ctx):
        return [[1.0, 2.0], *[r(ctx) if callable(r) else r for r in rest]], kwargs
    return make, TypeError, rf"{op}\(\): argument 'input' must be Tensor, not list"


_BOOL_CONV = "not implemented for dtype plugtorch.bool"

def _grid(ctx, shape):
    return Input(ctx.values(shape, low=-1.2, high=1.2), ctx.dtype)


def _grid_sample(ctx):
    return [Sample(_x(ctx, (2, 3, 4, 5)), _grid(ctx, (2, 3, 2, 2)), align_corners=False, reduction_length=4),
            Sample(_x(ctx, (1, 2, 3, 4), "transposed"), _grid(ctx, (1, 2, 3, 2)), mode="nearest",
                   padding_mode="border", align_corners=True),
            Sample(_x(ctx, (1, 2, 2, 3, 4)), _grid(ctx, (1, 2, 2, 2, 3)), padding_mode="reflection",
                   align_corners=False, reduction_length=8),
            Sample(_x(ctx, (1, 2, 4, 5)), _grid(ctx, (1, 2, 3, 2)), mode="bicubic", padding_mode="reflection",
                   align_corners=False, reduction_length=16)]


def _interpolate(ctx):
    return [Sample(_x(ctx, (1, 2, 4, 5)), (7, 3), mode="bicubic", reduction_length=16),
            Sample(_x(ctx, (1, 2, 4, 5), "transposed"), scale_factor=1.5, mode="bicubic", align_corners=True,
                   reduction_length=16),
            Sample(_x(ctx, (2, 3, 6, 4)), (3, 2), mode="area", reduction_length=4),
            Sample(_x(ctx, (1, 2, 3, 4, 5)), scale_factor=(1.5, 0.5, 2.0), mode="nearest-exact"),
            Sample(_x(ctx, (1, 2, 9, 7)), (4, 3), mode="bicubic", antialias=True, reduction_length=24),
            Sample(_x(ctx, (1, 1, 8, 9), "transposed"), (3, 5), mode="lanczos", antialias=True, reduction_length=48)]


def _affine_grid(ctx):
    return [Sample(_x(ctx, (2, 2, 3)), (2, 1, 3, 4), align_corners=False, reduction_length=3),
            Sample(_x(ctx, (1, 3, 4)), (1, 1, 2, 3, 2), align_corners=True, reduction_length=4)]


def _pdist(ctx):
    return [Sample(_x(ctx, (5, 3)), reduction_length=3), Sample(_x(ctx, (4, 6), "transposed"), 1.0, reduction_length=6)]


ENTRIES = [
    Entry("linear", samples=_linear, dtypes=NN_DTYPES, error_inputs=_shape_error((4, 3), (2, 5))),
    Entry("_linear_backward", samples=_linear_backward, dtypes=NN_DTYPES,
          error_inputs=_shape_error((4, 3), (4, 3), (2, 3))),
    Entry("bilinear", samples=_bilinear, dtypes=NN_DTYPES),
    Entry("conv1d", samples=_conv1d, dtypes=NN_DTYPES,
          error_inputs=lambda ctx: _shape_error((2, 3, 8), (4, 2, 3))(ctx) + _errors(
              (lambda c: ([_x(c, (1, 4, 9)), _x(c, (2, 2, 3))], {"groups": 2.5}), TypeError, "'groups' must be int"),
              (lambda c: ([_x(c, (1, 2, 6), dtype=pt.bool), _x(c, (3, 2, 3), dtype=pt.bool)], {}),
               NotImplementedError, _BOOL_CONV))(ctx)),
    Entry("conv2d", samples=_conv2d, dtypes=NN_DTYPES,
          error_inputs=lambda ctx: _shape_error((2, 3, 6, 6), (4, 2, 3, 3))(ctx) + _errors(
              (lambda c: ([_x(c, (1, 2, 6, 6), dtype=pt.bool), _x(c, (3, 2, 3, 3), dtype=pt.bool)], {}),
               NotImplementedError, _BOOL_CONV),
              (lambda c: ([_x(c, (1, 2, 6, 6)), _x(c, (2, 1, 3, 3))], {"groups": 2.0}), TypeError,
               "'groups' must be int"))(ctx)),
    # (as _gelu_backward below: its cpu kernel (one einsum per offset) and its decomposition, which runs
    # when its inputs require grad (double backward), round differently; forward only here, its
    # gradients are gradgradcheck's in tests/nn/test_conv.py)
    Entry("_depthwise_conv2d_weight_grad", samples=_depthwise_conv2d_weight_grad, dtypes=NN_DTYPES,
          differentiable=False),
    Entry("conv_transpose2d", samples=_conv_transpose2d, dtypes=NN_DTYPES, error_inputs=_errors(
        _not_a_tensor("conv_transpose2d", lambda c: _x(c, (2, 3, 3, 3))),
        (lambda c: ([_x(c, (1, 4, 5, 5)), _x(c, (4, 1, 3, 3))], {"groups": 2.5}), TypeError, "'groups' must be int"),
        (lambda c: ([_x(c, (1, 2, 6, 6), dtype=pt.bool), _x(c, (2, 3, 3, 3), dtype=pt.bool)], {}),
         NotImplementedError, _BOOL_CONV))),
    Entry("avg_pool2d", samples=_avg_pool, dtypes=NN_DTYPES, error_inputs=_errors(
        (lambda c: ([_x(c, (1, 2, 6, 6)), 2], {"ceil_mode": "yes"}), TypeError, "'ceil_mode' must be bool, not str"),
        (lambda c: ([_x(c, (1, 2, 6, 6)), 2], {"count_include_pad": 1}), TypeError,
         "'count_include_pad' must be bool, not int"))),
    Entry("max_pool2d", samples=_max_pool, dtypes=NN_DTYPES, error_inputs=_errors(
        (lambda c: ([_x(c, (1, 2, 6, 6)), 2], {"ceil_mode": "yes"}), TypeError, "'ceil_mode' must be bool, not str"))),
    Entry("max_pool3d", samples=_max_pool3d, dtypes=NN_DTYPES),
    Entry("avg_pool3d", samples=_avg_pool3d, dtypes=NN_DTYPES),
    Entry("adaptive_avg_pool3d", samples=_adaptive_avg_pool3d, dtypes=NN_DTYPES),
    Entry("prelu", samples=_prelu, dtypes=NN_DTYPES),
    Entry("hardtanh", samples=_hardtanh, dtypes=NN_DTYPES),
    Entry("gelu", samples=_gelu, dtypes=NN_DTYPES),
    Entry("silu", samples=_silu, dtypes=NN_DTYPES),
    # (as _layer_norm_backward below: its kernel is more accurate than its decomposition, which runs
    # when its inputs require grad (double backward); forward only here, gradients by gradcheck)
    Entry("_gelu_backward", samples=_gelu_backward, dtypes=NN_DTYPES, differentiable=False),
    Entry("_silu_backward", samples=_silu_backward, dtypes=NN_DTYPES),
    Entry("grid_sample", samples=_grid_sample, dtypes=NN_DTYPES),
    *[Entry(f"{kind}_pad{n}d", samples=_mode_pad(n), dtypes=NN_DTYPES) for kind in ("reflection", "replication")
      for n in (1, 2, 3)],
    Entry("batch_norm", samples=_batch_norm, dtypes=NN_DTYPES, error_inputs=_errors(
        _not_a_tensor("batch_norm", None, None, training=True),
        (lambda c: ([_x(c, (4, 3)), "m", None], {"training": True}), TypeError,
         "argument 'running_mean' must be Tensor, not str"))),
    Entry("group_norm", samples=_group_norm, dtypes=NN_DTYPES, error_inputs=_errors(
        _not_a_tensor("group_norm", 2),
        (lambda c: ([_x(c, (2, 4, 3)), 2, "w"], {}), TypeError, "argument 'weight' must be Tensor, not str"))),
    Entry("layer_norm", samples=_layer_norm, dtypes=NN_DTYPES, error_inputs=_errors(
        _not_a_tensor("layer_norm", (2,)),
        (lambda c: ([_x(c, (2, 4)), (4,), "w"], {}), TypeError, "argument 'weight' must be Tensor, not str"))),
    # (its cpu kernel and its decomposition, which runs when its inputs require grad (double
    # backward), round differently: a graph traced with grad replays the decomposition's bits, up
    # to 3e-7 from the kernel's in float32; forward only here, its gradients are gradcheck's)
    Entry("_layer_norm_backward", samples=_layer_norm_backward, dtypes=NN_DTYPES, differentiable=False),
    Entry("rms_norm", samples=_rms_norm, dtypes=NN_DTYPES, error_inputs=_errors(
        _not_a_tensor("rms_norm", (2,)),
        (lambda c: ([_x(c, (2, 3)), (3,), _x(c, (4,))], {}), RuntimeError,
         "Expected weight to be of same shape as normalized_shape"))),
    Entry("embedding", samples=_embedding, dtypes=NN_DTYPES),
    Entry("_embedding_bag", samples=_embedding_bag, dtypes=NN_DTYPES, error_inputs=_errors(
        (lambda c: ([_targets(c, (4,), 3), _x(c, (3, 2)), Input(np.array([1, 2]), pt.int64, requires_grad=False)],
                    {}), RuntimeError, r"offsets\[0\] has to be 0"),
        (lambda c: ([Input(np.array([0, 3]), pt.int64, requires_grad=False), _x(c, (3, 2)),
                     Input(np.array([0]), pt.int64, requires_grad=False)], {}), RuntimeError,
         "embedding_bag: index out of range"))),
    Entry("cross_entropy", samples=lambda ctx: _cross_entropy(ctx) + _cross_entropy_hard(ctx), dtypes=NN_DTYPES, error_inputs=_errors(
        (lambda c: ([_x(c, (2, 3)), _targets(c, (2,), 3)], {"ignore_index": True}), TypeError,
         "'ignore_index' must be int, not bool"))),
    Entry("_cross_entropy_backward", samples=_cross_entropy_backward, dtypes=NN_DTYPES,
          error_inputs=_cross_entropy_backward_errors),
    Entry("nll_loss", samples=_nll_loss, dtypes=NN_DTYPES, error_inputs=_errors(
        (lambda c: ([_x(c, (2, 3)), _targets(c, (2,), 3)], {"ignore_index": 0.5}), TypeError,
         "'ignore_index' must be int, not float"))),
    Entry("scaled_dot_product_attention", samples=_sdpa, dtypes=NN_DTYPES),
    Entry("dropout", fn=creation.dropout, samples=creation.dropout_samples, compare=creation.dropout_compare,
          dtypes=FLOAT_DTYPES, differentiable=False, random=True),
    # functionals without a layer (composites of the registry ops, not ops themselves)
    Entry("nn.functional.affine_grid", fn=plugtorch.nn.functional.affine_grid, samples=_affine_grid,
          dtypes=NN_DTYPES, differentiable=True),
    Entry("nn.functional.interpolate", fn=plugtorch.nn.functional.interpolate, samples=_interpolate,
          dtypes=NN_DTYPES, differentiable=True),
    Entry("nn.functional.pdist", fn=plugtorch.nn.functional.pdist, samples=_pdist, dtypes=NN_DTYPES,
          differentiable=True),
]
