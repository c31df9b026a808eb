"""Edge cases of plugtorch.linalg found by a differential check against PyTorch: empty matrices'
norms and condition numbers, singular matrices' condition numbers, batch broadcasting in
lu_solve and lstsq, complex logdet, lu_factor's error message. References are NumPy or known
answers."""
import math

import numpy as np
import pytest

import plugtorch as pt

L = pt.linalg
INF = float("inf")


@pytest.mark.parametrize("shape", [(0, 0), (2, 0, 0), (3, 0), (0, 3)])
@pytest.mark.parametrize("ord", [1, 2, INF, "fro", "nuc"])
def test_empty_matrix_norm_is_zero(shape, ord):
    # the largest column/row sum or singular value of an empty matrix is 0 (no entries)
    out = L.matrix_norm(pt.zeros(*shape, dtype=pt.float64), ord=ord)
    assert out.shape == shape[:-2] and out.dtype == pt.float64
    assert out.tolist() == ([0.0] * shape[0] if len(shape) == 3 else 0.0)


@pytest.mark.parametrize("p", [None, 2, -2, 1, -1, INF, -INF, "fro", "nuc"])
def test_empty_cond_is_zero(p):
    out = L.cond(pt.zeros(2, 0, 0, dtype=pt.complex128), p=p)
    assert out.dtype == pt.float64 and out.tolist() == [0.0, 0.0]


def test_empty_rectangular_cond_needs_square_for_other_norms():
    assert L.cond(pt.zeros(3, 0)).item() == 0.0
    with pytest.raises(RuntimeError, match=r"linalg.cond\(ord=fro\): A must be batches of square matrices"):
        L.cond(pt.zeros(3, 0), p="fro")


@pytest.mark.parametrize("p", [1, -1, INF, -INF, "fro", "nuc"])
def test_cond_of_singular_matrix_is_inf(p):
    # documented: inf where A is not invertible; the invertible batch element keeps its value
    A = pt.tensor([[[2., 0.], [0., 1.]], [[1., 2.], [2., 4.]], [[0., 0.], [0., 0.]]], dtype=pt.float64)
    out = L.cond(A, p=p).tolist()
    ref = np.linalg.cond(np.array([[2., 0.], [0., 1.]]), p=p)
    assert out[0] == pytest.approx(ref)
    assert out[1:] == [INF, INF]


def test_lu_solve_broadcasts_batch_dims():
    rng = np.random.RandomState(0)
    A = rng.randn(2, 4, 4) + 4 * np.eye(4)
    B = rng.randn(3, 1, 4, 2)
    LU, piv = L.lu_factor(pt.tensor(A))
    X = L.lu_solve(LU, piv, pt.tensor(B))
    assert X.shape == (3, 2, 4, 2)
    np.testing.assert_allclose(X.numpy(), np.linalg.solve(A, B), atol=1e-12)
    Xr = L.lu_solve(LU, piv, pt.tensor(rng.randn(3, 1, 2, 4)), left=False)
    assert Xr.shape == (3, 2, 2, 4)


def test_lstsq_matrix_rhs_with_fewer_batch_dims_broadcasts():
    # B (3, 1) is not A's shape without its last dim, so it is a matrix broadcast over A's batch
    A = np.stack([np.eye(3), np.diag([1., 2., 4.]), np.triu(np.ones((3, 3)))])
    B = np.array([[1.], [2.], [3.]])
    X = L.lstsq(pt.tensor(A), pt.tensor(B)).solution
    assert X.shape == (3, 3, 1)
    np.testing.assert_allclose(X.numpy(), np.linalg.solve(A, B), atol=1e-12)
    # B with A's shape minus the last dim stays a batch of vectors
    v = L.lstsq(pt.tensor(A), pt.tensor(np.ones((3, 3)))).solution
    assert v.shape == (3, 3)


def test_lstsq_broadcast_gradient_matches_finite_differences():
    A = pt.tensor(np.stack([np.eye(3) * 2, np.diag([1., 2., 4.])]), requires_grad=True)
    B = pt.tensor([[1.], [2.], [3.]], dtype=pt.float64, requires_grad=True)
    assert pt.autograd.gradcheck(lambda a, b: L.lstsq(a, b).solution, (A, B))


