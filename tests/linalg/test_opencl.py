"""The opencl backend's own linalg kernels (Cholesky, triangular solve, LU solve/inv/det/slogdet,
Householder QR) against cpu's LAPACK: values, layouts of the inputs, batch broadcasting, info and
LinAlgError, empty and 1 x 1 matrices, sizes past one work-group's worth, gradients; and the ops
that go through the host (svd, eigh, lstsq) recorded as such."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.dispatch.host import record_host_round_trips

if not pt.opencl.is_available():
    pytest.skip("no OpenCL device (pip install plugtorch[opencl])", allow_module_level=True)

L = pt.linalg
DTYPES = [(pt.float32, 2e-5), (pt.float64, 1e-12)]
OWN = ("linalg_cholesky_ex", "linalg_solve_triangular", "linalg_solve_ex", "linalg_inv_ex", "linalg_det",
       "linalg_slogdet", "linalg_qr")


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def conditioned(*shape, seed=0):
    return rnd(*shape, seed=seed) + shape[-1] * np.eye(shape[-1])


def spd(*shape, seed=0):
    x = rnd(*shape, seed=seed)
    return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])


def both(a, dtype):
    """The same values on cpu and on opencl."""
    t = pt.tensor(np.asarray(a), dtype=dtype)
    return t, t.to("opencl")


def check(fn, *arrays, dtype, tol, layouts=None):
    """fn on cpu and opencl (each input contiguous or with ``layouts``: 'T' a transposed view,
    'S' every second column of a wider array) gives the same results, relative to their size."""
    cpu_args, cl_args = [], []
    for i, a in enumerate(arrays):
        lay = (layouts or "")[i:i + 1]
        a = np.asarray(a)
        if lay == "T":
            c, d = both(np.ascontiguousarray(np.swapaxes(a, -1, -2)), dtype)
            c, d = c.mT, d.mT
        elif lay == "S":
            wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],))
            wide[..., ::2] = a
            c, d = both(wide, dtype)
            c, d = c[..., ::2], d[..., ::2]
        else:
            c, d = both(a, dtype)
        cpu_args.append(c)
        cl_args.append(d)
    with record_host_round_trips() as trips:
        got = fn(*cl_args)
    want = fn(*cpu_args)
    got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
    for g, w in zip(got, want):
        assert g.device.type == "opencl" and g.dtype is w.dtype and tuple(g.shape) == tuple(w.shape)
        gh, wh = g.cpu().numpy(), w.numpy()
        scale = max(1.0, float(np.abs(wh).max())) if wh.size else 1.0
        np.testing.assert_allclose(gh, wh, rtol=tol, atol=tol * scale)
    return trips


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("shape,layout", [((5, 5), ""), ((5, 5), "T"), ((3, 4, 4), "S"), ((2, 1, 6, 6), ""),
                                          ((1, 1), ""), ((0, 0), ""), ((2, 0, 0), ""), ((0, 3, 3), ""), ((70, 70), "")])
def test_factorizations_match_cpu(dtype, tol, shape, layout):
    s, c, g = spd(*shape), conditioned(*shape), rnd(*shape)
    trips = set()
    trips |= check(lambda A: L.cholesky_ex(A), s, dtype=dtype, tol=tol, layouts=layout)
    trips |= check(lambda A: L.cholesky(A, upper=True), s, dtype=dtype, tol=tol, layouts=layout)
    trips |= check(L.inv, c, dtype=dtype, tol=tol * 10, layouts=layout)
    trips |= check(L.det, c / max(shape[-1], 1) ** 0.5, dtype=dtype, tol=tol * 10, layouts=layout)
    trips |= check(L.slogdet, g, dtype=dtype, tol=tol * 10, layouts=layout)
    assert not trips, f"ran through the host: {trips}"


@pytest.mark.parametrize("dtype,tol", DTYPES)
def test_solves_match_cpu(dtype, tol):
    a3, a4 = conditioned(2, 3, 3), conditioned(4, 4, seed=1)
    cases = [  # (A, B, kwargs, layouts)
        (a3, rnd(2, 3, seed=2), {}, ""), (a4, rnd(4, seed=3), {}, "TS"), (a3, rnd(3, 2, seed=4), {}, "ST"),
        (a3[:, None], rnd(5, 3, 2, seed=5), {}, ""), (a4, rnd(2, 4, seed=6), {"left": False}, "T"),
        (conditioned(40, 40, seed=7), rnd(40, 33, seed=8), {}, ""), (np.zeros((0, 0)), np.zeros((0, 2)), {}, "")]
    for A, B, kw, lay in cases:
        assert not check(lambda x, y: L.solve_ex(x, y, **kw), A, B, dtype=dtype, tol=tol * 10, layouts=lay)
    for upper, left, unit in [(True, True, False), (False, True, True), (True, False, True), (False, False, False)]:
        b = rnd(2, 3, 2, seed=9) if left else rnd(2, 2, 3, seed=9)
        assert not check(lambda x, y: L.solve_triangular(x, y, upper=upper, left=left, unitriangular=unit),
                         a3, b, dtype=dtype, tol=tol * 10, layouts="TS")
    assert not check(lambda x, y: L.solve_triangular(x, y, upper=False), a4, rnd(3, 1, 4, 2), dtype=dtype, tol=tol * 10)


@pytest.mark.parametrize("dtype,tol", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4), (3, 0), (0, 3), (1, 1), (40, 17)])
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
def test_qr_matches_lapack_signs(dtype, tol, shape, mode):
    """Householder reflections with dlarfg's signs give LAPACK's Q and R, not just a QR."""
    assert not check(lambda A: L.qr(A, mode), rnd(*shape), dtype=dtype, tol=tol * 10, layouts="T" if len(shape) == 2 else "S")


def test_info_and_errors_match_cpu():
    bad = np.stack([np.eye(3), [[1., 2., 0.], [2., 1., 0.], [0., 0., 1.]], np.zeros((3, 3))])
    for dtype, _ in DTYPES:
        c, d = both(bad, dtype)
        assert L.cholesky_ex(d).info.tolist() == L.cholesky_ex(c).info.tolist() == [0, 2, 1]
        assert L.cholesky_ex(d).info.device.type == "opencl"
        assert L.cholesky_ex(d).L[0].cpu().tolist() == np.eye(3).tolist()
        sing = np.stack([np.eye(3), [[1., 2., 3.], [2., 4., 6.], [1., 0., 1.]], np.zeros((3, 3))])
        c, d = both(sing, dtype)
        assert L.inv_ex(d).info.tolist() == L.inv_ex(c).info.tolist()
        assert L.solve_ex(d, d[..., 0]).info.tolist() == L.solve_ex(c, c[..., 0]).info.tolist()
        assert L.det(d).cpu().tolist() == pytest.approx(L.det(c).tolist(), abs=1e-6)
        s = L.slogdet(d)
        assert s.sign.cpu().tolist()[1:] == [0.0, 0.0] and s.logabsdet.cpu().tolist()[1:] == [-np.inf, -np.inf]
    d = pt.tensor(bad, device="opencl")
    with pytest.raises(L.LinAlgError, match=r"linalg.cholesky: \(Batch element 1\): .*minor of order 2"):
        L.cholesky(d)
    with pytest.raises(L.LinAlgError, match="The diagonal element 1 is zero"):
        L.inv(pt.zeros(3, 3, device="opencl"))
    with pytest.raises(L.LinAlgError, match="The solver failed because the input matrix is singular"):
        L.solve(pt.zeros(3, 3, device="opencl"), pt.ones(3, device="opencl"))


def test_gradients_match_cpu():
    a, b = conditioned(2, 4, 4), rnd(2, 4, 3, seed=1)
    out = {}
    for dev in ("cpu", "opencl"):
        A = pt.tensor(a, dtype=pt.float64, device=dev, requires_grad=True)
        B = pt.tensor(b, dtype=pt.float64, device=dev, requires_grad=True)
        S = A @ A.mT
        loss = (L.solve(A, B).sum() + L.cholesky(S).sum() + L.inv(A).sum() + L.det(A).sum()
                + L.slogdet(A).logabsdet.sum() + (L.qr(A).Q ** 2 * L.qr(A).R).sum()
                + L.solve_triangular(A, B, upper=True).sum())
        loss.backward()
        out[dev] = (A.grad.cpu().numpy(), B.grad.cpu().numpy())
    for g, w in zip(out["opencl"], out["cpu"]):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-9)


def test_host_round_trips_are_recorded_and_declared():
    A = pt.tensor(spd(3, 3), device="opencl")
    with record_host_round_trips() as trips:
        w, V = L.eigh(A)
        L.svd(A)
        L.lstsq(A, A)
        L.cholesky(A)
    assert trips == {"linalg_eigh", "linalg_svd", "linalg_lstsq"}
    assert w.device.type == V.device.type == "opencl"
    np.testing.assert_allclose(w.cpu().numpy(), np.linalg.eigvalsh(spd(3, 3)), rtol=1e-12)
    be = pt.backends.get_backend("opencl")
    assert set(OWN) <= set(be.kernels)
    declared = "\n".join(be.declarations())
    for op in ("linalg_svd", "linalg_eigh", "linalg_lstsq"):
        assert op in declared


def test_layout_of_results():
    """L and Q come back as PyTorch lays them out (L column-major), all inside their storage."""
    A = pt.tensor(spd(4, 4), device="opencl")
    Lo = L.cholesky(A)
    assert Lo.stride() == (1, 4) and L.cholesky(A, upper=True).is_contiguous()
    np.testing.assert_allclose(Lo.contiguous().cpu().numpy(), np.linalg.cholesky(spd(4, 4)), rtol=1e-12)
