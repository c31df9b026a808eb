"""CUDA streams and events (``plugtorch.cuda.Stream``, ``Event``), thin wrappers over CuPy's.

Kernels launch on CuPy's current stream, so ``with plugtorch.cuda.stream(s):`` runs the ops
inside it on ``s``.

>>> s = plugtorch.cuda.Stream()                          # doctest: +SKIP
>>> with plugtorch.cuda.stream(s):                       # doctest: +SKIP
...     y = x * 2
>>> s.synchronize()                                      # doctest: +SKIP
"""
from __future__ import annotations

import contextlib


def _backend():
    from plugtorch.backends import get_backend
    return get_backend("cuda")


def _cupy():
    return _backend().cupy()


def device_index(device) -> int:
    """The cuda device index that ``device`` (None, int, str or plugtorch.device) names."""
    be = _backend()
    be.cupy()
    if device is None:
        return be.current_device()
    if isinstance(device, int):
        return device
    from plugtorch._device import device as _device
    d = _device(device)
    if d.type != "cuda":
        raise ValueError(f"expected a cuda device, got '{d}'")
    return be.current_device() if d.index is None else d.index


class Stream:
    """A CUDA stream on one device (``Stream(device=None, priority=0)``)."""

    def __init__(self, device=None, priority: int = 0, *, _native=None):
        cp = _cupy()
        self.device_index = device_index(device)
        if _native is None:
            with cp.cuda.Device(self.device_index):
                _native = (cp.cuda.Stream(non_blocking=True) if priority == 0
                           else cp.cuda.Stream(non_blocking=True, priority=priority))
        self.native = _native

    @property
    def cuda_stream(self) -> int:
        return self.native.ptr

    def synchronize(self) -> None:
        self.native.synchronize()

    def query(self) -> bool:
        """True once all work queued on the stream has finished."""
        return self.native.done

    def wait_event(self, event: "Event") -> None:
        self.native.wait_event(event.native)

    def wait_stream(self, stream: "Stream") -> None:
        self.wait_event(stream.record_event())

    def record_event(self, event: "Event" | None = None) -> "Event":
        event = event if event is not None else Event()
        event.record(self)
        return event

    def __enter__(self):
        self.native.__enter__()
        return self

    def __exit__(self, *exc):
        self.native.__exit__(*exc)
        return False

    def __eq__(self, other):
        return isinstance(other, Stream) and self.native.ptr == other.native.ptr

    def __hash__(self):
        return hash(self.native.ptr)

    def __repr__(self):
        return f"<plugtorch.cuda.Stream device=cuda:{self.device_index} cuda_stream={self.native.ptr:#x}>"


class Event:
    """A CUDA event: a marker in a stream, for waiting and timing."""

    def __init__(self, enable_timing: bool = False, blocking: bool = False, interprocess: bool = False):
        cp = _cupy()
        self.native = cp.cuda.Event(block=blocking, disable_timing=not enable_timing,
                                    interprocess=interprocess)

    def record(self, stream: Stream | None = None) -> None:
        self.native.record(None if stream is None else stream.native)

    def wait(self, stream: Stream | None = None) -> None:
        (stream if stream is not None else current_stream()).wait_event(self)

    def synchronize(self) -> None:
        self.native.synchronize()

    def query(self) -> bool:
        return self.native.done

    def elapsed_time(self, end_event: "Event") -> float:
        """Milliseconds between this event and ``end_event`` (both recorded, with timing)."""
        return float(_cupy().cuda.get_elapsed_time(self.native, end_event.native))


def current_stream(device=None) -> Stream:
    """The stream kernels on ``device`` (default: the current one) are queued on now."""
    cp = _cupy()
    i = device_index(device)
    with cp.cuda.Device(i):
        return Stream(i, _native=cp.cuda.get_current_stream())


def default_stream(device=None) -> Stream:
    """The null stream of ``device``, which synchronises with every other stream on it."""
    cp = _cupy()
    return Stream(device_index(device), _native=cp.cuda.Stream.null)


def stream(s: Stream | None):
    """Context manager making ``s`` the current stream (``None`` changes nothing)."""
    return contextlib.nullcontext() if s is None else s