def test_logdet_complex():
    A = np.array([[1 + 1j, 2], [0.5j, 3 - 1j]])
    out = pt.logdet(pt.tensor(A))
    ref = np.log(np.linalg.det(A))
    assert out.dtype == pt.complex128
    assert out.item() == pytest.approx(ref)


def test_lu_factor_error_names_one_based_position():
    # PyTorch's message quotes LAPACK's 1-based info: U[2,2] is the second diagonal entry
    with pytest.raises(RuntimeError, match=r"^torch.linalg.lu_factor: U\[2,2\] is zero and using it on lu_solve"):
        L.lu_factor(pt.tensor([[1., 2.], [2., 4.]]))
    with pytest.raises(RuntimeError, match=r"^torch.linalg.lu_factor_ex: \(Batch element 1\): U\[1,1\] is zero"):
        L.lu_factor_ex(pt.stack([pt.eye(2), pt.zeros(2, 2)]), check_errors=True)


def test_mH_and_H_conjugate_complex_tensors():
    a = np.array([[1 + 2j, 3j], [0.5, 1 - 1j]])
    x = pt.tensor(a)
    for y in (x.mH, x.H, x.adjoint()):
        np.testing.assert_array_equal(y.numpy(), a.conj().T)
    b = np.stack([a, 2 * a])
    np.testing.assert_array_equal(pt.tensor(b).mH.numpy(), b.conj().transpose(0, 2, 1))
    assert pt.tensor(2 + 1j).mH.item() == 2 - 1j and pt.tensor(2 + 1j).H.item() == 2 - 1j
    assert pt.tensor(2 + 1j).adjoint().item() == 2 - 1j
    r = pt.tensor([[1., 2.], [3., 4.]])
    assert r.mH.tolist() == [[1., 3.], [2., 4.]] and r.mH.dtype == pt.float32
    # x^H x is Hermitian positive definite, so its Cholesky factor exists
    Lc = L.cholesky(x.mH @ x + pt.eye(2, dtype=pt.complex128))
    np.testing.assert_allclose((Lc @ Lc.mH).numpy(), a.conj().T @ a + np.eye(2), atol=1e-12)


def test_mH_and_H_reject_what_pytorch_rejects():
    with pytest.raises(RuntimeError, match=r"^tensor.mH is only supported on matrices or batches of matrices. "
                                           r"Got 1-D tensor.$"):
        pt.ones(3).mH
    with pytest.raises(RuntimeError, match=r"^tensor.H is only supported on matrices \(2-D tensors\). Got 3-D "
                                           r"tensor. For batches of matrices, consider using tensor.mH$"):
        pt.ones(2, 2, 2).H
    with pytest.raises(RuntimeError, match=r"^tensor.H is only supported on matrices \(2-D tensors\). Got 1-D tensor.$"):
        pt.ones(3).H


def test_mH_gradient():
    a = np.array([[1 + 2j, 3j], [0.5, 1 - 1j]])
    x = pt.tensor(a, requires_grad=True)
    w = np.array([[1 - 1j, 2j], [0.5, 3]])
    (x.mH * pt.tensor(w)).real.sum().backward()
    # d/dx Re sum(conj(x^T) w): grad (PyTorch's conjugate convention) = conj(d/d conj(x)) = w^T
    np.testing.assert_allclose(x.grad.numpy(), w.T, atol=1e-12)


NAN_MATRIX = [[1., float("nan")], [0., 1.]]


@pytest.mark.parametrize("fn", [L.svdvals, L.pinv, L.matrix_rank, L.cond, lambda a: L.svd(a),
                                lambda a: L.matrix_norm(a, ord="nuc")])
def test_svd_of_non_finite_input_raises_linalg_error(fn):
    # NumPy's own LinAlgError (not a RuntimeError) used to escape from the kernel
    with pytest.raises(L.LinAlgError, match=r"^linalg.svd: The algorithm failed to converge because the input "
                                            r"matrix contained non-finite values\.$"):
        fn(pt.tensor(NAN_MATRIX, dtype=pt.float64))


