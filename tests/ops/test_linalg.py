"""matmul with PyTorch's 1-d/batched broadcasting rules, mm, bmm, dot, outer, einsum."""
import numpy as np
import pytest

import plugtorch as pt


def r(*shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed + len(shape)).standard_normal(shape).astype(dtype)


SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
          ((2, 3), (5, 3, 4)), ((5, 1, 2, 3), (4, 3, 2)), ((4, 2, 3), (3,)), ((3,), (4, 3, 2)),
          ((0, 3), (3, 2)), ((2, 0), (0, 3))]


@pytest.mark.parametrize("sa,sb", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_matmul_shapes(sa, sb, dtype):
    a, b = r(*sa, dtype=np.float64), r(*sb, dtype=np.float64, seed=1)
    if dtype is np.int64:
        a, b = np.round(a * 3), np.round(b * 3)
    a, b = a.astype(dtype), b.astype(dtype)
    got = pt.tensor(a) @ pt.tensor(b)
    want = np.matmul(a, b)
    assert tuple(got.shape) == want.shape
    assert got.dtype.numpy == np.dtype(dtype)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(pt.matmul(pt.tensor(a), pt.tensor(b)).numpy(), want, rtol=1e-5, atol=1e-5)


def test_matmul_low_precision_and_noncontiguous():
    a, b = r(4, 3), r(4, 5, seed=2)
    got = pt.tensor(a).t() @ pt.tensor(b)
    np.testing.assert_allclose(got.numpy(), a.T @ b, rtol=1e-12)
    h = pt.tensor(a, dtype=pt.float16).t() @ pt.tensor(b, dtype=pt.float16)
    assert h.dtype is pt.float16
    np.testing.assert_allclose(h.numpy().astype(np.float64), a.T @ b, rtol=2e-2, atol=2e-2)
    bf = pt.tensor(a, dtype=pt.bfloat16).t() @ pt.tensor(b, dtype=pt.bfloat16)
    assert bf.dtype is pt.bfloat16
    np.testing.assert_allclose(bf.numpy().astype(np.float64), a.T @ b, rtol=5e-2, atol=5e-2)
    x = pt.tensor(r(3, 3))
    y = x.clone()
    y @= x
    np.testing.assert_allclose(y.numpy(), x.numpy() @ x.numpy())


def test_mm_bmm_dot_outer():
    a, b = r(2, 3), r(3, 4, seed=3)
    np.testing.assert_allclose(pt.mm(pt.tensor(a), pt.tensor(b)).numpy(), a @ b)
    A, B = r(5, 2, 3), r(5, 3, 4, seed=4)
    np.testing.assert_allclose(pt.bmm(pt.tensor(A), pt.tensor(B)).numpy(), A @ B)
    v, w = r(4), r(4, seed=5)
    assert pt.dot(pt.tensor(v), pt.tensor(w)).item() == pytest.approx(v @ w)
    assert pt.tensor([1, 2]).dot(pt.tensor([3, 4])).item() == 11
    np.testing.assert_allclose(pt.outer(pt.tensor(v), pt.tensor(w)).numpy(), np.outer(v, w))


@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(5, 2, 3), (5, 3, 4)]),
    ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("ij->ji", [(2, 3)]), ("i,i->", [(4,), (4,)]),
    ("i,j->ij", [(3,), (4,)]), ("ij->", [(2, 3)]), ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("i j , j k -> i k", [(2, 3), (3, 4)]),
    # pairwise bmm contractions: subscripts summed within one operand, broadcast size-1 dims,
    # three operands, nothing left to contract, empty contractions
    ("ij,kl->", [(2, 3), (4, 5)]), ("ijk,jl,lk->i", [(2, 3, 4), (3, 5), (5, 4)]), ("ij,jk,kl->li", [(2, 3), (3, 4), (4, 5)]),
    ("bij,bjk->bik", [(1, 3, 1), (4, 1, 2)]), ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("ab,ab,ab->a", [(3, 4), (3, 4), (3, 4)]), ("ii,ij->j", [(3, 3), (3, 4)]), ("ij,jk->ki", [(3, 0), (0, 5)]),
])
def test_einsum(eq, shapes):
    ops = [r(*s, seed=i) for i, s in enumerate(shapes)]
    got = pt.einsum(eq, *[pt.tensor(o) for o in ops])
    want = np.einsum(eq.replace(" ", ""), *ops)
    assert tuple(got.shape) == np.shape(want)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)
    got2 = pt.einsum(eq, [pt.tensor(o) for o in ops])
    np.testing.assert_allclose(got2.numpy(), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("device", ["cpu", "opencl"])
def test_einsum_sublist_form(device):
    # einsum(op0, sublist0, op1, sublist1, ..., [out]) raised TypeError (equation must be str)
    a, b = r(2, 3), r(3, 4, seed=1)
    ta, tb = pt.tensor(a, device=device), pt.tensor(b, device=device)
    np.testing.assert_allclose(pt.einsum(ta, [0, 1], tb, [1, 2], [0, 2]).cpu().numpy(),
                               np.einsum(a, [0, 1], b, [1, 2], [0, 2]), rtol=1e-10)
    np.testing.assert_allclose(pt.einsum(ta, [0, 1], tb, [1, 2]).cpu().numpy(), a @ b, rtol=1e-10)
    np.testing.assert_allclose(pt.einsum(ta, [..., 1], [1, ...]).cpu().numpy(), a.T)
    sq = r(3, 3, seed=2)
    np.testing.assert_allclose(pt.einsum(pt.tensor(sq, device=device), [0, 0], [0]).cpu().numpy(), np.diag(sq))
    with pytest.raises(ValueError, match=r"einsum\(\): subscript .* valid range \[0, 52\), got 60"):
        pt.einsum(ta, [0, 60])
    with pytest.raises(TypeError, match=r"einsum\(\): the sublist form .* do not pair up"):
        pt.einsum(ta, [0, 1], tb)


def test_complex_einsum_keeps_its_dtype():
    # a subscript summed within one complex operand went through the integer rule (sum widens to
    # int64): einsum("ij->i", [[1+2j, 3j]]) was tensor([1]) instead of [1+5j]
    z = np.array([[1 + 2j, 3j]])
    got = pt.einsum("ij->i", pt.tensor(z))
    assert got.dtype is pt.complex128
    np.testing.assert_allclose(got.numpy(), [1 + 5j])
    a, b = r(2, 3) + 1j * r(2, 3, seed=1), r(3, 4, seed=2) - 2j * r(3, 4, seed=3)
    for eq in ("ij,kl->", "ij,jk->ik", "ij,jk->"):
        got = pt.einsum(eq, pt.tensor(a), pt.tensor(b.T.copy() if eq == "ij,kl->" else b))
        assert got.dtype is pt.complex128
        np.testing.assert_allclose(got.numpy(), np.einsum(eq, a, b.T.copy() if eq == "ij,kl->" else b), rtol=1e-12)


def test_linalg_errors():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"):
        pt.ones(2, 3) @ pt.ones(4, 5)
    with pytest.raises(RuntimeError, match="both arguments to matmul need to be at least 1D"):
        pt.matmul(pt.tensor(1.0), pt.ones(2))
    with pytest.raises(RuntimeError, match="inconsistent tensor size"):
        pt.ones(2) @ pt.ones(3)
    with pytest.raises(RuntimeError, match="expected both arguments to have the same dtype.*float32 and plugtorch.float64"):
        pt.ones(2, 2) @ pt.ones(2, 2, dtype=pt.float64)
    with pytest.raises(RuntimeError, match=r"mm\(\): expected 2-D tensors"):
        pt.mm(pt.ones(3), pt.ones(3, 2))
    with pytest.raises(RuntimeError, match="bmm.*3D"):
        pt.bmm(pt.ones(2, 2), pt.ones(2, 2))
    with pytest.raises(RuntimeError, match="dot.*1D tensors expected"):
        pt.dot(pt.ones(2, 2), pt.ones(2))
    with pytest.raises(RuntimeError, match="not broadcastable"):
        pt.ones(2, 2, 3) @ pt.ones(3, 3, 4)
    with pytest.raises(TypeError, match="argument 'other' must be Tensor"):
        pt.matmul(pt.ones(2), [1, 2])
    with pytest.raises(RuntimeError, match="einsum.*fewer operands were provided than specified.*1 given, 2 specified"):
        pt.einsum("ij,jk", pt.ones(2, 2))


def test_linalg_namespace():
    a, b = r(3, 4), r(3, 4, seed=7)
    np.testing.assert_allclose(pt.linalg.vecdot(pt.tensor(a), pt.tensor(b)).numpy(), (a * b).sum(-1))
    np.testing.assert_allclose(pt.linalg.matmul(pt.tensor(a), pt.tensor(b).t()).numpy(), a @ b.T)
    np.testing.assert_allclose(pt.linalg.vector_norm(pt.tensor(a), dim=0).numpy(), np.linalg.norm(a, axis=0))


@pytest.mark.parametrize("ord", [2, 3, 1.5, 0.5])
def test_vector_norm_gradient_at_zero_is_zero(ord):
    # PyTorch's norm backward gives 0 at a zero vector (and at a zero entry for ord < 1), where
    # the decomposition's root (and |x|^p) have infinite slopes: it used to give NaN.
    x = pt.zeros(3, dtype=pt.float64, requires_grad=True)
    pt.linalg.vector_norm(x, ord).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(3))
    x = pt.tensor([[0.0, 0.0], [0.0, 2.0]], dtype=pt.float64, requires_grad=True)
    pt.linalg.vector_norm(x, ord, dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 0.0], [0.0, 1.0]], rtol=1e-12, atol=0)
    y = pt.tensor([1.0, -2.0, 0.5], dtype=pt.float64, requires_grad=True)   # away from 0: d/dx_i
    pt.linalg.vector_norm(y, ord).backward()
    a = np.array([1.0, -2.0, 0.5])
    want = np.sign(a) * np.abs(a) ** (ord - 1) * np.sum(np.abs(a) ** ord) ** (1 / ord - 1)
    np.testing.assert_allclose(y.grad.numpy(), want, rtol=1e-12)
