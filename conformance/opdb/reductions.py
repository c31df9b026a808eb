"""Reductions, scans, sorting and the statistics built on them.

Samples carry ``reduction_length`` so tolerances grow with the number of terms summed
(tolerances.py explains why). Sorting ops use distinct values (``unique=True``) in their drawn
samples, and always-present rows full of ties (hard.py): ``stable=True`` sorts are compared
exactly, indices included; where PyTorch leaves the tied index unspecified (topk, kthvalue,
mode, unstable sorts) any index of an equal value passes. Reductions, scans and the softmax
family always see hard.py's numerically hard rows too.
"""
from __future__ import annotations

import zlib

import numpy as np

import plugtorch as pt

from ..compare import same_values
from ..entry import ALL_DTYPES, FLOAT_DTYPES, NUMERIC_DTYPES, Entry, ErrorInput, Input, Sample
from .generators import along_samples, reduce_samples
from .hard import hard_rows, tie_values


def _x(ctx, shape=(2, 3), dtype=None, **kw):
    return ctx.input(shape, dtype=dtype, **kw)


def _dim_errors(op, extra=()):
    def f(ctx):
        return [ErrorInput(Sample(_x(ctx), 2), IndexError, "out of range"),
                ErrorInput(Sample(_x(ctx), [0, 0]), RuntimeError, "multiple times"),
                ErrorInput(Sample([1, 2]), TypeError, op), *[e(ctx) for e in extra]]
    return f


def _logical_samples(ctx):
    """all/any's samples, and an empty dim list, which reduces nothing for them (unlike sum's)."""
    return reduce_samples(accumulate=False)(ctx) + [Sample(_x(ctx, (2, 3), layout="transposed"), [], name="dim=[]"),
                                                    Sample(_x(ctx, (0, 3)), (), True, name="dim=()")]


def _no_identity(op):
    return lambda ctx: ErrorInput(Sample(_x(ctx, (0, 3)), 0), IndexError, "non-zero size")


def _int_to_float_error(op):
    return lambda ctx: ErrorInput(Sample(_x(ctx, dtype=pt.int64)), RuntimeError, "floating point")


def hard(*extra, themes=None, transposed=True, order_free=False):
    """Samples over hard.py's hard rows of the entry's float dtype: ``(x, *extra)`` with each
    row of ``x`` along dim 1 (and once along dim 0 of a transposed copy).

    ``order_free``: the op sums, and a backend may add in any order; near overflow, whether
    a sum overflows then depends on the order, except in float16, which every backend
    accumulates in float32, so those rows are left out for the other dtypes.
    """
    def gen(ctx):
        if not ctx.dtype.is_floating_point:
            return []
        out = []
        for theme, v in hard_rows(ctx.dtype).items():
            if (themes and theme not in themes) or (order_free and theme == "near overflow"
                                                     and ctx.dtype is not pt.float16):
                continue
            n = v.shape[1]
            out.append(Sample(Input(v, ctx.dtype, requires_grad=False), *(1,) + extra, reduction_length=n,
                              name=f"hard: {theme}"))
            if transposed:   # the same rows down the columns of a strided view
                out.append(Sample(Input(np.ascontiguousarray(v), ctx.dtype, "transposed", requires_grad=False),
                                  *(0,) + extra, reduction_length=n, name=f"hard: {theme}, transposed"))
        return out
    return gen


def _plus(*gens):
    return lambda ctx: [s for g in gens for s in g(ctx)]


