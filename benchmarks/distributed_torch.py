"""PyTorch's side of benchmarks/distributed.py (the anchor), run by it with a Python that has torch.

    python benchmarks/distributed_torch.py --ranks 2 --steps 30 --warmup 5

The same MLP, initial weights, batches, SGD and step counts as distributed_plugtorch.py: one
process plain, or ``--ranks 2`` processes (torch.multiprocessing) in DistributedDataParallel over
gloo, one thread each. Imports only torch, NumPy and distributed_common, never plugtorch. Rank 0
prints one RESULT line of JSON.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from distributed_common import GLOBAL_BATCH, LR, SIZES, batches, initial_weights, report, update_size  # noqa: E402


def run(rank: int, world: int, port: int, steps: int, warmup: int) -> None:
    import torch
    from torch import nn
    torch.set_num_threads(1)
    if world > 1:
        import torch.distributed as dist
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    weights = initial_weights()
    layers = []
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers += [nn.Linear(n_in, n_out)] + ([nn.ReLU()] if i < len(SIZES) - 2 else [])
    model = nn.Sequential(*layers)
    with torch.no_grad():
        for p, w in zip(model.parameters(), weights):
            p.copy_(torch.from_numpy(w))
    if world > 1:
        model = nn.parallel.DistributedDataParallel(model)
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    data = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches(rank, world)]

    def step(i):
        x, y = data[i % len(data)]
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    for i in range(warmup):
        step(i)
    if world > 1:
        dist.barrier()
    t0, c0 = time.perf_counter(), time.process_time()      # process time: gloo's threads too
    for i in range(warmup, warmup + steps):
        step(i)
    elapsed = torch.tensor([time.perf_counter() - t0, time.process_time() - c0], dtype=torch.float64)
    if world > 1:
        dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)
        dist.barrier()
    if rank == 0:
        seconds, cpu_seconds = elapsed.tolist()
        report(samples_per_s=GLOBAL_BATCH * steps / seconds, ms_per_step=seconds / steps * 1e3,
               cpu_ms_per_step=cpu_seconds / steps * 1e3,
               update=update_size([p.detach().numpy() for p in params], weights),
               torch=torch.__version__)
    if world > 1:
        # leave without C++ teardown: torch 2.13's gloo group sometimes ends a rank at exit with
        # "terminate called without an active exception" (SIGABRT), destroy_process_group() or not
        sys.stdout.flush()
        os._exit(0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ranks", type=int, default=1)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args(argv)
    if args.ranks == 1:
        run(0, 1, 0, args.steps, args.warmup)
        return
    import torch.multiprocessing as mp
    mp.spawn(run, args=(args.ranks, free_port(), args.steps, args.warmup), nprocs=args.ranks)


if __name__ == "__main__":
    main()
