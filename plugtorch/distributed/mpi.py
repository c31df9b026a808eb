"""The ``mpi`` process-group backend: mpi4py's nonblocking collectives on host buffers.

Every collective is the nonblocking MPI call (``Iallreduce``, ``Ibcast`` ...) on NumPy
arrays (buffer protocol, never pickle); blocking collectives wait on it with the group's
deadline (``work.Work.wait``). mpi4py is imported when the first group is created.
"""
from __future__ import annotations

import numpy as np

from plugtorch.distributed.reduce_op import ReduceOp


def import_mpi():
    """mpi4py's MPI module (initializing MPI unless the application already did)."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(f"the mpi process-group backend needs mpi4py and an MPI library "
                           f"({e}); install them with: pip install plugtorch[mpi]") from None
    return MPI


def is_mpi_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("mpi4py") is not None


class MPIProcessGroup:
    """A group of ranks communicating through one MPI communicator (a duplicate of the
    application's, so plugtorch's messages never match the application's own)."""

    backend = "mpi"

    def __init__(self, comm, ranks: list, timeout):
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.ranks = ranks           # global rank of each group rank
        self.timeout = timeout

    @classmethod
    def create_world(cls, rank: int, world_size: int, timeout):
        MPI = import_mpi()
        world = MPI.COMM_WORLD
        for what, given, actual in (("world_size", world_size, world.Get_size()),
                                    ("rank", rank, world.Get_rank())):
            if given not in (-1, None) and given != actual:
                raise ValueError(f"init_process_group: {what}={given} disagrees with MPI, which "
                                 f"started this process as rank {world.Get_rank()} of "
                                 f"{world.Get_size()} (mpiexec -n decides {what}; leave it out)")
        return cls(world.Dup(), list(range(world.Get_size())), timeout)

    def new_subgroup(self, ranks: list):
        """The group of global ``ranks`` (sorted); None on ranks outside it. Collective."""
        MPI = import_mpi()
        me = self.ranks[self.rank]
        member = me in ranks
        comm = self.comm.Split(0 if member else MPI.UNDEFINED, ranks.index(me) if member else 0)
        return type(self)(comm, list(ranks), self.timeout) if member else None

    def destroy(self) -> None:
        MPI = import_mpi()
        if not MPI.Is_finalized() and self.comm != MPI.COMM_NULL:
            self.comm.Free()

    def abort(self, code: int = 1) -> None:
        import_mpi().COMM_WORLD.Abort(code)

    # --- collectives on contiguous host arrays; each returns a test() -> bool ---------------
    def _op(self, array: np.ndarray, op: ReduceOp):
        MPI = import_mpi()
        if array.dtype == np.bool_:   # PyTorch: SUM and MAX of bools are OR, PRODUCT and MIN AND
            # (MPI's bitwise ops do not take C_BOOL; on bools they are the logical ones)
            return {ReduceOp.SUM: MPI.LOR, ReduceOp.MAX: MPI.LOR, ReduceOp.BOR: MPI.LOR,
                    ReduceOp.BXOR: MPI.LXOR}.get(op, MPI.LAND)
        return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
                ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND,
                ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}[op]

    @staticmethod
    def _tester(request):
        return request.Test

    def allreduce(self, array, op):
        return self._tester(self.comm.Iallreduce(import_mpi().IN_PLACE, array, self._op(array, op)))

    def broadcast(self, array, root):
        return self._tester(self.comm.Ibcast(array, root))

    def allgather(self, out, array):
        return self._tester(self.comm.Iallgather(array, out))

    def reduce_scatter(self, out, array, op):
        return self._tester(self.comm.Ireduce_scatter_block(array, out, self._op(array, op)))

    def reduce(self, array, op, root):
        MPI = import_mpi()
        if self.rank == root:
            return self._tester(self.comm.Ireduce(MPI.IN_PLACE, array, self._op(array, op), root))
        return self._tester(self.comm.Ireduce(array, None, self._op(array, op), root))

    def gather(self, out, array, root):
        return self._tester(self.comm.Igather(array, out if self.rank == root else None, root))

    def scatter(self, out, array, root):
        return self._tester(self.comm.Iscatter(array if self.rank == root else None, out, root))

    def alltoallv(self, out, out_counts, array, in_counts):
        """Block i of ``array`` (``in_counts[i]`` elements, in order) to group rank i; block j
        of ``out`` (``out_counts[j]`` elements) from group rank j."""
        def spec(buf, counts):
            displs = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64).tolist()
            return [buf, (list(map(int, counts)), displs)]
        return self._tester(self.comm.Ialltoallv(spec(array, in_counts), spec(out, out_counts)))

    def send(self, array, dst, tag):
        return self._tester(self.comm.Isend(array, dst, tag))

    def recv(self, array, src, tag):
        """test() and source(): the group rank the message came from (``src`` None: any)."""
        MPI = import_mpi()
        status = MPI.Status()
        request = self.comm.Irecv(array, MPI.ANY_SOURCE if src is None else src, tag)
        return (lambda: request.Test(status)), status.Get_source

    def barrier(self):
        return self._tester(self.comm.Ibarrier())
