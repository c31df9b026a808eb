"""The ``nccl`` process-group backend: CuPy's NCCL bindings on cuda tensors' own memory.

UNTESTED: written against cupy.cuda.nccl's API on a machine without a GPU; the issue's
GPU report (docs/) is still to be made. MPI bootstraps it (rank 0 broadcasts the NCCL id),
so it runs under mpiexec like the mpi backend. Only cuda tensors are accepted; CuPy is
imported only when a nccl group is created.
"""
from __future__ import annotations

import numpy as np

from plugtorch.distributed.mpi import MPIProcessGroup
from plugtorch.distributed.reduce_op import ReduceOp


def nccl_module():
    """cupy.cuda.nccl, or None when CuPy or its NCCL is missing."""
    try:
        from cupy.cuda import nccl
        nccl.get_version()
    except Exception:
        return None
    return nccl


_TYPES = {"float16": "NCCL_FLOAT16", "bfloat16": "NCCL_BFLOAT16", "float32": "NCCL_FLOAT32",
          "float64": "NCCL_FLOAT64", "int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "int32": "NCCL_INT32",
          "int64": "NCCL_INT64", "bool": "NCCL_UINT8"}
_OPS = {ReduceOp.SUM: "NCCL_SUM", ReduceOp.AVG: "NCCL_SUM",   # collectives divide
        ReduceOp.PRODUCT: "NCCL_PROD",
        ReduceOp.MIN: "NCCL_MIN", ReduceOp.MAX: "NCCL_MAX"}


class NCCLProcessGroup(MPIProcessGroup):
    """NCCL communicator over the ranks of an MPI communicator; every call on the current cuda
    stream, completion tested with a CUDA event; barrier is MPI's on the bootstrap communicator."""

    backend = "nccl"

    def __init__(self, comm, ranks, timeout):
        super().__init__(comm, ranks, timeout)
        self.nccl = nccl_module()
        if self.nccl is None:
            raise RuntimeError("the nccl process-group backend needs CuPy with NCCL "
                               "(pip install plugtorch[cuda12] on a machine with NVIDIA GPUs)")
        uid = self.nccl.get_unique_id() if self.rank == 0 else None
        uid = comm.bcast(uid, root=0)
        self.nccl_comm = self.nccl.NcclCommunicator(self.size, uid, self.rank)

    # cuda tensors are their own buffers; nothing is staged through the host
    def to_buffer(self, tensor, reduce: bool = False, read: bool = True):
        if tensor.device.type != "cuda" or not tensor.is_contiguous():
            raise RuntimeError(f"nccl process group: tensors must be contiguous cuda tensors, got "
                               f"shape {list(tensor.shape)}, dtype {tensor.dtype}, device {tensor.device}")
        return tensor._data, True

    def from_buffer(self, tensor, array) -> None:
        tensor._data[...] = array.reshape(tensor._data.shape)
        tensor._bump_version()

    def empty_buffer(self, shape, dtype, reduce: bool = False):
        import cupy
        return cupy.empty(tuple(shape), dtype.numpy)

    def _type(self, array):
        name = "bfloat16" if array.dtype.name == "bfloat16" else np.dtype(array.dtype).name
        return getattr(self.nccl, _TYPES[name])

    def _launched(self):
        import cupy
        stream = cupy.cuda.get_current_stream()
        event = cupy.cuda.Event(block=False, disable_timing=True)
        event.record(stream)
        return event.query   # True once the stream got past the collective

    def _stream(self):
        import cupy
        return cupy.cuda.get_current_stream().ptr

    def alltoallv(self, out, out_counts, array, in_counts):
        raise RuntimeError("all_to_all: the nccl process-group backend has no all-to-all yet; use "
                           "the mpi backend")

    def _op(self, array, op):
        if array.dtype == np.bool_:   # bools travel as uint8: OR is MAX, AND is MIN
            op = ReduceOp.MAX if op in (ReduceOp.SUM, ReduceOp.MAX) else ReduceOp.MIN
        if op not in _OPS:
            raise RuntimeError(f"the nccl process-group backend has no {op} (NCCL has no bitwise "
                               f"reductions); use the mpi backend")
        return getattr(self.nccl, _OPS[op])

    def allreduce(self, array, op):
        self.nccl_comm.allReduce(array.data.ptr, array.data.ptr, array.size, self._type(array),
                                 self._op(array, op), self._stream())
        return self._launched()

    def broadcast(self, array, root):
        self.nccl_comm.bcast(array.data.ptr, array.size, self._type(array), root, self._stream())
        return self._launched()

    def allgather(self, out, array):
        self.nccl_comm.allGather(array.data.ptr, out.data.ptr, array.size, self._type(array),
                                 self._stream())
        return self._launched()

    def reduce_scatter(self, out, array, op):
        self.nccl_comm.reduceScatter(array.data.ptr, out.data.ptr, out.size, self._type(array),
                                     self._op(array, op), self._stream())
        return self._launched()

    def reduce(self, array, op, root):
        self.nccl_comm.reduce(array.data.ptr, array.data.ptr, array.size, self._type(array),
                              self._op(array, op), root, self._stream())
        return self._launched()

    def send(self, array, dst, tag):
        self.nccl_comm.send(array.data.ptr, array.size, self._type(array), dst, self._stream())
        return self._launched()

    def recv(self, array, src, tag):
        if src is None:
            raise RuntimeError("nccl process group: recv needs src (NCCL has no any-source receive)")
        self.nccl_comm.recv(array.data.ptr, array.size, self._type(array), src, self._stream())
        return self._launched(), lambda: src

    def gather(self, out, array, root):
        raise RuntimeError("nccl process group: gather is not implemented; use all_gather")

    def scatter(self, out, array, root):
        raise RuntimeError("nccl process group: scatter is not implemented; use broadcast")

