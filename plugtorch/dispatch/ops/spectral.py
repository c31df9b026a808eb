"""Short-time Fourier transforms and the window functions.

``stft`` frames the signal with ``unfold``, windows and transforms each frame; ``istft``
inverts each frame and overlap-adds them (an ``index_add``), divided by the overlap-added
squared window, as PyTorch's (which follows librosa).
"""
from __future__ import annotations

import math

import numpy as np

from plugtorch import _dtypes
from plugtorch.dispatch.ops.composite import _pt, _t, composite


# ---- windows ------------------------------------------------------------------------------
def _window(name, n, periodic, dtype, device, requires_grad, values):
    pt = _pt()
    dtype = _dtypes.get_default_dtype() if dtype is None else _dtypes.to_dtype(dtype)
    if not dtype.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dtype}")
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{name}(): argument 'window_length' must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={n}")
    if n <= 1:
        w = np.ones(n)
    else:
        m = n + 1 if periodic else n                     # periodic: the symmetric window one longer, less its last point
        w = values(np.arange(m, dtype=np.float64), m)[:n]
    return pt.tensor(w, dtype=dtype, device=device, requires_grad=requires_grad)


def _cosines(*coefs):
    def values(k, m):
        return sum(c * np.cos(2 * math.pi * i * k / (m - 1)) for i, c in enumerate(coefs))
    return values


@composite("hann_window", tags=("factory",), differentiable=False)
def hann_window(window_length, periodic=True, *, dtype=None, device=None, requires_grad=False):
    """``0.5 - 0.5 cos(2 pi n / (N - 1))``; periodic: the first N points of the N + 1 window.

    >>> plugtorch.hann_window(4).tolist()
    [0.0, 0.5, 1.0, 0.5]
    """
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad, _cosines(0.5, -0.5))


