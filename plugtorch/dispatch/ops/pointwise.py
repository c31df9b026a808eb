"""Elementwise ops: unary, binary and ternary, declared from tables.

Kernels receive native arrays (or Python scalars for scalar operands) and the result's
dtype; broadcasting is the kernel's job, validated here first.
"""
from __future__ import annotations

from plugtorch import _dtypes
from plugtorch._caches import Memo
from plugtorch._dtypes import _BOOL, _COMPLEX, _FLOAT, _INT
from plugtorch.dispatch import arguments as A
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.arguments import fit_scalar, int_too_big, _INT64_MIN, _UINT64_END
from plugtorch.dispatch.registry import register_op


# ---- unary --------------------------------------------------------------------------------
# result: "same" keeps the dtype, "float" turns ints into the default float dtype,
# "bool" gives bool, "real" a complex input's real dtype (abs). allow: which categories are accepted.
_UNARY = {
    # name: (result, allowed categories, differentiable)
    "neg": ("same", (_INT, _FLOAT, _COMPLEX), True),
    "abs": ("real", (_INT, _FLOAT, _COMPLEX), True),
    "sign": ("same", (_BOOL, _INT, _FLOAT), True),
    "exp": ("float", None, True), "exp2": ("float", None, True), "expm1": ("float", None, True),
    "log": ("float", None, True), "log2": ("float", None, True), "log10": ("float", None, True),
    "log1p": ("float", None, True), "sqrt": ("float", None, True), "rsqrt": ("float", None, True),
    "sin": ("float", None, True), "cos": ("float", None, True), "tan": ("float", None, True),
    "asin": ("float", None, True), "acos": ("float", None, True), "atan": ("float", None, True),
    "sinh": ("float", None, True), "cosh": ("float", None, True), "tanh": ("float", None, True),
    "sigmoid": ("float", None, True), "erf": ("float", (_BOOL, _INT, _FLOAT), True),
    "reciprocal": ("float", None, True),
    "floor": ("same", (_INT, _FLOAT), True), "ceil": ("same", (_INT, _FLOAT), True),
    "trunc": ("same", (_INT, _FLOAT), True), "round": ("same", (_INT, _FLOAT), True),
    "isnan": ("bool", None, False), "isinf": ("bool", None, False), "isfinite": ("bool", None, False),
    "logical_not": ("bool", None, False),
    "bitwise_not": ("same", (_BOOL, _INT), False),
}


def _unary_meta(name, result, allowed):
    def meta(input):
        if input.__class__ is not M.Tensor and not isinstance(input, M.Tensor):
            raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
        d = input._dtype
        if allowed is not None and d.category not in allowed:
            raise _unsupported(name, d)
        out = (d if result == "same" else _dtypes.bool if result == "bool" else d.to_real() if result == "real"
               else M.float_result(d))
        return input._device, (input._data, out), out
    meta.__name__ = name
    meta.__doc__ = f"Elementwise {name}.\n\n>>> plugtorch.{name}(plugtorch.tensor([0.5]))  # doctest: +SKIP\n"
    return meta


def _unsupported(name, d):
    """PyTorch's error for a dtype an elementwise op does not take: RuntimeError for the two
    ops it checks by hand (neg and relu of bool), NotImplementedError for the others."""
    if d is _dtypes.bool and name == "neg":
        return RuntimeError("neg(): Negation, the `-` operator, on a bool tensor is not supported. If you "
                            "are trying to invert a mask, use the `~` or `logical_not()` operator instead.")
    if d is _dtypes.bool and name == "relu":
        return RuntimeError("relu(): Boolean inputs not supported for relu; convert with .float() first")
    hint = "use logical_not for bool tensors" if name == "bitwise_not" else \
        "use an integer or bool tensor" if name.startswith("bitwise") else ""
    return M.not_implemented_for(name, d, hint)


for _name, (_res, _allow, _diff) in _UNARY.items():
    register_op(_name, _unary_meta(_name, _res, _allow), tags=("pointwise",), differentiable=_diff)


# ---- binary -------------------------------------------------------------------------------
# result: "promote", "float" (true division), "bool" (comparisons, logical), "int" (bitwise)
_BINARY = {
    "add": ("promote", True), "sub": ("promote", True), "mul": ("promote", True),
    "div": ("float", True), "floor_divide": ("promote", True), "remainder": ("promote", True),
    "fmod": ("promote", True), "pow": ("promote", True), "atan2": ("float", True),
    "maximum": ("promote", True), "minimum": ("promote", True),
    "eq": ("bool", False), "ne": ("bool", False), "lt": ("bool", False), "le": ("bool", False),
    "gt": ("bool", False), "ge": ("bool", False),
    "logical_and": ("bool", False), "logical_or": ("bool", False), "logical_xor": ("bool", False),
    "bitwise_and": ("int", False), "bitwise_or": ("int", False), "bitwise_xor": ("int", False),
    "bitwise_left_shift": ("int", False), "bitwise_right_shift": ("int", False),
}