@pytest.mark.parametrize("name", ["eig", "eigvals"])
def test_eig_of_non_finite_input_raises(name):
    for bad in (float("nan"), INF):
        with pytest.raises(RuntimeError, match=rf"^torch.linalg.{name}: input tensor should not contain infs or NaNs\.$"):
            getattr(L, name)(pt.tensor([[1., 2.], [bad, 1.]]))


def test_cholesky_inverse_of_singular_factor_raises():
    with pytest.raises(L.LinAlgError, match=r"^cholesky_inverse: The diagonal element 2 is zero, the inversion "
                                            r"could not be completed because the input matrix is singular\.$"):
        pt.cholesky_inverse(pt.tensor([[1., 0., 0.], [2., 0., 0.], [1., 1., 1.]]))
    with pytest.raises(L.LinAlgError, match=r"^cholesky_inverse: \(Batch element 1\): The diagonal element 1"):
        pt.cholesky_inverse(pt.stack([pt.eye(2), pt.zeros(2, 2)]), upper=True)
    Lf = np.array([[2., 0.], [1., 3.]])
    np.testing.assert_allclose(pt.cholesky_inverse(pt.tensor(Lf)).numpy(), np.linalg.inv(Lf @ Lf.T), atol=1e-12)
    np.testing.assert_allclose(pt.cholesky_inverse(pt.tensor(Lf.T), upper=True).numpy(), np.linalg.inv(Lf @ Lf.T),
                               atol=1e-12)


@pytest.mark.parametrize("ord", [-1, -0.5, -2, INF, -INF])
def test_vector_norm_of_empty_input_without_identity_raises(ord):
    with pytest.raises(RuntimeError, match=rf"^linalg.vector_norm cannot compute the {ord} norm on an empty tensor"):
        L.vector_norm(pt.zeros(0, 3), ord=ord)
    with pytest.raises(RuntimeError, match=rf"^linalg.vector_norm cannot compute the {ord} norm on the dimension 0"):
        L.vector_norm(pt.zeros(0, 3), ord=ord, dim=0)
    assert L.vector_norm(pt.zeros(0, 3), ord=ord, dim=1).shape == (0,)


@pytest.mark.parametrize("ord", [0, 0.5, 1, 2])
def test_vector_norm_of_empty_input_is_zero_for_non_negative_ord(ord):
    assert L.vector_norm(pt.zeros(0, 3), ord=ord, dim=0).tolist() == [0.0, 0.0, 0.0]


def test_matrix_power_one_returns_a_new_tensor():
    A = pt.tensor([[1., 2.], [3., 4.]])
    B = L.matrix_power(A, 1)
    B[0, 0] = 100.0
    assert A.tolist() == [[1., 2.], [3., 4.]] and B.tolist() == [[100., 2.], [3., 4.]]


def test_lstsq_gelsd_of_non_finite_input_raises_linalg_error():
    # SciPy's ValueError ("illegal value in 4-th argument of internal gelsd") used to escape
    with pytest.raises(L.LinAlgError, match=r"^torch.linalg.lstsq: The algorithm failed to converge because the "
                                            r"input matrix contained non-finite values\.$"):
        L.lstsq(pt.tensor(NAN_MATRIX, dtype=pt.float64), pt.ones(2, 1, dtype=pt.float64), driver="gelsd")


def test_matrix_power_zero_is_differentiable_with_zero_gradient():
    # A^0 = I does not depend on A: the gradient is 0 (it used to raise, the result having no graph)
    A = pt.tensor([[[1., 2.], [3., 4.]], [[0., 1.], [5., 2.]]], dtype=pt.float64, requires_grad=True)
    out = L.matrix_power(A, 0)
    assert out.requires_grad and out.tolist() == [np.eye(2).tolist()] * 2
    out.sum().backward()
    assert A.grad.tolist() == np.zeros((2, 2, 2)).tolist()
    assert L.matrix_power(pt.tensor([[1, 2], [3, 4]]), 0).tolist() == [[1, 0], [0, 1]]


