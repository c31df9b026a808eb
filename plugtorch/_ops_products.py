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
from plugtorch._tensor import Tensor

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


@public("matmul")
def tensordot(a, b, dims=2, out=None):
    """Sums of products over the last ``dims`` dims of ``a`` and the first of ``b``, or over the
    dims the pair of lists ``dims`` names.

    >>> plugtorch.tensordot(plugtorch.ones(2, 3), plugtorch.ones(3, 4), dims=1).shape
    plugtorch.Size([2, 4])
    """
    if out is not None:
        from plugtorch import _out
        return _out.write("tensordot", tensordot(a, b, dims), out)
    from plugtorch.dispatch import meta as M
    _check_tensor("tensordot", a, "a")
    _check_tensor("tensordot", b, "b")
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > _b.min(a.ndim, b.ndim):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
        if len(da) != len(db):
            raise RuntimeError(f"both dimension lists should have same length (got {len(da)} and {len(db)})")
    da = [M.wrap_dim("tensordot", d, a.ndim) for d in da]
    db = [M.wrap_dim("tensordot", d, b.ndim) for d in db]
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a.shape[i]} in dim {i} "
                               f"and second has size {b.shape[j]} in dim {j}")
    ka = [d for d in range(a.ndim) if d not in da]
    kb = [d for d in range(b.ndim) if d not in db]
    k = 1
    for d in da:
        k *= a.shape[d]
    am = a.permute(ka + da).reshape(-1, k)
    bm = b.permute(db + kb).reshape(k, -1)
    return P.matmul(am, bm).reshape(tuple(a.shape[d] for d in ka) + tuple(b.shape[d] for d in kb))


@public("outer")
def ger(input, vec2):
    """The old name of ``outer``."""
    return P.outer(input, vec2)


@public("matmul")
def chain_matmul(*matrices):
    """The product of 2-D matrices in the cheapest order (``linalg.multi_dot``)."""
    import warnings
    from plugtorch import linalg
    warnings.warn("plugtorch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
                  "plugtorch.linalg.multi_dot instead, which accepts a list of two or more tensors rather than "
                  "multiple arguments.", UserWarning, stacklevel=2)
    if len(matrices) == 1:
        return matrices[0].clone()
    return linalg.multi_dot(list(matrices))


@public("pow")
def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of a 1-D ``x``: columns ``x ** (N - 1), ..., x, 1`` (ascending with
    ``increasing``).

    >>> plugtorch.vander(plugtorch.tensor([1, 2, 3]), N=2).tolist()
    [[1, 1], [2, 1], [3, 1]]
    """
    _check_tensor("vander", x, "x")
    if x.ndim != 1:
        raise RuntimeError(f"x must be a one-dimensional tensor, got {x.ndim} dimensions")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError(f"N must be non-negative, got {n}")
    xs = x if x.dtype.is_floating_point or x.dtype.is_complex else x.long()   # integers and bool: int64
    if n == 0:
        return P.empty((x.shape[0], 0), dtype=xs.dtype, device=x.device)
    cols = P.cat([P.ones((x.shape[0], 1), dtype=xs.dtype, device=x.device),
                  xs.unsqueeze(1).expand(x.shape[0], n - 1)], 1).cumprod(1)
    return cols if increasing else cols.flip([1])


@public("vector_norm")
def frobenius_norm(input, dim=(-2, -1), keepdim=False):
    """The square root of the sum of squares over ``dim``."""
    return P.ops.vector_norm(input, 2.0, dim, keepdim)


@public("vector_norm")
def nuclear_norm(input, dim=None, keepdim=False):
    """The sum of the singular values of the matrices in ``dim`` (the last two by default)."""
    from plugtorch import linalg
    return linalg.matrix_norm(input, "nuc", dim=(-2, -1) if dim is None else dim, keepdim=keepdim)


@public("cdist")
def pdist(input, p=2):
    """The ``p``-norm distances between the rows of a 2-D ``input``, the upper triangle of
    ``cdist(input, input)`` in row order."""
    _check_tensor("pdist", input)
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"pdist only supports floating-point dtypes (got {input.dtype})")
    if not p >= 0:
        raise RuntimeError("pdist only supports non-negative p values")
    from plugtorch._ops_indices import triu_indices
    i, j = triu_indices(input.shape[0], input.shape[0], 1, device=input.device)
    return P.ops.vector_norm(input[i] - input[j], float(p), -1)


@public("transpose")
def adjoint(input):
    """The conjugate transpose of the last two dims."""
    if input.ndim == 1:
        raise RuntimeError(f"tensor.adjoint() is only supported on matrices or batches of matrices. Got "
                           f"{input.ndim}-D tensor.")
    t = input.transpose(-2, -1) if input.ndim else input.view(())     # a 0-d tensor: its conjugate
    return t.conj() if input.dtype.is_complex else t
