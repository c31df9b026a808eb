"""Small helpers PyTorch code imports from ``nn.modules.utils``: loading a (Distributed)DataParallel
checkpoint into a plain model, and the int-or-tuple argument parsers.

>>> from collections import OrderedDict
>>> import plugtorch as pt
>>> from plugtorch.nn.modules.utils import consume_prefix_in_state_dict_if_present
>>> sd = OrderedDict([("module.weight", pt.ones(1, 1)), ("module.bias", pt.zeros(1))])
>>> consume_prefix_in_state_dict_if_present(sd, "module.")
>>> list(sd)
['weight', 'bias']
"""
from __future__ import annotations

from collections.abc import Iterable
from itertools import repeat


def _ntuple(n, name="parse"):
    def parse(x):
        if isinstance(x, Iterable):
            return tuple(x)
        return tuple(repeat(x, n))
    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def consume_prefix_in_state_dict_if_present(state_dict, prefix: str) -> None:
    """Strip ``prefix`` (say ``"module."`` from a DataParallel/DDP model) from the keys of ``state_dict``
    and of its ``_metadata``, in place."""
    for key in list(state_dict.keys()):
        if key.startswith(prefix):
            state_dict[key[len(prefix):]] = state_dict.pop(key)
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is not None:
        for key in list(metadata.keys()):
            # "" is the wrapper itself; "module" (the prefix without its dot) is the wrapped model
            if key and (key == prefix.replace(".", "") or key.startswith(prefix)):
                metadata[key[len(prefix):]] = metadata.pop(key)
