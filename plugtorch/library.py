"""``plugtorch.library``: new ops and faster kernels from outside plugtorch, as ``torch.library``.

A package defines an op once (its meta function, and/or a decomposition), gives it kernels per
backend and a backward formula; it becomes ``plugtorch.ops.<namespace>.<name>``, and it
dispatches, differentiates and runs under modes like a built-in op.

>>> from plugtorch import library
>>> def meta(x, alpha=1.0):                      # validate once; say where and what the result is
...     return x.device, (x, float(alpha), x.dtype), x.dtype
>>> library.define("mylib::scale", meta)                                # doctest: +SKIP
>>> library.impl("mylib::scale", "cpu")(lambda x, alpha, dtype: x * alpha)   # doctest: +SKIP
>>> library.register_autograd("mylib::scale", lambda g, x, alpha=1.0: (g * alpha,))  # doctest: +SKIP
>>> plugtorch.ops.mylib.scale(plugtorch.ones(2), 3.0)                   # doctest: +SKIP
tensor([3., 3.])

Kernels of ops with a meta function receive what the meta returned, with tensors replaced by
the backend's native arrays, and return a native array (the backend contract of
docs/backends.md). Kernels that override a composite op (``softmax``: no meta, a
decomposition) receive the op's own arguments, tensors on that device, and return a tensor.
"""
from __future__ import annotations

import inspect
import types

from plugtorch._library_custom_op import CUSTOM_OPS, CustomOpDef, custom_op, op_def
from plugtorch.dispatch import registry

__all__ = ["define", "impl", "remove_impl", "register_autograd", "undefine", "native", "custom_op",
           "register_fake", "CustomOpDef"]

_MISSING = object()
_DEFINED: dict = {}       # qualname -> OpDef of ops defined here
_KERNELS: dict = {}       # (op name, device type) -> kernel (native-array convention)
_PREVIOUS: dict = {}      # (op name, device type) -> the backend's own kernel it replaced
_OVERRIDES: dict = {}     # composite op name -> {device type: tensor-level kernel}
_DECOMPOSITIONS: dict = {}  # composite op name -> its own decomposition, while routed


def _split(qualname):
    ns, sep, name = qualname.partition("::")
    if not sep or not ns.isidentifier() or not name.isidentifier():
        raise ValueError(f"library.define(): op name {qualname!r} must be 'namespace::name' with "
                         "two Python identifiers, e.g. 'mylib::fused_gelu'")
    return ns, name


def _ops():
    from plugtorch._ops_public import ops
    return ops


def define(qualname: str, meta=None, *, decomposition=None, tags=(), differentiable=True, doc=None):
    """Define op ``namespace::name``; it becomes ``plugtorch.ops.namespace.name``.

    ``meta(*args, **kwargs) -> (device, kernel_args, out_dtype)`` validates the arguments once
    for every backend; ``decomposition`` (plugtorch ops) serves backends with no kernel, or is
    the whole op when there is no meta. Usable as a decorator on the meta function.
    """
    if meta is None and decomposition is None:
        return lambda fn: define(qualname, fn, tags=tags, differentiable=differentiable, doc=doc)
    ns, name = _split(qualname)
    if qualname in registry.OPS:
        raise RuntimeError(f"library.define(): op '{qualname}' is already defined; call "
                           f"plugtorch.library.undefine('{qualname}') first to redefine it")
    ops = _ops()
    space = getattr(ops, ns, None)
    if space is not None and not isinstance(space, types.SimpleNamespace):
        raise RuntimeError(f"library.define(): namespace '{ns}' clashes with the op "
                           f"plugtorch.ops.{ns}; pick another namespace")
    if meta is not None and decomposition is not None:
        _check_same_params("define", "the decomposition", decomposition, meta, "the meta function")
    op = registry.register_op(qualname, _native_args(meta) if meta is not None else None,
                              decomposition=decomposition, tags=tags,
                              differentiable=differentiable, doc=doc or (meta or decomposition).__doc__)
    if meta is not None:
        op.signature = inspect.signature(meta)
    _DEFINED[qualname] = op
    if space is None:
        space = types.SimpleNamespace()
        setattr(ops, ns, space)
    from plugtorch._ops_public import _make_op_function
    fn = _make_op_function(op)
    fn.__name__ = name
    fn.__qualname__ = f"{ns}.{name}"
    setattr(space, name, fn)
    return op


def _native_args(meta):
    # the user's meta may put tensors in the kernel arguments; kernels get native arrays
    from plugtorch._tensor import Tensor

    def native_meta(*args, **kwargs):
        dev, kargs, out = meta(*args, **kwargs)
        return dev, tuple(_to_native(a, Tensor) for a in kargs), out
    native_meta.__wrapped__ = meta
    return native_meta


