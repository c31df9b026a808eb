"""The pointwise kernel template: out[i] = f(x0[i], x1[i], ...) over any strides and broadcasting.

Each operand is an array (with its own strides and offset) or a scalar passed by value. One
program per (op family, operand dtypes) holds, for each op, ``<op>_c`` for operands that are all
contiguous with the output's shape (no index arithmetic), ``<op>_c0`` for the same at offset 0
(fewer arguments to set on the hot path), and ``<op>_s`` for the general case (dims collapsed,
then a ``Geo`` struct of shape and strides passed by value).
"""
from __future__ import annotations

import numpy as np

from plugtorch._caches import Memo
from plugtorch.backends.opencl import cltypes as T
from plugtorch.backends.opencl.buffer import CLArray

MAX_DIMS = 8
_ZEROS = [0] * 64
LOCAL = 64
_L3 = (LOCAL, 1, 1)


def _operand_expr(i, dt, target, ptr):
    v = T.load(dt, ptr)
    if dt != target:
        v = T.convert(dt, target, v)
    return v


def source(in_dts, targets, out_dt, exprs, helpers=""):
    """OpenCL source for pointwise ops ``exprs`` (name -> C in x0, x1, ...) on these operands.

    One program holds every op of a family for one dtype signature; ``in_dts`` entries that
    are None are scalars passed by value.
    """
    params_c, params_s, params_0, arrays = [], [], [], []
    for i, (dt, tg) in enumerate(zip(in_dts, targets)):
        ct = T.compute(tg)
        if dt is None:
            for p in (params_c, params_s, params_0):
                p.append(f"const {ct} x{i}")
            continue
        st = T.storage(dt)
        params_c.append(f"__global const {st}* p{i}, const long o{i}")
        params_s.append(f"__global const {st}* p{i}, const long o{i}")
        params_0.append(f"__global const {st}* p{i}")
        arrays.append((i, dt, tg, ct))

    def loads(at):   # the operands' declarations, element ``at(i)`` of each array
        return " ".join(f"const {ct} x{i} = {_operand_expr(i, dt, tg, f'p{i}[{at(i)}]')};"
                        for i, dt, tg, ct in arrays)
    so = T.storage(out_dt)
    pc, ps, p0 = ("".join(", " + p for p in ps_) for ps_ in (params_c, params_s, params_0))
    ls = loads(lambda i: f"o{i} + q{i + 1}")
    nq = len(in_dts) + 1
    # the strided kernels' element offsets: launch dims 0, 1, 2 (see make_launch); _sx unravels
    # launch dim 2 over the outer dims 2 .. nd-1
    q3 = " ".join(f"const long q{k} = i0 * g.st[{k}][0] + i1 * g.st[{k}][1] + i2 * g.st[{k}][2];"
                  for k in range(nq))
    qx = (" ".join(f"long q{k} = i0 * g.st[{k}][0] + i1 * g.st[{k}][1];" for k in range(nq))
          + " { ulong r = (ulong)i2; for (int d = 2; d < (int)g.nd; ++d) {"
            " const ulong s = (ulong)g.shape[d], c = r % s; r /= s; "
          + " ".join(f"q{k} += (long)c * g.st[{k}][d];" for k in range(nq)) + " } }")
    ids = "const long i0 = get_global_id(0), i1 = get_global_id(1), i2 = get_global_id(2);"
    vec = out_dt == T.F16 and all(tg == T.F16 for tg in targets) and all(
        dt is None or dt == T.F16 for dt in in_dts)   # (not `dt in (None, F16)`: np.dtype(None) is float64)
    out = [helpers]
    for name, expr in exprs.items():
        res = T.store(out_dt, expr)
        body = _f16_vec_body if vec else _body
        bc = body(arrays, expr, res, loads, lambda i, j="i": f"o{i} + {j}", "oo + ")
        b0 = body(arrays, expr, res, loads, lambda i, j="i": j, "")
        # the unchecked forms (the launch covers only elements below n): see launch_split
        bu = bc if vec else _body(arrays, expr, res, loads, lambda i, j="i": f"o{i} + {j}", "oo + ", False)
        bu0 = b0 if vec else _body(arrays, expr, res, loads, lambda i, j="i": j, "", False)
        if _vec_f32(name, expr, in_dts, targets, out_dt):
            bu = _f32_vec_body(name, "o0 + i", "oo + ")
            bu0 = _f32_vec_body(name, "i", "")
        contiguous = (("_c", f"const long oo, const long n{pc}", bc), ("_c0", f"const long n{p0}", b0),
                      ("_u", f"const long oo, const long n{pc}", bu), ("_u0", f"const long n{p0}", bu0))
        for suffix, params, b in contiguous:
            out.append(f"__kernel void {name}{suffix}(__global {so}* out, {params}) {{\n"
                       f"    const long i = get_global_id(0);\n{b}\n}}")
        check = "if (i0 >= g.shape[0]) return;"
        for suffix, pre, offsets in (("_s", "", q3), ("_sc", check, q3), ("_sx", check, qx)):
            out.append(f"__kernel void {name}{suffix}(__global {so}* out, const long oo{ps}, const Geo g) {{\n"
                       f"    {ids} {pre}\n    {offsets}\n    {ls}\n    out[oo + q0] = {res};\n}}")
    return "\n".join(out)


