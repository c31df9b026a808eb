"""Batched factorisations for plugtorch.linalg: Cholesky, triangular solve, LU with partial
pivoting (for solve, inv, det and slogdet) and Householder QR, float32/float64.

One work-group factors one matrix (the batch runs in parallel across compute units); its
work-items split the rows (Cholesky, LU: the matrix held column-major so neighbouring work-items
read neighbouring memory, which PoCL turns into vector loads) or the columns (QR, row-major), and
meet at a barrier after each step. Triangular and LU solves give each work-item one right-hand
side column. The algorithms are LAPACK's unblocked ones (potf2 in its dot-product form, getf2
with the first largest pivot, geqr2 with dlarfg's sign convention, org2r), so results agree with
cpu's blocked LAPACK up to rounding and the signs of Q and R match. Matrices up to a few hundred
rows are what they are for; SVD and eigh go through the host (see the backend's declarations).
"""
from __future__ import annotations

import numpy as np

from plugtorch.backends.base import contiguous_strides
from plugtorch.backends.opencl import cltypes as T
from plugtorch.backends.opencl.kernels.pointwise import broadcast_strides, make_geo


def _source(dt):
    r = T.storage(dt)
    return f"""
typedef {r} real;
#define BARRIER barrier(CLK_GLOBAL_MEM_FENCE | CLK_LOCAL_MEM_FENCE)

/* Cholesky (potf2, right-looking): w holds L column-major, w[k*n + i] = L(i, k); each work-item
   updates whole columns, so its inner loop runs down contiguous memory */
__kernel void chol(__global real* W, __global int* info, __global const real* a, const long ao,
                   const long rs, const long cs, const int n, const int upper, const Geo g) {{
    const long b = get_group_id(0);
    const int lid = get_local_id(0), ls = get_local_size(0);
    __global real* w = W + b * (long)n * n;
    const long ab = ao + geo_off(&g, b, 0);
    for (int k = lid; k < n; k += ls) {{     /* L(i, k) comes from A(i, k), or A(k, i) for upper */
        for (int i = 0; i < k; i++) w[k * n + i] = 0;
        if (upper) {{ for (int i = k; i < n; i++) w[k * n + i] = a[ab + k * rs + i * cs]; }}
        else {{ for (int i = k; i < n; i++) w[k * n + i] = a[ab + i * rs + k * cs]; }}
    }}
    BARRIER;
    int bad = 0;
    for (int j = 0; j < n; j++) {{
        const real d = w[j * n + j];
        if (!(d > 0)) {{ bad = j + 1; break; }}
        const real r = sqrt(d);
        BARRIER;      /* (every work-item has read d) */
        if (lid == 0) {{
            w[j * n + j] = r;
            for (int i = j + 1; i < n; i++) w[j * n + i] /= r;
        }}
        BARRIER;
        for (int k = j + 1 + lid; k < n; k += ls) {{
            const real u = w[j * n + k];
            for (int i = k; i < n; i++) w[k * n + i] -= w[j * n + i] * u;
        }}
        BARRIER;
    }}
    if (bad) {{
        for (int k = lid; k < n; k += ls) for (int i = 0; i < n; i++) w[k * n + i] = NAN;
    }}
    if (lid == 0) info[b] = bad;
}}

/* X with A X = B for triangular A: one work-group per matrix, its work-items sharing out the
   columns of B (so they never wait for each other). X is row-major n x k: the substitution's inner
   loop runs along a row of X, contiguous. permute >= 0 fills X from B first (2: the identity),
   then (permute > 0) applies LU's row swaps. */
__kernel void trsm(__global real* x, __global const real* a, const long ao, const long ars, const long acs,
                   __global const real* bm, const long bo, const long brs, const long bcs,
                   const int n, const int k, const int upper, const int unit, const int permute,
                   __global const int* piv, const Geo g) {{
    const long bt = get_group_id(0);
    const int lid = get_local_id(0), ls = get_local_size(0);
    const long ab = ao + geo_off(&g, bt, 0);
    __global real* xb = x + bt * (long)n * k;
    if (permute >= 0) {{
        const long bb = bo + geo_off(&g, bt, 1);
        for (int i = 0; i < n; i++)
            for (int c = lid; c < k; c += ls) xb[i * k + c] = permute == 2 ? (real)(i == c) : bm[bb + i * brs + c * bcs];
        if (permute) {{
            __global const int* p = piv + geo_off(&g, bt, 2);
            for (int j = 0; j < n; j++) {{
                const int pj = p[j];
                if (pj != j) for (int c = lid; c < k; c += ls) {{
                    const real t = xb[j * k + c]; xb[j * k + c] = xb[pj * k + c]; xb[pj * k + c] = t;
                }}
            }}
        }}
    }}
    for (int t = 0; t < n; t++) {{
        const int q = upper ? n - 1 - t : t;
        if (!unit) {{
            const real d = a[ab + q * ars + q * acs];
            for (int c = lid; c < k; c += ls) xb[q * k + c] /= d;
        }}
        const int i0 = upper ? 0 : q + 1, i1 = upper ? q : n;
        for (int i = i0; i < i1; i++) {{
            const real aiq = a[ab + i * ars + q * acs];
            for (int c = lid; c < k; c += ls) xb[i * k + c] -= aiq * xb[q * k + c];
        }}
    }}
}}

/* LU with partial pivoting (getf2), row-major in w; piv 0-based rows; info the first zero pivot.
   The rank-1 update subtracts l_i * u from each row below, u (local) being row j right of the
   diagonal with zeros before it, so every row's loop starts at a multiple of 8 (whole vectors). */
__kernel void lu(__global real* W, __global int* piv, __global int* info, __global const real* a, const long ao,
                 const long rs, const long cs, const int n, const Geo g, __local real* u) {{
    const long b = get_group_id(0);
    const int lid = get_local_id(0), ls = get_local_size(0);
    __global real* w = W + b * (long)n * n;
    __global int* p = piv + b * (long)n;
    const long ab = ao + geo_off(&g, b, 0);
    for (int i = lid; i < n; i += ls) for (int k = 0; k < n; k++) w[i * n + k] = a[ab + i * rs + k * cs];
    BARRIER;
    int bad = 0;
    for (int j = 0; j < n; j++) {{
        const int k0 = (j + 1) & ~7;
        if (lid == 0) {{          /* the first largest |value| of the column, as LAPACK's idamax */
            int pr = j;
            real best = fabs(w[j * n + j]);
            for (int i = j + 1; i < n; i++) {{
                const real v = fabs(w[i * n + j]);
                if (v > best) {{ best = v; pr = i; }}
            }}
            p[j] = pr;
            if (pr != j) {{
                for (int k = 0; k < n; k++) {{ const real t = w[j * n + k]; w[j * n + k] = w[pr * n + k]; w[pr * n + k] = t; }}
            }}
            const real pv = w[j * n + j];
            if (pv != 0) {{
                const real rp = 1 / pv;     /* (LAPACK scales by the reciprocal too) */
                for (int i = j + 1; i < n; i++) w[i * n + j] *= rp;
            }}
            for (int k = k0; k < n; k++) u[k] = k > j ? w[j * n + k] : (real)0;
        }}
        BARRIER;
        if (w[j * n + j] != 0) {{
            for (int i = j + 1 + lid; i < n; i += ls) {{
                const real l = w[i * n + j];
                for (int k = k0; k < n; k++) w[i * n + k] -= l * u[k];
            }}
        }} else if (!bad) {{
            bad = j + 1;
        }}
        BARRIER;
    }}
    if (lid == 0) info[b] = bad;
}}

/* det (slog = 0) or (sign, log|det|) (slog = 1) from the LU: one work-item per matrix */
__kernel void lu_det(__global real* out0, __global real* out1, __global const real* W, __global const int* piv,
                     const int n, const long nb, const int slog) {{
    const long b = get_global_id(0);
    if (b >= nb) return;
    __global const real* w = W + b * (long)n * n;
    real sign = 1, prod = 1, logabs = 0;
    for (int j = 0; j < n; j++) {{
        const real d = w[j * n + j];
        if (piv[b * n + j] != j) sign = -sign;
        prod *= d;
        if (slog && d < 0) sign = -sign;
        logabs += log(fabs(d));
    }}
    if (slog) {{
        const int singular = !(logabs > -INFINITY);
        out0[b] = singular ? (real)0 : sign;
        out1[b] = singular ? (real)(-INFINITY) : logabs;
    }} else {{
        out0[b] = sign * prod;
    }}
}}

/* Householder QR (geqr2 + org2r), row-major: each reflector is applied as a = a - tau v (v^T a),
   v^T a accumulated row by row into s (local, one value per column), so the inner loops run along
   rows. R (kr x n) and Q (m x kq) are written row-major. */
__kernel void qr(__global real* W, __global real* R, __global real* Q, __global const real* a, const long ao,
                 const long rs, const long cs, const int m, const int n, const int kr, const int kq,
                 const int want_q, const Geo g, __local real* s) {{
    const long b = get_group_id(0);
    const int lid = get_local_id(0), ls = get_local_size(0);
    const int kmin = min(m, n);
    __global real* w = W + b * (long)m * n;
    __global real* q = Q + b * (long)m * kq;
    __global real* rq = R + b * (long)kr * n;
    __local real sh[1];      /* tau of the current column */
    const long ab = ao + geo_off(&g, b, 0);
    for (int i = 0; i < m; i++) for (int c = lid; c < n; c += ls) w[i * n + c] = a[ab + i * rs + c * cs];
    BARRIER;
    for (int j = 0; j < kmin; j++) {{
        if (lid == 0) {{          /* dlarfg: beta = -sign(alpha) |x|, tau = (beta - alpha) / beta */
            const real alpha = w[j * n + j];
            real ss = 0;
            for (int i = j + 1; i < m; i++) ss += w[i * n + j] * w[i * n + j];
            real tau = 0, beta = alpha;
            if (ss != 0) {{
                beta = -copysign(hypot(alpha, sqrt(ss)), alpha);
                tau = (beta - alpha) / beta;
                const real scale = 1 / (alpha - beta);
                for (int i = j + 1; i < m; i++) w[i * n + j] *= scale;
            }}
            sh[0] = tau;
            w[j * n + j] = beta;
        }}
        BARRIER;
        const real tau = sh[0];
        if (tau != 0) {{
            for (int c = j + 1 + lid; c < n; c += ls) s[c] = w[j * n + c];
            for (int i = j + 1; i < m; i++) {{
                const real vi = w[i * n + j];
                for (int c = j + 1 + lid; c < n; c += ls) s[c] += vi * w[i * n + c];
            }}
            for (int c = j + 1 + lid; c < n; c += ls) {{ s[c] *= tau; w[j * n + c] -= s[c]; }}
            for (int i = j + 1; i < m; i++) {{
                const real vi = w[i * n + j];
                for (int c = j + 1 + lid; c < n; c += ls) w[i * n + c] -= vi * s[c];
            }}
        }}
        BARRIER;
    }}
    for (int i = 0; i < kr; i++) for (int c = lid; c < n; c += ls) rq[i * n + c] = c >= i ? w[i * n + c] : (real)0;
    if (!want_q) return;
    for (int i = 0; i < m; i++) for (int c = lid; c < kq; c += ls) q[i * kq + c] = (real)(i == c);
    /* Q = H_0 ... H_{{k-1}} I, accumulated backwards (each work-item owns its columns of Q); with
       v = (1, v') a reflector has tau = 2 / (1 + |v'|^2) (dlarfg's (beta - alpha) / beta), or is
       the identity when v' = 0 */
    for (int j = kmin - 1; j >= 0; j--) {{
        real vv = 0;
        for (int i = j + 1; i < m; i++) vv += w[i * n + j] * w[i * n + j];
        if (vv == 0) continue;
        const real tau = 2 / (1 + vv);
        for (int c = j + lid; c < kq; c += ls) s[c] = q[j * kq + c];
        for (int i = j + 1; i < m; i++) {{
            const real vi = w[i * n + j];
            for (int c = j + lid; c < kq; c += ls) s[c] += vi * q[i * kq + c];
        }}
        for (int c = j + lid; c < kq; c += ls) {{ s[c] *= tau; q[j * kq + c] -= s[c]; }}
        for (int i = j + 1; i < m; i++) {{
            const real vi = w[i * n + j];
            for (int c = j + lid; c < kq; c += ls) q[i * kq + c] -= vi * s[c];
        }}
    }}
}}
"""


