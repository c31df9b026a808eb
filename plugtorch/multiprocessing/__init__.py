"""``plugtorch.multiprocessing``: Python's ``multiprocessing`` with tensors that can be shared.

Everything of ``multiprocessing`` is here (``Process``, ``Queue``, ``set_start_method`` ...).
A cpu tensor moved to shared memory with ``share_memory_()`` (``Module.share_memory()`` moves
all parameters and buffers) lives in a shared-memory file without a name, held by a file
descriptor (PyTorch's default ``file_descriptor`` strategy); passed to another process (as a
``Process`` argument or through a ``Queue``), the descriptor goes with it and that process maps
the same memory, so writes in one process are seen by all, as Hogwild training needs. A tensor
sent through a ``Queue`` must be received while its sender is alive. Other cpu tensors cross as
copies of their data. The memory is freed when the last process using it lets it go, so nothing
is left in ``/dev/shm`` however a process ends (SIGKILL included).

>>> import plugtorch.multiprocessing as mp
>>> model = plugtorch.nn.Linear(2, 1).share_memory()       # doctest: +SKIP
>>> p = mp.Process(target=train, args=(model,)); p.start(); p.join()   # doctest: +SKIP
"""
from __future__ import annotations

import multiprocessing as _mp
from multiprocessing import *  # noqa: F401,F403

from plugtorch.multiprocessing.reductions import share_memory_  # noqa: F401
from plugtorch.utils.data import _worker  # noqa: F401,E402  (registers the tensor reducers with ForkingPickler)

__all__ = list(_mp.__all__) + ["spawn"]


def spawn(fn, args=(), nprocs: int = 1, join: bool = True, daemon: bool = False, start_method: str = "spawn"):
    """Start ``nprocs`` processes running ``fn(i, *args)`` (``i`` = 0 .. nprocs - 1) and, with
    ``join``, wait for them; a process that fails raises ``ProcessRaisedException``-style
    RuntimeError naming its index and exit code. Returns the processes when ``join`` is False."""
    ctx = _mp.get_context(start_method)
    procs = [ctx.Process(target=fn, args=(i, *args), daemon=daemon) for i in range(nprocs)]
    for p in procs:
        p.start()
    if not join:
        return procs
    for p in procs:
        p.join()
    for i, p in enumerate(procs):
        if p.exitcode != 0:
            raise RuntimeError(f"multiprocessing.spawn: process {i} terminated with exit code {p.exitcode}")
    return None