def _body(arrays, expr, res, loads, at, oo, checked=True):
    """A contiguous kernel's body: element i (``checked``: nothing past n)."""
    check = "if (i >= n) return;" if checked else ""
    return f"""    {check}
    {loads(at)}
    out[{oo}i] = {res};"""


# float32 math functions PoCL computes 4-15x faster on float8 than one float per work-item (its
# work-group loop does not vectorize builtin calls): 16M elements, ms one-per-item -> float8:
# exp 107 -> 25, exp2 198 -> 27, expm1 543 -> 57, log 322 -> 32, log1p 370 -> 26, sin 441 -> 46,
# cos 448 -> 70, tanh 292 -> 24. The vector forms round differently in at most 1 ulp (exp: 1.1%
# of elements, the others < 0.02%; sin/cos none); each launch size still gives the same bits
# every call.
VEC_F32 = frozenset({"exp", "exp2", "expm1", "log", "log1p", "sin", "cos", "tanh"})
_F32 = np.dtype(np.float32)


def _vec_f32(name, expr, in_dts, targets, out_dt):
    return (name in VEC_F32 and expr in (f"{name}(x0)", TANH_F32) and out_dt == _F32 and len(in_dts) == 1
            and in_dts[0] is not None and in_dts[0] == _F32 and targets[0] == _F32)


# PoCL's float tanh never reaches +-1: 0.99999994 for every |x| beyond 9, where the correctly
# rounded value is 1 from |x| >= 9.010913 (1 - tanh x < 2^-25 there); 1 + tanh(x) was 6e-8, not 0,
# and gelu(-1e30, approximate='tanh') -1e22. TANH_F32 is float tanh's expression, _TANH_F8 its float8 form.
TANH_F32 = "(fabs(x0) >= 9.010913f ? copysign(1.0f, x0) : tanh(x0))"
_TANH_F8 = "select(tanh(v), copysign((float8)1.0f, v), isgreaterequal(fabs(v), (float8)9.010913f))"


def _f32_vec_body(name, at, oo):
    """An unchecked contiguous kernel's body for a VEC_F32 op: work-item 8k computes elements
    8k .. 8k+7 as one float8 (the others return at once). Only the ``_u`` kernels take it: their
    launch covers a multiple of LOCAL elements from 0 (launch_split), so no tail."""
    f8 = _TANH_F8 if name == "tanh" else f"{name}(v)"
    return f"""    if (i & 7) return;
    {{ const float8 v = vload8(0, p0 + {at}); vstore8({f8}, 0, out + {oo}i); }}"""


def _f16_vec_body(arrays, expr, res, loads, at, oo):
    """A contiguous all-float16 kernel's body: with F16C (PoCL on x86), work-item 8k converts
    elements 8k .. 8k+7 with one instruction per operand (the other seven return at once), so
    the launch is the same; the lanes' float arithmetic is what element i computes. PoCL does not
    vectorize the one-element form: its SLP pass pairs the operands' conversions first."""
    vecs = "".join(f"const float8 v{i} = f16_load8(p{i} + {at(i)}); " for i, *_ in arrays)
    lanes = "\n".join(f"        {{ {' '.join(f'const float x{i} = v{i}.s{k};' for i, *_ in arrays)} "
                      f"r.s{k} = (float)({expr}); }}" for k in range(8))
    tail = loads(lambda i: at(i, "j"))
    return f"""#ifdef F16_VEC
    if (i & 7) return;
    if (i + 8 <= n) {{
        {vecs}float8 r;
{lanes}
        f16_store8(r, out + {oo}i);
        return;
    }}
    for (long j = i; j < n; j++) {{ {tail} out[{oo}j] = {res}; }}
#else
{_body(arrays, expr, res, loads, at, oo)}
#endif"""