def _local_size(dev, n):
    """Work-items per matrix. On a CPU device (PoCL) a work-group runs on one core anyway, so one
    work-item per matrix does the whole factorisation with no barriers, its inner loops vectorised
    by the compiler; the batch spreads over the cores. Elsewhere the columns are shared out."""
    if dev.is_cpu:
        return 1
    ls = 8
    while ls < n and ls < 256:
        ls *= 2
    return min(ls, dev.device.max_work_group_size)


def _kernel(dev, dt, name, types):
    return dev.kernel(("linalg", dt), lambda: _source(dt), name, types)


def _nbatch(batch):
    n = 1
    for s in batch:
        n *= s
    return n


_G = T.GEO
_I64, _I32 = np.int64, np.int32


def _per_matrix(dev, kernel, nb, n):
    ls = _local_size(dev, n)
    dev.cl.enqueue_nd_range_kernel(dev.queue, kernel, (nb * ls,), (ls,))


def _zero(x):
    from plugtorch.backends.opencl.kernels.copy import copy_into
    if x.size:
        copy_into(x, 0)


def _mT(x):
    """The transposed view of the last two dims (no copy)."""
    return x.view_as(x.shape[:-2] + (x.shape[-1], x.shape[-2]), x.strides[:-2] + (x.strides[-1], x.strides[-2]), x.offset)


