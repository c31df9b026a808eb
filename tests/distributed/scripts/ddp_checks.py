"""DistributedDataParallel checks, run on every rank: ``mpiexec -n N python ddp_checks.py [devices]``.

Each check compares DDP training with one process training on the same global batches (every
rank computes that reference itself) and checks that the ranks agree. Rank 0 prints
``ok <check> <device>`` per passed check and ``ddp checks passed`` at the end; any failure
raises (the process group's abort handling ends the job with the error).
"""
from __future__ import annotations

import sys

import plugtorch as pt
import plugtorch.distributed as dist
from plugtorch import nn
from plugtorch.nn.parallel import DistributedDataParallel as DDP

TINY_BUCKETS = 1e-4     # MiB: about 100 bytes, so the small models get several buckets


def log(msg):
    if RANK == 0:
        print(msg, flush=True)


def mlp(seed, dtype, device):
    pt.manual_seed(seed)
    net = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 6), nn.Tanh(), nn.Linear(6, 3))
    return net.to(device=device, dtype=dtype)


class WithSpare(nn.Module):
    """An mlp and a 'spare' layer (parameters 6 and 7) that forward uses on ``spare_ranks`` only."""

    def __init__(self, device, spare_ranks=()):
        super().__init__()
        self.body = mlp(5, pt.float64, device)
        self.spare = nn.Linear(3, 2).to(device=device, dtype=pt.float64)
        self.spare_ranks = spare_ranks

    def forward(self, x):
        out = self.body(x)
        return out + self.spare(out).sum() if RANK in self.spare_ranks else out


def global_batch(step, dtype, device, per_rank=4):
    g = pt.Generator().manual_seed(1000 + step)
    x = pt.randn(WORLD * per_rank, 5, generator=g, dtype=pt.float64)
    y = pt.randn(WORLD * per_rank, 3, generator=g, dtype=pt.float64)
    return x.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)


def local(t):
    n = t.shape[0] // WORLD
    return t[RANK * n:(RANK + 1) * n]


def max_diff(a_params, b_params):
    return max((a.detach() - b.detach()).abs().max().item() for a, b in zip(a_params, b_params))


def same_on_all_ranks(tensors):
    for t in tensors:
        hi, lo = t.detach().clone(), t.detach().clone()
        dist.all_reduce(hi, op=dist.ReduceOp.MAX)
        dist.all_reduce(lo, op=dist.ReduceOp.MIN)
        if not bool((hi == lo).all()):
            return False
    return True


def check(cond, what):
    if not cond:
        raise AssertionError(f"rank {RANK}: {what}")


def make_opt(kind, params):
    if kind == "sgd":
        return pt.optim.SGD(params, lr=0.1, momentum=0.9)
    return pt.optim.Adam(params, lr=0.01)


def train_equals_single_process(kind, dtype, device, tol, **ddp_kw):
    model = mlp(100 + RANK, dtype, device)        # different on every rank: DDP broadcasts rank 0's
    ddp = DDP(model, bucket_cap_mb=TINY_BUCKETS, **ddp_kw)
    ref = mlp(100, dtype, device)
    check(max_diff(ddp.parameters(), ref.parameters()) == 0, "parameters not broadcast from rank 0")
    check(len(ddp.reducer.buckets) > 1, "expected several buckets")
    opt, ref_opt = make_opt(kind, ddp.parameters()), make_opt(kind, ref.parameters())
    loss_fn = nn.MSELoss()
    for step in range(4):
        x, y = global_batch(step, dtype, device)
        opt.zero_grad()
        loss_fn(ddp(local(x)), local(y)).backward()
        opt.step()
        ref_opt.zero_grad()
        loss_fn(ref(x), y).backward()
        ref_opt.step()
    d = max_diff(ddp.parameters(), ref.parameters())
    check(d <= tol, f"{kind} DDP vs single process: max |difference| {d:.3g} > {tol}")
    check(same_on_all_ranks(list(ddp.parameters())), "ranks hold different parameters")
    extra = " gradient_as_bucket_view" if ddp_kw.get("gradient_as_bucket_view") else ""
    log(f"ok train-{kind}{extra} {device} {dtype} max-diff {d:.2g}")


