"""What runs inside a DataLoader worker process, and how its results cross to the main process.

A worker takes ``(task id, indices)`` from its own index queue, fetches and collates a batch
and puts ``(task id, pickled batch)`` on the loader's one result queue. Tensors cross as NumPy
arrays: plain ``pickle`` still refuses plugtorch tensors (``plugtorch.save`` is the file
format), but the pickler multiprocessing uses (``ForkingPickler``) gets a reducer for cpu
tensors here, as PyTorch registers its own in ``torch.multiprocessing``. On Linux, arrays of
128 KiB or more go through a file in ``/dev/shm`` (written once here, read once and unlinked by
the main process) rather than through the queue's pipe.

>>> get_worker_info() is None       # in the main process
True
"""
from __future__ import annotations

import itertools
import os
import queue
import random
import sys
import traceback
from multiprocessing.reduction import ForkingPickler

import numpy as np

from plugtorch._tensor import Tensor

_worker_info = None
_POLL_S = 1.0    # how often a waiting worker checks for shutdown and that its parent is alive


class WorkerInfo:
    """``id``, ``num_workers``, ``seed`` and ``dataset`` (this worker's copy) of a DataLoader worker."""

    __slots__ = ("id", "num_workers", "seed", "dataset", "_frozen")

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            object.__setattr__(self, k, v)
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, key, val):
        raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers})"


def get_worker_info():
    """In a DataLoader worker process: its :class:`WorkerInfo` (``id``, ``num_workers``,
    ``seed``, ``dataset``); ``None`` in the main process. An ``IterableDataset`` uses it to
    shard itself: each worker iterates its own copy of the dataset, so without sharding every
    worker yields every sample."""
    return _worker_info


# --- tensors across processes ----------------------------------------------------------------

