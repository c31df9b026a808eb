"""complex64/complex128: the views between complex and real tensors, conj, angle, complex, polar,
and the complex FFTs. An entry's dtypes are the complex dtype each op computes in: where the
op's inputs are real (view_as_complex, complex, polar, rfftn), they are that dtype's parts, so
a device without complex dtypes reports the entry unsupported (a TypeError naming the dtype).
Each op is on autograd's complex allowlist (or differentiates through ops that are), so the
gradients of every sample are compared with cpu's too (``complex_grad``)."""
from __future__ import annotations

import plugtorch as pt

from ..entry import COMPLEX_DTYPES, Entry, ErrorInput, Sample


def _z(ctx, shape=(3, 4), **kw):
    return ctx.input(shape, **kw)


def _parts(ctx, shape=(3, 4), **kw):
    return ctx.input(shape, dtype=ctx.dtype.to_real(), **kw)


def _complex_samples(ctx):
    return [Sample(_z(ctx)), Sample(_z(ctx, (2, 5), layout="transposed")), Sample(_z(ctx, (4,), layout="stepped")),
            Sample(_z(ctx, ())), Sample(_z(ctx, (0, 3))), Sample(_z(ctx, (3, 4), layout="expanded")),
            Sample(_z(ctx, (2, 3), profile="special"))]


def _real_pair_samples(ctx):
    return [Sample(_parts(ctx), _parts(ctx)), Sample(_parts(ctx, (2, 5), layout="transposed"), _parts(ctx, (5,))),
            Sample(_parts(ctx, ()), _parts(ctx, (2,))), Sample(_parts(ctx, (0, 3)), _parts(ctx, (0, 3))),
            Sample(_parts(ctx, (2, 3), profile="special"), _parts(ctx, (2, 3)))]


def _pairs_samples(ctx):
    return [Sample(_parts(ctx, (3, 2))), Sample(_parts(ctx, (2, 4, 2))), Sample(_parts(ctx, (0, 2))),
            Sample(_parts(ctx, (2,)))]


def _not_complex(op):
    return lambda ctx: [ErrorInput(Sample(ctx.input((2,), dtype=pt.float32, requires_grad=False)), RuntimeError, op)]


def _fft_samples(real_input=False):
    def samples(ctx):
        x = _parts if real_input else _z
        return [Sample(x(ctx, (8,)), reduction_length=8),
                Sample(x(ctx, (3, 5), layout="transposed"), (7,), (0,), "ortho", reduction_length=7),
                Sample(x(ctx, (2, 4, 3), layout="stepped"), None, (1, 2), "forward", reduction_length=12),
                Sample(x(ctx, (4, 3)), (5, 6), None, None, reduction_length=30),
                Sample(x(ctx, (0, 3)), None, (1,), reduction_length=3),
                Sample(x(ctx, (3, 5), layout="expanded"), (2, 9), (1, 0), "backward", reduction_length=18)]
    return samples


def _fft_errors(ctx):
    # (a 0-d input with no dims transforms nothing and returns itself, as PyTorch: d408b04)
    return [ErrorInput(Sample(_z(ctx, ()), None, (-1,)), IndexError, "no dimensions"),
            ErrorInput(Sample(_z(ctx, (4,)), None, None, "bad"), RuntimeError, "Invalid normalization mode"),
            ErrorInput(Sample(_z(ctx, (3, 4)), None, (1, 1)), RuntimeError, "unique")]


def _entry(name, samples, **kw):
    """An entry in the complex dtypes whose gradients are compared too (complex_grad)."""
    return Entry(name, samples=samples, dtypes=COMPLEX_DTYPES, complex_grad=True, **kw)


ENTRIES = [
    _entry("view_as_real", _complex_samples, error_inputs=_not_complex("view_as_real")),
    _entry("view_as_complex", _pairs_samples, error_inputs=lambda ctx: [
        ErrorInput(Sample(_parts(ctx, (2, 3))), RuntimeError, "last dimension of size 2")]),
    _entry("conj_physical", _complex_samples),
    _entry("conj", _complex_samples),
    _entry("real", _complex_samples),
    _entry("imag", _complex_samples, error_inputs=_not_complex("imag")),
    _entry("angle", _complex_samples),
    _entry("complex", _real_pair_samples),
    _entry("polar", _real_pair_samples),
    _entry("fft_fftn", _fft_samples(), error_inputs=_fft_errors),
    _entry("fft_ifftn", _fft_samples(), error_inputs=_fft_errors),
    _entry("fft_rfftn", _fft_samples(real_input=True), error_inputs=lambda ctx: [
        ErrorInput(Sample(_z(ctx, (4,))), RuntimeError, "expects a real input tensor")]),
]
