"""The cuda backend's linalg and FFT kernels (backends/cuda/linalg_kernels.py) run with NumPy standing
in for CuPy (the same API), as a backend registered for the test: the conformance entries of every
linalg and fft op against cpu, and the paths that fall back to the host for info and empty inputs.
What CuPy itself does differently (cuSOLVER's batched routines) needs a GPU: tests/backends/cuda."""
import contextlib

import numpy as np
import pytest
import scipy.linalg

import plugtorch as pt
from plugtorch.backends.cpu import CPUBackend
from plugtorch.backends.cuda.linalg_kernels import make_cuda_linalg_kernels
from plugtorch.conformance import FAIL, opdb, run


@contextlib.contextmanager
def _errstate(linalg=None):
    yield    # NumPy raises LinAlgError by itself, as CuPy does under errstate(linalg="raise")


def _calls(name, counts):
    def wrap(k):
        def f(*args):
            counts[name] = counts.get(name, 0) + 1
            return k(*args)
        return f
    return wrap


@pytest.fixture
def cudalike():
    calls = {}
    kernels = make_cuda_linalg_kernels(np, errstate=_errstate, solve_triangular=scipy.linalg.solve_triangular,
                                       to_host=np.asarray)

    class CudaLike(CPUBackend):
        name = "cudalike"

        def __init__(self):
            super().__init__()
            self.kernels.update({n: _calls(n, calls)(k) for n, k in kernels.items()})
    pt.backends.register(CudaLike())
    try:
        yield calls
    finally:
        pt.backends.unregister("cudalike")


def test_the_table_covers_the_factorizations_but_lstsq():
    kernels = make_cuda_linalg_kernels(np, errstate=_errstate, solve_triangular=scipy.linalg.solve_triangular,
                                       to_host=np.asarray)
    from plugtorch.dispatch.host import host_ops
    # (and the complex FFTs and eig/eigvals, complex results: cuda declares no complex dtypes yet,
    # so they never run there; the special functions are another table's; cuSOLVER, as CuPy wraps
    # it, has no Bunch-Kaufman LDL^T)
    factorizations = [n for n in host_ops(kernels) if n.startswith(("linalg_", "fft_", "_fft_"))]
    assert factorizations == ["fft_fftn", "fft_ifftn", "fft_rfftn", "linalg_eig", "linalg_eigvals",
                              "linalg_ldl_factor_ex", "linalg_ldl_solve", "linalg_lstsq"]


def test_conformance_of_the_cuda_kernels(cudalike):
    entries = [e for e in opdb.select(["linalg_*", "fft_*", "_fft_*"])]
    results = run(["cudalike"], entries, max_examples=2)
    failed = [(r.op, r.dtype, str(r.failures[0])[:300]) for r in results if r.status == FAIL]
    assert not failed
    for op in ("linalg_cholesky_ex", "linalg_svd", "linalg_qr", "fft_irfftn", "linalg_solve_triangular"):
        assert cudalike.get(op), f"{op}'s cuda kernel did not run"


def test_info_comes_from_the_host_when_a_matrix_fails(cudalike):
    bad = pt.tensor([[[1., 0.], [0., 1.]], [[1., 2.], [2., 1.]]], device="cudalike")
    assert pt.linalg.cholesky_ex(bad).info.tolist() == [0, 2]
    sing = pt.tensor([[[1., 2.], [2., 4.]], [[2., 0.], [0., 2.]]], device="cudalike")
    assert pt.linalg.inv_ex(sing).info.tolist() == [2, 0]
    r = pt.linalg.solve_ex(sing, pt.ones(2, 2, device="cudalike"))
    assert r.info.tolist() == [2, 0] and r.result[1].tolist() == [0.5, 0.5]
    with pytest.raises(pt.linalg.LinAlgError, match=r"\(Batch element 1\)"):
        pt.linalg.cholesky(bad)
    # a nan pivot, which the batched factorisation may pass: LAPACK's info (order 2 here)
    nan = pt.tensor([[[4., 0.], [0., 1.]], [[1., 0.], [0., float("nan")]]], device="cudalike")
    assert pt.linalg.cholesky_ex(nan).info.tolist() == [0, 2]
    assert pt.linalg.cholesky_ex(nan, upper=True).info.tolist() == [0, 2]
