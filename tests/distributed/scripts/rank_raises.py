"""Run under ``mpiexec -n 2``: rank 1 raises at step 3 of a training-like loop of
all-reduces (in the main thread, or with argument ``thread`` in a worker thread) while rank 0
goes on; the job must end (MPI Abort) with rank 1's traceback."""
import sys
import threading

import plugtorch as pt
import plugtorch.distributed as dist

dist.init_process_group("mpi")
rank = dist.get_rank()
grad = pt.ones(1000)


def fail():
    raise ValueError("rank 1 failed at step 3")


for step in range(1000):
    if rank == 1 and step == 3:
        if sys.argv[1:] == ["thread"]:
            worker = threading.Thread(target=fail)
            worker.start()
            worker.join()
        else:
            fail()
    dist.all_reduce(grad, op=dist.ReduceOp.AVG)
print("survivor finished: the job was not ended", flush=True)