@pytest.mark.parametrize("dev", ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not pt.opencl.is_available(), reason="no OpenCL device"))])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_reports_a_nan_pivot(dev, upper):
    # LAPACK's reference potrf stops at a nan pivot (info = its 1-based order); OpenBLAS's passed it,
    # so the cpu kernel used to return info 0 and a nan factor, and cholesky did not raise
    nan = float("nan")
    A = pt.tensor([[[4., 0.], [0., 1.]], [[nan, 0.], [0., 1.]], [[1., 0.], [0., nan]], [[1., nan], [nan, 1.]]],
                  dtype=pt.float64, device=dev)
    L_, info = L.cholesky_ex(A, upper=upper)
    assert info.tolist() == [0, 1, 2, 2]
    assert L_[0].tolist() == [[2., 0.], [0., 1.]]
    with pytest.raises(L.LinAlgError, match=r"^linalg.cholesky: \(Batch element 1\): The factorization could "
                                            r"not be completed because the input is not positive-definite "
                                            r"\(the leading minor of order 1 is not positive-definite\)\.$"):
        L.cholesky(A, upper=upper)


@pytest.mark.parametrize("dtype", [pt.float16, pt.bfloat16])
def test_low_precision_errors_have_pytorchs_types(dtype):
    # PyTorch refuses half inputs of inv, slogdet/logdet and the svd matrix norms up front
    # (RuntimeError); its LU has no half kernel (NotImplementedError). The types were swapped.
    legacy = {pt.float16: "Half", pt.bfloat16: "BFloat16"}[dtype]
    A = pt.ones(2, 2, dtype=dtype)
    for op, call in (("linalg.inv", lambda: L.inv(A)), ("linalg.inv", lambda: L.inv_ex(A)),
                     ("linalg.inv", lambda: L.matrix_power(A, -1)), ("linalg.slogdet", lambda: L.slogdet(A)),
                     ("linalg.slogdet", lambda: pt.logdet(A)), ("linalg.matrix_norm", lambda: L.matrix_norm(A, "nuc")),
                     ("linalg.matrix_norm", lambda: L.matrix_norm(A, -2))):
        with pytest.raises(RuntimeError, match=rf"^{op}: Low precision dtypes not supported. Got {legacy};") as e:
            call()
        assert type(e.value) is RuntimeError
    with pytest.raises(NotImplementedError, match=r"lu_factor_ex: Expected a floating point tensor"):
        L.lu_factor(A)
    with pytest.raises(NotImplementedError, match=r"lu_factor_ex: Expected a floating point tensor"):
        L.lu(pt.ones(2, 2, dtype=pt.int64))
    assert L.matrix_norm(pt.tensor([[3., 0.], [4., 0.]], dtype=dtype)).item() == 5.0    # fro: a vector norm


def test_linalg_vander_refuses_what_pytorch_refuses():
    # PyTorch's linalg.vander needs N > 1 and a float32/64, complex or integer x; plugtorch returned
    # a column of ones for N = 1 and computed bool/half matrices
    for x, N, msg in ((pt.tensor([1., 2.]), 1, r"^linalg.vander: N must be greater than 1 \(got N=1\)$"),
                      (pt.tensor([2.]), None, r"^linalg.vander: N must be greater than 1 \(got N=1\)$"),
                      (pt.tensor([True, False]), None, r"^linalg.vander supports floating point, complex, and integer "
                                                       r"tensors, but got plugtorch.bool;"),
                      (pt.tensor([1., 2.], dtype=pt.float16), None, r"but got plugtorch.float16;")):
        with pytest.raises(RuntimeError, match=msg):
            L.vander(x, N=N)
    out = L.vander(pt.tensor([1, 2], dtype=pt.uint8), N=3)
    assert out.dtype == pt.int64 and out.tolist() == np.vander([1, 2], 3, increasing=True).tolist()
    assert pt.vander(pt.tensor([1., 2.]), N=1).tolist() == [[1.], [1.]]      # the older function allows it
