"""Bad input to plugtorch.linalg: PyTorch's exception types and messages (torch 2.13), the
LinAlgError class, and the ``*_ex`` functions' info."""
import pytest

import plugtorch as pt

L = pt.linalg
NOT_PD = pt.tensor([[1., 2.], [2., 1.]])
SINGULAR = pt.tensor([[1., 2.], [2., 4.]])


def test_linalg_error_class():
    assert issubclass(L.LinAlgError, RuntimeError)
    assert L.LinAlgError.__module__.startswith("plugtorch")


@pytest.mark.parametrize("fn,msg", [
    (lambda: L.cholesky(NOT_PD), r"^linalg.cholesky: The factorization could not be completed because the input is not "
                                 r"positive-definite \(the leading minor of order 2 is not positive-definite\)\.$"),
    (lambda: L.cholesky(pt.stack([pt.eye(2), NOT_PD])), r"^linalg.cholesky: \(Batch element 1\): The factorization"),
    (lambda: L.inv(SINGULAR), r"^linalg.inv: The diagonal element 2 is zero, the inversion could not be completed "
                              r"because the input matrix is singular\.$"),
    (lambda: L.inv(pt.zeros(3, 3)), "The diagonal element 1 is zero"),
    (lambda: L.inv(pt.stack([pt.eye(2), pt.zeros(2, 2)])), r"^linalg.inv: \(Batch element 1\): The diagonal element 1"),
    (lambda: L.solve(pt.zeros(3, 3), pt.ones(3)), r"^torch.linalg.solve: The solver failed because the input matrix is singular\.$"),
    (lambda: L.solve(pt.stack([pt.eye(2), SINGULAR]), pt.ones(2, 2)), r"\(Batch element 1\): The solver failed"),
    (lambda: L.cholesky_ex(NOT_PD, check_errors=True), "linalg.cholesky_ex: The factorization"),
    (lambda: L.inv_ex(SINGULAR, check_errors=True), "linalg.inv_ex: The diagonal element 2"),
    (lambda: L.solve_ex(SINGULAR, pt.ones(2), check_errors=True), "linalg.solve_ex: The solver failed"),
])
def test_value_errors_raise_linalg_error(fn, msg):
    with pytest.raises(L.LinAlgError, match=msg):
        fn()


def test_ex_functions_return_info():
    out = L.cholesky_ex(pt.stack([pt.eye(2), NOT_PD, pt.zeros(2, 2)]))
    assert out.info.tolist() == [0, 2, 1] and out.info.dtype is pt.int32
    assert out.L[0].tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert L.inv_ex(pt.stack([SINGULAR, pt.eye(2)])).info.tolist() == [2, 0]
    r = L.solve_ex(pt.stack([SINGULAR, 2 * pt.eye(2)]), pt.ones(2, 2))
    assert r.info.tolist() == [2, 0] and r.result[1].tolist() == [0.5, 0.5]
    assert L.det(SINGULAR).item() == 0.0    # det, slogdet, solve_triangular never raise


