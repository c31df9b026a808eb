"""``plugtorch.signal.windows``: window functions, as ``torch.signal.windows``.

Each takes the window length ``M`` and, keyword-only, ``sym`` (True: a symmetric window, for
filter design; False: periodic, the first ``M`` points of a window of ``M + 1``, for spectral
analysis), ``dtype`` (float32 or float64; default: the default dtype), ``layout``, ``device`` and
``requires_grad``. They are written with plugtorch ops as PyTorch's are, so they run on every
device and give the same values and, with ``requires_grad``, the same graph.

>>> plugtorch.signal.windows.hann(5)                          # doctest: +SKIP
tensor([0.0000, 0.5000, 1.0000, 0.5000, 0.0000])
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import plugtorch as pt

__all__ = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine", "general_hamming",
           "hamming", "hann", "kaiser", "nuttall"]


def _checks(name, M, dtype, layout):
    if M < 0:
        raise ValueError(f"{name} requires non-negative window length, got M={M}")
    if layout is not pt.strided:
        raise ValueError(f"{name} is implemented for strided tensors only, got: {layout}")
    if dtype not in (pt.float32, pt.float64):
        raise ValueError(f"{name} expects float32 or float64 dtypes, got: {dtype}")


def _start(name, M, dtype, layout, device, requires_grad, one=False):
    """The checks, and the result for a window of 0 points (of 1 too, with ``one``), else None:
    (dtype, result)."""
    dtype = pt.get_default_dtype() if dtype is None else dtype
    _checks(name, M, dtype, layout)
    if M == 0:
        return dtype, pt.empty((0,), dtype=dtype, device=device, requires_grad=requires_grad)
    if M == 1 and one:
        return dtype, _ones(dtype, device, requires_grad)
    return dtype, None


def _ones(dtype, device, requires_grad):
    return pt.ones((1,), dtype=dtype, device=device, requires_grad=requires_grad)


def exponential(M: int, *, center: float | None = None, tau: float = 1.0, sym: bool = True, dtype=None,
                layout=pt.strided, device=None, requires_grad: bool = False) -> pt.Tensor:
    """``exp(-|n - center| / tau)``; ``center`` defaults to the window's middle and must be None
    when ``sym``."""
    dtype, empty = _start("exponential", M, dtype, layout, device, requires_grad)
    if tau <= 0:
        raise ValueError(f"Tau must be positive, got: {tau} instead.")
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")
    if empty is not None:
        return empty
    if center is None:
        center = (M if not sym and M > 1 else M - 1) / 2.0
    c = 1 / tau
    k = pt.linspace(-center * c, (-center + (M - 1)) * c, M, dtype=dtype, device=device,
                    requires_grad=requires_grad)
    return pt.exp(-pt.abs(k))


def cosine(M: int, *, sym: bool = True, dtype=None, layout=pt.strided, device=None,
           requires_grad: bool = False) -> pt.Tensor:
    """The sine window ``sin(pi (n + 0.5) / M)``."""
    dtype, empty = _start("cosine", M, dtype, layout, device, requires_grad)
    if empty is not None:
        return empty
    c = math.pi / (M + 1 if not sym and M > 1 else M)
    k = pt.linspace(0.5 * c, (0.5 + (M - 1)) * c, M, dtype=dtype, device=device, requires_grad=requires_grad)
    return pt.sin(k)


def gaussian(M: int, *, std: float = 1.0, sym: bool = True, dtype=None, layout=pt.strided, device=None,
             requires_grad: bool = False) -> pt.Tensor:
    """``exp(-(n - (M - 1) / 2)^2 / (2 std^2))``."""
    dtype, empty = _start("gaussian", M, dtype, layout, device, requires_grad)
    if std <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {std} instead.")
    if empty is not None:
        return empty
    start = -(M if not sym and M > 1 else M - 1) / 2.0
    c = 1 / (std * math.sqrt(2))
    k = pt.linspace(start * c, (start + (M - 1)) * c, M, dtype=dtype, device=device, requires_grad=requires_grad)
    return pt.exp(-(k ** 2))


def kaiser(M: int, *, beta: float = 12.0, sym: bool = True, dtype=None, layout=pt.strided, device=None,
           requires_grad: bool = False) -> pt.Tensor:
    """``I0(beta sqrt(1 - (2n / (M - 1) - 1)^2)) / I0(beta)``."""
    dtype, empty = _start("kaiser", M, dtype, layout, device, requires_grad)
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got: {beta} instead.")
    if empty is not None:
        return empty
    if M == 1:
        return _ones(dtype, device, requires_grad)
    beta = pt.tensor(beta, dtype=dtype, device=device)   # (in the window's dtype: no nan at the ends)
    start = -beta
    c = 2.0 * beta / (M if not sym else M - 1)
    end = pt.minimum(beta, start + (M - 1) * c)
    k = pt.linspace(start, end, M, dtype=dtype, device=device, requires_grad=requires_grad)
    return pt.i0(pt.sqrt(beta * beta - pt.pow(k, 2))) / pt.i0(beta)


def bartlett(M: int, *, sym: bool = True, dtype=None, layout=pt.strided, device=None,
             requires_grad: bool = False) -> pt.Tensor:
    """The triangular window ``1 - |2n / (M - 1) - 1|``."""
    dtype, short = _start("bartlett", M, dtype, layout, device, requires_grad, one=True)
    if short is not None:
        return short
    c = 2 / (M if not sym else M - 1)
    k = pt.linspace(-1, -1 + (M - 1) * c, M, dtype=dtype, device=device, requires_grad=requires_grad)
    return 1 - pt.abs(k)


def general_cosine(M, *, a: Iterable, sym: bool = True, dtype=None, layout=pt.strided, device=None,
                   requires_grad: bool = False) -> pt.Tensor:
    """``sum_i (-1)^i a[i] cos(2 pi i n / (M - 1))``."""
    dtype, short = _start("general_cosine", M, dtype, layout, device, requires_grad, one=True)
    if short is not None:
        return short
    if not isinstance(a, Iterable):
        raise TypeError("Coefficients must be a list/tuple")
    if not a:
        raise ValueError("Coefficients cannot be empty")
    c = 2 * math.pi / (M if not sym else M - 1)
    k = pt.linspace(0, (M - 1) * c, M, dtype=dtype, device=device, requires_grad=requires_grad)
    a_i = pt.tensor([(-1) ** i * w for i, w in enumerate(a)], device=device, dtype=dtype,
                    requires_grad=requires_grad)
    i = pt.arange(a_i.shape[0], dtype=a_i.dtype, device=a_i.device, requires_grad=a_i.requires_grad)
    return (a_i.unsqueeze(-1) * pt.cos(i.unsqueeze(-1) * k)).sum(0)


def general_hamming(M, *, alpha: float = 0.54, sym: bool = True, dtype=None, layout=pt.strided, device=None,
                    requires_grad: bool = False) -> pt.Tensor:
    """``alpha - (1 - alpha) cos(2 pi n / (M - 1))``."""
    return general_cosine(M, a=[alpha, 1.0 - alpha], sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def hamming(M: int, *, sym: bool = True, dtype=None, layout=pt.strided, device=None,
            requires_grad: bool = False) -> pt.Tensor:
    """``0.54 - 0.46 cos(2 pi n / (M - 1))``."""
    return general_hamming(M, sym=sym, dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)


def hann(M: int, *, sym: bool = True, dtype=None, layout=pt.strided, device=None,
         requires_grad: bool = False) -> pt.Tensor:
    """``0.5 - 0.5 cos(2 pi n / (M - 1))``."""
    return general_hamming(M, alpha=0.5, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def blackman(M: int, *, sym: bool = True, dtype=None, layout=pt.strided, device=None,
             requires_grad: bool = False) -> pt.Tensor:
    """``0.42 - 0.5 cos(2 pi n / (M - 1)) + 0.08 cos(4 pi n / (M - 1))``."""
    dtype = pt.get_default_dtype() if dtype is None else dtype
    _checks("blackman", M, dtype, layout)
    return general_cosine(M, a=[0.42, 0.5, 0.08], sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def nuttall(M: int, *, sym: bool = True, dtype=None, layout=pt.strided, device=None,
            requires_grad: bool = False) -> pt.Tensor:
    """The minimum 4-term Blackman-Harris window of Nuttall."""
    return general_cosine(M, a=[0.3635819, 0.4891775, 0.1365995, 0.0106411], sym=sym, dtype=dtype,
                          layout=layout, device=device, requires_grad=requires_grad)
