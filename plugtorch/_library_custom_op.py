"""``plugtorch.library.custom_op``: PyTorch 2.4's decorator way to define an op, on library.define.

The decorated function is the op's default implementation, written with plugtorch tensors (it
may go through NumPy); the op is a composite op of the registry, so it dispatches per device,
runs under modes (the tracer of ``plugtorch.jit`` and ``compile`` records it), and
``register_kernel`` gives one device type its own implementation through ``library.impl``.
As in PyTorch the op is opaque to autograd: backward through it raises until
``register_autograd`` gives it a formula.

>>> @plugtorch.library.custom_op("mylib::numpy_sin", mutates_args=())     # doctest: +SKIP
... def numpy_sin(x: plugtorch.Tensor) -> plugtorch.Tensor:
...     return plugtorch.tensor(np.sin(x.numpy()), device=x.device)
>>> numpy_sin.register_autograd(lambda ctx, g: g * ctx.saved_tensors[0].cos(),   # doctest: +SKIP
...                             setup_context=lambda ctx, inputs, output: ctx.save_for_backward(inputs[0]))
"""
from __future__ import annotations

import inspect
from collections.abc import Iterable
from contextlib import nullcontext

CUSTOM_OPS: dict = {}     # qualname -> CustomOpDef


class CustomOpDef:
    """What :func:`custom_op` returns: call it like the op; register kernels, a fake and autograd."""

    def __init__(self, qualname, fn, mutates_args, device_types, schema):
        from plugtorch import library
        self._qualname = qualname
        self._namespace, self._name = qualname.split("::")
        self._init_fn = fn
        self._mutates_args = mutates_args
        self._schema = schema
        self._signature = inspect.signature(fn)
        self._abstract_fn = None
        self._backward_fn = None
        self._setup_context_fn = None
        default = fn if device_types is None else self._no_default_kernel
        op = library.define(qualname, decomposition=_same_signature(default, self._signature, self._opaque()),
                            doc=fn.__doc__)
        op.out_kind = _out_kind(self._signature.return_annotation)
        from plugtorch.autograd.formulas import derivative
        derivative(qualname, self._backward, result=True)
        CUSTOM_OPS[qualname] = self
        self._opoverload = getattr(getattr(library._ops(), self._namespace), self._name)
        if device_types is not None:
            self.register_kernel(device_types, fn)
        self.__doc__ = fn.__doc__
        self.__name__ = self._name

    def __repr__(self):
        return f"<CustomOpDef({self._qualname})>"

    def __call__(self, *args, **kwargs):
        return self._opoverload(*args, **kwargs)

    def _opaque(self):
        return not isinstance(self._mutates_args, str) and not self._mutates_args

    def _no_default_kernel(self, *args, **kwargs):
        from plugtorch._tensor import Tensor
        dev = next((a.device for a in args if isinstance(a, Tensor)), None)
        raise NotImplementedError(
            f"{self._qualname}: no kernel for device type '{getattr(dev, 'type', None)}' (custom_op was given "
            f"device_types); add one with {self._name}.register_kernel('{getattr(dev, 'type', None)}')")

    def register_kernel(self, device_types, fn=None, /):
        """Use ``fn`` for this op on ``device_types`` (a str or a sequence of them)."""
        if fn is None:
            return lambda f: self.register_kernel(device_types, f)
        from plugtorch import library
        for dt in ([device_types] if isinstance(device_types, str) else list(device_types)):
            if (self._qualname, dt) in library._KERNELS or dt in library._OVERRIDES.get(self._qualname, {}):
                library.remove_impl(self._qualname, dt)    # PyTorch lets a later kernel replace one
            library.impl(self._qualname, dt, _same_signature(fn, self._signature, self._opaque()))
        return fn

    def register_fake(self, fn, /):
        """Record ``fn`` (the op's shape and dtype rule, PyTorch's FakeTensor kernel). plugtorch
        traces and compiles on real tensors, so it is kept for code written for PyTorch."""
        self._abstract_fn = fn
        return fn

    def register_autograd(self, backward, /, *, setup_context=None):
        """Make the op differentiable: ``setup_context(ctx, inputs, output)`` saves what
        ``backward(ctx, *grads)`` needs; ``backward`` returns one gradient per input (None for
        non-tensors), as PyTorch's."""
        if not callable(backward):
            raise TypeError(f"register_autograd(): expected backward to be a function, got {type(backward).__name__}")
        if setup_context is not None and not callable(setup_context):
            raise TypeError("register_autograd(): expected setup_context to be a function, got "
                            f"{type(setup_context).__name__}")
        self._backward_fn = backward
        self._setup_context_fn = setup_context

    def _backward(self, grad, *args, result=None, **kwargs):
        if self._backward_fn is None:
            raise RuntimeError(f"Trying to backward through {self._qualname} but no autograd formula was "
                               "registered. Please use register_autograd to add one.")
        from plugtorch._tensor import Tensor
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        inputs = tuple(bound.arguments.values())
        ctx = _Context(tuple(isinstance(a, Tensor) and a.requires_grad for a in inputs))
        if self._setup_context_fn is not None:
            self._setup_context_fn(ctx, inputs, result)
        grads = self._backward_fn(ctx, *(grad if isinstance(grad, tuple) else (grad,)))
        if not isinstance(grads, (tuple, list)):
            grads = (grads,)
        if len(grads) != len(inputs):
            raise RuntimeError(f"{self._qualname}: backward returned {len(grads)} gradients, expected "
                               f"{len(inputs)} (one per input, None for inputs that are not tensors)")
        return tuple(grads)


