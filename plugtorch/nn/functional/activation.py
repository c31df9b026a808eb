"""Activation functions: elementwise nonlinearities and softmax, written with plugtorch ops.

Piecewise functions use ``where`` with the unchosen branch fed a safe value, so its gradient
stays finite (an overflowing ``exp`` in the branch not taken would otherwise give 0 * inf).

>>> import plugtorch as pt
>>> pt.nn.functional.relu(pt.tensor([-1., 2.])).tolist()
[0.0, 2.0]
"""
from __future__ import annotations

import math
import warnings

import plugtorch as pt
from plugtorch.dispatch.meta import not_implemented_for
from plugtorch.nn.functional._utils import check_tensors

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _out(input, result, inplace):
    return input.copy_(result) if inplace else result


def relu(input, inplace: bool = False):
    return _out(input, pt.relu(input), inplace) if inplace else pt.relu(input)


def relu_(input):
    return relu(input, inplace=True)


def threshold(input, threshold: float, value: float, inplace: bool = False):
    if input.dtype is pt.bool:
        raise not_implemented_for("threshold", input.dtype, "convert the input with .float() first")
    # x <= threshold is replaced (PyTorch's rule): nan is not, so it stays nan with its gradient
    out = pt.where(input <= threshold, value, input)
    # the input's dtype, as PyTorch: an integer input with value 2.5 gets 2, not a float result
    return _out(input, out if out.dtype == input.dtype else out.to(input.dtype), inplace)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    check_tensors("hardtanh", input=input)
    return _out(input, pt.ops.hardtanh(input, min_val, max_val), inplace)   # (the op checks the rest)


def check_hardtanh(input, min_val=-1.0, max_val=1.0):
    """The op hardtanh's checks, run by its meta before any kernel, as PyTorch's aten op: no bool
    input; an integer input takes its limits truncated to an int64 and then in its own dtype, so
    nan, inf or a limit outside the dtype's range cannot be converted (RuntimeError, where the
    kernels gave INT_MIN or clamped to nan's garbage), and uint8 takes no negative limit (-0.5 is 0)."""
    if not isinstance(input, pt.Tensor):
        return                                      # (the meta raises TypeError)
    dt = input.dtype
    if dt is pt.bool:
        raise RuntimeError("hardtanh(): Bool inputs not supported for hardtanh; convert the input with .float() first")
    if dt.is_floating_point or dt.is_complex:
        return
    limits = (("min_val", min_val), ("max_val", max_val))
    for dtype in (pt.int64, dt):
        info = pt.iinfo(dtype)
        for name, v in limits:
            if not (math.isfinite(v) and info.min <= math.trunc(v) <= info.max):
                raise RuntimeError(f"hardtanh(): value cannot be converted to type {dtype} without overflow: "
                                   f"{name}={v!r} for a {dt} input, which takes its limits in its dtype; pass "
                                   f"limits in its range or convert the input with .float()")
        if dtype is pt.int64 and dt is pt.uint8 and (math.trunc(min_val) < 0 or math.trunc(max_val) < 0):
            raise RuntimeError("hardtanh(): cannot do hardtanh on an unsigned type with negative limits")


def hardtanh_op(input, min_val: float = -1.0, max_val: float = 1.0):
    """The nn op ``hardtanh`` (plugtorch/nn/ops.py): the input clamped to [min_val, max_val], in its
    dtype, nan kept, -0.0 kept at min_val 0 (as PyTorch's clamp); its gradient (the formula) is
    the incoming one where min_val < x < max_val or x is nan, else 0. A backend may give it a
    kernel (cpu: one np.clip); this decomposition serves the others. It is clamp, so min_val >
    max_val (which only the op reaches: F.hardtanh raises) gives max_val everywhere and a nan
    limit nan, as the cpu kernel and PyTorch's aten op; an integer input takes its limits
    truncated (check_hardtanh refused those it cannot convert) and stays in its dtype."""
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        min_val, max_val = math.trunc(min_val), math.trunc(max_val)
    out = pt.clamp(input, min_val, max_val)
    return out if out.dtype == input.dtype else out.to(input.dtype)


def relu6(input, inplace: bool = False):
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    _float_only("leaky_relu", input)
    return _out(input, pt.where(input > 0, input, input * negative_slope), inplace)