def _batch_strides(x, batch):
    return broadcast_strides(x.view_as(x.shape[:-2], x.strides[:-2], 0), batch)


def _packed_strides(buf, batch, inner):
    """Batch strides of ``buf`` (its batch dims then ``inner`` elements per matrix, contiguous),
    broadcast to ``batch``."""
    b = buf.shape[:-len(inner)] if inner else buf.shape
    n = _nbatch(inner)
    return broadcast_strides(buf.view_as(b, contiguous_strides(b + (n,))[:-1], 0), batch)


def cholesky(a, upper):
    """(L, info); L is computed column-major, so the lower factor is a transposed view of it (as
    PyTorch's: strides (.., 1, n)) and the upper one is contiguous."""
    dev, dt, n = a.dev, a.dtype, a.shape[-1]
    batch = a.shape[:-2]
    nb = _nbatch(batch)
    w = dev.empty(batch + (n, n), dt)
    info = dev.empty(batch, np.dtype(np.int32))
    if nb and n:
        k = _kernel(dev, dt, "chol", [None, None, None, _I64, _I64, _I64, _I32, _I32, _G])
        k.set_args(w.data, info.data, a.data, a.offset, a.strides[-2], a.strides[-1], n, int(upper),
                   make_geo(batch, [a.strides[:-2]]))
        _per_matrix(dev, k, nb, n)
    elif nb:
        _zero(info)
    return (w if upper else _mT(w)), info


