"""searchsorted: one work-item per value, PyTorch's binary search over its line of the sequence
(``!(seq[mid] >= v)`` steps right; ``>`` for right=True), so nan and ties land where they do
in PyTorch and on cpu."""
from __future__ import annotations

import numpy as np

from plugtorch.backends.opencl import cltypes as T
from plugtorch.backends.opencl.kernels.copy import cast
from plugtorch.backends.opencl.kernels.pointwise import make_geo


def _source(dt, out_dt, right, with_sorter):
    ct, st = T.compute(dt), T.storage(dt)
    goes_right = "!(m > v)" if right else "!(m >= v)"
    # (the meta refuses a sorter index outside the line, as PyTorch; the clamp keeps reads in bounds regardless)
    at = "clamp(srt[rb + mid * rs], 0L, k - 1)" if with_sorter else "mid"
    return f"""
__kernel void k(__global {T.storage(out_dt)}* out, __global const {st}* s, const long so, const long ss,
                __global const {st}* x, const long xo, __global const long* srt, const long ro, const long rs,
                const long k, const Geo g) {{
    const long i = get_global_id(0);
    if (i >= g.n) return;
    const {ct} v = {T.load(dt, 'x[xo + geo_off(&g, i, 1)]')};
    const long sb = so + geo_off(&g, i, 2), rb = ro + geo_off(&g, i, 3);
    long lo = 0, hi = k;
    while (lo < hi) {{
        const long mid = lo + ((hi - lo) >> 1);
        const {ct} m = {T.load(dt, f's[sb + {at} * ss]')};
        if ({goes_right}) lo = mid + 1; else hi = mid;
    }}
    out[geo_off(&g, i, 0)] = ({T.storage(out_dt)})lo;
}}"""


def searchsorted(seq, values, sorter, right, common, out):
    d, od = np.dtype(common.numpy), np.dtype(out.numpy)
    dev = values.dev
    seq = seq if seq.dtype == d else cast(seq, d)
    values = values if values.dtype == d else cast(values, d)
    res = dev.empty(values.shape, od)
    if res.size == 0:
        return res
    k = seq.shape[-1]
    nd = values.ndim
    lead = lambda a: list(a.strides[:-1]) + [0] if a.ndim > 1 else [0] * nd   # noqa: E731  (the line's start)
    shape = values.shape if nd else (1,)
    strides = [res.strides, values.strides, lead(seq), lead(sorter) if sorter is not None else [0] * nd]
    if not nd:
        strides = [[0]] * 4
    g = make_geo(shape, strides)
    kern = dev.kernel(("searchsorted", d, od, bool(right), sorter is not None),
                      lambda: _source(d, od, right, sorter is not None), "k",
                      [None, None, np.int64, np.int64, None, np.int64, None, np.int64, np.int64, np.int64, T.GEO])
    srt = sorter if sorter is not None else values   # (an unread placeholder buffer)
    kern.set_args(res.data, seq.data, seq.offset, seq.strides[-1], values.data, values.offset,
                  srt.data, srt.offset, srt.strides[-1] if sorter is not None else 0, k, g)
    dev.launch(kern, res.size)
    return res


KERNELS = {"searchsorted": searchsorted}
