"""The losses nn.functional registers as composite ops (mse_loss, kl_div, binary_cross_entropy,
triplet_margin_loss ...) and cosine_similarity: PyTorch's autocast lists run them in float32, so
they are registry ops.

Each sees every reduction, a weight where it takes one, non-contiguous and 0-d or empty inputs,
and the edge values its formula treats apart (|d| at beta or delta, probabilities of exactly 0
and 1, zero targets of kl_div, logits whose exp overflows). Checked in float32 and float64, as
the other nn ops (opdb/nn.py).
"""
from __future__ import annotations

import numpy as np

import plugtorch as pt
import plugtorch.nn.functional  # noqa: F401  (registers the ops)

from ..entry import Entry, ErrorInput, Input, Sample

LOSS_DTYPES = (pt.float32, pt.float64)


def _x(ctx, shape, layout="contiguous", **kw):
    return ctx.input(shape, layout=layout, **kw)


def _const(ctx, values, requires_grad=False):
    return Input(np.asarray(values, dtype=np.float64), ctx.dtype, requires_grad=requires_grad)


def _signs(ctx, shape):
    """Targets of -1 and 1 (margin_ranking_loss, cosine_embedding_loss)."""
    return _const(ctx, ctx.rng.choice([-1.0, 1.0], size=shape))


def _pointwise_pair(ctx, **kw):
    """(input, target) pairs of one shape under each reduction: contiguous, non-contiguous, 0-d, empty."""
    return [Sample(_x(ctx, (4, 5)), _x(ctx, (4, 5)), reduction_length=20, **kw),
            Sample(_x(ctx, (4, 5), "transposed"), _x(ctx, (4, 5), "stepped"), reduction="sum",
                   reduction_length=20, **kw),
            Sample(_x(ctx, (3, 4)), _x(ctx, (3, 4), "transposed"), reduction="none", **kw),
            Sample(_x(ctx, ()), _x(ctx, ()), **kw),
            Sample(_x(ctx, (0, 3)), _x(ctx, (0, 3)), **kw),
            Sample(_x(ctx, (0, 3)), _x(ctx, (0, 3)), reduction="sum", **kw)]


def _mse(ctx):
    return _pointwise_pair(ctx) + [
        Sample(_x(ctx, (3, 4)), _x(ctx, (3, 4)), weight=_x(ctx, (3, 4), low=0.5, high=2, requires_grad=False),
               reduction_length=12, name="weight")]


def _near(ctx, at):
    """(input, target) with |input - target| at, just below and just above ``at`` (the formula's kink)."""
    d = np.array([at, -at, at * 0.5, -at * 1.5, 0.0, 3.0 * at + 1.0], np.float64)
    t = ctx.values((6,))
    return _const(ctx, t + d, requires_grad=True), _const(ctx, t, requires_grad=True)


def _smooth_l1(ctx):
    return _pointwise_pair(ctx) + _pointwise_pair(ctx, beta=0.5) + [
        Sample(_x(ctx, (3, 4)), _x(ctx, (3, 4)), beta=0.0, reduction="none", name="beta 0: l1"),
        Sample(*_near(ctx, 0.25), beta=0.25, reduction="none", name="|d| at beta")]


def _huber(ctx):
    return _pointwise_pair(ctx) + _pointwise_pair(ctx, delta=0.5) + [
        Sample(_x(ctx, (3, 4)), _x(ctx, (3, 4)), weight=_x(ctx, (3, 4), low=0.5, high=2, requires_grad=False),
               delta=2.0, reduction_length=12, name="weight"),
        Sample(*_near(ctx, 0.25), delta=0.25, reduction="none", name="|d| at delta")]


