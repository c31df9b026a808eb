"""plugtorch.fft's real transforms: irfftn of a real half spectrum (irfft, hfft ... call it) and the
internal Re(rfftn) its backward uses. Sums of n terms: tolerances grow with the transform size."""
from __future__ import annotations

import plugtorch as pt

from ..entry import INT_DTYPES, Entry, ErrorInput, Sample

F = (pt.float32, pt.float64)


def _irfftn_samples(ctx):
    return [Sample(ctx.input((6,)), reduction_length=10),
            Sample(ctx.input((3, 5), layout="transposed"), (7,), (0,), "ortho", reduction_length=7),
            Sample(ctx.input((2, 4, 3), layout="stepped"), None, (1, 2), "forward", reduction_length=16),
            Sample(ctx.input((4, 3)), (5, 6), None, None, reduction_length=30),
            Sample(ctx.input((2, 3)), (1,), (-1,), reduction_length=1),
            Sample(ctx.input((0, 3)), None, (1,), reduction_length=4),
            Sample(ctx.input((3, 5), layout="expanded"), (2, 9), (1, 0), "backward", reduction_length=18)]


def _irfftn_errors(ctx):
    return [ErrorInput(Sample(ctx.input(())), RuntimeError, "must transform at least one axis"),
            ErrorInput(Sample(ctx.input(()), None, (-1,)), IndexError, "no dimensions"),
            ErrorInput(Sample(ctx.input((1,))), RuntimeError, r"Invalid number of data points \(0\)"),
            ErrorInput(Sample(ctx.input((4,)), None, None, "bad"), RuntimeError, "Invalid normalization mode"),
            ErrorInput(Sample(ctx.input((3, 4)), (4,), (0, 1)), RuntimeError, "same length"),
            ErrorInput(Sample(ctx.input((3, 4)), None, (1, 1)), RuntimeError, "unique"),
            ErrorInput(Sample(ctx.input((4,), dtype=pt.float16)), RuntimeError, "Unsupported dtype Half")]


def _rfftn_real_samples(ctx):
    return [Sample(ctx.input((8,)), (0,), reduction_length=8),
            Sample(ctx.input((3, 5), layout="transposed"), (0, 1), reduction_length=15),
            Sample(ctx.input((2, 4, 3), layout="stepped"), (2,), reduction_length=3),
            Sample(ctx.input((0, 3)), (1,))]


ENTRIES = [
    Entry("fft_irfftn", samples=_irfftn_samples, dtypes=F + INT_DTYPES[-1:], error_inputs=_irfftn_errors),
    Entry("_fft_rfftn_real", samples=_rfftn_real_samples, dtypes=F, error_inputs=lambda ctx: [
        ErrorInput(Sample(ctx.input((0,)), (0,)), RuntimeError, r"Invalid number of data points \(0\)")]),
]
