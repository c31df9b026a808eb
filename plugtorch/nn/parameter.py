"""``Parameter``: a tensor that a ``Module`` registers as one of its learnable weights.

>>> import plugtorch as pt
>>> p = pt.nn.Parameter(pt.zeros(2))
>>> p.requires_grad
True
"""
from __future__ import annotations

from plugtorch._tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad (by default) and is seen by ``Module.parameters()``."""

    _is_param = True

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            import plugtorch
            data = plugtorch.empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): data must be a Tensor, not {type(data).__name__}")
        p = object.__new__(cls)
        p._data = data._data
        p._dtype = data._dtype
        p._device = data._device
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __init__(self, data=None, requires_grad=True):
        pass

    def __reduce_ex__(self, proto):
        return (Parameter, (self.detach(), self.requires_grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        out = Parameter(self.detach().clone(), self.requires_grad)
        memo[id(self)] = out
        return out


class Buffer(Tensor):
    """Marks a tensor to be registered as a buffer when assigned to a module attribute."""

    def __new__(cls, data, *, persistent=True):
        b = object.__new__(cls)
        b._data = data._data
        b._dtype = data._dtype
        b._device = data._device
        b.persistent = persistent
        return b

    def __init__(self, data, *, persistent=True):
        pass


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (a lazy module's weight before its first call).

    ``materialize(shape)`` gives it (uninitialized) storage of that shape and turns it into a
    plain ``Parameter``, the same object, so optimizers and references keep seeing it.

    >>> import plugtorch as pt
    >>> p = UninitializedParameter()
    >>> p.materialize((2, 3)); type(p).__name__, tuple(p.shape)
    ('Parameter', (2, 3))
    """

    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        import plugtorch
        return Parameter.__new__(cls, plugtorch.empty(0, device=device, dtype=dtype), requires_grad)

    def __init__(self, requires_grad=True, device=None, dtype=None):
        pass

    def materialize(self, shape, device=None, dtype=None) -> None:
        import plugtorch
        data = plugtorch.empty(tuple(shape), device=device or self.device, dtype=dtype or self.dtype)
        self._data, self._dtype, self._device = data._data, data._dtype, data._device
        self.__class__ = self.cls_to_become

    def __repr__(self):
        return "<UninitializedParameter>"

    __str__ = __repr__

    def __reduce_ex__(self, proto):
        return (UninitializedParameter, (self.requires_grad, None, self.dtype))

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = UninitializedParameter(self.requires_grad, self.device, self.dtype)
        return memo[id(self)]


def is_lazy(param) -> bool:
    """Whether ``param`` is still an ``UninitializedParameter``."""
    return isinstance(param, UninitializedParameter)


class UninitializedBuffer(Tensor):
    """A buffer whose shape is not known yet (a lazy norm layer's running statistics);
    ``materialize(shape)`` gives it storage and makes it a plain tensor, the same object."""

    def __new__(cls, requires_grad=False, device=None, dtype=None):
        import plugtorch
        data = plugtorch.empty(0, device=device, dtype=dtype)
        b = object.__new__(cls)
        b._data, b._dtype, b._device = data._data, data._dtype, data._device
        return b

    def __init__(self, requires_grad=False, device=None, dtype=None):
        pass

    def materialize(self, shape, device=None, dtype=None) -> None:
        import plugtorch
        data = plugtorch.empty(tuple(shape), device=device or self.device, dtype=dtype or self.dtype)
        self._data, self._dtype, self._device = data._data, data._dtype, data._device
        self.__class__ = Tensor

    def to(self, *args, **kwargs):
        """Moving or casting one (``module.to``) keeps it uninitialized, on that device or dtype."""
        out = Tensor.to(self, *args, **kwargs)
        return UninitializedBuffer(device=out.device, dtype=out.dtype)

    def __repr__(self):
        return "<UninitializedBuffer>"

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = UninitializedBuffer(device=self.device, dtype=self.dtype)
        return memo[id(self)]