def _kl_div(ctx):
    logp = lambda shape, layout="contiguous": _x(ctx, shape, layout, low=-3, high=0)   # noqa: E731
    probs = lambda shape, layout="contiguous": _x(ctx, shape, layout, low=0.05, high=1)   # noqa: E731
    zeros = _const(ctx, [[0.0, 0.5, 0.0], [0.25, 0.0, 0.75]])
    return [Sample(logp((4, 5)), probs((4, 5)), reduction="batchmean", reduction_length=20),
            Sample(logp((4, 5), "transposed"), probs((4, 5), "stepped"), reduction="sum", reduction_length=20),
            Sample(logp((3, 4)), probs((3, 4)), reduction="none"),
            Sample(logp((3, 4)), _x(ctx, (3, 4), low=-3, high=0), reduction="batchmean", log_target=True,
                   reduction_length=12, name="log_target"),
            Sample(logp((2, 3)), zeros, reduction="none", name="zero targets"),
            Sample(logp(()), probs(()), reduction="batchmean"),
            Sample(logp((0, 3)), probs((0, 3)), reduction="sum")]


def _bce(ctx):
    p = lambda shape, layout="contiguous": _x(ctx, shape, layout, low=0.05, high=0.95)   # noqa: E731
    t = lambda shape, layout="contiguous": _x(ctx, shape, layout, low=0, high=1)   # noqa: E731
    edge = _const(ctx, [0.0, 1.0, 0.0, 1.0, 0.5, 1e-30])
    return [Sample(p((4, 5)), t((4, 5)), reduction_length=20),
            Sample(p((4, 5), "transposed"), t((4, 5), "stepped"), reduction="sum", reduction_length=20),
            Sample(p((3, 4)), t((3, 4)), _x(ctx, (3, 4), low=0.5, high=2, requires_grad=False), reduction="none",
                   name="weight"),
            Sample(p(()), t(())),
            Sample(p((0, 3)), t((0, 3)), reduction="sum"),
            # log clamped at -100 where the input is 0 or 1 (the gradient stays finite there)
            Sample(edge, _const(ctx, [0.0, 1.0, 1.0, 0.0, 0.5, 1.0]), reduction="none", name="inputs 0 and 1")]


def _bce_logits(ctx):
    t = lambda shape, layout="contiguous": _x(ctx, shape, layout, low=0, high=1)   # noqa: E731
    big = _const(ctx, [-200.0, -30.0, 0.0, 30.0, 200.0, 1e-3], requires_grad=True)
    return [Sample(_x(ctx, (4, 5)), t((4, 5)), reduction_length=20),
            Sample(_x(ctx, (4, 5), "transposed"), t((4, 5), "stepped"), reduction="sum", reduction_length=20),
            Sample(_x(ctx, (3, 4)), t((3, 4)), _x(ctx, (3, 4), low=0.5, high=2, requires_grad=False),
                   reduction="none", pos_weight=_x(ctx, (4,), low=0.5, high=3, requires_grad=False),
                   name="weight, pos_weight"),
            Sample(_x(ctx, ()), t(())),
            Sample(_x(ctx, (0, 3)), t((0, 3)), reduction="sum"),
            Sample(big, t((6,)), reduction="none", name="logits whose exp overflows")]


def _cosine_embedding(ctx):
    return [Sample(_x(ctx, (4, 5)), _x(ctx, (4, 5)), _signs(ctx, (4,)), reduction_length=5),
            Sample(_x(ctx, (4, 5), "transposed"), _x(ctx, (4, 5), "stepped"), _signs(ctx, (4,)), margin=0.2,
                   reduction="sum", reduction_length=5),
            Sample(_x(ctx, (3, 4)), _x(ctx, (3, 4)), _signs(ctx, (3,)), margin=-0.3, reduction="none",
                   reduction_length=4),
            Sample(_x(ctx, (5,)), _x(ctx, (5,)), _signs(ctx, ()), reduction_length=5, name="unbatched")]


def _margin_ranking(ctx):
    return [Sample(_x(ctx, (6,)), _x(ctx, (6,)), _signs(ctx, (6,)), reduction_length=6),
            Sample(_x(ctx, (6,), "stepped"), _x(ctx, (6,)), _signs(ctx, (6,)), margin=0.5, reduction="sum",
                   reduction_length=6),
            Sample(_x(ctx, (3, 4), "transposed"), _x(ctx, (3, 4)), _signs(ctx, (3, 4)), margin=0.1,
                   reduction="none"),
            Sample(_x(ctx, ()), _x(ctx, ()), _signs(ctx, ())),
            Sample(_x(ctx, (0,)), _x(ctx, (0,)), _const(ctx, np.zeros(0)), reduction="sum")]


