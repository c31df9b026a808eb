"""Argument helpers shared by the functional files: tuples for sizes, reductions."""
from __future__ import annotations

import os
import sys
import warnings

_PACKAGE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep


def user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning, raised by the function calling this one, at the
    first caller outside plugtorch: a functional reached through the dispatcher (``mse_loss``,
    an op of the registry) sits a varying number of frames below the user's call."""
    level, f = 2, sys._getframe(2)
    while f is not None and f.f_code.co_filename.startswith(_PACKAGE):
        level, f = level + 1, f.f_back
    return level


def _ntuple(n, name="argument"):
    def parse(x):
        if isinstance(x, (list, tuple)):
            if len(x) == 1:
                return tuple(x) * n
            if len(x) != n:   # RuntimeError, as PyTorch's pooling, conv and unfold argument checks
                raise RuntimeError(f"{name} must be an int or a tuple of {n} ints, got {tuple(x)}")
            return tuple(x)
        return (x,) * n
    return parse


_single = _ntuple(1)
_pair = _ntuple(2)
_triple = _ntuple(3)


def check_ints(op, name, values):
    """Sizes, strides, paddings and dilations are ints (None where an adaptive size keeps the
    input's): a float is PyTorch's TypeError, never used as it is."""
    for v in values:
        if v is not None and (isinstance(v, float) or not hasattr(v, "__index__")):
            raise TypeError(f"{op}(): argument '{name}' must be tuple of ints, but found element of type "
                            f"{type(v).__name__} ({v!r})")


def check_positive(op, name, values):
    """PyTorch's RuntimeError for a stride, dilation, kernel size or groups that is not > 0
    (a zero would otherwise end in a ZeroDivisionError or a silently wrong result)."""
    check_ints(op, name, values)
    if any(v <= 0 for v in values):
        raise RuntimeError(f"{op}(): {name} should be greater than zero, but got {name}={_show(values)}")


def check_nonnegative(op, name, values):
    """PyTorch's RuntimeError for a negative padding (or output_padding)."""
    check_ints(op, name, values)
    if any(v < 0 for v in values):
        raise RuntimeError(f"{op}(): negative {name} is not supported, but got {name}={_show(values)}")


def _show(values):
    return values[0] if len(set(values)) == 1 else tuple(values)


def check_tensors(op, **tensors):
    """PyTorch's TypeError for an argument that must be a Tensor (a list or None would otherwise
    fail inside the function with an AttributeError)."""
    from plugtorch._tensor import Tensor
    for name, t in tensors.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(t).__name__}")


def check_optional_tensors(op, **tensors):
    """``check_tensors`` for arguments that may be None (weight, bias, running statistics)."""
    check_tensors(op, **{name: t for name, t in tensors.items() if t is not None})


def check_input_dims(op, input, allowed, what):
    """Raise PyTorch's error when ``input.ndim`` is not one of ``allowed``."""
    if input.ndim not in allowed:
        raise RuntimeError(f"Expected {what} input to {op}, but got input of size: {list(input.shape)}")


def legacy_reduction(size_average, reduce, reduction):
    """Map the deprecated ``size_average``/``reduce`` flags to ``reduction``, as PyTorch does."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce args will be deprecated, please use reduction='"
                  + ("mean" if (size_average is not False and reduce is not False) else
                     "sum" if reduce is not False else "none") + "' instead.", UserWarning,
                  stacklevel=user_stacklevel())
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        return "mean"
    return "sum" if reduce else "none"


def reduce(loss, reduction):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def check_reduction(reduction, allowed=("none", "mean", "sum")):
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")
