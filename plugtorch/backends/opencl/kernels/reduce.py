"""Reductions over any set of dims; argmax/argmin keep the first extreme.

Each work-item accumulates in V lanes that the compiler vectorizes: k_col owns V neighbouring
outputs (sum(0): each lane walks one column), k_row one output (sum(1): lane j takes elements
j, j + V, ...). Few long reductions are split into chunks over several work-items, whose partial
results a second reduction combines. Every output is summed in an order fixed by the shapes
alone, so results repeat bit for bit.

The input is read in place through two Geo structs, one over the kept dims and one over the
reduced dims, so permuted or broadcast inputs need no copy.
"""
from __future__ import annotations

import numpy as np

from plugtorch.backends.opencl import cltypes as T
from plugtorch.backends.opencl.kernels import complex as C
from plugtorch.backends.opencl.kernels.elementwise import FLOAT_HELPERS
from plugtorch.backends.opencl.kernels.pointwise import MAX_DIMS, make_geo



def _ops(name, acc_dt, x_dt):
    """(identity, combine(a, b) C expression, value-from-load C expression)."""
    f = T.is_float(acc_dt)
    ct = T.compute(acc_dt)
    load = T.load(x_dt, "x[i]")
    conv = load if x_dt == acc_dt else T.convert(x_dt, acc_dt, load)
    if name in ("all", "any"):
        nz = f"(({load}).x != 0 || ({load}).y != 0)" if T.is_complex(x_dt) else f"(({load}) != 0)"
        return "1" if name == "all" else "0", "(a && b)" if name == "all" else "(a || b)", nz
    if T.is_complex(acc_dt):   # (sum and prod: _reduce refuses the others)
        return ("0", "(a + b)", conv) if name == "sum" else ("cx(1, 0)", "cmul(a, b)", conv)
    if name == "sum":
        return "0", "(a + b)", conv
    if name == "prod":
        return "1", "(a * b)", conv
    big = {"float": "INFINITY", "double": "INFINITY"}.get(ct)
    if big is None:
        info = np.iinfo(acc_dt if acc_dt != T.BOOL else np.uint8)
        lo, hi = f"(({ct}){info.min}{'L' if ct == 'long' else ''})", f"(({ct}){info.max}{'L' if ct == 'long' else ''})"
        if ct == "long":
            lo = "LONG_MIN"
            hi = "LONG_MAX"
    else:
        lo, hi = f"-{big}", big
    # max/min: NaN wins (fmaxnan's rule: (a > b | isnan(a)) ? a : b is the same choice in every
    # case), written as one select so the lanes vectorize (fmaxnan's nested isnan()s did not:
    # amax(1) of 4096 x 4096 took 13x as long)
    if name == "amax":
        return lo, "(((a > b) | (a != a)) ? a : b)" if f else "(a > b ? a : b)", conv
    return hi, "(((a < b) | (a != a)) ? a : b)" if f else "(a < b ? a : b)", conv


