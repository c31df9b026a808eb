"""The TorchScript-facing names of ``torch.jit`` that model code uses: decorators that mark
functions for the script compiler, ``annotate``, ``Final``, ``is_scripting`` and ``script``.

plugtorch has no TorchScript compiler: nothing is ever scripted, so ``is_scripting()`` is False,
the decorators mark the function (``_torchscript_modifier``, as PyTorch) and return it unchanged
(it stays callable, and ``jit.trace`` records its ops like any other call), and ``script``
raises NotImplementedError naming the two ways plugtorch makes a graph.

>>> import plugtorch as pt
>>> @pt.jit.ignore
... def debug(x):
...     return x * 2
>>> pt.jit.trace(lambda x: debug(x) + 1, pt.ones(2))(pt.ones(2)).tolist()
[3.0, 3.0]
"""
from __future__ import annotations

import inspect
import warnings
from typing import Final  # noqa: F401  (as torch.jit.Final: typing's)


class FunctionModifiers:
    """What a decorator asked of the script compiler (``fn._torchscript_modifier``)."""
    UNUSED = "unused (ignored and replaced with raising of an exception)"
    IGNORE = "ignore (leave as a call to Python, cannot be torch.jit.save'd)"
    EXPORT = "export (compile this function even if nothing calls it)"
    DEFAULT = "default (compile if called from an exported function / forward)"


def is_scripting() -> bool:
    """Whether the code runs as TorchScript: never in plugtorch (there is no script compiler)."""
    return False


def ignore(drop=False, **kwargs):
    """Leave a function as Python for the script compiler; ``@ignore`` or ``@ignore(drop=True)``.
    The function is returned as it is (marked), so it runs, and traces, unchanged."""
    if callable(drop):
        drop._torchscript_modifier = FunctionModifiers.IGNORE
        return drop
    if not isinstance(drop, bool):
        raise RuntimeError(f"Argument to @plugtorch.jit.ignore must be a bool or a function but got {drop}")
    drop_on_export = kwargs.pop("drop_on_export", None)
    if drop_on_export:
        warnings.warn("ignore(drop_on_export=True) has been deprecated. TorchScript will now drop the function "
                      "call on compilation. Use plugtorch.jit.unused now.", FutureWarning, stacklevel=2)
        drop = drop_on_export
    elif drop:
        warnings.warn("ignore(True) has been deprecated. TorchScript will now drop the function call on "
                      "compilation. Use plugtorch.jit.unused now.", FutureWarning, stacklevel=2)

    def decorator(fn):
        fn._torchscript_modifier = FunctionModifiers.UNUSED if drop else FunctionModifiers.IGNORE
        return fn
    return decorator


def unused(fn):
    """Mark a function (or a property) the script compiler would replace with a raise; it is
    returned as it is."""
    if isinstance(fn, property):
        fn.fget._torchscript_modifier = FunctionModifiers.UNUSED
        if fn.fset:
            fn.fset._torchscript_modifier = FunctionModifiers.UNUSED
        return fn
    fn._torchscript_modifier = FunctionModifiers.UNUSED
    return fn


def export(fn):
    """Mark a method the script compiler would compile even if ``forward`` does not call it."""
    fn._torchscript_modifier = FunctionModifiers.EXPORT
    return fn


def annotate(the_type, the_value):
    """A type hint for the script compiler: returns ``the_value``.

    >>> annotate(list, [])
    []
    """
    return the_value


def interface(obj):
    """Declare a TorchScript interface class: checked to be a class, returned unchanged."""
    if not inspect.isclass(obj):
        raise RuntimeError("interface must be applied to a class")
    return obj


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """TorchScript compilation, which plugtorch does not have: raises NotImplementedError.

    ``plugtorch.jit.trace(model, example_inputs)`` records a static graph (saved and loaded like
    a ScriptModule, Python control flow fixed at the traced path); ``plugtorch.compile(model)``
    traces once per input signature and follows data-dependent Python by tracing again."""
    name = getattr(obj, "__qualname__", None) or type(obj).__name__
    raise NotImplementedError(
        f"plugtorch.jit.script({name}): plugtorch has no TorchScript compiler. Use "
        "plugtorch.jit.trace(model, example_inputs) for a static graph (it saves and loads like a "
        "ScriptModule; Python control flow is fixed at the traced path), or plugtorch.compile(model), "
        "which traces once per input signature and traces again where Python control flow changes")
