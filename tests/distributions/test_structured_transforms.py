"""Structured transforms (stick breaking, Cholesky factors, correlation Cholesky, reshape, cat/stack,
softplus, CDF) against numerical Jacobians, and biject_to / transform_to landing in their constraints."""
import numpy as np
import pytest
import scipy.stats as st

import plugtorch as pt
import plugtorch.distributions as D
from plugtorch.distributions import constraints as C
from plugtorch.distributions import transforms as T


def t(x, **kw):
    return pt.tensor(np.asarray(x, dtype=np.float64), **kw)


def close(a, b, tol=1e-9):
    np.testing.assert_allclose(a.detach().numpy() if isinstance(a, pt.Tensor) else a, b, rtol=tol, atol=tol)


def numeric_log_det(f, x, h=1e-6):
    """log|det J| of f: R^n -> R^n at x by central differences."""
    n = x.size
    J = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = h
        J[:, i] = (f(x + e) - f(x - e)) / (2 * h)
    return np.linalg.slogdet(J)[1]


def test_stick_breaking():
    tr = T.StickBreakingTransform()
    x = np.array([0.3, -1.2, 0.8])
    y = tr(t(x))
    assert tuple(y.shape) == (4,) and bool(C.simplex.check(y)) and tr.forward_shape((2, 3)) == (2, 4)
    close(tr.inv(y), x, 1e-10)
    ref = numeric_log_det(lambda v: tr(t(v)).numpy()[:-1], x)
    close(tr.log_abs_det_jacobian(t(x), y), ref, 1e-7)


def test_corr_cholesky():
    tr = T.CorrCholeskyTransform()
    x = np.array([0.3, -1.2, 0.8])
    y = tr(t(x))
    assert tuple(y.shape) == (3, 3) and bool(C.corr_cholesky.check(y))
    close((y @ y.mT).diagonal(), np.ones(3), 1e-12)   # a correlation matrix
    close(tr.inv(y), x, 1e-10)
    rows, cols = np.tril_indices(3, -1)
    ref = numeric_log_det(lambda v: tr(t(v)).numpy()[rows, cols], x)
    close(tr.log_abs_det_jacobian(t(x), y), ref, 1e-7)
    with pytest.raises(ValueError, match="Input is not a flattened lower-diagonal number"):
        tr.forward_shape((4,))


def test_matrix_and_shape_transforms():
    x = np.random.default_rng(0).standard_normal((2, 3, 3))
    L = T.LowerCholeskyTransform()(t(x))
    assert bool(C.lower_cholesky.check(L).all())
    close(T.LowerCholeskyTransform().inv(L), np.tril(x), 1e-12)
    P = T.PositiveDefiniteTransform()(t(x))
    assert bool(C.positive_definite.check(P).all())
    close(T.PositiveDefiniteTransform().inv(P), np.tril(x), 1e-10)
    r = T.ReshapeTransform((2, 3), (6,))
    assert tuple(r(pt.zeros(4, 2, 3)).shape) == (4, 6) and r.inverse_shape((4, 6)) == (4, 2, 3)
    assert tuple(r.log_abs_det_jacobian(pt.zeros(4, 2, 3), pt.zeros(4, 6)).shape) == (4,)
    with pytest.raises(ValueError, match="in_shape, out_shape have different numbers of elements"):
        T.ReshapeTransform((2, 3), (5,))
    sp = T.SoftplusTransform()
    v = np.array([-3.0, 0.2, 4.0])
    close(sp(t(v)), np.log1p(np.exp(v))), close(sp.inv(sp(t(v))), v, 1e-12)
    close(sp.log_abs_det_jacobian(t(v), sp(t(v))), np.log(1 / (1 + np.exp(-v))))


def test_cat_stack_independent_cdf():
    cat = T.CatTransform([T.ExpTransform(), T.identity_transform], dim=0, lengths=[2, 1])
    x = t([0.5, -1.0, 3.0])
    close(cat(x), [np.exp(0.5), np.exp(-1.0), 3.0])
    close(cat.inv(cat(x)), x.numpy()), close(cat.log_abs_det_jacobian(x, cat(x)), [0.5, -1.0, 0.0])
    stack = T.StackTransform([T.ExpTransform(), T.SigmoidTransform()], dim=1)
    z = t([[0.5, 0.0], [1.0, 2.0]])
    close(stack(z), [[np.exp(0.5), 0.5], [np.exp(1.0), 1 / (1 + np.exp(-2.0))]])
    close(stack.inv(stack(z)), z.numpy(), 1e-12)
    with pytest.raises(AssertionError, match=r"tensor.size\(1\) = 3 must equal len\(transforms\) 2"):
        stack(pt.zeros(2, 3))
    ind = T.IndependentTransform(T.ExpTransform(), 1)
    close(ind.log_abs_det_jacobian(z, ind(z)), [0.5, 3.0])
    cdf = T.CumulativeDistributionTransform(D.Normal(t(0.0), t(1.0)))
    close(cdf(t([0.3])), st.norm.cdf(0.3)), close(cdf.log_abs_det_jacobian(t(0.3), None), st.norm.logpdf(0.3))


CONSTRAINTS = [C.real, C.positive, C.nonnegative, C.greater_than(1.5), C.less_than(-2.0), C.interval(-1.0, 3.0),
               C.unit_interval, C.half_open_interval(0.0, 2.0), C.simplex, C.independent(C.positive, 1),
               C.corr_cholesky, C.cat([C.positive, C.real], lengths=[1, 2], dim=-1),
               C.stack([C.positive, C.unit_interval, C.real], dim=-1)]


@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
def test_registries_land_in_the_constraint(registry):
    reg = getattr(D, registry)
    x = t(np.random.default_rng(1).standard_normal((5, 3)))
    for c in CONSTRAINTS:
        tr = reg(c)
        y = tr(x)
        assert bool(c.check(y).all()), (registry, c)
        if tr.bijective:
            close(tr.inv(y), x.numpy(), 1e-8)
    for c in (C.lower_cholesky, C.positive_definite):
        if registry == "transform_to":
            assert bool(c.check(reg(c)(t(np.random.default_rng(2).standard_normal((3, 3))))).all())
        else:
            with pytest.raises(NotImplementedError, match=f"Cannot transform _{type(c).__name__[1:]} constraints"):
                reg(c)
    with pytest.raises(TypeError, match="Expected constraint to be either a Constraint subclass or instance"):
        reg.register(int, lambda c: T.identity_transform)


def test_transform_to_optimises_a_constrained_parameter():
    # the common use: a free parameter pushed through transform_to stays in the constraint
    free = t([0.0, 0.0], requires_grad=True)
    scale = D.transform_to(C.positive)(free)
    D.Normal(t(0.0), scale).log_prob(t([1.0, 2.0])).sum().backward()
    close(free.grad, [1.0 - 1.0, 4.0 - 1.0])   # d/du of -u - x^2 exp(-2u) / 2 at u = 0
