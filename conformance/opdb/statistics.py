"""Statistics (quantiles, histc, cov, corrcoef, cdist), window functions, stft/istft and
matrix_exp: few samples each, in float32 and float64."""
from __future__ import annotations

import numpy as np

import plugtorch as pt

from ..entry import DEVICE, Entry, ErrorInput, Input, Sample

FLOATS = (pt.float32, pt.float64)
COMPLEX = (pt.complex64, pt.complex128)


def _x(ctx, shape=(3, 5), **kw):
    return ctx.input(shape, **kw)


def _real(ctx, shape):
    return ctx.input(shape, dtype=ctx.dtype.to_real())


def _q(ctx, values):
    return Input(np.asarray(values), ctx.dtype, requires_grad=False)


def _hann(n, x):
    return pt.hann_window(n, dtype=x.dtype, device=x.device) if isinstance(x, pt.Tensor) else None


def _stft(x, n_fft, hop, win):
    return pt.stft(x, n_fft, hop, window=_hann(win, x), win_length=win, return_complex=True)


def _istft(x, n_fft, hop):
    spec = pt.view_as_complex(x.contiguous()) if isinstance(x, pt.Tensor) else x
    return pt.istft(spec, n_fft, hop, window=_hann(n_fft, x))


def _windows(name):
    return Entry(name, samples=lambda ctx: [Sample(n, periodic, dtype=ctx.dtype, device=DEVICE)
                                            for n, periodic in ((0, True), (1, False), (7, True), (8, False))],
                 dtypes=FLOATS, error_inputs=lambda ctx: [
                     ErrorInput(Sample(-1, dtype=ctx.dtype, device=DEVICE), RuntimeError, "non-negative")])


ENTRIES = [
    Entry("quantile", samples=lambda ctx: [
        Sample(_x(ctx, layout="transposed"), _q(ctx, [0.0, 0.3, 1.0]), 1, True),
        Sample(_x(ctx, profile="special"), 0.5, 0, interpolation="nearest"),
        Sample(_x(ctx, (4, 2)), 0.25, interpolation="midpoint")], dtypes=FLOATS, error_inputs=lambda ctx: [
            ErrorInput(Sample(_x(ctx), 1.5), RuntimeError, "in the range"),
            ErrorInput(Sample(_x(ctx, (3,), dtype=pt.int64), 0.5), RuntimeError, "float or double")]),
    Entry("nanquantile", samples=lambda ctx: [
        Sample(_x(ctx, profile="special"), _q(ctx, [0.1, 0.9]), 1, interpolation="lower"),
        Sample(_x(ctx, (6,), layout="stepped"), 0.4)], dtypes=FLOATS),
    Entry("histc", samples=lambda ctx: [Sample(_x(ctx, (20,)), 7), Sample(_x(ctx, (4, 5), layout="transposed"), 5, -1, 1)],
          dtypes=FLOATS, error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx), 3, 3, 1), RuntimeError, "larger than min")]),
    Entry("cov", samples=lambda ctx: [
        Sample(_x(ctx, layout="transposed")), Sample(_x(ctx, (6,))),
        Sample(_x(ctx, (2, 4)), correction=0, fweights=Input(np.array([1, 2, 0, 3]), pt.int64, requires_grad=False),
               aweights=_q(ctx, [0.5, 1.0, 2.0, 0.25]))], dtypes=FLOATS,
        error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx, (2, 2, 2))), RuntimeError, "two or fewer dimensions")]),
    Entry("corrcoef", samples=lambda ctx: [Sample(_x(ctx, layout="stepped")), Sample(_x(ctx, (2, 7)))], dtypes=FLOATS),
    Entry("cdist", samples=lambda ctx: [
        Sample(_x(ctx, (3, 2)), _x(ctx, (4, 2), layout="transposed")),
        Sample(_x(ctx, (2, 3, 2)), _x(ctx, (4, 2)), 1.0),
        Sample(_x(ctx, (3, 4)), _x(ctx, (2, 4)), float("inf")),
        Sample(_x(ctx, (27, 3)), _x(ctx, (5, 3)), 2.0, name="matrix-product path")], dtypes=FLOATS,
        tol={pt.float32: (1e-4, 1e-4)}, error_inputs=lambda ctx: [
            ErrorInput(Sample(_x(ctx, (3, 2)), _x(ctx, (4, 3))), RuntimeError, "same number of columns")]),
    _windows("hann_window"), _windows("hamming_window"), _windows("blackman_window"), _windows("bartlett_window"),
    _windows("kaiser_window"),
    # the dtypes are the complex ones the transforms compute in; the signals are their real parts, so a
    # device without complex dtypes reports the entries unsupported (as conformance/opdb/complex.py)
    Entry("stft", samples=lambda ctx: [Sample(_real(ctx, (40,)), 16, 4, 16), Sample(_real(ctx, (2, 30)), 12, 5, 9)],
          fn=_stft, dtypes=COMPLEX, tol={pt.complex64: (1e-4, 1e-4)}),
    Entry("istft", samples=lambda ctx: [Sample(_real(ctx, (9, 11, 2)), 16, 4), Sample(_real(ctx, (2, 7, 5, 2)), 12, 3)],
          fn=_istft, dtypes=COMPLEX, tol={pt.complex64: (1e-4, 1e-4)}),
    # eig's dtypes are the complex ones it computes in (real inputs of their parts, as stft's)
    Entry("linalg_eig", samples=lambda ctx: [Sample(_real(ctx, (3, 3))), Sample(_real(ctx, (2, 4, 4)))],
          dtypes=COMPLEX, tol={pt.complex64: (1e-4, 1e-4)}, error_inputs=lambda ctx: [
              ErrorInput(Sample(_real(ctx, (3, 4))), RuntimeError, "square")]),
    Entry("linalg_eigvals", samples=lambda ctx: [Sample(_real(ctx, (4, 4)))], dtypes=COMPLEX,
          tol={pt.complex64: (1e-4, 1e-4)}),
    Entry("matrix_exp", samples=lambda ctx: [Sample(_x(ctx, (3, 3))), Sample(_x(ctx, (2, 4, 4), layout="transposed"))],
          dtypes=FLOATS, tol={pt.float32: (1e-4, 1e-4)}, error_inputs=lambda ctx: [
              ErrorInput(Sample(_x(ctx, (3, 4))), RuntimeError, "square")]),
]
