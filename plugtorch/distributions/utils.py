"""Helpers shared by the distributions: argument broadcasting, probs <-> logits, lazy properties."""
from __future__ import annotations

import functools
import numbers

import plugtorch as _pt

__all__ = ["broadcast_all", "logits_to_probs", "probs_to_logits", "clamp_probs", "lazy_property",
           "tril_matrix_to_vec", "vec_to_tril_matrix"]


def broadcast_all(*values):
    """Broadcast tensors and Python numbers to one shape; numbers take the tensors' dtype and device.

    >>> import plugtorch as pt
    >>> a, b = broadcast_all(pt.zeros(2), 1.0)
    >>> tuple(b.shape), b.tolist()
    ((2,), [1.0, 1.0])
    """
    if not all(isinstance(v, (_pt.Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number, plugtorch.Tensor or objects "
                         "implementing __torch_function__.")
    if not all(isinstance(v, _pt.Tensor) for v in values):
        ref = next((v for v in values if isinstance(v, _pt.Tensor)), None)
        kw = dict(dtype=ref.dtype, device=ref.device) if ref is not None else dict(dtype=_pt.get_default_dtype())
        values = [v if isinstance(v, _pt.Tensor) else _pt.tensor(v, **kw) for v in values]
    return _pt.broadcast_tensors(*values)


def _standard_normal(shape, dtype, device):
    return _pt.randn(tuple(shape), dtype=dtype, device=device)


def _sum_rightmost(value, dim):
    """Sum out the ``dim`` rightmost dims of ``value``."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:value.dim() - dim]) + (-1,)).sum(-1)


def logits_to_probs(logits, is_binary=False):
    """Sigmoid of binary logits, softmax of categorical ones."""
    if is_binary:
        return _pt.sigmoid(logits)
    return logits.softmax(-1)


def clamp_probs(probs):
    """Clamp probabilities into the open interval (eps, 1 - eps) of their dtype."""
    eps = _pt.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    """Logit of binary probabilities, log of categorical ones (clamped so 0 and 1 stay finite)."""
    ps_clamped = clamp_probs(probs)
    if is_binary:
        return ps_clamped.log() - (-ps_clamped).log1p()
    return ps_clamped.log()


class lazy_property:
    """Computes the value on first access and caches it on the instance (as PyTorch's does)."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        functools.update_wrapper(self, wrapped)

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return _lazy_property_and_property(self.wrapped)
        with _pt.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


class _lazy_property_and_property(lazy_property, property):
    def __init__(self, wrapped):
        property.__init__(self, wrapped)


def tril_matrix_to_vec(mat, diag=0):
    """The lower triangle (offset ``diag``) of the last two dims, row by row, as a vector."""
    n = mat.shape[-1]
    if not -n <= diag < n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    rows, cols = [], []
    for i in range(n):
        for j in range(n):
            if j <= i + diag:
                rows.append(i)
                cols.append(j)
    flat = mat.reshape(tuple(mat.shape[:-2]) + (-1,))
    idx = _pt.tensor([r * n + c for r, c in zip(rows, cols)], device=mat.device)
    return flat.index_select(-1, idx)


def vec_to_tril_matrix(vec, diag=0):
    """Inverse of :func:`tril_matrix_to_vec`."""
    n = (-(1 + 2 * diag) + ((1 + 2 * diag) ** 2 + 8 * vec.shape[-1] + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    eps = _pt.finfo(vec.dtype).eps
    if not round(n) - n < eps:
        raise ValueError(f"The size of last dimension is {vec.shape[-1]} which cannot be expressed as "
                         "the lower triangular part of a square D x D matrix.")
    n = round(n.item()) if isinstance(n, _pt.Tensor) else round(n)
    idx = [i * n + j for i in range(n) for j in range(n) if j <= i + diag]
    out = vec.new_zeros(tuple(vec.shape[:-1]) + (n * n,))
    index = _pt.tensor(idx, device=vec.device).expand(tuple(vec.shape[:-1]) + (len(idx),))
    out = out.scatter(-1, index, vec)
    return out.reshape(tuple(vec.shape[:-1]) + (n, n))


def _diag_embed(v):
    """Matrices with ``v`` on the diagonal: a broadcast product with the identity, which every backend
    has (``Tensor.diag_embed`` scatters, and a plug-in without ``index_put`` would fall back to cpu)."""
    on_diagonal = _pt.eye(v.shape[-1], dtype=_pt.bool, device=v.device)
    return _pt.where(on_diagonal, v.unsqueeze(-1), _pt.zeros((), dtype=v.dtype, device=v.device))
