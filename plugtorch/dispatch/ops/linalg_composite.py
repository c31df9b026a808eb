"""The composite ops of ``plugtorch.linalg``: checks over the ``*_ex`` factorisations, norms,
pseudo-inverse, rank, cross and vecdot, written with plugtorch ops so every backend runs them.

``cholesky``, ``inv`` and ``solve`` raise ``LinAlgError`` when their ``info`` says a matrix was not
positive-definite or was singular: a read of ``info`` (through ``dispatcher.data_check``, so a
traced graph checks its own inputs), with PyTorch's messages.
"""
from __future__ import annotations

import builtins as _b

from plugtorch import _dtypes
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.ops.composite import _check_norm_dtype, composite
from plugtorch.dispatch.ops.linalg import LinAlgError, check_float, check_matrix


def _pt():
    import plugtorch
    return plugtorch


def _first_failure(info):
    """(flat batch index, info value) of the first nonzero info, read on the host."""
    import numpy as np
    host = np.asarray(info.cpu().numpy()).reshape(-1)
    i = int(np.flatnonzero(host)[0])
    return i, int(host[i])


def check_info(op, info, batched, what):
    """LinAlgError if any ``info`` is nonzero; ``what(value)`` is the message after the op's name."""
    from plugtorch.dispatch.dispatcher import data_check
    if info.numel() == 0:
        return

    def message():
        i, v = _first_failure(info)
        where = f"(Batch element {i}): " if batched else ""
        return f"{op}: {where}{what(v)}"
    data_check((info != 0).any(), LinAlgError, f"{op}: {what(None)}", eager_message=message)


def _not_pd(v):
    minor = "" if v is None else f" (the leading minor of order {v} is not positive-definite)"
    return f"The factorization could not be completed because the input is not positive-definite{minor}."


def _singular(v):
    if v is None:
        return "The inversion could not be completed because the input matrix is singular."
    return f"The diagonal element {v} is zero, the inversion could not be completed because the input matrix is singular."


@composite("linalg_cholesky", tags=("linalg",))
def linalg_cholesky(A, *, upper=False):
    """The Cholesky factor L (``A = L L^T``) of each symmetric positive-definite matrix of ``A``;
    ``LinAlgError`` naming the first leading minor that is not positive-definite.

    >>> plugtorch.linalg.cholesky(plugtorch.tensor([[4., 2.], [2., 5.]])).tolist()
    [[2.0, 0.0], [1.0, 2.0]]
    """
    pt = _pt()
    L, info = pt.ops.linalg_cholesky_ex(A, upper=upper)
    check_info("linalg.cholesky", info, A.ndim > 2, _not_pd)
    return L


@composite("linalg_inv", tags=("linalg",))
def linalg_inv(A):
    """The inverse of each square matrix of ``A``; ``LinAlgError`` for a singular one.

    >>> plugtorch.linalg.inv(plugtorch.tensor([[2., 0.], [0., 4.]])).tolist()
    [[0.5, 0.0], [0.0, 0.25]]
    """
    pt = _pt()
    out, info = pt.ops.linalg_inv_ex(A)
    check_info("linalg.inv", info, A.ndim > 2, _singular)
    return out


@composite("linalg_solve", tags=("linalg",))
def linalg_solve(A, B, *, left=True):
    """X with ``A X = B`` (``X A = B`` when ``left=False``), batched and broadcast; B may be a
    vector. ``LinAlgError`` for a singular A.

    >>> plugtorch.linalg.solve(plugtorch.tensor([[2., 0.], [0., 4.]]), plugtorch.tensor([2., 2.])).tolist()
    [1.0, 0.5]
    """
    pt = _pt()
    X, info = pt.ops.linalg_solve_ex(A, B, left=left)
    check_info("torch.linalg.solve", info, A.ndim > 2,
               lambda v: "The solver failed because the input matrix is singular.")
    return X


