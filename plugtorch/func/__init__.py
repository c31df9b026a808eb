"""``plugtorch.func``: composable function transforms, as ``torch.func``.

grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian and linearize differentiate with the
reverse-mode engine (forward mode by the double-vjp trick); vmap calls the function once per
sample and stacks the results (see docs/func.md for what that means for speed); functional_call
runs a module with the parameters and buffers given, stack_module_state stacks an ensemble's.

>>> import plugtorch as pt
>>> from plugtorch.func import grad, vmap
>>> x = pt.tensor([[1.0, 2.0], [3.0, 4.0]])
>>> vmap(grad(lambda r: (r ** 2).sum()))(x).tolist()     # per-row gradients
[[2.0, 4.0], [6.0, 8.0]]
"""
from __future__ import annotations

from plugtorch.func._transforms import (grad, grad_and_value, hessian, jacfwd, jacrev, jvp,  # noqa: F401
                                        linearize, vjp)
from plugtorch.func._modules import replace_all_batch_norm_modules_, stack_module_state  # noqa: F401
from plugtorch.func._vmap import vmap  # noqa: F401

__all__ = ["functional_call", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp", "linearize",
           "replace_all_batch_norm_modules_", "stack_module_state", "vjp", "vmap"]


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """Call ``module`` with its parameters and buffers replaced by the given tensors
    (``plugtorch.nn.utils.stateless.functional_call``; a tuple of dicts is merged, as torch's).

    >>> lin = pt.nn.Linear(2, 1)
    >>> p = {"weight": pt.ones(1, 2), "bias": pt.zeros(1)}
    >>> functional_call(lin, p, (pt.tensor([[1.0, 2.0]]),)).tolist()
    [[3.0]]
    """
    from plugtorch.nn.utils.stateless import functional_call as call
    return call(module, parameter_and_buffer_dicts, args, kwargs, tie_weights=tie_weights, strict=strict)
