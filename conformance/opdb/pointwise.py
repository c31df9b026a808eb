"""Elementwise ops: unary, binary, ternary and the pointwise composites."""
from __future__ import annotations

import numpy as np

import plugtorch as pt

from ..entry import ALL_DTYPES, FLOAT_DTYPES, INT_DTYPES, NUMERIC_DTYPES, Entry, ErrorInput, Input, Sample
from .generators import nary_samples, unary_samples
from .pointwise_samples import (clamp_mixed_samples, edge_pair_samples, edge_scalar_samples, edge_unary_samples,
                                mixed_samples, tiny_unary_samples,
                                same_dtype_required, where_mixed_samples, zero_divisor_errors)

_INF = float("inf")

BOOL_INT = (pt.bool,) + INT_DTYPES


def _errors_not_tensor(op):
    return lambda ctx: [ErrorInput(Sample([1.0, 2.0]), TypeError, f"{op}")]


def _x(ctx, shape=(2, 3), dtype=None, **kw):
    return ctx.input(shape, dtype=dtype, **kw)


# ---- unary --------------------------------------------------------------------------------
_FLOAT_VALUED = ["exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "sin", "cos",
                 "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "sigmoid", "erf", "reciprocal"]
# tan and the hyperbolic functions are evaluated where they are well conditioned in float16
_DOMAIN = {"tan": (-1.4, 1.4)}
# f(x) ~ x (or a multiple) for tiny x: these get tiny arguments compared relatively
_TINY_ACCURATE = {"expm1", "log1p", "sin", "tan", "asin", "atan", "sinh", "tanh", "erf"}


def _unary(low=None, high=None, domain=None, tiny=False, **kw):
    """unary_samples plus the dtype's edge values (always present), and with ``tiny`` tiny
    arguments compared relatively."""
    edge = edge_unary_samples(domain, kw.get("kwargs"))
    extra = edge if not tiny else (lambda ctx: edge(ctx) + tiny_unary_samples(domain)(ctx))
    return unary_samples(low=low, high=high, extra=extra, **kw)


ENTRIES = [Entry(n, samples=_unary(*_DOMAIN.get(n, (None, None)), domain=_DOMAIN.get(n), tiny=n in _TINY_ACCURATE),
                 dtypes=ALL_DTYPES, error_inputs=_errors_not_tensor(n)) for n in _FLOAT_VALUED]

ENTRIES += [
    Entry("neg", samples=_unary(), dtypes=NUMERIC_DTYPES,
          error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx, dtype=pt.bool)), RuntimeError, "Negation"),
                                    ErrorInput(Sample(3.0), TypeError, "neg")]),
    # a dtype an op has no kernel for: NotImplementedError, as PyTorch's dtype dispatch (torch 2.13)
    Entry("abs", samples=_unary(), dtypes=NUMERIC_DTYPES,
          error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx, dtype=pt.bool)), NotImplementedError, "abs")]),
    Entry("sign", samples=_unary(), dtypes=ALL_DTYPES, error_inputs=_errors_not_tensor("sign")),
    Entry("threshold_backward", samples=lambda ctx: [
        Sample(_x(ctx, (3, 4)), _x(ctx, (3, 4), requires_grad=False), 0),
        Sample(_x(ctx, (2, 5), layout="transposed"), _x(ctx, (2, 5), layout="stepped", requires_grad=False), 0.25),
        Sample(_x(ctx, ()), _x(ctx, (), requires_grad=False), -1)], dtypes=FLOAT_DTYPES,
        error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx, (3, 4)), _x(ctx, (4, 3)), 0), RuntimeError, "does not match"),
                                  ErrorInput(Sample(_x(ctx, dtype=pt.bool), _x(ctx, dtype=pt.bool), 0), NotImplementedError,
                                             "Bool")]),
    Entry("relu", samples=_unary(), dtypes=NUMERIC_DTYPES,
          error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx, dtype=pt.bool)), RuntimeError, "Boolean inputs"),
                                    ErrorInput(Sample(3.0), TypeError, "relu")]),
]
for _n in ("floor", "ceil", "trunc", "round"):
    ENTRIES.append(Entry(_n, samples=_unary(), dtypes=NUMERIC_DTYPES,
                         error_inputs=lambda ctx, n=_n: [ErrorInput(Sample(_x(ctx, dtype=pt.bool)), NotImplementedError, n)]))