@pytest.mark.parametrize("fn,exc,msg", [
    # dtypes: integers are RuntimeError (eigh's NotImplementedError), float16 NotImplementedError, as PyTorch
    (lambda: L.cholesky(pt.ones(3, 3, dtype=pt.int64)), RuntimeError,
     "linalg.cholesky: Expected a floating point or complex tensor as input. Got Long"),
    (lambda: L.inv(pt.ones(2, 2, dtype=pt.int32)), RuntimeError, "Got Int"),
    (lambda: L.det(pt.ones(2, 2, dtype=pt.bool)), RuntimeError, "Got Bool"),
    (lambda: L.eigh(pt.eye(3, dtype=pt.int64)), NotImplementedError, "linalg.eigh.*Long"),
    (lambda: L.solve_triangular(pt.ones(3, 3, dtype=pt.int64), pt.ones(3, 1, dtype=pt.int64), upper=True),
     NotImplementedError, "Long"),
    (lambda: L.cholesky(pt.eye(3, dtype=pt.float16)), NotImplementedError, "linalg.cholesky.*Half"),
    (lambda: L.svdvals(pt.eye(3, dtype=pt.bfloat16)), NotImplementedError, "BFloat16"),
    (lambda: L.lstsq(pt.ones(3, 3, dtype=pt.int64), pt.ones(3, 3, dtype=pt.int64)), RuntimeError,
     "This function doesn't handle types other than float and double"),
    (lambda: L.pinv(pt.ones(3, 2, dtype=pt.int64)), RuntimeError,
     r"linalg.pinv\(Long\{\[3, 2\]\}\): expected a tensor with 2 or more dimensions of float"),
    (lambda: L.matrix_rank(pt.ones(3, 3, dtype=pt.int64)), RuntimeError, "doesn't handle types other than float"),
    (lambda: L.vecdot(pt.ones(2, 3, dtype=pt.int64), pt.ones(3, dtype=pt.int64)), RuntimeError,
     "linalg.vecdot: Expected a floating point or complex tensor as input. Got Long"),
    (lambda: L.matrix_norm(pt.ones(3, 3, dtype=pt.int64)), RuntimeError, "linalg.matrix_norm: Expected a floating"),
    (lambda: L.cross(pt.ones(3, dtype=pt.bool), pt.ones(3, dtype=pt.bool)), NotImplementedError, "Bool"),
    # shapes
    (lambda: L.cholesky(pt.ones(2, 3)), RuntimeError,
     "linalg.cholesky: A must be batches of square matrices, but they are 2 by 3 matrices"),
    (lambda: L.det(pt.ones(3)), RuntimeError, "linalg.det: The input tensor A must have at least 2 dimensions"),
    (lambda: L.svd(pt.ones(3)), RuntimeError, "linalg.svd: The input tensor A must have at least 2 dimensions"),
    (lambda: L.solve(pt.eye(3), pt.ones(4)), RuntimeError,
     r"linalg.solve: Incompatible shapes of A and B for the equation AX = B \(3x3 and 4x1\)"),
    (lambda: L.solve(pt.eye(3), pt.ones(3), left=False), RuntimeError, r"equation XA = B \(3x3 and 3x1\)"),
    (lambda: L.solve(pt.eye(3), pt.tensor(1.)), RuntimeError, "The input tensor B must have at least"),
    (lambda: L.solve(pt.eye(3).expand(2, 3, 3), pt.ones(3, 3, 1)), RuntimeError, "broadcast"),
    (lambda: L.solve(pt.eye(3), pt.ones(3, dtype=pt.float64)), RuntimeError,
     "linalg.solve: Expected A and B to have the same dtype, but found A of type Float and B of type Double"),
    (lambda: L.solve_triangular(pt.eye(3), pt.ones(4, 2), upper=True), RuntimeError,
     r"linalg.solve_triangular: Incompatible shapes of A and B for the equation AX = B \(3x3 and 4x2\)"),
    (lambda: L.solve_triangular(pt.eye(3), pt.ones(3), upper=True), RuntimeError,
     "linalg.solve_triangular: The input tensor B must have at least 2 dimensions"),
    (lambda: L.solve_triangular(pt.eye(3), pt.ones(3, 1)), TypeError, "upper"),
    (lambda: L.lstsq(pt.ones(3, 2), pt.ones(4, 1)), RuntimeError,
     r"torch.linalg.lstsq: input.size\(-2\) should match other.size\(-2\)"),
    (lambda: L.lstsq(pt.ones(3), pt.ones(3)), RuntimeError, "torch.linalg.lstsq: input must have at least 2 dimensions"),
    (lambda: L.lstsq(pt.ones(3, 2), pt.ones(3, 1, dtype=pt.float64)), RuntimeError,
     "Expected input and other to have the same dtype"),
    (lambda: L.cross(pt.ones(3, 2), pt.ones(3, 2)), RuntimeError,
     "linalg.cross: inputs dimension -1 must have length 3. Got 2 and 2"),
    (lambda: L.cross(pt.ones(2, 3), pt.ones(4, 3)), RuntimeError, "broadcast"),
    (lambda: L.vecdot(pt.ones(2, 3), pt.ones(3, dtype=pt.float64)), RuntimeError,
     "linalg.vecdot: Expected x and y to have the same dtype, but found x of type Float and y of type Double"),
    (lambda: L.matrix_norm(pt.ones(3)), RuntimeError, "linalg.matrix_norm: The input tensor A must have at least 2"),
    (lambda: L.matrix_norm(pt.ones(3, 3), ord=3), RuntimeError, "linalg.matrix_norm: Order 3 not supported"),
    (lambda: L.matrix_norm(pt.ones(3, 3), dim=(0, 0)), RuntimeError, r"dims must be different. Got \(0, 0\)"),
    (lambda: L.matrix_norm(pt.ones(3, 3), dim=(0,)), RuntimeError, "dim must be a 2-tuple"),
    (lambda: L.norm(pt.ones(3, 3, 3), ord=2), RuntimeError,
     "linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got 3D."),
    (lambda: L.norm(pt.ones(3, 3, 3), dim=(0, 1, 2)), RuntimeError, r"must be of length 1 or 2. Got \[0, 1, 2\]"),
    (lambda: L.norm(pt.ones(3), ord="nuc"), RuntimeError, "linalg.matrix_norm: The input tensor A must have at least 2"),
    # arguments
    (lambda: L.eigh(pt.eye(3), UPLO="X"), RuntimeError, "Expected UPLO argument to be 'L' or 'U', but got X"),
    (lambda: L.qr(pt.ones(3, 3), mode="x"), RuntimeError,
     "qr received unrecognized mode 'x' but expected one of 'reduced' \\(default\\), 'r', or 'complete'"),
    (lambda: L.svd(pt.ones(3, 3), driver="gesvd"), RuntimeError,
     "keyword argument `driver=` is only supported on CUDA inputs with cuSOLVER backend"),
    (lambda: L.lstsq(pt.ones(3, 2), pt.ones(3, 1), driver="x"), RuntimeError,
     r"parameter `driver` should be one of \(gels, gelsy, gelsd, gelss\)"),
    (lambda: L.cholesky([[1.0]]), TypeError, "must be Tensor"),
    (lambda: L.cholesky(pt.eye(2), upper=1), TypeError, "'upper' must be bool"),
])
def test_argument_errors(fn, exc, msg):
    with pytest.raises(exc, match=msg):
        fn()


def test_device_mismatch(altcpu):
    with pytest.raises(RuntimeError, match="same device"):
        L.solve(pt.eye(2), pt.ones(2, device=altcpu).reshape(2, 1))


def test_a_traced_graph_checks_its_own_inputs():
    """The info check is a node of a plugtorch.jit graph: a replay with a singular input raises."""
    traced = pt.jit.trace(lambda A, b: L.solve(A, b).sum() + L.cholesky(A).sum(), (2 * pt.eye(3), pt.ones(3)))
    assert traced(4 * pt.eye(3), pt.ones(3)).item() == pytest.approx(0.75 + 6.0)
    with pytest.raises(L.LinAlgError, match="torch.linalg.solve: The solver failed because the input matrix is singular"):
        traced(pt.zeros(3, 3), pt.ones(3))