class Pointwise:
    """The compiled kernels of one op on one dtype signature, ready to launch: ``kc`` for
    contiguous operands, ``k0`` for contiguous ones at offset 0, ``ks`` for any strides."""

    __slots__ = ("kc", "ks", "ksc", "ksx", "k0", "ku", "ku0", "dev", "last")

    def __init__(self, dev, key, src, in_dts, targets, name):
        scal, scal0 = [], []     # argument dtypes after the output's (None: a buffer)
        for dt, tg in zip(in_dts, targets):
            if dt is None:
                scal.append(T.scalar_numpy(tg))
                scal0.append(T.scalar_numpy(tg))
            else:
                scal += [None, np.int64]
                scal0.append(None)
        self.dev = dev
        self.last = [-1, None, None, None]   # k0's current (n, x0's cl_mem, x1's cl_mem or scalar, global size)
        self.kc = dev.kernel(key, src, name + "_c", [None, np.int64, np.int64] + scal)
        self.ks = dev.kernel(key, src, name + "_s", [None, np.int64] + scal + [T.GEO])
        self.ksc = dev.kernel(key, src, name + "_sc", [None, np.int64] + scal + [T.GEO])
        self.ksx = dev.kernel(key, src, name + "_sx", [None, np.int64] + scal + [T.GEO])
        self.k0 = dev.kernel(key, src, name + "_c0", [None, np.int64] + scal0)
        self.ku = dev.kernel(key, src, name + "_u", [None, np.int64, np.int64] + scal)
        self.ku0 = dev.kernel(key, src, name + "_u0", [None, np.int64] + scal0)


# From this many elements on, a contiguous launch is split: the ``_u`` kernel (no index check)
# over the multiple of LOCAL below n, then the checked kernel over the last partial block, at a
# global offset. On PoCL the check ``if (i >= n) return;`` keeps the work-group loop from being
# vectorized: a + b on 2^24 float32 took 2.4x as long with it (29.3 ms against 12.1 ms). Below
# this size the second launch (a few microseconds) would cost more than the check.
SPLIT = 1 << 16


def launch_split(pw_dev, queue, ku, kc, n):
    """Enqueue ``ku`` over elements [0, n - n % LOCAL) and ``kc`` (same arguments set, index
    checked) over the rest, both with work-groups of LOCAL."""
    enqueue = pw_dev.cl.enqueue_nd_range_kernel
    m = n & -LOCAL
    enqueue(queue, ku, (m,), (LOCAL,))
    if m != n:
        enqueue(queue, kc, (LOCAL,), (LOCAL,), (m,))


def broadcast_strides(a: CLArray, shape):
    """Strides of ``a`` viewed at ``shape`` (0 along broadcast dims)."""
    off = len(shape) - len(a.shape)
    st = [0] * off
    for n, s, out_n in zip(a.shape, a.strides, shape[off:]):
        st.append(s if n == out_n else 0)
    return st


_GEOS = Memo(4096, invalidate=False)   # (shape, strides...) -> packed Geo; loops repeat a few


def make_geo(shape, stride_lists):
    """Pack ``shape`` and the operands' strides, dims collapsed, into a Geo struct (int64 array).

    The result is cached and shared: callers must copy it before changing it.
    """
    return _cached(_GEOS, _pack_geo, shape, stride_lists)


def _cached(memo, pack, shape, stride_lists):
    key = (tuple(shape), *map(tuple, stride_lists))
    r = memo.get(key)
    if r is None:
        r = memo[key] = pack(shape, stride_lists)
    return r


def _collapsed(shape, stride_lists):
    """collapse(), refusing more dims than the kernels' structs hold."""
    cs, cst = collapse(shape, stride_lists)
    if len(cs) > MAX_DIMS:
        raise RuntimeError(f"opencl: tensors with more than {MAX_DIMS} non-mergeable dims are not "
                           f"supported (shape {tuple(shape)}); make the input contiguous first")
    return cs, cst, len(cs)


def collapse(shape, stride_lists):
    """Drop size-1 dims and merge neighbours that every stride list walks as one dim.

    >>> collapse((2, 1, 3), [[3, 3, 1], [0, 0, 1]])
    ([2, 3], [[3, 1], [0, 1]])
    """
    cs = []        # collapsed shape
    cst = [[] for _ in stride_lists]
    for d, n in enumerate(shape):
        if n == 1:
            continue
        if cs and all(st[d] * n == cst[k][-1] for k, st in enumerate(stride_lists)):
            cs[-1] *= n
            for k, st in enumerate(stride_lists):
                cst[k][-1] = st[d]
        else:
            cs.append(n)
            for k, st in enumerate(stride_lists):
                cst[k].append(st[d])
    return cs, cst


