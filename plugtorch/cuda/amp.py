"""``plugtorch.cuda.amp``: PyTorch's deprecated CUDA spellings of ``plugtorch.amp``.

Each warns FutureWarning, as PyTorch does, and is the ``plugtorch.amp`` one with
``device_type="cuda"``: ``autocast(...)`` is ``plugtorch.amp.autocast("cuda", ...)``,
``GradScaler(...)`` is ``plugtorch.amp.GradScaler("cuda", ...)``.
"""
from __future__ import annotations

import functools
import importlib.util
import warnings

from plugtorch import _dtypes
from plugtorch import amp as _amp

__all__ = ["amp_definitely_not_available", "autocast", "custom_bwd", "custom_fwd", "GradScaler"]


def amp_definitely_not_available() -> bool:
    from plugtorch import cuda_api
    return not (cuda_api.is_available() or importlib.util.find_spec("torch_xla"))


class autocast(_amp.autocast):
    """``plugtorch.amp.autocast("cuda", ...)``; deprecated (FutureWarning)."""

    def __init__(self, enabled: bool = True, dtype=_dtypes.float16, cache_enabled: bool = True):
        warnings.warn("`plugtorch.cuda.amp.autocast(args...)` is deprecated. Please use "
                      "`plugtorch.amp.autocast('cuda', args...)` instead.", FutureWarning, stacklevel=2)
        super().__init__("cuda", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


class GradScaler(_amp.GradScaler):
    """``plugtorch.amp.GradScaler("cuda", ...)``; deprecated (FutureWarning)."""

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:
        warnings.warn("`plugtorch.cuda.amp.GradScaler(args...)` is deprecated. Please use "
                      "`plugtorch.amp.GradScaler('cuda', args...)` instead.", FutureWarning, stacklevel=2)
        super().__init__("cuda", init_scale=init_scale, growth_factor=growth_factor, backoff_factor=backoff_factor,
                         growth_interval=growth_interval, enabled=enabled)


def custom_fwd(fwd=None, *, cast_inputs=None):
    """``plugtorch.amp.custom_fwd(fwd, device_type="cuda", cast_inputs=...)``; deprecated."""
    warnings.warn("`plugtorch.cuda.amp.custom_fwd(args...)` is deprecated. Please use "
                  "`plugtorch.amp.custom_fwd(args..., device_type='cuda')` instead.", FutureWarning, stacklevel=2)
    return functools.partial(_amp.custom_fwd, device_type="cuda")(fwd=fwd, cast_inputs=cast_inputs)


def custom_bwd(bwd):
    """``plugtorch.amp.custom_bwd(bwd, device_type="cuda")``; deprecated."""
    warnings.warn("`plugtorch.cuda.amp.custom_bwd(args...)` is deprecated. Please use "
                  "`plugtorch.amp.custom_bwd(args..., device_type='cuda')` instead.", FutureWarning, stacklevel=2)
    return _amp.custom_bwd(bwd, device_type="cuda")
