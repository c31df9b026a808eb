"""Sample generators shared by the op families: hand-picked cases plus hypothesis draws.

Each ``*_samples(...)`` returns a function ``ctx -> list[Sample]`` for ``Entry(samples=...)``.
Hand-picked cases come first (0-d, empty, size-1, a transposed matrix, a strided slice, an
expanded row, a 0-d cpu tensor beside the device); the hypothesis draws follow.
"""
from __future__ import annotations

import math

from ..entry import Sample

# shapes every unary op sees, with the layout they are built in
HAND_UNARY = (((), "contiguous"), ((0,), "contiguous"), ((1,), "contiguous"), ((2, 0, 3), "contiguous"),
              ((3, 4), "transposed"), ((2, 5), "stepped"), ((3, 4), "expanded"), ((1, 1, 1), "contiguous"))
HAND_BINARY = ((((), ()), ("contiguous",) * 2), (((0,), (1,)), ("contiguous",) * 2),
               (((3, 1), (1, 4)), ("contiguous",) * 2), (((4, 3), (4, 3)), ("transposed", "stepped")),
               (((2, 3, 4), (4,)), ("expanded", "contiguous")), (((5,), ()), ("stepped", "contiguous")))


def numel(shape) -> int:
    return math.prod(shape)


def unary_samples(*, low=None, high=None, special=True, unique=False, extra=None, kwargs=None):
    """One tensor argument: hand-picked shapes and layouts, then hypothesis draws."""
    kwargs = kwargs or {}

    def gen(ctx):
        out = []
        for shape, layout in HAND_UNARY:
            out.append(Sample(ctx.input(shape, layout=layout, low=low, high=high, unique=unique), **kwargs))
        if special and ctx.dtype.is_floating_point and low is None:
            out.append(Sample(ctx.input((2, 6), profile="special"), name="inf/nan/-0.0", **kwargs))
        for d in ctx.draws("unary"):
            prof = d["profile"] if (special or d["profile"] != "special") else "normal"
            if low is not None or high is not None:
                prof = "normal"
            out.append(Sample(ctx.input(d["shape"], layout=d["layout"], profile=prof, low=low, high=high,
                                        seed=d["seed"], unique=unique), name=f"hypothesis {prof}", **kwargs))
        if extra:
            out.extend(extra(ctx))
        return out
    return gen


def nary_samples(k=2, *, lows=None, highs=None, scalars=(), special=True, kwargs=None, cpu_scalar=True):
    """``k`` broadcasting tensor arguments; ``scalars`` are Python numbers tried as the last one."""
    lows = lows or (None,) * k
    highs = highs or (None,) * k
    kwargs = kwargs or {}

    def make(ctx, shapes, layouts, profile="normal", seed=None):
        prof = profile if special else ("normal" if profile == "special" else profile)
        if any(x is not None for x in lows + highs):
            prof = "normal"
        return [ctx.input(s, layout=lay, low=lo, high=hi, profile=prof, seed=None if seed is None else seed + i)
                for i, (s, lay, lo, hi) in enumerate(zip(shapes, layouts, lows, highs))]

    def gen(ctx):
        out = []
        for shapes, layouts in HAND_BINARY if k == 2 else _hand_nary(k):
            out.append(Sample(*make(ctx, shapes, layouts), **kwargs))
        if special and ctx.dtype.is_floating_point:
            out.append(Sample(*make(ctx, [(3, 4)] * k, ["contiguous"] * k, "special"), name="inf/nan/-0.0", **kwargs))
        for v in scalars:
            args = make(ctx, [(2, 3)] * (k - 1), ["contiguous"] * (k - 1))
            out.append(Sample(*args, v, name="Python scalar", **kwargs))
        if cpu_scalar:
            args = make(ctx, [(2, 3)] * k, ["contiguous"] * k)
            last = ctx.input((), low=lows[-1], high=highs[-1])
            last.on_cpu = True
            last.requires_grad = False
            out.append(Sample(*args[:-1], last, name="0-d cpu tensor", **kwargs))
        for d in ctx.draws("binary" if k == 2 else "ternary"):
            out.append(Sample(*make(ctx, d["shapes"], d["layouts"], d["profile"], d["seed"]),
                              name=f"hypothesis {d['profile']}", **kwargs))
        return out
    return gen