def _rebuild_tensor(array, requires_grad):
    from plugtorch import _ops_public as P
    t = P.from_numpy(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


_SHM_MIN_BYTES = 1 << 17   # larger arrays from a worker travel through a tmpfs file, not the pipe
_shm = None                # (directory, file name prefix, counter) inside a worker that may use one


def _to_file(array):
    # one copy into tmpfs here and one out in the main process, instead of pickling the bytes
    # through the queue's pipe in 64 KiB chunks (several copies and context switches)
    directory, prefix, counter = _shm
    path = os.path.join(directory, f"{prefix}{next(counter)}")
    array = np.ascontiguousarray(array)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        view, done = memoryview(array.reshape(-1).view(np.uint8)), 0
        while done < len(view):
            done += os.write(fd, view[done:])
    finally:
        os.close(fd)
    return path


def _rebuild_from_file(path, shape, dtype, requires_grad):
    out = np.empty(shape, dtype)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.unlink(path)
        view, done = memoryview(out.reshape(-1).view(np.uint8)), 0
        while done < len(view):
            n = os.readv(fd, [view[done:]])
            if n == 0:
                raise RuntimeError(f"DataLoader: the batch file {path} from a worker is truncated")
            done += n
    finally:
        os.close(fd)
    return _rebuild_tensor(out, requires_grad)


def _reduce_tensor(t):
    if t.device.type != "cpu":
        raise RuntimeError(
            f"DataLoader worker: a batch holds a tensor on {t.device}; tensors cross processes as cpu (NumPy) "
            "data, and device contexts are not safe in worker processes. Build cpu tensors in the dataset and "
            f"collate_fn and move each batch in the main process (batch.to('{t.device.type}')), or use num_workers=0")
    if t.requires_grad and t.grad_fn is not None:
        raise RuntimeError("Cowardly refusing to serialize non-leaf tensor which requires_grad, since autograd does "
                           "not support crossing process boundaries. If you just want to transfer the data, call "
                           "detach() on the tensor before serializing (e.g., putting it on the queue).")
    from plugtorch.multiprocessing.reductions import reduce_shared
    shared = reduce_shared(t)   # share_memory_'s tensors map the same memory in the other process
    if shared is not None:
        return shared
    data = t._data
    if type(t) is not Tensor:   # a Parameter stays one
        return _rebuild_parameter, (data, t.requires_grad)
    if _shm is not None and data.nbytes >= _SHM_MIN_BYTES:
        return _rebuild_from_file, (_to_file(data), data.shape, data.dtype, t.requires_grad)
    return _rebuild_tensor, (data, t.requires_grad)


def _rebuild_parameter(array, requires_grad):
    from plugtorch.nn.parameter import Parameter
    return Parameter(_rebuild_tensor(array, False), requires_grad=requires_grad)


def _register_reducers():
    from plugtorch.nn.parameter import Parameter
    ForkingPickler.register(Tensor, _reduce_tensor)
    ForkingPickler.register(Parameter, _reduce_tensor)


_register_reducers()


# --- messages --------------------------------------------------------------------------------

class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process as type + traceback text."""

    def __init__(self, exc_info=None, where="in background"):
        exc_info = exc_info or sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:   # KeyError repr()s its argument; keep the text readable
            msg = _KeyErrorMessage(msg)
        try:
            exc = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exc


class _KeyErrorMessage(str):
    def __repr__(self):
        return self


class IterableStop:
    """A worker's IterableDataset copy is exhausted."""

    def __init__(self, worker_id):
        self.worker_id = worker_id


class ResumeIteration:
    """Sent to persistent workers at the start of a new epoch (and echoed back)."""


def generate_numpy_seed(base_seed, worker_id):
    """Four 32-bit words seeding NumPy's global RNG in worker ``worker_id``: the same hash of
    (worker_id, base_seed) PyTorch uses, so NumPy's stream differs from ``random``'s."""
    mask = 0xFFFFFFFF
    entropy = [worker_id, base_seed & mask, base_seed >> 32, 0]
    const_a = [0x43B0D7E5]

    def hash_(v):
        v = (v ^ const_a[0]) & mask
        const_a[0] = (const_a[0] * 0x931E8875) & mask
        v = (v * const_a[0]) & mask
        return (v ^ (v >> 16)) & mask

    def mix(x, y):
        r = ((0xCA01F9DD * x) - (0x4973F715 * y)) & mask
        return (r ^ (r >> 16)) & mask

    pool = [hash_(e) for e in entropy]
    for src in range(4):
        for dst in range(4):
            if src != dst:
                pool[dst] = mix(pool[dst], hash_(pool[src]))
    const_b, state = 0x8B51F9DD, []
    for v in pool:
        v = (v ^ const_b) & mask
        const_b = (const_b * 0x58F38DED) & mask
        v = (v * const_b) & mask
        state.append((v ^ (v >> 16)) & mask)
    return state


_CUDA_IN_FORK = ("Cannot re-initialize CUDA in forked subprocess: a DataLoader worker started with 'fork' "
                 "used CUDA (CuPy) after the main process had. Build cpu tensors in the dataset and collate_fn "
                 "and move each batch to 'cuda' in the main process; a dataset that needs CUDA internally (and "
                 "returns cpu data) runs with multiprocessing_context='spawn'")


def _wrap_error(exc, forked, worker_id):
    # torch refuses CUDA in forked workers with the message above; CuPy fails there with its own
    # CUDA runtime error, which gets that message and the fix
    where = f"in DataLoader worker process {worker_id}"
    if forked and type(exc).__module__.split(".")[0] in ("cupy", "cupy_backends"):
        try:
            raise RuntimeError(_CUDA_IN_FORK) from exc
        except RuntimeError:
            return ExceptionWrapper(where=where)
    return ExceptionWrapper(where=where)


# --- the worker loop -------------------------------------------------------------------------

def _fetch(dataset, iterable, it, auto_batch, collate_fn, drop_last, index):
    if iterable:
        if not auto_batch:
            return collate_fn(next(it))
        batch = []
        for sample in it:
            batch.append(sample)
            if len(batch) == len(index):
                break
        if not batch or (drop_last and len(batch) < len(index)):
            raise StopIteration
        return collate_fn(batch)
    if not auto_batch:
        return collate_fn(dataset[index])
    getitems = getattr(dataset, "__getitems__", None)
    return collate_fn(getitems(index) if getitems is not None else [dataset[i] for i in index])


def worker_loop(dataset, iterable, index_queue, result_queue, done_event, auto_batch, collate_fn, drop_last,
                base_seed, init_fn, worker_id, num_workers, forked=False, shm=None):
    global _worker_info, _shm
    if shm is not None:   # (directory, this iterator's file name prefix)
        _shm = (shm[0], f"{shm[1]}{worker_id}_", itertools.count())
    parent = os.getppid()
    try:
        import plugtorch
        seed = base_seed + worker_id
        random.seed(seed)
        plugtorch.manual_seed(seed)
        np.random.seed(generate_numpy_seed(base_seed, worker_id))
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        init_error = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
        except Exception:
            init_error = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        it, ended = None, False

        def start():
            return iter(dataset) if iterable else None

        if init_error is None:
            try:
                it = start()
            except Exception:
                init_error = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        while True:
            try:
                r = index_queue.get(timeout=_POLL_S)
            except queue.Empty:
                if done_event.is_set() or os.getppid() != parent:   # shut down, or the main process died
                    break
                continue
            if isinstance(r, ResumeIteration):
                result_queue.put((r, None))
                ended = False
                try:
                    it = start()
                except Exception:
                    init_error = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
                continue
            if r is None:
                break
            if done_event.is_set() or ended:
                continue
            idx, index = r
            if init_error is not None:
                data, init_error = init_error, None
            else:
                try:
                    data = _fetch(dataset, iterable, it, auto_batch, collate_fn, drop_last, index)
                except StopIteration:
                    if not iterable:
                        data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
                    else:
                        data, ended = IterableStop(worker_id), True
                except Exception as e:
                    data = _wrap_error(e, forked, worker_id)
            try:
                # pickle here, not in the queue's feeder thread, so a batch that can't cross
                # processes becomes an error in the main process instead of a silent hang
                payload = bytes(ForkingPickler.dumps(data))
            except Exception:
                payload = bytes(ForkingPickler.dumps(
                    ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")))
            result_queue.put((idx, payload))
            del data, payload
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        result_queue.cancel_join_thread()
        result_queue.close()
    if _shm is not None and os.getppid() != parent:
        _remove_unread_files()


def _remove_unread_files():
    # the main process died (SIGKILL: it removed nothing): the batch files this worker wrote that
    # it never read would stay in /dev/shm for good; the ones it read are already gone
    import glob
    directory, prefix, _ = _shm
    for path in glob.glob(os.path.join(directory, glob.escape(prefix) + "*")):
        try:
            os.unlink(path)
        except OSError:
            pass