ENTRIES = [
    Entry("sum", samples=_plus(reduce_samples(), hard(order_free=True, transposed=False)), dtypes=ALL_DTYPES,
          error_inputs=_dim_errors("sum")),
    Entry("prod", samples=reduce_samples(), dtypes=ALL_DTYPES, error_inputs=_dim_errors("prod")),
    Entry("amax", samples=_plus(reduce_samples(nonempty=True, accumulate=False), hard(transposed=False)), dtypes=ALL_DTYPES,
          error_inputs=_dim_errors("amax", (_no_identity("amax"),))),
    Entry("amin", samples=_plus(reduce_samples(nonempty=True, accumulate=False), hard(transposed=False)), dtypes=ALL_DTYPES,
          error_inputs=_dim_errors("amin", (_no_identity("amin"),))),
    Entry("all", samples=_logical_samples, dtypes=ALL_DTYPES, error_inputs=_dim_errors("all")),
    Entry("any", samples=_logical_samples, dtypes=ALL_DTYPES, error_inputs=_dim_errors("any")),
    Entry("count_nonzero", samples=reduce_samples(keepdim=False, accumulate=False), dtypes=ALL_DTYPES),
]


def _arg_samples(ctx):
    out = [Sample(ctx.input((7,), unique=True)), Sample(ctx.input((3, 4), layout="transposed", unique=True), 1),
           Sample(ctx.input((3, 4), layout="stepped", unique=True), 0, True),
           Sample(ctx.input((2, 2, 3)), -1, False, name="ties: the first index wins")]
    if ctx.dtype.is_floating_point:
        out.append(Sample(ctx.input((3, 5), profile="special"), 1, name="nan wins"))
    for d in ctx.draws("along"):
        if d["shape"] and all(d["shape"]):
            out.append(Sample(ctx.input(d["shape"], layout=d["layout"], seed=d["seed"], unique=True), d["dim"],
                              name="hypothesis"))
    return out


def _arg_errors(op):
    return lambda ctx: [ErrorInput(Sample(_x(ctx, (0,))), IndexError, "numel"),
                        ErrorInput(Sample(_x(ctx), 3), IndexError, "out of range")]


ENTRIES += [
    Entry("argmax", samples=_arg_samples, dtypes=NUMERIC_DTYPES, error_inputs=_arg_errors("argmax")),
    Entry("argmin", samples=_arg_samples, dtypes=NUMERIC_DTYPES, error_inputs=_arg_errors("argmin")),
    Entry("cumsum", samples=_plus(along_samples(), hard(order_free=True)), dtypes=ALL_DTYPES,
          error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx), 5), IndexError, "out of range")]),
    Entry("cumprod", samples=_plus(along_samples(), hard(order_free=True)), dtypes=ALL_DTYPES,
          error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx), -3), IndexError, "out of range")]),
]


# rows full of ties (hard.py), the same on every run: every dim of a matrix and of a 3-d
# tensor, a transposed and a stepped view
_TIE_CASES = (((5, 8), 1, "contiguous"), ((5, 8), 0, "contiguous"), ((6, 5), 1, "transposed"),
              ((3, 4, 6), 0, "contiguous"), ((3, 4, 6), 1, "contiguous"), ((3, 4, 6), -1, "stepped"),
              ((17,), 0, "contiguous"))


def _ties(ctx, signed_zeros_and_nan=True):
    """``(Input, dim)`` pairs whose rows repeat a handful of values (nan, +-inf and both zeros
    among them for floats, unless ``signed_zeros_and_nan`` is False)."""
    rng = np.random.default_rng([16, zlib.crc32(ctx.dtype.name.encode())])
    out = []
    for k, (shape, dim, layout) in enumerate(_TIE_CASES):
        base = {"transposed": shape[:-2] + shape[-2:][::-1], "stepped": shape[:-1] + (2 * shape[-1],)}.get(layout, shape)
        v = tie_values(ctx.dtype, base, rng, special=(np.nan, np.inf, -np.inf)[k % 3])
        if not signed_zeros_and_nan and ctx.dtype.is_floating_point:
            v = np.where(np.isnan(v.astype(np.float64)), -3.0, np.abs(v.astype(np.float64))).astype(v.dtype)
        out.append((Input(v, ctx.dtype, layout, requires_grad=False), dim))
    return out