def no_sync_accumulates(dtype, device, tol):
    ddp = DDP(mlp(7, dtype, device), bucket_cap_mb=TINY_BUCKETS)
    ref = mlp(7, dtype, device)
    loss_fn = nn.MSELoss(reduction="sum")
    (x1, y1), (x2, y2) = global_batch(10, dtype, device), global_batch(11, dtype, device)
    calls = []
    real = dist.all_reduce

    def counting(*a, **k):
        calls.append("all_reduce")
        return real(*a, **k)
    dist.all_reduce = counting
    # the first layer's weight gets its gradient last: buckets of later layers start before that
    h = ddp.module[0].weight.register_post_accumulate_grad_hook(lambda t: calls.append("first layer ready"))
    try:
        with ddp.no_sync():
            loss_fn(ddp(local(x1)), local(y1)).backward()
        check(calls == ["first layer ready"], f"no_sync backward communicated: {calls}")
        g_local = [p.grad.clone() for p in ddp.parameters()]
        calls.clear()
        loss_fn(ddp(local(x2)), local(y2)).backward()
        n = len(ddp.reducer.buckets)
        check(calls.count("all_reduce") == n, f"{calls.count('all_reduce')} all-reduces for {n} buckets")
        check(calls.index("first layer ready") >= n - 2, f"all-reduces not started during backward: {calls}")
    finally:
        dist.all_reduce = real
        h.remove()
    check(max_diff(g_local, [p.grad for p in ddp.parameters()]) > 0, "synced backward changed nothing")
    # the sum over ranks of local sums, averaged: the gradient of the global sum divided by WORLD
    (loss_fn(ref(x1), y1) + loss_fn(ref(x2), y2)).div(WORLD).backward()
    d = max_diff([p.grad for p in ddp.parameters()], [p.grad for p in ref.parameters()])
    check(d <= tol, f"no_sync accumulation vs one big batch: {d:.3g}")
    log(f"ok no_sync {device} {dtype}")


def unused_parameters_reported(device):
    ddp = DDP(WithSpare(device))       # 'spare' is never used in forward
    x, y = global_batch(0, pt.float64, device)
    ddp(local(x)).sum().backward()
    try:
        ddp(local(x))
    except RuntimeError as e:
        msg = str(e)
        check(msg.startswith("Expected to have finished reduction in the prior iteration"), msg)
        check(f"did not receive grad for rank {RANK}: 6 7" in msg, msg)
        check("Parameters which did not receive grad" in msg and "spare.weight, spare.bias" in msg, msg)
        check("find_unused_parameters=True" in msg, msg)
    else:
        raise AssertionError("an unused parameter was not reported")
    log(f"ok unused-reported {device}")


def unused_parameters_found(device, static_graph=False):
    """find_unused_parameters (or static_graph): 'spare' is used on rank 0 only; its gradient
    there is averaged with the other ranks' zeros."""
    net, ref = WithSpare(device, spare_ranks=(0,)), WithSpare(device, spare_ranks=(0,))
    ddp = DDP(net, **({"static_graph": True} if static_graph else {"find_unused_parameters": True}))
    opt = pt.optim.SGD(ddp.parameters(), lr=0.01)
    for step in range(3):
        x, _ = global_batch(step, pt.float64, device)
        ref.load_state_dict(net.state_dict())
        opt.zero_grad()
        ddp(local(x)).sum().backward()
        ref.zero_grad()
        ref(local(x)).sum().backward()          # this rank's own gradient, averaged by hand below
        for (name, p), q in zip(net.named_parameters(), ref.parameters()):
            g = pt.zeros_like(q) if q.grad is None else q.grad.clone()
            dist.all_reduce(g)
            check(p.grad is not None and (p.grad - g / WORLD).abs().max().item() < 1e-12,
                  f"{name}: not the average of the ranks' gradients")
        opt.step()
    log(f"ok unused-{'static-graph' if static_graph else 'found'} {device}")


