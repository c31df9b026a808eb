"""gradcheck over every differentiable op of the registry, gradgradcheck over every formula
family, and the gradcheck report itself."""
from __future__ import annotations

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.autograd import GradcheckError, gradcheck, gradgradcheck
from plugtorch.dispatch.registry import OPS

from .op_samples import SAMPLES, as_function, flat_inputs
from .test_function import Exp

DIFFERENTIABLE = sorted(n for n, op in OPS.items() if op.differentiable)


def test_every_differentiable_op_has_a_sample():
    missing = [n for n in DIFFERENTIABLE if n not in SAMPLES]
    assert not missing, (f"differentiable ops without gradcheck samples: {missing}; add an entry "
                         "to tests/autograd/op_samples.py")


def test_no_stale_samples():
    assert not [n for n in SAMPLES if n not in OPS]


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradcheck_op(name):
    if name not in SAMPLES:
        pytest.fail(f"no sample for op '{name}'")
    s = SAMPLES[name](np.random.default_rng(0))
    inputs = flat_inputs(s)
    assert inputs, f"sample of '{name}' has no input requiring grad"
    assert gradcheck(as_function(name, s), inputs)


# at least one op of each formula family
GRADGRAD = ["exp", "log", "sqrt", "tanh", "sigmoid", "sin", "abs", "reciprocal", "rsqrt",
            "mul", "div", "pow", "atan2", "sub", "maximum",
            "sum", "prod", "amax", "cumsum", "cumprod", "logsumexp", "softmax", "log_softmax", "var",
            "_matmul", "matmul", "einsum",
            "view", "permute", "expand", "slice", "select", "flip", "unbind", "diagonal",
            "index", "index_put", "gather", "scatter_add", "masked_select",
            "cat", "stack", "where", "clamp", "sort", "topk", "copy_"]


def test_gradgrad_list_covers_25_ops():
    assert len(set(GRADGRAD)) >= 25


@pytest.mark.parametrize("name", GRADGRAD)
def test_gradgradcheck_op(name):
    s = SAMPLES[name](np.random.default_rng(1))
    assert gradgradcheck(as_function(name, s), flat_inputs(s))


# ---- gradcheck itself ----------------------------------------------------------------------
class WrongExp(Exp):
    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y * 1.5      # wrong on purpose


def test_gradcheck_reports_mismatching_entries():
    x = pt.tensor([0.1, 0.2, 0.3], dtype=pt.float64, requires_grad=True)
    with pytest.raises(GradcheckError) as e:
        gradcheck(WrongExp.apply, (x,))
    msg = str(e.value)
    assert "Jacobian mismatch for output 0 with respect to input 0" in msg
    assert "3 of 9 entries differ" in msg
    # the diagonal entries are named with both values
    for k in range(3):
        assert f"({k}, {k})" in msg
    assert f"{np.exp(0.3):.6e}" in msg and f"{1.5 * np.exp(0.3):.6e}" in msg


def test_gradcheck_raise_exception_false_returns_false():
    x = pt.tensor([0.5], dtype=pt.float64, requires_grad=True)
    assert gradcheck(WrongExp.apply, (x,), raise_exception=False) is False


def test_gradgradcheck_catches_wrong_second_derivative():
    class WrongSecond(pt.autograd.Function):
        # y = x^3, dy = 3x^2 g, but the backward hides x from the graph: d2y is 0, not 6x
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * (3 * x * x).detach()

    x = pt.tensor([0.7, -1.2], dtype=pt.float64, requires_grad=True)
    assert gradcheck(WrongSecond.apply, (x,))
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradgradcheck(WrongSecond.apply, (x,))


def test_gradcheck_defaults_match_pytorch():
    import inspect
    p = inspect.signature(gradcheck).parameters
    assert (p["eps"].default, p["atol"].default, p["rtol"].default) == (1e-6, 1e-5, 1e-3)
    p = inspect.signature(gradgradcheck).parameters
    assert (p["eps"].default, p["atol"].default, p["rtol"].default) == (1e-6, 1e-5, 1e-3)


def test_gradcheck_needs_an_input_requiring_grad():
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gradcheck(lambda t: t * 2, (pt.ones(2, dtype=pt.float64),))


def test_gradcheck_multiple_outputs_and_inputs():
    a = pt.tensor([1.0, 2.0], dtype=pt.float64, requires_grad=True)
    b = pt.tensor([3.0, -1.0], dtype=pt.float64, requires_grad=True)
    assert gradcheck(lambda x, y: (x * y, x + y.exp()), (a, b))


class ExpJvpOnly(pt.autograd.Function):
    """exp with a forward-mode rule and no backward."""
    @staticmethod
    def forward(ctx, x):
        ctx.result = x.exp()
        return ctx.result

    @staticmethod
    def jvp(ctx, t):
        return t * ctx.result * ExpJvpOnly.scale


def test_gradcheck_check_forward_ad_without_backward():
    x = pt.tensor([0.1, 0.2, 0.3], dtype=pt.float64, requires_grad=True)
    ExpJvpOnly.scale = 1.0
    assert gradcheck(ExpJvpOnly.apply, (x,), check_forward_ad=True, check_backward_ad=False)
    with pytest.raises(NotImplementedError, match="backward"):     # backward is checked by default
        gradcheck(ExpJvpOnly.apply, (x,), check_forward_ad=True)


def test_gradcheck_check_forward_ad_reports_a_wrong_jvp():
    x = pt.tensor([0.1, 0.2, 0.3], dtype=pt.float64, requires_grad=True)
    ExpJvpOnly.scale = 1.5      # jvp is 1.5 exp(x) t: the diagonal is off, d exp/dx = exp(x)
    with pytest.raises(GradcheckError) as e:
        gradcheck(ExpJvpOnly.apply, (x,), check_forward_ad=True, check_backward_ad=False)
    msg = str(e.value)
    assert "Forward-mode Jacobian mismatch for output 0 with respect to input 0" in msg
    assert "3 of 9 entries differ" in msg
    assert f"{np.exp(0.3):.6e}" in msg and f"{1.5 * np.exp(0.3):.6e}" in msg
    assert gradcheck(ExpJvpOnly.apply, (x,), check_forward_ad=True, check_backward_ad=False,
                     raise_exception=False) is False


def test_gradcheck_check_forward_ad_on_ops_with_several_inputs():
    a = pt.tensor([0.4, -1.1], dtype=pt.float64, requires_grad=True)
    b = pt.tensor([[0.3, 2.0], [1.5, -0.2]], dtype=pt.float64, requires_grad=True)
    c = pt.tensor([1.0, 2.0], dtype=pt.float64)     # not differentiated: gets no tangent
    assert gradcheck(lambda x, y, z: ((x * y).sin() @ z, x.exp()), (a, b, c), check_forward_ad=True)
    z = pt.tensor([0.5 + 0.25j, -1.0 + 2.0j], dtype=pt.complex128, requires_grad=True)
    assert gradcheck(lambda t: t * t.exp(), (z,), check_forward_ad=True, check_backward_ad=False)
