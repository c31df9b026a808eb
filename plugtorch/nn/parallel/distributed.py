"""DistributedDataParallel: one replica of a module per process, gradients averaged in backward.

Construction broadcasts rank 0's parameters and buffers to every rank; each synchronised
forward broadcasts the buffers again (BatchNorm statistics) and arms the gradient reducer
(reducer.py), whose all-reduces overlap the rest of backward. ``state_dict()`` is the wrapped
module's under the prefix ``module.``, as PyTorch.

Run under ``mpiexec -n 2 python train.py``::

    import plugtorch.distributed as dist
    dist.init_process_group("mpi")
    model = DistributedDataParallel(net)
    loss_fn(model(x), y).backward()      # .grad: the average over ranks
"""
from __future__ import annotations

import zlib
from contextlib import contextmanager

from plugtorch.autograd.grad_mode import is_grad_enabled, no_grad
from plugtorch.nn.modules.module import Module
from plugtorch.nn.parallel.reducer import _MB, FIRST_BUCKET_BYTES, Reducer


class DistributedDataParallel(Module):
    """Data parallelism over a process group: wrap the model, train as usual on each rank's
    share of the data (``DistributedSampler``); after ``backward()`` every rank holds the
    gradient averaged over the ranks, so identical optimizer steps keep the replicas identical.

    ``bucket_cap_mb`` (default 25, with a 1 MiB first bucket, as PyTorch) sizes the flat
    gradient buckets; ``find_unused_parameters=True`` lets some parameters get no gradient in
    an iteration (found by walking the graph from the outputs); ``static_graph=True`` finds
    them once, in the first iteration; ``no_sync()`` accumulates gradients locally.

    >>> model = DistributedDataParallel(nn.Linear(4, 2))       # doctest: +SKIP
    >>> model(x).sum().backward()                              # doctest: +SKIP
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 init_sync=True, process_group=None, bucket_cap_mb=None, find_unused_parameters=False,
                 check_reduction=False, gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any "
                               "parameter that requires a gradient.")
        from plugtorch import distributed as dist
        devices = {p.device for _, p in named}
        self.device_ids = self.output_device = None
        if device_ids is not None or output_device is not None:
            self.device_ids, self.output_device = _check_device_ids(device_ids, output_device, devices)
        self.module = module
        self.device = named[0][1].device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.process_group = process_group
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * _MB)
        self._dist = dist
        self._group = process_group
        self._src = 0 if process_group is None else dist.get_process_group_ranks(process_group)[0]
        params = [p for _, p in named]
        if init_sync:
            _verify_same_model(dist, process_group, named)
            # every parameter, frozen ones too (as PyTorch's _sync_module_states): a frozen
            # layer initialized differently on each rank must not stay different
            self._broadcast(list(module.parameters()) + (self.modules_buffers if broadcast_buffers else []))
        self.reducer = Reducer(
            params, [n for n, _ in named], dist, process_group, cap_bytes=self.bucket_bytes_cap,
            first_cap_bytes=FIRST_BUCKET_BYTES if bucket_cap_mb is None else self.bucket_bytes_cap,
            find_unused_parameters=find_unused_parameters, gradient_as_bucket_view=gradient_as_bucket_view,
            static_graph=static_graph)

    def forward(self, *inputs, **kwargs):
        grad_sync = is_grad_enabled() and self.require_backward_grad_sync
        if is_grad_enabled():
            self.reducer.ensure_prior_reduction_finished()
        if self.require_forward_param_sync and self.broadcast_buffers:
            buffers = self.modules_buffers
            if buffers:
                self._broadcast(buffers)
        if self.device_ids:
            inputs, kwargs = _to_device((inputs, kwargs), self.device_ids[0])
        output = self.module(*inputs, **kwargs)
        if grad_sync:
            self.require_forward_param_sync = True
            unused = self._unused_parameters(output) if self.find_unused_parameters else None
            self.reducer.prepare_for_backward(unused)
        else:
            self.require_forward_param_sync = False
        return output

    @contextmanager
    def no_sync(self):
        """Accumulate gradients locally: backward passes of forwards run inside the context
        communicate nothing; the first synchronised backward after it averages the sums (below:
        of the gradients of x1 and x2).

        >>> with ddp.no_sync():                   # doctest: +SKIP
        ...     ddp(x1).sum().backward()          # gradients of x1, kept on this rank
        >>> ddp(x2).sum().backward()              # doctest: +SKIP
        """
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    @property
    def modules_buffers(self):
        # read each time: a module may assign new buffer tensors
        return list(self.module.buffers())

    # ---- helpers ------------------------------------------------------------------------------
    def _broadcast(self, tensors):
        """Overwrite ``tensors`` with the source rank's, one broadcast per (dtype, device)."""
        import plugtorch as pt
        groups = {}
        for t in tensors:
            groups.setdefault((t.dtype, t.device), []).append(t)
        with no_grad():
            for ts in groups.values():
                if len(ts) == 1 and ts[0].is_contiguous():
                    self._dist.broadcast(ts[0], self._src, group=self._group)
                    continue
                flat = pt.cat([t.reshape(-1) for t in ts])
                self._dist.broadcast(flat, self._src, group=self._group)
                off = 0
                for t in ts:
                    n = t.numel()
                    t.copy_(flat[off:off + n].view(t.shape))
                    off += n

    def _unused_parameters(self, output):
        """Indices of the parameters the graph of ``output`` does not reach."""
        from plugtorch._tensor import Tensor
        seen, stack, reached = set(), [], set()
        for t in _tensors_in(output):
            if isinstance(t, Tensor) and t.requires_grad:
                if t.grad_fn is not None:
                    stack.append(t.grad_fn)
                else:
                    reached.add(id(t))
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            var = getattr(node, "variable", None)
            if var is not None:
                reached.add(id(var))
            for e in node.next_functions:
                if e[0] is not None and e[0] not in seen:
                    stack.append(e[0])
        return [i for i, p in enumerate(self.reducer.params) if id(p) not in reached]


