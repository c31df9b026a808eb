"""``DataLoader``: batches from a dataset, in the order a sampler gives, collated.

>>> import plugtorch as pt
>>> from plugtorch.utils.data import TensorDataset
>>> g = pt.Generator().manual_seed(0)
>>> loader = DataLoader(TensorDataset(pt.arange(10)), batch_size=4, shuffle=True, generator=g)
>>> [len(b[0]) for b in loader]
[4, 4, 2]
"""
from __future__ import annotations

from plugtorch.utils.data._worker import WorkerInfo, get_worker_info  # noqa: F401
from plugtorch.utils.data.collate import default_collate, default_convert
from plugtorch.utils.data.dataset import IterableDataset, TensorDataset
from plugtorch.utils.data.sampler import BatchSampler, RandomSampler, SequentialSampler


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` (``None``: one sample at a time).

    ``num_workers=0`` loads in the main process. ``num_workers=N`` starts N worker processes
    (``multiprocessing``; ``'fork'`` by default on Linux, ``multiprocessing_context='spawn'``
    when the dataset and ``collate_fn`` pickle): each has its own index queue, all share one
    result queue, up to ``prefetch_factor * N`` batches are in flight, and batches come out in
    sampler order (``in_order=False``: as they arrive). Each worker seeds plugtorch and Python's
    ``random`` with ``base_seed + worker_id`` (``base_seed`` drawn from ``generator``, or the
    global RNG, when the iterator starts; NumPy as PyTorch seeds it), then calls
    ``worker_init_fn(worker_id)``; ``get_worker_info()`` describes the worker inside it. An
    ``IterableDataset`` is iterated by every worker in full: shard it with
    ``get_worker_info()``. Batches cross processes as NumPy data, so datasets build cpu tensors
    (move batches to a device in the main loop). A worker's exception is re-raised in the main
    process with its type, worker id and traceback text. ``timeout`` (seconds, 0 = wait forever)
    bounds each wait for a batch; ``persistent_workers`` keeps the processes between epochs;
    ``pin_memory`` is accepted and does nothing (cpu memory needs no pinning here).
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *, prefetch_factor=None,
                 persistent_workers=False, pin_memory_device="", in_order=True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers > 0 "
                             "to enable multiprocessing, otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.timeout, self.worker_init_fn = timeout, worker_init_fn
        self.prefetch_factor, self.persistent_workers = prefetch_factor, persistent_workers
        self.pin_memory_device, self.in_order = pin_memory_device, in_order
        self.multiprocessing_context = _mp_context(multiprocessing_context, num_workers)
        self._iterator = None
        self.dataset = dataset
        self.num_workers = num_workers
        self.generator = generator
        self.pin_memory = pin_memory
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                                 f"but got batch_sampler={batch_sampler}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size, self.drop_last = batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        auto_batch = batch_sampler is not None or (self._iterable and batch_size is not None)
        self.collate_fn = collate_fn or (default_collate if auto_batch else default_convert)
        self._auto_batch = auto_batch

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler) if self._auto_batch else len(self.sampler)

    def __iter__(self):
        if self.num_workers > 0:
            from plugtorch.utils.data._multiprocess import MultiProcessIter
            if not self.persistent_workers:
                return MultiProcessIter(self)
            if self._iterator is None:
                self._iterator = MultiProcessIter(self)
            else:
                self._iterator.reset()
            return self._iterator
        # a worker seed is drawn each epoch, as PyTorch's iterators do with or without workers,
        # so num_workers=0 and N see the same generator stream (and the same shuffles)
        _base_seed(self.generator)
        if self._iterable:
            return _SingleProcessIter(self, self._iter_stream())
        if not self._auto_batch:
            return _SingleProcessIter(self, (self.collate_fn(self.dataset[i]) for i in self.sampler))
        if self.collate_fn is default_collate and isinstance(self.dataset, TensorDataset):
            return _SingleProcessIter(self, self._iter_tensor_dataset())
        return _SingleProcessIter(self, (self.collate_fn(self._fetch(b)) for b in self.batch_sampler))

    def _fetch(self, indices):
        getitems = getattr(self.dataset, "__getitems__", None)
        if getitems is not None:
            return getitems(indices)
        return [self.dataset[i] for i in indices]

    def _iter_stream(self):
        if self.batch_size is None:
            for sample in self.dataset:
                yield self.collate_fn(sample)
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def _iter_tensor_dataset(self, rows_per_gather=8192):
        # Stacking rows one by one gives the same batches as gathering each tensor once for many
        # batches and slicing; the latter costs one op per tensor per chunk of batches, not per
        # row. Chunks keep memory bounded and let samplers be endless.
        batches = []
        rows = 0
        for b in self.batch_sampler:
            b = list(b)
            batches.append(b)
            rows += len(b)
            if rows >= rows_per_gather:
                yield from self._gather_and_slice(batches)
                batches = []
                rows = 0
        if batches:
            yield from self._gather_and_slice(batches)

    def _gather_and_slice(self, batches):
        from plugtorch import _ops_public as P
        from plugtorch._dtypes import int64
        tensors = self.dataset.tensors
        n = len(self.dataset)   # a negative index counts from the end, as t[i] does
        order = [i + n if -n <= i < 0 else i for b in batches for i in b]
        index = {}   # one index tensor per device
        for t in tensors:
            if t.device not in index:
                index[t.device] = P.tensor(order, dtype=int64, device=t.device)
        gathered = [t.index_select(0, index[t.device]) for t in tensors]
        slice_ = P.ops.slice
        start = 0
        for b in batches:
            yield [slice_(g, 0, start, start + len(b)) for g in gathered]
            start += len(b)


class _SingleProcessIter:
    """The batches of one epoch in the main process; ``len()`` is the loader's, as PyTorch's
    iterators (progress bars take ``len(iter(loader))``)."""

    def __init__(self, loader, batches):
        self._loader, self._batches = loader, batches

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._batches)

    def __len__(self):
        return len(self._loader)


def _base_seed(generator):
    from plugtorch import _ops_public as P
    from plugtorch._dtypes import int64
    return int(P.empty((), dtype=int64).random_(generator=generator).item())


def _mp_context(ctx, num_workers):
    import multiprocessing
    import multiprocessing.context
    if ctx is None:
        return None
    if num_workers <= 0:
        raise ValueError("multiprocessing_context can only be used with multi-process loading (num_workers > 0), "
                         f"but got num_workers={num_workers}")
    if isinstance(ctx, str):
        methods = multiprocessing.get_all_start_methods()
        if ctx not in methods:
            raise ValueError(f"multiprocessing_context option should specify a valid start method in {methods!r}, "
                             f"but got multiprocessing_context={ctx!r}")
        ctx = multiprocessing.get_context(ctx)
    if not isinstance(ctx, multiprocessing.context.BaseContext):
        raise TypeError("multiprocessing_context option should be a valid context object or a string specifying "
                        f"the start method, but got multiprocessing_context={ctx}")
    return ctx