def _cosine_similarity(ctx):
    return [Sample(_x(ctx, (4, 5)), _x(ctx, (4, 5)), reduction_length=5),
            Sample(_x(ctx, (4, 5), "transposed"), _x(ctx, (4, 5), "stepped"), dim=0, reduction_length=4),
            Sample(_x(ctx, (2, 3, 4)), _x(ctx, (3, 4)), dim=-1, reduction_length=4, name="broadcast"),
            Sample(_x(ctx, (3, 4)), _const(ctx, np.zeros((3, 4)), requires_grad=True), reduction_length=4,
                   name="zero vectors: eps"),
            Sample(_const(ctx, [[1e-9, -2e-9, 0.0], [3e-5, 1e-5, -2e-5]], requires_grad=True), _x(ctx, (2, 3)),
                   reduction_length=3, name="norms at and below eps"),
            Sample(_x(ctx, (3, 4), dtype=pt.int64, low=-5, high=5, requires_grad=False), _x(ctx, (3, 4)),
                   reduction_length=4, name="int64 beside a float"),
            Sample(_x(ctx, (0, 4)), _x(ctx, (0, 4)), reduction_length=4)]


def _soft_margin(ctx):
    return [Sample(_x(ctx, (4, 5)), _signs(ctx, (4, 5)), reduction_length=20),
            Sample(_x(ctx, (4, 5), "transposed"), _signs(ctx, (4, 5)), reduction="sum", reduction_length=20),
            Sample(_x(ctx, (3, 4), "stepped"), _signs(ctx, (4,)), reduction="none", name="target broadcast"),
            Sample(_const(ctx, [-200.0, -30.0, 0.0, 30.0, 200.0], requires_grad=True), _signs(ctx, (5,)),
                   reduction="none", name="exp overflows"),
            Sample(_x(ctx, ()), _signs(ctx, ())),
            Sample(_x(ctx, (0, 3)), _x(ctx, (0, 3)), reduction="sum")]


def _hinge_embedding(ctx):
    odd = _const(ctx, [[1.0, -1.0, 0.5], [0.0, 1.0, -1.0]])   # neither 1 nor -1: both terms, as PyTorch's
    return [Sample(_x(ctx, (4, 5)), _signs(ctx, (4, 5)), reduction_length=20),
            Sample(_x(ctx, (4, 5), "transposed"), _signs(ctx, (4, 5)), margin=0.3, reduction="sum",
                   reduction_length=20),
            Sample(_x(ctx, (2, 3), "stepped"), odd, margin=2.0, reduction="none", name="targets not +-1"),
            Sample(_x(ctx, (3, 1)), _signs(ctx, (4,)), reduction="none", name="broadcast"),
            Sample(_x(ctx, ()), _signs(ctx, ())),
            Sample(_x(ctx, (0, 3)), _x(ctx, (0, 3)), reduction="sum")]


def _poisson_nll(ctx):
    counts = lambda shape: _const(ctx, ctx.rng.poisson(2.0, size=shape))   # noqa: E731  (0, 1 and above)
    return [Sample(_x(ctx, (4, 5)), counts((4, 5)), reduction_length=20),
            Sample(_x(ctx, (4, 5), "transposed"), counts((4, 5)), full=True, reduction="sum", reduction_length=20),
            Sample(_x(ctx, (3, 4), low=0.1, high=4), counts((3, 4)), log_input=False, full=True, reduction="none",
                   name="rates, full"),
            Sample(_const(ctx, [0.0, 1e-12, 2.0], requires_grad=True), counts((3,)), log_input=False,
                   reduction="none", name="rate 0: eps"),
            Sample(_x(ctx, ()), counts(())),
            Sample(_x(ctx, (0, 3)), _x(ctx, (0, 3)), reduction="sum")]


