"""Factories (full, empty, arange) and random fills from a counter-based generator.

Random numbers come from Philox4x32-10 on the device: the stream is a function of (seed,
counter), so runs repeat exactly after ``manual_seed`` and no state lives on the device.
"""
from __future__ import annotations

import numpy as np

from plugtorch.backends.opencl import cltypes as T
from plugtorch.backends.opencl.runtime import state

PHILOX = r"""
inline uint4 philox(uint2 key, uint4 c) {
    for (int r = 0; r < 10; r++) {
        ulong p0 = (ulong)0xD2511F53u * c.x, p1 = (ulong)0xCD9E8D57u * c.z;
        c = (uint4)((uint)(p1 >> 32) ^ c.y ^ key.x, (uint)p1, (uint)(p0 >> 32) ^ c.w ^ key.y, (uint)p0);
        key.x += 0x9E3779B9u; key.y += 0xBB67AE85u;
    }
    return c;
}
"""


class PhiloxGenerator:
    """A seed and a counter; every fill advances the counter past the numbers it used."""

    def __init__(self, index, seed):
        self.index = index
        self.seed = seed
        self.counter = 0

    def take(self, n):
        c = self.counter
        self.counter += n
        return c


def _rng_source(dist, dt):
    st, f64 = T.storage(dt), dt == np.float64
    if dist == "random":
        # span 0 stands for 2^64 (int64's whole range); the sum wraps in ulong, as two's complement
        body = ("ulong r = ((ulong)c.x << 32) | c.y; if (span) r %= span; v0 = (long)((ulong)low + r);"
                "r = ((ulong)c.z << 32) | c.w; if (span) r %= span; v1 = (long)((ulong)low + r);")
        vt = "long"
    elif f64:
        u = "const double u0 = (double)((((ulong)c.x) << 21) ^ (c.y >> 11)) * 0x1.0p-53, " \
            "u1 = (double)((((ulong)c.z) << 21) ^ (c.w >> 11)) * 0x1.0p-53;"
        vt = "double"
        body = u + _dist_body(dist, vt)
    else:
        u = "const float u0 = (c.x >> 8) * 0x1.0p-24f, u1 = (c.y >> 8) * 0x1.0p-24f;"
        vt = "float"
        body = u + _dist_body(dist, vt)
    args = "const long low, const ulong span" if dist == "random" else f"const {vt} a, const {vt} b"
    return PHILOX + f"""
__kernel void k(__global {st}* out, const long oo, const long n, const uint k0, const uint k1,
                const ulong ctr, {args}) {{
    const long i = get_global_id(0);
    if (2 * i >= n) return;
    const ulong cc = ctr + (ulong)i;
    const uint4 c = philox((uint2)(k0, k1), (uint4)((uint)cc, (uint)(cc >> 32), 0u, 0u));
    {vt} v0, v1;
    {body}
    {st} s0 = {T.store(dt, 'v0')}, s1 = {T.store(dt, 'v1')};
    {_below_high(dist, dt)}
    out[oo + 2 * i] = s0;
    if (2 * i + 1 < n) out[oo + 2 * i + 1] = s1;
}}
"""


def _below_high(dist, dt):
    """uniform_ in float16/bfloat16: a draw that rounds up to ``b`` (to) becomes ``a`` (from), as
    PyTorch's, so the values stay in [from, to)."""
    if dist != "uniform" or dt.itemsize != 2:
        return ""
    return (f"const {T.storage(dt)} top = {T.store(dt, 'b')}, bottom = {T.store(dt, 'a')};"
            " if (s0 == top) s0 = bottom; if (s1 == top) s1 = bottom;")


def _dist_body(dist, vt):
    if dist == "uniform":
        return "v0 = u0 * (b - a) + a; v1 = u1 * (b - a) + a;"
    # Box-Muller with the first uniform moved to (0, 1] so log() stays finite
    return (f"const {vt} r = sqrt(-2 * log(1 - u0)), t = ({vt})6.283185307179586 * u1;"
            " v0 = r * cos(t) * b + a; v1 = r * sin(t) * b + a;")


def _fill_random(x, dist, a, b, gen):
    from plugtorch.backends.opencl.kernels.copy import copy_into
    dev = x.dev
    dt = x.dtype
    n = x.size
    if n == 0:
        return
    key = ("rng", dist, dt)
    scal = ([np.int64, np.uint64] if dist == "random" else
            [np.float64, np.float64] if dt == np.float64 else [np.float32, np.float32])
    k = dev.kernel(key, _rng_source(dist, dt), "k", [None, np.int64, np.int64, np.uint32, np.uint32, np.uint64] + scal)
    out = x if x.contiguous else dev.empty(x.shape, dt)
    nwi = (n + 1) // 2
    ctr = gen.take(nwi)
    seed = gen.seed
    k.set_args(out.data, out.offset, n, seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF, ctr, a, b)
    dev.launch(k, nwi)
    if out is not x:
        copy_into(x, out)


def uniform_(x, low, high, gen):
    _fill_random(x, "uniform", low, high, gen)


def normal_(x, mean, std, gen):
    _fill_random(x, "normal", mean, std, gen)


def random_(x, low, high, gen):
    _fill_random(x, "random", low, (high - low) % (1 << 64), gen)


def fill(x, value):
    from plugtorch.backends.opencl.kernels.copy import copy_into
    copy_into(x, value)


def full(shape, value, dtype, index):
    out = state(index).empty(shape, dtype.numpy)
    fill(out, value)
    return out


def empty(shape, dtype, index):
    return state(index).empty(shape, dtype.numpy)


def arange(start, end, step, dtype, index):
    import math
    dev = state(index)
    d = dtype.numpy
    n = max(0, math.ceil((end - start) / step))
    out = dev.empty((n,), d)
    if n == 0:
        return out
    ints = d.kind in "iu" and all(isinstance(v, int) for v in (start, end, step))
    vt = "long" if ints else ("double" if dev.fp64 else "float")
    src = f"""__kernel void k(__global {T.storage(d)}* out, const long n, const {vt} start, const {vt} step) {{
    const long i = get_global_id(0);
    if (i < n) out[i] = {T.store(d, T.convert(np.dtype(np.float64 if vt == 'double' else np.float32 if vt == 'float' else np.int64), d, f'(({vt})i * step + start)'))};
}}"""
    npt = np.int64 if ints else np.float64 if vt == "double" else np.float32
    k = dev.kernel(("arange", d, vt), src, "k", [None, np.int64, npt, npt])
    k.set_args(out.data, n, start, step)
    dev.launch(k, n)
    return out


KERNELS = {"full": full, "empty": empty, "arange": arange, "uniform_": uniform_,
           "normal_": normal_, "random_": random_}
