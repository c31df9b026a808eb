"""Re-lay conv weights in a memory format (``channels_last``), in place, through a whole model.

>>> import plugtorch as pt
>>> m = pt.nn.Sequential(pt.nn.Conv2d(2, 3, 2))
>>> m = pt.nn.utils.convert_conv2d_weight_memory_format(m, pt.channels_last)
>>> m[0].weight.is_contiguous(memory_format=pt.channels_last)
True
"""
from __future__ import annotations

import plugtorch as pt


def _convert(module, memory_format, conv_types):
    if isinstance(module, conv_types):
        # Only the layout changes: the values, the Parameter object and its requires_grad stay.
        module.weight.data = module.weight.detach().contiguous(memory_format=memory_format)
    for child in module.children():
        _convert(child, memory_format, conv_types)
    return module


def convert_conv2d_weight_memory_format(module, memory_format):
    """Give every ``Conv2d``/``ConvTranspose2d`` weight in ``module`` (recursively) ``memory_format``;
    returns ``module``."""
    return _convert(module, memory_format, (pt.nn.Conv2d, pt.nn.ConvTranspose2d))


def convert_conv3d_weight_memory_format(module, memory_format):
    """Give every ``Conv3d``/``ConvTranspose3d`` weight in ``module`` (recursively) ``memory_format``;
    returns ``module``."""
    return _convert(module, memory_format, (pt.nn.Conv3d, pt.nn.ConvTranspose3d))
