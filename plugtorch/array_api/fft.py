"""The standard's ``fft`` extension: thin wrappers over ``plugtorch.fft`` (``axis=``/``axes=``
for ``dim=``, the standard's argument order), looked up when called.

>>> import plugtorch.array_api as xp
>>> xp.fft.fftshift(xp.asarray([0, 1, 2, -2, -1])).tolist()
[-2, -1, 0, 1, 2]
"""
from __future__ import annotations

import importlib

from plugtorch._tensor import Tensor
from plugtorch.array_api._dtypes import check_array

__all__ = ["fft", "fftfreq", "fftn", "fftshift", "hfft", "ifft", "ifftn", "ifftshift", "ihfft", "irfft", "irfftn",
           "rfft", "rfftfreq", "rfftn"]


def _fft(name):
    try:
        mod = importlib.import_module("plugtorch.fft")
    except ImportError:
        mod = None
    fn = getattr(mod, name, None)
    if fn is None:
        raise NotImplementedError(f"fft.{name}(): plugtorch.fft has no {name} yet")
    return fn


def _norm(fname, norm):
    if norm not in ("backward", "ortho", "forward"):
        raise ValueError(f"fft.{fname}(): norm must be 'backward', 'ortho' or 'forward', got {norm!r}")
    return norm


def _one_dim(name):
    def f(x: Tensor, /, *, n=None, axis: int = -1, norm: str = "backward") -> Tensor:
        check_array(name, x)
        return _fft(name)(x, n=n, dim=axis, norm=_norm(name, norm))
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``plugtorch.fft.{name}`` along ``axis`` (``n`` points; ``norm`` as in the standard)."
    return f


def _n_dim(name):
    def f(x: Tensor, /, *, s=None, axes=None, norm: str = "backward") -> Tensor:
        check_array(name, x)
        return _fft(name)(x, s=None if s is None else tuple(s), dim=None if axes is None else tuple(axes),
                          norm=_norm(name, norm))
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``plugtorch.fft.{name}`` over ``axes`` (sizes ``s``; ``norm`` as in the standard)."
    return f


fft, ifft, rfft, irfft, hfft, ihfft = (_one_dim(n) for n in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft"))
fftn, ifftn, rfftn, irfftn = (_n_dim(n) for n in ("fftn", "ifftn", "rfftn", "irfftn"))


def fftfreq(n: int, /, *, d: float = 1.0, dtype=None, device=None) -> Tensor:
    """The sample frequencies of an ``n``-point FFT with sample spacing ``d``."""
    return _fft("fftfreq")(n, d, dtype=dtype, device=device)


def rfftfreq(n: int, /, *, d: float = 1.0, dtype=None, device=None) -> Tensor:
    """The sample frequencies of an ``n``-point real FFT (non-negative only)."""
    return _fft("rfftfreq")(n, d, dtype=dtype, device=device)


def fftshift(x: Tensor, /, *, axes=None) -> Tensor:
    """The zero-frequency term moved to the middle of ``axes`` (all by default)."""
    check_array("fftshift", x)
    return _fft("fftshift")(x, dim=axes)


def ifftshift(x: Tensor, /, *, axes=None) -> Tensor:
    """The inverse of ``fftshift``."""
    check_array("ifftshift", x)
    return _fft("ifftshift")(x, dim=axes)
