"""Shared-memory cpu tensors: ``Tensor.share_memory_`` and how such a tensor crosses processes.

The tensor's data moves into a file in ``/dev/shm`` (a ``numpy.memmap`` of it); the pickler
multiprocessing uses sends the file's name, offset, shape, strides and dtype, and the receiving
process maps the same file. The process that made a file removes it when it exits.
"""
from __future__ import annotations

import atexit
import os
import ctypes
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
    share_tensors([t])
    return t


def _root(array):
    """The array that owns ``array``'s memory (numpy keeps a view's ``base`` at its owner)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _byte_bounds(array):
    """(lowest, one past the highest) byte address of ``array``'s elements."""
    lo = hi = array.__array_interface__["data"][0]
    if array.size:
        for n, s in zip(array.shape, array.strides):
            lo, hi = (lo + (n - 1) * s, hi) if s < 0 else (lo, hi + (n - 1) * s)
        hi += array.itemsize
    return lo, hi


def share_tensors(tensors) -> None:
    """``share_memory_`` for several tensors at once (``Module.share_memory``). As PyTorch moves a
    tensor's whole storage, the whole memory block under each tensor moves into one shared file, and
    every live tensor viewing that block -- views made before the call, ``.data``/``detach()``
    aliases, gradients -- is re-pointed at the same bytes of the file, so writes through any of them
    stay visible to all (and to other processes)."""
    from plugtorch._tensor import Tensor
    blocks = {}                     # id(owner array) -> (owner, its lowest address, shared bytes)
    for t in tensors:
        if t.device.type != "cpu":
            raise RuntimeError(f"share_memory_(): only cpu tensors can be moved to shared memory, got one on {t.device}")
        if is_shared(t) or id(_root(t._data)) in blocks:
            continue
        owner = _root(t._data)
        lo, hi = _byte_bounds(owner)
        path = os.path.join(_directory(), f"plugtorch_shm_{os.getpid()}_{secrets.token_hex(6)}")
        # (owner-only permissions, as PyTorch's shared memory: np.memmap's "w+" would create it 0644,
        # readable by every user of the machine; O_EXCL refuses a file or link already there)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        _made.append(path)
        shared = np.memmap(path, dtype=np.uint8, mode="r+", shape=(max(hi - lo, 1),))
        if hi > lo:
            shared[:hi - lo] = np.ctypeslib.as_array((ctypes.c_uint8 * (hi - lo)).from_address(lo))
        blocks[id(owner)] = (owner, lo, shared)
    if not blocks:
        return
    # every live tensor on a moved block (the tensors passed are among them): a scan of the objects
    # the garbage collector tracks, once per call
    import gc
    for o in gc.get_objects():
        if isinstance(o, Tensor):
            data = getattr(o, "_data", None)
            if not isinstance(data, np.ndarray) or isinstance(data, np.memmap):
                continue
            hit = blocks.get(id(_root(data)))
            if hit is None or _root(data) is not hit[0]:
                continue
            offset = data.__array_interface__["data"][0] - hit[1]
            o._data = np.ndarray(data.shape, data.dtype, buffer=hit[2], offset=offset, strides=data.strides)


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
