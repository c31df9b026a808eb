"""Collectives on tensors of any device, with torch.distributed's signatures and semantics.

Each one checks its arguments (errors name the op and the tensors' shape, dtype and device),
turns the tensors into the group's buffers (``staging``: in place for contiguous cpu tensors),
starts the backend's nonblocking collective and returns a ``Work`` (``async_op=True``) or
waits for it with the group's timeout. ``src``/``dst`` are global ranks, as in PyTorch.

>>> t = plugtorch.ones(3) * (dist.get_rank() + 1)    # doctest: +SKIP
>>> dist.all_reduce(t)                                # 2 ranks: t == [3., 3., 3.]
"""
from __future__ import annotations

from plugtorch._tensor import Tensor
from plugtorch.distributed import staging
from plugtorch.distributed.process_group import GroupMember, group_rank, resolve
from plugtorch.distributed.reduce_op import BITWISE, ReduceOp, check_reduce_op
from plugtorch.distributed.work import Work

_TORCH_NAME = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
               "bool": "Bool"}


def _describe(t) -> str:
    return f"shape {list(t.shape)}, dtype {t.dtype}, device {t.device}"


def _check_tensor(t, opname: str, what: str = "tensor") -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{opname}: {what} must be a plugtorch.Tensor, got {type(t).__name__}")


def _check_op(op, tensor, opname: str) -> ReduceOp:
    op = check_reduce_op(op, opname)
    dtype = tensor.dtype
    if dtype.is_complex and (op in BITWISE or op in (ReduceOp.MIN, ReduceOp.MAX)):
        why = ("bitwise reductions take integer or bool tensors" if op in BITWISE else
               "complex numbers have no order; reduce view_as_real(tensor) or the absolute values")
        raise ValueError(f"{opname} does not support {op} on complex tensors ({_describe(tensor)}): {why}")
    if op in BITWISE and (dtype.is_floating_point or dtype.is_complex):
        raise RuntimeError(f"{opname}: Cannot use {op} with non-integral dataType {dtype} "
                           f"({_describe(tensor)}): bitwise reductions take integer or bool tensors")
    if op is ReduceOp.AVG and not (dtype.is_floating_point or dtype.is_complex):
        raise RuntimeError(f"{opname}: ReduceOp.AVG of a {tensor.dtype} tensor ({_describe(tensor)}): "
                           f"result type Float can't be cast to the desired output type "
                           f"{_TORCH_NAME.get(tensor.dtype.name, tensor.dtype.name)}; reduce with "
                           f"ReduceOp.SUM and divide, or use a floating-point tensor")
    return op


def _check_list(tensors, tensor, size: int, opname: str, what: str) -> None:
    if not isinstance(tensors, (list, tuple)) or len(tensors) != size:
        got = len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__
        raise RuntimeError(f"{opname}: {what} must hold one tensor per rank of the group: "
                           f"expected length {size}, got {got}")
    for i, t in enumerate(tensors):
        _check_tensor(t, opname, f"{what}[{i}]")
        if t.shape != tensor.shape or t.dtype is not tensor.dtype:
            raise RuntimeError(f"{opname}: invalid tensor at index {i} of {what} (expected shape "
                               f"{list(tensor.shape)}, dtype {tensor.dtype} as the input tensor, got "
                               f"{_describe(t)})")


def _buffers(g):
    """The group's (to_buffer, from_buffer, empty_buffer): host NumPy staging for MPI."""
    return (getattr(g, "to_buffer", staging.to_host), getattr(g, "from_buffer", staging.from_host),
            getattr(g, "empty_buffer", staging.empty_host))


def _write_back(tensor, array, in_place: bool, from_buffer) -> None:
    if in_place:
        tensor._bump_version()
    else:
        from_buffer(tensor, array)


def _start(g, opname: str, test, finish, async_op: bool, result=()):
    work = Work(opname, g.ranks[g.rank], g.timeout, test, finish, result)
    if async_op:
        return work
    work.wait()
    return None


