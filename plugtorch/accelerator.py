"""``plugtorch.accelerator``: the device-agnostic names of ``torch.accelerator``.

The accelerator is ``cuda`` when CuPy sees a GPU, as PyTorch's (and as ``nn.DataParallel``
chooses); otherwise there is none and the queries answer ``None``/``False``/``0``, so a script
written for any device falls back to the cpu. OpenCL is not an accelerator here: its PoCL driver
is always present and is a CPU, so picking it by default would only make scripts slower; name
``"opencl"`` explicitly to use it.

>>> import plugtorch as pt
>>> device = pt.accelerator.current_accelerator() if pt.accelerator.is_available() else pt.device("cpu")
>>> pt.ones(2, device=device).device.type in ("cpu", "cuda")
True
"""
from __future__ import annotations

import contextlib

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index",
           "current_device_idx", "set_device_index", "set_device_idx", "synchronize", "device_index",
           "current_stream", "set_stream", "empty_cache", "memory_allocated", "max_memory_allocated",
           "memory_reserved", "reset_peak_memory_stats"]


def _cuda():
    import plugtorch
    return plugtorch.cuda


def is_available() -> bool:
    """Whether an accelerator (a cuda device) can be used. Never raises."""
    return _cuda().is_available()


def current_accelerator(check_available: bool = False):
    """The accelerator's device type as a ``plugtorch.device`` (``device('cuda')``), or None."""
    if not is_available():
        return None
    from plugtorch._device import device
    return device("cuda")


def device_count() -> int:
    """How many accelerator devices there are (0 without one)."""
    return _cuda().device_count() if is_available() else 0


def _require(what: str):
    if not is_available():
        raise RuntimeError(f"accelerator.{what}: Cannot access accelerator device when none is available.")
    return _cuda()


def _index(device) -> int:
    from plugtorch._device import device as _device
    if device is None or isinstance(device, int):
        return _cuda().current_device() if device is None else device
    d = _device(device)
    if d.type != "cuda":
        raise ValueError(f"accelerator: {d} is not the current accelerator's device type (cuda)")
    return _cuda().current_device() if d.index is None else d.index


def current_device_index() -> int:
    """The index of the current accelerator device."""
    return _require("current_device_index()").current_device()


def set_device_index(device) -> None:
    """Make ``device`` (an index, "cuda:1" or a device) the current accelerator device."""
    _require("set_device_index()").set_device(_index(device))


current_device_idx = current_device_index
set_device_idx = set_device_index


def synchronize(device=None) -> None:
    """Wait for the work queued on ``device`` (default: the current one) to finish."""
    _require("synchronize()").synchronize(_index(device))


@contextlib.contextmanager
def device_index(device):
    """Within the block, ``device`` (an index; None does nothing) is the current accelerator device."""
    if device is None:
        yield
        return
    cuda = _require("device_index()")
    prev = cuda.current_device()
    cuda.set_device(_index(device))
    try:
        yield
    finally:
        cuda.set_device(prev)


def current_stream(device=None):
    """The current stream of ``device`` (default: the current one)."""
    cuda = _require("current_stream()")
    return cuda.current_stream(_index(device))


def set_stream(stream) -> None:
    """Make ``stream`` the current stream of its device."""
    _require("set_stream()")
    stream.native.use()     # kernels launch on CuPy's current stream


def empty_cache() -> None:
    if is_available():
        _cuda().empty_cache()


def memory_allocated(device=None) -> int:
    return _cuda().memory_allocated(_index(device)) if is_available() else 0


def max_memory_allocated(device=None) -> int:
    return _cuda().max_memory_allocated(_index(device)) if is_available() else 0


def memory_reserved(device=None) -> int:
    return _cuda().memory_reserved(_index(device)) if is_available() else 0


def reset_peak_memory_stats(device=None) -> None:
    if is_available():
        _cuda().reset_peak_memory_stats(_index(device))
