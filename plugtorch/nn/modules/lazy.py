"""``LazyModuleMixin``: layers whose input size is read from their first input.

A lazy layer (``LazyLinear``, ``LazyConv2d``, ``LazyBatchNorm2d`` ...) starts with
``UninitializedParameter`` weights (and ``UninitializedBuffer`` running statistics).
A forward pre-hook calls ``initialize_parameters(*inputs)`` on the first call, which
materializes them with the input's size and initialises them as the eager layer does; the
layer then becomes that layer (``LazyLinear`` -> ``Linear``). Loading a state dict first
materializes the weights with the saved shapes.

>>> import plugtorch as pt
>>> m = pt.nn.LazyLinear(3)
>>> _ = m(pt.ones(2, 5)); type(m).__name__, tuple(m.weight.shape)
('Linear', (3, 5))
"""
from __future__ import annotations

from plugtorch._tensor import Tensor
from plugtorch.nn.parameter import UninitializedBuffer, UninitializedParameter


def _infer_parameters(module, args, kwargs):
    module.initialize_parameters(*args, **kwargs)
    if module.has_uninitialized_params():
        raise RuntimeError(f"module {module._get_name()} has not been fully initialized")
    module._initialize_hook.remove()
    del module._initialize_hook
    if module.cls_to_become is not None:
        module.__class__ = module.cls_to_become


class LazyModuleMixin:
    """Mix in before the eager layer class; subclasses define ``initialize_parameters`` and
    ``_sizes_from_weights`` (the sizes a loaded state dict implies)."""

    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(_infer_parameters, with_kwargs=True)

    def has_uninitialized_params(self) -> bool:
        return (any(isinstance(p, UninitializedParameter) for p in self._parameters.values())
                or any(isinstance(b, UninitializedBuffer) for b in self._buffers.values()))

    def initialize_parameters(self, *args, **kwargs) -> None:
        raise NotImplementedError(f"initialize_parameters is not implemented for {type(self).__name__}")

    def _sizes_from_weights(self) -> None:
        pass

    def _materialize_from_state_dict(self, state_dict, prefix: str) -> None:
        """Called by ``Module.load_state_dict`` before it copies: saved shapes fix the sizes."""
        changed = False
        for name, p in list(self._parameters.items()) + list(self._buffers.items()):
            value = state_dict.get(prefix + name)
            if isinstance(p, (UninitializedParameter, UninitializedBuffer)) and isinstance(value, Tensor):
                p.materialize(tuple(value.shape))
                changed = True
        if changed and not self.has_uninitialized_params():
            self._sizes_from_weights()