def _to_native(a, Tensor):
    if isinstance(a, Tensor):
        return a._data
    if isinstance(a, (list, tuple)) and any(isinstance(b, Tensor) for b in a):
        return type(a)(b._data if isinstance(b, Tensor) else b for b in a)
    return a


def native(tensor):
    """The backend's native array of ``tensor`` (for kernels that wrap libraries)."""
    return tensor._data


def undefine(qualname: str) -> None:
    """Remove an op defined with :func:`define`, with its kernels and formula."""
    if qualname not in _DEFINED:
        raise RuntimeError(f"library.undefine(): '{qualname}' was not defined with plugtorch.library.define")
    for key in [k for k in _KERNELS if k[0] == qualname]:
        remove_impl(*key)
    _OVERRIDES.pop(qualname, None)
    _DECOMPOSITIONS.pop(qualname, None)
    from plugtorch.autograd import formulas
    formulas.FORMULAS.pop(qualname, None)
    formulas.RECORD_CACHE.clear()
    CUSTOM_OPS.pop(qualname, None)
    registry.unregister_op(qualname)
    del _DEFINED[qualname]
    ns, name = _split(qualname)
    space = getattr(_ops(), ns)
    delattr(space, name)
    if not vars(space):
        delattr(_ops(), ns)


def impl(qualname: str, device_type: str, fn=None):
    """Register ``fn`` as the kernel of op ``qualname`` on backend ``device_type``.

    Works for ops defined here and for plugtorch's own: a faster ``softmax`` on opencl is
    ``@plugtorch.library.impl("softmax", "opencl")``. :func:`remove_impl` takes it back.
    """
    if fn is None:
        return lambda f: impl(qualname, device_type, f)
    op = _op(qualname, "impl")
    _check_device_type(device_type)
    if (qualname, device_type) in _KERNELS or device_type in _OVERRIDES.get(qualname, {}):
        raise RuntimeError(f"library.impl(): '{qualname}' already has a kernel registered for "
                           f"'{device_type}' through plugtorch.library; remove_impl it first")
    if op.meta is None:   # a composite op: the kernel replaces the decomposition on that device
        _check_same_params("impl", "the kernel", fn, op.decomposition, f"'{qualname}'")
        routes = _OVERRIDES.setdefault(qualname, {})
        if not routes:
            _DECOMPOSITIONS[qualname] = op.decomposition
            op.decomposition = _router(op, routes, op.decomposition)
        routes[device_type] = fn
        return fn
    _check_kernel_arity(qualname, device_type, fn)
    _KERNELS[qualname, device_type] = fn
    from plugtorch import backends
    be = backends._BACKENDS.get(device_type)
    if be is not None:        # else installed when the backend registers
        _install(qualname, device_type, be, fn)
    return fn


def remove_impl(qualname: str, device_type: str) -> None:
    """Take back a kernel registered with :func:`impl`; the backend's own one (if any) returns."""
    routes = _OVERRIDES.get(qualname)
    if routes and device_type in routes:
        del routes[device_type]
        if not routes:
            registry.get(qualname).decomposition = _DECOMPOSITIONS.pop(qualname)
            del _OVERRIDES[qualname]
        return
    if (qualname, device_type) not in _KERNELS:
        raise RuntimeError(f"library.remove_impl(): no kernel for '{qualname}' on '{device_type}' "
                           "was registered through plugtorch.library")
    del _KERNELS[qualname, device_type]
    from plugtorch import backends
    be = backends._BACKENDS.get(device_type)
    prev = _PREVIOUS.pop((qualname, device_type), _MISSING)
    if be is not None:
        if prev is _MISSING:
            be.kernels.pop(qualname, None)
        else:
            be.kernels[qualname] = prev
        _kernels_changed(device_type)


def register_autograd(qualname, backward, *, setup_context=None, save=None, result=False) -> None:
    """Give op ``qualname`` its backward formula: ``backward(grad, *op_args, **op_kwargs)``
    returns the gradients of the op's leading arguments (see plugtorch.autograd.formulas).

    For an op made with :func:`custom_op` (given as itself or its name) the convention is
    PyTorch's: ``setup_context(ctx, inputs, output)`` and ``backward(ctx, *grads)``.
    """
    custom = op_def(qualname, "register_autograd")
    if custom is not None:
        return custom.register_autograd(backward, setup_context=setup_context)
    if setup_context is not None:
        raise RuntimeError(f"library.register_autograd(): setup_context is for ops made with "
                           f"plugtorch.library.custom_op, and '{qualname}' is not one")
    op = _op(qualname, "register_autograd")
    params = list(inspect.signature(backward).parameters.values())
    got = [p.name for p in params[1:] if p.name != "result"]
    want = list(op.signature.parameters)
    if got != want and not any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        raise TypeError(f"library.register_autograd(): the formula for '{qualname}' must take "
                        f"(grad, {', '.join(want)}), got ({', '.join(p.name for p in params)})")
    from plugtorch.autograd.formulas import derivative
    derivative(qualname, backward, save=save, result=result)


