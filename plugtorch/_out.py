"""PyTorch's ``out=`` argument, for every public function whose torch counterpart takes one.

``OUT_FUNCTIONS`` lists those functions by namespace; ``install`` gives the ones plugtorch exports
an ``out=`` keyword. The result is computed as usual, then written into ``out`` as ``copy_``
writes (in place, the version counter bumped) and ``out`` is returned: a tuple of outs for
multi-output ops, rebuilt as the op's named tuple. Backends never see ``out``.

>>> o = plugtorch.empty(2)
>>> plugtorch.add(plugtorch.ones(2), 1, out=o) is o, o.tolist()
(True, [2.0, 2.0])
"""
from __future__ import annotations

import functools
import inspect
import os
import sys
import warnings

from plugtorch import _dtypes
from plugtorch._device import canonical
from plugtorch._tensor import Tensor
from plugtorch.dispatch.dispatcher import grad_state

# The functions whose torch counterpart takes out= (torch 2.13: the _C/*.pyi stubs of the
# generated bindings, inspect.signature of the Python-level ones, and the schemas of the
# linalg/special/fft ones, each checked by a call). "" is the plugtorch namespace itself.
OUT_FUNCTIONS: dict = {
    "": """
abs absolute acos acosh add addbmm addcdiv addcmul addmm addmv addr alias_copy all amax amin aminmax angle any
arange arccos arccosh arcsin arcsinh arctan arctan2 arctanh argmax argmin argsort as_strided_copy asin asinh atan
atan2 atanh baddbmm batch_norm_elemt bernoulli bitwise_and bitwise_left_shift bitwise_not bitwise_or
bitwise_right_shift bitwise_xor bmm bucketize cat ccol_indices_copy ceil chain_matmul cholesky cholesky_inverse
cholesky_solve clamp clamp_max clamp_min clip col_indices_copy column_stack complex concat concatenate
conj_physical copysign cos cosh cross crow_indices_copy cudnn_batch_norm cudnn_convolution cummax cummin cumprod
cumsum deg2rad detach_copy diag diagonal_copy diff digamma div divide dot dstack empty eq erf erfc erfinv exp
exp2 expand_copy expm1 eye fix float_power floor floor_divide fmax fmin fmod frac frexp frobenius_norm full
gather gcd ge geqrf ger greater greater_equal gt hardshrink hash_tensor heaviside histc histogram hspmm hstack
hypot i0 igamma igammac index_add index_copy index_reduce index_select indices_copy inner inverse isin isneginf
isposinf kron kthvalue lcm ldexp le lerp less less_equal lgamma linspace log log10 log1p log2 log_softmax
logaddexp logaddexp2 logcumsumexp logical_and logical_not logical_or logical_xor logit logspace logsumexp lstsq
lt lu_solve lu_unpack masked_select matmul matrix_power matrix_rank max maximum mean median min minimum
mkldnn_adaptive_avg_pool2d mm mode msort mul multinomial multiply mv mvlgamma nan_to_num nanmean nanmedian
nanquantile nansum narrow_copy native_batch_norm ne neg negative nextafter nonzero nonzero_static norm normal
not_equal nuclear_norm ones orgqr ormqr outer permute_copy polar polygamma pow prod qr quantile rad2deg rand
randint randn randperm range reciprocal remainder renorm round row_indices_copy row_stack rsqrt saddmm scatter
scatter_add scatter_reduce searchsorted select_copy sgn sigmoid sign signbit sin sinc sinh slice_copy
slice_scatter slogdet softmax solve sort split_copy split_with_sizes_copy sqrt square squeeze_copy sspaddmm stack
std sub subtract sum svd symeig t_copy take take_along_dim tan tanh tensordot threshold topk transpose_copy
triangular_solve tril triu true_divide trunc unbind_copy unfold_copy unsqueeze_copy values_copy var vdot
view_as_complex_copy view_as_real_copy view_copy vstack where xlogy zeros
""".split(),
    "linalg": """
cholesky cholesky_ex cond cross det eig eigh eigvals eigvalsh householder_product inv inv_ex ldl_factor
ldl_factor_ex ldl_solve lstsq lu lu_factor lu_factor_ex lu_solve matmul matrix_norm matrix_power matrix_rank
multi_dot norm pinv qr slogdet solve solve_ex solve_triangular svd svdvals tensorinv tensorsolve vecdot
vector_norm
""".split(),
    "special": """
airy_ai bessel_j0 bessel_j1 bessel_y0 bessel_y1 chebyshev_polynomial_t chebyshev_polynomial_u
chebyshev_polynomial_v chebyshev_polynomial_w digamma entr erf erfc erfcx erfinv exp2 expit expm1 gammainc
gammaincc gammaln hermite_polynomial_h hermite_polynomial_he i0 i0e i1 i1e laguerre_polynomial_l
legendre_polynomial_p log1p log_ndtr logit logsumexp modified_bessel_i0 modified_bessel_i1 modified_bessel_k0
modified_bessel_k1 multigammaln ndtr ndtri polygamma psi round scaled_modified_bessel_k0 scaled_modified_bessel_k1
shifted_chebyshev_polynomial_t shifted_chebyshev_polynomial_u shifted_chebyshev_polynomial_v
shifted_chebyshev_polynomial_w sinc spherical_bessel_j0 xlog1py xlogy zeta
""".split(),
    "fft": """
fft fft2 fftfreq fftn hfft hfft2 hfftn ifft ifft2 ifftn ihfft ihfft2 ihfftn irfft irfft2 irfftn rfft rfft2
rfftfreq rfftn
""".split(),
    "nn.functional": ["normalize"],
}

