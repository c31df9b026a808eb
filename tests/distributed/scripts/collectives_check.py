"""Run under ``mpiexec -n N``: every collective and ReduceOp on cpu and opencl tensors against
known answers (float32/float64/int64/float16/bfloat16/bool; 1-d, 0-d, empty and non-contiguous
tensors; async handles; a subgroup; send/recv; errors needing several ranks). Prints
``rank R: N checks passed``; any failure raises, which aborts every rank."""
import sys

import numpy as np

import plugtorch as pt
import plugtorch.distributed as dist
from plugtorch.distributed import ReduceOp

dist.init_process_group("mpi")
R, N = dist.get_rank(), dist.get_world_size()
DEVICES = sys.argv[1].split(",")
checks = 0


def expect(tensor, want, what):
    global checks
    got = tensor.cpu().float().numpy() if tensor.dtype is not pt.bool else tensor.cpu().numpy()
    want = np.asarray(want)
    assert got.shape == want.shape and np.array_equal(got, want.astype(got.dtype)), \
        f"rank {R}: {what}: got {got!r}, want {want!r}"
    checks += 1


def values(kind, r):
    """The host values rank r contributes (small integers: exact in every dtype)."""
    return {"1d": np.arange(1, 4) + r, "0d": np.array(2 + r), "empty": np.zeros(0),
            "noncontig": np.arange(1, 3) * 2 + r}[kind]


def make(kind, r, dtype, device):
    """(tensor, base): the tensor a collective gets; base is the storage a view lives in."""
    if kind == "noncontig":   # column 1 of a 2x3 matrix: a strided view into base
        base = pt.tensor(np.full((2, 3), -7.0), dtype=dtype, device=device)
        view = base[:, 1]
        view.copy_(pt.tensor(values(kind, r), dtype=dtype))
        return view, base
    t = pt.tensor(values(kind, r), dtype=dtype, device=device)
    return t, t


def untouched(base, kind, what):
    if kind == "noncontig":
        rest = base.cpu().float().numpy()[:, [0, 2]]
        assert (rest == -7).all(), f"rank {R}: {what} wrote outside the view: {rest}"


REDUCE = {ReduceOp.SUM: lambda a: sum(a), ReduceOp.PRODUCT: lambda a: np.prod(a, axis=0),
          ReduceOp.MIN: lambda a: np.min(a, axis=0), ReduceOp.MAX: lambda a: np.max(a, axis=0),
          ReduceOp.AVG: lambda a: sum(a) / N}
every = lambda kind: np.stack([values(kind, r) for r in range(N)])   # noqa: E731

def supported(dtype, device):
    try:
        pt.zeros(1, dtype=dtype, device=device)
    except TypeError:   # a device may lack float16 or bfloat16
        return False
    return True


