"""``plugtorch.fft``: PyTorch's ``torch.fft``.

``fft``/``ifft``/``rfft``/``irfft``/``hfft``/``ihfft`` and their 2-d and n-d forms take ``n``/``s``,
``dim`` and ``norm`` ("backward", "forward", "ortho") as PyTorch's; real inputs of the complex
transforms are promoted (float32 -> complex64, float64 -> complex128, integers -> the default
complex dtype). They run NumPy's pocketfft on cpu and go through the host on other devices that
hold complex tensors; a device without complex dtypes refuses a complex result with a TypeError.
``fftfreq``, ``rfftfreq``, ``fftshift``, ``ifftshift`` run on every backend (arange and roll).
Every transform is differentiable, complex inputs and results included (PyTorch's convention:
docs/complex.md; the formulas are in autograd/fft_formulas.py).

>>> import plugtorch as pt
>>> pt.fft.fftfreq(4).tolist()
[0.0, 0.25, -0.5, -0.25]
>>> pt.fft.irfft(pt.tensor([1., 2., 3.]), n=4).tolist()
[2.0, -0.5, 0.0, -0.5]
>>> pt.fft.fft(pt.tensor([1., 0., 0., 0.])).tolist()
[(1+0j), (1+0j), (1+0j), (1+0j)]
"""
from __future__ import annotations

import plugtorch as _pt
from plugtorch._ops_public import ops
from plugtorch.dispatch import arguments as _A
from plugtorch.dispatch.ops.fft import check_norm

_SWAP = {None: "forward", "backward": "forward", "forward": "backward", "ortho": "ortho"}


def _n(op, n):
    """The 1-d transforms' ``n`` as the n-d op's ``s``; there a -1 means the input's size, which
    PyTorch's 1-d transforms refuse."""
    if n is None:
        return None
    if isinstance(n, int) and not isinstance(n, bool) and n < 1:
        raise RuntimeError(f"fft_{op}: Invalid number of data points ({n}) specified")
    return (n,)


def fftn(input, s=None, dim=None, norm=None):
    """The n-dim discrete Fourier transform over ``dim`` (all dims, or the last len(s)), the input
    cut or zero-padded to sizes ``s``.

    >>> plugtorch.fft.fftn(plugtorch.ones(2, 2)).tolist()
    [[(4+0j), 0j], [0j, 0j]]
    """
    return ops.fft_fftn(input, s, dim, norm)


def fft(input, n=None, dim=-1, norm=None):
    """The 1-d discrete Fourier transform along ``dim`` of ``n`` points.

    >>> plugtorch.fft.fft(plugtorch.tensor([0., 1., 0., 0.])).tolist()
    [(1+0j), -1j, (-1+0j), 1j]
    """
    return ops.fft_fftn(input, _n("fft", n), (dim,), norm)


def fft2(input, s=None, dim=(-2, -1), norm=None):
    return ops.fft_fftn(input, s, dim, norm)


def ifftn(input, s=None, dim=None, norm=None):
    """The inverse of ``fftn``."""
    return ops.fft_ifftn(input, s, dim, norm)


def ifft(input, n=None, dim=-1, norm=None):
    """The inverse of ``fft``: ``ifft(fft(x))`` is ``x``."""
    return ops.fft_ifftn(input, _n("ifft", n), (dim,), norm)


def ifft2(input, s=None, dim=(-2, -1), norm=None):
    return ops.fft_ifftn(input, s, dim, norm)


def rfftn(input, s=None, dim=None, norm=None):
    """The n-dim FFT of a real input, one-sided: the last of ``dim`` keeps s[-1] // 2 + 1 bins."""
    return ops.fft_rfftn(input, s, dim, norm)


def rfft(input, n=None, dim=-1, norm=None):
    """The FFT of a real input along ``dim``: the n // 2 + 1 non-negative frequencies.

    >>> plugtorch.fft.rfft(plugtorch.tensor([1., 2., 3., 4.])).tolist()
    [(10+0j), (-2+2j), (-2+0j)]
    """
    return ops.fft_rfftn(input, _n("rfft", n), (dim,), norm)


def rfft2(input, s=None, dim=(-2, -1), norm=None):
    return ops.fft_rfftn(input, s, dim, norm)


def _conj(x):
    return _pt.conj(x) if isinstance(x, _pt.Tensor) and x.is_complex() else x


def ihfftn(input, s=None, dim=None, norm=None):
    """The inverse of ``hfftn``: the conjugate of ``rfftn`` of a real input, normalisation mirrored."""
    check_norm(norm)
    return _pt.conj(ops.fft_rfftn(input, s, dim, _SWAP[norm]))


