"""Functions of square matrices: ``matrix_exp``."""
from __future__ import annotations

from plugtorch.dispatch.ops.composite import _pt, _t, composite

_TAYLOR_TERMS = 18        # with the norm scaled below 1/2: the next term is under 1e-22 of the sum
_MAX_SQUARINGS = 64


@composite("matrix_exp", tags=("linalg",))
def matrix_exp(input):
    """``exp(A) = sum A^k / k!`` of each square matrix: scaling and squaring over a Taylor series.

    >>> plugtorch.matrix_exp(plugtorch.zeros(2, 2)).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    pt = _pt()
    _t("matrix_exp", input)
    if input.ndim < 2 or input.shape[-1] != input.shape[-2]:
        raise RuntimeError(f"linalg.matrix_exp: Expected a square matrix or a batch of square matrices, but got "
                           f"a tensor of shape {tuple(input.shape)}")
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise RuntimeError(f"linalg.matrix_exp: Expected a floating point or complex tensor as input. Got "
                           f"{input.dtype}")
    n = input.shape[-1]
    if input.numel() == 0:
        return input.clone()
    eye = pt.eye(n, dtype=input.dtype, device=input.device).expand(tuple(input.shape))
    if input.device.type == "meta":   # no norm to read: the result's shape and dtype are the input's
        return _taylor(input, eye)
    if not _tracing():
        # eager: one read-back picks the number of squarings for the whole batch (PyTorch picks per
        # matrix), so only the squarings needed run
        norm = float(input.abs().sum(-2).amax())
        s = 0
        while norm > 0.5 and s < _MAX_SQUARINGS:
            norm /= 2
            s += 1
        return _squared(_taylor(input / (2 ** s), eye), range(s))
    # traced (jit, compile, onnx): the same s found on the device, as the count of thresholds
    # 2^(j-1) below the norm (exact, as the halvings above are), and all _MAX_SQUARINGS squarings
    # recorded, each kept only while j < s: a graph with no host read that gives eager's bits
    rdt = input.dtype.to_real() if input.dtype.is_complex else input.dtype
    norm = input.abs().sum(-2).amax()
    steps = pt.arange(_MAX_SQUARINGS, device=input.device)
    s = (norm > pt.ldexp(pt.full((_MAX_SQUARINGS,), 0.5, dtype=rdt, device=input.device), steps)).sum()
    a = input / pt.ldexp(pt.ones((), dtype=rdt, device=input.device), s)
    return _squared(_taylor(a, eye), range(_MAX_SQUARINGS), s)


def _tracing():
    from plugtorch.dispatch.dispatcher import current_recorder
    return current_recorder() is not None


def _taylor(a, eye):
    """``sum a^k / k!`` to _TAYLOR_TERMS terms, by Horner: I + a (I + a/2 (I + a/3 (...)))."""
    out = eye
    for k in range(_TAYLOR_TERMS, 0, -1):
        out = eye + a.matmul(out) / k
    return out


def _squared(out, steps, s=None):
    """``out`` squared once per step; with a 0-d ``s``, step j only where j < s (a skipped step
    squares zeros, so an inf in ``out`` sends no 0 * inf = nan into the gradient)."""
    pt = _pt()
    for j in steps:
        if s is None:
            out = out.matmul(out)
        else:
            keep = s > j
            m = pt.where(keep, out, 0.0)
            out = pt.where(keep, m.matmul(m), out)
    return out