def _source(name, x_dt, acc_dt, out_dt):
    ident, comb, val = _ops(name, acc_dt, x_dt)
    ct = T.compute(acc_dt)
    st_in, st_out = T.storage(x_dt), T.storage(out_dt)
    helpers = (C.helpers(T.STORAGE[T.real_of(acc_dt)]) if T.is_complex(acc_dt) else
               f"typedef {ct} CT;\n" + (FLOAT_HELPERS if T.is_float(acc_dt) else ""))
    store = T.store(out_dt, "acc")
    return f"""{helpers}
#define V {_lanes(acc_dt)}
#define VC {_lanes(acc_dt, col=True)}
inline CT comb(CT a, CT b) {{ return {comb}; }}
inline CT val(__global const {st_in}* x, long i) {{ return {val}; }}
/* offset of index i over dims 0 .. nd-2 of g (its last dim is walked by the caller's loop) */
inline long outer_off(const Geo* g, long i) {{
    long off = 0;
    for (int d = (int)g->nd - 2; d >= 0; --d) {{ const long s = g->shape[d]; off += (i % s) * g->st[0][d]; i /= s; }}
    return off;
}}
/* V independent accumulators, combined at the end in a fixed tree: the compiler turns the
   unrolled lanes into vector instructions (a loop inside a kernel keeps PoCL from vectorizing
   across work-items, so each work-item must vectorize itself) */
#define COMBINE_LANES(acc) \\
    _Pragma("unroll") for (int s = V / 2; s > 0; s >>= 1) {{ \\
        _Pragma("unroll") for (int j = 0; j < s; j++) acc[j] = comb(acc[j], acc[j + s]); }}

/* work-item (i, i1, c) owns outputs i*VC .. i*VC+VC-1 along the kept dim walked last (launch dim
   0; neighbouring outputs read neighbouring elements for sum(0)), dim 1 the other kept dims,
   dim 2 chunk c: [c * per, (c + 1) * per) of the last reduced dim. out is (chunks, outputs) */
__kernel void k_col(__global {st_out}* out, __global const {st_in}* x, const long xo, const Geo gk,
        const Geo gr, const long n0, const long s0, const long nin, const long sin, const long nro, const long per) {{
    const long i = get_global_id(0) * VC, i1 = get_global_id(1), c = get_global_id(2);
    if (i >= n0) return;
    const long base = xo + i * s0 + outer_off(&gk, i1), lo = c * per, hi = min(nin, lo + per);
    const long ob = (c * get_global_size(1) + i1) * n0 + i;
    if (i + VC <= n0) {{
        CT a[VC];
        _Pragma("unroll") for (int j = 0; j < VC; j++) a[j] = {ident};
        for (long ro = 0; ro < nro; ro++) {{
            const long b = base + outer_off(&gr, ro);
            for (long r = lo; r < hi; r++) {{
                const long p = b + r * sin;
                _Pragma("unroll") for (int j = 0; j < VC; j++) a[j] = comb(a[j], val(x, p + j * s0));
            }}
        }}
        _Pragma("unroll") for (int j = 0; j < VC; j++) {{ const CT acc = a[j]; out[ob + j] = {store}; }}
        return;
    }}
    /* the last n0 % VC outputs: the same order, a loop of n0 - i lanes */
    const int m = (int)(n0 - i);
    CT a[VC];
    for (int j = 0; j < m; j++) a[j] = {ident};
    for (long ro = 0; ro < nro; ro++) {{
        const long b = base + outer_off(&gr, ro);
        for (long r = lo; r < hi; r++) {{
            const long p = b + r * sin;
            for (int j = 0; j < m; j++) a[j] = comb(a[j], val(x, p + j * s0));
        }}
    }}
    for (int j = 0; j < m; j++) {{ const CT acc = a[j]; out[ob + j] = {store}; }}
}}
/* work-item (o, c) reduces chunk c ([c * per, (c + 1) * per) of the last reduced dim) of output
   o in V lanes (lane j takes elements j, j + V, ...). out is (chunks, outputs) */
__kernel void k_row(__global {st_out}* out, __global const {st_in}* x, const long xo, const Geo gk,
        const Geo gr, const long nout, const long nin, const long sin, const long nro, const long per) {{
    const long o = get_global_id(0), c = get_global_id(1);
    if (o >= nout) return;
    const long base = xo + geo_off(&gk, o, 0), lo = c * per, hi = min(nin, lo + per);
    CT a[V];
    _Pragma("unroll") for (int j = 0; j < V; j++) a[j] = {ident};
    for (long ro = 0; ro < nro; ro++) {{
        const long b = base + outer_off(&gr, ro);
        long r = lo;
        for (; r + V <= hi; r += V) {{
            _Pragma("unroll") for (int j = 0; j < V; j++) a[j] = comb(a[j], val(x, b + (r + j) * sin));
        }}
        for (int j = 0; r + j < hi; j++) a[j] = comb(a[j], val(x, b + (r + j) * sin));
    }}
    COMBINE_LANES(a)
    const CT acc = a[0];
    out[c * nout + o] = {store};
}}
"""