# factories: with out=, dtype and device default to out's (and must match it when given)
FACTORIES = frozenset("""empty zeros ones full arange range linspace logspace eye rand randn randint randperm normal
fftfreq rfftfreq""".split())
# ops whose (single) result is an index tensor: out must be int64 exactly, as in PyTorch
_INDEX_RESULTS = frozenset("argmax argmin argsort nonzero nonzero_static".split())
# ops whose result is a truth value: out may be bool or uint8, whatever the input (as in PyTorch)
_TRUTH_RESULTS = frozenset(("all", "any"))
# ops whose outs must have each result's dtype exactly (PyTorch's linear algebra and matrix products:
# "Expected out tensor to have dtype float, but got double instead"), not one it can be cast to;
# info and pivots included (int32). Checked against torch 2.13, each by a call.
_EXACT_RESULTS = frozenset("""
addmm addmv baddbmm bmm chain_matmul cross dot frobenius_norm inner inverse lu_solve matmul matrix_power mm mv
norm nuclear_norm ormqr qr slogdet svd tensordot triangular_solve vdot
linalg.cholesky linalg.cholesky_ex linalg.cross linalg.det linalg.eigh linalg.eigvalsh linalg.inv linalg.inv_ex
linalg.ldl_factor linalg.ldl_factor_ex linalg.ldl_solve linalg.lu linalg.lu_factor linalg.lu_factor_ex
linalg.lu_solve linalg.matmul linalg.matrix_norm linalg.matrix_power linalg.multi_dot linalg.norm linalg.qr
linalg.slogdet linalg.solve linalg.solve_ex linalg.solve_triangular linalg.svd linalg.svdvals linalg.vecdot
linalg.vector_norm
""".split())
# the FFTs with a real result refuse a complex out, which other ops' outs may be ("irfft expects a
# floating point output tensor, but got ComplexFloat")
_REAL_RESULTS = frozenset("fft.irfft fft.irfft2 fft.irfftn fft.hfft fft.hfft2 fft.hfftn".split())

