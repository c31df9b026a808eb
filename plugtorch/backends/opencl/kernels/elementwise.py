"""Unary, binary and ternary pointwise ops (and their PyTorch edge cases) as C expressions."""
from __future__ import annotations

import functools

from numpy import dtype as _dtype
from numpy import int64 as _I64

from plugtorch._caches import Memo
from plugtorch.backends.opencl import cltypes as T
from plugtorch.backends.opencl import fastlaunch as _fl
from plugtorch.backends.opencl.buffer import CLArray
from plugtorch.backends.opencl.kernels import complex as C
from plugtorch.backends.opencl.kernels import pointwise as P
from plugtorch.backends.opencl.runtime import LOCK
from plugtorch.dispatch.meta import broadcast_shapes

BOOL = T.BOOL
_new = object.__new__
_L64 = (64,)
_SPLIT, _launch_split = P.SPLIT, P.launch_split
_enqueue = None   # pyopencl.enqueue_nd_range_kernel, bound once pyopencl is loaded
_acquire, _release = LOCK.acquire, LOCK.release
_F32, _F64 = _dtype("float32"), _dtype("float64")


def _bind_enqueue(dev):
    global _enqueue
    _enqueue = dev.cl.enqueue_nd_range_kernel


def _unary_expr(name, dt):
    """C expression of unary op ``name`` on ``x0`` whose compute dtype is ``dt``."""
    f = T.is_float(dt)
    if name in ("isnan", "isinf", "isfinite"):
        return f"{name}(x0)" if f else ("1" if name == "isfinite" else "0")
    simple = {"neg": "-x0", "logical_not": "(x0 == 0)",
              "bitwise_not": "(x0 ^ 1)" if dt == BOOL else "~x0",
              "sign": "x0" if dt == BOOL else "(x0 > 0 ? 1 : (x0 < 0 ? -1 : 0))",  # PyTorch: nan, -0.0 -> 0
              "abs": "fabs(x0)" if f else "(x0 < 0 ? -x0 : x0)",
              "rsqrt": "(1 / sqrt(x0))", "sigmoid": "(1 / (1 + exp(-x0)))", "reciprocal": "(1 / x0)",
              "round": "rint(x0)" if f else "x0",
              # relu as the composite where(x < 0, 0, x): nan and -0.0 stay as they are
              "relu": "(x0 < 0 ? 0 : x0)"}
    if name in simple:
        return simple[name]
    if name in ("floor", "ceil", "trunc") and not f:
        return "x0"
    if name == "tanh" and T.compute(dt) == "float":
        return P.TANH_F32
    return f"{name}(x0)"


UNARY = ["neg", "abs", "sign", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt",
         "rsqrt", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "sigmoid",
         "erf", "reciprocal", "floor", "ceil", "trunc", "round", "isnan", "isinf", "isfinite",
         "logical_not", "bitwise_not", "relu"]