# ---- tolerances of pinv and matrix_rank ----------------------------------------------------
def _tolerances(op, A, atol, rtol, rcond=None, tol=None):
    """(atol, rtol) as PyTorch resolves them: rtol defaults to eps * max(m, n) unless atol > 0
    was given; ``rcond`` is rtol and ``tol`` atol (their older names)."""
    if rcond is not None:
        if rtol is not None:
            raise RuntimeError(f"{op}: rcond and rtol name the same tolerance; pass only rtol")
        rtol = rcond
    if tol is not None:
        if atol is not None or rtol is not None:
            raise RuntimeError(f"{op}: tol cannot be combined with atol or rtol; pass atol and rtol")
        return tol, 0.0
    for name, v in (("atol", atol), ("rtol", rtol)):
        if v is not None and not isinstance(v, (int, float, M.Tensor)):
            raise TypeError(f"{op}(): argument '{name}' must be float or Tensor, not {type(v).__name__}")
    if rtol is None:
        positive_atol = atol is not None and (isinstance(atol, M.Tensor) or atol > 0)
        rtol = 0.0 if positive_atol else _dtypes.finfo(A._dtype).eps * _b.max(A.shape[-2], A.shape[-1])
    return (0.0 if atol is None else atol), rtol


def _threshold(atol, rtol, largest):
    """max(atol, rtol * largest) with largest of shape (..., 1); tensors broadcast."""
    pt = _pt()
    r = largest * (rtol.unsqueeze(-1) if isinstance(rtol, M.Tensor) and rtol.ndim else rtol)
    if isinstance(atol, M.Tensor):
        return pt.maximum(atol.unsqueeze(-1) if atol.ndim else atol, r)
    return r.clamp_min(atol) if atol else r


@composite("linalg_pinv", tags=("linalg",))
def linalg_pinv(A, *, atol=None, rtol=None, hermitian=False, rcond=None):
    """The Moore-Penrose pseudo-inverse of each matrix of ``A`` through its SVD (eigh when
    ``hermitian``), singular values at or below max(atol, rtol * the largest) counted as zero.

    >>> plugtorch.linalg.pinv(plugtorch.tensor([[2., 0.], [0., 0.]])).tolist()
    [[0.5, 0.0], [0.0, 0.0]]
    """
    op = "linalg.pinv"
    pt = _pt()
    if not isinstance(A, M.Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(A).__name__}")
    if A.ndim < 2 or A._dtype not in (_dtypes.float32, _dtypes.float64, _dtypes.complex64, _dtypes.complex128):
        raise RuntimeError(f"{op}({M.LEGACY_NAMES.get(A._dtype.name, A._dtype.name)}{{{list(A.shape)}}}): expected a "
                           "tensor with 2 or more dimensions of float, double, cfloat or cdouble types")
    M.check_bool(op, "hermitian", hermitian)
    atol, rtol = _tolerances(op, A, atol, rtol, rcond)
    if A.numel() == 0:
        return pt.zeros(tuple(A.shape[:-2]) + (A.shape[-1], A.shape[-2]), dtype=A.dtype, device=A.device)
    if hermitian:
        S, U = pt.ops.linalg_eigh(A)
        Sabs = S.abs()
        keep = Sabs > _threshold(atol, rtol, Sabs.amax(-1, keepdim=True))
        Sinv = pt.where(keep, 1 / pt.where(keep, S, 1.0), 0.0)
        return (U * Sinv.unsqueeze(-2)) @ _mH(U)
    U, S, Vh = pt.ops.linalg_svd(A, False)
    keep = S > _threshold(atol, rtol, S.narrow(-1, 0, 1))
    Sinv = pt.where(keep, 1 / pt.where(keep, S, 1.0), 0.0)
    return (_mH(Vh) * Sinv.unsqueeze(-2)) @ _mH(U)


def _mH(x):
    """The conjugate transpose of a batch of matrices (the transpose of real ones)."""
    return _pt().conj(x.mT) if x._dtype.is_complex else x.mT


@composite("linalg_matrix_rank", tags=("linalg",), differentiable=False)
def linalg_matrix_rank(A, *, atol=None, rtol=None, hermitian=False, tol=None):
    """The number of singular values (|eigenvalues| when ``hermitian``) of each matrix above
    max(atol, rtol * the largest), as int64.

    >>> plugtorch.linalg.matrix_rank(plugtorch.tensor([[1., 2.], [2., 4.]])).item()
    1
    """
    op = "linalg.matrix_rank"
    pt = _pt()
    if not isinstance(A, M.Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(A).__name__}")
    if A._dtype not in (_dtypes.float32, _dtypes.float64, _dtypes.complex64, _dtypes.complex128):
        raise RuntimeError(f"{op}: This function doesn't handle types other than float and double (got "
                           f"{A._dtype}); convert with .float() or .double() first")
    check_matrix(op, A)
    M.check_bool(op, "hermitian", hermitian)
    atol, rtol = _tolerances(op, A, atol, rtol, tol=tol)
    S = pt.ops.linalg_eigvalsh(A).abs() if hermitian else pt.ops.linalg_svdvals(A)
    if S.shape[-1] == 0:
        return pt.zeros(tuple(S.shape[:-1]), dtype=pt.int64, device=A.device)
    return (S > _threshold(atol, rtol, S.amax(-1, keepdim=True))).sum(-1)


