"""SparseAdam: Adam that updates only the entries a gradient touches (``nn.Embedding(sparse=True)``).

PyTorch's SparseAdam takes sparse gradients and refuses dense ones. plugtorch has no sparse
layout (``Embedding(sparse=True)`` produces a dense gradient), so here a gradient's touched
entries are its nonzero slices along dim 0 (the embedding rows a batch looked up); the moments
and the parameter change only there, by Adam's update without weight decay::

    m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g^2   (touched rows)
    p = p - lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)  (touched rows)

``t`` counts the steps in which the parameter had a gradient, as PyTorch's does.
"""
from __future__ import annotations

from plugtorch import _dtypes
from plugtorch import _ops_public as P
from plugtorch._tensor import Tensor
from plugtorch.autograd.grad_mode import no_grad
from plugtorch.optim.adam import check_adam_args
from plugtorch.optim.ops import scalar_op
from plugtorch.optim.optimizer import Optimizer, new_step


def touched(g):
    """A boolean mask, broadcastable to ``g``, of the dim-0 slices holding a nonzero entry."""
    nz = g != 0
    if g.ndim <= 1:
        return nz
    return nz.flatten(1).any(dim=1).reshape((g.shape[0],) + (1,) * (g.ndim - 1))


@no_grad()
def sparse_adam(params, grads, exp_avgs, exp_avg_sqs, state_steps, *, eps=1e-8, beta1=0.9, beta2=0.999,
                lr=1e-3, maximize=False):
    """One SparseAdam step over lists of tensors, in place (rows of zero gradient stay as they are)."""
    for i, p in enumerate(params):
        g = -grads[i] if maximize else grads[i]
        step_t = state_steps[i]
        step_t.add_(1)
        t = step_t.to(_dtypes.float64)
        mask = touched(g)
        m, v = exp_avgs[i], exp_avg_sqs[i]
        m.copy_(P.where(mask, m + (g - m) * (1 - beta1), m))
        v.copy_(P.where(mask, v + (g * g - v) * (1 - beta2), v))
        step = scalar_op(m / v.sqrt().add_(eps), "mul", lr * (1 - beta2 ** t).sqrt() / (1 - beta1 ** t))
        p.sub_(P.where(mask, step, P.zeros_like(step)))


class SparseAdam(Optimizer):
    """Adam for embedding tables: only the rows a step's gradient touches move.

    >>> emb = nn.Embedding(1000, 16, sparse=True)                 # doctest: +SKIP
    >>> opt = SparseAdam(emb.parameters(), lr=1e-3)               # doctest: +SKIP
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        check_adam_args(lr, betas, eps, 0.0)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, maximize=maximize))

    def _update_group(self, group):
        params, states = self._group_state(group, "exp_avg", "exp_avg_sq")
        for st in states:
            if not isinstance(st["step"], Tensor):   # PyTorch's SparseAdam counts with a Python int
                st["step"] = new_step().add_(st["step"])
        beta1, beta2 = group["betas"]
        sparse_adam.__wrapped__(params, [p.grad for p in params], [s["exp_avg"] for s in states],
                                [s["exp_avg_sq"] for s in states], [s["step"] for s in states], eps=group["eps"],
                                beta1=beta1, beta2=beta2, lr=group["lr"], maximize=group["maximize"])