class _Context:
    """The ``ctx`` that setup_context fills and backward reads."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors


def _same_signature(fn, signature, opaque=True):
    # library.impl checks that a kernel's parameters are the op's; a kernel written with *args
    # (or a lambda with other names, as PyTorch allows) is called with the op's own arguments.
    # It runs below autograd and the modes, as PyTorch's: its tensors do not require grad
    # (x.numpy() works), and a tracer or profiler sees the op, not what its kernel does inside
    # (unless it writes into its arguments: the tracer must see those writes to replay them)
    def kernel(*args, **kwargs):
        from plugtorch.dispatch.dispatcher import outside_modes
        with outside_modes() if opaque else nullcontext():
            return fn(*[_detached(a) for a in args], **{k: _detached(v) for k, v in kwargs.items()})
    kernel.__signature__ = signature
    kernel.__wrapped__ = fn
    return kernel


def _out_kind(annotation):
    # what autograd records: one tensor, a tuple of them (-> tuple[Tensor, Tensor]) or nothing
    from plugtorch.dispatch.registry import OUT_MULTI, OUT_RAW, OUT_TENSOR
    text = annotation if isinstance(annotation, str) else repr(annotation)
    if annotation is None or text == "None":
        return OUT_RAW
    if text.lower().startswith(("tuple", "typing.tuple", "list", "typing.list")):
        return OUT_MULTI
    return OUT_TENSOR


def _detached(a):
    from plugtorch._tensor import Tensor
    if isinstance(a, Tensor):
        return a.detach() if a.requires_grad else a
    if isinstance(a, (list, tuple)) and any(isinstance(b, Tensor) for b in a):
        return type(a)(_detached(b) for b in a)
    return a


def _check_mutates_args(qualname, fn, mutates_args, schema):
    sig = inspect.signature(fn)
    if isinstance(mutates_args, str):
        if mutates_args != "unknown":
            raise ValueError("mutates_args must either be a sequence of the names of the arguments that are "
                             "mutated or the string 'unknown'. ")
        return mutates_args
    if not isinstance(mutates_args, Iterable):
        raise ValueError("mutates_args must either be a sequence of the names of the arguments that are "
                         "mutated or the string 'unknown'. ")
    names = frozenset(mutates_args)    # (read once: it may be a generator)
    where = f"infer_schema(func): %s Got func with signature {sig})"
    if schema is None:
        for p in sig.parameters.values():
            if p.annotation is p.empty:
                raise ValueError(where % f"Parameter {p.name} must have a type annotation.")
    missing = set(names) - set(sig.parameters)
    if missing:
        raise ValueError(where % (f"{missing} in mutates_args were not found in the custom op's signature. "
                                  "mutates_args should contain the names of all args that the custom op "
                                  "mutates, or just the string 'unknown' if you don't know."))
    for name in sorted(names):
        ann = sig.parameters[name].annotation
        if schema is None and "Tensor" not in (ann if isinstance(ann, str) else repr(ann)):
            raise ValueError(where % (f"Parameter {name} is in mutable_args but only Tensors or collections "
                                      "of Tensors can be mutated"))
    return names


def custom_op(name, fn=None, /, *, mutates_args, device_types=None, schema=None):
    """Define op ``name`` ("namespace::name") whose implementation is ``fn``; as a decorator too.

    ``mutates_args``: the names of the tensor arguments ``fn`` writes into (``()`` for none, or
    ``"unknown"``); ``device_types``: the device types ``fn`` serves (default: all).

    >>> @plugtorch.library.custom_op("mylib::double", mutates_args=())    # doctest: +SKIP
    ... def double(x: plugtorch.Tensor) -> plugtorch.Tensor:
    ...     return x * 2
    >>> double(plugtorch.ones(2))                                          # doctest: +SKIP
    tensor([2., 2.])
    """
    from plugtorch import library

    def inner(f):
        library._split(name)
        mutated = _check_mutates_args(name, f, mutates_args, schema)
        return CustomOpDef(name, f, mutated, device_types, schema)
    if fn is None:
        return inner
    return inner(fn)


def op_def(op, fn_name):
    """The CustomOpDef behind ``op`` (a CustomOpDef, its qualname, or its ops function), or None."""
    if isinstance(op, CustomOpDef):
        return op
    if isinstance(op, str):
        return CUSTOM_OPS.get(op)
    inner = getattr(op, "_op", None)
    return CUSTOM_OPS.get(getattr(inner, "name", None))