# ---- norms ---------------------------------------------------------------------------------
MATRIX_ORDS = ("fro", "nuc", 1, -1, 2, -2, float("inf"), -float("inf"))


def _matrix_dims(op, A, dim):
    if not isinstance(dim, (list, tuple)) or len(dim) != 2:
        raise RuntimeError(f"{op}: dim must be a 2-tuple. Got {dim if not isinstance(dim, (list, tuple)) else ' '.join(map(str, dim))}")
    d0, d1 = (M.wrap_dim(op, d, A.ndim) for d in dim)
    if d0 == d1:
        raise RuntimeError(f"{op}: dims must be different. Got ({dim[0]}, {dim[1]})")
    return d0, d1


@composite("linalg_matrix_norm", tags=("linalg", "reduction"))
def linalg_matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """Frobenius ('fro'), nuclear ('nuc'), spectral (2, -2: the largest / smallest singular value)
    and max-column / max-row sum (1, -1, inf, -inf) norms over the two ``dim`` of ``A``.

    >>> plugtorch.linalg.matrix_norm(plugtorch.tensor([[3., 0.], [0., 4.]]), ord=1).item()
    4.0
    """
    op = "linalg.matrix_norm"
    pt = _pt()
    if not isinstance(A, M.Tensor):
        raise TypeError(f"{op}(): argument 'A' must be Tensor, not {type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions (got shape {tuple(A.shape)})")
    M.check_bool(op, "keepdim", keepdim)
    _check_norm_dtype(A._dtype, dtype, op)
    d = A._dtype if dtype is None else _dtypes.to_dtype(dtype)
    d0, d1 = _matrix_dims(op, A, dim)
    if ord not in MATRIX_ORDS or isinstance(ord, bool):
        raise RuntimeError(f"{op}: Order {ord} not supported (use 'fro', 'nuc', 1, -1, 2, -2, inf or -inf)")
    if dtype is not None:
        A = A.to(d)
    if ord == "fro":
        return pt.ops.vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        check_float(op, A._dtype)
        S = pt.ops.linalg_svdvals(A.movedim((d0, d1), (-2, -1)))
        # the largest of no singular values is 0 (as PyTorch: an empty matrix has norm 0)
        out = S.sum(-1) if ord == "nuc" or (ord == 2 and S.shape[-1] == 0) else S.amax(-1) if ord == 2 else S.amin(-1)
        if keepdim:
            for x in sorted((d0, d1)):
                out = out.unsqueeze(x)
        return out
    # 1 / -1: sum over the rows (dim[0]), then the max / min over the columns; inf / -inf: the other way
    sum_dim, pick_dim = (d0, d1) if abs(ord) == 1 else (d1, d0)
    s = A.abs().sum(sum_dim, keepdim=True)
    if ord > 0:     # the max over no columns / rows is 0, an empty matrix's norm (as PyTorch)
        out = s.amax(pick_dim, keepdim=True) if s.shape[pick_dim] else s.sum(pick_dim, keepdim=True)
    else:
        out = s.amin(pick_dim, keepdim=True)
    return out if keepdim else out.squeeze((d0, d1) if d0 < d1 else (d1, d0))


