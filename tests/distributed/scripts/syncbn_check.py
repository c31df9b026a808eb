"""SyncBatchNorm checks, run on every rank: ``mpiexec -n N python syncbn_check.py [devices]``.

Every rank holds a shard of one global batch (shards of different sizes); SyncBatchNorm on the
shards must give what one BatchNorm gives on the whole batch (each rank computes that reference
itself): the outputs of its shard, the running statistics, the gradient of its shard, and the
parameter gradients summed over the ranks. Rank 0 prints ``ok <check> <device>`` per check and
``syncbn checks passed`` at the end; a failure raises (and ends the job).
"""
from __future__ import annotations

import sys

import numpy as np

import plugtorch as pt
import plugtorch.distributed as dist
from plugtorch import nn


def log(msg):
    if RANK == 0:
        print(msg, flush=True)


def close(a, b, what, tol=1e-10):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and np.allclose(a, b, rtol=tol, atol=tol), \
        f"rank {RANK}: {what}: max error {np.abs(a - b).max() if a.shape == b.shape else (a.shape, b.shape)}"


def check(device, shape_tail, momentum):
    sizes = [3 + 2 * r for r in range(WORLD)]                  # uneven shards
    rng = np.random.default_rng(0)
    full = rng.standard_normal((sum(sizes), 4) + shape_tail) * 2 + 1
    grad_out = rng.standard_normal(full.shape)
    lo = sum(sizes[:RANK])
    shard = slice(lo, lo + sizes[RANK])

    ref = nn.BatchNorm1d(4, momentum=momentum) if not shape_tail else nn.BatchNorm2d(4, momentum=momentum)
    ref = ref.double()
    with pt.no_grad():
        ref.weight.copy_(pt.tensor(rng.standard_normal(4)))
        ref.bias.copy_(pt.tensor(rng.standard_normal(4)))
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(ref)).to(device)
    assert isinstance(sync[0], nn.SyncBatchNorm)
    ref = nn.BatchNorm1d(4, momentum=momentum) if not shape_tail else nn.BatchNorm2d(4, momentum=momentum)
    ref = ref.double()
    ref.load_state_dict({k: v.cpu() for k, v in sync[0].state_dict().items()})

    for step in range(2):                                       # twice: the running statistics build up
        x_full = pt.tensor(full + step, requires_grad=True)
        x = pt.tensor(full[shard] + step, device=device, requires_grad=True)
        out_ref = ref(x_full)
        (out_ref * pt.tensor(grad_out)).sum().backward()
        out = sync(x)
        (out * pt.tensor(grad_out[shard], device=device)).sum().backward()
        close(out.detach().cpu().numpy(), out_ref.detach().numpy()[shard], f"output step {step}")
        close(x.grad.cpu().numpy(), x_full.grad.numpy()[shard], f"input gradient step {step}")
        close(sync[0].running_mean.cpu().numpy(), ref.running_mean.numpy(), f"running_mean step {step}")
        close(sync[0].running_var.cpu().numpy(), ref.running_var.numpy(), f"running_var step {step}")
        assert int(sync[0].num_batches_tracked) == step + 1
        for (name, p), q in zip(sync.named_parameters(), ref.parameters()):
            g = p.grad.clone()
            dist.all_reduce(g)
            close(g.cpu().numpy(), q.grad.numpy(), f"summed gradient of {name} step {step}")
            p.grad = None
            q.grad = None
    sync.eval()
    ref.eval()
    x = pt.tensor(full[shard], device=device)
    close(sync(x).detach().cpu().numpy(), ref(pt.tensor(full)).detach().numpy()[shard], "eval output")
    log(f"ok syncbn {shape_tail} momentum={momentum} {device}")


def main(devices):
    for device in devices:
        check(device, (), 0.1)
        check(device, (2, 3), None)
    log("syncbn checks passed")


if __name__ == "__main__":
    dist.init_process_group("mpi")
    RANK, WORLD = dist.get_rank(), dist.get_world_size()
    main(sys.argv[1].split(",") if len(sys.argv) > 1 else ["cpu"])
    dist.destroy_process_group()