_TORCH_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int", "int64": "Long",
                "float16": "Half", "bfloat16": "BFloat16", "float32": "Float", "float64": "Double",
                "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def _scalar_type(dt) -> str:
    return _TORCH_NAMES.get(dt.name, dt.name)


def call(name, fn, args, kwargs, out, factory=False):
    """``fn(*args, **kwargs)`` written into ``out`` (PyTorch's out= semantics); returns ``out``."""
    _check_out_type(name, out)
    requires_grad = False
    if factory:
        if not isinstance(out, Tensor):
            raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
        requires_grad = kwargs.pop("requires_grad", False)
        dtype, device = kwargs.get("dtype"), kwargs.get("device")
        if dtype is not None and _dtypes.to_dtype(dtype) is not out.dtype:
            raise RuntimeError(f"{name}(): dtype {_scalar_type(_dtypes.to_dtype(dtype))} does not match dtype of out "
                               f"parameter ({_scalar_type(out.dtype)}); leave dtype= out or pass out's dtype")
        if device is not None and canonical(device) != out.device:
            raise RuntimeError(f"{name}(): device {canonical(device)} does not match the device of out parameter "
                               f"({out.device}); leave device= out or pass out's device")
        params = factory_params(fn)
        if "dtype" in params:
            kwargs["dtype"] = out.dtype
        if "device" in params:
            kwargs["device"] = out.device
    out = write(name, fn(*args, **kwargs), out)
    if requires_grad:
        out.requires_grad_()
    return out


def _check_out_type(name, out):
    if isinstance(out, Tensor):
        return
    if isinstance(out, (tuple, list)) and all(isinstance(o, Tensor) for o in out):
        return
    raise TypeError(f"{name}(): argument 'out' must be Tensor (or a tuple of Tensors for an op with several "
                    f"results), not {type(out).__name__}")


def write(name, result, out):
    """Write ``result`` (a Tensor or a tuple of them) into ``out`` and return ``out``."""
    if isinstance(result, Tensor):
        if not isinstance(out, Tensor):
            raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
        _check_grad(name, (result,), (out,))
        _check_one(name, result, out, name in _INDEX_RESULTS or name in _EXACT_RESULTS)
        _write_one(name, result, out)
        return out
    if not isinstance(out, (tuple, list)):
        raise TypeError(f"{name}(): argument 'out' must be tuple of Tensors, not {type(out).__name__} "
                        f"({name} returns {len(result)} tensors)")
    if len(out) != len(result):
        raise TypeError(f"{name}(): expected tuple of {len(result)} elements but got {len(out)} for argument 'out'")
    _check_grad(name, result, out)
    fields = getattr(result, "_fields", None)
    exact = name in _EXACT_RESULTS
    for i, (r, o) in enumerate(zip(result, out)):   # every out is checked before any is written
        _check_one(name, r, o, exact or (fields is not None and fields[i] == "indices"))
    for r, o in zip(result, out):
        _write_one(name, r, o)
    return type(result)(*out) if fields is not None else tuple(out)


def _check_grad(name, results, outs):
    if grad_state.enabled and (any(r.requires_grad for r in results) or any(o.requires_grad for o in outs)):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic differentiation, "
                           "but one of the arguments requires grad. Call it under plugtorch.no_grad(), or drop out= "
                           "and use the returned tensor")