def _triplet(ctx):
    t = lambda shape, layout="contiguous": _x(ctx, shape, layout)   # noqa: E731
    return [Sample(t((4, 5)), t((4, 5)), t((4, 5)), reduction_length=5),
            Sample(t((4, 5), "transposed"), t((4, 5), "stepped"), t((4, 5)), margin=2.0, p=1.0, swap=True,
                   reduction="sum", reduction_length=5),
            Sample(t((2, 3, 4)), t((2, 3, 4)), t((2, 3, 4)), p=3.0, reduction="none", reduction_length=4),
            Sample(t((5,)), t((5,)), t((5,)), swap=True, reduction_length=5, name="unbatched")]


def _classes(ctx, shape, c):
    return Input(ctx.rng.integers(0, c, size=shape).astype(np.int64), pt.int64, requires_grad=False)


def _multi_margin(ctx):
    w = lambda: _x(ctx, (5,), low=0.5, high=2, requires_grad=False)   # noqa: E731
    return [Sample(_x(ctx, (4, 5)), _classes(ctx, (4,), 5), reduction_length=5),
            Sample(_x(ctx, (4, 5), "transposed"), _classes(ctx, (4,), 5), p=2, margin=0.5, weight=w(),
                   reduction="sum", reduction_length=5),
            Sample(_x(ctx, (3, 5), "stepped"), _classes(ctx, (3,), 5), weight=w(), reduction="none",
                   reduction_length=5),
            Sample(_x(ctx, (5,)), _classes(ctx, (), 5), reduction_length=5, name="unbatched"),
            Sample(_x(ctx, ()), _classes(ctx, (), 1), name="0-d: one class"),
            Sample(_x(ctx, (0, 5)), _classes(ctx, (0,), 5), reduction="sum")]


def _multilabel_margin(ctx):
    t = Input(np.array([[3, 0, -1, 1, 2], [0, 1, 2, 3, 4], [-1, 1, 2, 0, 0], [2, 2, -1, -1, 4]], np.int64),
              pt.int64, requires_grad=False)   # up to the first -1; all classes; none; a repeated class
    return [Sample(_x(ctx, (4, 5)), t, reduction_length=25),
            Sample(_x(ctx, (4, 5), "transposed"), t, reduction="sum", reduction_length=25),
            Sample(_x(ctx, (4, 5), "stepped"), t, reduction="none", reduction_length=25),
            Sample(_x(ctx, (5,)), Input(np.array([4, 1, -1, 0, 0], np.int64), pt.int64, requires_grad=False),
                   reduction_length=25, name="unbatched"),
            Sample(_x(ctx, (0, 5)), Input(np.zeros((0, 5), np.int64), pt.int64, requires_grad=False), reduction="sum")]


def _gaussian_nll(ctx):
    var = lambda shape, layout="contiguous": _x(ctx, shape, layout, low=0.2, high=2)   # noqa: E731
    return [Sample(_x(ctx, (4, 5)), _x(ctx, (4, 5)), var((4, 5)), reduction_length=20),
            Sample(_x(ctx, (4, 5), "transposed"), _x(ctx, (4, 5)), var((4,)), full=True, reduction="sum",
                   reduction_length=20, name="one variance per row"),
            Sample(_x(ctx, (3, 4)), _x(ctx, (3, 4), "stepped"), var((1, 4)), reduction="none", name="shared"),
            Sample(_x(ctx, (3, 4)), _x(ctx, (3, 4)), 0.5, eps=0.1, reduction_length=12, name="float var"),
            Sample(_x(ctx, (0, 3)), _x(ctx, (0, 3)), var((0, 3)), reduction="sum")]


def _multilabel_soft_margin(ctx):
    labels = lambda shape: _const(ctx, (ctx.rng.random(shape) > 0.5).astype(np.float64))   # noqa: E731
    return [Sample(_x(ctx, (4, 5)), labels((4, 5)), reduction_length=5),
            Sample(_x(ctx, (4, 5), "transposed"), labels((4, 5)), _x(ctx, (5,), low=0.5, high=2,
                                                                     requires_grad=False),
                   reduction="sum", reduction_length=5, name="weight"),
            Sample(_x(ctx, (3, 5), "stepped"), labels((3, 5)), reduction="none", reduction_length=5),
            Sample(_x(ctx, (5,)), labels((5,)), reduction_length=5, name="unbatched"),
            Sample(_x(ctx, (0, 5)), labels((0, 5)), reduction="sum")]


