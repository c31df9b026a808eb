"""Batched matmul: each work-item computes a TM x TN block of C in registers.

On PoCL's CPU device a register-blocked kernel beats the textbook local-memory tile by about
9x (the CPU caches do the tiling). Batch dims broadcast through a Geo struct; operands whose
rows are not contiguous are copied to contiguous first.
"""
from __future__ import annotations

import numpy as np

from plugtorch.backends.opencl import cltypes as T
from plugtorch.backends.opencl.buffer import CLArray
from plugtorch.backends.opencl.kernels.pointwise import broadcast_strides, make_geo
from plugtorch.dispatch.meta import broadcast_shapes

TM, TN, LX = 4, 16, 16


def _source(dt):
    ct, st = T.compute(dt), T.storage(dt)
    ld = lambda e: T.load(dt, e)  # noqa: E731
    return f"""
typedef {ct} CT;
__kernel void k(__global {st}* c, __global const {st}* a, const long ao, __global const {st}* b,
                const long bo, const long M, const long N, const long K, const long lda,
                const long ldb, const Geo g) {{
    const long j0 = get_global_id(0) * {TN}, i0 = get_global_id(1) * {TM}, bt = get_global_id(2);
    if (j0 >= N || i0 >= M) return;
    const long ab = ao + geo_off(&g, bt, 0), bb = bo + geo_off(&g, bt, 1);
    __global {st}* cb = c + bt * M * N;
    CT acc[{TM}][{TN}];
    for (int i = 0; i < {TM}; i++) for (int j = 0; j < {TN}; j++) acc[i][j] = 0;
    if (i0 + {TM} <= M && j0 + {TN} <= N) {{
{_full_tile(dt)}
    }} else {{
        const int mi = (int)min((long){TM}, M - i0), nj = (int)min((long){TN}, N - j0);
        for (long k = 0; k < K; k++) {{
            for (int i = 0; i < mi; i++) {{
                const CT av = {ld('a[ab + (i0 + i) * lda + k]')};
                for (int j = 0; j < nj; j++) acc[i][j] += av * {ld('b[bb + k * ldb + j0 + j]')};
            }}
        }}
        for (int i = 0; i < mi; i++) for (int j = 0; j < nj; j++)
            cb[(i0 + i) * N + j0 + j] = {T.store(dt, 'acc[i][j]')};
    }}
}}
"""


