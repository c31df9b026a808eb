"""Activation layers: thin wrappers over ``nn.functional``.

>>> import plugtorch as pt
>>> pt.nn.ReLU()(pt.tensor([-1., 1.])).tolist()
[0.0, 1.0]
"""
from __future__ import annotations

import plugtorch as pt
from plugtorch.nn import functional as F
from plugtorch.nn.modules.module import Module
from plugtorch.nn.parameter import Parameter


def _inplace_repr(module) -> str:
    return ", inplace=True" if module.inplace else ""


class _Inplace(Module):
    """An elementwise layer ``_fn(input, inplace=...)`` with no other options."""

    _fn = None

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return type(self)._fn(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class _Plain(Module):
    """An elementwise layer ``_fn(input)`` with no options."""

    _fn = None

    def forward(self, input):
        return type(self)._fn(input)


def _elementwise(name: str, fn, doc: str, inplace: bool = False) -> type:
    """The layer class ``name`` whose forward is ``fn`` (taking ``inplace=`` when ``inplace``).

    The class is named and placed in this module, so reprs, pickles and ``isinstance`` behave
    as for a class written out by hand.
    """
    base = _Inplace if inplace else _Plain
    return type(name, (base,), {"_fn": staticmethod(fn), "__doc__": doc, "__module__": __name__,
                                "__qualname__": name})


ReLU = _elementwise("ReLU", F.relu, "max(0, x), elementwise.", inplace=True)
ReLU6 = _elementwise("ReLU6", F.relu6, "min(max(0, x), 6), elementwise.", inplace=True)
SELU = _elementwise("SELU", F.selu, "scale * ELU(x, alpha) with the self-normalising constants.", inplace=True)
SiLU = _elementwise("SiLU", F.silu, "x * sigmoid(x), elementwise (a.k.a. swish).", inplace=True)
Mish = _elementwise("Mish", F.mish, "x * tanh(softplus(x)), elementwise.", inplace=True)
Hardswish = _elementwise("Hardswish", F.hardswish, "x * relu6(x + 3) / 6, elementwise.", inplace=True)
Hardsigmoid = _elementwise("Hardsigmoid", F.hardsigmoid, "relu6(x + 3) / 6, elementwise.", inplace=True)
Tanh = _elementwise("Tanh", F.tanh, "tanh(x), elementwise.")
Sigmoid = _elementwise("Sigmoid", F.sigmoid, "1 / (1 + exp(-x)), elementwise.")
LogSigmoid = _elementwise("LogSigmoid", F.logsigmoid, "log(sigmoid(x)), elementwise, computed without overflow.")
Softsign = _elementwise("Softsign", F.softsign, "x / (1 + |x|), elementwise.")
Tanhshrink = _elementwise("Tanhshrink", F.tanhshrink, "x - tanh(x), elementwise.")


class LeakyReLU(Module):
    """max(0, x) + negative_slope * min(0, x), elementwise."""

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + _inplace_repr(self)


class ELU(Module):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + _inplace_repr(self)


class CELU(ELU):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""

    def forward(self, input):
        return F.celu(input, self.alpha, self.inplace)


class PReLU(Module):
    """max(0, x) + a * min(0, x) with learnable a (one, or one per channel), initialised to ``init``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(pt.full((num_parameters,), init, device=device, dtype=dtype))

    def reset_parameters(self) -> None:
        with pt.no_grad():
            self.weight.fill_(self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class GELU(Module):
    """x * Phi(x) (Phi the standard normal CDF); ``approximate='tanh'`` uses the tanh formula."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate='{self.approximate}'"


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta, linear where beta * x > ``threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """x clamped to [min_val, max_val]."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if min_val >= max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must be smaller than max_val ({max_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + _inplace_repr(self)


class Threshold(Module):
    """x where x > ``threshold``, else ``value``."""

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}" + _inplace_repr(self)


class GLU(Module):
    """Gated linear unit: a * sigmoid(b), a and b the halves of the input along ``dim``."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class _SoftmaxBase(Module):
    _fn = None

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return type(self)._fn(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """exp(x) / sum(exp(x)) along ``dim``."""

    _fn = staticmethod(F.softmax)


class LogSoftmax(_SoftmaxBase):
    """log(softmax(x)) along ``dim``, computed without overflow."""

    _fn = staticmethod(F.log_softmax)


class Softmin(_SoftmaxBase):
    """softmax(-x) along ``dim``."""

    _fn = staticmethod(F.softmin)


class _Shrink(Module):
    _fn = None

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return type(self)._fn(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Hardshrink(_Shrink):
    """x where |x| > lambd, else 0."""

    _fn = staticmethod(F.hardshrink)


class Softshrink(_Shrink):
    """x - lambd above lambd, x + lambd below -lambd, else 0."""

    _fn = staticmethod(F.softshrink)


class RReLU(Module):
    """Randomized leaky ReLU: negative slopes drawn from U(lower, upper) in training, their mean in eval."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}" + _inplace_repr(self)


class Softmax2d(Module):
    """Softmax over the channels (dim -3) of (N, C, H, W) or (C, H, W) at each position."""

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D instead")
        return F.softmax(input, -3)


# PyTorch defines MultiheadAttention in torch.nn.modules.activation, and scripts name it by that path
from plugtorch.nn.modules.attention import MultiheadAttention  # noqa: E402,F401