# MINUS_ONE(b): for signed types, b == -1 is taken apart: the minimum divided by -1 overflows (C
# leaves INT_MIN / -1 and INT_MIN % -1 undefined; PoCL's % gave -1); PyTorch wraps the quotient
# and the remainder is 0. Unsigned types define it as 0 (no comparison that is always false).
INT_HELPERS = r"""
inline CT fdiv(CT a, CT b) {
    if (MINUS_ONE(b)) return (CT)(0UL - (ulong)a);
    CT q = a / b; if ((a % b != 0) && ((a < 0) != (b < 0))) q--; return q; }
inline CT irem(CT a, CT b) {
    if (MINUS_ONE(b)) return 0;
    CT r = a % b; if (r != 0 && ((r < 0) != (b < 0))) r += b; return r; }
inline CT ifmod(CT a, CT b) { return MINUS_ONE(b) ? (CT)0 : (CT)(a % b); }
inline CT ipow(CT a, CT b) {   /* PyTorch: a negative exponent gives 1 and -1 their powers, other bases 0 */
    if (b < 0) return a == 1 ? 1 : (a == (CT)-1 ? ((b & 1) ? (CT)-1 : 1) : 0);
    CT r = 1; while (b > 0) { if (b & 1) r = (CT)(r * a); a = (CT)(a * a); b >>= 1; } return r; }
"""
FLOAT_HELPERS = r"""
inline CT frem(CT a, CT b) {   /* PyTorch: fmod shifted by b where signs differ; zeros keep fmod's sign */
    const CT m = fmod(a, b);
    return (m != 0 && ((b < 0) != (m < 0))) ? m + b : m;
}
inline CT ffloordiv(CT a, CT b) {   /* PyTorch's div_floor_floating: the floor of the exact quotient */
    if (b == 0) return a / b;
    const CT m = fmod(a, b);
    CT d = (a - m) / b;
    if (m != 0 && ((b < 0) != (m < 0))) d -= (CT)1;
    if (d == 0) return copysign((CT)0, a / b);
    CT f = floor(d);
    if (d - f > (CT)0.5) f += (CT)1;
    return f;
}
inline CT fmaxnan(CT a, CT b) { return isnan(a) ? a : (isnan(b) ? b : (a > b ? a : b)); }
inline CT fminnan(CT a, CT b) { return isnan(a) ? a : (isnan(b) ? b : (a < b ? a : b)); }
"""


def _binary_expr(name, dt):
    f = T.is_float(dt)
    b = dt == BOOL
    bits = dt.itemsize * 8
    table = {
        "add": "(x0 | x1)" if b else "(x0 + x1)", "sub": "(x0 - x1)",
        "mul": "(x0 & x1)" if b else "(x0 * x1)", "div": "(x0 / x1)",
        "floor_divide": "ffloordiv(x0, x1)" if f else "fdiv(x0, x1)",
        "remainder": "frem(x0, x1)" if f else "irem(x0, x1)",
        "fmod": "fmod(x0, x1)" if f else "ifmod(x0, x1)",
        "pow": "pow(x0, x1)" if f else ("((!x1) | x0)" if b else "ipow(x0, x1)"),
        "atan2": "atan2(x0, x1)",
        "maximum": "fmaxnan(x0, x1)" if f else "(x0 > x1 ? x0 : x1)",
        "minimum": "fminnan(x0, x1)" if f else "(x0 < x1 ? x0 : x1)",
        "eq": "(x0 == x1)", "ne": "(x0 != x1)", "lt": "(x0 < x1)", "le": "(x0 <= x1)",
        "gt": "(x0 > x1)", "ge": "(x0 >= x1)",
        "logical_and": "((x0 != 0) && (x1 != 0))", "logical_or": "((x0 != 0) || (x1 != 0))",
        "logical_xor": "((x0 != 0) != (x1 != 0))",
        "bitwise_and": "(x0 & x1)", "bitwise_or": "(x0 | x1)", "bitwise_xor": "(x0 ^ x1)",
        "bitwise_left_shift": f"((x1 < 0 || x1 >= {bits}) ? (CT)0 : (CT)(x0 << x1))",
        "bitwise_right_shift": f"((x1 < 0 || x1 >= {bits}) ? (CT)(x0 < 0 ? -1 : 0) : (CT)(x0 >> x1))",
    }
    return table[name]


BINARY = ["add", "sub", "mul", "div", "floor_divide", "remainder", "fmod", "pow", "atan2",
          "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or",
          "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
          "bitwise_right_shift"]
COMPARE = {"eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"}
_ZERO_CHECK = {"floor_divide": "division", "remainder": "remainder", "fmod": "fmod"}


def helpers(dt):
    if dt.kind == "c":
        return C.helpers(T.STORAGE[T.real_of(dt)])
    h = f"typedef {T.compute(dt)} CT;\n"
    if T.is_float(dt):
        return h + FLOAT_HELPERS
    signed = dt.kind == "i"
    return h + f"#define MINUS_ONE(b) {'((b) == -1)' if signed else '0'}\n" + INT_HELPERS


