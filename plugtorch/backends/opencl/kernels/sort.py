"""Stable sort along a dim: a bitonic network over (value, index) keys, every line at once.

Lines are padded to a power of two with keys that sort last; comparing indices on equal values
makes the network stable, and NaN sorts as the largest value (first when descending).
"""
from __future__ import annotations

import numpy as np

from plugtorch.backends.opencl import cltypes as T
from plugtorch.backends.opencl.kernels.pointwise import make_geo


def _source(x_dt, descending):
    ct, st = T.compute(x_dt), T.storage(x_dt)
    f = T.is_float(x_dt)
    gt_v = "(isnan(a) ? !isnan(b) : (!isnan(b) && a > b))" if f else "(a > b)"
    lt_v = "(isnan(b) ? !isnan(a) : (!isnan(a) && a < b))" if f else "(a < b)"
    first, second = (gt_v, lt_v) if descending else (lt_v, gt_v)
    return f"""
typedef {ct} CT;
/* true when key (a, ia) must come after key (b, ib) */
inline int after(CT a, long ia, CT b, long ib, long n) {{
    if (ia >= n || ib >= n) return ia >= n && (ib < n || ia > ib);
    if ({first}) return 0;
    if ({second}) return 1;
    return ia > ib;
}}
__kernel void k_init(__global CT* keys, __global long* idx, __global const {st}* x, const long xo,
                     const long n, const long P, const long xs, const Geo g) {{
    const long i = get_global_id(0);
    if (i >= g.n * P) return;
    const long l = i / P, j = i % P;
    idx[i] = j;
    keys[i] = j < n ? {T.load(x_dt, 'x[xo + geo_off(&g, l, 0) + j * xs]')} : 0;
}}
__kernel void k_step(__global CT* keys, __global long* idx, const long n, const long P,
                     const long total, const long kk, const long jj) {{
    const long i = get_global_id(0);
    if (i >= total) return;
    const long t = i % P, p = t ^ jj;
    if (p <= t) return;
    const long a = i, b = i - t + p;
    const int up = (t & kk) == 0;
    if (after(keys[a], idx[a], keys[b], idx[b], n) == up) {{
        CT tk = keys[a]; keys[a] = keys[b]; keys[b] = tk;
        long ti = idx[a]; idx[a] = idx[b]; idx[b] = ti;
    }}
}}
__kernel void k_out(__global {st}* vals, __global long* oidx, __global const CT* keys,
                    __global const long* idx, const long n, const long P, const Geo g) {{
    const long i = get_global_id(0);
    if (i >= g.n * n) return;
    const long l = i / n, j = i % n;
    const long o = geo_off(&g, l, 1) + j * g.st[2][0];
    vals[o] = {T.store(x_dt, 'keys[l * P + j]')};
    oidx[o] = idx[l * P + j];
}}
"""


def sort(x, dim, descending):
    dev = x.dev
    vals = dev.empty(x.shape, x.dtype)
    idx = dev.empty(x.shape, np.dtype(np.int64))
    if x.size == 0:
        return vals, idx
    if x.ndim == 0:
        from plugtorch.backends.opencl.kernels.copy import copy_into
        copy_into(vals, x)
        copy_into(idx, 0)
        return vals, idx
    n = x.shape[dim]
    P = 1
    while P < n:
        P *= 2
    other = [i for i in range(x.ndim) if i != dim]
    g = make_geo([x.shape[i] for i in other], [[x.strides[i] for i in other], [vals.strides[i] for i in other]])
    g = g.copy()                        # make_geo's result is shared
    g[2 + 8 * 3] = vals.strides[dim]   # st[2][0]: the output stride along dim
    lines = int(g[1])
    ct_np = T.scalar_numpy(x.dtype) if x.dtype != T.BOOL else np.dtype(np.uint8)
    keys = dev.empty((lines * P,), ct_np)
    kidx = dev.empty((lines * P,), np.dtype(np.int64))
    key = ("sort", x.dtype, bool(descending))
    src = lambda: _source(x.dtype, descending)  # noqa: E731  (built only once)
    k_init = dev.kernel(key, src, "k_init", [None, None, None, np.int64, np.int64, np.int64, np.int64, T.GEO])
    k_step = dev.kernel(key, src, "k_step", [None, None, np.int64, np.int64, np.int64, np.int64, np.int64])
    k_out = dev.kernel(key, src, "k_out", [None, None, None, None, np.int64, np.int64, T.GEO])
    k_init.set_args(keys.data, kidx.data, x.data, x.offset, n, P, x.strides[dim], g)
    dev.launch(k_init, lines * P)
    total = lines * P
    kk = 2
    while kk <= P:
        jj = kk // 2
        while jj >= 1:
            k_step.set_args(keys.data, kidx.data, n, P, total, kk, jj)
            dev.launch(k_step, total)
            jj //= 2
        kk *= 2
    k_out.set_args(vals.data, idx.data, keys.data, kidx.data, n, P, g)
    dev.launch(k_out, lines * n)
    return vals, idx


KERNELS = {"sort": sort}