for device in DEVICES:
    for dtype in [d for d in (pt.float32, pt.float64, pt.int64, pt.float16, pt.bfloat16)
                  if supported(d, device)]:
        for kind in ("1d", "0d", "empty", "noncontig"):
            tag = f"{device} {dtype} {kind}"
            for op, fn in REDUCE.items():
                if op is ReduceOp.AVG and not dtype.is_floating_point:
                    continue
                t, base = make(kind, R, dtype, device)
                dist.all_reduce(t, op=op)
                expect(t, fn(every(kind)), f"all_reduce {op} {tag}")
                untouched(base, kind, "all_reduce")
                t, base = make(kind, R, dtype, device)
                work = dist.reduce(t, dst=N - 1, op=op, async_op=True)
                assert work.wait() is True and work.is_completed()
                expect(t, fn(every(kind)) if R == N - 1 else values(kind, R), f"reduce {op} {tag}")
            t, base = make(kind, R, dtype, device)
            work = dist.all_reduce(t, async_op=True)
            assert work.wait() and work.is_completed() and work.result()[0] is t
            expect(t, every(kind).sum(0), f"async all_reduce {tag}")

            t, base = make(kind, R, dtype, device)
            dist.broadcast(t, src=N - 1)
            expect(t, values(kind, N - 1), f"broadcast {tag}")
            untouched(base, kind, "broadcast")

            t, _ = make(kind, R, dtype, device)
            outs = [make(kind, 9, dtype, device)[0] for _ in range(N)]
            dist.all_gather(outs, t)
            for r in range(N):
                expect(outs[r], values(kind, r), f"all_gather[{r}] {tag}")

            t, _ = make(kind, R, dtype, device)
            out = pt.zeros((N, *values(kind, 0).shape), dtype=dtype, device=device)
            dist.all_gather_into_tensor(out, t)
            expect(out, every(kind), f"all_gather_into_tensor {tag}")

            t, _ = make(kind, R, dtype, device)
            glist = [pt.zeros(t.shape, dtype=dtype, device=device) for _ in range(N)] if R == 0 else None
            dist.gather(t, glist, dst=0)
            if R == 0:
                for r in range(N):
                    expect(glist[r], values(kind, r), f"gather[{r}] {tag}")

            t, base = make(kind, 9, dtype, device)
            slist = [make(kind, 10 * r, dtype, device)[0] for r in range(N)] if R == 1 else None
            dist.scatter(t, slist, src=1)
            expect(t, values(kind, 10 * R), f"scatter {tag}")
            untouched(base, kind, "scatter")

            t, _ = make(kind, R, dtype, device)
            got, _ = make(kind, 99, dtype, device)
            sent = dist.isend(t, dst=(R + 1) % N)
            received = dist.irecv(got, src=(R - 1) % N)
            sent.wait(), received.wait()
            expect(got, values(kind, (R - 1) % N), f"isend/irecv {tag}")

        # reduce_scatter_tensor: rank r contributes [r+1, r+2, ... r+2N] (2 per rank)
        for op, fn in REDUCE.items():
            if op is ReduceOp.AVG and not dtype.is_floating_point:
                continue
            inp = pt.tensor(np.arange(1, 2 * N + 1) + R, dtype=dtype, device=device)
            out = pt.zeros(2, dtype=dtype, device=device)
            dist.reduce_scatter_tensor(out, inp, op=op)
            allv = np.stack([np.arange(1, 2 * N + 1) + r for r in range(N)])
            expect(out, fn(allv)[2 * R:2 * R + 2], f"reduce_scatter_tensor {op} {device} {dtype}")

    # bool: SUM and MAX are OR, PRODUCT and MIN are AND (as PyTorch)
    for op, fn in ((ReduceOp.SUM, np.any), (ReduceOp.MAX, np.any), (ReduceOp.MIN, np.all),
                   (ReduceOp.PRODUCT, np.all)):
        t = pt.tensor([R == 0, True, False], device=device)
        dist.all_reduce(t, op=op)
        expect(t, fn(np.stack([[r == 0, True, False] for r in range(N)]), axis=0), f"bool {op} {device}")

    # bitwise reductions on integers (rank r: [12 + r, 5 * (r + 1), -(r + 2) or 200 + r]) and bools
    for dtype in [d for d in (pt.int8, pt.int16, pt.int32, pt.int64, pt.uint8) if supported(d, device)]:
        host = lambda r: np.array([12 + r, 5 * (r + 1), 200 + r if dtype is pt.uint8 else -(r + 2)],  # noqa: E731
                                  dtype=dtype.numpy)
        allv = np.stack([host(r) for r in range(N)])
        for op, fn in ((ReduceOp.BAND, np.bitwise_and), (ReduceOp.BOR, np.bitwise_or),
                       (ReduceOp.BXOR, np.bitwise_xor)):
            t = pt.tensor(host(R), dtype=dtype, device=device)
            dist.all_reduce(t, op=op)
            expect(t, fn.reduce(allv, axis=0), f"all_reduce {op} {device} {dtype}")
            inp = pt.tensor(np.concatenate([host(R) + k for k in range(N)]), dtype=dtype, device=device)
            out = pt.zeros(3, dtype=dtype, device=device)
            dist.reduce_scatter_tensor(out, inp, op=op)
            expect(out, fn.reduce(allv + R, axis=0).astype(dtype.numpy), f"reduce_scatter_tensor {op} {device} {dtype}")
    for op, fn in ((ReduceOp.BAND, np.logical_and), (ReduceOp.BOR, np.logical_or),
                   (ReduceOp.BXOR, np.logical_xor)):
        t = pt.tensor([R == 0, True, False, R % 2 == 1], device=device)
        dist.all_reduce(t, op=op)
        expect(t, fn.reduce(np.stack([[r == 0, True, False, r % 2 == 1] for r in range(N)]), axis=0),
               f"bool {op} {device}")
    try:
        dist.all_reduce(pt.ones(2, device=device), op=ReduceOp.BXOR)
        raise AssertionError("BXOR of a float tensor did not raise")
    except RuntimeError as e:
        assert "all_reduce: Cannot use ReduceOp.BXOR with non-integral dataType plugtorch.float32" in str(e), e

    # complex: SUM, AVG and PRODUCT are complex arithmetic; MIN and MAX have no meaning
    for dtype in [d for d in (pt.complex64, pt.complex128) if supported(d, device)]:
        host = lambda r: np.array([1.5 + (r + 1) * 1j, -2.0 + 0.5j * r, 0.25 * r - 1j])   # noqa: E731
        allv = np.stack([host(r) for r in range(N)])
        for op, want in ((ReduceOp.SUM, allv.sum(0)), (ReduceOp.AVG, allv.sum(0) / N),
                         (ReduceOp.PRODUCT, allv.prod(0))):
            t = pt.tensor(host(R), dtype=dtype, device=device)
            dist.all_reduce(t, op=op)
            got = t.cpu().numpy()
            assert np.allclose(got, want, rtol=1e-6, atol=0), f"rank {R}: all_reduce {op} {device} {dtype}: {got} != {want}"
            checks += 1
        for op in (ReduceOp.MIN, ReduceOp.MAX, ReduceOp.BAND):
            try:
                dist.all_reduce(pt.tensor(host(R), dtype=dtype, device=device), op=op)
                raise AssertionError(f"{op} of a complex tensor did not raise")
            except ValueError as e:
                assert f"all_reduce does not support {op} on complex tensors" in str(e), e

    # send/recv with any source; recv returns the sender's global rank
    if R == 0:
        for _ in range(N - 1):
            got = pt.zeros(2, device=device)
            src = dist.recv(got)
            expect(got, [src, src], f"recv from any source {device}")
    else:
        dist.send(pt.full((2,), float(R), device=device), dst=0)

