"""Run under ``mpiexec -n N``: all_to_all_single (uneven and equal splits, non-contiguous output,
async), all_to_all (tensors of different sizes), reduce_scatter (a list) and the object
collectives against known answers, on the devices of argv[1]. Prints ``rank R: ... ok``;
any failure raises, which aborts every rank."""
import sys

import numpy as np

import plugtorch as pt
import plugtorch.distributed as dist
from plugtorch.distributed import ReduceOp

dist.init_process_group("mpi")
R, N = dist.get_rank(), dist.get_world_size()
for dev in sys.argv[1].split(","):
    def rows(r, j):   # rank r sends j + r + 1 rows to rank j
        return j + r + 1
    # all_to_all_single uneven: row k of rank r's block for rank j holds 100 r + 10 j + k
    for dtype in (pt.float32, pt.int64, pt.bfloat16, pt.bool):
        inp = np.concatenate([np.stack([np.full(2, 100 * R + 10 * j + k) for k in range(rows(R, j))])
                              for j in range(N)])
        t = pt.tensor(inp, device=dev).to(dtype)
        insp, outsp = [rows(R, j) for j in range(N)], [rows(j, R) for j in range(N)]
        out = pt.zeros(sum(outsp), 2, dtype=dtype, device=dev)
        work = dist.all_to_all_single(out, t, outsp, insp, async_op=True)
        assert work.wait() and work.is_completed()
        want = np.concatenate([np.stack([np.full(2, 100 * j + 10 * R + k) for k in range(rows(j, R))])
                               for j in range(N)])
        got = out.cpu().numpy() if dtype is pt.bool else out.cpu().to(pt.float64).numpy()
        assert np.array_equal(got, want.astype(got.dtype)), (R, dev, dtype, got, want)
    # equal split, noncontig output
    t = pt.arange(2 * N, dtype=pt.float32, device=dev) + 100 * R
    out = pt.zeros(2, 2 * N, device=dev).t()[:, 0]
    dist.all_to_all_single(out, t)
    want = np.concatenate([np.arange(2 * R, 2 * R + 2) + 100 * j for j in range(N)])
    assert np.array_equal(out.cpu().numpy(), want), (R, out, want)
    # all_to_all lists with different sizes
    ins = [pt.full((j + 1, R + 1), float(10 * R + j), device=dev) for j in range(N)]
    outs = [pt.zeros(R + 1, j + 1, device=dev) for j in range(N)]
    dist.all_to_all(outs, ins)
    for j in range(N):
        assert np.array_equal(outs[j].cpu().numpy(), np.full((R + 1, j + 1), 10 * j + R)), (R, j, outs[j])
    # reduce_scatter list
    for op in (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.MAX):
        ins = [pt.tensor([float(R + j), float(R * j)], device=dev) for j in range(N)]
        out = pt.zeros(2, device=dev)
        dist.reduce_scatter(out, ins, op=op)
        allv = np.array([[r + R, r * R] for r in range(N)], dtype=np.float32)
        want = {ReduceOp.SUM: allv.sum(0), ReduceOp.AVG: allv.sum(0) / N, ReduceOp.MAX: allv.max(0)}[op]
        assert np.allclose(out.cpu().numpy(), want), (R, op, out, want)
    # errors
    for call, msg in (
            (lambda: dist.all_to_all_single(pt.zeros(N + 1), pt.zeros(N + 1)), "not divisible"),
            (lambda: dist.all_to_all_single(pt.zeros(2 * N), pt.zeros(2 * N), None, [1] * N), "adding up"),
            (lambda: dist.all_to_all_single(pt.zeros(N, dtype=pt.int64), pt.zeros(N)), "same dtype"),
            (lambda: dist.all_to_all([pt.zeros(1)], [pt.zeros(1)] * N), "expected length")):
        try:
            call()
            raise AssertionError(f"no error: {msg}")
        except RuntimeError as e:
            assert msg in str(e), e

# objects
objs = [None] * N
dist.all_gather_object(objs, {"r": R, "s": "x" * (R * 50)})
assert objs == [{"r": r, "s": "x" * (r * 50)} for r in range(N)], objs
lst = [1, "two", {3: [4]}] if R == N - 1 else [None, None, None]
dist.broadcast_object_list(lst, src=N - 1)
assert lst == [1, "two", {3: [4]}], lst
g = [None] * N if R == 0 else None
dist.gather_object(("g", R, list(range(R))), g, dst=0)
if R == 0:
    assert g == [("g", r, list(range(r))) for r in range(N)], g
out = [None]
dist.scatter_object_list(out, [{"to": r, "pad": "y" * r * 30} for r in range(N)] if R == 1 else None, src=1)
assert out == [{"to": R, "pad": "y" * R * 30}], out
print(f"rank {R}: all_to_all and object collectives ok", flush=True)
dist.destroy_process_group()
