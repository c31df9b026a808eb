"""Matrix products and einsum: sums of ``k`` products, so tolerances grow with ``k``."""
from __future__ import annotations

import plugtorch as pt

from ..entry import FLOAT_DTYPES, INT_DTYPES, Entry, ErrorInput, Sample

MATMUL_DTYPES = INT_DTYPES + FLOAT_DTYPES
_HAND = (((3, 4), (4, 5), ("contiguous", "contiguous")), ((3, 4), (4, 5), ("transposed", "transposed")),
         ((2, 3, 4), (4, 2), ("stepped", "contiguous")), ((2, 1, 3, 4), (5, 4, 2), ("contiguous", "expanded")),
         ((0, 3), (3, 2), ("contiguous",) * 2), ((2, 0), (0, 3), ("contiguous",) * 2), ((1, 1), (1, 1), ("contiguous",) * 2),
         ((16, 64), (64, 8), ("contiguous", "transposed")))


def _matmul_samples(ctx):
    out = []
    for a, b, (la, lb) in _HAND:
        out.append(Sample(ctx.input(a, layout=la), ctx.input(b, layout=lb), reduction_length=a[-1]))
    for d in ctx.draws("matmul"):
        la, lb = d["layouts"]
        prof = "normal" if d["profile"] == "special" else d["profile"]
        out.append(Sample(ctx.input(d["a"], layout=la, profile=prof, seed=d["seed"]),
                          ctx.input(d["b"], layout=lb, profile=prof, seed=d["seed"] + 1),
                          reduction_length=d["a"][-1], name=f"hypothesis {prof}"))
    return out


def _vector_samples(ctx):
    """matmul with 1-d operands (PyTorch's vector rules)."""
    return [Sample(ctx.input((4,)), ctx.input((4,)), reduction_length=4),
            Sample(ctx.input((3, 4), layout="transposed"), ctx.input((4,), layout="stepped"), reduction_length=4),
            Sample(ctx.input((4,)), ctx.input((2, 4, 3)), reduction_length=4)]


def _matmul_errors(ctx):
    return [ErrorInput(Sample(ctx.input((3, 4)), ctx.input((5, 2))), RuntimeError, "cannot be multiplied"),
            ErrorInput(Sample(ctx.input((3, 4)), ctx.input((4, 2), dtype=pt.int32 if ctx.dtype is not pt.int32 else pt.int64)),
                       RuntimeError, "same dtype"),
            ErrorInput(Sample(ctx.input((2, 3), dtype=pt.bool), ctx.input((3, 2), dtype=pt.bool)), NotImplementedError,
                       "Bool")]   # as torch 2.13: no bool kernel


def _two_d(ctx):
    return [s for s in _matmul_samples(ctx) if len(s.args[0].shape) == 2 and len(s.args[1].shape) == 2]


def _batched(ctx):
    out = []
    for s in _matmul_samples(ctx):
        a, b = s.args
        if len(a.shape) == 3 and len(b.shape) == 3 and a.shape[0] == b.shape[0]:
            out.append(s)
    out.append(Sample(ctx.input((2, 3, 4), layout="transposed"), ctx.input((2, 4, 5), layout="stepped"), reduction_length=4))
    return out


def _einsum_samples(ctx):
    return [Sample("ij,jk->ik", ctx.input((3, 4), layout="transposed"), ctx.input((4, 5)), reduction_length=4),
            Sample("bij,bjk->bik", ctx.input((2, 3, 4)), ctx.input((2, 4, 2), layout="stepped"), reduction_length=4),
            Sample("ii->i", ctx.input((4, 4))), Sample("ij->", ctx.input((3, 5)), reduction_length=15),
            Sample("i,j->ij", ctx.input((3,)), ctx.input((4,), layout="stepped")),
            Sample("ijk->kji", ctx.input((2, 3, 4), layout="expanded")),
            # a dim summed within one operand goes through sum() (integers widen to int64), as PyTorch's
            Sample("ij,k->k", ctx.input((2, 3)), ctx.input((4,)), reduction_length=6)]