@composite("hamming_window", tags=("factory",), differentiable=False)
def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, device=None,
                   requires_grad=False):
    """``alpha - beta cos(2 pi n / (N - 1))``."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   _cosines(alpha, -beta))


@composite("blackman_window", tags=("factory",), differentiable=False)
def blackman_window(window_length, periodic=True, *, dtype=None, device=None, requires_grad=False):
    """``0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))``."""
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   _cosines(0.42, -0.5, 0.08))


@composite("bartlett_window", tags=("factory",), differentiable=False)
def bartlett_window(window_length, periodic=True, *, dtype=None, device=None, requires_grad=False):
    """The triangle ``1 - |2 n / (N - 1) - 1|``."""
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, m: 1 - np.abs(2 * k / (m - 1) - 1))


@composite("kaiser_window", tags=("factory",), differentiable=False)
def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, device=None, requires_grad=False):
    """``I0(beta sqrt(1 - ((n - a) / a)^2)) / I0(beta)`` with ``a = (N - 1) / 2``."""
    def values(k, m):
        a = (m - 1) / 2
        return np.i0(beta * np.sqrt(np.clip(1 - ((k - a) / a) ** 2, 0, None))) / np.i0(beta)
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad, values)


# ---- stft / istft -------------------------------------------------------------------------
def _call(name, input, n_fft, hop, win):
    return (f"{name}({tuple(input.shape)} {input.dtype}, n_fft={n_fft}, hop_length={hop}, "
            f"win_length={win})")


def _window_for(name, input, n_fft, hop_length, win_length, window, signal_shape):
    pt = _pt()
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    call = _call(name, input, n_fft, hop, win)
    if hop <= 0:
        raise RuntimeError(f"{call}: expected hop_length > 0, but got hop_length={hop}")
    if not 0 < win <= n_fft:
        raise RuntimeError(f"{call}: expected 0 < win_length <= n_fft, but got win_length={win}")
    if window is not None:
        _t(name, window, "window")
        if window.ndim != 1 or window.shape[0] != win:
            raise RuntimeError(f"{call}: expected a 1D window tensor of size equal to win_length={win}, but got "
                               f"window with size {list(window.shape)}")
    else:
        window = pt.ones(win, dtype=input.dtype.to_real() if input.dtype.is_complex else input.dtype,
                         device=input.device)
    if win < n_fft:                     # centred in n_fft points, as PyTorch's
        left = (n_fft - win) // 2
        window = pt.cat([pt.zeros(left, dtype=window.dtype, device=window.device), window,
                         pt.zeros(n_fft - win - left, dtype=window.dtype, device=window.device)])
    return hop, window


def _pad_signal(x, pad, mode):
    """Pad the last dim by ``pad`` on both sides (reflect, constant, replicate or circular)."""
    pt = _pt()
    n = x.shape[-1]
    if mode == "constant":
        z = pt.zeros(tuple(x.shape[:-1]) + (pad,), dtype=x.dtype, device=x.device)
        return pt.cat([z, x, z], -1)
    k = np.arange(-pad, n + pad)
    if mode == "reflect":
        if pad >= n:
            raise RuntimeError(f"stft(): padding size {pad} should be less than the corresponding input dimension "
                               f"{n} for reflect padding; use a shorter n_fft or pad_mode='constant'")
        idx = np.abs(k)
        idx = np.where(idx > n - 1, 2 * (n - 1) - idx, idx)
    elif mode == "replicate":
        idx = np.clip(k, 0, n - 1)
    elif mode == "circular":
        idx = k % n
    else:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    return x.index_select(-1, pt.tensor(idx, dtype=pt.int64, device=x.device))


@composite("stft")
def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, pad_mode="reflect",
         normalized=False, onesided=None, return_complex=None):
    """The short-time Fourier transform: (freq, frames), batched over a leading dim.

    Frame ``t`` is ``input[t * hop : t * hop + n_fft] * window`` (after padding ``n_fft // 2``
    on both sides when ``center``), transformed by an FFT of ``n_fft`` points.

    >>> plugtorch.stft(plugtorch.ones(8), 4, return_complex=True).shape
    plugtorch.Size([3, 9])
    """
    pt = _pt()
    _t("stft", input)
    complex_in = input.dtype.is_complex or (window is not None and window.dtype.is_complex)
    if return_complex is None and not complex_in:
        raise RuntimeError("stft requires the return_complex parameter be given for real inputs, and will further "
                           "require that return_complex=True in a future PyTorch release.")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"{_call('stft', input, n_fft, hop_length, win_length)}: expected a 1D or 2D tensor")
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise RuntimeError(f"{_call('stft', input, n_fft, hop_length, win_length)}: expected a tensor of floating "
                           "point or complex values")
    x = input.unsqueeze(0) if input.ndim == 1 else input
    if center:
        x = _pad_signal(x, n_fft // 2, pad_mode)
    n = x.shape[-1]
    hop, window = _window_for("stft", x, n_fft, hop_length, win_length, window, None)
    if not 0 < n_fft <= n:
        raise RuntimeError(f"{_call('stft', x, n_fft, hop, win_length)}: expected 0 < n_fft < {n}, but got "
                           f"n_fft={n_fft}")
    if onesided is None:
        onesided = not complex_in
    elif onesided and complex_in:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    frames = x.unfold(-1, n_fft, hop) * window.to(x.device)      # (B, T, n_fft)
    norm = "ortho" if normalized else "backward"
    spec = pt.fft.rfft(frames, dim=-1, norm=norm) if onesided else pt.fft.fft(frames, dim=-1, norm=norm)
    spec = spec.transpose(-1, -2)                                  # (B, freq, T)
    if input.ndim == 1:
        spec = spec.squeeze(0)
    if not return_complex and not complex_in:
        return pt.view_as_real(spec.contiguous())
    return spec


@composite("istft")
def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, normalized=False,
          onesided=None, length=None, return_complex=False):
    """The inverse of ``stft``: inverse FFTs of the frames, overlap-added, divided by the
    overlap-added squared window.

    >>> x = plugtorch.arange(8.)
    >>> w = plugtorch.hann_window(4)
    >>> plugtorch.istft(plugtorch.stft(x, 4, window=w, return_complex=True), 4, window=w).round().tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    """
    pt = _pt()
    _t("istft", input)
    if not input.dtype.is_complex:
        raise RuntimeError("istft requires a complex-valued input tensor matching the output from stft with "
                           "return_complex=True.")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"istft(): expected a tensor with a 2 or 3 dimensions of complex dtype, got "
                           f"{input.ndim} dimensions")
    spec = input.unsqueeze(0) if input.ndim == 2 else input       # (B, freq, T)
    real = input.dtype.to_real()
    hop, window = _window_for("istft", pt.empty(0, dtype=real, device=input.device), n_fft, hop_length,
                              win_length, window, None)
    if onesided is None:
        onesided = spec.shape[-2] != n_fft
    if onesided:
        if return_complex or window.dtype.is_complex:
            raise RuntimeError("Cannot have onesided output if window or input is complex")
        if spec.shape[-2] != n_fft // 2 + 1:
            raise RuntimeError(f"istft(): expected the frequency dimension (3rd to the last) of the input tensor to "
                               f"match n_fft / 2 + 1 when onesided=True, but got {spec.shape[-2]}")
    elif spec.shape[-2] != n_fft:
        raise RuntimeError(f"istft(): expected the frequency dimension (3rd to the last) of the input tensor to "
                           f"match n_fft when onesided=False, but got {spec.shape[-2]}")
    norm = "ortho" if normalized else "backward"
    cols = spec.transpose(-1, -2)                                  # (B, T, freq)
    if onesided:
        frames = pt.fft.irfft(cols, n=n_fft, dim=-1, norm=norm)
    else:
        frames = pt.fft.ifft(cols, n=n_fft, dim=-1, norm=norm)
        if not return_complex:
            frames = frames.real
    w = window.to(input.device)
    frames = frames * w
    t = frames.shape[-2]
    total = n_fft + hop * (t - 1)
    pos = ((pt.arange(t, device=input.device) * hop).unsqueeze(1) + pt.arange(n_fft, device=input.device)).reshape(-1)
    y = pt.zeros((spec.shape[0], total), dtype=frames.dtype, device=input.device)
    y = y.index_add(-1, pos, frames.reshape(spec.shape[0], -1))
    wsq = (w * w.conj()).real if w.dtype.is_complex else w * w
    env = pt.zeros(total, dtype=wsq.dtype, device=input.device).index_add(0, pos, wsq.repeat(t))
    start = n_fft // 2 if center else 0
    end = total - n_fft // 2 if center else total
    if length is not None:
        end = start + length
    end_in = min(end, total)
    y = y[..., start:end_in]
    env = env[start:end_in]
    from plugtorch.dispatch.dispatcher import data_check
    if env.numel():
        data_check(env.abs().amin() < 1e-11, RuntimeError,
                   "istft(): window overlap add min is below 1e-11: the window and hop_length do not satisfy the "
                   "NOLA condition (pick a window and hop_length whose overlapped squares stay positive)")
    y = y / env
    if end > total:
        y = pt.cat([y, pt.zeros((y.shape[0], end - total), dtype=y.dtype, device=y.device)], -1)
    return y.squeeze(0) if input.ndim == 2 else y
