"""Reductions, scans, sorting and the statistics built on them.

Samples carry ``reduction_length`` so tolerances grow with the number of terms summed
(tolerances.py explains why). Sorting ops use distinct values (``unique=True``): with ties,
which index comes first is only defined for ``stable=True``, which gets its own sample.
"""
from __future__ import annotations

import numpy as np

import plugtorch as pt

from ..entry import ALL_DTYPES, FLOAT_DTYPES, NUMERIC_DTYPES, Entry, ErrorInput, Input, Sample
from .generators import along_samples, reduce_samples


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


ENTRIES = [
    Entry("sum", samples=reduce_samples(), dtypes=ALL_DTYPES, error_inputs=_dim_errors("sum")),
    Entry("prod", samples=reduce_samples(), dtypes=ALL_DTYPES, error_inputs=_dim_errors("prod")),
    Entry("amax", samples=reduce_samples(nonempty=True, accumulate=False), dtypes=ALL_DTYPES,
          error_inputs=_dim_errors("amax", (_no_identity("amax"),))),
    Entry("amin", samples=reduce_samples(nonempty=True, accumulate=False), dtypes=ALL_DTYPES,
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
    Entry("cumsum", samples=along_samples(), dtypes=ALL_DTYPES,
          error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx), 5), IndexError, "out of range")]),
    Entry("cumprod", samples=along_samples(), dtypes=ALL_DTYPES,
          error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx), -3), IndexError, "out of range")]),
]


def _sort_samples(extra=()):
    def gen(ctx):
        out = along_samples(extra_args=extra, unique=True, accumulate=False, special=False)(ctx)
        out.append(Sample(ctx.input((4, 6), low=0, high=3), -1, *extra, name="ties"))
        if ctx.dtype.is_floating_point:
            out.append(Sample(ctx.input((2, 7), profile="special", unique=False), 1, *extra, name="inf/nan/-0.0 (nan sorts last)"))
        return out
    return gen


def _topk_samples(ctx):
    out = []
    for s in along_samples(unique=True, accumulate=False, special=False)(ctx):
        x, dim = s.args
        if x.shape:
            out.append(Sample(x, min(2, x.shape[dim]), dim, name=s.name))
    return out


def _sort_compare(actual, expected, sample):
    """Values must match; indices must match too, except among equal values (order unspecified)."""
    import numpy as np
    (v, i), (rv, ri) = actual, expected
    if not _same(v, rv):
        return f"sorted values differ from cpu's:\n{v}\ncpu:\n{rv}"
    if i.shape != ri.shape:
        return f"indices have shape {i.shape}, cpu's {ri.shape}"
    x = sample.args[0].logical()
    if i.size and x.ndim:
        dim = (sample.args[1] if len(sample.args) > 1 else -1) % x.ndim
        if not _same(np.take_along_axis(x, i.astype(np.int64), axis=dim), v):
            return "the indices do not point at the sorted values"
    return None


def _argsort_compare(actual, expected, sample):
    """Indices may differ among equal values; the values they pick must be cpu's sorted values."""
    import numpy as np
    (i,), (ri,) = actual, expected
    x = sample.args[0].logical()
    if i.shape != ri.shape:
        return f"indices have shape {i.shape}, cpu's {ri.shape}"
    if not x.ndim:
        return None if np.array_equal(i, ri) else f"returned {i}, cpu returns {ri}"
    dim = sample.args[1] % x.ndim
    got = np.take_along_axis(x, i.astype(np.int64), axis=dim)
    want = np.take_along_axis(x, ri.astype(np.int64), axis=dim)
    return None if _same(got, want) else f"the indices sort the input as\n{got}\ncpu's sort it as\n{want}"


def _same(a, b):
    import numpy as np
    a = np.asarray(a, dtype=np.float64) if a.dtype.kind != "b" else a
    b = np.asarray(b, dtype=np.float64) if b.dtype.kind != "b" else b
    return a.shape == b.shape and bool(np.all((a == b) | ((a != a) & (b != b))))


