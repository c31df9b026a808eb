"""Indexing on the device: gather, scatter(_add), index, index_put and nonzero.

Writes that may hit one element twice (scatter along a dim, index_put with accumulate) run
serially where they could collide, so results are deterministic and match cpu exactly.
"""
from __future__ import annotations

import numpy as np

from plugtorch.backends.opencl import cltypes as T
from plugtorch.backends.opencl.buffer import CLArray
from plugtorch.backends.opencl.kernels.copy import cast, clone, copy_into
from plugtorch.backends.opencl.kernels.pointwise import MAX_DIMS, broadcast_strides, make_geo
from plugtorch.backends.opencl.kernels.views import expand
from plugtorch.dispatch.meta import broadcast_shapes

I64 = np.dtype(np.int64)


def raw_geo(shape, stride_lists):
    """A Geo struct without collapsing dims (when kernels need every coordinate)."""
    g = np.zeros(2 + MAX_DIMS * 5, np.int64)
    g[0] = len(shape)
    g[1] = int(np.prod(shape, dtype=np.int64)) if shape else 1
    g[2:2 + len(shape)] = shape
    for k, st in enumerate(stride_lists):
        g[2 + MAX_DIMS * (k + 1):2 + MAX_DIMS * (k + 1) + len(st)] = st
    return g


def _long(index):
    # the kernels read int64 indices; gather and scatter also take int32 ones, as PyTorch
    return index if index.dtype == I64 else cast(index, I64)


def gather(x, dim, index):
    index = _long(index)
    dev = x.dev
    if x.ndim == 0:
        return clone(expand(x, index.shape))
    out = dev.empty(index.shape, x.dtype)
    if out.size == 0:
        return out
    xs = list(x.strides)
    xs[dim] = 0
    g = make_geo(index.shape, [out.strides, index.strides, xs[:index.ndim]])
    st = T.storage(x.dtype)
    src = f"""__kernel void k(__global {st}* out, __global const {st}* x, const long xo, __global const long* ix,
        const long io, const long xs, const long nd, const Geo g) {{
    const long i = get_global_id(0);
    if (i >= g.n) return;
    long v = ix[io + geo_off(&g, i, 1)];
    if (v < 0) v += nd;
    out[geo_off(&g, i, 0)] = x[xo + geo_off(&g, i, 2) + v * xs];
}}"""
    k = dev.kernel(("gather", x.dtype), src, "k", [None, None, np.int64, None, np.int64, np.int64, np.int64, T.GEO])
    k.set_args(out.data, x.data, x.offset, index.data, index.offset, x.strides[dim], x.shape[dim], g)
    dev.launch(k, out.size)
    return out


def scatter(x, dim, index, src, reduce):
    dev = x.dev
    index = _long(index)
    r = clone(x)
    if index.size == 0:
        return r
    rv = r if r.ndim else r.view_as((1,), (1,), r.offset)
    if index.ndim == 0:
        index = index.view_as((1,), (1,), index.offset)
    has_src = src.__class__ is CLArray
    if has_src and src.ndim == 0:
        src = src.view_as((1,) * index.ndim, (0,) * index.ndim, src.offset)
    other = [i for i in range(index.ndim) if i != dim]
    shape = [index.shape[i] for i in other]
    s_st = [src.strides[i] for i in other] if has_src else [0] * len(other)
    g = make_geo(shape, [[index.strides[i] for i in other], s_st, [rv.strides[i] for i in other]])
    dt = x.dtype
    ct, st = T.compute(dt), T.storage(dt)
    if has_src:
        sv = T.load(src.dtype, "s[sb + j * ssd]")
        if src.dtype != dt:
            sv = T.convert(src.dtype, dt, sv)
        sparam = f"__global const {T.storage(src.dtype)}* s, const long so, const long ssd"
    else:
        sv = "sval"
        sparam = f"const {ct} sval"
    cur = T.load(dt, "r[p]")
    if reduce is None:
        new = sv
    elif reduce in ("add", "sum"):
        new = f"({cur} + {sv})" if dt != T.BOOL else f"({cur} | {sv})"
    elif reduce in ("amax", "amin"):   # NaN wins, as in PyTorch's scatter_reduce
        op = ">" if reduce == "amax" else "<"
        if dt == T.BOOL:
            new = f"({cur} {'|' if reduce == 'amax' else '&'} {sv})"
        elif T.is_float(dt):
            new = f"((isnan({sv}) || (!isnan({cur}) && {sv} {op} {cur})) ? {sv} : {cur})"
        else:
            new = f"(({sv} {op} {cur}) ? {sv} : {cur})"
    elif T.is_complex(dt):   # (the complex product, as NumPy's multiply.at)
        new = f"(({ct})({cur}.x * ({sv}).x - {cur}.y * ({sv}).y, {cur}.x * ({sv}).y + {cur}.y * ({sv}).x))"
    else:
        new = f"({cur} * {sv})"
    code = f"""__kernel void k(__global {st}* r, __global const long* ix, const long io, const long ixd, {sparam},
        const long nd, const long len, const long rsd, const Geo g) {{
    const long l = get_global_id(0);
    if (l >= g.n) return;
    const long ib = io + geo_off(&g, l, 0), rb = geo_off(&g, l, 2);
    {'const long sb = so + geo_off(&g, l, 1);' if has_src else ''}
    for (long j = 0; j < len; j++) {{
        long v = ix[ib + j * ixd];
        if (v < 0) v += nd;
        const long p = rb + v * rsd;
        r[p] = {T.store(dt, new)};
    }}
}}"""
    scal = [None, np.int64, np.int64] if has_src else [T.scalar_numpy(dt)]
    k = dev.kernel(("scatter", dt, src.dtype if has_src else None, reduce), code, "k",
                   [None, None, np.int64, np.int64] + scal + [np.int64, np.int64, np.int64, T.GEO])
    sargs = [src.data, src.offset, src.strides[dim]] if has_src else [T.scalar(dt, src)]
    k.set_args(rv.data, index.data, index.offset, index.strides[dim], *sargs,
               rv.shape[dim], index.shape[dim], rv.strides[dim], g)
    dev.launch(k, int(g[1]))
    return r


