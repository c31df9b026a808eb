"""``plugtorch.distributed``: torch.distributed's process groups and collectives over MPI.

Run the ranks with MPI's launcher (``mpiexec -n 2 python train.py``); rank and world size
come from MPI. Collectives take tensors of any device (cpu ones without copies). A rank that
raises ends the whole job; a collective that waits past the timeout raises. See
docs/distributed.md.

>>> import plugtorch as pt, plugtorch.distributed as dist
>>> dist.init_process_group("mpi")                    # doctest: +SKIP
>>> t = pt.ones(2) * dist.get_rank()                  # doctest: +SKIP
>>> dist.all_reduce(t, op=dist.ReduceOp.SUM)          # doctest: +SKIP
"""
from plugtorch.distributed.backend import Backend
from plugtorch.distributed.collectives import (all_gather, all_gather_into_tensor, all_reduce, all_to_all,
                                               all_to_all_single, barrier, broadcast, gather, irecv,
                                               isend, recv, reduce, reduce_scatter,
                                               reduce_scatter_tensor, scatter, send)
from plugtorch.distributed.objects import (all_gather_object, broadcast_object_list, gather_object,
                                           scatter_object_list)
from plugtorch.distributed.errors import DistBackendError, DistError
from plugtorch.distributed.mpi import is_mpi_available
from plugtorch.distributed.process_group import (GroupMember, default_pg_timeout, destroy_process_group,
                                                 get_backend, get_process_group_ranks, get_rank,
                                                 get_world_size, group, init_process_group,
                                                 is_initialized, new_group)
from plugtorch.distributed.reduce_op import ReduceOp
from plugtorch.distributed.work import Work


def is_available() -> bool:
    """True when the built-in ``mpi`` backend can run (mpi4py installed:
    ``pip install plugtorch[mpi]``)."""
    return is_mpi_available()


def is_nccl_available() -> bool:
    """True when CuPy with NCCL is installed (imports CuPy)."""
    from plugtorch.distributed.nccl import nccl_module
    return nccl_module() is not None


__all__ = [
    "Backend", "DistBackendError", "DistError", "GroupMember", "ReduceOp", "Work", "all_gather",
    "all_gather_into_tensor", "all_gather_object", "all_reduce", "all_to_all", "all_to_all_single",
    "barrier", "broadcast", "broadcast_object_list", "default_pg_timeout", "destroy_process_group",
    "gather", "gather_object", "get_backend", "get_process_group_ranks", "get_rank",
    "get_world_size", "group", "init_process_group", "irecv", "is_available", "is_initialized",
    "is_mpi_available", "is_nccl_available", "isend", "new_group", "recv", "reduce",
    "reduce_scatter", "reduce_scatter_tensor", "scatter", "scatter_object_list", "send",
]
