"""Sliding windows, rotations, scans and the out-of-place writes (``*_scatter``, ``put``,
``index_reduce``): few samples each, strided layouts included (``unfold`` is a view)."""
from __future__ import annotations

import numpy as np

import plugtorch as pt

from ..entry import Entry, ErrorInput, Input, Sample

FLOATS = (pt.float32, pt.float64)
SOME = (pt.int64, pt.float32, pt.float64)


def _x(ctx, shape=(3, 4), **kw):
    return ctx.input(shape, **kw)


def _const(values, dtype=pt.int64):
    return Input(np.asarray(values), dtype, requires_grad=False)


def _mask(values):
    return Input(np.asarray(values, dtype=bool), pt.bool, requires_grad=False)


ENTRIES = [
    Entry("unfold", samples=lambda ctx: [Sample(_x(ctx, (3, 7), layout="transposed"), 0, 2, 1),
                                         Sample(_x(ctx, (2, 9), layout="stepped"), -1, 3, 2),
                                         Sample(_x(ctx, ()), 0, 1, 1, name="0-d")], dtypes=SOME,
          error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx, (5,)), 0, 6, 1), RuntimeError, "maximum size"),
                                    ErrorInput(Sample(_x(ctx, (5,)), 0, 2, 0), RuntimeError, "step is 0")]),
    # contiguous inputs only: a strided input's memory is its base array on cpu/opencl but its
    # elements in order on a backend without strides (as_strided's documented difference there)
    Entry("as_strided", samples=lambda ctx: [Sample(_x(ctx, (3, 4)), (3, 3), (4, 1), 1),
                                             Sample(_x(ctx, (10,)), (4, 3), (2, 1)),
                                             Sample(_x(ctx, (2, 5)), (2, 2), (1, 5), 3)], dtypes=SOME,
          error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx, (10,)), (3, 3), (4, 1)), RuntimeError, "out of bounds"),
                                    ErrorInput(Sample(_x(ctx, (10,)), (3,), (1, 2)), RuntimeError, "mismatch")]),
    Entry("as_strided_scatter", samples=lambda ctx: [Sample(_x(ctx, (3, 4), layout="transposed"), _x(ctx, (2, 2)),
                                                            (2, 2), (1, 4), 1)], dtypes=SOME),
    Entry("rot90", samples=lambda ctx: [Sample(_x(ctx, layout="transposed"), 1, [0, 1]),
                                        Sample(_x(ctx, (2, 3, 4)), -1, [2, 0]), Sample(_x(ctx), 2, [1, 0])],
          dtypes=SOME, error_inputs=lambda ctx: [
              ErrorInput(Sample(_x(ctx, (3,)), 1, [0, 1]), RuntimeError, "total dims >= 2"),
              ErrorInput(Sample(_x(ctx), 1, [0, 0]), RuntimeError, "to be different")]),
    Entry("kron", samples=lambda ctx: [Sample(_x(ctx, (2, 3), layout="transposed"), _x(ctx, (3, 2))),
                                       Sample(_x(ctx, (2,)), _x(ctx, (2, 1, 3)))], dtypes=SOME),
    Entry("renorm", samples=lambda ctx: [Sample(_x(ctx, layout="transposed"), 2, 0, 0.5),
                                         Sample(_x(ctx, (2, 3, 2)), 1.5, -1, 1.0)], dtypes=FLOATS,
          error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx), -1, 0, 1.0), RuntimeError, "non-positive-norm")]),
    Entry("cummax", samples=lambda ctx: [Sample(_x(ctx, (3, 6), layout="transposed"), 1),
                                         Sample(_x(ctx, (5, 2), profile="special"), 0), Sample(_x(ctx, ()), 0)],
          dtypes=SOME),
    Entry("cummin", samples=lambda ctx: [Sample(_x(ctx, (3, 6), layout="stepped"), -1),
                                         Sample(_x(ctx, (5, 2), profile="special"), 0)], dtypes=SOME),
    Entry("logcumsumexp", samples=lambda ctx: [Sample(_x(ctx, (3, 6), layout="transposed"), 1),
                                               Sample(_x(ctx, (9,), profile="special"), 0)], dtypes=FLOATS,
          error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx, (3,), dtype=pt.int64), 0), NotImplementedError,
                                               "logcumsumexp")]),
    Entry("select_scatter", samples=lambda ctx: [Sample(_x(ctx, layout="transposed"), _x(ctx, (3,)), 1, -1),
                                                 Sample(_x(ctx, (2, 3, 2)), _x(ctx, (3, 2)), 0, 1)], dtypes=SOME,
          error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx), _x(ctx, (5,)), 0, 0), RuntimeError, "slice of self")]),
    Entry("slice_scatter", samples=lambda ctx: [Sample(_x(ctx, (5, 2), layout="stepped"), _x(ctx, (2, 2)), 0, 1, None, 2),
                                                Sample(_x(ctx), _x(ctx, (3, 2)), 1, -2)], dtypes=SOME),
    Entry("diagonal_scatter", samples=lambda ctx: [Sample(_x(ctx, (4, 3)), _x(ctx, (2,)), -1, 1, 0),
                                                   Sample(_x(ctx, (2, 3, 3), layout="transposed"), _x(ctx, (2, 2)), 1, 1, 2)],
          dtypes=SOME),
    Entry("diag_embed", samples=lambda ctx: [Sample(_x(ctx, (2, 3), layout="stepped"), 1, 0, 2),
                                             Sample(_x(ctx, (3,)), -1)], dtypes=SOME),
    Entry("masked_scatter", samples=lambda ctx: [
        Sample(_x(ctx, (2, 4)), _mask([True, False, True, True]), _x(ctx, (7,))),
        Sample(_x(ctx, (3,), layout="stepped"), _mask([[True], [False]]), _x(ctx, (2, 3)))], dtypes=SOME,
        error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx, (3,)), _const([1, 0, 1]), _x(ctx, (3,))), RuntimeError,
                                             "boolean masks")]),
    Entry("put", samples=lambda ctx: [Sample(_x(ctx, (2, 3), layout="transposed"), _const([0, 5, -1]), _x(ctx, (3,))),
                                      Sample(_x(ctx, (2, 3)), _const([[1, 1]]), _x(ctx, (1, 2)), True)], dtypes=SOME,
          error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx, (3,)), _const([1]), _x(ctx, (2,))), IndexError,
                                               "same number of elements")]),
    Entry("index_reduce", samples=lambda ctx: [
        Sample(_x(ctx, (3, 2)), 0, _const([0, 2, 0]), _x(ctx, (3, 2)), reduce, include_self=inc, name=f"{reduce} {inc}")
        for reduce, inc in (("prod", True), ("mean", False), ("amax", True), ("amin", False))], dtypes=SOME,
        error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx, (3,)), 0, _const([0]), _x(ctx, (1,)), "sum"), RuntimeError,
                                             "prod, mean, amax or amin")]),
    Entry("scatter_reduce", samples=lambda ctx: [
        Sample(_x(ctx, (3, 2)), 0, _const([[0, 2], [0, 0]]), _x(ctx, (2, 2), layout="transposed"), reduce,
               include_self=inc, name=f"{reduce} {inc}")
        for reduce, inc in (("sum", False), ("prod", True), ("mean", False), ("amax", True), ("amin", False))],
        dtypes=SOME, error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx, (3,)), 0, _const([0]), _x(ctx, (1,)), "max"),
                                                          RuntimeError, "sum, prod, mean, amax or amin")]),
]