for _n in ("isnan", "isinf", "isfinite", "logical_not"):
    ENTRIES.append(Entry(_n, samples=_unary(), dtypes=ALL_DTYPES, error_inputs=_errors_not_tensor(_n)))
ENTRIES.append(Entry("bitwise_not", samples=_unary(), dtypes=BOOL_INT,
                     error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx, dtype=pt.float32)), NotImplementedError,
                                                          "bitwise_not")]))


# ---- binary -------------------------------------------------------------------------------
def _bad_shapes(op, dtype=None):
    def f(ctx):
        return [ErrorInput(Sample(_x(ctx, (2, 3), dtype), _x(ctx, (4,), dtype)), RuntimeError, "broadcast"),
                ErrorInput(Sample(_x(ctx, (2,), dtype), "a"), TypeError, op)]
    return f


def _bad_shapes_or_bool(op):
    """Arithmetic PyTorch has no bool kernel for: NotImplementedError for two bool tensors."""
    def f(ctx):
        return _bad_shapes(op)(ctx) + [
            ErrorInput(Sample(_x(ctx, dtype=pt.bool), _x(ctx, dtype=pt.bool)), NotImplementedError, op)]
    return f


def _nonzero_ints(ctx):
    """Divisors: no integer zeros (integer division by zero is an error on cpu, undefined on devices)."""
    return (1, 10) if not ctx.dtype.is_floating_point else (None, None)


def _divisor_samples(op):
    def gen(ctx):
        lo, hi = _nonzero_ints(ctx)
        return nary_samples(2, lows=(None, lo), highs=(None, hi), scalars=(3,))(ctx) + _hand(op)(ctx)
    return gen


def _hand(op, exclude_zero_ties=False):
    """The always-present samples of a binary op: mixed dtypes and Python scalars, edge value pairs."""
    mixed, edges = mixed_samples(op), edge_pair_samples(op, exclude_zero_ties)
    return lambda ctx: mixed(ctx) + edges(ctx)


def _binary(op, *, scalars=(), exclude_zero_ties=False, **kw):
    nary, hand = nary_samples(2, scalars=scalars, **kw), _hand(op, exclude_zero_ties)
    return lambda ctx: nary(ctx) + hand(ctx)


def _division_errors(op):
    bad, zero = _bad_shapes_or_bool(op), zero_divisor_errors(op)
    return lambda ctx: bad(ctx) + zero(ctx)


ENTRIES += [
    Entry("add", samples=_binary("add", scalars=(2, 2.5, True)), error_inputs=_bad_shapes("add")),
    Entry("sub", samples=_binary("sub", scalars=(2, -1.5)), dtypes=NUMERIC_DTYPES,
          error_inputs=lambda ctx: _bad_shapes("sub")(ctx) + [
              ErrorInput(Sample(_x(ctx, dtype=pt.bool), _x(ctx, dtype=pt.bool)), RuntimeError, "bool"),
              ErrorInput(Sample(_x(ctx, dtype=pt.bool), 2), RuntimeError, "with a bool tensor"),
              ErrorInput(Sample(_x(ctx), True), RuntimeError, "with a bool tensor")]),
    Entry("mul", samples=_binary("mul", scalars=(3, 0.5, False)), error_inputs=_bad_shapes("mul")),
    Entry("div", samples=_binary("div", scalars=(4, 0.25)), error_inputs=_bad_shapes("div")),
    Entry("floor_divide", samples=_divisor_samples("floor_divide"), dtypes=NUMERIC_DTYPES,
          error_inputs=_division_errors("floor_divide")),
    Entry("remainder", samples=_divisor_samples("remainder"), dtypes=NUMERIC_DTYPES,
          error_inputs=_division_errors("remainder")),
    Entry("fmod", samples=_divisor_samples("fmod"), dtypes=NUMERIC_DTYPES, error_inputs=_division_errors("fmod")),
    Entry("atan2", samples=_binary("atan2", scalars=(1.5,)), error_inputs=_bad_shapes("atan2")),
    # (0.0 against -0.0 is left out: PyTorch's maximum returns either zero there)
    Entry("maximum", samples=_binary("maximum", scalars=(0,), exclude_zero_ties=True),
          error_inputs=_bad_shapes("maximum")),
    Entry("minimum", samples=_binary("minimum", scalars=(0,), exclude_zero_ties=True),
          error_inputs=_bad_shapes("minimum")),
]


