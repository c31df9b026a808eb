"""``plugtorch.backends.cudnn``: the cuDNN switches scripts set, as ``torch.backends.cudnn``.

plugtorch's cuda backend runs its convolutions through CuPy, without choosing among cuDNN
algorithms, so the flags are accepted and kept (``cudnn.benchmark = True``,
``cudnn.deterministic = True`` run unchanged) but select nothing: plugtorch's kernels are
deterministic already. ``is_available()`` says whether CuPy can reach cuDNN.

>>> import plugtorch.backends.cudnn as cudnn
>>> cudnn.benchmark = True
>>> cudnn.enabled
True
"""
from __future__ import annotations

enabled = True
benchmark = False
benchmark_limit = None
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """Whether CuPy is installed with cuDNN and a cuda device is present. Never raises."""
    return version() is not None


def version() -> int | None:
    """cuDNN's version number as CuPy reports it, or None without cuDNN."""
    try:
        import plugtorch
        if not plugtorch.cuda.is_available():
            return None
        from cupy.cuda import cudnn     # noqa: F401 (present only in CuPy builds with cuDNN)
        return int(cudnn.getVersion())
    except Exception:       # no CuPy, no cuDNN library, no driver: all mean "not available"
        return None
