"""``DataLoader``: batches from a dataset, in the order a sampler gives, collated.

>>> import plugtorch as pt
>>> from plugtorch.utils.data import TensorDataset
>>> g = pt.Generator().manual_seed(0)
>>> loader = DataLoader(TensorDataset(pt.arange(10)), batch_size=4, shuffle=True, generator=g)
>>> [len(b[0]) for b in loader]
[4, 4, 2]
"""
from __future__ import annotations

from plugtorch.utils.data.collate import default_collate, default_convert
from plugtorch.utils.data.dataset import IterableDataset, TensorDataset
from plugtorch.utils.data.sampler import BatchSampler, RandomSampler, SequentialSampler


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` (``None``: one sample at a time).

    Loading runs in the main process: ``num_workers`` is accepted for compatibility only.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, generator=None, *, prefetch_factor=None, persistent_workers=False):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
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
        if self._iterable:
            return self._iter_stream()
        if not self._auto_batch:
            return (self.collate_fn(self.dataset[i]) for i in self.sampler)
        if self.collate_fn is default_collate and isinstance(self.dataset, TensorDataset):
            return self._iter_tensor_dataset()
        return (self.collate_fn(self._fetch(b)) for b in self.batch_sampler)

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
        order = [i for b in batches for i in b]
        tensors = self.dataset.tensors
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


def get_worker_info():
    """The current DataLoader worker's information, or None in the main process. plugtorch's
    DataLoader loads in the main process (``num_workers`` is accepted for compatibility), so
    this is always None, as ``torch.utils.data.get_worker_info()`` outside a worker."""
    return None