def _pow_samples(ctx):
    edges = edge_scalar_samples("pow", (0.5, -0.5, 2, 3, -1, -2.0))(ctx)
    if ctx.dtype.is_floating_point:
        return nary_samples(2, scalars=(2, 0.5, -1))(ctx) + _hand("pow")(ctx) + edges
    # small bases and exponents: integer powers overflow quickly, negative exponents are errors
    return nary_samples(2, lows=(-3, 0), highs=(4, 4), scalars=(2,))(ctx) + _hand("pow")(ctx) + edges


ENTRIES.append(Entry("pow", samples=_pow_samples, dtypes=NUMERIC_DTYPES, error_inputs=lambda ctx: _bad_shapes_or_bool("pow")(ctx) + [
    ErrorInput(Sample(_x(ctx, dtype=pt.int64), -1), RuntimeError, "negative integer powers")]))

for _n in ("eq", "ne", "lt", "le", "gt", "ge"):   # an int scalar takes the dtype, wrapping: uint8 < -3 is uint8 < 253
    ENTRIES.append(Entry(_n, samples=_binary(_n, scalars=(0, 1.5, -3, 300)), error_inputs=_bad_shapes(_n)))
for _n in ("logical_and", "logical_or", "logical_xor"):
    ENTRIES.append(Entry(_n, samples=_binary(_n, scalars=(0, True)), error_inputs=_bad_shapes(_n)))
for _n in ("bitwise_and", "bitwise_or", "bitwise_xor"):
    ENTRIES.append(Entry(_n, samples=_binary(_n, scalars=(5,)), dtypes=BOOL_INT,
                         error_inputs=lambda ctx, n=_n: _bad_shapes(n, pt.int32)(ctx) + [
                             ErrorInput(Sample(_x(ctx, dtype=pt.float32), _x(ctx, dtype=pt.float32)),
                                        NotImplementedError, n)]))
for _n in ("bitwise_left_shift", "bitwise_right_shift"):
    ENTRIES.append(Entry(_n, samples=_binary(_n, lows=(None, 0), highs=(None, 8), scalars=(3,)), dtypes=INT_DTYPES,
                         error_inputs=lambda ctx, n=_n: [
                             ErrorInput(Sample(_x(ctx, dtype=pt.float32), 1), NotImplementedError, n),
                             ErrorInput(Sample(_x(ctx, dtype=pt.bool), _x(ctx, dtype=pt.bool)), NotImplementedError, n)]))


def _where_samples(ctx):
    out = []
    for s in nary_samples(2, scalars=(0,))(ctx):
        shape = s.args[0].shape
        cond = ctx.input(shape, dtype=pt.bool, requires_grad=False)
        out.append(Sample(cond, *s.args, name=s.name))
    out.append(Sample(ctx.input((3, 1), dtype=pt.bool), ctx.input((1, 4)), ctx.input((3, 4), layout="transposed"),
                      name="broadcast condition"))
    return out + where_mixed_samples(ctx)


ENTRIES.append(Entry("where", samples=_where_samples, error_inputs=lambda ctx: [
    ErrorInput(Sample(_x(ctx, dtype=pt.float32), _x(ctx), _x(ctx)), RuntimeError, "bool"),
    ErrorInput(Sample(_x(ctx, (2, 3), pt.bool), _x(ctx, (4,)), _x(ctx)), RuntimeError, "broadcast")]))