def prelu(input, weight):
    """max(0, x) + weight * min(0, x), with one weight per channel (dim 1) or one in all."""
    check_tensors("prelu", input=input, weight=weight)
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"prelu: Type promoting not supported. Got {input.dtype} and {weight.dtype}; convert the "
                           "input with .float() first")
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.ndim}")
    if weight.numel() != 1:
        c = input.shape[1] if input.ndim >= 2 else 1   # (a 1-d input is one channel, as in PyTorch)
        if weight.numel() != c:
            raise RuntimeError(f"prelu: mismatch of parameter numbers and input channel size. Found parameter "
                               f"numbers = {weight.numel()} and channel size = {c}.")
        if input.ndim >= 2:
            weight = weight.reshape((c,) + (1,) * (input.ndim - 2))
    if input.ndim == 0:
        weight = weight.reshape(())   # a 0-d input gives a 0-d result, not (1,)
    return pt.where(input > 0, input, weight * input)


def _neg_part(input):
    return pt.where(input > 0, 0.0, input)


def elu(input, alpha: float = 1.0, inplace: bool = False):
    _float_only("elu", input)
    return _out(input, pt.where(input > 0, input, _neg_part(input).expm1() * alpha), inplace)


def celu(input, alpha: float = 1.0, inplace: bool = False):
    _float_only("celu", input)
    if alpha == 0:
        raise RuntimeError("celu(): alpha cannot be 0 for CELU (it divides by alpha); pass a non-zero alpha")
    return _out(input, pt.where(input > 0, input, (_neg_part(input) / alpha).expm1() * alpha), inplace)


def selu(input, inplace: bool = False):
    _float_only("selu", input)
    neg = _neg_part(input).expm1() * (_SELU_ALPHA * _SELU_SCALE)
    return _out(input, pt.where(input > 0, input * _SELU_SCALE, neg), inplace)


def _in_float32(input):
    """float16/bfloat16 computed in float32 and rounded once at the end, as PyTorch's kernels do
    (step by step in float16, gelu(-3.7) is -0.0: 1 + erf(-2.6) cancels; it is -0.000399)."""
    return input.float() if input.dtype in (pt.float16, pt.bfloat16) else input


def _as_input(input, result):
    return result if result.dtype == input.dtype else result.to(input.dtype)


def gelu(input, approximate: str = "none"):
    """x * Phi(x); ``approximate='tanh'`` uses PyTorch's tanh formula."""
    return pt.ops.gelu(input, approximate)


def check_gelu(input, approximate="none", grad=None, op="gelu"):
    """gelu's (and _gelu_backward's) checks, run by its meta before any kernel."""
    _float_only(op, input)
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh, got '{approximate}'")
    _check_grad(op, grad, input)


def check_silu(input, grad=None, op="silu"):
    check_tensors(op, input=input)
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise not_implemented_for(op, input.dtype, "convert the input with .float() first")
    _check_grad(op, grad, input)


def _check_grad(op, grad, input):
    if grad is not None and (not isinstance(grad, pt.Tensor) or grad.dtype != input.dtype
                             or tuple(grad.shape) != tuple(input.shape)):
        got = f"{grad.dtype} {tuple(grad.shape)}" if isinstance(grad, pt.Tensor) else type(grad).__name__
        raise RuntimeError(f"{op}(): expected a grad of the input's dtype and shape "
                           f"({input.dtype} {tuple(input.shape)}), got {got}")


def gelu_op(input, approximate: str = "none"):
    """The nn op ``gelu`` (plugtorch/nn/ops.py): x Phi(x), or PyTorch's tanh formula; float16 and
    bfloat16 computed in float32 and rounded once. A backend may give it a kernel (cpu: one pass
    over cache-sized blocks); this decomposition serves the others (and ONNX export)."""
    x = _in_float32(input)
    if approximate == "tanh":
        # x (1 + tanh(y)) / 2 = x sigmoid(2 y): 1 + tanh(y) cancels in the left tail (float32
        # gelu(-5.35) was -0.0, it is -1.88e-8), the sigmoid keeps its relative accuracy
        return _as_input(input, x * ((x + x * x * x * 0.044715) * (2 * math.sqrt(2 / math.pi))).sigmoid())
    # x Phi(x) with Phi = erfc(-x / sqrt 2) / 2, not (1 + erf(x / sqrt 2)) / 2: the left tail does
    # not cancel (float32 gelu(-5.3) was 1e5 ulps off, as torch's 1 + erf)
    return _as_input(input, x * 0.5 * (x * -(1 / math.sqrt(2))).erfc())


