"""Adafactor (Shazeer & Stern) as ``torch.optim.Adafactor``: factored second moments, relative step sizes.

The update, for each parameter at step t::

    g = -grad if maximize else grad
    beta2_t = t^beta2_decay;   rho = min(lr, 1 / sqrt(t))
    alpha = max(eps2, RMS(p)) * rho
    p = p * (1 - lr * weight_decay)                      (if weight_decay)
    matrices (dim > 1), over the last two dims:
        R = (1 - beta2_t) R + beta2_t mean(g^2, dim=-1);  C = (1 - beta2_t) C + beta2_t mean(g^2, dim=-2)
        v = R @ C / max(mean(R, dim=-2), eps1)
    vectors and scalars:  v = (1 - beta2_t) v + beta2_t g^2
    u = g / sqrt(max(v, eps1^2));   p = p - alpha * u / max(1, RMS(u) / d)

``eps1=None`` is the dtype's machine epsilon. The maxima and norms stay tensors (PyTorch reads
them to the host), so a compiled step is one graph.
"""
from __future__ import annotations

import math

from plugtorch import _dtypes
from plugtorch.autograd.grad_mode import no_grad
from plugtorch.optim.ops import scalar_op
from plugtorch.optim.optimizer import Optimizer, zeros_state


@no_grad()
def adafactor(params, grads, row_vars, col_vars, variances, state_steps, *, d=1.0, lr=1e-2, beta2_decay=-0.8,
              weight_decay=0.0, eps1=None, eps2=1e-3, maximize=False):
    """One Adafactor step over lists of tensors, in place (``row_vars``/``col_vars`` for parameters
    of two or more dimensions, ``variances`` for the others; the unused entries are None)."""
    for i, p in enumerate(params):
        g = -grads[i] if maximize else grads[i]
        step_t = state_steps[i]
        step_t.add_(1)
        t = step_t.to(_dtypes.float64)
        e1 = _dtypes.finfo(p.dtype).eps if eps1 is None else eps1
        beta2_t = t ** beta2_decay
        rho = t.sqrt().reciprocal().clamp(max=lr)
        alpha = scalar_op((p.norm(2) / math.sqrt(p.numel())).clamp(min=eps2), "mul", rho)
        if weight_decay != 0:
            p.mul_(1 - lr * weight_decay)
        if g.ndim > 1:
            row, col = row_vars[i], col_vars[i]
            row.add_(scalar_op(g.norm(2, dim=-1, keepdim=True).square_().div_(g.shape[-1]) - row, "mul", beta2_t))
            col.add_(scalar_op(g.norm(2, dim=-2, keepdim=True).square_().div_(g.shape[-2]) - col, "mul", beta2_t))
            v = (row @ col).div_(row.mean(dim=-2, keepdim=True).clamp_(min=e1))
        else:
            var = variances[i]
            var.add_(scalar_op(g * g - var, "mul", beta2_t))
            v = var.clone()
        u = v.clamp_(min=e1 * e1).rsqrt_().mul_(g)
        denom = (u.norm(2) / (math.sqrt(u.numel()) * d)).clamp(min=1.0)
        p.sub_(u * (alpha / denom))


def _variance_state(grad):
    """Adafactor's second-moment buffers: a row and a column factor for a matrix (or stack of them), else
    a full buffer."""
    if grad.ndim > 1:
        row_shape, col_shape = list(grad.shape), list(grad.shape)
        row_shape[-1] = col_shape[-2] = 1
        return {"row_var": grad.new_zeros(row_shape), "col_var": grad.new_zeros(col_shape)}
    return {"variance": zeros_state(grad)}


class Adafactor(Optimizer):
    """Adafactor: Adam-like steps with row and column second-moment estimates for matrices.

    >>> opt = Adafactor(model.parameters(), lr=1e-2)   # doctest: +SKIP
    """

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=tuple(eps), d=d,
                                      weight_decay=weight_decay, foreach=foreach, maximize=maximize))

    def _update_group(self, group):
        params, states = self._group_state(group, init=lambda p: _variance_state(p.grad))
        eps1, eps2 = group["eps"]
        adafactor.__wrapped__(params, [p.grad for p in params], [s.get("row_var") for s in states],
                              [s.get("col_var") for s in states], [s.get("variance") for s in states],
                              [s["step"] for s in states], d=group["d"], lr=group["lr"],
                              beta2_decay=group["beta2_decay"], weight_decay=group["weight_decay"], eps1=eps1,
                              eps2=eps2, maximize=group["maximize"])
