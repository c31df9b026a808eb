"""Collectives on picklable Python objects, as torch.distributed's ``*_object*`` functions:
each object is pickled into a uint8 tensor, the sizes travel first, then the bytes (padded
to the largest) through the tensor collectives. Pickle runs arbitrary code on unpickling:
use them only between ranks you trust, as in PyTorch.

>>> out = [None] * dist.get_world_size()     # 2 ranks           # doctest: +SKIP
>>> dist.all_gather_object(out, {"rank": dist.get_rank()})    # doctest: +SKIP
>>> out                                                        # doctest: +SKIP
[{'rank': 0}, {'rank': 1}]
"""
from __future__ import annotations

import io
import pickle

import numpy as np

from plugtorch.distributed import collectives as C
from plugtorch.distributed.process_group import GroupMember, group_rank, resolve


def _to_bytes(obj, device):
    import plugtorch as pt
    buf = io.BytesIO()
    pickle.Pickler(buf).dump(obj)
    data = np.frombuffer(buf.getvalue(), dtype=np.uint8).copy()
    return pt.tensor(data, dtype=pt.uint8, device=device), pt.tensor([data.size], dtype=pt.int64,
                                                                       device=device)


def _from_bytes(t, size: int):
    return pickle.loads(t.cpu().numpy()[:size].tobytes())


def _device(device):
    return "cpu" if device is None else device


def _padded_bytes(obj, g, group):
    """(every rank's byte count, ``obj``'s bytes padded to the longest): what the object gathers send."""
    import plugtorch as pt
    data, size = _to_bytes(obj, "cpu")
    sizes = [pt.zeros(1, dtype=pt.int64) for _ in range(g.size)]
    C.all_gather(sizes, size, group=group)
    padded = pt.zeros(max(int(s.item()) for s in sizes), dtype=pt.uint8)
    padded[:data.numel()] = data
    return sizes, padded


def all_gather_object(object_list, obj, group=None) -> None:
    """Every rank's ``obj`` into ``object_list`` (one entry per rank, in rank order)."""
    import plugtorch as pt
    g = resolve(group)
    if g == GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(object_list, list) or len(object_list) != g.size:
        got = len(object_list) if isinstance(object_list, list) else type(object_list).__name__
        raise RuntimeError(f"all_gather_object: object_list must be a list of the group size "
                           f"({g.size}) to receive the objects, got {got}")
    sizes, padded = _padded_bytes(obj, g, group)
    outs = [pt.zeros(padded.numel(), dtype=pt.uint8) for _ in range(g.size)]
    C.all_gather(outs, padded, group=group)
    for i in range(g.size):
        object_list[i] = _from_bytes(outs[i], int(sizes[i].item()))


def gather_object(obj, object_gather_list=None, dst: int = 0, group=None) -> None:
    """Every rank's ``obj`` into ``object_gather_list`` on rank ``dst`` (a list of the group
    size there; None elsewhere)."""
    import plugtorch as pt
    g = resolve(group)
    if g == GroupMember.NON_GROUP_MEMBER:
        return None
    root = group_rank(g, dst, "gather_object", "dst")
    if g.rank == root and (not isinstance(object_gather_list, list) or len(object_gather_list) != g.size):
        raise ValueError(f"gather_object: Argument ``object_gather_list`` must be a list of the group "
                         f"size ({g.size}) on the destination rank.")
    sizes, padded = _padded_bytes(obj, g, group)
    outs = [pt.zeros(padded.numel(), dtype=pt.uint8) for _ in range(g.size)] if g.rank == root else None
    C.gather(padded, outs, dst=dst, group=group)
    if g.rank == root:
        for i in range(g.size):
            object_gather_list[i] = _from_bytes(outs[i], int(sizes[i].item()))


def broadcast_object_list(object_list, src: int = 0, group=None, device=None) -> None:
    """Rank ``src``'s ``object_list`` into ``object_list`` of every rank, in place (every rank
    passes a list of the same length)."""
    import plugtorch as pt
    g = resolve(group)
    if g == GroupMember.NON_GROUP_MEMBER:
        return None
    root = group_rank(g, src, "broadcast_object_list", "src")
    dev = _device(device)
    if g.rank == root:
        pieces = [_to_bytes(o, dev) for o in object_list]
        sizes = pt.cat([s for _, s in pieces]) if pieces else pt.zeros(0, dtype=pt.int64, device=dev)
    else:
        sizes = pt.zeros(len(object_list), dtype=pt.int64, device=dev)
    C.broadcast(sizes, src=src, group=group)
    total = int(sizes.sum().item())
    data = pt.cat([d for d, _ in pieces]) if g.rank == root and pieces else \
        pt.zeros(total, dtype=pt.uint8, device=dev)
    C.broadcast(data, src=src, group=group)
    if g.rank != root:
        host, off = data.cpu().numpy(), 0
        for i, n in enumerate(sizes.cpu().numpy().tolist()):
            object_list[i] = pickle.loads(host[off:off + n].tobytes())
            off += n


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src: int = 0,
                        group=None) -> None:
    """``scatter_object_input_list[i]`` of rank ``src`` into ``scatter_object_output_list[0]``
    of group rank i."""
    import plugtorch as pt
    g = resolve(group)
    if g == GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(scatter_object_output_list, list) or len(scatter_object_output_list) < 1:
        raise ValueError("scatter_object_list: Expected argument scatter_object_output_list to be a "
                         "list of size at least 1.")
    root = group_rank(g, src, "scatter_object_list", "src")
    if g.rank == root:
        if not isinstance(scatter_object_input_list, list) or len(scatter_object_input_list) != g.size:
            raise ValueError(f"scatter_object_list: scatter_object_input_list must be a list of the "
                             f"group size ({g.size}) on the source rank.")
        pieces = [_to_bytes(o, "cpu") for o in scatter_object_input_list]
        longest = max(int(s.item()) for _, s in pieces)
        slist = []
        for d, _ in pieces:
            p = pt.zeros(longest, dtype=pt.uint8)
            p[:d.numel()] = d
            slist.append(p)
        lens = [s for _, s in pieces]
        top = pt.tensor([longest], dtype=pt.int64)
    else:
        slist = lens = None
        top = pt.zeros(1, dtype=pt.int64)
    C.broadcast(top, src=src, group=group)
    mine = pt.zeros(int(top.item()), dtype=pt.uint8)
    size = pt.zeros(1, dtype=pt.int64)
    C.scatter(size, lens, src=src, group=group)
    C.scatter(mine, slist, src=src, group=group)
    scatter_object_output_list[0] = _from_bytes(mine, int(size.item()))
