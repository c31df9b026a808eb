"""The gradient reducer behind DistributedDataParallel: buckets, readiness, all-reduce.

Parameters are grouped into flat buckets of about ``bucket_cap_mb``, in reverse order of
registration (the order backward produces their gradients). A post-accumulate-grad hook on each
parameter copies its .grad into its bucket; once a bucket is full its all-reduce starts
(``async_op=True``) while backward goes on. Buckets start strictly in order, so every rank
issues the same collectives in the same order. A final callback of the backward pass waits
for them all and copies the averaged gradients back into ``.grad``.

>>> assign_buckets([(4, "f", "cpu")] * 3, cap_bytes=8, first_cap_bytes=4)
[[2], [1, 0]]
"""
from __future__ import annotations

import weakref

from plugtorch.autograd.engine import queue_callback
from plugtorch.autograd.grad_mode import no_grad

_MB = 1024 * 1024
FIRST_BUCKET_BYTES = _MB     # as PyTorch: the first gradients ready get a small bucket of their own


def assign_buckets(sizes, cap_bytes: int, first_cap_bytes: int) -> list[list[int]]:
    """Bucket the parameters ``sizes[i] = (nbytes, dtype, device)``: indices in reverse order of
    registration, one open bucket per (dtype, device), closed once it holds ``cap_bytes`` or more
    (``first_cap_bytes`` for its first bucket). Buckets are listed in the order they close."""
    out, open_, closed = [], {}, {}
    for i in reversed(range(len(sizes))):
        nbytes, dtype, device = sizes[i]
        key = (dtype, device)
        idx, size = open_.get(key, ([], 0))
        idx.append(i)
        size += nbytes
        if size >= (first_cap_bytes if not closed.get(key) else cap_bytes):
            out.append(idx)
            closed[key] = True
            open_.pop(key, None)
        else:
            open_[key] = (idx, size)
    out.extend(idx for idx, _ in open_.values())
    return out


class _Bucket:
    __slots__ = ("indices", "flat", "pending", "work")

    def __init__(self, indices, flat):
        self.indices, self.flat, self.pending, self.work = indices, flat, 0, None


