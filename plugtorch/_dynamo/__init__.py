"""``plugtorch._dynamo``: the few names of ``torch._dynamo`` that user code and PyTorch's own
``torch.compile`` tutorials call, each forwarding to ``plugtorch.compiler``.

``reset()`` forgets every compiled graph, ``explain(f)(x)`` reports graphs and breaks, and
``config.cache_size_limit`` reads and sets the number of graphs kept per compiled function.

>>> import plugtorch
>>> plugtorch._dynamo.config.cache_size_limit
8
"""
from __future__ import annotations

from plugtorch import compiler as _compiler
from plugtorch.compiler import (allow_in_graph, assume_constant_result, disable, explain,  # noqa: F401
                                is_compiling, reset)


class _Config:
    """``torch._dynamo.config``: the settings plugtorch's compiler has, read and written through
    to ``plugtorch.compiler``'s module constants."""

    _NAMES = {"cache_size_limit": "CACHE_SIZE_LIMIT", "recompile_limit": "CACHE_SIZE_LIMIT"}

    def __getattr__(self, name):
        target = type(self)._NAMES.get(name)
        if target is None:
            raise AttributeError(f"plugtorch._dynamo.config has no setting {name!r}; plugtorch's compiler "
                                 f"reads only {', '.join(sorted(type(self)._NAMES))}")
        return getattr(_compiler, target)

    def __setattr__(self, name, value):
        target = type(self)._NAMES.get(name)
        if target is None:
            raise AttributeError(f"plugtorch._dynamo.config has no setting {name!r}; plugtorch's compiler "
                                 f"reads only {', '.join(sorted(type(self)._NAMES))}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"plugtorch._dynamo.config.{name} must be a positive int, got {value!r}")
        setattr(_compiler, target, value)


config = _Config()