ENTRIES = [
    Entry("_matmul", samples=lambda ctx: [s for s in _matmul_samples(ctx)], dtypes=MATMUL_DTYPES,
          error_inputs=lambda ctx: _matmul_errors(ctx) + [
              ErrorInput(Sample(ctx.input((4,)), ctx.input((4, 2))), RuntimeError, "at least 2-D")]),
    Entry("matmul", samples=lambda ctx: _matmul_samples(ctx) + _vector_samples(ctx), dtypes=MATMUL_DTYPES,
          error_inputs=lambda ctx: _matmul_errors(ctx) + [
              ErrorInput(Sample(ctx.input(()), ctx.input((4,))), RuntimeError, "at least 1D")]),
    Entry("mm", samples=_two_d, dtypes=MATMUL_DTYPES, error_inputs=lambda ctx: [
        ErrorInput(Sample(ctx.input((2, 3, 4)), ctx.input((4, 2))), RuntimeError, "2-D")]),
    Entry("bmm", samples=_batched, dtypes=MATMUL_DTYPES, error_inputs=lambda ctx: [
        ErrorInput(Sample(ctx.input((3, 4)), ctx.input((4, 2))), RuntimeError, "3D"),
        ErrorInput(Sample(ctx.input((2, 3, 4)), ctx.input((3, 4, 2))), RuntimeError, "batch")]),
    Entry("trace", samples=lambda ctx: [Sample(ctx.input((4, 4)), reduction_length=4),
                                        Sample(ctx.input((3, 5), layout="transposed"), reduction_length=3),
                                        Sample(ctx.input((0, 2)), name="empty")],
          dtypes=MATMUL_DTYPES, error_inputs=lambda ctx: [
              ErrorInput(Sample(ctx.input((2, 2, 2))), RuntimeError, r"trace\(\): expected a matrix")]),
    Entry("dot", samples=lambda ctx: [Sample(ctx.input((5,)), ctx.input((5,), layout="stepped"), reduction_length=5),
                                      Sample(ctx.input((0,)), ctx.input((0,))),
                                      Sample(ctx.input((64,)), ctx.input((64,)), reduction_length=64)],
          dtypes=MATMUL_DTYPES, error_inputs=lambda ctx: [
              ErrorInput(Sample(ctx.input((2, 3)), ctx.input((3,))), RuntimeError, "1D")]),
    Entry("mv", samples=lambda ctx: [Sample(ctx.input((3, 4), layout="transposed"), ctx.input((4,), layout="stepped"),
                                            reduction_length=4),
                                     Sample(ctx.input((2, 0)), ctx.input((0,)))],
          dtypes=MATMUL_DTYPES, error_inputs=lambda ctx: [
              ErrorInput(Sample(ctx.input((2, 3)), ctx.input((3, 1))), RuntimeError, "a matrix and a vector")]),
    Entry("addmm", samples=lambda ctx: [
        Sample(ctx.input((3, 5)), ctx.input((3, 4), layout="transposed"), ctx.input((4, 5)), reduction_length=4),
        Sample(ctx.input((5,)), ctx.input((3, 4)), ctx.input((4, 5)), beta=2, alpha=0.5, reduction_length=4),
        Sample(ctx.input((3, 5)), ctx.input((3, 4)), ctx.input((4, 5)), beta=0, reduction_length=4)],
          dtypes=FLOAT_DTYPES, error_inputs=lambda ctx: [
              ErrorInput(Sample(ctx.input((3, 5)), ctx.input((3, 4, 1)), ctx.input((4, 5))), RuntimeError, "2-D")]),
    Entry("addmv", samples=lambda ctx: [
        Sample(ctx.input((3,)), ctx.input((3, 4)), ctx.input((4,)), reduction_length=4),
        Sample(ctx.input(()), ctx.input((3, 4)), ctx.input((4,)), beta=0.5, alpha=2, reduction_length=4)],
          dtypes=FLOAT_DTYPES),
    Entry("baddbmm", samples=lambda ctx: [
        Sample(ctx.input((2, 3, 5)), ctx.input((2, 3, 4)), ctx.input((2, 4, 5), layout="stepped"), reduction_length=4),
        Sample(ctx.input((3, 5)), ctx.input((2, 3, 4)), ctx.input((2, 4, 5)), beta=0.5, alpha=2, reduction_length=4)],
          dtypes=FLOAT_DTYPES),
    Entry("addbmm", samples=lambda ctx: [
        Sample(ctx.input((3, 5)), ctx.input((2, 3, 4)), ctx.input((2, 4, 5)), reduction_length=8),
        Sample(ctx.input((3, 5)), ctx.input((2, 3, 4)), ctx.input((2, 4, 5)), beta=0, alpha=2, reduction_length=8)],
          dtypes=FLOAT_DTYPES),
    Entry("addr", samples=lambda ctx: [
        Sample(ctx.input((3, 4)), ctx.input((3,)), ctx.input((4,), layout="stepped")),
        Sample(ctx.input((4,)), ctx.input((3,)), ctx.input((4,)), beta=2, alpha=0.5),
        Sample(ctx.input((3, 4)), ctx.input((3,)), ctx.input((4,)), beta=0)], dtypes=FLOAT_DTYPES),
    Entry("outer", samples=lambda ctx: [Sample(ctx.input((3,)), ctx.input((4,), layout="stepped")),
                                        Sample(ctx.input((0,)), ctx.input((2,)))], dtypes=MATMUL_DTYPES),
    Entry("einsum", samples=_einsum_samples, dtypes=MATMUL_DTYPES, error_inputs=lambda ctx: [
        ErrorInput(Sample("ij,jk->ik", ctx.input((3, 4))), RuntimeError, "operands"),
        ErrorInput(Sample("ij,jk->il", ctx.input((3, 4)), ctx.input((4, 2))), RuntimeError, "output subscript l"),
        ErrorInput(Sample("ij->ii", ctx.input((3, 4))), RuntimeError, "more than once"),
        ErrorInput(Sample("i1->i", ctx.input((3, 4))), RuntimeError, "subscripts must be in"),
        ErrorInput(Sample("i->i", ctx.input((3, 4))), RuntimeError, "no ellipsis"),
        ErrorInput(Sample("i,i->", ctx.input((3,), dtype=pt.bool), ctx.input((3,), dtype=pt.bool)), NotImplementedError,
                   "Bool"),
        ErrorInput(Sample("ij,jk->ik", ctx.input((3, 4)), ctx.input((4, 2), dtype=pt.int32 if ctx.dtype is not pt.int32
                                                                         else pt.int64)), RuntimeError, "same dtype")]),
]