def _trsm(x, a, ars, acs, sa, b, sb, batch, n, k, upper, unit, permute=0, piv=None, sp=None):
    """Launch trsm over ``batch`` into ``x`` (batch + (n, k), row-major)."""
    dev, dt = x.dev, x.dtype
    nb = _nbatch(batch)
    if not (nb and n and k):
        return
    if b is None:
        b, sb, brs, bcs = x, [0] * len(batch), 0, 0
    else:
        brs, bcs = b.strides[-2], b.strides[-1]
    kern = _kernel(dev, dt, "trsm", [None, None, _I64, _I64, _I64, None, _I64, _I64, _I64,
                                     _I32, _I32, _I32, _I32, _I32, None, _G])
    kern.set_args(x.data, a.data, a.offset, ars, acs, b.data, b.offset, brs, bcs, n, k, int(upper), int(unit),
                  permute, (piv if piv is not None else x).data,
                  make_geo(batch, [sa, sb, sp if sp is not None else [0] * len(batch)]))
    _per_matrix(dev, kern, nb, k)


def solve_triangular(a, b, upper, left, unitriangular):
    from plugtorch.dispatch.meta import broadcast_shapes
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    if not left:     # X A = B  <=>  A^T X^T = B^T, A^T triangular the other way
        a, b, upper = _mT(a), _mT(b), not upper
    n, k = a.shape[-1], b.shape[-1]
    x = a.dev.empty(batch + (n, k), a.dtype)
    _trsm(x, a, a.strides[-2], a.strides[-1], _batch_strides(a, batch), b, _batch_strides(b, batch),
          batch, n, k, upper, unitriangular)
    return x if left else _mT(x)


def _local(dev, n, dt):
    return dev.cl.LocalMemory(max(n, 1) * dt.itemsize)