_CACHE = Memo(1024, invalidate=False)   # (op, dtypes, device) -> its compiled Pointwise


_FLOAT_ONLY_UNARY = {"exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt",
                     "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
                     "sigmoid", "erf", "reciprocal"}
_INT_ONLY_BINARY = {"bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
                    "bitwise_right_shift"}


def family_exprs(family, ct, out_dt=None):
    """name -> C expression for every op of ``family`` that compiles for compute dtype ``ct``
    (and, for complex ``ct``, results of ``out_dt``'s kind: complex, real or bool)."""
    if ct.kind == "c" and family in ("unary", "binary"):
        return _complex_exprs(family, out_dt)
    f = T.is_float(ct)
    if family == "unary":
        return {n: _unary_expr(n, ct) for n in UNARY
                if (n != "bitwise_not" if f else n not in _FLOAT_ONLY_UNARY)}
    if family == "binary":
        return {n: _binary_expr(n, ct) for n in BINARY
                if (n not in _INT_ONLY_BINARY if f else n != "atan2")}
    if family == "where":
        return {"where": "(x0 ? x1 : x2)"}
    return {"cast": "x0"}


def _complex_exprs(family, out_dt):
    if family == "binary":
        return C.COMPARE if out_dt == BOOL else C.BINARY
    return (C.UNARY_BOOL if out_dt == BOOL else C.UNARY_COMPLEX if out_dt.kind == "c" else C.UNARY_REAL)


def _check_complex(name, family, ct, out_dt, dev):
    """MissingCapabilityError for an op with no complex kernel (never a wrong result)."""
    if name not in _complex_exprs(family, out_dt):
        from plugtorch import _dtypes
        raise C.unsupported(name, _dtypes.from_numpy_dtype(ct), dev)


def pointwise(dev, family, name, in_dts, targets, out_dt):
    """The compiled Pointwise of op ``name`` on these operand dtypes (None = scalar)."""
    key = (name, in_dts, targets, out_dt, dev)
    pw = _CACHE.get(key)
    if pw is None:
        ct = targets[1] if family == "where" else targets[-1]
        if ct.kind == "c" and family in ("unary", "binary"):
            _check_complex(name, family, ct, out_dt, dev)
        pkey = ("pw", family, in_dts, targets, out_dt)
        src = P.source(in_dts, targets, out_dt, family_exprs(family, ct, out_dt), helpers(ct))
        pw = _CACHE[key] = P.Pointwise(dev, pkey, src, in_dts, targets, name)
    return pw


def _elementwise(dev, family, name, operands, targets, out_dt):
    """Run op ``name``: broadcast ``operands`` (CLArrays or scalars), convert each to its target."""
    arrays = [x for x in operands if x.__class__ is CLArray]
    shape = arrays[0].shape
    contiguous = arrays[0].contiguous
    for x in arrays[1:]:
        if x.shape != shape:
            shape = broadcast_shapes(shape, x.shape)
            contiguous = False
        elif not x.contiguous:
            contiguous = False
    if contiguous and len(arrays) > 1 and any(x.shape != shape for x in arrays):
        contiguous = False
    in_dts = tuple(x.dtype if x.__class__ is CLArray else None for x in operands)
    rounded = name not in OPMATH_SCALAR
    vals = [x if x.__class__ is CLArray else T.scalar(tg, x, rounded) for x, tg in zip(operands, targets)]
    pw = pointwise(dev, family, name, in_dts, tuple(targets), out_dt)
    out = dev.empty(shape, out_dt)
    return P.run(pw, out, vals, shape, contiguous)


def _dev_of(*xs):
    for x in xs:
        if x.__class__ is CLArray:
            return x.dev