# a subgroup of the first and last rank: ranks outside take no part
sub = dist.new_group([0, N - 1])
t = pt.tensor([float(R + 1)])
if R in (0, N - 1):
    assert dist.get_rank(sub) == (0 if R == 0 else 1) and dist.get_world_size(sub) == 2
    assert dist.get_process_group_ranks(sub) == [0, N - 1]
    dist.all_reduce(t, group=sub)
    expect(t, [1.0 + N], "subgroup all_reduce")
    dist.broadcast(t, src=N - 1, group=sub)   # src is a global rank
    expect(t, [1.0 + N], "subgroup broadcast")
    if N > 2:
        try:
            dist.broadcast(t, src=1, group=sub)
            raise AssertionError("broadcast from a rank outside the group did not raise")
        except ValueError as e:
            assert "Global rank 1 is not part of group" in str(e), e
else:
    assert sub == dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(sub) == -1
    assert dist.all_reduce(t, group=sub) is None
    expect(t, [float(R + 1)], "non-member untouched")
dist.destroy_process_group(sub)

try:
    dist.broadcast(pt.ones(2), src=N)
    raise AssertionError("broadcast from src=N did not raise")
except RuntimeError as e:
    assert f"broadcast: invalid src rank {N}" in str(e), e
try:
    dist.send(pt.ones(2), dst=R)
    raise AssertionError("send to self did not raise")
except ValueError as e:
    assert "destination rank should not be the same" in str(e), e
try:
    dist.all_gather([pt.ones(2)] * (N + 1), pt.ones(2))
    raise AssertionError("all_gather with a long list did not raise")
except RuntimeError as e:
    assert f"expected length {N}, got {N + 1}" in str(e), e

work = dist.barrier(async_op=True)
work.wait()
dist.barrier()
print(f"rank {R}: {checks} checks passed", flush=True)
dist.destroy_process_group()
assert not dist.is_initialized()
