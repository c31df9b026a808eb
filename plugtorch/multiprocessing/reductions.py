"""Shared-memory cpu tensors: ``Tensor.share_memory_`` and how such a tensor crosses processes.

The tensor's data moves into a file in ``/dev/shm`` (a ``numpy.memmap`` of it); the pickler
multiprocessing uses sends the file's name, offset, shape, strides and dtype, and the receiving
process maps the same file. The process that made a file removes it when it exits.
"""
from __future__ import annotations

import atexit
import os
import secrets

import numpy as np

_made: list = []       # files this process made, removed at exit


def _remove_made():
    for path in _made:
        try:
            os.unlink(path)
        except OSError:
            pass


atexit.register(_remove_made)


def _directory() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") else __import__("tempfile").gettempdir()


def share_memory_(t):
    """Move ``t``'s data (a cpu tensor) into shared memory; returns ``t``. A no-op when it is already
    there; other devices raise RuntimeError (only cpu tensors can be shared across processes here)."""
    if t.device.type != "cpu":
        raise RuntimeError(f"share_memory_(): only cpu tensors can be moved to shared memory, got one on {t.device}")
    if is_shared(t):
        return t
    data = np.ascontiguousarray(t._data)
    path = os.path.join(_directory(), f"plugtorch_shm_{os.getpid()}_{secrets.token_hex(6)}")
    # (owner-only permissions, as PyTorch's shared memory: np.memmap's "w+" would create it 0644,
    # readable by every user of the machine; O_EXCL refuses a file or link already there)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    _made.append(path)
    shared = np.memmap(path, dtype=data.dtype, mode="r+", shape=data.shape if data.size else (1,))
    if data.size:
        shared[...] = data
    else:
        shared = shared[:0].reshape(data.shape)
    t._data = shared
    return t


def _shared_file(array):
    """(path, byte offset) of the shared file under ``array``, or None."""
    root = array
    while isinstance(root.base, np.ndarray):     # the array that maps the file (a slice of a memmap is one too)
        root = root.base
    if not isinstance(root, np.memmap) or root.filename is None or root.mode not in ("r+", "w+"):
        return None     # (a read-only or copy-on-write "c" map is not memory other processes see)
    start = root.__array_interface__["data"][0]
    return root.filename, root.offset + array.__array_interface__["data"][0] - start


def is_shared(t) -> bool:
    """Whether ``t``'s data is in shared memory (``share_memory_`` moved it there)."""
    return t.device.type == "cpu" and isinstance(t._data, np.ndarray) and _shared_file(t._data) is not None


def rebuild_shared(path, offset, shape, strides, dtype, requires_grad, parameter):
    """Map the file another process shared: the same memory, as a tensor (or Parameter)."""
    from plugtorch import _ops_public as P
    count = (sum((n - 1) * s for n, s in zip(shape, strides)) // np.dtype(dtype).itemsize + 1) if all(shape) else 0
    flat = np.memmap(path, dtype=dtype, mode="r+", offset=offset, shape=(max(count, 1),))
    array = np.ndarray(shape, dtype, buffer=flat, strides=strides) if count else flat[:0].reshape(shape)
    t = P.from_numpy(array)
    if parameter:
        from plugtorch.nn.parameter import Parameter
        return Parameter(t, requires_grad=requires_grad)
    return t.requires_grad_(requires_grad) if requires_grad else t


def reduce_shared(t):
    """The pickler's recipe for a shared tensor, or None when ``t`` is not shared."""
    where = _shared_file(t._data) if t.device.type == "cpu" and isinstance(t._data, np.ndarray) else None
    if where is None:
        return None
    return rebuild_shared, (where[0], where[1], t._data.shape, t._data.strides, t._data.dtype,
                            t.requires_grad, bool(t._is_param))
