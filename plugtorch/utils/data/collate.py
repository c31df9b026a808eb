"""How a DataLoader turns a list of samples into a batch.

``default_collate`` stacks tensors (and NumPy arrays) along a new first dimension, turns
numbers into tensors (float64 when the first is a float, else the dtype inferred from the whole
batch: int64 for ints, bool for bools, the default float dtype where an int is followed by a
float), and recurses into dicts, tuples,
named tuples and lists, keeping their structure; strings stay lists of strings.

>>> import plugtorch as pt
>>> b = default_collate([{"x": pt.zeros(2), "y": 1}, {"x": pt.ones(2), "y": 0}])
>>> b["x"].shape, b["y"].tolist()
(plugtorch.Size([2, 2]), [1, 0])
"""
from __future__ import annotations

import collections.abc

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
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        out = {k: default_collate([d[k] for d in batch]) for k in elem}
        try:
            return out if type(elem) is dict else type(elem)(out)
        except TypeError:   # a mapping type that can't be built from a dict
            return out
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):   # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        n = len(elem)
        if any(len(b) != n for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size "
                               f"(got lengths {sorted({len(b) for b in batch})})")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}; pass a collate_fn that handles it")


def default_convert(data):
    """What a DataLoader does without batching: NumPy arrays become tensors, recursively."""
    from plugtorch import _ops_public as P
    if isinstance(data, np.ndarray) and data.dtype.kind not in "USO":
        return P.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):     # (a list, as PyTorch's)
        return [default_convert(d) for d in data]
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    return data
