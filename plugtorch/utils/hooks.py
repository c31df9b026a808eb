"""``plugtorch.utils.hooks``: ``RemovableHandle``, what ``register_*_hook`` returns, under the name
model code imports it by (``torch.utils.hooks.RemovableHandle``).

>>> import plugtorch as pt
>>> lin = pt.nn.Linear(2, 2)
>>> h = lin.register_forward_hook(lambda m, i, o: None)
>>> isinstance(h, RemovableHandle)
True
"""
from plugtorch.nn.modules.module import RemovableHandle  # noqa: F401

__all__ = ["RemovableHandle"]
