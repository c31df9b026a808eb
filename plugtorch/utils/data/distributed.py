"""DistributedSampler: each rank's share of a map-style dataset, as ``torch.utils.data``.

Every rank draws the same permutation (seeded with ``seed + epoch``), pads it by repeating its
head (or, with ``drop_last``, cuts its tail) to a multiple of ``num_replicas``, and takes every
``num_replicas``-th index starting at its rank: PyTorch's rule, index for index (the
permutation itself comes from plugtorch's generator, so it differs from PyTorch's).

>>> s = DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False)
>>> list(s), len(s)
([1, 3, 0], 3)
"""
from __future__ import annotations

import math

from plugtorch.utils.data.sampler import Sampler


def _from_default_group(what: str) -> int:
    try:
        from plugtorch import distributed as dist
    except ImportError:
        dist = None
    if dist is None or not dist.is_available():
        raise RuntimeError("Requires distributed package to be available")
    return dist.get_world_size() if what == "world_size" else dist.get_rank()


class DistributedSampler(Sampler):
    """The indices of ``dataset`` that rank ``rank`` of ``num_replicas`` visits this epoch.

    ``num_replicas`` and ``rank`` default to the default process group's world size and rank.
    Call ``set_epoch(epoch)`` before each epoch so the shuffle changes (identically on every
    rank). Without ``drop_last`` every rank gets ``ceil(len / num_replicas)`` indices, the first
    ones repeated at the end; with it, ``floor(len / num_replicas)``.

    >>> [list(DistributedSampler(range(4), 2, r, shuffle=False)) for r in (0, 1)]
    [[0, 2], [1, 3]]
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None:
            num_replicas = _from_default_group("world_size")
        if rank is None:
            rank = _from_default_group("rank")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)   # = n // num_replicas
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            from plugtorch import _ops_public as P
            from plugtorch.random import Generator
            g = Generator().manual_seed(self.seed + self.epoch)
            indices = P.randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(indices)
            if pad <= len(indices):
                indices += indices[:pad]
            else:   # fewer samples than replicas: repeat the whole list
                indices += (indices * math.ceil(pad / len(indices)))[:pad]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch: with ``shuffle``, each epoch gets its own (rank-independent) order."""
        self.epoch = epoch