def register_fake(op, func=None, /, *, lib=None, allow_override=True):
    """Register the fake (shape and dtype) implementation of a :func:`custom_op` op, as
    ``torch.library.register_fake``; usable as a decorator."""
    custom = op_def(op, "register_fake")
    if custom is None:
        raise RuntimeError(f"library.register_fake(): {op!r} is not an op made with "
                           "plugtorch.library.custom_op")
    if func is None:
        return custom.register_fake
    return custom.register_fake(func)


# ---- helpers ------------------------------------------------------------------------------
def _op(qualname, fn_name):
    op = registry.OPS.get(qualname)
    if op is None:
        raise RuntimeError(f"library.{fn_name}(): there is no op named '{qualname}'; define it "
                           "first with plugtorch.library.define")
    return op


def _check_device_type(device_type):
    from plugtorch import backends
    if not isinstance(device_type, str) or not backends.is_registered(device_type):
        known = sorted(set(backends._BACKENDS) | set(backends._LAZY_BUILTINS))
        raise RuntimeError(f"library.impl(): unknown device type {device_type!r} (known: "
                           f"{', '.join(known)}); register its backend first")


def _positional(fn):
    """(required, maximum) positional arguments ``fn`` takes (maximum None: *args)."""
    req, most = 0, 0
    for p in inspect.signature(fn).parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            most = None
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if p.default is p.empty:
                req += 1
            if most is not None:
                most += 1
    return req, most


def _reference_kernel(qualname, device_type):
    from plugtorch import backends
    cpu = backends._BACKENDS["cpu"].kernels.get(qualname)
    if cpu is not None and device_type != "cpu":
        return cpu
    for (name, dt), k in _KERNELS.items():
        if name == qualname and dt != device_type:
            return k
    return cpu


def _check_kernel_arity(qualname, device_type, fn):
    ref = _reference_kernel(qualname, device_type)
    if ref is None:
        return
    try:
        n = _positional(ref)[0]
        req, most = _positional(fn)
    except (TypeError, ValueError):
        return
    if req > n or (most is not None and most < n):
        raise TypeError(f"library.impl(): the kernel for '{qualname}' on '{device_type}' takes "
                        f"{req}{'' if most == req else '+'} positional arguments, but the op's "
                        f"kernels receive {n} (those of {inspect.signature(ref)})")


def _check_same_params(fn_name, what, fn, ref, ref_what):
    a, b = inspect.signature(fn).parameters, inspect.signature(ref).parameters
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in a.values()):
        return
    if list(a) != list(b):
        raise TypeError(f"library.{fn_name}(): {what} takes ({', '.join(a)}) but {ref_what} takes "
                        f"({', '.join(b)}); the signatures must match")


def _kernels_changed(device_type):
    from plugtorch.backends import _forget_devices
    _forget_devices(device_type)


def _install(qualname, device_type, be, fn):
    from plugtorch.backends.base import Backend
    if be.kernels is Backend.kernels:   # never write into the class-wide default table
        be.kernels = {}
    prev = be.kernels.get(qualname, _MISSING)
    if prev is not fn and (qualname, device_type) not in _PREVIOUS:
        _PREVIOUS[qualname, device_type] = prev
    be.kernels[qualname] = fn
    _kernels_changed(device_type)


def _install_kernels_for(device_type, be) -> None:
    """Called when a backend registers: give it the kernels registered for its device type."""
    for (name, dt), fn in _KERNELS.items():
        if dt == device_type:
            _PREVIOUS.pop((name, dt), None)
            _install(name, dt, be, fn)


def _router(op, routes, decomposition):
    from plugtorch._tensor import Tensor
    from plugtorch.autograd import formulas
    from plugtorch.dispatch.dispatcher import _requires_grad, grad_state

    def route(*args, **kwargs):
        dev = next((a._device for a in args if isinstance(a, Tensor)), None)
        kernel = routes.get(dev.type) if dev is not None else None
        # under autograd with no formula the decomposition must run, so gradients flow
        if kernel is None or (grad_state.enabled and op.name not in formulas.FORMULAS
                              and _requires_grad(args)):
            return decomposition(*args, **kwargs)
        return kernel(*args, **kwargs)
    route.__wrapped__ = decomposition
    return route
