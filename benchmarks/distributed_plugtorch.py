"""plugtorch's side of benchmarks/distributed.py, run by it under ``mpiexec -n 1`` or ``-n 2``.

    mpiexec -n 2 python benchmarks/distributed_plugtorch.py train --steps 30 --warmup 5
    mpiexec -n 2 python benchmarks/distributed_plugtorch.py allreduce --mb 25 --reps 15

``train``: the MLP of distributed_common on this rank's share of each global batch, one
process plain (no DDP), more wrapped in DistributedDataParallel (``--share 2`` on one rank:
the half batch one of 2 ranks computes, without communication); ``--profile`` adds a per-step
breakdown (forward, backward and, inside it, DDP's bucket copies, all-reduce starts and the
final wait). ``allreduce``: a float32 buffer all-reduced by ``dist.all_reduce`` and by
mpi4py's ``Allreduce`` (and ``Iallreduce`` + ``Wait``) in turn, in the same processes.
Rank 0 prints one RESULT line of JSON.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import os
import resource
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from distributed_common import (GLOBAL_BATCH, LR, SIZES, batches, initial_weights, report,  # noqa: E402
                                update_size)

import plugtorch as pt  # noqa: E402
import plugtorch.distributed as dist  # noqa: E402
from plugtorch import nn  # noqa: E402


def mlp(weights):
    layers = []
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers += [nn.Linear(n_in, n_out)] + ([nn.ReLU()] if i < len(SIZES) - 2 else [])
    model = nn.Sequential(*layers)
    with pt.no_grad():
        for p, w in zip(model.parameters(), weights):
            p.copy_(pt.from_numpy(w))
    return model


# the phases of a step, as the profile lists them (indented: inside the one above)
PHASES = ("forward (+ zero_grad, loss)", "backward", "  DDP hooks: grad -> bucket copies, all-reduce starts",
          "    of which all-reduce starts (bucket /= world, Iallreduce)",
          "  DDP final callback: wait for all-reduces, copy back", "    of which Work.wait",
          "optimizer step", "whole step")


class PhaseTimer:
    """Wall and CPU time (this process's) spent in named phases, in ms per step. CPU time tells
    work from waiting: on a loaded machine a phase's wall time also counts the time its process
    was not running."""

    def __init__(self):
        self.totals, self.on = {}, False

    @contextlib.contextmanager
    def phase(self, name):
        w0, c0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            if self.on:
                wall, cpu = self.totals.get(name, (0.0, 0.0))
                self.totals[name] = (wall + time.perf_counter() - w0, cpu + time.process_time() - c0)

    def wrap(self, owner, attr, name):
        fn = getattr(owner, attr, None)
        if fn is None:           # DDP's internals moved: leave this phase out rather than fail
            return

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            with self.phase(name):
                return fn(*args, **kwargs)
        setattr(owner, attr, timed)

    def per_step_ms(self, steps):
        """``{phase: [wall ms, cpu ms]}`` per step."""
        return {k: [v * 1e3 / steps for v in wc] for k, wc in self.totals.items()}


def train(args):
    world, rank = dist.get_world_size(), dist.get_rank()
    weights = initial_weights()
    model = mlp(weights)
    timer = PhaseTimer()
    if world > 1:
        from plugtorch.nn.parallel import DistributedDataParallel
        if args.profile:
            from plugtorch.distributed import work
            from plugtorch.nn.parallel import reducer
            timer.wrap(reducer.Reducer, "_mark_ready", PHASES[2])
            timer.wrap(reducer.Reducer, "_launch_ready_buckets", PHASES[3])
            timer.wrap(reducer.Reducer, "_finalize", PHASES[4])
            timer.wrap(work.Work, "wait", PHASES[5])
        model = DistributedDataParallel(model)
    params = list(model.parameters())
    opt = pt.optim.SGD(params, lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    share = world if args.share is None else args.share   # --share 2 on 1 rank: rank 0's half, alone
    data = [(pt.from_numpy(x), pt.from_numpy(y)) for x, y in batches(rank, share)]

    def step(i):
        x, y = data[i % len(data)]
        with timer.phase(PHASES[7]):
            with timer.phase(PHASES[0]):
                opt.zero_grad()
                loss = loss_fn(model(x), y)
            with timer.phase(PHASES[1]):
                loss.backward()
            with timer.phase(PHASES[6]):
                opt.step()

    for i in range(args.warmup):
        step(i)
    if world > 1:
        dist.barrier()
    timer.on = True
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(args.warmup, args.warmup + args.steps):
        step(i)
    elapsed = pt.tensor([time.perf_counter() - t0, time.process_time() - c0], dtype=pt.float64)
    timer.on = False
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0) / args.steps
    if world > 1:
        dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)   # the slowest rank, the busiest rank
    trained = [p.detach().numpy() for p in params]
    phases = timer.per_step_ms(args.steps)
    if args.profile:
        # every rank's own breakdown: the slower rank is the one the others wait for
        names = [k for k in PHASES if k in phases]
        mine = pt.tensor([phases[k] for k in names], dtype=pt.float64)
        every = [pt.zeros_like(mine) for _ in range(world)]
        dist.all_gather(every, mine)
        phases = {k: [e.tolist()[j] for e in every] for j, k in enumerate(names)}
        # fresh pages the kernel had to fault in (and zero): memory malloc gave back and took again
        every = [pt.zeros(1, dtype=pt.float64) for _ in range(world)]
        dist.all_gather(every, pt.tensor([faults], dtype=pt.float64))
        phases["minor page faults per step"] = [[e.item()] * 2 for e in every]
    if rank == 0:
        seconds, cpu_seconds = elapsed.tolist()
        samples = GLOBAL_BATCH // share * world
        report(samples_per_s=samples * args.steps / seconds, ms_per_step=seconds / args.steps * 1e3,
               cpu_ms_per_step=cpu_seconds / args.steps * 1e3, update=update_size(trained, weights),
               phases=phases if args.profile else None)


def allreduce(args):
    from mpi4py import MPI
    comm, rank = MPI.COMM_WORLD, dist.get_rank()
    n = args.mb * 2 ** 20 // 4
    source = np.full(n, rank + 1, np.float32)
    expected = float(sum(range(1, dist.get_world_size() + 1)))
    tensor = pt.empty(n)
    buf = tensor.numpy()             # the tensor's own memory: every contender gets the same buffer

    def plugtorch_blocking():
        dist.all_reduce(tensor)

    def plugtorch_async():
        dist.all_reduce(tensor, async_op=True).wait()

    def mpi4py_blocking():
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)

    def mpi4py_nonblocking():
        comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM).Wait()

    contenders = {"mpi4py Allreduce": mpi4py_blocking, "mpi4py Iallreduce + Wait": mpi4py_nonblocking,
                  "plugtorch all_reduce": plugtorch_blocking,
                  "plugtorch all_reduce(async_op) + wait": plugtorch_async}
    times = {name: [] for name in contenders}
    for rep in range(args.warmup + args.reps):
        for name, fn in contenders.items():          # in turn, so all see the same machine load
            np.copyto(buf, source)
            comm.Barrier()
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            if buf[0] != expected or buf[-1] != expected:
                raise AssertionError(f"{name}: all-reduce gave {buf[0]}, {buf[-1]}, expected {expected}")
            if rep >= args.warmup:
                times[name].append(dt)
    # a contender is as fast as its slower rank
    medians = {}
    for name, ts in times.items():
        medians[name] = max(comm.allgather(statistics.median(ts)))
    if rank == 0:
        report(bytes=n * 4, median_s=medians)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    t = sub.add_parser("train")
    t.add_argument("--steps", type=int, default=30)
    t.add_argument("--warmup", type=int, default=5)
    t.add_argument("--profile", action="store_true")
    t.add_argument("--share", type=int, default=None,
                   help="train on rank 0's share of the global batch among this many ranks (default: world size)")
    a = sub.add_parser("allreduce")
    a.add_argument("--mb", type=int, default=25, help="buffer size in MiB")
    a.add_argument("--reps", type=int, default=15)
    a.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args(argv)
    dist.init_process_group("mpi")
    try:
        (train if args.what == "train" else allreduce)(args)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
