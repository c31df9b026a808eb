"""Movement ops: views, layout copies, joining and splitting, casts and copies.

Every op sees transposed, strided and expanded inputs: view kernels that assume a contiguous
input are the classic bug this family is here to catch.
"""
from __future__ import annotations

import plugtorch as pt

from ..entry import ALL_DTYPES, Entry, ErrorInput, Sample
from .generators import HAND_UNARY


def _x(ctx, shape=(2, 3), dtype=None, **kw):
    return ctx.input(shape, dtype=dtype, **kw)


def per_shape(make, *, min_dims=0, contiguous_only=False):
    """Samples from ``make(ctx, x, shape) -> list of (args, kwargs)`` for every hand-picked and drawn shape."""
    def gen(ctx):
        cases = [(s, lay, "normal", None) for s, lay in HAND_UNARY + (((2, 3, 4), "transposed"), ((4, 1, 3), "stepped"))]
        cases += [(d["shape"], d["layout"], d["profile"], d["seed"]) for d in ctx.draws("unary")]
        out = []
        for shape, layout, profile, seed in cases:
            if len(shape) < min_dims:
                continue
            x = ctx.input(shape, layout="contiguous" if contiguous_only else layout, profile=profile, seed=seed)
            for args in make(ctx, x, tuple(shape)):
                args, kwargs = args if isinstance(args, tuple) and len(args) == 2 and isinstance(args[1], dict) else (args, {})
                out.append(Sample(*args, name=f"{x.layout}", **kwargs))
        return out
    return gen


def _perm(ctx, n):
    return [int(i) for i in ctx.rng.permutation(n)]


def _dim(ctx, shape, nonempty=False):
    dims = [d for d in range(len(shape)) if not nonempty or shape[d] > 0]
    return int(ctx.rng.choice(dims)) if dims else None


def _sizes(x, sizes):
    """(x, *sizes), or (x, ()) for no sizes: PyTorch's x.view() / x.expand() with none is a TypeError."""
    return (x, *sizes) if sizes else (x, ())


def _view_args(ctx, x, shape):
    out = [(x, -1), _sizes(x, tuple(reversed(shape)))]
    if shape:
        out.append((x, *shape[:-1], 1, shape[-1]))
    return out


def _expand_args(ctx, x, shape):
    big = tuple(3 if s == 1 else s for s in shape)
    return [(x, 2, *shape), _sizes(x, big), _sizes(x, [-1] * len(shape))]


def _slice_args(ctx, x, shape):
    d = _dim(ctx, shape)
    if d is None:
        return []
    return [(x, d, 1, None, 2), (x, d, 0, shape[d], 1), (x, d, -3, -1, 1), (x, d, 0, 100, 3)]


def _select_args(ctx, x, shape):
    d = _dim(ctx, shape, nonempty=True)
    return [] if d is None else [(x, d, -1), (x, d, 0)]


def _cat_args(ctx, x, shape):
    if not shape:
        return []
    d = _dim(ctx, shape)
    other = ctx.input(shape[:d] + (2,) + shape[d + 1:], layout="transposed")
    return [([x, other], d), ([x], -1), ([x, ctx.input((0,)), x], d)] if len(shape) >= 1 else []


def _copy_samples(ctx):
    out = []
    for shape, layout in HAND_UNARY:
        dst = ctx.input(shape, layout="contiguous", requires_grad=False)
        out.append(Sample(dst, ctx.input(shape, layout=layout)))
    out.append(Sample(ctx.input((3, 4)), ctx.input((4,), layout="stepped"), name="broadcast source"))
    out.append(Sample(ctx.input((3, 4)), ctx.input((3, 4), dtype=pt.int32), name="int32 source"))
    return out


def _cast_samples(ctx):
    """``_to_dtype(x, ctx.dtype)`` from float32, int64 and bool sources (values every target can hold)."""
    target = ctx.dtype
    lo = 0 if target in (pt.uint8, pt.bool) else -9
    out = []
    for shape, layout in HAND_UNARY:
        out.append(Sample(ctx.input(shape, layout=layout, dtype=pt.float32, low=lo, high=9), target))
    out.append(Sample(ctx.input((2, 5), dtype=pt.int64, low=lo, high=100 if target is not pt.int8 else 100), target))
    out.append(Sample(ctx.input((2, 5), dtype=pt.bool), target))
    if target.is_floating_point:
        out.append(Sample(ctx.input((2, 6), dtype=pt.float64, profile="special"), target, name="inf/nan/-0.0"))
        out.append(Sample(ctx.input((2, 6), dtype=pt.float64, profile="large"), target, name="rounding and overflow"))
    return out