def _lanes(acc_dt, col=False):
    """Accumulators per work-item: 32 of 4 bytes or less (four AVX2 registers), else 16, and twice
    as many in k_col (each row it visits is a new page: wider strips halve the visits; sum(0) and
    amax(0) of 4096 x 4096 float32 took 0.8-0.9x the time of 32 lanes, 128 lanes 0.75-0.9x but
    leave up to 127 outputs to the scalar rest); complex ones 1 (cpu's order: once a complex
    product overflows, the order decides between inf and nan)."""
    if T.is_complex(acc_dt):
        return 1
    return (32 if np.dtype(acc_dt).itemsize <= 4 else 16) * (2 if col else 1)


def _geos(x, dims, by_stride=True):
    """Kept dims in order (the output's layout) and reduced dims (``by_stride``: by decreasing
    stride, so the one walked innermost is the one with the smallest stride), each collapsed
    into a Geo."""
    kept = [d for d in range(x.ndim) if d not in dims]
    red = sorted(dims, key=lambda d: (-abs(x.strides[d]), d)) if by_stride else list(dims)
    gk = make_geo([x.shape[d] for d in kept], [[x.strides[d] for d in kept]])
    gr = make_geo([x.shape[d] for d in red], [[x.strides[d] for d in red]])
    return kept, gk, gr


