"""LAPACK's compact factorisations (geqrf, ldl_factor_ex, ldl_solve): a few small samples each in
float32/float64. Other devices take the host round trip, so their results are cpu's."""
from __future__ import annotations

import numpy as np

import plugtorch as pt

from ..entry import Entry, ErrorInput, Input, Sample
from .factorizations import general, mat, symmetric

F = (pt.float32, pt.float64)
TOL = {pt.float32: (1e-4, 1e-4)}


def _ldl_solve_samples(ctx):
    out = []
    for shape, rhs in (((3, 3), (3, 2)), ((2, 4, 4), (4, 1))):
        # (factored in float64 when LAPACK has no such dtype: the fuzzer asks for others)
        dt = ctx.dtype if ctx.dtype in (pt.float32, pt.float64, pt.complex64, pt.complex128) else pt.float64
        LD, piv = pt.linalg.ldl_factor(pt.tensor(symmetric(ctx, shape), dtype=dt))
        pivots = Input(piv.numpy(), pt.int32, "contiguous", tuple(piv.shape), False)
        out.append(Sample(mat(ctx, LD.numpy(), requires_grad=False), pivots, mat(ctx, general(ctx, rhs), "transposed")))
    return out


ENTRIES = [
    Entry("geqrf", dtypes=F, tol=TOL,
          samples=lambda ctx: [Sample(mat(ctx, general(ctx, (4, 3)))),
                               Sample(mat(ctx, general(ctx, (2, 3, 5)), "transposed")),
                               Sample(mat(ctx, np.zeros((0, 2))))],
          error_inputs=lambda ctx: [ErrorInput(Sample(ctx.input((3,))), RuntimeError, "at least 2 dimensions"),
                                    ErrorInput(Sample(ctx.input((3, 3), dtype=pt.int32)), NotImplementedError, "Int")]),
    Entry("linalg_ldl_factor_ex", dtypes=F, tol=TOL,
          samples=lambda ctx: [Sample(mat(ctx, symmetric(ctx, (4, 4)))),
                               Sample(mat(ctx, symmetric(ctx, (2, 3, 3)), "transposed"), hermitian=True),
                               Sample(mat(ctx, np.zeros((2, 2))))],
          error_inputs=lambda ctx: [ErrorInput(Sample(ctx.input((2, 3))), RuntimeError, "square matrices"),
                                    ErrorInput(Sample(ctx.input((3, 3), dtype=pt.float16)), NotImplementedError, "Half")]),
    Entry("linalg_ldl_solve", dtypes=F, tol=TOL, samples=_ldl_solve_samples),
]
