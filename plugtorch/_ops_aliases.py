"""PyTorch's other names for existing functions: the ``*_copy`` variants of the views (the view,
cloned), the ``unsafe_*`` splits (the safe ones), and top-level forms of Tensor methods
(``detach``, ``fill_``, ``zero_``, ``index_put_``, ``is_complex`` ...).
"""
from __future__ import annotations

from plugtorch import _ops_public as P

__all__ = []


def _copy_of(view_name):
    view = getattr(P, view_name) if view_name != "view" else (lambda input, *size: input.view(*size))

    def fn(input, *args, **kwargs):
        out = view(input, *args, **kwargs)
        return tuple(t.clone() for t in out) if isinstance(out, (tuple, list)) else out.clone()
    fn.__name__ = fn.__qualname__ = f"{view_name}_copy"
    fn.__doc__ = f"``{view_name}`` as a new tensor that shares no memory with ``input``."
    P.PUBLIC_TO_OP[fn.__name__] = P.PUBLIC_TO_OP.get(view_name, view_name)
    __all__.append(fn.__name__)
    return fn


def _same_as(name, target):
    fn = getattr(P, target)
    P.PUBLIC_TO_OP[name] = P.PUBLIC_TO_OP.get(target, target)
    __all__.append(name)
    return fn


for _view in ("as_strided", "diagonal", "expand", "permute", "select", "split", "split_with_sizes", "squeeze", "t", "transpose",
              "unbind", "unfold", "unsqueeze", "view"):
    globals()[f"{_view}_copy"] = _copy_of(_view)

unsafe_chunk = _same_as("unsafe_chunk", "chunk")
unsafe_split = _same_as("unsafe_split", "split")
unsafe_split_with_sizes = _same_as("unsafe_split_with_sizes", "split_with_sizes")
# torch.spmm(mat1, mat2): mm with a sparse first matrix; plugtorch's tensors are all dense, where it is mm
spmm = _same_as("spmm", "mm")


