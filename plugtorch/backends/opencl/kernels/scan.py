"""cumsum and cumprod: one work-item per line along ``dim``, accumulating in the result dtype."""
from __future__ import annotations

import numpy as np

from plugtorch.backends.opencl import cltypes as T
from plugtorch.backends.opencl.kernels.pointwise import make_geo


def _source(name, x_dt, out_dt):
    ct = T.compute(out_dt)
    v = T.load(x_dt, "x[xb + j * xs]")
    if x_dt != out_dt:
        v = T.convert(x_dt, out_dt, v)
    if T.is_complex(out_dt):   # (NumPy's accumulate multiplies without a fused multiply-add)
        from plugtorch.backends.opencl.kernels.complex import helpers
        # (the first element is copied, as NumPy's accumulate does: 1 * (nan + inf j) is nan + nan j)
        step = f"(j == 0 ? {v} : " + (f"acc + {v})" if name == "cumsum" else f"cmul_plain(acc, {v}))")
        return helpers(T.STORAGE[T.real_of(out_dt)]) + _LOOP.format(st_out=T.storage(out_dt), st_in=T.storage(x_dt),
                                                                    ct=ct, init="0" if name == "cumsum" else "cx(1, 0)",
                                                                    step=step, store="acc")
    op = "+" if name == "cumsum" else "*"
    return _LOOP.format(st_out=T.storage(out_dt), st_in=T.storage(x_dt), ct=ct, init="0" if name == "cumsum" else "1",
                        step=f"({ct})(acc {op} {v})", store=T.store(out_dt, "acc"))


_LOOP = """
__kernel void k(__global {st_out}* out, __global const {st_in}* x, const long xo,
                const long n, const long xs, const long os, const Geo g) {{
    const long l = get_global_id(0);
    if (l >= g.n) return;
    const long xb = xo + geo_off(&g, l, 0), ob = geo_off(&g, l, 1);
    {ct} acc = {init};
    for (long j = 0; j < n; j++) {{
        acc = {step};
        out[ob + j * os] = {store};
    }}
}}
"""


def make_scan(name):
    def k(x, dim, dtype):
        d = dtype.numpy
        dev = x.dev
        out = dev.empty(x.shape, d)
        if x.size == 0:
            return out
        if x.ndim == 0:
            from plugtorch.backends.opencl.kernels.copy import copy_into
            copy_into(out, x)
            return out
        other = [i for i in range(x.ndim) if i != dim]
        g = make_geo([x.shape[i] for i in other], [[x.strides[i] for i in other], [out.strides[i] for i in other]])
        kern = dev.kernel(("scan", name, x.dtype, d), lambda: _source(name, x.dtype, d), "k",
                          [None, None, np.int64, np.int64, np.int64, np.int64, T.GEO])
        kern.set_args(out.data, x.data, x.offset, x.shape[dim], x.strides[dim], out.strides[dim], g)
        dev.launch(kern, int(g[1]))
        return out
    return k


KERNELS = {"cumsum": make_scan("cumsum"), "cumprod": make_scan("cumprod")}
