"""Core-op kernels written with the Array API standard's functions only.

Each kernel follows the calling convention of ``plugtorch/backends/cpu/array_kernels.py``
(what the op's meta function returns) and matches the cpu reference. The standard allows no
mixing of dtype kinds, so every operand is cast to the kernel's computation dtype first, and
Python scalars become 0-d arrays of that dtype (wrapping out-of-range ints, as PyTorch does).
Kernels the namespace cannot support are left out; the backend lists them as fallback ops.
"""
from __future__ import annotations

import math

import numpy as np

from plugtorch import _dtypes
from plugtorch._dtypes import _FLOAT, _INT


def make_array_api_kernels(xp, D, array_type, aliases=None) -> dict:
    """The kernel table for Array API namespace ``xp``; ``D`` maps plugtorch dtypes to xp's.

    ``aliases`` (an ``AliasGroups``) is given for libraries whose views are copies: the view
    kernels record which arrays stand for one memory, and the kernels that write in place
    refuse to write into one of them while another lives (the write would be lost).
    """
    K = {}
    i64 = D[_dtypes.int64]

    def arr(r):
        return r if isinstance(r, array_type) else xp.asarray(r)

    def scalar(v, dt):
        if dt.category == _FLOAT:
            v = float(v)
        elif dt is _dtypes.bool:
            v = bool(v)
        else:  # wrap like a C cast: uint8(300) == 44
            bits = dt.itemsize * 8
            v = int(v) % (1 << bits)
            if dt.is_signed and v >= 1 << (bits - 1):
                v -= 1 << bits
        return xp.asarray(v, dtype=D[dt])

    def cast(x, dt):
        if not isinstance(x, array_type):
            return scalar(x, dt)
        d = D[dt]
        return x if x.dtype == d else xp.astype(x, d)

    def truthy(x):
        return x if x.dtype == xp.bool else xp.not_equal(x, xp.zeros((), dtype=x.dtype))

    def copy(x):
        # reshape through 1-d so the copy is C-contiguous whatever the layout of x
        return xp.reshape(xp.reshape(x, (-1,), copy=True), x.shape)

    def is_int(dt):
        return dt.category == _INT

    # ---- unary ---------------------------------------------------------------------------
    half = {dt for dt in (_dtypes.float16, _dtypes.bfloat16) if dt in D}

    def _float_unary(f):
        # float16/bfloat16 compute in float32 and round once, as PyTorch's kernels do (step by
        # step in float16, sigmoid(-11.1) is 0: exp(11.1) overflows)
        def k(x, dtype):
            if dtype in half:
                return arr(cast(f(cast(x, _dtypes.float32)), dtype))
            return arr(f(cast(x, dtype)))
        return k

    def _exp2(x):
        return xp.pow(xp.asarray(2, dtype=x.dtype), x)

    def _sigmoid(x):
        one = xp.ones((), dtype=x.dtype)
        return xp.divide(one, xp.add(one, xp.exp(xp.negative(x))))

    def _rsqrt(x):
        return xp.divide(xp.ones((), dtype=x.dtype), xp.sqrt(x))

    def _reciprocal(x):
        return xp.divide(xp.ones((), dtype=x.dtype), x)

    for name, f in {"exp": xp.exp, "exp2": _exp2, "expm1": xp.expm1, "log": xp.log,
                    "log2": xp.log2, "log10": xp.log10, "log1p": xp.log1p, "sqrt": xp.sqrt,
                    "rsqrt": _rsqrt, "sin": xp.sin, "cos": xp.cos, "tan": xp.tan,
                    "asin": xp.asin, "acos": xp.acos, "atan": xp.atan, "sinh": xp.sinh,
                    "cosh": xp.cosh, "tanh": xp.tanh, "sigmoid": _sigmoid,
                    "reciprocal": _reciprocal}.items():
        K[name] = _float_unary(f)

    def _same_unary(f, int_identity=False):
        def k(x, dtype):
            if x.dtype == xp.bool or (int_identity and is_int(dtype)):
                return copy(cast(x, dtype))
            return arr(cast(f(x), dtype))
        return k

    K["neg"] = _same_unary(xp.negative)
    K["abs"] = _same_unary(xp.abs)
    def _sign(x):   # PyTorch's (0 < x) - (x < 0): sign(nan) and sign(-0.0) are +0
        if not xp.isdtype(x.dtype, "real floating"):
            return xp.sign(x)
        return xp.subtract(xp.astype(xp.greater(x, 0), x.dtype), xp.astype(xp.less(x, 0), x.dtype))

    K["sign"] = _same_unary(_sign)
    for name, f in (("floor", xp.floor), ("ceil", xp.ceil), ("trunc", xp.trunc), ("round", xp.round)):
        K[name] = _same_unary(f, int_identity=True)

    def _bool_unary(f, bool_value):
        def k(x, dtype):
            if x.dtype == xp.bool or not xp.isdtype(x.dtype, "real floating"):
                return xp.full(x.shape, bool_value, dtype=xp.bool)
            return arr(f(x))
        return k

    K["isnan"] = _bool_unary(xp.isnan, False)
    K["isinf"] = _bool_unary(xp.isinf, False)
    K["isfinite"] = _bool_unary(xp.isfinite, True)
    K["logical_not"] = lambda x, dtype: arr(xp.logical_not(truthy(x)))
    K["bitwise_not"] = lambda x, dtype: arr(xp.bitwise_invert(x))

    # ---- binary --------------------------------------------------------------------------
    def binary(f, check_zero=None):
        def k(a, b, dtype):
            a, b = cast(a, dtype), cast(b, dtype)
            if check_zero and is_int(dtype) and bool(xp.any(xp.equal(b, xp.zeros((), dtype=b.dtype)))):
                raise RuntimeError(f"ZeroDivisionError: integer {check_zero} by zero")
            return arr(f(a, b, dtype))
        return k

    def _add(a, b, dt):
        return xp.logical_or(a, b) if dt is _dtypes.bool else xp.add(a, b)

    def _mul(a, b, dt):
        return xp.logical_and(a, b) if dt is _dtypes.bool else xp.multiply(a, b)

    def _floor_divide(a, b, dt):
        if is_int(dt):
            return xp.floor_divide(a, b)
        # PyTorch's div_floor_floating: the floor of the exact quotient, from fmod (floor(a / b)
        # is off by one wherever a / b rounds up to an integer: 1.0 // 0.1 is 9)
        m = _fmod(a, b, dt)
        zero, one, half = (xp.asarray(v, dtype=m.dtype) for v in (0.0, 1.0, 0.5))
        d = xp.divide(xp.subtract(a, m), b)
        d = xp.where(xp.logical_and(xp.not_equal(m, zero), xp.not_equal(xp.less(b, zero), xp.less(m, zero))),
                     xp.subtract(d, one), d)
        f = xp.floor(d)
        f = xp.where(xp.greater(xp.subtract(d, f), half), xp.add(f, one), f)
        f = xp.where(xp.equal(d, zero), xp.copysign(xp.zeros_like(d), xp.divide(a, b)), f)
        return xp.where(xp.equal(b, zero), xp.divide(a, b), f)

    def _fmod(a, b, dt):
        if is_int(dt):  # remainder has the divisor's sign; fmod the dividend's
            r = xp.remainder(a, b)
            zero = xp.zeros((), dtype=r.dtype)
            fix = xp.logical_and(xp.not_equal(r, zero), xp.not_equal(xp.less(r, zero), xp.less(a, zero)))
            return xp.where(fix, xp.subtract(r, b), r)
        # exact: for positive operands remainder is fmod; fmod takes the dividend's sign
        r = xp.copysign(xp.remainder(xp.abs(a), xp.abs(b)), a)
        return xp.where(xp.logical_and(xp.isinf(b), xp.isfinite(a)), a, r)   # fmod(a, ±inf) == a

    def _remainder(a, b, dt):
        if is_int(dt):
            return xp.remainder(a, b)
        # from fmod, as PyTorch does: a nonzero result takes the divisor's sign (libraries
        # disagree on the inf and signed-zero cases of their own remainder)
        m = _fmod(a, b, dt)
        zero = xp.zeros((), dtype=m.dtype)
        fix = xp.logical_and(xp.not_equal(m, zero), xp.not_equal(xp.less(b, zero), xp.less(m, zero)))
        return xp.where(fix, xp.add(m, b), m)

    def _pow(a, b, dt):
        if dt is _dtypes.bool:
            return xp.logical_or(xp.logical_not(b), a)
        if is_int(dt) and dt.is_signed:
            # a negative exponent (meta refuses a negative Python int): PyTorch's integer pow
            # gives 1 and -1 their powers and every other base 0
            zero, one = xp.zeros((), dtype=b.dtype), xp.ones((), dtype=b.dtype)
            neg = xp.less(b, zero)
            r = xp.pow(a, xp.where(neg, zero, b))
            odd = xp.not_equal(xp.remainder(b, xp.asarray(2, dtype=b.dtype)), zero)
            minus_one = xp.equal(a, -one)
            special = xp.where(minus_one, xp.where(odd, -one, one), xp.where(xp.equal(a, one), one, zero))
            return xp.astype(xp.where(neg, special, r), r.dtype)
        return xp.pow(a, b)

    def _extremum(f):
        def g(a, b, dt):
            if dt is _dtypes.bool:   # the standard orders numbers only
                return xp.logical_or(a, b) if f is xp.maximum else xp.logical_and(a, b)
            r = f(a, b)
            if dt.category == _FLOAT:  # NaN propagates, as in PyTorch
                r = xp.where(xp.isnan(a), a, xp.where(xp.isnan(b), b, r))
            return r
        return g

    def opmath_scalar(kernel, f):
        # PyTorch's float16/bfloat16 mul and div take a scalar operand (a Python number, or a 0-d
        # tensor of another dtype as the second operand) as a float32 and round the result once
        # (h * tensor(70000) is 35008 in float16; tensor(70000) * h is inf)
        def k(a, b, dtype):
            if dtype in half and (not isinstance(a, array_type) or not isinstance(b, array_type)
                                  or (b.ndim == 0 and b.dtype != D[dtype])):
                f32 = _dtypes.float32
                return arr(cast(f(cast(a, f32), cast(b, f32)), dtype))
            return kernel(a, b, dtype)
        return k

    K["add"] = binary(_add)
    K["sub"] = binary(lambda a, b, dt: xp.subtract(a, b))
    K["mul"] = opmath_scalar(binary(_mul), xp.multiply)
    K["div"] = opmath_scalar(binary(lambda a, b, dt: xp.divide(a, b)), xp.divide)
    K["floor_divide"] = binary(_floor_divide, check_zero="division")
    K["remainder"] = binary(_remainder, check_zero="remainder")
    K["fmod"] = binary(_fmod, check_zero="fmod")
    pow_ = binary(_pow)

    def pow_kernel(a, b, dtype):
        if b.__class__ is float and (b == 0.5 or b == -0.5) and dtype.category == _FLOAT:
            # PyTorch's pow(tensor, 0.5) is sqrt and pow(tensor, -0.5) rsqrt: sqrt(-0.0) is -0.0
            # and sqrt(-inf) nan, where C's pow gives +0.0 and inf (a 0-d exponent is a real pow)
            r = xp.sqrt(cast(a, dtype))
            return arr(r if b > 0 else xp.divide(xp.ones((), dtype=r.dtype), r))
        return pow_(a, b, dtype)
    K["pow"] = pow_kernel
    K["atan2"] = binary(lambda a, b, dt: xp.atan2(a, b))
    K["maximum"] = binary(_extremum(xp.maximum))
    K["minimum"] = binary(_extremum(xp.minimum))
    K["bitwise_and"] = binary(lambda a, b, dt: xp.bitwise_and(a, b))
    K["bitwise_or"] = binary(lambda a, b, dt: xp.bitwise_or(a, b))
    K["bitwise_xor"] = binary(lambda a, b, dt: xp.bitwise_xor(a, b))

    def _shift(f, left):
        def g(a, b, dt):
            if dt is _dtypes.bool:
                a, b = xp.astype(a, D[_dtypes.uint8]), xp.astype(b, D[_dtypes.uint8])
            bits = dt.itemsize * 8
            zero = xp.zeros((), dtype=b.dtype)
            r = f(a, xp.clip(b, 0, bits - 1))
            # shifting by the width or more gives 0 (or -1 for negative values shifted right)
            big = xp.logical_or(xp.greater_equal(b, xp.asarray(bits, dtype=b.dtype)), xp.less(b, zero))
            if bool(xp.any(big)):
                fill = (xp.where(xp.less(a, zero), xp.asarray(-1, dtype=a.dtype), zero)
                        if not left and dt.is_signed else xp.zeros_like(r))
                r = xp.where(big, fill, r)
            return r if dt is not _dtypes.bool else xp.astype(r, xp.bool)
        return g

    K["bitwise_left_shift"] = binary(_shift(xp.bitwise_left_shift, True))
    K["bitwise_right_shift"] = binary(_shift(xp.bitwise_right_shift, False))

    def compare(f):
        def k(a, b, dtype):
            # a Python int takes the compared dtype, wrapping (uint8 < -3 is uint8 < 253), as PyTorch
            if dtype is _dtypes.bool and f not in (xp.equal, xp.not_equal):
                dtype = _dtypes.uint8   # the standard orders numbers only: False < True as 0 < 1
            return arr(f(cast(a, dtype), cast(b, dtype)))
        return k

    for name, f in (("eq", xp.equal), ("ne", xp.not_equal), ("lt", xp.less),
                    ("le", xp.less_equal), ("gt", xp.greater), ("ge", xp.greater_equal)):
        K[name] = compare(f)
    for name, f in (("logical_and", xp.logical_and), ("logical_or", xp.logical_or),
                    ("logical_xor", xp.logical_xor)):
        K[name] = (lambda f: lambda a, b, dtype: arr(f(truthy(cast(a, dtype)), truthy(cast(b, dtype)))))(f)

    def where(c, a, b, dtype):
        c = c if isinstance(c, array_type) else xp.asarray(bool(c))
        return arr(xp.where(c, cast(a, dtype), cast(b, dtype)))
    K["where"] = where

    # ---- reductions ----------------------------------------------------------------------
    def _acc(dt):
        return _dtypes.float32 if dt in (_dtypes.float16, _dtypes.bfloat16) else dt

    def _accumulate(f):
        def k(x, dims, keepdim, dtype):
            acc = _acc(dtype)
            x = cast(x, acc)
            r = f(x, axis=dims, keepdims=keepdim, dtype=D[acc]) if dims else x
            return arr(cast(r, dtype))
        return k

    K["sum"] = _accumulate(xp.sum)
    K["prod"] = _accumulate(xp.prod)

    def _extreme(f, bool_f):
        def k(x, dims, keepdim, dtype):
            if not dims:
                return copy(x)
            if math.prod(x.shape) == 0:   # (meta refuses an empty reduced dim) some libraries refuse it all
                shape = [1 if i in dims else n for i, n in enumerate(x.shape) if keepdim or i not in dims]
                return xp.empty(tuple(shape), dtype=x.dtype)
            if x.dtype == xp.bool:
                return arr(bool_f(x, axis=dims, keepdims=keepdim))
            return arr(f(x, axis=dims, keepdims=keepdim))
        return k

    K["amax"] = _extreme(xp.max, xp.any)
    K["amin"] = _extreme(xp.min, xp.all)
    def _logical(f):
        def k(x, dims, keepdim, dtype):
            r = arr(f(x, axis=dims, keepdims=keepdim) if dims else truthy(x))
            return r if dtype is _dtypes.bool else xp.astype(r, D[dtype])   # uint8 stays uint8
        return k

    K["all"] = _logical(xp.all)
    K["any"] = _logical(xp.any)

    def _arg(f):
        def nan_first(x, **kw):
            r = f(x, **kw)
            if xp.isdtype(x.dtype, "real floating"):
                # the first NaN wins, as in PyTorch (the standard leaves NaN to the library: ndonnx skips it)
                nan = xp.isnan(x)
                r = xp.where(xp.any(nan, **kw), xp.argmax(xp.astype(nan, D[_dtypes.uint8]), **kw), r)
            return r

        def k(x, dim, keepdim):
            if x.dtype == xp.bool:
                x = xp.astype(x, D[_dtypes.uint8])
            if dim is None:
                r = arr(xp.astype(nan_first(xp.reshape(x, (-1,))), i64))
                return xp.reshape(r, (1,) * x.ndim) if keepdim else r
            if x.ndim == 0:
                return xp.zeros((), dtype=i64)
            return arr(xp.astype(nan_first(x, axis=dim[0], keepdims=keepdim), i64))
        return k

    K["argmax"] = _arg(xp.argmax)
    K["argmin"] = _arg(xp.argmin)

    def _scan(f):
        def k(x, dim, dtype):
            if x.ndim == 0:
                return copy(cast(x, dtype))
            acc = _acc(dtype)
            return arr(cast(f(cast(x, acc), axis=dim, dtype=D[acc]), dtype))
        return k

    if hasattr(xp, "cumulative_sum"):
        K["cumsum"] = _scan(xp.cumulative_sum)
    if hasattr(xp, "cumulative_prod") and _exact_cumulative_prod(xp, i64):
        K["cumprod"] = _scan(xp.cumulative_prod)

    if hasattr(xp, "take_along_axis"):
        def sort(x, dim, descending):
            if x.ndim == 0:
                return copy(x), xp.zeros((), dtype=i64)
            keys = xp.astype(x, D[_dtypes.uint8]) if x.dtype == xp.bool else x
            idx = xp.astype(xp.argsort(keys, axis=dim, descending=descending, stable=True), i64)
            return arr(xp.take_along_axis(x, idx, axis=dim)), arr(idx)
        K["sort"] = sort

    # ---- linear algebra ------------------------------------------------------------------
    # Native dtypes are looked up by the plugtorch dtype, never by comparing with D.get(...):
    # NumPy's dtype == None is np.dtype(None) == float64, True, so a namespace without bfloat16
    # once sent every float64 matmul through float32.
    def matmul(a, b):
        dt = a.dtype
        if any(dt == D[h] for h in half):
            f32 = D[_dtypes.float32]
            return arr(xp.astype(xp.matmul(xp.astype(a, f32), xp.astype(b, f32)), dt))
        return arr(xp.matmul(a, b))
    K["_matmul"] = matmul

    # ---- views and layout ----------------------------------------------------------------
    K["view"] = lambda x, shape: xp.reshape(x, tuple(shape))
    K["permute"] = lambda x, dims: xp.permute_dims(x, tuple(dims))
    K["expand"] = lambda x, shape: xp.broadcast_to(x, tuple(shape))
    K["slice"] = lambda x, dim, start, end, step: x[(slice(None),) * dim + (slice(start, end, step), ...)]
    K["select"] = lambda x, dim, index: x[(slice(None),) * dim + (index, ...)]
    K["clone"] = copy
    K["flip"] = lambda x, dims: copy(xp.flip(x, axis=tuple(dims))) if dims else copy(x)
    K["cat"] = lambda arrays, dim, dtype: xp.concat([cast(a, dtype) for a in arrays], axis=dim)

    def copy_(dst, src):
        if aliases is not None:
            aliases.check_write("copy_", dst)
        if math.prod(dst.shape) == 0:   # nothing to write (Dask refuses x[...] = y on empty arrays)
            return
        src = src if src.dtype == dst.dtype else xp.astype(src, dst.dtype)
        dst[...] = xp.broadcast_to(src, dst.shape) if src.shape != dst.shape else src
    K["copy_"] = copy_
    K["_to_dtype"] = lambda x, dtype: xp.astype(x, D[dtype], copy=True)

    # ---- indexing ------------------------------------------------------------------------
    def index(x, indices):
        """Advanced indexing through ``take`` on the flattened indexed dims (NumPy's layout)."""
        pos = [i for i, t in enumerate(indices) if t is not None]
        if not pos:
            return copy(x)
        idx = xp.broadcast_arrays(*[indices[i] for i in pos])
        rest = [i for i in range(x.ndim) if i not in pos]
        sizes = [x.shape[i] for i in pos]
        xt = xp.reshape(xp.permute_dims(x, tuple(pos + rest)), (math.prod(sizes), *[x.shape[i] for i in rest]))
        flat = xp.zeros(idx[0].shape, dtype=i64)
        for t, n in zip(idx, sizes):
            t = xp.astype(t, i64)
            t = xp.where(xp.less(t, xp.zeros((), dtype=i64)), xp.add(t, xp.asarray(n, dtype=i64)), t)
            flat = xp.add(xp.multiply(flat, xp.asarray(n, dtype=i64)), t)
        bshape = tuple(idx[0].shape)
        r = xp.take(xt, xp.reshape(flat, (-1,)), axis=0)
        r = xp.reshape(r, bshape + tuple(x.shape[i] for i in rest))
        if pos == list(range(pos[0], pos[-1] + 1)) and pos[0] > 0:
            # adjacent indexed dims keep their place (NumPy's rule); otherwise they lead
            nb, p0 = len(bshape), pos[0]
            order = [nb + j for j in range(p0)] + list(range(nb)) + [nb + j for j in range(p0, len(rest))]
            r = copy(xp.permute_dims(r, tuple(order)))
        return r
    K["index"] = index

    if hasattr(xp, "take_along_axis"):
        def gather(x, dim, index):
            if x.ndim == 0:   # every index is 0 (meta checked): the one element, as often as indexed
                return copy(xp.broadcast_to(x, tuple(index.shape)))
            n = x.shape[dim]
            index = xp.astype(index, i64)   # int32 indices too (some libraries take int64 only)
            index = xp.where(xp.less(index, xp.zeros((), dtype=index.dtype)),
                             xp.add(index, xp.asarray(n, dtype=index.dtype)), index)
            # the index may be smaller than x along the other dims
            x = x[tuple(slice(None) if j == dim else slice(0, m) for j, m in enumerate(index.shape))]
            return arr(xp.take_along_axis(x, index, axis=dim))
        K["gather"] = gather

    def nonzero(x):
        if x.ndim == 0:
            return xp.zeros((int(bool(x)), 0), dtype=i64)
        return xp.astype(xp.stack(xp.nonzero(x), axis=1), i64)
    K["nonzero"] = nonzero

    # ---- factories and random ------------------------------------------------------------
    def full(shape, value, dtype, index):
        return xp.full(tuple(shape), _py(value, dtype), dtype=D[dtype])
    K["full"] = full
    K["empty"] = lambda shape, dtype, index: xp.empty(tuple(shape), dtype=D[dtype])

    def arange(start, end, step, dtype, index):
        n = max(0, math.ceil((end - start) / step))
        if is_int(dtype) and all(isinstance(v, int) for v in (start, end, step)):
            return xp.astype(xp.arange(start, start + n * step, step, dtype=i64)[:n], D[dtype])
        f64 = D[_dtypes.float64] if _dtypes.float64 in D else D[_dtypes.float32]
        r = xp.add(xp.multiply(xp.arange(n, dtype=f64), xp.asarray(step, dtype=f64)), xp.asarray(start, dtype=f64))
        return xp.astype(r, D[dtype])
    K["arange"] = arange

    # The standard has no random numbers: draw on the host, exactly as the cpu backend does,
    # and copy in (so a seed gives the same numbers on both).
    def _fill(x, host, op):
        if aliases is not None:
            aliases.check_write(op, x)
        if math.prod(x.shape) == 0:
            return
        x[...] = xp.asarray(host.astype(_np_dtype(x, D)), dtype=x.dtype)

    def _float_kind(x):
        return np.float64 if _dtypes.float64 in D and x.dtype == D[_dtypes.float64] else np.float32

    def uniform_(x, low, high, gen):   # a float16 draw rounding up to `high` becomes `low`, as PyTorch's and cpu's
        v = np.asarray(gen.random(x.shape, dtype=_float_kind(x)) * (high - low) + low).astype(_np_dtype(x, D))
        _fill(x, np.where(v == np.asarray(high).astype(v.dtype), np.asarray(low).astype(v.dtype), v), "uniform_")
    K["uniform_"] = uniform_
    K["normal_"] = lambda x, mean, std, gen: _fill(
        x, gen.standard_normal(x.shape, dtype=_float_kind(x)) * std + mean, "normal_")
    K["random_"] = lambda x, low, high, gen: _fill(x, gen.integers(low, high, size=x.shape), "random_")

    if aliases is not None:
        for name in VIEW_KERNELS:
            K[name] = aliases.tracking(K[name])
    return K


