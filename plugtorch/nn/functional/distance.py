"""cosine_similarity and pairwise_distance.

>>> import plugtorch as pt
>>> pt.nn.functional.cosine_similarity(pt.tensor([[1., 0.]]), pt.tensor([[1., 0.]])).tolist()
[1.0]
"""
from __future__ import annotations

import plugtorch as pt
from plugtorch.nn.functional._utils import check_tensors


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """(x1 / max(||x1||, eps)) . (x2 / max(||x2||, eps)) along ``dim``, as PyTorch's."""
    check_tensors("cosine_similarity", x1=x1, x2=x2)
    dt = pt.result_type(x1, x2)
    if not dt.is_floating_point:
        raise RuntimeError(f"cosine_similarity(): expected common dtype to be floating point, yet common dtype is "
                           f"{dt} (x1 {x1.dtype}, x2 {x2.dtype}); convert them with .float()")
    x1 = x1 if x1.dtype.is_floating_point else x1.to(dt)     # integers join the other's dtype; floats stay
    x2 = x2 if x2.dtype.is_floating_point else x2.to(dt)
    if x1.shape != x2.shape:   # ``dim`` counts the dims of the broadcast shape, as PyTorch's
        x1, x2 = pt.broadcast_tensors(x1, x2)
    return ((x1 / _norm_at_least(x1, dim, eps)) * (x2 / _norm_at_least(x2, dim, eps))).sum(dim)


def _norm_at_least(x, dim, eps):
    """||x||_2 along ``dim`` (kept), raised to ``eps`` where smaller. PyTorch raises it in place
    under no_grad, so the gradient is the norm's: x / ||x||, and 0 at a zero vector (not sqrt's nan).
    float16 and bfloat16 square and sum in float32, as PyTorch's vector_norm."""
    xf = x.float() if x.dtype in (pt.float16, pt.bfloat16) else x
    s = (xf * xf).sum(dim, keepdim=True)
    nonzero = s > 0
    n = pt.where(nonzero, pt.where(nonzero, s, 1.0).sqrt(), 0.0).to(x.dtype)
    return pt.where(n < eps, n - n.detach() + eps, n)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    """||x1 - x2 + eps||_p along the last dim."""
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)


def pdist(input, p: float = 2.0):
    """The p-norm distance between every pair of rows of (N, M) ``input``: the upper triangle of
    ``cdist(input, input)`` row by row, N * (N - 1) / 2 values (``plugtorch.pdist``, as in PyTorch).

    >>> pt.nn.functional.pdist(pt.tensor([[0., 0.], [3., 4.], [0., 1.]])).tolist()
    [5.0, 1.0, 4.242640495300293]
    """
    return pt.pdist(input, p)