def _check_one(name, r, o, exact):
    if o.device != r.device:
        raise RuntimeError(f"{name}(): Expected out tensor to have device {r.device}, but got {o.device} instead "
                           f"(the result is computed on {r.device}); create out there")
    if exact and o.dtype is not r.dtype:
        what = "out tensor" if name in _EXACT_RESULTS else "out tensor for the indices"
        raise RuntimeError(f"{name}(): Expected {what} to have dtype {r.dtype}, but got {o.dtype} instead; "
                           f"pass an out of dtype {r.dtype}")
    if name in _REAL_RESULTS and o.dtype.is_complex:
        raise RuntimeError(f"{name}(): expects a floating point output tensor, but got {_scalar_type(o.dtype)}; "
                           f"pass an out of dtype {r.dtype}")
    if name in _TRUTH_RESULTS:
        if o.dtype not in (_dtypes.bool, _dtypes.uint8):
            raise RuntimeError(f"{name} only supports bool tensor for result, got: {_scalar_type(o.dtype)}; pass "
                               "an out of dtype bool (or uint8)")
        return
    if r.dtype.category > o.dtype.category:
        raise RuntimeError(f"{name}(): result type {_scalar_type(r.dtype)} can't be cast to the desired output type "
                           f"{_scalar_type(o.dtype)}; pass an out of dtype {r.dtype} (or of a kind that holds it)")


def _write_one(name, r, o):
    shape = tuple(r.shape)
    if tuple(o.shape) != shape:
        if o.numel():
            warnings.warn(f"{name}(): An output with one or more elements was resized since it had shape "
                          f"{list(o.shape)}, which does not match the required output shape {list(shape)}. "
                          "This behavior is deprecated, and in a future PyTorch release outputs will not be "
                          "resized unless they have zero elements. You can explicitly reuse an out tensor t by "
                          "resizing it, inplace, to zero elements with t.resize_(0).", UserWarning,
                          stacklevel=_caller_level())
        o.resize_(shape)
    o.copy_(r)


_PKG = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _caller_level() -> int:
    """warnings.warn's stacklevel of the first frame outside plugtorch (the user's call)."""
    f, level = sys._getframe(2), 2
    while f is not None and f.f_code.co_filename.startswith(_PKG):
        f, level = f.f_back, level + 1
    return level


def signature_with_out(sig):
    """``sig`` with a keyword-only ``out=None`` added (before ``**kwargs``)."""
    params = list(sig.parameters.values())
    if any(p.name == "out" for p in params):
        return sig
    at = len(params) - (1 if params and params[-1].kind is inspect.Parameter.VAR_KEYWORD else 0)
    params.insert(at, inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, default=None))
    try:
        return sig.replace(parameters=params)
    except ValueError:   # a positional parameter with a default after it cannot be: keep the order sane
        return sig


def factory_params(fn) -> frozenset:
    try:
        return frozenset(inspect.signature(fn).parameters) & {"dtype", "device"}
    except (TypeError, ValueError):
        return frozenset()


def accepting_out(fn, name):
    """``fn`` with an ``out=`` keyword: a wrapper whose path without out is one dict lookup."""
    factory = name.rpartition(".")[2] in FACTORIES

    def f(*args, **kwargs):
        if kwargs and "out" in kwargs:
            out = kwargs.pop("out")
            if out is not None:
                return call(name, fn, args, kwargs, out, factory)
        return fn(*args, **kwargs)
    functools.update_wrapper(f, fn)
    try:
        f.__signature__ = signature_with_out(inspect.signature(fn))
    except (TypeError, ValueError):
        pass
    f._takes_out = True
    return f


def install(namespace: dict, key: str) -> None:
    """Give the functions of ``namespace`` that ``OUT_FUNCTIONS[key]`` lists an ``out=`` keyword
    (those that take one already, hand-written with ``out=None``, handle it themselves)."""
    from plugtorch._ops_public import _make_op_function, ops
    prefix = key + "." if key and key != "nn.functional" else ""
    for n in OUT_FUNCTIONS[key]:
        f = namespace.get(n)
        if f is None or not callable(f) or getattr(f, "_takes_out", False):
            continue
        if hasattr(f, "_op") and f is getattr(ops, f._op.name, None):   # an op's own function: rebuilt
            namespace[n] = _make_op_function(f._op, prefix + n)
        elif "out" in _params(f):
            f._takes_out = True
        else:
            namespace[n] = accepting_out(f, prefix + n)


def _params(f):
    try:
        return inspect.signature(f).parameters
    except (TypeError, ValueError):
        return {}