# The hot paths below skip _elementwise for contiguous operands at offset 0 once a call of the
# same dtypes has compiled the kernel: they allocate, set the arguments and enqueue. Each op keeps
# ``fast``: result plugtorch dtype -> its entry (``_entry``). With the C extension
# (fastlaunch.py) the op's kernel is a ``_fastlaunch.Pointwise`` doing all of that in one C call
# and going to ``slow`` for the rest; without it, ``k`` below does it in Python: an entry is
# (input dtype(s) (a scalar's class), device, Pointwise, out dtype, (a scalar's compute dtype,)
# its itemsize, the device's pool and queue), and the Pointwise's ``last`` holds the k0
# arguments set last (n, then each operand's cl_mem, or the Python scalar object): each call
# sets the output buffer and only the arguments that changed, one set_arg each (Kernel.set_args
# packs every argument in generated Python, 0.6 us for four). LOCK is taken with
# acquire/release: a ``with`` statement on an RLock costs twice as much, and these paths run for
# every small op.

def _entry(a_dtype, b_spec, dev, pw, od, ct=None, rounded=True):
    """The fast path's entry for one dtype signature (``b_spec``: the second operand's dtype, a
    scalar's class, or None for unary ops; ``ct``: a scalar's compute dtype)."""
    fl = _fl.ext()
    if fl is None:
        if b_spec is None:
            return (a_dtype, dev, pw, od, od.itemsize, dev.pool, dev.queue)
        return (a_dtype, b_spec, dev, pw, od, ct, od.itemsize, dev.pool, dev.queue)
    convert, code = None, 0
    if ct is not None:
        convert = functools.partial(T.scalar, ct, rounded=rounded)
        code = 1 if ct == _F32 else 2 if ct == _F64 else 0   # Python floats converted in C
    return fl.Entry(a_dtype, b_spec, dev, od, dev.pool, pw, pw.k0, pw.ku0, dev.queue, convert, code)


def _launch_error(name, e):
    return _fl.from_cl_error(name, e)


def _fast_kernel(name, arity, fast, fast_s, slow, k):
    """The op's kernel: the C extension's Pointwise when it loaded, else ``k`` (Python)."""
    fl = _fl.ext()
    k.fast, k.fast_s = fast, fast_s   # (tests reach the entries through these)
    if fl is None:
        return k

    def locked_slow(*args):
        with LOCK:
            return slow(*args)
    locked_slow.fast, locked_slow.fast_s = fast, fast_s
    return fl.Pointwise(name, arity, fast, fast_s, locked_slow)


def make_unary(name):
    fast: dict = {}

    def k(x, dtype):
        _acquire()   # the host side of the backend, one thread at a time (runtime.LOCK)
        try:
            if x.contiguous and not x.offset:
                e = fast.get(dtype)
                if e is not None and e[0] is x.dtype and e[1] is x.dev:
                    dev = x.dev
                    n = x.size
                    out = _new(CLArray)
                    out.dev = dev
                    out.shape = x.shape
                    out.strides = x.strides
                    out.offset = 0
                    out.size = n
                    out.contiguous = True
                    out.dtype = e[3]
                    pool = e[5]
                    try:
                        out.data = data = pool.allocate(n * e[4] or 1)
                    except dev.cl.Error:   # out of memory: alloc() empties the cache and retries
                        out.data = data = dev.alloc(n * e[4])
                    used = pool.active_bytes - _fl.idle_bytes(pool)
                    if used > dev.peak:
                        dev.peak = used
                    if n:
                        pw = e[2]
                        kc = pw.k0
                        kc.set_arg(0, data)
                        last = pw.last
                        if last[0] != n:
                            kc.set_arg(1, _I64(n))
                            last[0] = n
                            last[3] = ((n + 63) & -64,)   # the global size
                        p = x.data.int_ptr
                        if last[1] != p:
                            kc.set_arg(2, x.data)
                            last[1] = p
                        try:
                            if n >= _SPLIT:   # big: the unchecked kernel, then the last block
                                pw.ku0.set_args(data, _I64(n), x.data)
                                _launch_split(dev, e[6], pw.ku0, kc, n)
                            else:
                                _enqueue(e[6], kc, last[3], _L64)
                        except dev.cl.Error as err:
                            raise _launch_error(name, err) from None
                    return out
            return slow(x, dtype)
        finally:
            _release()

    def slow(x, dtype):
        od = dtype.numpy
        target = od if od != BOOL or name in ("bitwise_not", "sign") else x.dtype
        if name in ("logical_not", "isnan", "isinf", "isfinite") or x.dtype.kind == "c":
            target = x.dtype   # (complex abs, angle, real, imag: a real result of complex math)
        dev = x.dev
        out = _elementwise(dev, "unary", name, (x,), (target,), od)
        fast[dtype] = _entry(x.dtype, None, dev, pointwise(dev, "unary", name, (x.dtype,), (target,), od), od)
        _bind_enqueue(dev)
        return out
    k.locks_itself = True
    return _fast_kernel(name, 1, fast, {}, slow, k)


