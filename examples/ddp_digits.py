"""Train the digits MLP data-parallel over MPI ranks, and check it equals one process.

    mpiexec -n 2 .venv/bin/python examples/ddp_digits.py --device cpu

Each rank trains a replica of the MLP (64-128-10, SGD with momentum) on its share of every
global batch (DistributedSampler); DistributedDataParallel averages the gradients, so each step
equals one process stepping on the whole global batch. At the end rank 0 replays the same global
batches in a single process and checks that its parameters match the ranks' (within 1e-5), and
every rank checks that all ranks hold identical parameters; a failed check exits non-zero.
It trains in float64 by default (--dtype float32 works too: the ranks then sum in another order
than one process, and the difference grows to about 1e-5 over 20 epochs).
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import plugtorch as pt  # noqa: E402
import plugtorch.distributed as dist  # noqa: E402
from plugtorch.nn.parallel import DistributedDataParallel  # noqa: E402
from plugtorch.utils.data import DataLoader, DistributedSampler, TensorDataset  # noqa: E402

import digits_data  # noqa: E402
import digits_mlp  # noqa: E402

TOLERANCE = 1e-5


def say(*args):
    if dist.get_rank() == 0:
        print(*args, flush=True)


def ranks_agree(params) -> bool:
    """True if every rank holds the same values (elementwise max == min across ranks)."""
    for p in params:
        hi, lo = p.detach().clone(), p.detach().clone()
        dist.all_reduce(hi, op=dist.ReduceOp.MAX)
        dist.all_reduce(lo, op=dist.ReduceOp.MIN)
        if not bool((hi == lo).all()):
            return False
    return True


def global_batches(dataset, world, batch_size, seed, epoch):
    """The global batches of one epoch: step k joins batch k of every rank's sampler share."""
    shares = []
    for r in range(world):
        s = DistributedSampler(dataset, world, r, shuffle=True, seed=seed)
        s.set_epoch(epoch)
        shares.append(list(s))
    for k in range(0, len(shares[0]), batch_size):
        yield [i for share in shares for i in share[k:k + batch_size]]


def single_process(model, dataset, world, args):
    """One process training ``model`` on the global batches the ranks saw together."""
    opt = digits_mlp.make_optimizer(model.parameters(), args.lr)
    loss_fn = pt.nn.CrossEntropyLoss()
    x_all, y_all = dataset.tensors
    for epoch in range(args.epochs):
        for idx in global_batches(dataset, world, args.batch_size, args.seed, epoch):
            idx = pt.tensor(idx, device=x_all.device)
            opt.zero_grad()
            loss_fn(model(x_all[idx]), y_all[idx]).backward()
            opt.step()
    return model


def main(argv=None) -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    known, rest = pre.parse_known_args(argv)
    args = digits_data.parse_args(__doc__.splitlines()[0] + " (also: --dtype float64|float32)", rest,
                                  epochs=5, lr=0.1)
    dtype = getattr(pt, known.dtype)
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = digits_data.pick_device(args.device)
    say(f"digits MLP data-parallel on {world} ranks, {device}, {known.dtype}, global batch {args.batch_size * world}")
    train, test = digits_data.digits(device, images=False, batch_size=args.batch_size, seed=args.seed)
    x, y = train.dataset.tensors
    dataset = TensorDataset(x.to(dtype), y)
    x, y = test.dataset.tensors
    test = DataLoader(TensorDataset(x.to(dtype), y), batch_size=512)

    pt.manual_seed(args.seed + rank)     # different on every rank: DDP starts them all from rank 0's
    model = digits_mlp.make_model().to(device=device, dtype=dtype)
    ddp = DistributedDataParallel(model)
    start_state = copy.deepcopy(model) if rank == 0 else None

    sampler = DistributedSampler(dataset, shuffle=True, seed=args.seed)
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler)
    opt = digits_mlp.make_optimizer(ddp.parameters(), args.lr)
    loss_fn = pt.nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        t0 = time.perf_counter()
        total, n = pt.zeros((), device=device), 0
        for x, y in loader:
            opt.zero_grad()
            loss = loss_fn(ddp(x), y)
            loss.backward()
            opt.step()
            total += loss.detach() * len(y)
            n += len(y)
        dist.all_reduce(total)
        acc = digits_data.accuracy(model, test)
        say(f"epoch {epoch + 1:2d}/{args.epochs}  loss {total.item() / (n * world):.4f}  "
            f"test accuracy {acc:.4f}  ({time.perf_counter() - t0:.2f} s)")

    ok = ranks_agree(list(model.parameters()))
    say(f"all {world} ranks hold identical parameters: {ok}")
    verdict = pt.tensor([1 if ok else 0])
    if rank == 0:
        ref = single_process(start_state, dataset, world, args)
        diff = max((a - b).abs().max().item() for a, b in zip(model.parameters(), ref.parameters()))
        same = diff <= TOLERANCE
        print(f"rank 0: parameters equal a single process trained on the same global batches: {same} "
              f"(max |difference| {diff:.2e}, tolerance {TOLERANCE:g})", flush=True)
        verdict[0] = int(ok and same)
    dist.broadcast(verdict, 0)
    dist.destroy_process_group()
    return 0 if verdict.item() == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
