"""Reductions over any set of dims: a work-group per output element reduces in a local-memory
tree (small reductions use one work-item per output); argmax/argmin keep the first extreme.

The input is read in place through two Geo structs, one over the kept dims and one over the
reduced dims, so permuted or broadcast inputs need no copy.
"""
from __future__ import annotations

import numpy as np

from plugtorch.backends.opencl import cltypes as T
from plugtorch.backends.opencl.kernels import complex as C
from plugtorch.backends.opencl.kernels.elementwise import FLOAT_HELPERS
from plugtorch.backends.opencl.kernels.pointwise import make_geo

L = 64
TREE_MIN = 256   # reductions at least this long use the work-group tree


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
    if name == "amax":
        return lo, "fmaxnan(a, b)" if f else "(a > b ? a : b)", conv
    return hi, "fminnan(a, b)" if f else "(a < b ? a : b)", conv


def _source(name, x_dt, acc_dt, out_dt):
    ident, comb, val = _ops(name, acc_dt, x_dt)
    ct = T.compute(acc_dt)
    st_in, st_out = T.storage(x_dt), T.storage(out_dt)
    helpers = (C.helpers(T.STORAGE[T.real_of(acc_dt)]) if T.is_complex(acc_dt) else
               f"typedef {ct} CT;\n" + (FLOAT_HELPERS if T.is_float(acc_dt) else ""))
    store = T.store(out_dt, "acc")
    return f"""{helpers}
inline CT comb(CT a, CT b) {{ return {comb}; }}
inline CT val(__global const {st_in}* x, long i) {{ return {val}; }}
__kernel void k_serial(__global {st_out}* out, __global const {st_in}* x, const long xo, const Geo gk, const Geo gr) {{
    const long o = get_global_id(0);
    if (o >= gk.n) return;
    const long base = xo + geo_off(&gk, o, 0);
    CT acc = {ident};
    for (long r = 0; r < gr.n; r++) acc = comb(acc, val(x, base + geo_off(&gr, r, 0)));
    out[o] = {store};
}}
/* work-group g reduces chunk g % chunks of output g / chunks and writes out[g] */
__kernel void k_tree(__global {st_out}* out, __global const {st_in}* x, const long xo, const Geo gk,
                     const Geo gr, const long chunks, const int blocked) {{
    const long grp = get_group_id(0), o = grp / chunks;
    const int lid = get_local_id(0);
    __local CT sh[{L}];
    const long base = xo + geo_off(&gk, o, 0), nseg = chunks * {L}, seg = (grp % chunks) * {L} + lid;
    CT acc = {ident};
    if (blocked) {{   /* CPUs: each work-item reads one contiguous run (cache friendly) */
        const long per = (gr.n + nseg - 1) / nseg, hi = min(gr.n, (seg + 1) * per);
        if (gr.nd == 1) {{
            const long s = gr.st[0][0];
            for (long r = seg * per; r < hi; r++) acc = comb(acc, val(x, base + r * s));
        }} else {{
            for (long r = seg * per; r < hi; r++) acc = comb(acc, val(x, base + geo_off(&gr, r, 0)));
        }}
    }} else {{        /* GPUs: neighbouring work-items read neighbouring elements */
        for (long r = seg; r < gr.n; r += nseg) acc = comb(acc, val(x, base + geo_off(&gr, r, 0)));
    }}
    sh[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = {L // 2}; s > 0; s >>= 1) {{
        if (lid < s) sh[lid] = comb(sh[lid], sh[lid + s]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }}
    if (lid == 0) {{ acc = sh[0]; out[grp] = {store}; }}
}}
"""


def _geos(x, dims):
    kept = [d for d in range(x.ndim) if d not in dims]
    gk = make_geo([x.shape[d] for d in kept], [[x.strides[d] for d in kept]])
    gr = make_geo([x.shape[d] for d in dims], [[x.strides[d] for d in dims]])
    return kept, gk, gr


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
    tree = gr[1] >= TREE_MIN
    # few long reductions: split each over several work-groups (every core gets work), then
    # reduce the partial results
    chunks = max(1, min(64, int(gr[1]) // 8192)) if tree and nout < 16 else 1
    stage_dt = acc_dt if chunks > 1 else out_dt
    src = lambda: _source(name, x.dtype, acc_dt, stage_dt)  # noqa: E731  (built only once)
    if not tree:
        k = dev.kernel(("reduce", name, x.dtype, acc_dt, stage_dt), src, "k_serial",
                       [None, None, np.int64, T.GEO, T.GEO])
        k.set_args(out.data, x.data, x.offset, gk, gr)
        dev.launch(k, nout)
        return out
    k = dev.kernel(("reduce", name, x.dtype, acc_dt, stage_dt), src, "k_tree",
                   [None, None, np.int64, T.GEO, T.GEO, np.int64, np.int32])
    part = out if chunks == 1 else dev.empty((nout, chunks), acc_dt)
    k.set_args(part.data, x.data, x.offset, gk, gr, chunks, dev.is_cpu)
    dev.cl.enqueue_nd_range_kernel(dev.queue, k, (nout * chunks * L,), (L,))
    if chunks == 1:
        return out
    r = _reduce(name, part, (1,), False, out_dt, acc_dt)
    return r.view_as(shape, out.strides, r.offset)


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


def _arg_source(name, x_dt):
    ct = T.compute(x_dt)
    f = T.is_float(x_dt)
    cmp = ">" if name == "argmax" else "<"
    better = f"((isnan(v) && !isnan(best)) || v {cmp} best)" if f else f"(v {cmp} best)"
    return f"""
__kernel void k(__global long* out, __global const {T.storage(x_dt)}* x, const long xo, const Geo gk, const Geo gr) {{
    const long o = get_global_id(0);
    if (o >= gk.n) return;
    const long base = xo + geo_off(&gk, o, 0);
    {ct} best = {T.load(x_dt, 'x[base + geo_off(&gr, 0, 0)]')};
    long bi = 0;
    for (long r = 1; r < gr.n; r++) {{
        const {ct} v = {T.load(x_dt, 'x[base + geo_off(&gr, r, 0)]')};
        if ({better}) {{ best = v; bi = r; }}
    }}
    out[o] = bi;
}}
"""


def make_arg(name):
    def k(x, dim, keepdim):
        dev = x.dev
        dims = tuple(range(x.ndim)) if dim is None else tuple(dim)
        kept, gk, gr = _geos(x, dims)
        shape = tuple(1 if d in dims else x.shape[d] for d in range(x.ndim)) if keepdim else \
            tuple(x.shape[d] for d in kept)
        out = dev.empty(shape, np.dtype(np.int64))
        if out.size == 0:
            return out
        kern = dev.kernel(("arg", name, x.dtype), lambda: _arg_source(name, x.dtype), "k", [None, None, np.int64, T.GEO, T.GEO])
        kern.set_args(out.data, x.data, x.offset, gk, gr)
        dev.launch(kern, int(gk[1]))
        return out
    return k


KERNELS = {n: make_reduction(n) for n in ("sum", "prod", "amax", "amin", "all", "any")}
KERNELS.update({n: make_arg(n) for n in ("argmax", "argmin")})