def globally_unused_keeps_none(device):
    ddp = DDP(WithSpare(device), find_unused_parameters=True)
    x, _ = global_batch(0, pt.float64, device)
    for _ in range(2):
        ddp(local(x)).sum().backward()
        check(ddp.module.spare.weight.grad is None, "a globally unused parameter got a gradient")
        check(ddp.module.body[0].weight.grad is not None, "a used parameter got no gradient")
    log(f"ok globally-unused {device}")


def buffers_broadcast(device):
    pt.manual_seed(9)
    net = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4)).to(device)
    with pt.no_grad():
        net[1].running_mean.fill_(float(RANK + 1))      # differs per rank: construction broadcasts rank 0's
    ddp = DDP(net)
    check(net[1].running_mean.tolist() == [1.0] * 4, "buffers not broadcast at construction")
    x, _ = global_batch(RANK, pt.float32, device)          # different data per rank: the stats drift apart
    ddp(x).sum().backward()
    rank0_after = net[1].running_mean.clone()
    dist.broadcast(rank0_after, 0)
    differs = not same_on_all_ranks([net[1].running_mean])
    ddp.eval()
    with pt.no_grad():
        ddp(x)                                               # broadcasts rank 0's buffers first
    check(differs or WORLD == 1, "the ranks' running statistics should differ before the broadcast")
    check(same_on_all_ranks(list(net.buffers())), "buffers differ after a forward")
    check(bool((net[1].running_mean == rank0_after).all()), "buffers are not rank 0's")
    log(f"ok buffers {device}")


def state_dict_round_trip(device):
    ddp = DDP(mlp(1, pt.float32, device))
    sd = ddp.state_dict()
    check(list(sd) == ["module." + k for k in ddp.module.state_dict()], f"keys {list(sd)}")
    other = DDP(mlp(2, pt.float32, device))
    other.load_state_dict(sd)
    check(max_diff(other.parameters(), ddp.parameters()) == 0, "load_state_dict did not load")
    plain = mlp(3, pt.float32, device)
    plain.load_state_dict({k[len("module."):]: v for k, v in sd.items()})
    check(max_diff(plain.parameters(), ddp.parameters()) == 0, "module state dict mismatch")
    try:
        other.load_state_dict(plain.state_dict())
    except RuntimeError as e:
        check("Missing key(s)" in str(e) and "module.0.weight" in str(e), str(e))
    else:
        raise AssertionError("a state dict without the module. prefix loaded")
    log(f"ok state_dict {device}")


def sampler_partitions_the_dataset():
    """DistributedSampler with the default group: the ranks' shares, gathered, are one shuffled
    pass over the dataset padded with its head."""
    from plugtorch.utils.data import DistributedSampler
    n = 10
    s = DistributedSampler(range(n), seed=4)
    check((s.num_replicas, s.rank) == (WORLD, RANK), f"defaults {(s.num_replicas, s.rank)}")
    mine = pt.tensor(list(s))
    shares = [pt.zeros_like(mine) for _ in range(WORLD)]
    dist.all_gather(shares, mine)
    merged = [shares[r][i].item() for i in range(len(mine)) for r in range(WORLD)]
    check(sorted(merged[:n]) == list(range(n)) and merged[n:] == merged[:len(merged) - n],
          f"shares {[t.tolist() for t in shares]}")
    log("ok sampler-partition")


