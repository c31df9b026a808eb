"""Run under ``mpiexec -n 2``: rank 0 enters an all_reduce that rank 1 joins only after the
1 s timeout; rank 0's all_reduce raises a RuntimeError naming the op and rank, then both
ranks complete the collective and exit 0."""
import time
from datetime import timedelta

import plugtorch as pt
import plugtorch.distributed as dist

dist.init_process_group("mpi", timeout=timedelta(seconds=1))
rank = dist.get_rank()
t = pt.ones(4)
if rank == 0:
    start = time.monotonic()
    try:
        dist.all_reduce(t)
        raise AssertionError("all_reduce did not time out")
    except RuntimeError as e:
        print(f"rank 0 raised {type(e).__name__} after {time.monotonic() - start:.1f} s: {e}", flush=True)
    work = dist.all_reduce(pt.ones(4), async_op=True)
    try:
        work.wait(timeout=timedelta(milliseconds=200))
        raise AssertionError("wait(timeout=200 ms) did not time out")
    except dist.DistBackendError as e:
        print(f"wait raised: {e}", flush=True)
else:
    time.sleep(2.5)
    dist.all_reduce(t)   # matches rank 0's timed-out all_reduce
    dist.all_reduce(t)   # and its async one
dist.barrier(async_op=True).wait(timeout=timedelta(seconds=30))
print(f"rank {rank} done", flush=True)