def scatter_add(x, dim, index, src):
    return scatter(x, dim, index, src, "add")


def _index_plan(x, indices):
    """(output shape, Geo over the output, Geo over the index arrays, stacked int64 indices)."""
    dev = x.dev
    indices = list(indices) + [None] * (x.ndim - len(indices))
    adv = [i for i, t in enumerate(indices) if t is not None]
    B = broadcast_shapes(*[indices[i].shape for i in adv])
    nB = int(np.prod(B, dtype=np.int64)) if B else 1
    stacked = dev.empty((len(adv),) + tuple(B), I64)
    for j, i in enumerate(adv):
        part = stacked.view_as(B, stacked.strides[1:], stacked.offset + j * nB)
        copy_into(part, expand(indices[i], B))
    b_st = list(stacked.strides[1:])
    rest = [i for i in range(x.ndim) if indices[i] is None]
    adjacent = adv == list(range(adv[0], adv[-1] + 1))
    before = [i for i in rest if i < adv[0]] if adjacent else []
    after = [i for i in rest if i not in before]
    shape = [x.shape[i] for i in before] + list(B) + [x.shape[i] for i in after]
    xst = [x.strides[i] for i in before] + [0] * len(B) + [x.strides[i] for i in after]
    bw = [0] * len(before) + b_st + [0] * len(after)
    gi = raw_geo([x.shape[i] for i in adv], [[x.strides[i] for i in adv]])
    gi[1] = nB
    return tuple(shape), xst, bw, gi, stacked


def _index_source(dt, put, accumulate, v_dt):
    st = T.storage(dt)
    head = f"""
inline long xoff(const Geo* g, const Geo* gi, __global const long* ix, long i, long xo) {{
    const long b = geo_off(g, i, 1);
    long off = xo + geo_off(g, i, 0);
    for (int j = 0; j < (int)gi->nd; j++) {{
        long v = ix[j * gi->n + b];
        if (v < 0) v += gi->shape[j];
        off += v * gi->st[0][j];
    }}
    return off;
}}
"""
    if not put:
        return head + f"""__kernel void k(__global {st}* out, __global const {st}* x, const long xo, __global const long* ix,
        const Geo g, const Geo gi) {{
    const long i = get_global_id(0);
    if (i >= g.n) return;
    out[i] = x[xoff(&g, &gi, ix, i, xo)];
}}"""
    if v_dt is None:
        vparam, val = f"const {T.compute(dt)} sval", "sval"
    else:
        vparam = f"__global const {T.storage(v_dt)}* vals, const long vo"
        val = T.load(v_dt, "vals[vo + geo_off(&g, i, 2)]")
        if v_dt != dt:
            val = T.convert(v_dt, dt, val)
    if accumulate:
        new = T.store(dt, f"({T.load(dt, 'r[p]')} + {val})" if dt != T.BOOL else f"({T.load(dt, 'r[p]')} | {val})")
        return head + f"""__kernel void k(__global {st}* r, __global const long* ix, {vparam}, const Geo g, const Geo gi) {{
    if (get_global_id(0) != 0) return;
    for (long i = 0; i < g.n; i++) {{ const long p = xoff(&g, &gi, ix, i, 0); r[p] = {new}; }}
}}"""
    return head + f"""__kernel void k(__global {st}* r, __global const long* ix, {vparam}, const Geo g, const Geo gi) {{
    const long i = get_global_id(0);
    if (i >= g.n) return;
    const long p = xoff(&g, &gi, ix, i, 0);
    r[p] = {T.store(dt, val)};
}}"""


