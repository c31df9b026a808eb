"""Tensors as the host buffers an engine such as MPI communicates, and the results back.

A contiguous cpu tensor IS its buffer: its NumPy array goes to MPI as is and MPI writes the
result in place. A non-contiguous cpu tensor, or a tensor of another device, goes through one
host copy, copied back when the collective completes. float16 and bfloat16 travel as their
bits (uint16) when nothing is computed on them; reductions compute them in float32, since
MPI has no bfloat16 (and float16 only as an extension), and round once at the end.
"""
from __future__ import annotations

import numpy as np

from plugtorch import _dtypes

_HALF = (_dtypes.float16, _dtypes.bfloat16)


def wire_dtype(dtype, reduce: bool) -> np.dtype:
    """The NumPy dtype that carries ``dtype`` (``reduce``: the engine computes on it)."""
    if dtype in _HALF:
        return np.dtype(np.float32) if reduce else np.dtype(np.uint16)
    return dtype.numpy


def to_host(tensor, reduce: bool = False, read: bool = True):
    """``(array, in_place)``: a contiguous host array holding ``tensor`` (uninitialized when
    not ``read``); ``in_place`` when it is the tensor's own memory (no write-back needed)."""
    data = tensor._data
    wire = wire_dtype(tensor._dtype, reduce)
    if tensor._device.type == "cpu" and isinstance(data, np.ndarray) and data.flags.c_contiguous:
        if wire == data.dtype:
            return data, True
        if wire.itemsize == data.dtype.itemsize and not reduce:
            return data.view(wire), True
    if not read:
        return np.empty(tuple(data.shape), wire), False
    host = tensor._backend().to_numpy(data)
    if host.dtype != wire:
        host = host.astype(wire) if reduce else np.ascontiguousarray(host).view(wire)
    return np.ascontiguousarray(host), False


def empty_host(shape, dtype, reduce: bool = False) -> np.ndarray:
    return np.empty(tuple(shape), wire_dtype(dtype, reduce))


def from_host(tensor, array: np.ndarray) -> None:
    """Write host ``array`` (the wire dtype of ``tensor``'s dtype) into ``tensor`` in place."""
    dtype = tensor._dtype
    if array.dtype != dtype.numpy:
        array = array.view(dtype.numpy) if array.dtype == np.uint16 else array.astype(dtype.numpy)
    array = array.reshape(tuple(tensor._data.shape))
    if tensor._device.type == "cpu":
        tensor._data[...] = array
    else:
        from plugtorch import no_grad
        from plugtorch._tensor import Tensor
        from plugtorch._device import device
        with no_grad():
            tensor.copy_(Tensor._wrap(array, dtype, device("cpu")))
        return   # copy_ bumped the version
    tensor._bump_version()