# ---- pointwise composites -----------------------------------------------------------------
ENTRIES += [
    Entry("clamp", samples=lambda ctx: _unary(kwargs={"min": -2, "max": 3})(ctx) + clamp_mixed_samples(ctx),
          dtypes=NUMERIC_DTYPES,
          error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx)), RuntimeError, "At least one")] + (
              [ErrorInput(Sample(_x(ctx), max=1e300 if ctx.dtype.is_floating_point else 2 ** 62), RuntimeError,
                          "without overflow")] if ctx.dtype not in (pt.int64, pt.float64) else [])),
    Entry("clamp_min", samples=unary_samples(kwargs={"min": 0.5}), dtypes=FLOAT_DTYPES),
    Entry("clamp_max", samples=unary_samples(kwargs={"max": 0}), dtypes=NUMERIC_DTYPES),
    Entry("lerp", samples=lambda ctx: nary_samples(2, scalars=(), kwargs={"weight": 0.25})(ctx) + _lerp_ends(ctx),
          dtypes=FLOAT_DTYPES, error_inputs=same_dtype_required("lerp", "expected dtype", 0.5)),
    Entry("frac", samples=_unary(), dtypes=FLOAT_DTYPES),
    Entry("nan_to_num", samples=_unary(), dtypes=NUMERIC_DTYPES),
    Entry("square", samples=_unary(), dtypes=NUMERIC_DTYPES),
    Entry("true_divide", samples=lambda ctx: nary_samples(2, scalars=(2,))(ctx) + _hand("div")(ctx),
          error_inputs=_bad_shapes("div")),
    Entry("rsub", samples=lambda ctx: nary_samples(2, scalars=(1,))(ctx) + mixed_samples("sub")(ctx),
          dtypes=NUMERIC_DTYPES),
    Entry("logaddexp", samples=lambda ctx: nary_samples(2, cpu_scalar=False)(ctx) + _logaddexp_edges(ctx)
          + _hand("logaddexp")(ctx), dtypes=FLOAT_DTYPES),
    Entry("isclose", samples=lambda ctx: nary_samples(2, cpu_scalar=False)(ctx) + _isclose_edges(ctx),
          dtypes=ALL_DTYPES, error_inputs=same_dtype_required("isclose", "did not match")),
]


def _values(ctx, values, dtype=None):
    return Input(np.array(values, dtype=np.float64).astype((dtype or ctx.dtype).numpy), dtype or ctx.dtype,
                 requires_grad=False)


def _logaddexp_edges(ctx):
    if not ctx.dtype.is_floating_point:   # (the fuzzer asks for other dtypes too)
        return []
    return [Sample(_values(ctx, [0.0, -_INF, _INF, _INF, -_INF, 0.1]), _values(ctx, [-30.0, -_INF, _INF, -_INF, 2.0, -3.0]),
                   name="infinities, far apart")]


def _lerp_ends(ctx):
    """lerp must hit its ends exactly (PyTorch computes from the nearer one: weight 1 gives end even
    from an input far larger), and round half precision once (1000 -> 1 at 0.75 is 251 in bfloat16)."""
    if not ctx.dtype.is_floating_point:
        return []
    big = float(pt.finfo(ctx.dtype).max) / 4
    a, b = _values(ctx, [big, 3.0, -big, 1000.0]), _values(ctx, [1.0, 5.0, 2.0, 1.0])
    return [Sample(a, b, weight=1.0, name="weight 1, |input| >> |end|"), Sample(a, b, weight=0.75, name="weight 0.75"),
            Sample(a, b, _values(ctx, [1.0, 0.0, -1.0, 0.75]), name="tensor weight at the ends")]


def _isclose_edges(ctx):
    """Opposite infinities are never close (their difference is no finite error); integers compare
    with the tolerances."""
    if ctx.dtype.is_floating_point:
        return [Sample(_values(ctx, [-_INF, _INF, _INF, 1.0]), _values(ctx, [_INF, -_INF, _INF, _INF]), atol=_INF,
                       name="infinities")]
    if ctx.dtype is pt.bool:
        return []
    return [Sample(_x(ctx, (3, 4)), _x(ctx, (3, 4)), atol=2, name="atol=2")]


def _pairs(ctx):
    a = ctx.input((3, 4), layout="transposed")
    b = ctx.input((3, 4))
    same = ctx.input((2, 3))
    return [Sample(a, b), Sample(same, same), Sample(ctx.input((0,)), ctx.input((0,))),
            Sample(ctx.input((2, 6), profile="special"), ctx.input((2, 6), profile="special"))]


ENTRIES += [
    Entry("allclose", samples=_pairs, dtypes=FLOAT_DTYPES),
    Entry("equal", samples=_pairs, dtypes=ALL_DTYPES),
]