def _last(g):
    """(size, stride) of a Geo's last dim, and how many times its outer dims repeat it."""
    nd, n = int(g[0]), int(g[1])
    if nd == 0:
        return 1, 0, n
    m = int(g[2 + nd - 1])
    return m, int(g[2 + MAX_DIMS + nd - 1]), (n // m if m else 0)


G = 8   # work-group size (PoCL compiles a kernel once per size; one size keeps it to one build)


def _reduce(name, x, dims, keepdim, out_dt, acc_dt):
    dev = x.dev
    if T.is_complex(acc_dt) and name not in ("sum", "prod"):
        from plugtorch import _dtypes
        raise C.unsupported(name, _dtypes.from_numpy_dtype(acc_dt), dev)
    kept, gk, gr = _geos(x, dims)
    shape = tuple(1 if d in dims else x.shape[d] for d in range(x.ndim)) if keepdim else \
        tuple(x.shape[d] for d in kept)
    out = dev.empty(shape, out_dt)
    nout = int(gk[1])
    if nout == 0:
        return out
    n0, s0, n1 = _last(gk)
    nin, sin, nro = _last(gr)
    nred = nin * nro
    v = _lanes(acc_dt)
    # k_col when neighbouring outputs are nearer each other than the reduced elements (sum(0)
    # of a contiguous matrix) or there are enough outputs to fill V lanes; else k_row (sum(1), sum())
    col = nout > 1 and (abs(s0) < abs(sin) or (nred < v and n0 >= v))
    vc = _lanes(acc_dt, col=True)
    items = (-(-n0 // vc) * n1) if col else nout
    # few outputs: split each reduction over several work-items (every core gets work), then
    # reduce the partial results
    chunks = max(1, min(64 // items, nin // 2048)) if items < 32 else 1
    per = -(-nin // chunks)
    stage_dt = acc_dt if chunks > 1 else out_dt
    part = out if chunks == 1 else dev.empty((chunks, nout), acc_dt)
    key = ("reduce", name, x.dtype, acc_dt, stage_dt)
    src = lambda: _source(name, x.dtype, acc_dt, stage_dt)  # noqa: E731  (built only once)
    if col:
        k = dev.kernel(key, src, "k_col", _COL_ARGS)
        k.set_args(part.data, x.data, x.offset, gk, gr, n0, s0, nin, sin, nro, per)
        glob = (-(-n0 // (vc * G)) * G, n1, chunks)
        dev.cl.enqueue_nd_range_kernel(dev.queue, k, glob, (G, 1, 1))
    else:
        k = dev.kernel(key, src, "k_row", _ROW_ARGS)
        k.set_args(part.data, x.data, x.offset, gk, gr, nout, nin, sin, nro, per)
        dev.cl.enqueue_nd_range_kernel(dev.queue, k, (-(-nout // G) * G, chunks), (G, 1))
    if chunks == 1:
        return out
    r = _reduce(name, part, (0,), False, out_dt, acc_dt)
    return r.view_as(shape, out.strides, r.offset)


_COL_ARGS = [None, None, np.int64, T.GEO, T.GEO] + [np.int64] * 6
_ROW_ARGS = [None, None, np.int64, T.GEO, T.GEO] + [np.int64] * 5


def _acc(name, x_dt, out_dt):
    if name in ("all", "any"):
        return T.BOOL
    if name in ("amax", "amin"):
        return x_dt
    if out_dt in T.HALVES:   # sum/prod of float16/bfloat16 accumulate in float32, as on cpu:
        return np.dtype(np.float32)   # partial results of a split reduction are not rounded
    return out_dt


def make_reduction(name):
    def k(x, dims, keepdim, dtype):
        d = dtype.numpy
        return _reduce(name, x, tuple(dims), keepdim, d, _acc(name, x.dtype, d))
    return k


def reduce_bool(mask, name) -> bool:
    """all/any of a CLArray as a Python bool (reads back one byte)."""
    r = _reduce(name, mask, tuple(range(mask.ndim)), False, T.BOOL, T.BOOL)
    from plugtorch.backends.opencl.runtime import to_host
    return bool(to_host(r))


def _arg_source(name, x_dt, it):
    ct = T.compute(x_dt)
    f = T.is_float(x_dt)
    cmp = ">" if name == "argmax" else "<"
    # NaN is the extreme (the first NaN wins); one select so the lanes vectorize
    better = f"((v {cmp} b) | ((v != v) & (b == b)))" if f else f"(v {cmp} b)"
    v = _lanes(x_dt)
    ld = lambda at: T.load(x_dt, f"x[{at}]")  # noqa: E731
    return f"""#define V {v}
typedef {ct} CT;
typedef {it} IT;   /* indices: int when they fit (the lanes' selects vectorize with the values) */
inline int better(CT v, CT b) {{ return {better}; }}
inline long outer_off(const Geo* g, long i) {{
    long off = 0;
    for (int d = (int)g->nd - 2; d >= 0; --d) {{ const long s = g->shape[d]; off += (i % s) * g->st[0][d]; i /= s; }}
    return off;
}}
/* as k_col of the reductions: V neighbouring outputs per work-item, each keeping its first extreme */
__kernel void k_col(__global long* out, __global const {T.storage(x_dt)}* x, const long xo, const Geo gk,
        const Geo gr, const long n0, const long s0, const long nin, const long sin, const long nro) {{
    const long i = get_global_id(0) * V, i1 = get_global_id(1);
    if (i >= n0) return;
    const long base = xo + i * s0 + outer_off(&gk, i1), ob = i1 * n0 + i;
    if (i + V <= n0) {{
        CT b[V]; IT bi[V];
        _Pragma("unroll") for (int j = 0; j < V; j++) {{ b[j] = {ld("base + j * s0")}; bi[j] = 0; }}
        for (long ro = 0; ro < nro; ro++) {{
            const long p = base + outer_off(&gr, ro);
            for (long r = 0; r < nin; r++) {{
                _Pragma("unroll") for (int j = 0; j < V; j++) {{
                    const CT v = {ld("p + r * sin + j * s0")};
                    const int w = better(v, b[j]);
                    b[j] = w ? v : b[j]; bi[j] = w ? (IT)(ro * nin + r) : bi[j];
                }}
            }}
        }}
        _Pragma("unroll") for (int j = 0; j < V; j++) out[ob + j] = bi[j];
        return;
    }}
    for (int j = 0; i + j < n0; j++) {{
        CT b = {ld("base + j * s0")}; IT bi = 0;
        for (long ro = 0; ro < nro; ro++) {{
            const long p = base + outer_off(&gr, ro) + j * s0;
            for (long r = 0; r < nin; r++) {{
                const CT v = {ld("p + r * sin")};
                if (better(v, b)) {{ b = v; bi = (IT)(ro * nin + r); }}
            }}
        }}
        out[ob + j] = bi;
    }}
}}
/* as k_row: first the extreme itself in V lanes (lane j takes elements j, j + V, ...: the
   extreme of a set does not depend on the order, and values alone vectorize as amax does), then
   the first element equal to it (the first NaN when it is NaN); tracking indices in the lanes
   took 3-4x as long */
__kernel void k_row(__global long* out, __global const {T.storage(x_dt)}* x, const long xo, const Geo gk,
        const Geo gr, const long nout, const long nin, const long sin, const long nro) {{
    const long o = get_global_id(0);
    if (o >= nout) return;
    const long base = xo + geo_off(&gk, o, 0);
    CT b[V];
    const CT first = {ld("base")};
    _Pragma("unroll") for (int j = 0; j < V; j++) b[j] = first;
    for (long ro = 0; ro < nro; ro++) {{
        const long p = base + outer_off(&gr, ro);
        long r = 0;
        for (; r + V <= nin; r += V) {{
            _Pragma("unroll") for (int j = 0; j < V; j++) {{
                const CT v = {ld("p + (r + j) * sin")};
                b[j] = better(v, b[j]) ? v : b[j];
            }}
        }}
        for (int j = 0; r + j < nin; j++) {{
            const CT v = {ld("p + (r + j) * sin")};
            b[j] = better(v, b[j]) ? v : b[j];
        }}
    }}
    _Pragma("unroll") for (int s = V / 2; s > 0; s >>= 1) {{
        _Pragma("unroll") for (int j = 0; j < s; j++) b[j] = better(b[j + s], b[j]) ? b[j + s] : b[j];
    }}
    const CT m = b[0];
    {"const int mnan = m != m;" if f else ""}
    for (long ro = 0; ro < nro; ro++) {{
        const long p = base + outer_off(&gr, ro);
        for (long r = 0; r < nin; r++) {{
            const CT v = {ld("p + r * sin")};
            if ({"(mnan ? v != v : v == m)" if f else "v == m"}) {{ out[o] = ro * nin + r; return; }}
        }}
    }}
    out[o] = 0;
}}
"""


def make_arg(name):
    def k(x, dim, keepdim):
        dev = x.dev
        dims = tuple(range(x.ndim)) if dim is None else tuple(dim)
        kept, gk, gr = _geos(x, dims, by_stride=False)   # (indices count in the dims' order)
        shape = tuple(1 if d in dims else x.shape[d] for d in range(x.ndim)) if keepdim else \
            tuple(x.shape[d] for d in kept)
        out = dev.empty(shape, np.dtype(np.int64))
        if out.size == 0:
            return out
        nout = int(gk[1])
        n0, s0, n1 = _last(gk)
        nin, sin, nro = _last(gr)
        v = _lanes(x.dtype)
        it = "int" if nin * nro < 2 ** 31 else "long"
        src = lambda: _arg_source(name, x.dtype, it)  # noqa: E731
        if nout > 1 and (abs(s0) < abs(sin) or (nin * nro < v and n0 >= v)):
            kern = dev.kernel(("arg", name, x.dtype, it), src, "k_col", _COL_ARGS[:-1])
            kern.set_args(out.data, x.data, x.offset, gk, gr, n0, s0, nin, sin, nro)
            dev.cl.enqueue_nd_range_kernel(dev.queue, kern, (-(-n0 // (v * G)) * G, n1), (G, 1))
        else:
            kern = dev.kernel(("arg", name, x.dtype, it), src, "k_row", _ROW_ARGS[:-1])
            kern.set_args(out.data, x.data, x.offset, gk, gr, nout, nin, sin, nro)
            dev.cl.enqueue_nd_range_kernel(dev.queue, kern, (-(-nout // G) * G,), (G,))
        return out
    return k


KERNELS = {n: make_reduction(n) for n in ("sum", "prod", "amax", "amin", "all", "any")}
KERNELS.update({n: make_arg(n) for n in ("argmax", "argmin")})