# ops whose float16/bfloat16 kernels take a scalar as a float32, unrounded (cpu's opmath_scalar)
OPMATH_SCALAR = frozenset({"mul", "div"})


def make_binary(name):
    cmp = name in COMPARE
    rounded = name not in OPMATH_SCALAR
    checked = name in _ZERO_CHECK
    fast: dict = {}      # two arrays of one shape
    fast_s: dict = {}    # an array and a Python scalar after it

    def k(a, b, dtype):
        _acquire()   # the host side of the backend, one thread at a time (runtime.LOCK)
        try:
            if a.__class__ is CLArray and a.contiguous and not a.offset:
                bc = b.__class__
                dev = a.dev
                if bc is CLArray:     # two arrays of one shape (a + b in a loop: the hottest path)
                    e = fast.get(dtype) if b.contiguous and not b.offset and a.shape == b.shape else None
                    hit = e is not None and e[0] is a.dtype and e[1] is b.dtype and e[2] is dev
                else:                 # a Python scalar after the array
                    e = fast_s.get(dtype)
                    hit = e is not None and e[0] is a.dtype and e[1] is bc and e[2] is dev
                if hit:   # (the allocation as in make_unary, inlined: a call costs 5% here)
                    n = a.size
                    out = _new(CLArray)
                    out.dev = dev
                    out.shape = a.shape
                    out.strides = a.strides
                    out.offset = 0
                    out.size = n
                    out.contiguous = True
                    out.dtype = e[4]
                    pool = e[7]
                    try:
                        out.data = data = pool.allocate(n * e[6] or 1)
                    except dev.cl.Error:   # out of memory: alloc() empties the cache and retries
                        out.data = data = dev.alloc(n * e[6])
                    used = pool.active_bytes - _fl.idle_bytes(pool)
                    if used > dev.peak:
                        dev.peak = used
                    if n:
                        pw = e[3]
                        kc = pw.k0
                        kc.set_arg(0, data)
                        last = pw.last
                        if last[0] != n:
                            kc.set_arg(1, _I64(n))
                            last[0] = n
                            last[3] = ((n + 63) & -64,)   # the global size
                        p = a.data.int_ptr
                        if last[1] != p:
                            kc.set_arg(2, a.data)
                            last[1] = p
                        if bc is CLArray:
                            p = b.data.int_ptr
                            if last[2] != p:
                                kc.set_arg(3, b.data)
                                last[2] = p
                        elif last[2] is not b:   # (the same Python scalar object: the same value)
                            kc.set_arg(3, T.scalar(e[5], b, rounded))
                            last[2] = b
                        try:
                            if n >= _SPLIT:   # big: the unchecked kernel, then the last block
                                pw.ku0.set_args(data, _I64(n), a.data,
                                                b.data if bc is CLArray else T.scalar(e[5], b, rounded))
                                _launch_split(dev, e[8], pw.ku0, kc, n)
                            else:
                                _enqueue(e[8], kc, last[3], _L64)
                        except dev.cl.Error as err:
                            raise _launch_error(name, err) from None
                    return out
            return slow(a, b, dtype)
        finally:
            _release()

    def slow(a, b, dtype):
        d = dtype.numpy
        dev = _dev_of(a, b)
        if d.kind in "iu" and checked:
            if name in _ZERO_CHECK and _any_cmp(dev, b, "eq", 0, d):
                raise RuntimeError(f"ZeroDivisionError: integer {_ZERO_CHECK[name]} by zero")
        out = _elementwise(dev, "binary", name, (a, b), (d, d), BOOL if cmp else d)
        if a.__class__ is CLArray and not (d.kind in "iu" and checked):
            _bind_enqueue(dev)
            od = out.dtype
            if b.__class__ is CLArray:
                pw = pointwise(dev, "binary", name, (a.dtype, b.dtype), (d, d), od)
                fast[dtype] = _entry(a.dtype, b.dtype, dev, pw, od)
            elif b.__class__ in (int, float, bool, complex):
                pw = pointwise(dev, "binary", name, (a.dtype, None), (d, d), od)
                fast_s[dtype] = _entry(a.dtype, b.__class__, dev, pw, od, d, rounded)
        return out
    k.locks_itself = True
    return _fast_kernel(name, 2, fast, fast_s, slow, k)