ENTRIES += [
    Entry("sort", samples=_sort_samples(), dtypes=NUMERIC_DTYPES, compare=_sort_compare,
          fn=lambda x, dim=-1, *a, **k: tuple(pt.sort(x, dim, *a, **k))),
    Entry("argsort", samples=_sort_samples((True,)), dtypes=NUMERIC_DTYPES, compare=_argsort_compare,
          fn=lambda x, dim=-1, descending=False: pt.argsort(x, dim, descending=descending)),
    Entry("topk", samples=lambda ctx: _topk_samples(ctx), dtypes=NUMERIC_DTYPES, fn=lambda *a, **k: tuple(pt.topk(*a, **k)),
          error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx, (3,)), 5), RuntimeError, "out of range")]),
    Entry("kthvalue", samples=lambda ctx: [
        Sample(s.args[0], 1 + s.args[0].shape[s.args[1]] // 2, s.args[1], name=s.name)
        for s in along_samples(unique=True, accumulate=False, special=False, min_size=1)(ctx) if s.args[0].shape],
        dtypes=NUMERIC_DTYPES, fn=lambda *a, **k: tuple(pt.kthvalue(*a, **k))),
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
_FLOAT_STATS = reduce_samples(nonempty=True)
ENTRIES += [
    Entry("mean", samples=reduce_samples(), dtypes=FLOAT_DTYPES,
          error_inputs=lambda ctx: [_int_to_float_error("mean")(ctx)]),
    Entry("var", samples=_FLOAT_STATS, dtypes=FLOAT_DTYPES, error_inputs=lambda ctx: [_int_to_float_error("var")(ctx)]),
    Entry("std", samples=_FLOAT_STATS, dtypes=FLOAT_DTYPES),
    Entry("var_mean", samples=_FLOAT_STATS, dtypes=FLOAT_DTYPES),
    Entry("std_mean", samples=_FLOAT_STATS, dtypes=FLOAT_DTYPES),
    Entry("vector_norm", samples=lambda ctx: [Sample(s.args[0], 2, *s.args[1:], name=s.name, reduction_length=s.reduction_length)
                                              for s in reduce_samples()(ctx)] +
          [Sample(ctx.input((3, 4)), 1, 1), Sample(ctx.input((3, 4), layout="transposed"), float("inf"), 0),
           Sample(ctx.input((5,)), 0.5, reduction_length=5)], dtypes=FLOAT_DTYPES),
    Entry("norm", samples=lambda ctx: [Sample(ctx.input((3, 4), layout="transposed"), reduction_length=12),
                                       Sample(ctx.input((3, 4)), 1, 1, reduction_length=3),
                                       Sample(ctx.input((2, 5), layout="stepped"), 2, 0, True, reduction_length=2)],
          dtypes=FLOAT_DTYPES),
    Entry("logsumexp", samples=along_samples(), dtypes=FLOAT_DTYPES),
    Entry("softmax", samples=along_samples(), dtypes=FLOAT_DTYPES, error_inputs=lambda ctx: [
        ErrorInput(Sample(_x(ctx, (0, 3)), 5), IndexError, "out of range"),
        ErrorInput(Sample(_x(ctx, (0,)), 0.0), TypeError, "must be an int")]),
    Entry("log_softmax", samples=lambda ctx: along_samples()(ctx) + _log_softmax_infinities(ctx), dtypes=FLOAT_DTYPES),
]


def _log_softmax_infinities(ctx):
    """Rows holding inf, or only -inf, are all nan (an infinite max is kept, unlike logsumexp's rule)."""
    if not ctx.dtype.is_floating_point:   # (the fuzzer asks for other dtypes too)
        return []
    inf = float("inf")
    v = np.array([[inf, 1.0, 2.0], [-inf, -inf, -inf], [-inf, 1.0, -inf]]).astype(ctx.dtype.numpy)
    return [Sample(Input(v, ctx.dtype, requires_grad=False), 1, name="rows with infinities")]
