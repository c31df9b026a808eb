"""Public products and combinations made of registered ops: ``vdot``, ``inner``, ``dist``,
``block_diag``, ``cartesian_prod``, ``combinations``, ``diagflat``, ``matrix_power``.

Like ``_ops_compound``, none is an op of its own: each calls ops, so every backend and
autograd get them; ``PUBLIC_TO_OP`` records the main op each runs.
"""
from __future__ import annotations

import builtins as _b
import itertools

from plugtorch import _dtypes
from plugtorch import _ops_public as P
from plugtorch._ops_compound import _check_tensor

__all__ = []


def public(op_name):
    return P.public(op_name, __all__)


@public("dot")
def vdot(input, other):
    """``sum(conj(input) * other)`` of two 1-D tensors.

    >>> plugtorch.vdot(plugtorch.tensor([1j, 2]), plugtorch.tensor([1j, 1])).item()
    (3+0j)
    """
    _check_tensor("vdot", input)
    _check_tensor("vdot", other, "other")
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    if input.shape[0] != other.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src [{other.shape[0]}] "
                           f"to have the same number of elements, but got {input.shape[0]} and {other.shape[0]} "
                           "elements respectively")
    return P.dot(input.conj() if input.dtype.is_complex else input, other)


@public("matmul")
def inner(input, other):
    """The sum of products over the last dims (a product with a scalar when either is 0-d).

    >>> plugtorch.inner(plugtorch.tensor([1., 2.]), plugtorch.tensor([3., 4.])).item()
    11.0
    """
    _check_tensor("inner", input)
    _check_tensor("inner", other, "other")
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(input.shape)} and {list(other.shape)}")
    return _inner(input, other)


def _inner(a, b):
    lead_a, lead_b = tuple(a.shape[:-1]), tuple(b.shape[:-1])
    out = P.matmul(a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1]).mT)
    return out.reshape(lead_a + lead_b)


@public("vector_norm")
def dist(input, other, p=2):
    """The ``p``-norm of ``input - other`` (broadcast).

    >>> plugtorch.dist(plugtorch.tensor([0., 0.]), plugtorch.tensor([3., 4.])).item()
    5.0
    """
    _check_tensor("dist", input)
    _check_tensor("dist", other, "other")
    return P.ops.vector_norm(input - other, float(p))


@public("cat")
def block_diag(*tensors):
    """The tensors (0-, 1- or 2-D) as blocks down the diagonal of one matrix.

    >>> plugtorch.block_diag(plugtorch.tensor([[1]]), plugtorch.tensor([2, 3])).tolist()
    [[1, 0, 0], [0, 2, 3]]
    """
    mats = []
    for i, t in enumerate(tensors):
        _check_tensor("block_diag", t, f"tensors[{i}]")
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t.ndim} dimensions")
        mats.append(t.reshape(1, -1) if t.ndim < 2 else t)
    if not mats:
        return P.empty((1, 0))
    dt = mats[0].dtype
    for m in mats[1:]:
        dt = _dtypes.promote_types(dt, m.dtype)
    dev = mats[0].device
    cols = _b.sum(m.shape[1] for m in mats)
    rows = []
    left = 0
    for m in mats:
        r, c = m.shape
        rows.append(P.cat([P.zeros((r, left), dtype=dt, device=dev), m.to(dt),
                           P.zeros((r, cols - left - c), dtype=dt, device=dev)], 1))
        left += c
    return P.cat(rows, 0)


@public("expand")
def cartesian_prod(*tensors):
    """Every combination of one element from each 1-D tensor, one per row (1-D for one tensor).

    >>> plugtorch.cartesian_prod(plugtorch.tensor([1, 2]), plugtorch.tensor([3, 4])).tolist()
    [[1, 3], [1, 4], [2, 3], [2, 4]]
    """
    for i, t in enumerate(tensors):
        _check_tensor("cartesian_prod", t, f"tensors[{i}]")
        if t.ndim != 1:
            raise RuntimeError(f"cartesian_prod(): expect a 1D vector, but got shape {list(t.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    grids = P.meshgrid(*tensors, indexing="ij")
    return P.stack([g.reshape(-1) for g in grids], 1)


@public("index")
def combinations(input, r=2, with_replacement=False):
    """The length-``r`` combinations of the elements of a 1-D tensor, one per row, as
    ``itertools.combinations`` (or ``combinations_with_replacement``).

    >>> plugtorch.combinations(plugtorch.tensor([1, 2, 3])).tolist()
    [[1, 2], [1, 3], [2, 3]]
    """
    _check_tensor("combinations", input)
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return P.empty(0, dtype=input.dtype, device=input.device)
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = list(pick(range(input.shape[0]), r))
    if not rows:
        return P.empty((0, r), dtype=input.dtype, device=input.device)
    idx = P.tensor(rows, dtype=_dtypes.int64, device=input.device)
    return input[idx]


@public("diag_embed")
def diagflat(input, offset=0):
    """A matrix with the flattened ``input`` on its ``offset`` diagonal.

    >>> plugtorch.diagflat(plugtorch.tensor([[1, 2]])).tolist()
    [[1, 0], [0, 2]]
    """
    _check_tensor("diagflat", input)
    return P.diag_embed(input.reshape(-1), offset)


@public("matmul")
def matrix_power(input, n):
    """``input`` multiplied by itself ``n`` times (the inverse's power for negative ``n``);
    the same as ``plugtorch.linalg.matrix_power``."""
    from plugtorch import linalg
    return linalg.matrix_power(input, n)
