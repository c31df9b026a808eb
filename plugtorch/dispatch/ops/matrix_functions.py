"""Functions of square matrices: ``matrix_exp``."""
from __future__ import annotations

from plugtorch.dispatch.ops.composite import _pt, _t, composite

_TAYLOR_TERMS = 18        # with the norm scaled below 1/2: the next term is under 1e-22 of the sum


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
    # one read-back picks the number of squarings for the whole batch (PyTorch picks per matrix)
    norm = float(input.abs().sum(-2).amax()) if n else 0.0
    s = 0
    while norm > 0.5 and s < 64:
        norm /= 2
        s += 1
    a = input / (2 ** s)
    eye = pt.eye(n, dtype=input.dtype, device=input.device).expand(tuple(input.shape))
    # Horner: I + a (I + a/2 (I + a/3 (...)))
    out = eye
    for k in range(_TAYLOR_TERMS, 0, -1):
        out = eye + a.matmul(out) / k
    for _ in range(s):
        out = out.matmul(out)
    return out