def ihfft(input, n=None, dim=-1, norm=None):
    """The inverse of ``hfft``: the n // 2 + 1 bins of the conjugate of ``rfft`` of a real input, over n."""
    check_norm(norm)
    return _pt.conj(ops.fft_rfftn(input, _n("ihfft", n), (dim,), _SWAP[norm]))


def ihfft2(input, s=None, dim=(-2, -1), norm=None):
    check_norm(norm)
    return _pt.conj(ops.fft_rfftn(input, s, dim, _SWAP[norm]))


def irfftn(input, s=None, dim=None, norm=None):
    """The inverse of ``rfftn``: a real signal of sizes ``s`` from its half spectrum (the last of
    ``dim`` halved), complex or real."""
    return ops.fft_irfftn(input, s, dim, norm)


def irfft(input, n=None, dim=-1, norm=None):
    """The inverse of ``rfft`` along ``dim``: ``n`` real points (default 2 * (m - 1)).

    >>> plugtorch.fft.irfft(plugtorch.tensor([4., 0., 0.])).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    return ops.fft_irfftn(input, _n("irfft", n), (dim,), norm)


def irfft2(input, s=None, dim=(-2, -1), norm=None):
    return ops.fft_irfftn(input, s, dim, norm)


def hfftn(input, s=None, dim=None, norm=None):
    """The n-dim FFT of a Hermitian-symmetric signal given by its half: real, ``irfftn`` of the
    conjugate with the normalisation mirrored, as PyTorch's."""
    check_norm(norm)
    return ops.fft_irfftn(_conj(input), s, dim, _SWAP[norm])


def hfft(input, n=None, dim=-1, norm=None):
    check_norm(norm)
    return ops.fft_irfftn(_conj(input), _n("hfft", n), (dim,), _SWAP[norm])


def hfft2(input, s=None, dim=(-2, -1), norm=None):
    check_norm(norm)
    return ops.fft_irfftn(_conj(input), s, dim, _SWAP[norm])


def _freq_args(name, n, d, dtype):
    n = _A.as_int(f"fft_{name}", "n", n)
    if n < 0:
        raise RuntimeError(f"fft_{name}(): Trying to create tensor with negative dimension {n}: [{n}]")
    dtype = _pt.get_default_dtype() if dtype is None else _pt._dtypes.to_dtype(dtype)
    if not (dtype.is_floating_point or dtype.is_complex):
        raise RuntimeError(f"fft_{name}(): {name} requires a floating point or complex dtype (got {dtype})")
    return n, dtype


def fftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False):
    """The sample frequencies of an ``n``-point FFT with sample spacing ``d``: 0, 1, ..., -2, -1
    over n * d.

    >>> plugtorch.fft.fftfreq(5).tolist()
    [0.0, 0.2, 0.4, -0.4, -0.2]
    """
    n, dtype = _freq_args("fftfreq", n, d, dtype)
    k = _pt.arange(n, dtype=_pt.float64, device=device)
    k = _pt.where(k < (n + 1) // 2, k, k - n)
    out = (k / (n * d)).to(dtype)
    return out.requires_grad_() if requires_grad else out


def rfftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False):
    """The sample frequencies of an ``n``-point ``rfft``: 0 ... n // 2 over n * d."""
    n, dtype = _freq_args("rfftfreq", n, d, dtype)
    out = (_pt.arange(n // 2 + 1, dtype=_pt.float64, device=device) / (n * d)).to(dtype)
    return out.requires_grad_() if requires_grad else out


def _shift(name, input, dim, sign):
    if not isinstance(input, _pt.Tensor):
        raise TypeError(f"fft_{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if dim is None:
        dims = tuple(range(input.ndim))
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if not dims:
        raise RuntimeError(f"fft_{name}(): `shifts` required (a 0-d tensor has no dims to shift)")
    shifts = [(input.shape[d] // 2) if sign > 0 else -(input.shape[d] // 2) for d in dims]
    return _pt.roll(input, shifts, dims)


def fftshift(input, dim=None):
    """Moves the zero frequency to the middle of ``dim`` (all dims by default): roll by n // 2.

    >>> plugtorch.fft.fftshift(plugtorch.arange(5)).tolist()
    [3, 4, 0, 1, 2]
    """
    return _shift("fftshift", input, dim, 1)


def ifftshift(input, dim=None):
    """The inverse of ``fftshift``: roll by -(n // 2)."""
    return _shift("ifftshift", input, dim, -1)


__all__ = ["fft", "fft2", "fftfreq", "fftn", "fftshift", "hfft", "hfft2", "hfftn", "ifft", "ifft2", "ifftn",
           "ifftshift", "ihfft", "ihfft2", "ihfftn", "irfft", "irfft2", "irfftn", "rfft", "rfft2", "rfftfreq", "rfftn"]


# out= for the functions whose torch.fft counterpart takes it (plugtorch/_out.py)
from plugtorch import _out  # noqa: E402

_out.install(globals(), "fft")
