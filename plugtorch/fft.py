"""``plugtorch.fft``: PyTorch's ``torch.fft``, as far as it stays real-valued.

plugtorch has no complex dtypes yet, so only the functions whose inputs and results are real
behave as PyTorch's: ``fftfreq``, ``rfftfreq``, ``fftshift``, ``ifftshift`` (every backend: they are
arange and roll), and ``irfft``/``irfft2``/``irfftn``/``hfft``/``hfft2``/``hfftn`` of a real input
(a spectrum whose imaginary parts are zero; PyTorch promotes a real input the same way), with
autograd. They run NumPy's pocketfft on cpu and go through the host on other devices. The
transforms with a complex result (``fft``, ``ifft``, ``rfft``, ``ihfft`` and their 2-d and n-d
forms) raise NotImplementedError until plugtorch has complex64/complex128.

>>> import plugtorch as pt
>>> pt.fft.fftfreq(4).tolist()
[0.0, 0.25, -0.5, -0.25]
>>> pt.fft.irfft(pt.tensor([1., 2., 3.]), n=4).tolist()
[2.0, -0.5, 0.0, -0.5]
"""
from __future__ import annotations

import plugtorch as _pt
from plugtorch._ops_public import ops
from plugtorch.dispatch import arguments as _A
from plugtorch.dispatch.ops.fft import check_norm

_SWAP = {None: "forward", "backward": "forward", "forward": "backward", "ortho": "ortho"}


def irfftn(input, s=None, dim=None, norm=None):
    """The inverse of ``rfftn``: a real signal of sizes ``s`` from its half spectrum (the last of
    ``dim`` halved) of a real ``input``."""
    return ops.fft_irfftn(input, s, dim, norm)


def irfft(input, n=None, dim=-1, norm=None):
    """The inverse of ``rfft`` along ``dim``: ``n`` real points (default 2 * (m - 1)).

    >>> plugtorch.fft.irfft(plugtorch.tensor([4., 0., 0.])).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    return ops.fft_irfftn(input, None if n is None else (n,), (dim,), norm)


def irfft2(input, s=None, dim=(-2, -1), norm=None):
    return ops.fft_irfftn(input, s, dim, norm)


def hfftn(input, s=None, dim=None, norm=None):
    """The n-dim FFT of a Hermitian-symmetric signal given by its half (a real ``input``): real,
    ``irfftn`` with the normalisation mirrored, as PyTorch's."""
    check_norm(norm)
    return ops.fft_irfftn(input, s, dim, _SWAP[norm])


def hfft(input, n=None, dim=-1, norm=None):
    check_norm(norm)
    return ops.fft_irfftn(input, None if n is None else (n,), (dim,), _SWAP[norm])


def hfft2(input, s=None, dim=(-2, -1), norm=None):
    check_norm(norm)
    return ops.fft_irfftn(input, s, dim, _SWAP[norm])


def _freq_args(name, n, d, dtype):
    n = _A.as_int(f"fft_{name}", "n", n)
    if n < 0:
        raise RuntimeError(f"fft_{name}(): Trying to create tensor with negative dimension {n}: [{n}]")
    dtype = _pt.get_default_dtype() if dtype is None else _pt._dtypes.to_dtype(dtype)
    if not dtype.is_floating_point:
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


def _complex_result(name):
    def f(input, *args, **kwargs):
        raise NotImplementedError(
            f"fft.{name}(): its result is complex, and plugtorch has no complex dtypes (complex64, complex128) "
            "yet; of torch.fft it has fftfreq, rfftfreq, fftshift, ifftshift and the real-result transforms "
            "irfft, irfft2, irfftn, hfft, hfft2, hfftn (of a real input)")
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"PyTorch's ``torch.fft.{name}``: not available (its result is complex)."
    return f


fft, ifft, rfft, ihfft = (_complex_result(n) for n in ("fft", "ifft", "rfft", "ihfft"))
fft2, ifft2, rfft2, ihfft2 = (_complex_result(n) for n in ("fft2", "ifft2", "rfft2", "ihfft2"))
fftn, ifftn, rfftn, ihfftn = (_complex_result(n) for n in ("fftn", "ifftn", "rfftn", "ihfftn"))

__all__ = ["fft", "fft2", "fftfreq", "fftn", "fftshift", "hfft", "hfft2", "hfftn", "ifft", "ifft2", "ifftn",
           "ifftshift", "ihfft", "ihfft2", "ihfftn", "irfft", "irfft2", "irfftn", "rfft", "rfft2", "rfftfreq", "rfftn"]