def _method_as_function(name, op):
    def fn(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``input.{name}(...)``."
    P.PUBLIC_TO_OP[name] = op
    __all__.append(name)
    return fn


detach = _method_as_function("detach", "clone")
detach_ = _method_as_function("detach_", "clone")
fill_ = _method_as_function("fill_", "copy_")
zero_ = _method_as_function("zero_", "copy_")
index_put_ = _method_as_function("index_put_", "index_put")
is_complex = _method_as_function("is_complex", "clone")
is_nonzero = _method_as_function("is_nonzero", "clone")
is_same_size = _method_as_function("is_same_size", "clone")
is_signed = _method_as_function("is_signed", "clone")


def alias_copy(input):
    """A copy of ``input`` (PyTorch's alias, made a new tensor)."""
    return input.clone()


def detach_copy(input):
    """``input.detach()`` as a new tensor."""
    return input.detach().clone()


def fill(input, value):
    """A new tensor like ``input`` filled with ``value`` (a number or a 0-d tensor)."""
    return input.clone().fill_(value)


P.PUBLIC_TO_OP.update(alias_copy="clone", detach_copy="clone", fill="copy_")
__all__ += ["alias_copy", "detach_copy", "fill"]


def isreal(input):
    """Where ``input`` is real: its imaginary part is 0 (every element of a real tensor is).

    >>> plugtorch.isreal(plugtorch.tensor([1 + 0j, 1 + 1j])).tolist()
    [True, False]
    """
    from plugtorch._tensor import Tensor
    if not isinstance(input, Tensor):
        raise TypeError(f"isreal(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if input.dtype.is_complex:
        return P.imag(input) == 0
    return P.ones_like(input, dtype=P._dtypes.bool)


P.PUBLIC_TO_OP["isreal"] = "eq"
__all__.append("isreal")


def igamma(input, other):
    """The regularized lower incomplete gamma function: ``special.gammainc(input, other)``."""
    return P.special_gammainc(input, other)


def igammac(input, other):
    """The regularized upper incomplete gamma function: ``special.gammaincc(input, other)``."""
    return P.special_gammaincc(input, other)


P.PUBLIC_TO_OP.update(igamma="special_gammainc", igammac="special_gammaincc")
__all__ += ["igamma", "igammac"]


def lu(A, pivot=True, get_infos=False):
    """The old ``torch.lu``: ``(LU, pivots)`` (and ``infos`` with ``get_infos``), as
    ``linalg.lu_factor_ex``; it raises on a singular matrix unless ``get_infos``."""
    from plugtorch import _linalg_lu
    LU, piv, info = _linalg_lu.lu_factor_ex(A, pivot=pivot, check_errors=not get_infos)
    return (LU, piv, info) if get_infos else (LU, piv)


def lu_solve(b, LU_data, LU_pivots):
    """The old ``torch.lu_solve(b, LU, pivots)``: ``linalg.lu_solve(LU, pivots, b)``."""
    from plugtorch import _linalg_lu
    return _linalg_lu.lu_solve(LU_data, LU_pivots, b)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """``(P, L, U)`` from ``lu``'s packed result."""
    from plugtorch import _linalg_lu
    return _linalg_lu.lu_unpack(LU_data, LU_pivots, unpack_data, unpack_pivots)


P.PUBLIC_TO_OP.update(lu="gather", lu_solve="gather", lu_unpack="gather")
__all__ += ["lu", "lu_solve", "lu_unpack"]


def can_cast(from_, to):
    """Whether PyTorch's casting rules allow ``from_`` to ``to``: never to a lower kind
    (complex > floating > integer > bool); within a kind, always.

    >>> plugtorch.can_cast(plugtorch.float32, plugtorch.int32)
    False
    """
    from plugtorch import _dtypes
    return _dtypes.to_dtype(from_).category <= _dtypes.to_dtype(to).category


def constant_pad_nd(input, pad, value=0):
    """``input`` padded with ``value``: ``pad`` lists (left, right) amounts from the last dim back
    (negative amounts crop), as ``nn.functional.pad(mode='constant')``."""
    pad = [int(v) for v in pad]
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise RuntimeError(f"Length of pad must be even but instead it equals {len(pad)}" if len(pad) % 2 else
                           f"Length of pad should be no more than twice the number of dimensions of the input. Pad "
                           f"length is {len(pad)} while the input has {input.ndim} dimensions.")
    out = input
    for i in range(len(pad) // 2):
        d, left, right = input.ndim - 1 - i, pad[2 * i], pad[2 * i + 1]
        n = out.shape[d]
        out = out.narrow(d, max(-left, 0), max(n - max(-left, 0) - max(-right, 0), 0))
        parts = []
        for amount in (left, right):
            shape = list(out.shape)
            shape[d] = max(amount, 0)
            parts.append(P.full(tuple(shape), value, dtype=input.dtype, device=input.device))
        out = P.cat([parts[0], out, parts[1]], d)
    return out


get_device = _method_as_function("get_device", "clone")
resolve_conj = _method_as_function("resolve_conj", "clone")
resolve_neg = _method_as_function("resolve_neg", "clone")
is_conj = _method_as_function("is_conj", "clone")
is_neg = _method_as_function("is_neg", "clone")
resize_as_ = _method_as_function("resize_as_", "clone")


def slice_copy(input, dim=0, start=None, end=None, step=1):
    """``input[start:end:step]`` along ``dim`` as a new tensor."""
    return P.ops.slice(input, dim, start, end, step).clone()


P.PUBLIC_TO_OP.update(can_cast="_to_dtype", constant_pad_nd="cat")
__all__ += ["can_cast", "constant_pad_nd", "slice_copy"]
P.PUBLIC_TO_OP["slice_copy"] = "slice"


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    """The old ``torch.triangular_solve(b, A)``: ``(solution, cloned_coefficient)`` with
    ``A X = b`` (``A^T X = b`` when ``transpose``), as ``linalg.solve_triangular`` (arguments
    the other way round)."""
    import warnings
    from plugtorch import linalg, return_types
    warnings.warn("torch.triangular_solve is deprecated in favor of torch.linalg.solve_triangular and will be removed "
                  "in a future PyTorch release. torch.linalg.solve_triangular has its arguments reversed and does not "
                  "return a copy of one of the inputs.", UserWarning, stacklevel=2)
    M = A.mT if transpose else A
    X = linalg.solve_triangular(M, b, upper=upper != transpose, unitriangular=unitriangular)
    return return_types.triangular_solve(X, A.clone())


def _removed(name, advice):
    def fn(*args, **kwargs):
        raise RuntimeError(f"This function was deprecated since version 1.9 and is now removed. {advice}")
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Removed from PyTorch: {advice}"
    P.PUBLIC_TO_OP[name] = "clone"
    __all__.append(name)
    return fn


solve = _removed("solve", "`torch.solve` is deprecated in favor of `torch.linalg.solve`. `torch.linalg.solve` has its "
                 "arguments reversed and does not return the LU factorization.")
lstsq = _removed("lstsq", "`torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`. `torch.linalg.lstsq` has "
                 "reversed arguments and does not return the QR decomposition in the returned tuple.")
symeig = _removed("symeig", "Use `torch.linalg.eigvalsh(A, UPLO='U' if upper else 'L')` or `torch.linalg.eigh(A)`.")
eig = _removed("eig", "`torch.linalg.eig` returns complex tensors of dtype `cfloat` or `cdouble` rather than real "
               "tensors mimicking complex tensors: use `torch.linalg.eigvals(A)` or `torch.linalg.eig(A)`.")
matrix_rank = _removed("matrix_rank", "Please use the `torch.linalg.matrix_rank` function instead. The parameter "
                       "'symmetric' was renamed in `torch.linalg.matrix_rank()` to 'hermitian'.")
P.PUBLIC_TO_OP["triangular_solve"] = "linalg_solve_triangular"
__all__.append("triangular_solve")