def _binary_meta(name, result):
    # (dtype of input, dtype of other or scalar type, input 0-d?, other 0-d?) -> (compute, out)
    # (memoised per op; a Python float's dtype is the default dtype, so set_default_dtype
    # clears them through plugtorch._caches.invalidate)
    cache = Memo(256)

    def dtypes(a, b, key):
        if name == "sub":
            _check_sub_operands(a, b)
        dt = M.binary_dtype(a, b)
        r = cache[key] = (_compute_dtype(dt), _out_dtype(dt))
        return r

    def meta(input, other):
        T = M.Tensor
        if input.__class__ is not T:
            if not isinstance(input, T):
                if isinstance(other, T):  # scalar first, e.g. plugtorch.sub(2, t)
                    return _scalar_first(input, other)
                raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
        a = input._data
        oc = other.__class__
        if oc is T or isinstance(other, T):
            dev = input._device
            b = other._data
            sa, sb = a.shape, b.shape
            if other._device is not dev:
                dev = M.common_device(name, (input, other))
                b = M.native(other, dev)
                a = M.native(input, dev)
                r = cache.get((input._dtype, other._dtype, not sa, not sb)) or dtypes(
                    input, other, (input._dtype, other._dtype, not sa, not sb))
                M.check_joined_dtype(name, r[0], dev)   # a 0-d cpu float16 joining a device without it
            if sa != sb:
                M.broadcast_shapes(sa, sb, op=name)
            key = (input._dtype, other._dtype, not sa, not sb)
        else:
            if oc is not float and oc is not int and oc is not bool:
                other = M.scalar_arg(name, other)   # (a NumPy scalar becomes a Python number)
                oc = other.__class__
            elif oc is int and not _INT64_MIN <= other < _UINT64_HALF:
                _check_uint64_scalar(name, other, input._dtype)
            dev = input._device
            b = other
            key = (input._dtype, oc, not a.shape, True)
        r = cache.get(key)
        if r is None:
            r = dtypes(input, other, key)
        if oc is complex:   # a complex scalar makes a real tensor complex: may the device?
            M.check_joined_dtype(name, r[0], dev)
        elif divides and b.__class__ is int and r[0].category == _INT:   # (a Python int, or a 0-d cpu tensor's)
            b = _wrapped(b, r[0])
        return dev, (a, b, r[0]), r[1]

    def _scalar_first(x, t):
        x = M.scalar_arg(name, x)
        if x.__class__ is int and not _INT64_MIN <= x < _UINT64_HALF:
            _check_uint64_scalar(name, x, t._dtype)
        if name == "sub":
            _check_sub_operands(x, t)
        dt = M.binary_dtype(t, x)
        if x.__class__ is complex:
            M.check_joined_dtype(name, dt, t._device)
        return t._device, (x, t._data, _compute_dtype(dt)), _out_dtype(dt)

    # an integer divisor outside the dtype wraps as PyTorch converts it (int8 // 2**40 divides by 0
    # and raises): wrapped here, the backends' zero checks see it (cpu returned 0, opencl x)
    divides = name in _WRAPPED_DIVISORS
    if result == "promote":
        _compute_dtype = _out_dtype = _identity
        if name in ("floor_divide", "remainder", "fmod", "pow"):
            _compute_dtype = _out_dtype = _no_bool(name)
    elif result == "float":
        _compute_dtype = _out_dtype = M.float_result
    elif result == "bool":
        _compute_dtype, _out_dtype = _identity, _to_bool
    else:
        _compute_dtype = _out_dtype = _int_only(name)
    meta.__name__ = name
    if name == "pow":   # PyTorch names pow's second argument `exponent`: pow(x, exponent=2)
        binary_meta = meta

        def meta(input, exponent):
            if exponent.__class__ is bool and isinstance(input, M.Tensor) and input._dtype is _dtypes.bool:
                # PyTorch's bool tensor ** Python bool is bool: x ** True is x, x ** False all True
                # (a bool exponent tensor, or a bool base scalar, stays refused, as there)
                return input._device, (input._data, exponent, _dtypes.bool), _dtypes.bool
            if exponent.__class__ is int and isinstance(input, M.Tensor) and (
                    input._dtype.category == _INT or input._dtype is _dtypes.bool):   # (bool ** int is int64)
                if not _INT64_MIN <= exponent < _UINT64_END:
                    raise int_too_big("pow", exponent, input._dtype)
                # PyTorch converts an integer tensor's Python int exponent to its dtype, checked
                # (the dispatcher memoises no such call: the "scalar_checked" tag)
                if exponent < 0:
                    raise RuntimeError("pow(): Integers to negative integer powers are not allowed.")
                fit_scalar("pow", exponent, input._dtype)
            return binary_meta(input, exponent)
        meta.__name__ = name
    return meta


_UINT64_HALF = 1 << 63