def _reshape_args(ctx, x, shape):
    return [(x, -1), _sizes(x, tuple(reversed(shape))), (x, 1, *shape)]


def _flatten_args(ctx, x, shape):
    n = len(shape)
    return [(x,), (x, 0, -1)] + ([(x, 1, n - 1)] if n >= 2 else [])


def _unflatten_args(ctx, x, shape):
    if not shape:
        return []
    d = _dim(ctx, shape)
    return [(x, d, (1, shape[d])), (x, d, (shape[d], -1) if shape[d] else (0, 1))]


def _squeeze_args(ctx, x, shape):
    return [(x,), (x, _dim(ctx, shape))] if shape else [(x,)]


def _unsqueeze_args(ctx, x, shape):
    return [(x, 0), (x, -1), (x, len(shape) // 2)]


def _transpose_args(ctx, x, shape):
    n = max(len(shape), 1)
    return [(x, 0, -1), (x, int(ctx.rng.integers(0, n)), int(ctx.rng.integers(0, n)))]


def _narrow_args(ctx, x, shape):
    d = _dim(ctx, shape)
    if d is None:
        return []
    return [(x, d, 0, shape[d]), (x, d, shape[d] // 2, shape[d] - shape[d] // 2)]


def _movedim_args(ctx, x, shape):
    n = len(shape)
    return [(x, 0, -1), (x, list(range(n)), _perm(ctx, n))] if n else [(x, [], [])]


def _split_args(ctx, x, shape):
    d = _dim(ctx, shape)
    if d is None:
        return []
    return [(x, 2, d), (x, [shape[d]], d), (x, [shape[d] // 2, shape[d] - shape[d] // 2], d)]


def _chunk_args(ctx, x, shape):
    d = _dim(ctx, shape)
    return [] if d is None else [(x, 3, d), (x, 1, d)]


def _unbind_args(ctx, x, shape):
    d = _dim(ctx, shape)
    return [] if d is None else [(x, d)]


def _roll_args(ctx, x, shape):
    d = _dim(ctx, shape)
    return [(x, 1)] + ([(x, -2, d), (x, (1, 2), (0, -1))] if d is not None else [])


def _repeat_args(ctx, x, shape):
    return [(x, *([2] * len(shape))), (x, 2, *([1] * len(shape))), (x, *([1] * len(shape)), 3)]


def _tile_args(ctx, x, shape):
    return [(x, (2,)), (x, (1, 2, 1))]


def _diag_args(ctx, x, shape):
    return [(x,), (x, 1), (x, -1, -2, -1)]


def _tri_args(ctx, x, shape):
    return [(x,), (x, 1), (x, -1)]


def _stack_samples(ctx):
    out = []
    for shape, layout in HAND_UNARY:
        a = ctx.input(shape, layout=layout)
        b = ctx.input(shape)
        out.append(Sample([a, b], 0))
        out.append(Sample([a, b, a], -1))
    return out


def _expand_as_args(ctx, x, shape):
    return [(x, ctx.input((2,) + shape, requires_grad=False))]


def _errors(*cases):
    return lambda ctx: [ErrorInput(Sample(*make(ctx)), err, match) for make, err, match in cases]


def _contiguous_samples(ctx):
    out = per_shape(lambda ctx, x, s: [(x,)])(ctx)
    # NCHW stored NHWC (and NCDHW stored NDHWC): a permuted row-major copy on every backend
    for shape, layout, fmt in (((2, 3, 4, 5), "contiguous", pt.channels_last), ((2, 4, 3, 5), "transposed", pt.channels_last),
                               ((2, 3, 2, 2, 3), "contiguous", pt.channels_last_3d)):
        out.append(Sample(_x(ctx, shape, layout=layout), memory_format=fmt, name=f"{layout} {fmt.name}"))
    return out


ENTRIES = [
    Entry("view", samples=per_shape(_view_args, contiguous_only=True), dtypes=ALL_DTYPES, error_inputs=_errors(
        (lambda c: (_x(c, (3, 4), layout="transposed"), 12), RuntimeError, "reshape"),
        (lambda c: (_x(c, (3, 4)), 5), RuntimeError, "invalid for input of size"),
        (lambda c: (_x(c, ()),), TypeError, "missing 1 required positional argument"))),
    Entry("permute", samples=per_shape(lambda ctx, x, s: [_sizes(x, _perm(ctx, len(s))),
                                                          _sizes(x, tuple(reversed(range(len(s)))))]),
          dtypes=ALL_DTYPES, error_inputs=_errors((lambda c: (_x(c, (3, 4)), 0, 0), RuntimeError, "repeated dim"),
                                                  (lambda c: (_x(c, (3, 4)), 0), RuntimeError, "number of dims"),
                                                  (lambda c: (_x(c, ()),), TypeError, "missing 1 required"))),
    Entry("expand", samples=per_shape(_expand_args), dtypes=ALL_DTYPES,
          error_inputs=_errors((lambda c: (_x(c, (3, 4)), 3, 5), RuntimeError, "expand"),
                               (lambda c: (_x(c, (1, 4)), -2, 4), RuntimeError, "negative"),
                               (lambda c: (_x(c, ()),), TypeError, "missing 1 required"))),
    Entry("slice", samples=per_shape(_slice_args, min_dims=1), dtypes=ALL_DTYPES,
          error_inputs=_errors((lambda c: (_x(c, (3, 4)), 0, 0, 2, 0), ValueError, "step"))),
    Entry("select", samples=per_shape(_select_args, min_dims=1), dtypes=ALL_DTYPES,
          error_inputs=_errors((lambda c: (_x(c, (3, 4)), 1, 4), IndexError, "out of range"),
                               (lambda c: (_x(c, ()), 0, 0), IndexError, "0-dim"))),
    Entry("clone", samples=per_shape(lambda ctx, x, s: [(x,)]), dtypes=ALL_DTYPES),
    Entry("contiguous", samples=_contiguous_samples, dtypes=ALL_DTYPES, error_inputs=_errors(
        (lambda c: (_x(c, (2, 3, 4)), pt.channels_last), RuntimeError, "required rank 4 tensor"),
        # (a row-major input comes back as it is, as PyTorch's; a non-row-major one is refused)
        (lambda c: (_x(c, (2, 3, 4), layout="transposed"), pt.preserve_format), RuntimeError,
         "preserve memory format"))),
    Entry("flip", samples=per_shape(lambda ctx, x, s: [(x, _perm(ctx, len(s))[: max(1, len(s) // 2)]), (x, [])] if s else [(x, [])]),
          dtypes=ALL_DTYPES, error_inputs=_errors((lambda c: (_x(c, (3, 4)), [0, 0]), RuntimeError, "duplicates"))),
    Entry("cat", samples=per_shape(_cat_args, min_dims=1), dtypes=ALL_DTYPES, error_inputs=_errors(
        (lambda c: ([_x(c, (2, 3)), _x(c, (2, 4))], 0), RuntimeError, "Sizes of tensors must match"),
        (lambda c: ([],), ValueError, "non-empty"),   # ValueError in torch 2.13
        (lambda c: ([_x(c, (2,)), 1],), TypeError, "element 1"),
        (lambda c: ([_x(c, ())],), RuntimeError, "zero-dimensional"))),
    Entry("copy_", samples=_copy_samples, dtypes=ALL_DTYPES, differentiable=False,
          error_inputs=_errors((lambda c: (_x(c, (3,)), _x(c, (4,))), RuntimeError, "broadcast"))),
    Entry("_to_dtype", samples=_cast_samples, dtypes=ALL_DTYPES),
    Entry("reshape", samples=per_shape(_reshape_args), dtypes=ALL_DTYPES,
          error_inputs=_errors((lambda c: (_x(c, (3, 4)), 5, -1), RuntimeError, "invalid for input of size"),
                               (lambda c: (_x(c, (3, 4)), -1, -1), RuntimeError, "only one dimension"),
                               (lambda c: (_x(c, ()),), TypeError, "missing 1 required"))),
    Entry("flatten", samples=per_shape(_flatten_args), dtypes=ALL_DTYPES,
          error_inputs=_errors((lambda c: (_x(c, (2, 3, 4)), 2, 1), RuntimeError, "start_dim"),
                               (lambda c: (_x(c, ()), 0, 4), IndexError, r"range of \[-1, 0\]"),
                               (lambda c: (_x(c, ()), 0, -1.0), TypeError, "must be an int"))),
    Entry("unflatten", samples=per_shape(_unflatten_args, min_dims=1), dtypes=ALL_DTYPES,
          error_inputs=_errors((lambda c: (_x(c, (3, 4)), 1, (1, 3.5)), TypeError, "tuple of ints"),
                               (lambda c: (_x(c, (3, 1)), 1, ()), RuntimeError, "non-empty"))),
    Entry("squeeze", samples=per_shape(_squeeze_args), dtypes=ALL_DTYPES),
    Entry("unsqueeze", samples=per_shape(_unsqueeze_args), dtypes=ALL_DTYPES,
          error_inputs=_errors((lambda c: (_x(c, (3, 4)), 3), IndexError, "out of range"))),
    Entry("transpose", samples=per_shape(_transpose_args), dtypes=ALL_DTYPES,
          error_inputs=_errors((lambda c: (_x(c, ()), -5, 0), IndexError, r"range of \[-1, 0\]"),
                               (lambda c: (_x(c, ()), 0.0, -1), TypeError, "must be an int"))),
    Entry("t", samples=per_shape(lambda c, x, sh: [(x,)] if len(sh) <= 2 else []),
          dtypes=ALL_DTYPES, error_inputs=_errors((lambda c: (_x(c, (2, 3, 4)),), RuntimeError, "<= 2 dimensions"))),
    Entry("narrow", samples=per_shape(_narrow_args, min_dims=1), dtypes=ALL_DTYPES,
          error_inputs=_errors((lambda c: (_x(c, (3, 4)), 1, 2, 5), RuntimeError, "exceeds"),   # as torch 2.13
                               (lambda c: (_x(c, (3, 4)), 1, 5, 0), IndexError, "start out of range"),
                               (lambda c: (_x(c, (3, 4)), 1, 1, -1), RuntimeError, "length must be non-negative"),
                               (lambda c: (_x(c, ()), 0, 0, 1), RuntimeError, "0-dim"))),
    Entry("expand_as", samples=per_shape(_expand_as_args), dtypes=ALL_DTYPES),
    Entry("broadcast_to", samples=per_shape(lambda ctx, x, s: [(x, (2,) + s)]), dtypes=ALL_DTYPES),
    Entry("movedim", samples=per_shape(_movedim_args), dtypes=ALL_DTYPES),
    Entry("stack", samples=_stack_samples, dtypes=ALL_DTYPES, error_inputs=_errors(
        (lambda c: ([_x(c, (2, 3)), _x(c, (3, 2))],), RuntimeError, "equal size"))),
    Entry("split", samples=per_shape(_split_args, min_dims=1), dtypes=ALL_DTYPES,
          error_inputs=_errors((lambda c: (_x(c, (5,)), [2, 2]), RuntimeError, "sum exactly"),
                               (lambda c: (_x(c, (4,)), [5, -1]), RuntimeError, "non-negative entries"),
                               (lambda c: (_x(c, (4,)), [1.5, 2.5]), TypeError, "tuple of ints"))),
    Entry("chunk", samples=per_shape(_chunk_args, min_dims=1), dtypes=ALL_DTYPES,
          error_inputs=_errors((lambda c: (_x(c, (5,)), 0), RuntimeError, "greater than 0"))),
    Entry("unbind", samples=per_shape(_unbind_args, min_dims=1), dtypes=ALL_DTYPES),
    Entry("roll", samples=per_shape(_roll_args), dtypes=ALL_DTYPES,
          error_inputs=_errors((lambda c: (_x(c, (3, 4)), (1, 2), 0), RuntimeError, "align"))),
    Entry("repeat", samples=per_shape(_repeat_args), dtypes=ALL_DTYPES,
          error_inputs=_errors((lambda c: (_x(c, (3, 4)), 2), RuntimeError, "smaller"),
                               (lambda c: (_x(c, (2,)), -1, 4), RuntimeError, "negative dimension"))),
    Entry("tile", samples=per_shape(_tile_args), dtypes=ALL_DTYPES),
    Entry("diagonal", samples=per_shape(_diag_args, min_dims=2), dtypes=ALL_DTYPES),
    Entry("tril", samples=per_shape(_tri_args, min_dims=2), dtypes=ALL_DTYPES),
    Entry("triu", samples=per_shape(_tri_args, min_dims=2), dtypes=ALL_DTYPES),
]