def gelu_backward(grad, input, approximate: str = "none"):
    """The nn op ``_gelu_backward``: gelu's input gradient given the output's, ``grad`` times
    Phi(x) + x phi(x) (or the tanh formula's derivative, as PyTorch's), in the input's dtype."""
    x, g = _in_float32(input), _in_float32(grad)
    if approximate == "tanh":
        # d/dx x s(2y) = s(2y) (1 + 2 x s(-2y) y'), s the sigmoid: (1 + tanh(y)) / 2 and
        # 1 - tanh(y)^2 cancel in the left tail (float32 at -5.35: -1.2e-6 came out as -1.0e-5)
        beta, kappa = math.sqrt(2 / math.pi), 0.044715
        x2 = x * x
        y2 = (x + x2 * x * kappa) * (2 * beta)
        d = y2.sigmoid() * (1 + x * (-y2).sigmoid() * ((x2 * (3 * kappa) + 1) * (2 * beta)))
    else:
        d = (x * -(1 / math.sqrt(2))).erfc() * 0.5 + x * (x * x * -0.5).exp() * (1 / math.sqrt(2 * math.pi))
    return _as_input(input, g * d)


def silu(input, inplace: bool = False):
    check_silu(input)
    return _out(input, pt.ops.silu(input), inplace)


def silu_op(input):
    """The nn op ``silu``: x sigmoid(x). A backend may give it a kernel (cpu: one pass over
    cache-sized blocks); this decomposition serves the others (and ONNX export). float16 and
    bfloat16 in float32, rounded once, as the cpu kernel and PyTorch's."""
    x = _in_float32(input)
    return _as_input(input, x * x.sigmoid())


def silu_backward(grad, input):
    """The nn op ``_silu_backward``: silu's input gradient given the output's,
    ``grad * s * (1 + x (1 - s))`` with s = sigmoid(x); float16 and bfloat16 in float32, rounded
    once (step by step in float16, grad -4.4375 at x 7.234 gave -4.449, not -4.457)."""
    x, g = _in_float32(input), _in_float32(grad)
    s = x.sigmoid()
    return _as_input(input, g * (s * (1 + x * (1 - s))))


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    """log(1 + exp(beta x)) / beta, linear above ``threshold`` (as PyTorch)."""
    _float_only("softplus", input)
    big = input * beta > threshold
    safe = pt.where(big, 0.0, input)
    return pt.where(big, input, (safe * beta).exp().log1p() / beta)


def mish(input, inplace: bool = False):
    _float_only("mish", input)
    return _out(input, input * softplus(input).tanh(), inplace)


def hardswish(input, inplace: bool = False):
    _float_only("hardswish", input)
    # (at -3 and 3 the outer pieces' gradients 0 and 1, as torch 2.13's); the middle piece reads
    # the clamped input, so at +-inf its unchosen gradient is 0, not 0 * inf; nan takes x (gradient 1)
    xs = _in_float32(input).clamp(-3.0, 3.0)
    mid = _as_input(input, xs * (xs + 3) / 6)
    return _out(input, pt.where(input <= -3, 0.0, pt.where(input < 3, mid, input)), inplace)


def hardsigmoid(input, inplace: bool = False):
    _float_only("hardsigmoid", input)
    inside = (input > -3) & (input < 3)
    # nan stays nan with gradient 0, as PyTorch (neither inside nor at a bound); the edge values
    # are Python numbers' float32, so the result is cast back (float16 input, float16 result)
    edge = pt.where(input <= -3, 0.0, pt.where(input >= 3, 1.0, math.nan))
    return _out(input, _as_input(input, pt.where(inside, _in_float32(input) / 6 + 0.5, edge)), inplace)


def tanh(input):
    return input.tanh()


def sigmoid(input):
    return input.sigmoid()


def logsigmoid(input):
    """min(x, 0) - log1p(exp(-|x|)), as PyTorch: softplus's linear piece beyond 20 dropped the
    exp(x) term (float64 logsigmoid(-22.8) was 3.4e4 ulps off). The side is picked by one test,
    so that each is smooth through 0: minimum's and abs's kinks gave the derivative 1/2 but the
    second derivative 0 there, not -sigmoid'(0) = -1/4."""
    _float_only("logsigmoid", input)
    pos = input >= 0
    return pt.where(pos, 0.0, input) - pt.where(pos, -input, input).exp().log1p()


def softsign(input):
    return input / (1 + input.abs())


def tanhshrink(input):
    return input - input.tanh()