def _hand_nary(k):
    return (([()] * k, ["contiguous"] * k), ([(3, 1)] + [(1, 4)] * (k - 1), ["contiguous"] * k),
            ([(4, 3)] * k, ["transposed"] + ["stepped"] * (k - 1)), ([(0, 2)] * k, ["contiguous"] * k))


def reduce_samples(*, dims=True, keepdim=True, dtype_kw=False, special=True, nonempty=False,
                   unique=False, accumulate=True):
    """``(input, dim, keepdim)``: all dims, one dim, several dims, keepdim on and off."""

    def length(shape, dim):
        if not accumulate:
            return None
        if dim is None:
            return numel(shape)
        ds = [dim] if isinstance(dim, int) else list(dim)
        if not ds:
            return numel(shape)
        return max(1, numel([shape[d] for d in ds])) if shape else 1

    def ok(shape, dim):
        if not nonempty:
            return True
        if dim is None or (isinstance(dim, list) and not dim):
            return numel(shape) > 0
        ds = [dim] if isinstance(dim, int) else dim
        return all(shape[d] > 0 for d in ds) if shape else True

    def gen(ctx):
        out = []
        hand = [((), None, False, "contiguous"), ((5,), 0, False, "contiguous"), ((3, 4), 1, True, "transposed"),
                ((3, 4), 0, False, "stepped"), ((2, 3, 4), [0, 2], False, "contiguous"),
                ((2, 3, 4), None, True, "expanded"), ((4, 1), -1, False, "contiguous"),
                ((0, 3), 1, False, "contiguous"), ((0, 3), 0, True, "contiguous"), ((6, 40), 1, False, "contiguous")]
        for shape, dim, kd, layout in hand:
            if ok(shape, dim):
                out.append(_reduction(ctx, shape, dim, kd, layout, "normal", None, dims, keepdim, unique,
                                      length(shape, dim)))
        if special and ctx.dtype.is_floating_point:
            out.append(_reduction(ctx, (3, 5), 1, False, "contiguous", "special", None, dims, keepdim, unique,
                                  length((3, 5), 1), name="inf/nan/-0.0"))
        for d in ctx.draws("reduce"):
            if not dims:
                d = dict(d, dim=None)
            if ok(d["shape"], d["dim"]):
                prof = d["profile"] if special else "normal"
                out.append(_reduction(ctx, d["shape"], d["dim"], d["keepdim"], d["layout"], prof, d["seed"],
                                      dims, keepdim, unique, length(d["shape"], d["dim"]),
                                      name=f"hypothesis {prof}"))
        return out
    return gen


def _reduction(ctx, shape, dim, kd, layout, profile, seed, dims, keepdim, unique, n, name=""):
    x = ctx.input(shape, layout=layout, profile=profile, seed=seed, unique=unique)
    if not dims:
        return Sample(x, name=name, reduction_length=n)
    if not keepdim:
        return Sample(x, dim, name=name, reduction_length=n)
    return Sample(x, dim, kd, name=name, reduction_length=n)


def along_samples(*, extra_args=(), special=True, unique=False, accumulate=True, kwargs=None, min_size=0):
    """``(input, dim, *extra_args)`` for ops along one dim (cumsum, softmax, sort)."""
    kwargs = kwargs or {}

    def gen(ctx):
        out = []
        hand = [((), 0, "contiguous"), ((5,), 0, "contiguous"), ((3, 4), 1, "transposed"), ((3, 4), 0, "stepped"),
                ((2, 3, 4), -1, "expanded"), ((0, 3), 1, "contiguous"), ((4, 1), 1, "contiguous")]
        draws = [(d["shape"], d["dim"], d["layout"], d["profile"], d["seed"]) for d in ctx.draws("along")]
        for shape, dim, layout, *rest in [h + ("normal", None) for h in hand] + draws:
            profile, seed = rest
            prof = profile if special else "normal"
            size = shape[dim] if shape else 1
            if size < min_size:
                continue
            n = size if accumulate else None
            out.append(Sample(ctx.input(shape, layout=layout, profile=prof, seed=seed, unique=unique), dim,
                              *extra_args, reduction_length=n, name="hypothesis" if seed is not None else "",
                              **kwargs))
        if special and ctx.dtype.is_floating_point:
            out.append(Sample(ctx.input((3, 5), profile="special"), 1, *extra_args, name="inf/nan/-0.0",
                              reduction_length=5 if accumulate else None, **kwargs))
        return out
    return gen