def _pack_geo(shape, stride_lists):
    cs, cst, nd = _collapsed(shape, stride_lists)
    g = np.zeros(2 + MAX_DIMS * 5, np.int64)
    g[0] = nd
    n = 1
    for s in shape:
        n *= s
    g[1] = n
    g[2:2 + nd] = cs
    for k, st in enumerate(cst):
        base = 2 + MAX_DIMS * (k + 1)
        g[base:base + nd] = st
    return g


_LAUNCHES = Memo(4096, invalidate=False)   # (shape, strides...) -> (Geo, global size, extended)


def make_launch(shape, stride_lists):
    """The strided kernels' Geo and NDRange for ``shape`` and the operands' strides.

    Dims are collapsed, then ordered as launch dims: dim 0 (the work-groups' dim, split as in
    launch_split) is the innermost collapsed dim, or the largest when the innermost has fewer
    than LOCAL elements (x of (n, 3) + b of (3,) would leave most work-items idle); dim 1 the
    next; dim 2 the rest. With at most three dims, no work-item divides: on PoCL an integer
    division per element (the old unravel of a linear index, per operand) made a broadcast
    x + b of 4096 x 4096 40 times slower than the contiguous x + y, and vectorizes nothing.
    More dims (``extended``) unravel launch dim 2 over the outer dims. The result is cached
    and shared: callers must not change it.
    """
    return _cached(_LAUNCHES, _pack_launch, shape, stride_lists)


def _pack_launch(shape, stride_lists):
    cs, cst, nd = _collapsed(shape, stride_lists)
    order = list(range(nd - 1, -1, -1))   # innermost first
    if nd > 1 and cs[order[0]] < LOCAL:
        big = max(order, key=lambda d: cs[d])
        if cs[big] > cs[order[0]]:
            order.remove(big)
            order.insert(0, big)
    g = np.zeros(2 + MAX_DIMS * 5, np.int64)
    g[0] = max(nd, 1)
    n = 1
    for x in shape:
        n *= x
    g[1] = n
    sizes = [1, 1, 1]
    for slot, d in enumerate(order):
        g[2 + slot] = cs[d]
        for k, st in enumerate(cst):
            g[2 + MAX_DIMS * (k + 1) + slot] = st[d]
        sizes[min(slot, 2)] *= cs[d]
    if nd == 0:
        g[2] = 1
    return g, tuple(sizes), nd > 3


def run(pw: Pointwise, out: CLArray, operands, shape, contiguous: bool):
    """Launch ``pw`` writing ``out`` (of ``shape``) from ``operands`` (CLArrays or scalars)."""
    n = out.size
    if n == 0:
        return out
    if contiguous:
        args = [out.data, out.offset, n]
        for x in operands:
            if x.__class__ is CLArray:
                args.append(x.data)
                args.append(x.offset)
            else:
                args.append(x)
        k = pw.kc
        if n >= SPLIT:
            pw.ku.set_args(*args)
            k.set_args(*args)
            launch_split(pw.dev, pw.dev.queue, pw.ku, k, n)
            return out
    else:
        args = [out.data, out.offset]
        strides = [out.strides if len(out.shape) == len(shape) else broadcast_strides(out, shape)]
        for x in operands:
            if x.__class__ is CLArray:
                args.append(x.data)
                args.append(x.offset)
                strides.append(broadcast_strides(x, shape))
            else:
                args.append(x)
                strides.append(_ZEROS[:len(shape)])   # keeps operand k at st[k + 1]
        geo, (n0, n1, n2), extended = make_launch(shape, strides)
        args.append(geo)
        enqueue, q = pw.dev.cl.enqueue_nd_range_kernel, pw.dev.queue
        if extended:
            pw.ksx.set_args(*args)
            enqueue(q, pw.ksx, ((n0 + LOCAL - 1) // LOCAL * LOCAL, n1, n2), _L3)
            return out
        m = n0 & -LOCAL    # whole work-groups unchecked, then the last partial one checked
        if m:
            pw.ks.set_args(*args)
            enqueue(q, pw.ks, (m, n1, n2), _L3)
        if m != n0:
            pw.ksc.set_args(*args)
            enqueue(q, pw.ksc, (LOCAL, n1, n2), _L3, (m, 0, 0))
        return out
    k.set_args(*args)
    pw.dev.cl.enqueue_nd_range_kernel(pw.dev.queue, k, ((n + LOCAL - 1) // LOCAL * LOCAL,), (LOCAL,))
    return out