def index(x, indices):
    if all(i is None for i in indices):
        return clone(x)
    dev = x.dev
    shape, xst, bw, gi, stacked = _index_plan(x, indices)
    out = dev.empty(shape, x.dtype)
    if out.size == 0:
        return out
    g = raw_geo(shape, [xst, bw])
    k = dev.kernel(("index", x.dtype), _index_source(x.dtype, False, False, None), "k",
                   [None, None, np.int64, None, T.GEO, T.GEO])
    k.set_args(out.data, x.data, x.offset, stacked.data, g, gi)
    dev.launch(k, out.size)
    return out


def index_put(x, indices, values, accumulate):
    dev = x.dev
    r = clone(x)
    if all(i is None for i in indices):
        copy_into(r, values)
        return r
    shape, xst, bw, gi, stacked = _index_plan(r, indices)
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if n == 0:
        return r
    has_v = values.__class__ is CLArray
    vst = broadcast_strides(values, shape) if has_v else [0] * len(shape)
    g = raw_geo(shape, [xst, bw, vst])
    v_dt = values.dtype if has_v else None
    k = dev.kernel(("index_put", x.dtype, v_dt, bool(accumulate)), _index_source(x.dtype, True, accumulate, v_dt), "k",
                   [None, None] + ([None, np.int64] if has_v else [T.scalar_numpy(x.dtype)]) + [T.GEO, T.GEO])
    vargs = [values.data, values.offset] if has_v else [T.scalar(x.dtype, values)]
    k.set_args(r.data, stacked.data, *vargs, g, gi)
    dev.launch(k, 1 if accumulate else n)
    return r


def nonzero(x):
    dev = x.dev
    nd = x.ndim
    shape = x.shape if nd else (1,)
    strides = x.strides if nd else (1,)
    g = raw_geo(shape, [strides])
    st = T.storage(x.dtype)
    nz = T.convert(x.dtype, T.BOOL, T.load(x.dtype, 'x[xo + geo_off(&g, i, 0)]'))
    src = f"""__kernel void k_count(__global long* cnt, __global const {st}* x, const long xo, const Geo g) {{
    long c = 0;
    for (long i = 0; i < g.n; i++) c += {nz};
    cnt[0] = c;
}}
__kernel void k_write(__global long* out, __global const {st}* x, const long xo, const long ndim, const Geo g) {{
    long c = 0;
    for (long i = 0; i < g.n; i++) {{
        if ({nz}) {{
            long r = i;
            for (int d = (int)g.nd - 1; d >= 0; --d) {{
                if (d < ndim) out[c * ndim + d] = r % g.shape[d];
                r /= g.shape[d];
            }}
            c++;
        }}
    }}
}}"""
    key = ("nonzero", x.dtype)
    kc = dev.kernel(key, src, "k_count", [None, None, np.int64, T.GEO])
    cnt = dev.empty((1,), I64)
    kc.set_args(cnt.data, x.data, x.offset, g)
    dev.cl.enqueue_nd_range_kernel(dev.queue, kc, (1,), (1,))
    from plugtorch.backends.opencl.runtime import to_host
    count = int(to_host(cnt)[0])
    out = dev.empty((count, nd), I64)
    if count and nd:
        kw = dev.kernel(key, src, "k_write", [None, None, np.int64, np.int64, T.GEO])
        kw.set_args(out.data, x.data, x.offset, nd, g)
        dev.cl.enqueue_nd_range_kernel(dev.queue, kw, (1,), (1,))
    return out


KERNELS = {"gather": gather, "scatter": scatter, "scatter_add": scatter_add, "index": index,
           "index_put": index_put, "nonzero": nonzero}
