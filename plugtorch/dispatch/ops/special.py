"""Special functions: torch's acosh, lgamma, gcd, copysign ... and the elementwise math of
``plugtorch.special`` (erfcx, ndtri, the Bessel functions ...), declared from tables.

They are core ops with cpu kernels (NumPy and scipy.special) whose decomposition is the host
round trip (``dispatch.host``): a backend that has no kernel of its own runs them through host
memory, and says so in ``declarations()``; the opencl backend has native kernels for the ones
OpenCL C gives. Real dtypes only (a complex input gets NotImplementedError, as in PyTorch), but
acosh, asinh, atanh and sinc, which PyTorch computes for complex tensors too.
"""
from __future__ import annotations

from plugtorch import _dtypes
from plugtorch._dtypes import _BOOL, _COMPLEX, _FLOAT, _INT
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.host import host_decomposition
from plugtorch.dispatch.ops.pointwise import _binary_meta, _unary_meta
from plugtorch.dispatch.registry import register_op

_REAL = (_BOOL, _INT, _FLOAT)

# name: differentiable (every one takes bool, integer and float tensors; ints give the default float)
UNARY_FLOAT = {
    "acosh": True, "asinh": True, "atanh": True, "erfc": True, "erfinv": True, "lgamma": True,
    "digamma": True, "i0": True, "sinc": True,
    "special_erfcx": True, "special_ndtri": True, "special_log_ndtr": True, "special_i0e": True,
    "special_i1": True, "special_i1e": True,
    # (PyTorch has no derivative for these)
    "special_bessel_j0": False, "special_bessel_j1": False, "special_bessel_y0": False,
    "special_bessel_y1": False, "special_modified_bessel_i0": False, "special_modified_bessel_i1": False,
    "special_modified_bessel_k0": False, "special_modified_bessel_k1": False,
    "special_scaled_modified_bessel_k0": False, "special_scaled_modified_bessel_k1": False,
    "special_spherical_bessel_j0": False, "special_airy_ai": False,
}

# name: (result, operand dtypes, differentiable); result as in pointwise._BINARY
BINARY = {
    "copysign": ("float", None, True),
    "nextafter": ("promote", "float", True),     # (PyTorch's gradient: grad for input, 0 for other)
    "heaviside": ("promote", "same", "not_implemented"),
    "gcd": ("promote", "int", False), "lcm": ("promote", "int", False),
    "special_xlog1py": ("float", None, True),
    "special_zeta": ("float", None, True),
    "special_gammainc": ("float", "float", True), "special_gammaincc": ("float", "float", True),
}
# the orthogonal polynomials p_n(x) of torch.special, (input, n): n is truncated to an integer,
# a negative (or nan) n gives 0; PyTorch differentiates none of them
POLYNOMIALS = ("chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
               "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
               "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w", "hermite_polynomial_h",
               "hermite_polynomial_he", "laguerre_polynomial_l", "legendre_polynomial_p")
BINARY.update({"special_" + n: ("float", None, False) for n in POLYNOMIALS})


def _check_operands(name, kind, input, other, dt):
    T = M.Tensor
    if kind == "same":   # heaviside: two tensors of one dtype
        if not isinstance(other, T):
            raise TypeError(f"{name}(): argument 'values' (position 2) must be Tensor, not {type(other).__name__}")
        if input._dtype is not other._dtype:
            raise RuntimeError(f"{name} is not yet implemented for tensors with different dtypes "
                               f"({input._dtype} and {other._dtype}); convert one with .to()")
    elif kind == "int":
        if not isinstance(other, T):
            raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}")
        if dt.category != _INT:
            raise M.not_implemented_for(name, dt, "use integer tensors")
    elif kind == "float":
        if name == "nextafter" and not isinstance(other, T):
            raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}")
        src = _dtypes.result_type(input, other) if isinstance(input, T) else other._dtype
        if src.category != _FLOAT:
            raise M.not_implemented_for(name, src, f"{name} takes floating-point tensors; convert with .float()")


def _binary(name, result, kind):
    base = _binary_meta(name, result)

    def meta(input, other):
        if kind is not None and isinstance(input, M.Tensor):
            _check_operands(name, kind, input, other, input._dtype if kind == "same" else
                            _dtypes.result_type(input, other))
        elif kind is not None and isinstance(other, M.Tensor):
            _check_operands(name, kind, other, input, _dtypes.result_type(other, input))
        for v in (input, other):
            if isinstance(v, M.Tensor) and v._dtype.is_complex:
                raise M.not_implemented_for(name, v._dtype, "complex tensors are not supported")
            if v.__class__ is complex:   # a complex Python scalar makes the op compute in complex
                raise M.not_implemented_for(name, _dtypes.default_complex_dtype(), "complex numbers are not supported")
        return base(input, other)
    if name == "heaviside":   # (PyTorch's names of the second argument)
        def named(input, values):
            return meta(input, values)
    elif name.endswith("_polynomial_" + name[-1]):
        def named(input, n):
            return meta(input, n)
    else:
        named = meta
    named.__name__ = name
    named.__doc__ = f"Elementwise {name} (see plugtorch.special)."
    return named


def _polygamma_meta(n, input):
    """polygamma(n, input): the n-th derivative of digamma."""
    if not isinstance(input, M.Tensor):
        raise TypeError(f"polygamma(): argument 'input' (position 2) must be Tensor, not {type(input).__name__}")
    if n.__class__ is not int and not (hasattr(n, "__index__") and not isinstance(n, (bool, float))):
        raise TypeError(f"polygamma(): argument 'n' (position 1) must be int, not {type(n).__name__}")
    n = int(n)
    if n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative n (got n={n})")
    d = input._dtype
    if d.category not in _REAL:
        raise M.not_implemented_for("polygamma", d)
    out = M.float_result(d)
    return input._device, (n, input._data, out), out


# these take complex tensors too in PyTorch (principal branches, as NumPy's)
_COMPLEX_TOO = ("acosh", "asinh", "atanh", "sinc")
for _name, _diff in UNARY_FLOAT.items():
    register_op(_name, _unary_meta(_name, "float", _REAL + ((_COMPLEX,) if _name in _COMPLEX_TOO else ())),
                decomposition=host_decomposition(_name), tags=("pointwise",), differentiable=_diff)
register_op("signbit", _unary_meta("signbit", "bool", _REAL), decomposition=host_decomposition("signbit"),
            tags=("pointwise",), differentiable=False)
for _name, (_res, _kind, _diff) in BINARY.items():
    register_op(_name, _binary(_name, _res, _kind), decomposition=host_decomposition(_name),
                tags=("pointwise",), differentiable=_diff)
register_op("polygamma", _polygamma_meta, decomposition=host_decomposition("polygamma"), tags=("pointwise",))