def _any_cmp(dev, b, op, value, dtype=None) -> bool:
    """Whether any element of ``b``, converted to ``dtype`` (default its own) as the kernel converts
    it, compares true with ``value`` (reads back one flag): a wider 0-d divisor wraps to a narrower
    result dtype first (uint8 % tensor(256) divides by 0)."""
    if b.__class__ is not CLArray:
        return bool({"eq": b == value}[op])
    from plugtorch.backends.opencl.kernels.reduce import reduce_bool
    d = b.dtype if dtype is None else dtype
    mask = _elementwise(dev, "binary", op, (b, value), (d, d), BOOL)
    return reduce_bool(mask, "any")


def where(c, a, b, dtype):
    d = dtype.numpy
    dev = _dev_of(c, a, b)
    if c.__class__ is not CLArray:
        c = fill_like_scalar(dev, bool(c))
    return _elementwise(dev, "where", "where", (c, a, b), (BOOL, d, d), d)


def fill_like_scalar(dev, value):
    out = dev.empty((), BOOL)
    from plugtorch.backends.opencl.kernels.factory import fill
    fill(out, value)
    return out


def _pow_with_roots(pow_kernel, sqrt, rsqrt):
    """PyTorch's pow(tensor, 0.5) is sqrt and pow(tensor, -0.5) rsqrt: sqrt(-0.0) is -0.0 and
    sqrt(-inf) nan, where C's pow gives +0.0 and inf (as the cpu kernel)."""
    def k(a, b, dtype):
        if b.__class__ is float and (b == 0.5 or b == -0.5) and (dtype.is_floating_point or dtype.is_complex):
            return (sqrt if b > 0 else rsqrt)(a, dtype)
        return pow_kernel(a, b, dtype)
    k.locks_itself = True
    return k


def _conj_physical(conj):
    def k(x, dtype):
        if x.dtype.kind == "c":
            return conj(x, dtype)
        from plugtorch.backends.opencl.kernels.copy import clone
        return clone(x)   # (a real tensor is its own conjugate; PyTorch copies it too)
    return k


KERNELS = {name: make_unary(name) for name in UNARY}
KERNELS["conj_physical"] = _conj_physical(make_unary("conj"))
KERNELS.update({name: make_binary(name) for name in BINARY})
KERNELS["pow"] = _pow_with_roots(KERNELS["pow"], KERNELS["sqrt"], KERNELS["rsqrt"])
KERNELS["where"] = where
