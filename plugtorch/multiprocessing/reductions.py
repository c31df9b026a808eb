"""Shared-memory cpu tensors: ``Tensor.share_memory_`` and how such a tensor crosses processes.

As PyTorch's default ``file_descriptor`` strategy: the tensor's data moves into a shared-memory
file that has no name (``memfd_create`` on Linux; elsewhere on POSIX a file in ``/dev/shm`` or the
temporary directory, unlinked as soon as it is made), mapped read-write and reached through the
file descriptor this process keeps open. The pickler multiprocessing uses sends that descriptor
(``multiprocessing.reduction.DupFd``: passed to a spawned child at its start, or through the
sender's ``resource_sharer`` for a ``Queue``, so the sending process must be alive when the
tensor is received) with the offset, shape, strides and dtype, and the receiving process maps the
same memory. Nothing is left behind when a process dies, even by SIGKILL: the memory is freed
when the last process mapping it closes it. Each call of ``share_memory_`` (``Module.share_memory``:
one for all its tensors) holds two descriptors (the file's, and the map's own copy) while its
memory is alive, and each process that received it holds two too.

Where descriptors cannot be sent (Windows) the data lives in a named file in the temporary
directory, mapped by name in the receiver and removed when the process that made it exits.
"""
from __future__ import annotations

import atexit
import ctypes
import mmap
import os
import secrets
import tempfile
import weakref
from multiprocessing import reduction

import numpy as np

_BY_FD = hasattr(reduction, "DupFd")     # POSIX: descriptors cross processes
_ALIGN = 64                               # each memory block starts at a multiple of this in the file
_made: list = []       # named files this process made (Windows), removed at exit


def _remove_made():
    for path in _made:
        try:
            os.unlink(path)
        except OSError:
            pass


atexit.register(_remove_made)


def _directory() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


class _SharedMap(mmap.mmap):
    """A read-write shared mapping of a whole file, with the descriptor of that file (kept open
    while the map lives, to send to other processes)."""
    fd: int = -1


_maps: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()   # (st_dev, st_ino) -> live map


def _map_fd(fd: int) -> _SharedMap:
    """Map the file ``fd`` refers to (taking over ``fd``); one map per file in this process."""
    st = os.fstat(fd)
    key = (st.st_dev, st.st_ino)
    known = _maps.get(key)
    if known is not None:
        os.close(fd)
        return known
    try:
        m = _SharedMap(fd, st.st_size)
    except BaseException:
        os.close(fd)
        raise
    m.fd = fd
    weakref.finalize(m, os.close, fd)
    _maps[key] = m
    return m


