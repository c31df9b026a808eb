"""ASGD: averaged stochastic gradient descent (Polyak & Juditsky), with weight decay and maximize.

The update, for each parameter at step t (as ``torch.optim.ASGD`` computes it)::

    g = -grad if maximize else grad
    g = g + weight_decay * p                      (if weight_decay)
    p = p * (1 - lambd * eta) - eta * g
    ax = p if mu == 1 else ax + mu * (p - ax)     (the average ``ax`` is what ASGD returns)
    eta = lr / (1 + lambd * lr * t)^alpha;   mu = 1 / max(1, t - t0)

``eta`` and ``mu`` are 0-d float32 tensors on cpu, as PyTorch keeps them.
"""
from __future__ import annotations

from plugtorch import _dtypes
from plugtorch import _ops_public as P
from plugtorch.autograd.grad_mode import no_grad
from plugtorch.optim.ops import scalar_op
from plugtorch.optim.optimizer import (Optimizer, check_fused_flags, check_lr, check_nonnegative,
                                       zeros_state)


@no_grad()
def asgd(params, grads, axs, mus, etas, state_steps, *, lambd=1e-4, lr=1e-2, t0=1e6, alpha=0.75,
         weight_decay=0.0, maximize=False):
    """One ASGD step over lists of tensors, in place (``mus``, ``etas`` and ``state_steps`` too).

    ``mu == 1`` picks the copy with a ``where`` rather than a Python ``if``, so a compiled step
    stays one graph when averaging starts at step ``t0``.
    """
    for i, p in enumerate(params):
        g = -grads[i] if maximize else grads[i]
        step_t, eta, mu, ax = state_steps[i], etas[i], mus[i], axs[i]
        step_t.add_(1)
        t = step_t.to(_dtypes.float64)
        if weight_decay != 0:
            g = g.add(p, alpha=weight_decay)
        e = eta.to(_dtypes.float64)
        p.copy_(scalar_op(p, "mul", 1 - lambd * e))
        p.sub_(scalar_op(g, "mul", e))
        m = mu.to(p.device)
        ax.copy_(P.where(m == 1, p, ax + scalar_op(p - ax, "mul", mu.to(_dtypes.float64))))
        eta.copy_(lr / (1 + lambd * lr * t) ** alpha)
        mu.copy_((t - t0).clamp(min=1).reciprocal())


class ASGD(Optimizer):
    """Averaged SGD; the running average of each parameter is ``optimizer.state[p]["ax"]``.

    >>> opt = ASGD(model.parameters(), lr=1e-2, t0=100)   # doctest: +SKIP
    """

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        check_lr(lr)
        check_nonnegative("weight_decay", weight_decay)
        check_fused_flags(foreach, None, capturable, differentiable)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def _update_group(self, group):
        params, states = self._group_state(group, init=lambda p: {
            "eta": P.full((), float(group["lr"]), dtype=_dtypes.float32),
            "mu": P.ones((), dtype=_dtypes.float32), "ax": zeros_state(p)})
        asgd.__wrapped__(params, [p.grad for p in params], [s["ax"] for s in states], [s["mu"] for s in states],
                         [s["eta"] for s in states], [s["step"] for s in states], lambd=group["lambd"],
                         lr=group["lr"], t0=group["t0"], alpha=group["alpha"],
                         weight_decay=group["weight_decay"], maximize=group["maximize"])