def _tensors_in(obj):
    from plugtorch._tensor import Tensor
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors_in(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors_in(o)


def _to_device(obj, device):
    from plugtorch._tensor import Tensor
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_to_device(o, device) for o in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(o, device) for o in obj)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    return obj


def _check_device_ids(device_ids, output_device, devices):
    """PyTorch's rule: device_ids and output_device only for a module on one non-cpu device."""
    import plugtorch as pt
    (only,) = devices if len(devices) == 1 else (None,)
    if only is None or only.type == "cpu" or device_ids is None or len(device_ids) != 1:
        shown = "{" + ", ".join(sorted(repr(d) for d in devices)) + "}"
        raise ValueError(
            "DistributedDataParallel device_ids and output_device arguments only work with single-device/"
            f"multiple-device GPU modules or CPU modules, but got device_ids {device_ids}, output_device "
            f"{output_device}, and module parameters {shown}.")

    def as_device(d):
        return pt.device(only.type, d) if isinstance(d, int) else pt.device(d)
    ids = [as_device(d) for d in device_ids]
    out = as_device(output_device) if output_device is not None else ids[0]
    if ids[0] != only:
        raise ValueError(f"DistributedDataParallel: device_ids {device_ids} name {ids[0]}, but the module's "
                         f"parameters are on {only}; move the module there first (module.to({str(ids[0])!r}))")
    return ids, out


def _verify_same_model(dist, group, named):
    """Every rank must wrap the same parameters: compare counts, sizes and a digest of the shapes
    (one all-reduce of MAX over (x, -x), so every rank learns of a mismatch and raises)."""
    import plugtorch as pt
    shapes = repr([(tuple(p.shape), str(p.dtype)) for _, p in named]).encode()
    mine = [len(named), sum(p.numel() for _, p in named), zlib.crc32(shapes)]
    t = pt.tensor(mine + [-v for v in mine], dtype=pt.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=group)
    hi, lo = t.tolist()[:3], [-v for v in t.tolist()[3:]]
    if hi != lo:
        rank = dist.get_rank(group)
        raise RuntimeError(
            f"DDP expects same model across all ranks, but rank {rank} has {mine[0]} parameters of "
            f"{mine[1]} elements in all, while across ranks the counts range over {lo[0]}..{hi[0]} and the "
            f"element totals over {lo[1]}..{hi[1]} (or their shapes or dtypes differ): build the same "
            "model on every rank before wrapping it")