def _new_shared_memory(nbytes: int):
    """Shared memory of ``nbytes`` bytes (at least 1): a ``_SharedMap`` of a nameless file, or on
    Windows a ``numpy.memmap`` of a named file removed at exit."""
    nbytes = max(nbytes, 1)
    if not _BY_FD:
        path = os.path.join(_directory(), f"plugtorch_shm_{os.getpid()}_{secrets.token_hex(6)}")
        # (owner-only permissions, as PyTorch's shared memory; O_EXCL refuses a file or link already there)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600))
        _made.append(path)
        return np.memmap(path, dtype=np.uint8, mode="r+", shape=(nbytes,))
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("plugtorch_shm")       # no name in any directory; close-on-exec
    else:
        fd, path = tempfile.mkstemp(prefix=f"plugtorch_shm_{os.getpid()}_", dir=_directory())
        os.unlink(path)
    try:
        os.ftruncate(fd, nbytes)
    except BaseException:
        os.close(fd)
        raise
    return _map_fd(fd)


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
    owners = {}                     # id(owner array) -> (owner, its lowest address, its byte count)
    for t in tensors:
        if t.device.type != "cpu":
            raise RuntimeError(f"share_memory_(): only cpu tensors can be moved to shared memory, got one on {t.device}")
        if is_shared(t) or id(_root(t._data)) in owners:
            continue
        owner = _root(t._data)
        lo, hi = _byte_bounds(owner)
        owners[id(owner)] = (owner, lo, hi - lo)
    if not owners:
        return
    # all the blocks in one shared file (one descriptor), each at an aligned offset
    starts, total = {}, 0
    for key, (_, _, n) in owners.items():
        starts[key], total = total, total + -(-n // _ALIGN) * _ALIGN
    memory = _new_shared_memory(total)
    blocks = {}                     # id(owner array) -> (owner, its lowest address, its shared bytes)
    for key, (owner, lo, n) in owners.items():
        shared = np.ndarray((n,), np.uint8, buffer=memory, offset=starts[key])
        if n:
            shared[:] = np.ctypeslib.as_array((ctypes.c_uint8 * n).from_address(lo))
        blocks[key] = (owner, lo, shared)
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


def _shared_memory(array):
    """(the shared map or memmap under ``array``, ``array``'s byte offset in its file), or None."""
    root = array
    while isinstance(root.base, np.ndarray):     # the array over the map (a slice of a memmap is one too)
        root = root.base
    if isinstance(root.base, _SharedMap) and not root.base.closed:
        memory = root.base
        start = np.frombuffer(memory, np.uint8, count=0).__array_interface__["data"][0] if len(memory) else 0
        return memory, array.__array_interface__["data"][0] - start
    if not isinstance(root, np.memmap) or root.filename is None or root.mode not in ("r+", "w+"):
        return None     # (a read-only or copy-on-write "c" map is not memory other processes see)
    return root, root.offset + array.__array_interface__["data"][0] - root.__array_interface__["data"][0]


def _shared_file(array):
    """(path, byte offset) of the named shared file under ``array``, or None (Windows, and a
    read-write ``numpy.memmap`` of a file: other processes map that file by its name)."""
    where = _shared_memory(array)
    return None if where is None or isinstance(where[0], _SharedMap) else (where[0].filename, where[1])


def is_shared(t) -> bool:
    """Whether ``t``'s data is in shared memory (``share_memory_`` moved it there)."""
    return t.device.type == "cpu" and isinstance(t._data, np.ndarray) and _shared_memory(t._data) is not None


def _as_tensor(array, requires_grad, parameter):
    from plugtorch import _ops_public as P
    t = P.from_numpy(array)
    if parameter:
        from plugtorch.nn.parameter import Parameter
        return Parameter(t, requires_grad=requires_grad)
    return t.requires_grad_(requires_grad) if requires_grad else t


def _view(buffer, offset, shape, strides, dtype):
    count = (sum((n - 1) * s for n, s in zip(shape, strides)) // np.dtype(dtype).itemsize + 1) if all(shape) else 0
    # (an empty tensor is a view of the map too, so it stays shared as it was in the sender)
    return np.ndarray(shape, dtype, buffer=buffer, offset=offset if count else 0, strides=strides)


def _rebuild_map(dupfd):
    return _map_fd(dupfd.detach())


def _reduce_map(memory):
    # the map is pickled as its descriptor; pickle's memo sends it once per message however many
    # tensors on it cross together (a spawned child refuses one descriptor passed twice)
    return _rebuild_map, (reduction.DupFd(memory.fd),)


if _BY_FD:
    reduction.ForkingPickler.register(_SharedMap, _reduce_map)


def rebuild_shared_fd(memory, offset, shape, strides, dtype, requires_grad, parameter):
    """The memory another process shared (its map, rebuilt from the descriptor ``DupFd`` sent), as
    a tensor (or Parameter)."""
    return _as_tensor(_view(memory, offset, shape, strides, dtype), requires_grad, parameter)


def rebuild_shared(path, offset, shape, strides, dtype, requires_grad, parameter):
    """Map the named file another process shared (Windows): the same memory, as a tensor (or Parameter)."""
    count = (sum((n - 1) * s for n, s in zip(shape, strides)) // np.dtype(dtype).itemsize + 1) if all(shape) else 0
    flat = np.memmap(path, dtype=dtype, mode="r+", offset=offset, shape=(max(count, 1),))
    array = np.ndarray(shape, dtype, buffer=flat, strides=strides) if count else flat[:0].reshape(shape)
    return _as_tensor(array, requires_grad, parameter)


def reduce_shared(t):
    """The pickler's recipe for a shared tensor, or None when ``t`` is not shared."""
    where = _shared_memory(t._data) if t.device.type == "cpu" and isinstance(t._data, np.ndarray) else None
    if where is None:
        return None
    memory, offset = where
    args = (offset, t._data.shape, t._data.strides, t._data.dtype, t.requires_grad, bool(t._is_param))
    if isinstance(memory, _SharedMap):
        return rebuild_shared_fd, (memory,) + args
    return rebuild_shared, (memory.filename,) + args
