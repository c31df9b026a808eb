"""Datasets, samplers and the DataLoader, as ``torch.utils.data``.

>>> import plugtorch as pt
>>> from plugtorch.utils.data import DataLoader, TensorDataset
>>> ds = TensorDataset(pt.arange(6).float().view(3, 2), pt.tensor([0, 1, 0]))
>>> [y.tolist() for x, y in DataLoader(ds, batch_size=2)]
[[0, 1], [0]]
"""
from plugtorch.utils.data.collate import default_collate, default_convert  # noqa: F401
from plugtorch.utils.data.dataloader import DataLoader, get_worker_info  # noqa: F401
from plugtorch.utils.data.dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset,  # noqa: F401
                                          StackDataset, Subset, TensorDataset, random_split)
from plugtorch.utils.data.distributed import DistributedSampler  # noqa: F401
from plugtorch.utils.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,  # noqa: F401
                                          SubsetRandomSampler, WeightedRandomSampler)