class Reducer:
    """Averages the gradients of ``params`` over ``group`` once per synchronised backward.

    ``prepare_for_backward(unused)`` (DDP's forward) arms it; ``unused`` lists the parameters
    that will get no gradient (found from the graph), marked ready with zeros at the first hook.
    """

    def __init__(self, params, names, dist, group, *, cap_bytes, first_cap_bytes, find_unused_parameters,
                 gradient_as_bucket_view, static_graph):
        import plugtorch as pt
        self.params, self.names, self.dist, self.group = params, names, dist, group
        self.world_size = dist.get_world_size(group)
        self.rank = dist.get_rank(group)
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.static_unused = None          # static_graph: the unused parameters, found in iteration 1
        sizes = [(p.numel() * p.element_size(), p.dtype, p.device) for p in params]
        self.buckets, self.bucket_of, self.views = [], [None] * len(params), [None] * len(params)
        for indices in assign_buckets(sizes, cap_bytes, first_cap_bytes):
            p0 = params[indices[0]]
            flat = pt.zeros(sum(params[i].numel() for i in indices), dtype=p0.dtype, device=p0.device)
            b = _Bucket(indices, flat)
            off = 0
            for i in indices:
                n = params[i].numel()
                self.views[i] = flat[off:off + n].view(params[i].shape)
                self.bucket_of[i] = b
                off += n
            self.buckets.append(b)
        self.expect_hooks = False          # armed by a synchronised forward, disarmed by finalize
        self.require_finalize = False      # a synchronised forward whose reduction is not done yet
        self.ready = [False] * len(params)
        ref = weakref.ref(self)
        self._handles = [p.register_post_accumulate_grad_hook(_hook(ref, i)) for i, p in enumerate(params)]

    # ---- one iteration ----------------------------------------------------------------------
    def prepare_for_backward(self, unused):
        self.expect_hooks = self.require_finalize = True
        self.ready = [False] * len(self.params)
        for b in self.buckets:
            b.pending, b.work = len(b.indices), None
        self.next_bucket = 0
        self.first_hook = True
        self.unused = unused if not self.static_graph else self.static_unused
        self.used_work = self.used = None

    def grad_ready(self, i):
        if not self.expect_hooks:
            return          # a backward that no synchronised forward armed (after no_sync, or a second one)
        if self.first_hook:
            self.first_hook = False
            if self.static_graph and self.static_unused is None:
                queue_callback(self._reduce_first_static_iteration)
            elif self.unused is not None:
                self._start_used_map(self.unused)
                for j in self.unused:
                    self._mark_ready(j)
        self._mark_ready(i)

    def _mark_ready(self, i):
        if self.ready[i]:
            raise RuntimeError(
                f"Expected to mark a variable ready only once. This error is caused by one of the following "
                f"reasons: 1) Use of a module parameter outside the `forward` function, or 2) reused "
                f"parameters in multiple reentrant backward passes. Parameter {i} ({self.names[i]}) was "
                "marked ready twice in this iteration.")
        self.ready[i] = True
        p, view = self.params[i], self.views[i]
        with no_grad():
            if p.grad is None:
                view.zero_()        # no gradient here: contributes zeros to the average
            else:
                view.copy_(p.grad)
        b = self.bucket_of[i]
        b.pending -= 1
        if b.pending == 0 and not (self.static_graph and self.static_unused is None):
            self._launch_ready_buckets()
        else:
            self._poll()

    def _launch_ready_buckets(self):
        buckets, first = self.buckets, self.next_bucket
        while self.next_bucket < len(buckets) and buckets[self.next_bucket].pending == 0:
            b = buckets[self.next_bucket]
            with no_grad():
                b.flat.div_(self.world_size)
            b.work = self.dist.all_reduce(b.flat, group=self.group, async_op=True)
            self.next_bucket += 1
        if self.next_bucket == len(buckets) > first:
            queue_callback(self._finalize)     # when this backward is done, wait and copy back

    def _poll(self):
        # testing the oldest request in flight lets MPI progress it while backward computes
        for b in self.buckets[:self.next_bucket]:
            if b.work is not None:
                if not b.work.is_completed():
                    return

    def _start_used_map(self, unused):
        import plugtorch as pt
        used = [1] * len(self.params)
        for j in unused:
            used[j] = 0
        self.used = pt.tensor(used, dtype=pt.int32)
        self.used_work = self.dist.all_reduce(self.used, group=self.group, async_op=True)

    def _reduce_first_static_iteration(self):
        # static_graph: the first iteration reduces only at the end, having seen which parameters are used
        self.static_unused = [j for j, r in enumerate(self.ready) if not r]
        self._start_used_map(self.static_unused)
        for j in self.static_unused:
            self._mark_ready(j)
        self._launch_ready_buckets()

    def _finalize(self):
        self.expect_hooks = False
        globally_unused = set()
        if self.used_work is not None:
            self.used_work.wait()
            globally_unused = {j for j, u in enumerate(self.used.tolist()) if u == 0}
        with no_grad():
            for b in self.buckets:
                b.work.wait()
                b.work = None
                for i in b.indices:
                    if i in globally_unused:
                        continue        # left untouched, as PyTorch: no rank produced a gradient
                    p, view = self.params[i], self.views[i]
                    if self.gradient_as_bucket_view:
                        p.grad = view
                    elif p.grad is None:
                        p.grad = view.clone()
                    else:
                        p.grad.copy_(view)
        self.require_finalize = False

    def ensure_prior_reduction_finished(self):
        """Raise PyTorch's error if the last synchronised iteration left gradients unreduced."""
        if not self.require_finalize:
            return
        for b in self.buckets:      # let the started all-reduces finish: no request is left behind
            if b.work is not None:
                b.work.wait()
                b.work = None
        if self.used_work is not None:
            self.used_work.wait()
            self.used_work = None
        missing = [i for i, r in enumerate(self.ready) if not r]
        raise RuntimeError(
            "Expected to have finished reduction in the prior iteration before starting a new one. This error "
            "indicates that your module has parameters that were not used in producing loss. You can enable "
            "unused parameter detection by passing the keyword argument `find_unused_parameters=True` to "
            "`plugtorch.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs "
            "participate in calculating loss (or call backward after every synchronised forward).\n"
            f"Parameter indices which did not receive grad for rank {self.rank}: {' '.join(map(str, missing))}\n"
            f"Parameters which did not receive grad for rank {self.rank}: "
            f"{', '.join(self.names[i] for i in missing)}")


def _hook(ref, i):
    def hook(t):
        reducer = ref()
        if reducer is not None:
            reducer.grad_ready(i)
    return hook