# the kernels whose results share their input's memory (the core ops tagged "view")
VIEW_KERNELS = ("view", "permute", "expand", "slice", "select")


def _exact_cumulative_prod(xp, i64) -> bool:
    """Whether ``xp.cumulative_prod`` multiplies (ndonnx's goes through exp(cumsum(log x)): NaN for
    negative numbers, 6 for 7 in uint8); without it cumprod runs on cpu."""
    try:
        r = xp.cumulative_prod(xp.asarray([-2, 3, 7], dtype=i64))
        return bool(xp.all(xp.equal(r, xp.asarray([-2, -6, -42], dtype=i64))))
    except Exception:
        return False


def _fits(v, dt):
    info = np.iinfo(dt.numpy)
    return info.min <= v <= info.max


def _py(value, dt):
    """``value`` as the Python number ``full`` stores for dtype ``dt`` (floats truncate to ints)."""
    if dt.category == _FLOAT:
        return float(value)
    if dt is _dtypes.bool:
        return bool(value)
    v = int(value)
    if not _fits(v, dt):   # as the cpu reference (NumPy) refuses
        raise OverflowError(f"full(): fill value {value} is out of bounds for {dt}")
    return v


def _np_dtype(x, D):
    for pt_dtype, d in D.items():
        if d == x.dtype:
            return pt_dtype.numpy
    raise TypeError(f"no NumPy dtype for {x.dtype}")