def _check_uint64_scalar(name, v, dtype):
    """A Python int operand past int64: OverflowError outside 64 bits; in [2**63, 2**64) PyTorch
    takes it as a uint64 scalar, which a bool tensor cannot promote with (an integer tensor keeps
    its dtype and wraps it; a floating one converts it)."""
    if not _INT64_MIN <= v < _UINT64_END:
        raise int_too_big(name, v, dtype)
    if dtype is _dtypes.bool:
        raise RuntimeError(f"{name}(): Promotion for uint16, uint32, uint64 types is not supported, attempted to "
                           f"promote Bool and UInt64 (the Python int {v} is past int64); convert the bool tensor "
                           "with .long() or pass the value as a float")


def _identity(d):
    return d


_WRAPPED_DIVISORS = ("floor_divide", "remainder", "fmod")


def _wrapped(v, d):
    """Python int ``v`` as integer dtype ``d`` holds it after a C cast (two's complement wrap)."""
    bits = d.itemsize * 8
    w = v & ((1 << bits) - 1)
    if d.is_signed and w >> (bits - 1):
        w -= 1 << bits
    return v if w == v else w


def _to_bool(d):
    return _dtypes.bool


def _check_sub_operands(a, b):
    """PyTorch refuses sub with a bool operand, tensor or Python bool (``mask - 1`` is no inversion)."""
    a_bool = a.__class__ is bool or (isinstance(a, M.Tensor) and a._dtype is _dtypes.bool)
    b_bool = b.__class__ is bool or (isinstance(b, M.Tensor) and b._dtype is _dtypes.bool)
    if a_bool and b_bool:
        raise RuntimeError("sub(): Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    if a_bool or b_bool:
        raise RuntimeError("sub(): Subtraction, the `-` operator, with a bool tensor is not supported. If you "
                           "are trying to invert a mask, use the `~` or `logical_not()` operator instead.")


def _no_bool(name):
    def f(d):
        if d is _dtypes.bool:
            raise M.not_implemented_for(name, d, "convert bool tensors with .long() first")
        return d
    return f


def _int_only(name):
    shift = "shift" in name   # shifts take integers only; and, or, xor take bool too

    def f(d):
        if d.category >= _FLOAT or (shift and d is _dtypes.bool):
            raise M.not_implemented_for(name, d, "use integer tensors")
        return d
    return f


for _name, (_res, _diff) in _BINARY.items():
    register_op(_name, _binary_meta(_name, _res), differentiable=_diff,
                tags=("pointwise", "scalar_checked") if _name == "pow" or _name in _WRAPPED_DIVISORS
                else ("pointwise",))


# ---- ternary ------------------------------------------------------------------------------
_WHERE = Memo(1024)   # operands' (device, dtype, shape) or scalar type -> (device, dtype): checks passed


def _where_key(v):
    return (v._device, v._dtype, v._data.shape) if v.__class__ is M.Tensor else v.__class__


def _where_scalar(v, dt):
    """A Python scalar of where in the result dtype: checked as PyTorch checks it, except that a
    float beyond float16's or bfloat16's range becomes inf there (PyTorch converts unchecked)."""
    if (dt is _dtypes.float16 or dt is _dtypes.bfloat16) and v.__class__ is float:
        return v
    return A.fit_scalar("where", v, dt)


def _where_meta(condition, input, other):
    T = M.Tensor
    if condition.__class__ is T:
        key = (condition._device, condition._dtype, condition._data.shape, _where_key(input), _where_key(other))
        hit = _WHERE.get(key)
        if hit is not None:   # every tensor on hit's device: their native arrays are their data
            a = input._data if input.__class__ is T else _where_scalar(input, hit[1])
            b = other._data if other.__class__ is T else _where_scalar(other, hit[1])
            return hit[0], (condition._data, a, b, hit[1]), hit[1]
    else:
        key = None
    if not isinstance(condition, T):
        raise TypeError(f"where(): argument 'condition' must be Tensor, not {type(condition).__name__}")
    if condition._dtype is not _dtypes.bool:
        raise RuntimeError(f"where(): expected condition to be a bool tensor, but got a tensor with dtype {condition._dtype}")
    tensors = [t for t in (condition, input, other) if isinstance(t, T)]
    dev = M.common_device("where", tensors)
    shapes = [t.shape for t in tensors]
    M.broadcast_shapes(*shapes, op="where")
    input, other = (v if isinstance(v, T) else M.scalar_arg("where", v) for v in (input, other))
    dt = _dtypes.result_type(*(v for v in (input, other)))
    if dt.is_complex or any(t._device is not dev for t in tensors):
        M.check_joined_dtype("where", dt, dev)
    a = M.native(input, dev) if isinstance(input, T) else _where_scalar(input, dt)
    b = M.native(other, dev) if isinstance(other, T) else _where_scalar(other, dt)
    if key is not None and all(t.__class__ is T and t._device is dev for t in tensors):
        _WHERE[key] = (dev, dt)
    return dev, (M.native(condition, dev), a, b, dt), dt


register_op("where", _where_meta, tags=("pointwise",))