def _ctc(ctx):
    ints = lambda v: Input(np.asarray(v, np.int64), pt.int64, requires_grad=False)   # noqa: E731
    logp = lambda shape, layout="contiguous": _x(ctx, shape, layout, low=-3, high=-0.1)   # noqa: E731
    return [Sample(logp((5, 2, 4)), ints([[1, 2], [3, 3]]), ints([5, 4]), ints([2, 2])),
            Sample(logp((5, 2, 4), "transposed"), ints([1, 3, 3]), ints([5, 5]), ints([1, 2]), blank=2,
                   reduction="sum", name="concatenated targets"),
            Sample(logp((4, 3, 3)), ints([[1, 1], [2, 0], [1, 2]]), ints([4, 2, 1]), ints([2, 1, 2]),
                   reduction="none", zero_infinity=True, name="impossible: zero_infinity"),
            Sample(logp((5, 4)), ints([2, 1]), ints(5), ints(2), name="unbatched")]


def _error(make, err, match):
    def f(ctx):
        args, kwargs = make(ctx)
        return [ErrorInput(Sample(*args, **kwargs), err, match)]
    return f


def _errors(*fns):
    return lambda ctx: [e for f in fns for e in f(ctx)]


def _bad_reduction(ctx):
    return [ErrorInput(Sample(_x(ctx, (3,)), _x(ctx, (3,)), reduction="avg"), ValueError,
                       "avg is not a valid value for reduction")]