def _sort_samples(argsort=False):
    def gen(ctx):
        extra = (True,) if argsort else ()
        out = along_samples(extra_args=extra, unique=True, accumulate=False, special=False)(ctx)
        out.append(Sample(ctx.input((4, 6), low=0, high=3), -1, *extra, name="ties, unstable"))
        if ctx.dtype.is_floating_point:
            out.append(Sample(ctx.input((2, 7), profile="special", unique=False), 1, *extra, name="inf/nan/-0.0 (nan sorts last)"))
        for x, dim in _ties(ctx):
            for desc in (False, True):
                out.append(Sample(x, dim, desc, stable=True, name=f"ties, stable, {'descending' if desc else 'ascending'}"))
        return out
    return gen


def _topk_samples(ctx):
    out = []
    for s in along_samples(unique=True, accumulate=False, special=False)(ctx):
        x, dim = s.args
        if x.shape:
            out.append(Sample(x, min(2, x.shape[dim]), dim, name=s.name))
    for x, dim in _ties(ctx):
        n = x.shape[dim]
        out += [Sample(x, n // 2, dim, True, name="ties, largest"), Sample(x, n - 1, dim, False, name="ties, smallest")]
    return out


def _kthvalue_samples(ctx):
    out = [Sample(s.args[0], 1 + s.args[0].shape[s.args[1]] // 2, s.args[1], name=s.name)
           for s in along_samples(unique=True, accumulate=False, special=False, min_size=1)(ctx) if s.args[0].shape]
    for x, dim in _ties(ctx):
        n = x.shape[dim]
        out += [Sample(x, 1 + n // 2, dim, name="ties"), Sample(x, n, dim, True, name="ties, k = n, keepdim")]
    return out


def _mode_samples(ctx):
    """Ties are the point of mode; PyTorch's result is inconsistent for nan and for -0.0 beside 0.0
    (its value follows the index it picks), so mode's rows hold neither."""
    out = [Sample(Input(np.array(3, dtype=ctx.dtype.numpy), ctx.dtype, requires_grad=False), name="0-d"),
           Sample(ctx.input((3, 5), layout="transposed", low=0, high=3), 1)]
    for x, dim in _ties(ctx, signed_zeros_and_nan=False):
        out += [Sample(x, dim, name="ties"), Sample(x, dim, True, name="ties, keepdim")]
    return out


def _stable(sample):
    return bool(sample.kwargs.get("stable"))


def _sort_compare(actual, expected, sample):
    """Values must match; indices too: exactly for stable=True, otherwise up to the order of equal
    values (a permutation that sorts the input as cpu's does)."""
    (v, i), (rv, ri) = actual, expected
    if _stable(sample):
        return _exact_indices(i, ri) or (None if same_values(v, rv) else f"sorted values differ from cpu's:\n{v}\ncpu:\n{rv}")
    if not _same(v, rv):
        return f"sorted values differ from cpu's:\n{v}\ncpu:\n{rv}"
    if i.shape != ri.shape:
        return f"indices have shape {i.shape}, cpu's {ri.shape}"
    x = sample.args[0].logical()
    if i.size and x.ndim:
        dim = (sample.args[1] if len(sample.args) > 1 else -1) % x.ndim
        if not _is_permutation(i, dim):
            return f"the indices are not a permutation along dim {dim}:\n{i}"
        if not _same(np.take_along_axis(x, i.astype(np.int64), axis=dim), v):
            return "the indices do not point at the sorted values"
    return None


def _argsort_compare(actual, expected, sample):
    """Indices must be cpu's exactly for stable=True; otherwise they may differ among equal values,
    but must be a permutation that sorts the input as cpu's does."""
    (i,), (ri,) = actual, expected
    if _stable(sample):
        return _exact_indices(i, ri)
    x = sample.args[0].logical()
    if i.shape != ri.shape:
        return f"indices have shape {i.shape}, cpu's {ri.shape}"
    if not x.ndim:
        return None if np.array_equal(i, ri) else f"returned {i}, cpu returns {ri}"
    dim = sample.args[1] % x.ndim
    if i.size and not _is_permutation(i, dim):
        return f"the indices are not a permutation along dim {dim}:\n{i}"
    got = np.take_along_axis(x, i.astype(np.int64), axis=dim)
    want = np.take_along_axis(x, ri.astype(np.int64), axis=dim)
    return None if _same(got, want) else f"the indices sort the input as\n{got}\ncpu's sort it as\n{want}"


def _exact_indices(i, ri):
    if i.shape != ri.shape:
        return f"indices have shape {i.shape}, cpu's {ri.shape}"
    if np.array_equal(i, ri):
        return None
    at = tuple(int(k) for k in np.argwhere(i != ri)[0])
    return (f"a stable sort keeps equal values in their input order: index {i[at]} at {list(at)}, cpu's "
            f"{ri[at]}\nindices:\n{i}\ncpu's:\n{ri}")


def _is_permutation(i, dim):
    return bool(np.array_equal(np.sort(i, axis=dim), np.broadcast_to(
        np.arange(i.shape[dim]).reshape([-1 if d == dim else 1 for d in range(i.ndim)]), i.shape)))


def _picks_compare(dim_at, distinct=False):
    """(values, indices) picked along a dim (topk, kthvalue, mode): PyTorch does not say which of
    equal values an index points at, so values must be cpu's and each index must point at its
    value (and, for topk, at a different element)."""
    def compare(actual, expected, sample):
        (v, i), (rv, ri) = actual, expected
        if i.shape != ri.shape or v.shape != rv.shape:
            return f"results have shapes {v.shape} and {i.shape}, cpu's {rv.shape} and {ri.shape}"
        if not _same(v, rv):
            return f"values differ from cpu's:\n{v}\ncpu:\n{rv}"
        x = sample.args[0].logical()
        if x.ndim == 0 or not i.size:
            return None if np.array_equal(i, ri) else f"indices {i}, cpu's {ri}"
        dim = (sample.args[dim_at] if len(sample.args) > dim_at else -1) % x.ndim
        ii, vv = (i, v) if i.ndim == x.ndim else (np.expand_dims(i, dim), np.expand_dims(v, dim))
        if ((ii < 0) | (ii >= x.shape[dim])).any():
            return f"indices out of range for dim {dim} of size {x.shape[dim]}:\n{i}"
        if not _same(np.take_along_axis(x, ii.astype(np.int64), axis=dim), vv):
            return f"the indices do not point at the values returned:\nindices\n{i}\nvalues\n{v}"
        if distinct and (np.diff(np.sort(ii, axis=dim), axis=dim) == 0).any():
            return f"the same element was picked twice along dim {dim}:\n{i}"
        return None
    return compare


def _same(a, b):
    a = np.asarray(a, dtype=np.float64) if a.dtype.kind != "b" else a
    b = np.asarray(b, dtype=np.float64) if b.dtype.kind != "b" else b
    return a.shape == b.shape and bool(np.all((a == b) | ((a != a) & (b != b))))


ENTRIES += [
    Entry("sort", samples=_sort_samples(), dtypes=NUMERIC_DTYPES, compare=_sort_compare,
          fn=lambda x, dim=-1, *a, **k: tuple(pt.sort(x, dim, *a, **k))),
    Entry("argsort", samples=_sort_samples(argsort=True), dtypes=NUMERIC_DTYPES, compare=_argsort_compare,
          fn=lambda x, dim=-1, descending=False, stable=False: pt.argsort(x, dim, descending=descending, stable=stable)),
    Entry("topk", samples=_topk_samples, dtypes=NUMERIC_DTYPES, fn=lambda *a, **k: tuple(pt.topk(*a, **k)),
          compare=_picks_compare(2, distinct=True),
          error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx, (3,)), 5), RuntimeError, "out of range")]),
    Entry("kthvalue", samples=_kthvalue_samples, dtypes=NUMERIC_DTYPES, fn=lambda *a, **k: tuple(pt.kthvalue(*a, **k)),
          compare=_picks_compare(2)),
    Entry("mode", samples=_mode_samples, dtypes=ALL_DTYPES, fn=lambda *a, **k: tuple(pt.mode(*a, **k)),
          compare=_picks_compare(1), error_inputs=lambda ctx: [
              ErrorInput(Sample(_x(ctx, (0, 3)), 0), IndexError, "non-zero size"),
              ErrorInput(Sample(_x(ctx, (3,)), 1), IndexError, "out of range"),
              ErrorInput(Sample(_x(ctx, (3,)), 0.5), TypeError, "must be int")]),
]


def _max_samples(ctx):
    out = [Sample(ctx.input((3, 4), layout="transposed")), Sample(ctx.input((3, 4), unique=True), 1),
           Sample(ctx.input((2, 3, 4), layout="stepped", unique=True), 0, True),
           Sample(ctx.input((3, 4)), ctx.input((4,)), name="binary maximum")]
    if ctx.dtype.is_floating_point:
        out.append(Sample(ctx.input((3, 5), profile="special"), name="inf/nan/-0.0"))
    return out


def _named(fn):
    return lambda *a, **k: (lambda r: tuple(r) if isinstance(r, tuple) else r)(fn(*a, **k))


ENTRIES += [
    Entry("max", samples=_max_samples, dtypes=NUMERIC_DTYPES, fn=_named(pt.max)),
    Entry("min", samples=_max_samples, dtypes=NUMERIC_DTYPES, fn=_named(pt.min)),
    Entry("aminmax", samples=lambda ctx: [Sample(ctx.input((3, 4), layout="transposed")),
                                          Sample(ctx.input((3, 4), layout="stepped"), dim=1, keepdim=True)],
          dtypes=NUMERIC_DTYPES, fn=_named(pt.aminmax)),
]

# statistics: float only (an integer input is an error, as in PyTorch)
def _hard_norms(ctx):
    """vector_norm(x, ord, dim) over the hard rows: squares and cubes that overflow or underflow
    (float16 and bfloat16 sum their powers in float32, as PyTorch)."""
    return [Sample(s.args[0], p, s.args[1], name=f"{s.name}, ord={p}", reduction_length=s.reduction_length)
            for p in (2, 1, float("inf"), 3) for s in hard(order_free=True, transposed=p == 2)(ctx)]


_FLOAT_STATS = _plus(reduce_samples(nonempty=True), hard(order_free=True, transposed=False))
ENTRIES += [
    Entry("mean", samples=_plus(reduce_samples(), hard(order_free=True)), dtypes=FLOAT_DTYPES,
          error_inputs=lambda ctx: [_int_to_float_error("mean")(ctx)]),
    Entry("var", samples=_FLOAT_STATS, dtypes=FLOAT_DTYPES, error_inputs=lambda ctx: [_int_to_float_error("var")(ctx)]),
    Entry("std", samples=_FLOAT_STATS, dtypes=FLOAT_DTYPES),
    Entry("var_mean", samples=_FLOAT_STATS, dtypes=FLOAT_DTYPES),
    Entry("std_mean", samples=_FLOAT_STATS, dtypes=FLOAT_DTYPES),
    Entry("vector_norm", samples=lambda ctx: [Sample(s.args[0], 2, *s.args[1:], name=s.name, reduction_length=s.reduction_length)
                                              for s in reduce_samples()(ctx)] +
          [Sample(ctx.input((3, 4)), 1, 1), Sample(ctx.input((3, 4), layout="transposed"), float("inf"), 0),
           Sample(ctx.input((5,)), 0.5, reduction_length=5)] + _hard_norms(ctx), dtypes=FLOAT_DTYPES),
    Entry("norm", samples=lambda ctx: [Sample(ctx.input((3, 4), layout="transposed"), reduction_length=12),
                                       Sample(ctx.input((3, 4)), 1, 1, reduction_length=3),
                                       Sample(ctx.input((2, 5), layout="stepped"), 2, 0, True, reduction_length=2)] +
          [Sample(s.args[0], 2, s.args[1], name=s.name, reduction_length=6)
           for s in hard(order_free=True, transposed=False)(ctx)],
          dtypes=FLOAT_DTYPES),
    Entry("logsumexp", samples=_plus(along_samples(), hard()), dtypes=FLOAT_DTYPES),
    Entry("softmax", samples=_plus(along_samples(), hard()), dtypes=FLOAT_DTYPES, error_inputs=lambda ctx: [
        ErrorInput(Sample(_x(ctx, (0, 3)), 5), IndexError, "out of range"),
        ErrorInput(Sample(_x(ctx, (0,)), 0.0), TypeError, "must be an int")]),
    Entry("log_softmax", samples=_plus(along_samples(), lambda ctx: _log_softmax_infinities(ctx), hard()), dtypes=FLOAT_DTYPES),
]


def _log_softmax_infinities(ctx):
    """Rows holding inf, or only -inf, are all nan (an infinite max is kept, unlike logsumexp's rule)."""
    if not ctx.dtype.is_floating_point:   # (the fuzzer asks for other dtypes too)
        return []
    inf = float("inf")
    v = np.array([[inf, 1.0, 2.0], [-inf, -inf, -inf], [-inf, 1.0, -inf]]).astype(ctx.dtype.numpy)
    return [Sample(Input(v, ctx.dtype, requires_grad=False), 1, name="rows with infinities")]


# searchsorted: sorted lines with ties, values on, between and outside them; nan and -0.0 beside
# 0.0 in float lines (PyTorch's bisection decides where nan goes: every backend must agree)
def _searchsorted_samples(ctx):
    c = lambda v, layout="contiguous": Input(np.asarray(v), ctx.dtype, layout, requires_grad=False)  # noqa: E731
    line = [0, 1, 1, 3, 5, 5, 5, 9]
    vals = [[-1, 0, 1, 2], [5, 9, 10, 3]]
    rows = np.sort(np.asarray([[7, 2, 2, 0, 4], [1, 3, 8, 8, 6], [0, 0, 0, 5, 9]]), 1)
    out = [Sample(c(line), c(vals)), Sample(c(line), c(vals), right=True), Sample(c(line), c(vals), side="right"),
           Sample(c(line), c(vals, "transposed"), out_int32=True, name="transposed values"),
           Sample(Input(np.repeat(line, 2), ctx.dtype, "stepped", requires_grad=False), c([2, 5, 9, 0]),
                  name="stepped line"),
           Sample(c(rows), c([[2, 0, 9], [8, 3, 1], [0, 5, 6]]), right=True, name="a line per row"),
           Sample(c(rows.T.copy(), "transposed"), c([[4, 4], [8, 9], [0, 1]]), name="transposed lines"),
           Sample(c([9, 0, 5, 1, 5]), c([5, 1, 6]), sorter=Input(np.array([1, 3, 2, 4, 0]), pt.int64,
                                                                  requires_grad=False), name="sorter"),
           Sample(c(line), c(np.array(3)), name="0-d value"),
           Sample(c(line), c(np.zeros((2, 0))), name="no values"),
           Sample(c(np.zeros((2, 0))), c(np.ones((2, 3))), name="empty lines")]
    if ctx.dtype.is_floating_point:
        nan, inf = float("nan"), float("inf")
        out += [Sample(c([-inf, -0.0, 0.0, 1.5, inf, nan]), c([0.0, -0.0, nan, inf, -inf, 2.0]), name="specials"),
                Sample(c([[1, nan, 3, 4], [-0.0, 0.0, 0.0, nan]]), c([[3, nan], [0.0, -0.0]]), right=True,
                       name="nan inside the lines")]
    return out


ENTRIES += [
    Entry("searchsorted", samples=_searchsorted_samples, dtypes=NUMERIC_DTYPES, fn=pt.searchsorted,
          error_inputs=lambda ctx: [
              ErrorInput(Sample(_x(ctx, (2, 3)), _x(ctx, (3, 3))), RuntimeError, "first N-1 dimensions"),
              ErrorInput(Sample(_x(ctx, (3,)), _x(ctx, (2,)), right=True, side="left"), RuntimeError, "opposites"),
              ErrorInput(Sample(_x(ctx, (3,)), _x(ctx, (2,)), sorter=Input(np.array([0, 1, 2]), pt.int32,
                                                                            requires_grad=False)),
                         RuntimeError, "long dtype")]),
]