def glu(input, dim: int = -1):
    _float_only("glu", input)
    if input.ndim == 0:
        raise RuntimeError("glu(): glu does not support scalars because halving size must be even; give it a "
                           "tensor of at least 1 dim")
    if input.shape[dim] % 2:
        raise RuntimeError(f"glu(): halving dimension must be even, but dimension {dim} is size {input.shape[dim]}")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def _softmax_dim(name, ndim):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
                  "as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("softmax", input.ndim)
    return pt.softmax(input, dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("softmin", input.ndim)
    return pt.softmax(-input, dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("log_softmax", input.ndim)
    return pt.log_softmax(input, dim, dtype=dtype)


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12):
    """input / max(||input||_p along dim, eps)."""
    n = input.norm(p, dim, keepdim=True)
    return input / n.clamp_min(eps)   # clamp_min keeps a nan norm nan (where(n > eps) made it eps: x / 1e-12)


def _float_only(op, input):
    # PyTorch refuses integer and bool inputs here; computed in their dtype, x + 3 and -x wrap
    # (uint8 hardsigmoid(3) was 0.0, logsigmoid(3) -253.0) and the others silently turn float
    check_tensors(op, input=input)
    if not input.dtype.is_floating_point:
        raise not_implemented_for(op, input.dtype, "convert the input with .float() first")


def hardshrink(input, lambd: float = 0.5):
    """x where |x| > lambd, else 0.

    >>> pt.nn.functional.hardshrink(pt.tensor([-1., 0.3, 0.6])).tolist()
    [-1.0, 0.0, 0.6000000238418579]
    """
    _float_only("hardshrink", input)
    # 0 on [-lambd, lambd] (PyTorch's test), so nan stays nan and gets the gradient
    return pt.where((input >= -lambd) & (input <= lambd), 0.0, input)


def softshrink(input, lambd: float = 0.5):
    """x - lambd above lambd, x + lambd below -lambd, else 0.

    >>> pt.nn.functional.softshrink(pt.tensor([-1., 0.3, 1.5])).tolist()
    [-0.5, 0.0, 1.0]
    """
    _float_only("softshrink", input)
    if not lambd >= 0:
        raise RuntimeError(f"softshrink(): lambda must be in range [0, inf) for input dtype {input.dtype}, but "
                           f"found {lambd}")
    # PyTorch's x * 0 in between: -0.0 for negative x, and nan (with the gradient) for nan
    inside = (input >= -lambd) & (input <= lambd)
    return pt.where(input > lambd, input - lambd, pt.where(input < -lambd, input + lambd,
                                                           pt.where(inside, input * 0, input)))


def rrelu(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False, inplace: bool = False):
    """Randomized leaky ReLU: in training each negative element gets a slope drawn from U(lower, upper);
    in eval the slope is their mean, (lower + upper) / 2.

    >>> pt.nn.functional.rrelu(pt.tensor([-1., 2.]), 0.1, 0.3).tolist()
    [-0.20000000298023224, 2.0]
    """
    _float_only("rrelu", input)
    if lower > upper:
        raise RuntimeError(f"rrelu(): Lower bound should be less than or equal to the upper bound, but got "
                           f"lower={lower} and upper={upper}")
    if training:
        slope = pt.empty(tuple(input.shape), dtype=input.dtype, device=input.device).uniform_(lower, upper)
        return _out(input, pt.where(input > 0, input, input * slope), inplace)
    # x > 0, not >= 0: at 0 the gradient is the slope, as leaky_relu's (and PyTorch's)
    return _out(input, pt.where(input > 0, input, input * ((lower + upper) / 2)), inplace)


def rrelu_(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False):
    return rrelu(input, lower, upper, training, inplace=True)


def elu_(input, alpha: float = 1.0):
    return elu(input, alpha, inplace=True)


def celu_(input, alpha: float = 1.0):
    return celu(input, alpha, inplace=True)


def selu_(input):
    return selu(input, inplace=True)


def leaky_relu_(input, negative_slope: float = 0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val: float = -1.0, max_val: float = 1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


_threshold = threshold    # (threshold_'s argument of that name hides the function)


def threshold_(input, threshold: float, value: float):
    return _threshold(input, threshold, value, inplace=True)


def gumbel_softmax(logits, tau: float = 1.0, hard: bool = False, eps: float = 1e-10, dim: int = -1):
    """Softmax of (logits + Gumbel noise) / tau; ``hard``: the one-hot of its argmax in the forward
    pass, with the soft sample's gradient (straight-through).

    >>> y = pt.nn.functional.gumbel_softmax(pt.zeros(2, 3), hard=True)
    >>> y.sum(-1).tolist()
    [1.0, 1.0]
    """
    check_tensors("gumbel_softmax", logits=logits)
    u = pt.empty(tuple(logits.shape), dtype=logits.dtype, device=logits.device).exponential_()
    y = pt.softmax((logits - u.log()) / tau, dim)
    if not hard:
        return y
    index = y.argmax(dim, keepdim=True)
    y_hard = pt.zeros_like(y).scatter(dim, index, 1.0)
    return y_hard - y.detach() + y