def _average(array, op, size: int) -> None:
    if op is ReduceOp.AVG:
        array /= size


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce ``tensor`` across the group, in place on every rank."""
    g = resolve(group)
    if g == GroupMember.NON_GROUP_MEMBER:
        return None
    _check_tensor(tensor, "all_reduce")
    op = _check_op(op, tensor, "all_reduce")
    to_buffer, from_buffer, _ = _buffers(g)
    array, in_place = to_buffer(tensor, reduce=True)

    def finish():
        _average(array, op, g.size)
        _write_back(tensor, array, in_place, from_buffer)
    return _start(g, "all_reduce", g.allreduce(array, op), finish, async_op, [tensor])


def broadcast(tensor, src: int, group=None, async_op: bool = False):
    """Copy ``tensor`` of rank ``src`` into ``tensor`` of every rank."""
    g = resolve(group)
    if g == GroupMember.NON_GROUP_MEMBER:
        return None
    _check_tensor(tensor, "broadcast")
    root = group_rank(g, src, "broadcast", "src")
    to_buffer, from_buffer, _ = _buffers(g)
    array, in_place = to_buffer(tensor, read=g.rank == root)

    def finish():
        if g.rank != root:
            _write_back(tensor, array, in_place, from_buffer)
    return _start(g, "broadcast", g.broadcast(array, root), finish, async_op, [tensor])


def all_gather(tensor_list, tensor, group=None, async_op: bool = False):
    """Every rank's ``tensor`` into ``tensor_list`` (one tensor per rank, in rank order)."""
    g = resolve(group)
    if g == GroupMember.NON_GROUP_MEMBER:
        return None
    _check_tensor(tensor, "all_gather")
    _check_list(tensor_list, tensor, g.size, "all_gather", "tensor_list")
    to_buffer, from_buffer, empty_buffer = _buffers(g)
    array, _ = to_buffer(tensor)
    out = empty_buffer((g.size, *tensor.shape), tensor.dtype)

    def finish():
        for i, t in enumerate(tensor_list):
            from_buffer(t, out[i])
    return _start(g, "all_gather", g.allgather(out, array), finish, async_op, tensor_list)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op: bool = False):
    """Every rank's ``input_tensor`` concatenated (rank order) into ``output_tensor``, whose
    size is the group size times the input's ((world * n, ...) or (world, n, ...))."""
    g = resolve(group)
    if g == GroupMember.NON_GROUP_MEMBER:
        return None
    opname = "all_gather_into_tensor"
    _check_tensor(output_tensor, opname, "output_tensor")
    _check_tensor(input_tensor, opname, "input_tensor")
    if output_tensor.dtype is not input_tensor.dtype:
        raise RuntimeError(f"{opname}: output tensor must have the same type as input tensor "
                           f"(output {_describe(output_tensor)}, input {_describe(input_tensor)})")
    if output_tensor.numel() != g.size * input_tensor.numel():
        raise RuntimeError(f"{opname}: output tensor size must be equal to world_size ({g.size}) "
                           f"times input tensor size (output {_describe(output_tensor)}, input "
                           f"{_describe(input_tensor)})")
    to_buffer, from_buffer, _ = _buffers(g)
    array, _ = to_buffer(input_tensor)
    out, in_place = to_buffer(output_tensor, read=False)

    def finish():
        _write_back(output_tensor, out, in_place, from_buffer)
    return _start(g, opname, g.allgather(out, array), finish, async_op, [output_tensor])


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce ``input`` across the group and leave block ``rank`` of the result in ``output``
    (``input`` holds group-size times ``output``'s elements)."""
    g = resolve(group)
    if g == GroupMember.NON_GROUP_MEMBER:
        return None
    opname = "reduce_scatter_tensor"
    _check_tensor(output, opname, "output")
    _check_tensor(input, opname, "input")
    op = _check_op(op, input, opname)
    if output.dtype is not input.dtype:
        raise RuntimeError(f"{opname}: input tensor must be the same type as the output tensor "
                           f"(output {_describe(output)}, input {_describe(input)})")
    if input.numel() != g.size * output.numel():
        raise RuntimeError(f"{opname}: input tensor must be the same size as output size times "
                           f"world size ({g.size}) (output {_describe(output)}, input {_describe(input)})")
    to_buffer, from_buffer, _ = _buffers(g)
    array, _ = to_buffer(input, reduce=True)
    out, in_place = to_buffer(output, reduce=True, read=False)

    def finish():
        _average(out, op, g.size)
        _write_back(output, out, in_place, from_buffer)
    return _start(g, opname, g.reduce_scatter(out, array, op), finish, async_op, [output])


def reduce(tensor, dst: int, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce ``tensor`` across the group into ``tensor`` of rank ``dst`` (others unchanged)."""
    g = resolve(group)
    if g == GroupMember.NON_GROUP_MEMBER:
        return None
    _check_tensor(tensor, "reduce")
    op = _check_op(op, tensor, "reduce")
    root = group_rank(g, dst, "reduce", "dst")
    to_buffer, from_buffer, _ = _buffers(g)
    array, in_place = to_buffer(tensor, reduce=True)

    def finish():
        if g.rank == root:
            _average(array, op, g.size)
            _write_back(tensor, array, in_place, from_buffer)
    return _start(g, "reduce", g.reduce(array, op, root), finish, async_op, [tensor])


def gather(tensor, gather_list=None, dst: int = 0, group=None, async_op: bool = False):
    """Every rank's ``tensor`` into ``gather_list`` on rank ``dst`` (only there)."""
    g = resolve(group)
    if g == GroupMember.NON_GROUP_MEMBER:
        return None
    _check_tensor(tensor, "gather")
    root = group_rank(g, dst, "gather", "dst")
    if g.rank == root:
        if not gather_list:
            raise ValueError("gather: Argument ``gather_list`` must be specified on destination rank.")
        _check_list(gather_list, tensor, g.size, "gather", "gather_list")
    elif gather_list:
        raise ValueError("gather: Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    to_buffer, from_buffer, empty_buffer = _buffers(g)
    array, _ = to_buffer(tensor)
    out = empty_buffer((g.size, *tensor.shape), tensor.dtype) if g.rank == root else None

    def finish():
        if g.rank == root:
            for i, t in enumerate(gather_list):
                from_buffer(t, out[i])
    return _start(g, "gather", g.gather(out, array, root), finish, async_op, gather_list or [])


def scatter(tensor, scatter_list=None, src: int = 0, group=None, async_op: bool = False):
    """``scatter_list[i]`` of rank ``src`` into ``tensor`` of rank i."""
    g = resolve(group)
    if g == GroupMember.NON_GROUP_MEMBER:
        return None
    _check_tensor(tensor, "scatter")
    root = group_rank(g, src, "scatter", "src")
    to_buffer, from_buffer, empty_buffer = _buffers(g)
    source = None
    if g.rank == root:
        if not scatter_list:
            raise ValueError("scatter: Argument ``scatter_list`` must be specified on source rank.")
        _check_list(scatter_list, tensor, g.size, "scatter", "scatter_list")
        source = empty_buffer((g.size, *tensor.shape), tensor.dtype)
        for i, t in enumerate(scatter_list):
            source[i] = to_buffer(t)[0].reshape(tuple(tensor.shape))
    elif scatter_list:
        raise ValueError("scatter: Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    out, in_place = to_buffer(tensor, read=False)

    def finish():
        _write_back(tensor, out, in_place, from_buffer)
    return _start(g, "scatter", g.scatter(out, source, root), finish, async_op, [tensor])


def _peer(g, peer, opname: str, what: str) -> int:
    r = group_rank(g, peer, opname, what)
    if r == g.rank:
        role = "destination" if what == "dst" else "source"
        raise ValueError(f"{opname}: Invalid {role} rank: {role} rank should not be the same as the "
                         f"rank of the current process.")
    return r


def isend(tensor, dst: int, group=None, tag: int = 0):
    """Send ``tensor`` to rank ``dst``; returns a ``Work`` (None outside the group)."""
    g = resolve(group)
    if g == GroupMember.NON_GROUP_MEMBER:
        return None
    _check_tensor(tensor, "send")
    peer = _peer(g, dst, "send", "dst")
    array, _ = _buffers(g)[0](tensor)
    return _start(g, "send", g.send(array, peer, tag), None, True)


def send(tensor, dst: int, group=None, tag: int = 0) -> None:
    """Send ``tensor`` to rank ``dst`` and wait until it is on its way."""
    work = isend(tensor, dst, group, tag)
    if work is not None:
        work.wait()


def irecv(tensor, src: int | None = None, group=None, tag: int = 0):
    """Receive into ``tensor`` from rank ``src`` (None: any rank); returns a ``Work``."""
    g = resolve(group)
    if g == GroupMember.NON_GROUP_MEMBER:
        return None
    _check_tensor(tensor, "recv")
    peer = None if src is None else _peer(g, src, "recv", "src")
    to_buffer, from_buffer, _ = _buffers(g)
    array, in_place = to_buffer(tensor, read=False)
    test, source = g.recv(array, peer, tag)
    work = _start(g, "recv", test, lambda: _write_back(tensor, array, in_place, from_buffer), True,
                  [tensor])
    work.source_rank = lambda: g.ranks[source()]
    return work


def recv(tensor, src: int | None = None, group=None, tag: int = 0) -> int:
    """Receive into ``tensor`` from ``src`` (None: any rank); returns the sender's rank."""
    work = irecv(tensor, src, group, tag)
    if work is None:
        return -1
    work.wait()
    return work.source_rank()


def barrier(group=None, async_op: bool = False, device_ids=None):
    """Wait until every rank of the group reaches the barrier."""
    g = resolve(group)
    if g == GroupMember.NON_GROUP_MEMBER:
        return None
    return _start(g, "barrier", g.barrier(), None, async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce ``input_list[i]`` across the group into ``output`` of group rank i (the list
    holds one tensor per rank, each of ``output``'s shape and dtype)."""
    g = resolve(group)
    if g == GroupMember.NON_GROUP_MEMBER:
        return None
    _check_tensor(output, "reduce_scatter", "output")
    op = _check_op(op, output, "reduce_scatter")
    _check_list(input_list, output, g.size, "reduce_scatter", "input_list")
    to_buffer, from_buffer, empty_buffer = _buffers(g)
    array = empty_buffer((g.size, *output.shape), output.dtype, reduce=True)
    for i, t in enumerate(input_list):
        array[i] = to_buffer(t, reduce=True)[0].reshape(tuple(output.shape))
    out, in_place = to_buffer(output, reduce=True, read=False)

    def finish():
        _average(out, op, g.size)
        _write_back(output, out, in_place, from_buffer)
    return _start(g, "reduce_scatter", g.reduce_scatter(out, array, op), finish, async_op, [output])


def _splits(splits, t, size: int, opname: str, what: str) -> list:
    """Rows of dim 0 per rank: ``splits`` checked, or an equal split of ``t``'s dim 0."""
    rows = t.shape[0] if t.dim() > 0 else 1
    if splits is None or len(splits) == 0:
        if rows % size:
            raise RuntimeError(f"{opname}: {what} tensor's dim 0 ({rows}, {_describe(t)}) is not "
                               f"divisible by the group size {size}; pass {what}_split_sizes")
        return [rows // size] * size
    splits = [int(s) for s in splits]
    if len(splits) != size or any(s < 0 for s in splits) or sum(splits) != rows:
        raise RuntimeError(f"{opname}: {what}_split_sizes {splits} must hold {size} non-negative "
                           f"sizes adding up to the {what} tensor's dim 0 ({rows}, {_describe(t)})")
    return splits


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None,
                      async_op: bool = False):
    """Split ``input`` along dim 0 (``input_split_sizes`` rows per rank, or equal blocks) and
    send block i to group rank i; ``output`` receives block j from rank j, concatenated in rank
    order (``output_split_sizes`` rows each, or equal blocks)."""
    g = resolve(group)
    if g == GroupMember.NON_GROUP_MEMBER:
        return None
    opname = "all_to_all_single"
    _check_tensor(output, opname, "output")
    _check_tensor(input, opname, "input")
    if output.dtype is not input.dtype:
        raise RuntimeError(f"{opname}: output and input must have the same dtype (output "
                           f"{_describe(output)}, input {_describe(input)})")
    if tuple(output.shape[1:]) != tuple(input.shape[1:]):
        raise RuntimeError(f"{opname}: output and input must have the same size beyond dim 0 "
                           f"(output {_describe(output)}, input {_describe(input)})")
    row = 1
    for n in input.shape[1:]:
        row *= n
    in_counts = [s * row for s in _splits(input_split_sizes, input, g.size, opname, "input")]
    out_counts = [s * row for s in _splits(output_split_sizes, output, g.size, opname, "output")]
    to_buffer, from_buffer, _ = _buffers(g)
    array, _ = to_buffer(input)
    out, in_place = to_buffer(output, read=False)

    def finish():
        _write_back(output, out, in_place, from_buffer)
    return _start(g, opname, g.alltoallv(out.reshape(-1), out_counts, array.reshape(-1), in_counts),
                  finish, async_op, [output])


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op: bool = False):
    """``input_tensor_list[i]`` to group rank i; ``output_tensor_list[j]`` receives rank j's
    ``input_tensor_list[rank]`` (tensors of one dtype; their sizes may differ)."""
    g = resolve(group)
    if g == GroupMember.NON_GROUP_MEMBER:
        return None
    opname = "all_to_all"
    for what, ts in (("output_tensor_list", output_tensor_list), ("input_tensor_list", input_tensor_list)):
        if not isinstance(ts, (list, tuple)) or len(ts) != g.size:
            got = len(ts) if isinstance(ts, (list, tuple)) else type(ts).__name__
            raise RuntimeError(f"{opname}: {what} must hold one tensor per rank of the group: "
                               f"expected length {g.size}, got {got}")
        for i, t in enumerate(ts):
            _check_tensor(t, opname, f"{what}[{i}]")
            if t.dtype is not input_tensor_list[0].dtype:
                raise RuntimeError(f"{opname}: every tensor must have the dtype of input_tensor_list[0] "
                                   f"({input_tensor_list[0].dtype}); {what}[{i}] has {_describe(t)}")
    to_buffer, from_buffer, empty_buffer = _buffers(g)
    in_counts = [t.numel() for t in input_tensor_list]
    out_counts = [t.numel() for t in output_tensor_list]
    array = empty_buffer((sum(in_counts),), input_tensor_list[0].dtype)
    off = 0
    for t, n in zip(input_tensor_list, in_counts):
        array[off:off + n] = to_buffer(t)[0].reshape(-1)
        off += n
    out = empty_buffer((sum(out_counts),), input_tensor_list[0].dtype)

    def finish():
        o = 0
        for t, n in zip(output_tensor_list, out_counts):
            from_buffer(t, out[o:o + n])
            o += n
    return _start(g, opname, g.alltoallv(out, out_counts, array, in_counts), finish, async_op,
                  list(output_tensor_list))
