"""How a DataLoader turns a list of samples into a batch.

``default_collate`` stacks tensors (and NumPy arrays) along a new first dimension, turns
numbers into tensors (float64 when the first is a float, else the dtype inferred from the whole
batch: int64 for ints, bool for bools, the default float dtype where an int is followed by a
float), and recurses into dicts, tuples,
named tuples and lists, keeping their structure (and mapping types); strings stay as the batch
holds them (a list, or a tuple in a transposed column, as PyTorch).

>>> import plugtorch as pt
>>> b = default_collate([{"x": pt.zeros(2), "y": 1}, {"x": pt.ones(2), "y": 0}])
>>> b["x"].shape, b["y"].tolist()
(plugtorch.Size([2, 2]), [1, 0])
"""
from __future__ import annotations

import collections.abc
import copy

import numpy as np

from plugtorch._tensor import Tensor


def default_collate(batch):
    """Collate a list of samples into a batch (see the module docstring)."""
    from plugtorch import _dtypes
    from plugtorch import _ops_public as P
    elem = batch[0]
    if isinstance(elem, Tensor):
        return P.stack(list(batch), 0)
    if isinstance(elem, np.ndarray) and elem.dtype.kind not in "USO":
        return P.stack([P.as_tensor(b) for b in batch], 0)
    if isinstance(elem, np.generic) and elem.dtype.kind not in "USO":
        return P.as_tensor(np.array(batch))
    if isinstance(elem, float):
        return P.tensor(batch, dtype=_dtypes.float64)
    if isinstance(elem, int):      # (bools too) the dtype inferred from the whole batch, as PyTorch:
        return P.tensor(batch)     # [1, 2.5] is float32, not [1, 2]; [True, 2] is int64
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _same_mapping(elem, {k: default_collate([d[k] for d in batch]) for k in elem})
    # the columns stay tuples, as PyTorch's: a column of strings comes out as a tuple of them
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):   # namedtuple
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        n = len(elem)
        if any(len(b) != n for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size "
                               f"(got lengths {sorted({len(b) for b in batch})})")
        columns = [default_collate(s) for s in zip(*batch)]
        return columns if isinstance(elem, tuple) else _same_sequence(elem, columns)
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}; pass a collate_fn that handles it")


def default_convert(data):
    """What a DataLoader does without batching: NumPy arrays become tensors, recursively."""
    from plugtorch import _ops_public as P
    if isinstance(data, (np.ndarray, np.generic)) and data.dtype.kind not in "USO":
        return P.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _same_mapping(data, {k: default_convert(v) for k, v in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):     # (a list, as PyTorch's)
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _same_sequence(data, [default_convert(d) for d in data])
    return data


def _same_mapping(like, items: dict):
    """``items`` in a mapping of ``like``'s type (a copy of it, so a defaultdict keeps its
    factory), or a plain dict when that type can't be built."""
    try:
        if isinstance(like, collections.abc.MutableMapping):
            clone = copy.copy(like)
            clone.update(items)
            return clone
        return type(like)(items)
    except TypeError:
        return items


def _same_sequence(like, items: list):
    """``items`` in a sequence of ``like``'s type, or a list when that type can't be built
    (a ``range``)."""
    try:
        if isinstance(like, collections.abc.MutableSequence):
            clone = copy.copy(like)
            for i, v in enumerate(items):
                clone[i] = v
            return clone
        return type(like)(items)
    except TypeError:
        return items