@composite("linalg_norm", tags=("linalg", "reduction"))
def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """A vector norm (``dim`` an int, or ``A`` 1-d) or a matrix norm (``dim`` a 2-tuple, or ``A``
    2-d with ``ord`` given); with neither ``dim`` nor ``ord``, the 2-norm of ``A`` flattened.

    >>> plugtorch.linalg.norm(plugtorch.tensor([[3., 0.], [0., 4.]])).item()
    5.0
    """
    op = "linalg.norm"
    pt = _pt()
    if not isinstance(A, M.Tensor):
        raise TypeError(f"{op}(): argument 'A' must be Tensor, not {type(A).__name__}")
    if dim is not None and not isinstance(dim, (list, tuple)):
        dim = (dim,)
    if dim is None:
        if ord is None:
            return pt.ops.vector_norm(A, 2, None, keepdim, dtype=dtype)
        if A.ndim not in (1, 2):
            raise RuntimeError(f"{op}: If dim is not specified but ord is, the input must be 1D or 2D. Got {A.ndim}D.")
        dim = tuple(range(A.ndim))
    if len(dim) == 2 or isinstance(ord, str):
        return linalg_matrix_norm(A, "fro" if ord is None else ord, dim if len(dim) == 2 else (dim[0], dim[0]),
                                  keepdim, dtype=dtype)
    if len(dim) != 1:
        raise RuntimeError(f"{op}: If dim is specified, it must be of length 1 or 2. Got {list(dim)}")
    return pt.ops.vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


# ---- products ------------------------------------------------------------------------------
@composite("linalg_cross", tags=("linalg",))
def linalg_cross(input, other, *, dim=-1):
    """The cross product of 3-vectors along ``dim`` (the operands broadcast).

    >>> plugtorch.linalg.cross(plugtorch.tensor([1., 0., 0.]), plugtorch.tensor([0., 1., 0.])).tolist()
    [0.0, 0.0, 1.0]
    """
    op = "linalg.cross"
    pt = _pt()
    for name, t in (("input", input), ("other", other)):
        if not isinstance(t, M.Tensor):
            raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(t).__name__}")
    if input._dtype is not other._dtype:
        raise RuntimeError(f"{op}: expected both inputs to have the same dtype, but got {input._dtype} and "
                           f"{other._dtype}; cast one with .to(dtype)")
    if input._dtype is _dtypes.bool:
        raise M.not_implemented_for(op, input._dtype, "convert with .int() or .float() first")
    shape = M.broadcast_shapes(tuple(input.shape), tuple(other.shape), op=op)
    n = _b.max(len(shape), 1)
    d = M.wrap_dim(op, dim, n)
    ia, ib = input.ndim - len(shape) + d, other.ndim - len(shape) + d
    la = input.shape[ia] if 0 <= ia < input.ndim else 1
    lb = other.shape[ib] if 0 <= ib < other.ndim else 1
    if la != 3 or lb != 3:
        raise RuntimeError(f"{op}: inputs dimension {dim} must have length 3. Got {la} and {lb}")
    a, b = input.expand(shape), other.expand(shape)
    a0, a1, a2 = (a.narrow(d, i, 1) for i in range(3))
    b0, b1, b2 = (b.narrow(d, i, 1) for i in range(3))
    return pt.cat([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


@composite("trace", tags=("linalg", "reduction"))
def trace(input):
    """The sum of the main diagonal of a matrix (a registry op so autocast's CPU list can name it).

    >>> plugtorch.trace(plugtorch.tensor([[1., 2.], [3., 4.]])).item()
    5.0
    """
    if not isinstance(input, M.Tensor):
        raise TypeError(f"trace(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.ndim != 2:
        raise RuntimeError(f"trace(): expected a matrix, but got tensor with dim {input.ndim}")
    return input.diagonal().sum()


@composite("linalg_vecdot", tags=("linalg", "reduction"))
def linalg_vecdot(x, y, *, dim=-1):
    """The dot product of ``x`` and ``y`` along ``dim``, the other dims broadcast.

    >>> plugtorch.linalg.vecdot(plugtorch.tensor([1., 2.]), plugtorch.tensor([3., 4.])).item()
    11.0
    """
    op = "linalg.vecdot"
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, M.Tensor):
            raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(t).__name__}")
    for t in (x, y):
        if t._dtype.category < _dtypes._FLOAT:
            raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                               f"{M.LEGACY_NAMES[t._dtype.name]}; convert with .float() first")
    if x._dtype is not y._dtype:
        ln = M.LEGACY_NAMES
        raise RuntimeError(f"{op}: Expected x and y to have the same dtype, but found x of type {ln[x._dtype.name]} "
                           f"and y of type {ln[y._dtype.name]} instead; cast one with .to(dtype)")
    shape = M.broadcast_shapes(tuple(x.shape), tuple(y.shape), op=op)
    M.wrap_dim(op, dim, len(shape))
    if x._dtype.is_complex:   # PyTorch's vecdot conjugates x: sum(conj(x) * y)
        x = _pt().conj(x)
    return (x * y).sum(dim)
