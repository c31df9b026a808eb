"""Module backward hooks (``register_full_backward_hook``, ``register_full_backward_pre_hook``).

As PyTorch's ``torch.utils.hooks.BackwardHook``: the tensors a hooked module's ``forward``
receives and returns pass through an identity autograd Function each. The outputs' one sees
the gradients of the outputs first (the pre-hooks may replace them) and keeps them; the
inputs' one then sees the gradients of the inputs and calls the hooks with both. Only
tensors given positionally, and returned as such or in a tuple, are seen (PyTorch's rule).
"""
from __future__ import annotations

from plugtorch._tensor import Tensor
from plugtorch.autograd.function import Function


class BackwardHooks:
    """One call of a hooked module: what its two identity nodes share."""

    def __init__(self, module):
        self.module = module
        self.n_inputs = 0
        self.input_positions = None    # the tensors among the inputs (None: none requires grad)
        self.n_outputs = 0
        self.output_positions = ()
        self.grad_outputs = None

    def setup_inputs(self, args):
        self.n_inputs = len(args)
        pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        if not any(args[i].requires_grad for i in pos):
            return args
        self.input_positions = pos
        outs = _InputsHook.apply(self, *(args[i] for i in pos))
        args = list(args)
        for i, o in zip(pos, outs):
            args[i] = o
        return tuple(args)

    def setup_outputs(self, out):
        single = isinstance(out, Tensor)
        if not single and type(out) is not tuple:
            return out
        items = (out,) if single else out
        pos = [i for i, o in enumerate(items) if isinstance(o, Tensor)]
        if not any(items[i].requires_grad for i in pos):
            return out
        self.n_outputs = len(items)
        self.output_positions = pos
        wrapped = _OutputsHook.apply(self, *(items[i] for i in pos))
        items = list(items)
        for i, o in zip(pos, wrapped):
            items[i] = o
        return items[0] if single else tuple(items)

    @staticmethod
    def _packed(positions, grads, n):
        full = [None] * n
        for i, g in zip(positions, grads):
            full[i] = g
        return tuple(full)

    def run_hooks(self, grad_input):
        """The full backward hooks, in order; each may replace ``grad_input``."""
        module = self.module
        grad_output = self.grad_outputs if self.grad_outputs is not None else ()
        for hook in list(module._backward_hooks.values()):
            res = hook(module, grad_input, grad_output)
            if res is None:
                continue
            if not isinstance(res, (tuple, list)) or len(res) != len(grad_input):
                got = len(res) if isinstance(res, (tuple, list)) else type(res).__name__
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got {got}, but "
                                   f"expected {len(grad_input)} (one per positional argument of "
                                   f"{type(module).__name__}.forward)")
            if self.input_positions is None and any(r is not None for r in res):
                raise RuntimeError("Backward hook for Modules where no input requires gradient should always "
                                   "return None or None for all gradients.")
            grad_input = tuple(res)
        return grad_input


def _aliases(ctx, tensors):
    """The tensors as new aliases; those that did not require grad stay so (their gradient
    reaches the hooks as zeros, as PyTorch's)."""
    out = tuple(t.view_as(t) for t in tensors)
    ctx.mark_non_differentiable(*[a for a, t in zip(out, tensors) if not t.requires_grad])
    return out


class _OutputsHook(Function):
    @staticmethod
    def forward(ctx, state, *outs):
        ctx.state = state
        ctx.set_materialize_grads(False)   # an output no gradient reached shows as None (PyTorch's)
        return _aliases(ctx, outs)

    @staticmethod
    def backward(ctx, *grads):
        state = ctx.state
        module = state.module
        # one entry per output forward returned, None where it is not a tensor (PyTorch's)
        grad_output = state._packed(state.output_positions, grads, state.n_outputs)
        for hook in list(module._backward_pre_hooks.values()):
            res = hook(module, grad_output)
            if res is None:
                continue
            res = res if isinstance(res, (tuple, list)) else (res,)
            if len(res) != len(grad_output):
                raise RuntimeError(f"Backward pre hook returned an invalid number of grad_output, got "
                                   f"{len(res)}, but expected {len(grad_output)}")
            grad_output = tuple(res)
        state.grad_outputs = grad_output
        if state.input_positions is None and module._backward_hooks:
            # no input requires grad: the hooks run now, with grad_input all None
            state.run_hooks((None,) * state.n_inputs)
            state.grad_outputs = None
        return (None,) + tuple(grad_output[i] for i in state.output_positions)


class _InputsHook(Function):
    @staticmethod
    def forward(ctx, state, *ins):
        ctx.state = state
        return _aliases(ctx, ins)

    @staticmethod
    def backward(ctx, *grads):
        state = ctx.state
        if state.module._backward_hooks:
            full = state.run_hooks(state._packed(state.input_positions, grads, state.n_inputs))
            grads = tuple(full[i] for i in state.input_positions)
        state.grad_outputs = None
        return (None,) + tuple(grads)