def _lu(a):
    """(w, piv, info): a's LU (row-major, L's unit diagonal implied) and its 0-based pivots."""
    dev, dt, n = a.dev, a.dtype, a.shape[-1]
    batch = a.shape[:-2]
    nb = _nbatch(batch)
    w = dev.empty(batch + (n, n), dt)
    piv = dev.empty(batch + (n,), np.dtype(np.int32))
    info = dev.empty(batch, np.dtype(np.int32))
    if nb and n:
        k = _kernel(dev, dt, "lu", [None, None, None, None, _I64, _I64, _I64, _I32, _G, None])
        k.set_args(w.data, piv.data, info.data, a.data, a.offset, a.strides[-2], a.strides[-1], n,
                   make_geo(batch, [a.strides[:-2]]), _local(dev, n, dt))
        _per_matrix(dev, k, nb, n)
    elif nb:
        _zero(info)
    return w, piv, info


def _lu_solve(w, piv, batch, b, k):
    """X = A^-1 B (batch + (n, k), row-major) from A's LU (its own batch, broadcast to ``batch``);
    ``b`` None solves for the identity."""
    n = w.shape[-1]
    x = w.dev.empty(tuple(batch) + (n, k), w.dtype)
    sw, sp = _packed_strides(w, batch, (n, n)), _packed_strides(piv, batch, (n,))
    sb = None if b is None else _batch_strides(b, batch)
    _trsm(x, w, n, 1, sw, b, sb, batch, n, k, False, True, 2 if b is None else 1, piv, sp)   # L y = P b
    _trsm(x, w, n, 1, sw, None, None, batch, n, k, True, False, -1)                             # U x = y
    return x


def solve(a, b, left, vector):
    """(X, info) of A X = B (X A = B unless left), B a vector when ``vector``; info: A's batch shape."""
    from plugtorch.dispatch.meta import broadcast_shapes
    if vector:
        b = b.view_as(b.shape + (1,), tuple(b.strides) + (0,), b.offset)
    if not left:
        a, b = _mT(a), _mT(b)
    w, piv, info = _lu(a)
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    x = _lu_solve(w, piv, batch, b, b.shape[-1])
    if not left:
        return _mT(x), info
    if vector:
        x = x.view_as(x.shape[:-1], x.strides[:-1], x.offset)
    return x, info


def inv(a):
    w, piv, info = _lu(a)
    return _lu_solve(w, piv, a.shape[:-2], None, a.shape[-1]), info


def _det(a, slog):
    dev, dt, n = a.dev, a.dtype, a.shape[-1]
    batch = a.shape[:-2]
    nb = _nbatch(batch)
    w, piv, _ = _lu(a)
    out0, out1 = dev.empty(batch, dt), dev.empty(batch, dt)
    if nb:
        k = _kernel(dev, dt, "lu_det", [None, None, None, None, _I32, _I64, _I32])
        k.set_args(out0.data, out1.data, w.data, piv.data, n, nb, int(slog))
        dev.launch(k, nb, 1 if dev.is_cpu else 64)
    return (out0, out1) if slog else out0


def det(a):
    return _det(a, False)


def slogdet(a):
    return _det(a, True)


def qr(a, mode):
    dev, dt = a.dev, a.dtype
    m, n = a.shape[-2:]
    batch = a.shape[:-2]
    nb = _nbatch(batch)
    kr = kq = m if mode == "complete" else min(m, n)
    want_q = mode != "r"
    w = dev.empty(batch + (m, n), dt)
    r = dev.empty(batch + (kr, n), dt)
    q = dev.empty(batch + (m, kq) if want_q else (0,), dt)
    if nb and (m * n or (want_q and m * kq)):
        k = _kernel(dev, dt, "qr", [None, None, None, None, _I64, _I64, _I64, _I32, _I32, _I32, _I32, _I32, _G, None])
        k.set_args(w.data, r.data, q.data if q.size else r.data, a.data, a.offset, a.strides[-2], a.strides[-1],
                   m, n, kr, kq, int(want_q), make_geo(batch, [a.strides[:-2]]), _local(dev, max(n, kq), dt))
        _per_matrix(dev, k, nb, max(n, kq))
    return q, r


KERNELS = {"linalg_cholesky_ex": cholesky, "linalg_solve_triangular": solve_triangular, "linalg_solve_ex": solve,
           "linalg_inv_ex": inv, "linalg_det": det, "linalg_slogdet": slogdet, "linalg_qr": qr}