def _full_tile(dt):
    """The inner loop for a whole TM x TN tile: explicit 128-bit vectors for float types.

    Wider vectors (float16 = 512 bits) cross PoCL's builtin-call ABI, which on hosts whose CPU
    LLVM does not take for an AVX-512 one (seen on an AMD EPYC VM) corrupts the stack and
    crashes; 128-bit vectors are native on every x86-64 and ARM64 CPU.
    """
    st = T.storage(dt)
    if st in ("float", "double"):
        w = 4 if st == "float" else 2
        v = f"{st}{w}"
        chunks = range(TN // w)
        accs = " ".join(f"{v} acc{i}_{q} = 0;" for i in range(TM) for q in chunks)
        loads = " ".join(f"const {v} bv{q} = vload{w}({q}, b + bb + k * ldb + j0);" for q in chunks)
        body = " ".join(f"const {st} a{i} = a[ab + (i0 + {i}) * lda + k];"
                        + "".join(f" acc{i}_{q} += a{i} * bv{q};" for q in chunks)
                        for i in range(TM))
        stores = " ".join(f"vstore{w}(acc{i}_{q}, {q}, cb + (i0 + {i}) * N + j0);"
                          for i in range(TM) for q in chunks)
        return f"""        {accs}
        for (long k = 0; k < K; k++) {{
            {loads}
            {body}
        }}
        {stores}
        return;"""
    ld = lambda e: T.load(dt, e)  # noqa: E731
    return (_f16_vec_tile() if dt == T.F16 else "") + f"""        for (long k = 0; k < K; k++) {{
            CT bv[{TN}];
            for (int j = 0; j < {TN}; j++) bv[j] = {ld('b[bb + k * ldb + j0 + j]')};
            for (int i = 0; i < {TM}; i++) {{
                const CT av = {ld('a[ab + (i0 + i) * lda + k]')};
                for (int j = 0; j < {TN}; j++) acc[i][j] += av * bv[j];
            }}
        }}
        for (int i = 0; i < {TM}; i++) for (int j = 0; j < {TN}; j++)
            cb[(i0 + i) * N + j0 + j] = {T.store(dt, 'acc[i][j]')};"""


def _f16_vec_tile():
    """float16 with F16C (PoCL on x86): B's rows converted eight at a time into 256-bit float
    vectors (F16C implies AVX; no builtin calls), C's rounded eight at a time; the arithmetic is
    the scalar loop's, in float."""
    q = range(TN // 8)
    accs = " ".join(f"float8 acc{i}_{j} = 0;" for i in range(TM) for j in q)
    loads = " ".join(f"const float8 bv{j} = f16_load8(b + bb + k * ldb + j0 + {8 * j});" for j in q)
    body = " ".join(f"const float a{i} = f16_load(a[ab + (i0 + {i}) * lda + k]);"
                    + "".join(f" acc{i}_{j} += a{i} * bv{j};" for j in q) for i in range(TM))
    stores = " ".join(f"f16_store8(acc{i}_{j}, cb + (i0 + {i}) * N + j0 + {8 * j});" for i in range(TM) for j in q)
    return f"""#ifdef F16_VEC
        {accs}
        for (long k = 0; k < K; k++) {{
            {loads}
            {body}
        }}
        {stores}
        return;
#endif
"""


def _rows_contiguous(x):
    return x.strides[-1] == 1 or x.shape[-1] <= 1


def _parts(x):
    """The real and imaginary parts of complex ``x`` as contiguous real arrays."""
    from plugtorch.backends.opencl.kernels.copy import cast
    rt = T.real_of(x.dtype)
    st = tuple(2 * s for s in x.strides)
    return [cast(CLArray(x.dev, x.data, x.shape, rt, st, 2 * x.offset + k), rt) for k in (0, 1)]


def _complex_matmul(a, b):
    """(ar + i ai)(br + i bi) as four real matmuls by the register-blocked kernel, combined into
    the result's parts (512^2 on PoCL: 1.2 s as one complex product per work-item and k)."""
    from plugtorch.backends.opencl.kernels import elementwise as E
    from plugtorch.backends.opencl.kernels import pointwise as P
    (ar, ai), (br, bi) = _parts(a), _parts(b)
    rr, ii, ri, ir = matmul(ar, br), matmul(ai, bi), matmul(ar, bi), matmul(ai, br)
    out = a.dev.empty(rr.shape, a.dtype)
    if out.size == 0:
        return out
    rt = rr.dtype
    st = tuple(2 * s for s in out.strides)
    for k, (name, x, y) in enumerate((("sub", rr, ii), ("add", ri, ir))):
        part = CLArray(out.dev, out.data, out.shape, rt, st, k)
        P.run(E.pointwise(out.dev, "binary", name, (rt, rt), (rt, rt), rt), part, (x, y), out.shape, False)
    return out


def matmul(a, b):
    from plugtorch.backends.opencl.kernels.copy import contiguous
    dev = a.dev
    dt = a.dtype
    if T.is_complex(dt):
        return _complex_matmul(a, b)
    if not _rows_contiguous(a):
        a = contiguous(a)
    if not _rows_contiguous(b):
        b = contiguous(b)
    M, K, N = a.shape[-2], a.shape[-1], b.shape[-1]
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    out = dev.empty(batch + (M, N), dt)
    nb = 1
    for s in batch:
        nb *= s
    if out.size == 0:
        return out
    if K == 0:
        from plugtorch.backends.opencl.kernels.copy import copy_into
        copy_into(out, 0)
        return out
    sa = broadcast_strides(a.view_as(a.shape[:-2], a.strides[:-2], 0), batch)
    sb = broadcast_strides(b.view_as(b.shape[:-2], b.strides[:-2], 0), batch)
    g = make_geo(batch, [sa, sb])
    lda = a.strides[-2] if M > 1 else K
    ldb = b.strides[-2] if K > 1 else N
    k = dev.kernel(("matmul", dt), lambda: _source(dt), "k", [None, None, np.int64, None, np.int64, np.int64,
                                                      np.int64, np.int64, np.int64, np.int64, T.GEO])
    k.set_args(out.data, a.data, a.offset, b.data, b.offset, M, N, K, lda, ldb, g)
    gx = (N + TN - 1) // TN
    gx = (gx + LX - 1) // LX * LX
    gy = (M + TM - 1) // TM
    dev.cl.enqueue_nd_range_kernel(dev.queue, k, (gx, gy, nb), (LX, 1, 1))
    return out


KERNELS = {"_matmul": matmul}