ENTRIES = [
    Entry("mse_loss", samples=_mse, dtypes=LOSS_DTYPES, error_inputs=_bad_reduction),
    Entry("l1_loss", samples=_pointwise_pair, dtypes=LOSS_DTYPES, error_inputs=_bad_reduction),
    Entry("smooth_l1_loss", samples=_smooth_l1, dtypes=LOSS_DTYPES, error_inputs=_errors(
        _error(lambda c: ([_x(c, (3,)), _x(c, (3,))], {"beta": -1.0}), RuntimeError, "negative values for beta"))),
    Entry("huber_loss", samples=_huber, dtypes=LOSS_DTYPES, error_inputs=_errors(
        _error(lambda c: ([_x(c, (3,)), _x(c, (3,))], {"delta": 0.0}), RuntimeError,
               "non-positive values for delta"))),
    Entry("kl_div", samples=_kl_div, dtypes=LOSS_DTYPES, error_inputs=_bad_reduction),
    Entry("binary_cross_entropy", samples=_bce, dtypes=LOSS_DTYPES, error_inputs=_errors(
        _error(lambda c: ([_const(c, [0.5, 1.5]), _const(c, [0.0, 1.0])], {}), RuntimeError,
               "all elements of input should be between 0 and 1"),
        _error(lambda c: ([_const(c, [0.5, 0.5]), _const(c, [0.0, -1.0])], {}), RuntimeError,
               "all elements of target should be between 0 and 1"),
        _error(lambda c: ([_x(c, (3,), low=0, high=1), _x(c, (3, 1), low=0, high=1)], {}), ValueError,
               "different to the input size"),
        _error(lambda c: ([_x(c, (3,), dtype=pt.int16, low=0, high=2), _x(c, (3,), dtype=pt.int16, low=0, high=2)],
                          {}), NotImplementedError, "not implemented for dtype plugtorch.int16"))),
    Entry("binary_cross_entropy_with_logits", samples=_bce_logits, dtypes=LOSS_DTYPES, error_inputs=_errors(
        _error(lambda c: ([_x(c, (3,)), _x(c, (3, 1))], {}), ValueError, r"must be the same as input size"))),
    Entry("cosine_embedding_loss", samples=_cosine_embedding, dtypes=LOSS_DTYPES, error_inputs=_errors(
        _error(lambda c: ([_x(c, (2, 3, 4)), _x(c, (2, 3, 4)), _signs(c, (2,))], {}), RuntimeError,
               "expected 1D or 2D inputs"))),
    Entry("margin_ranking_loss", samples=_margin_ranking, dtypes=LOSS_DTYPES, error_inputs=_errors(
        _error(lambda c: ([_x(c, (3,)), _x(c, (3, 1)), _signs(c, (3,))], {}), RuntimeError,
               "All input tensors should have same dimension"))),
    Entry("cosine_similarity", samples=_cosine_similarity, dtypes=LOSS_DTYPES),
    Entry("soft_margin_loss", samples=_soft_margin, dtypes=LOSS_DTYPES, error_inputs=_errors(
        _bad_reduction,
        _error(lambda c: ([_x(c, (3,)), _x(c, (2, 3))], {}), RuntimeError, "doesn't match the broadcast shape"))),
    Entry("hinge_embedding_loss", samples=_hinge_embedding, dtypes=LOSS_DTYPES, error_inputs=_bad_reduction),
    Entry("poisson_nll_loss", samples=_poisson_nll, dtypes=LOSS_DTYPES, error_inputs=_bad_reduction),
    Entry("triplet_margin_loss", samples=_triplet, dtypes=LOSS_DTYPES, error_inputs=_errors(
        _error(lambda c: ([_x(c, (4, 3)), _x(c, (3,)), _x(c, (4, 3))], {}), RuntimeError,
               "expected to have the same number of dimensions"),
        _error(lambda c: ([_x(c, (4, 3)), _x(c, (4, 3)), _x(c, (4, 3))], {"margin": 0.0}), ValueError,
               "margin must be greater than 0"))),
    Entry("multi_margin_loss", samples=_multi_margin, dtypes=LOSS_DTYPES, error_inputs=_errors(
        _error(lambda c: ([_x(c, (3, 4)), Input(np.array([0, 4, 1]), pt.int64, requires_grad=False)], {}),
               RuntimeError, "target out of range"),
        _error(lambda c: ([_x(c, (3, 4)), _classes(c, (2,), 4)], {}), RuntimeError, "target tensor should be 1-D"),
        _error(lambda c: ([_x(c, (3, 4)), _classes(c, (3,), 4)], {"p": 3}), ValueError, "only p == 1 and p == 2"))),
    Entry("gaussian_nll_loss", samples=_gaussian_nll, dtypes=LOSS_DTYPES, error_inputs=_errors(
        _error(lambda c: ([_x(c, (3, 4)), _x(c, (3, 4)), _const(c, -np.ones((3, 4)))], {}), ValueError,
               "var has negative entry/entries"),
        _error(lambda c: ([_x(c, (3, 4)), _x(c, (3, 4)), _x(c, (2, 4), low=0.5, high=1)], {}), ValueError,
               "var is of incorrect size"))),
    Entry("multilabel_soft_margin_loss", samples=_multilabel_soft_margin, dtypes=LOSS_DTYPES,
          error_inputs=_bad_reduction),
    Entry("ctc_loss", samples=_ctc, dtypes=LOSS_DTYPES, error_inputs=_errors(
        _error(lambda c: ([_x(c, (4, 2, 3)), Input(np.array([[1, 2], [2, 2]]), pt.int64, requires_grad=False),
                           Input(np.array([5, 4]), pt.int64, requires_grad=False),
                           Input(np.array([2, 2]), pt.int64, requires_grad=False)], {}), RuntimeError,
               "Expected input_lengths to have value at most 4"),
        _error(lambda c: ([_x(c, (4, 2, 3)), Input(np.array([[1, 2], [2, 2]]), pt.int64, requires_grad=False),
                           Input(np.array([4, 4]), pt.int64, requires_grad=False),
                           Input(np.array([2, 2]), pt.int64, requires_grad=False)], {"blank": 3}), RuntimeError,
               "blank must be in label range"))),
    Entry("multilabel_margin_loss", samples=_multilabel_margin, dtypes=LOSS_DTYPES, error_inputs=_errors(
        _error(lambda c: ([_x(c, (4,)), Input(np.array([4, 0, -1, 1]), pt.int64, requires_grad=False)], {}),
               RuntimeError, "'target' is out of range"),
        _error(lambda c: ([_x(c, (3, 4)), _classes(c, (4,), 4)], {}), RuntimeError, "inconsistent target size"))),
]