def subgroup_of_two():
    """DDP over new_group([1, 2]): parameters come from the group's first rank (global 1),
    gradients are averaged over the group only; rank 0 stays out."""
    g = dist.new_group([1, 2])
    if RANK in (1, 2):
        ddp = DDP(mlp(200 + RANK, pt.float64, "cpu"), process_group=g)
        ref = mlp(201, pt.float64, "cpu")
        check(max_diff(ddp.parameters(), ref.parameters()) == 0, "parameters not broadcast from global rank 1")
        opt, ref_opt = make_opt("sgd", ddp.parameters()), make_opt("sgd", ref.parameters())
        for step in range(2):
            x, y = global_batch(step, pt.float64, "cpu", per_rank=8)
            x, y = x[:8], y[:8]                        # the group's global batch; 4 rows per member
            mine = slice((RANK - 1) * 4, RANK * 4)
            opt.zero_grad()
            nn.functional.mse_loss(ddp(x[mine]), y[mine]).backward()
            opt.step()
            ref_opt.zero_grad()
            nn.functional.mse_loss(ref(x), y).backward()
            ref_opt.step()
        d = max_diff(ddp.parameters(), ref.parameters())
        check(d <= 1e-12, f"subgroup DDP vs single process: {d:.3g}")
        if RANK == 1:
            print("ok subgroup cpu", flush=True)
    dist.barrier()


def frozen_parameters_and_hooks(device):
    """A frozen layer (requires_grad=False, different on every rank) is broadcast from rank 0
    like the others (PyTorch's _sync_module_states takes every parameter); a tensor hook on a
    parameter (doubling its gradient) acts before the average. Training equals one process
    on the joined batches with the same hook."""
    def make(seed):
        pt.manual_seed(seed)
        net = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 3))
        net = net.to(device=device, dtype=pt.float64)
        net[2].requires_grad_(False)
        net[4].weight.register_hook(lambda g: g * 2)
        return net
    ddp, ref = DDP(make(300 + RANK), bucket_cap_mb=TINY_BUCKETS), make(300)
    check(max_diff(ddp.parameters(), ref.parameters()) == 0, "frozen parameters not broadcast from rank 0")
    opt = pt.optim.SGD([p for p in ddp.parameters() if p.requires_grad], lr=0.1)
    ref_opt = pt.optim.SGD([p for p in ref.parameters() if p.requires_grad], lr=0.1)
    for step in range(3):
        x, y = global_batch(20 + step, pt.float64, device)
        opt.zero_grad()
        nn.functional.mse_loss(ddp(local(x)), local(y)).backward()
        opt.step()
        ref_opt.zero_grad()
        nn.functional.mse_loss(ref(x), y).backward()
        ref_opt.step()
    check(ddp.module[2].weight.grad is None, "a frozen parameter got a gradient")
    d = max_diff(ddp.parameters(), ref.parameters())
    check(d <= 1e-12, f"frozen/hooked DDP vs single process: max |difference| {d:.3g}")
    log(f"ok frozen-and-hooked {device} max-diff {d:.2g}")


def mismatched_models_refused():
    net = nn.Linear(3, 2 + (RANK == 1))
    try:
        DDP(net)
    except RuntimeError as e:
        check("DDP expects same model across all ranks" in str(e), str(e))
    else:
        raise AssertionError("mismatched models were wrapped")
    log("ok mismatched-models")


def main(devices):
    for device in devices:
        tol = 1e-5 if device == "opencl" else 1e-10
        dtype = pt.float32 if device == "opencl" else pt.float64
        for kind in ("sgd", "adam"):
            train_equals_single_process(kind, dtype, device, tol)
        if device == "cpu":
            train_equals_single_process("sgd", pt.float32, device, 1e-5)
            train_equals_single_process("adam", dtype, device, tol, gradient_as_bucket_view=True)
        no_sync_accumulates(dtype, device, tol)
        frozen_parameters_and_hooks(device)
        buffers_broadcast(device)
        state_dict_round_trip(device)
        if device == "cpu":
            unused_parameters_reported(device)
            unused_parameters_found(device)
            unused_parameters_found(device, static_graph=True)
            globally_unused_keeps_none(device)
    sampler_partitions_the_dataset()
    if WORLD > 2:
        subgroup_of_two()
    if WORLD > 1:
        mismatched_models_refused()
    log("ddp checks passed")


if __name__ == "__main__":
    dist.init_process_group("mpi")
    RANK, WORLD = dist.get_rank(), dist.get_world_size()
    main(sys.argv[1:] or ["cpu"])
    dist.destroy_process_group()
