"""``custom_fwd`` and ``custom_bwd``: autocast for the forward and backward of a custom
``autograd.Function``, as ``torch.amp``.

Under autocast, ``custom_fwd(cast_inputs=dtype)`` casts the floating tensors among the forward's
arguments (on ``device_type``, float64 excepted) to ``dtype`` and runs the forward with autocast
off; without ``cast_inputs`` the forward runs in the autocast state of the caller.
``custom_bwd`` runs the backward in the autocast state the forward ran in (enabled and dtype),
whatever the state where ``backward()`` is called.

>>> import plugtorch as pt
>>> class Square(pt.autograd.Function):
...     @staticmethod
...     @pt.amp.custom_fwd(device_type="cpu", cast_inputs=pt.float32)
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return x * x
...     @staticmethod
...     @pt.amp.custom_bwd(device_type="cpu")
...     def backward(ctx, g):
...         (x,) = ctx.saved_tensors
...         return 2 * x * g
>>> with pt.autocast("cpu"):
...     y = Square.apply(pt.ones(2, dtype=pt.bfloat16))
>>> y.dtype
plugtorch.float32
"""
from __future__ import annotations

import collections.abc
import functools

import numpy as np

from plugtorch import _dtypes
from plugtorch._tensor import Tensor
from plugtorch.amp.autocast_mode import autocast, get_autocast_dtype, is_autocast_enabled


def _cast(value, device_type: str, dtype):
    """``value`` with its floating tensors on ``device_type`` (not float64) cast to ``dtype``,
    through lists, tuples and dicts."""
    if isinstance(value, Tensor):
        eligible = value.is_floating_point() and value.device.type == device_type and \
            value.dtype is not _dtypes.float64
        return value.to(dtype) if eligible else value
    if isinstance(value, (str, bytes, np.ndarray)):
        return value
    if isinstance(value, collections.abc.Mapping):
        return {_cast(k, device_type, dtype): _cast(v, device_type, dtype) for k, v in value.items()}
    if isinstance(value, collections.abc.Iterable):
        items = (_cast(v, device_type, dtype) for v in value)
        return type(value)(items) if isinstance(value, (list, tuple)) else items
    return value


def _check_device_type(device_type):
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")


def custom_fwd(fwd=None, *, device_type: str, cast_inputs=None):
    """Decorate a custom Function's ``forward`` (see the module docstring); usable with or
    without ``fwd``: ``@custom_fwd(device_type="cuda", cast_inputs=plugtorch.float32)``."""
    _check_device_type(device_type)
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        ctx = args[0]
        ctx._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            ctx._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        ctx._fwd_used_autocast = False
        if not is_autocast_enabled(device_type):
            return fwd(*args, **kwargs)
        with autocast(device_type=device_type, enabled=False):
            return fwd(*_cast(args, device_type, cast_inputs), **_cast(kwargs, device_type, cast_inputs))
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type: str):
    """Decorate a custom Function's ``backward``: it runs in the autocast state (enabled, dtype)
    of the ``custom_fwd`` forward."""
    _check_device_type(device_type)
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with autocast(device_type=device_type, enabled=ctx._fwd_used_autocast, dtype=ctx._dtype):
            return bwd(*args, **kwargs)
    return decorate_bwd
