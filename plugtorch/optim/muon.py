"""Muon: momentum SGD whose update is orthogonalised by a Newton-Schulz iteration (Keller Jordan),
for 2-d parameters, as ``torch.optim.Muon``.

The update, for each (A x B) parameter::

    b = momentum * b + (1 - momentum) * grad
    u = grad + momentum * (b - grad) if nesterov else b
    X = u / max(||u||_F, eps) in bfloat16 (transposed when A > B);  ns_steps times:
        G = X X^T;  X = a X + (b G + c G G) X                     (a, b, c = ns_coefficients)
    p = p * (1 - lr * weight_decay) - lr * r * X
    r = sqrt(max(1, A / B))  ("original")  or  0.2 * sqrt(max(A, B))  ("match_rms_adamw")

The iteration rounds to bfloat16 as PyTorch's does (on a device without bfloat16, by arithmetic),
so results agree with PyTorch's.
"""
from __future__ import annotations

import math

from plugtorch import _dtypes
from plugtorch.autograd.grad_mode import no_grad
from plugtorch.optim.optimizer import Optimizer, zeros_state

EPS = 1e-7
DEFAULT_A, DEFAULT_B, DEFAULT_C = 3.4445, -4.7750, 2.0315
DEFAULT_NS_STEPS = 5


def zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps, eps):
    """An approximately orthogonal matrix with ``grad``'s singular vectors (singular values
    between about 0.5 and 1.5): bfloat16 values, returned as float32."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if grad.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = ns_coefficients
    r = _bfloat16_rounding(grad)
    x = r(grad.to(_dtypes.float32))
    tall = grad.shape[0] > grad.shape[1]
    if tall:
        x = x.T
    x = r(x / r(x.norm()).clamp(min=eps))
    # each product accumulates in float32 and rounds to bfloat16 once, as PyTorch's bfloat16 mm and
    # addmm do (a bfloat16 addmm that rounded the product before scaling drifts by several ulps)
    for _ in range(ns_steps):
        gram = r(x @ x.T)
        x = r(a * x + r(b * gram + c * (gram @ gram)) @ x)
    return x.T if tall else x


def _bfloat16_rounding(t):
    """float32 -> the nearest bfloat16 value, as float32: a round trip through bfloat16, or on a
    device without it (the Array API plug-ins) Veltkamp's split, which keeps the top 8 of the
    24 significand bits with two float32 operations (ties may round either way)."""
    if not t._backend().unsupported_dtype(_dtypes.bfloat16, t.device.index):
        return lambda x: x.to(_dtypes.bfloat16).to(_dtypes.float32)

    def split(x):
        big = x * 65537.0                     # 2^16 + 1
        return big - (big - x)
    return split


def adjust_lr(lr, adjust_lr_fn, param_shape):
    A, B = param_shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1, A / B))
    if adjust_lr_fn == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(A, B))
    return lr


@no_grad()
def muon(params, grads, muon_momentum_bufs, *, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
         ns_coefficients=(DEFAULT_A, DEFAULT_B, DEFAULT_C), ns_steps=DEFAULT_NS_STEPS, eps=EPS, adjust_lr_fn=None):
    """One Muon step over lists of 2-d tensors, in place."""
    for i, p in enumerate(params):
        g = grads[i]
        if g.ndim != 2:
            raise ValueError(f"Param gradient must be a 2D matrix, got shape {tuple(g.shape)}")
        buf = muon_momentum_bufs[i]
        buf.lerp_(g, 1 - momentum)
        update = g.lerp(buf, momentum) if nesterov else buf
        update = zeropower_via_newtonschulz(update, ns_coefficients, ns_steps, eps)
        p.mul_(1 - lr * weight_decay)
        p.add_(update.to(p.dtype), alpha=-adjust_lr(lr, adjust_lr_fn, p.shape))


class Muon(Optimizer):
    """Muon, for the 2-d weights of hidden layers (optimise biases and embeddings with AdamW).

    >>> opt = Muon([p for p in model.parameters() if p.ndim == 2], lr=0.02)   # doctest: +SKIP
    """

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(DEFAULT_A, DEFAULT_B, DEFAULT_C), eps=EPS, ns_steps=DEFAULT_NS_STEPS,
                 adjust_lr_fn=None):
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported "
                             "(use 'original' or 'match_rms_adamw')")
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                                      ns_coefficients=tuple(ns_coefficients), eps=eps, ns_steps=ns_steps,
                                      adjust_lr_fn=adjust_lr_fn))
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(f"Muon only supports 2D parameters whereas we found a parameter with size: "
                                     f"{p.size()}")

    def _update_group(self, group):
        params = self._params_with_grad(group)
        for p in params:
            st = self.state[p]
            if "momentum_buffer" not in st:
                st["momentum_buffer"] = zeros_state(p.grad)
        muon.__wrapped__(params, [p.grad for p in params], [self.state[p]["momentum_buffer"] for p in params],
                         lr=group["lr"], weight_decay=group["weight_decay"], momentum=group["momentum"],
                         nesterov=group["nesterov"], ns_coefficients=group["ns_coefficients"],
                         ns_steps=group["ns_steps"], eps=group["eps"], adjust_lr_fn=group["adjust_lr_fn"])
