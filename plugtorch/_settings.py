"""Process-wide switches PyTorch keeps at top level: deterministic algorithms, thread counts,
``set_warn_always``, the float32 matmul precision.

>>> import plugtorch as pt
>>> pt.use_deterministic_algorithms(True); pt.are_deterministic_algorithms_enabled()
True
>>> pt.use_deterministic_algorithms(False)
"""
from __future__ import annotations

import os
import warnings

_deterministic = False
_deterministic_warn_only = False
warn_always = False            # read by the dispatcher's once-per-op warnings
_matmul_precision = "highest"
_thread_limit = None           # threadpoolctl's limiter, kept alive so the limit holds
_interop_threads_set = False


def _check_bool(fn, name, value, position=None):
    if not isinstance(value, bool):
        where = f"(position {position})" if position else ""
        raise TypeError(f"{fn}(): argument '{name}' {where + ' ' if where else ''}must be bool, not "
                        f"{type(value).__name__}")


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Ask for deterministic algorithms (recorded and reported by
    ``are_deterministic_algorithms_enabled``). plugtorch's kernels are deterministic already:
    reductions, ``index_add``/``scatter_add`` and matmul give the same bits on every run of the
    same program on the same backend and device, so nothing changes and nothing raises."""
    global _deterministic, _deterministic_warn_only
    _check_bool("_set_deterministic_algorithms", "mode", mode, 1)
    _check_bool("_set_deterministic_algorithms", "warn_only", warn_only)
    _deterministic, _deterministic_warn_only = mode, warn_only


def are_deterministic_algorithms_enabled() -> bool:
    """Whether ``use_deterministic_algorithms(True)`` is in force."""
    return _deterministic


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """Whether ``use_deterministic_algorithms(True, warn_only=True)`` is in force."""
    return _deterministic_warn_only


def set_deterministic_debug_mode(debug_mode) -> None:
    """PyTorch's other spelling: 0/'default', 1/'warn', 2/'error'."""
    names = {"default": 0, "warn": 1, "error": 2}
    if isinstance(debug_mode, str):
        if debug_mode not in names:
            raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, `warn`, `error`, but got "
                               f"{debug_mode}")
        debug_mode = names[debug_mode]
    if debug_mode not in (0, 1, 2) or isinstance(debug_mode, bool):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}")
    use_deterministic_algorithms(debug_mode > 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode() -> int:
    """0 when deterministic algorithms are off, 1 when they only warn, 2 when they are on."""
    return 0 if not _deterministic else 1 if _deterministic_warn_only else 2


def _positive_int(fn, n):
    if isinstance(n, bool) or not isinstance(n, int):
        raise RuntimeError(f"{fn} expects an int, but got {type(n).__name__}")
    if n <= 0:
        raise RuntimeError(f"{fn} expects a positive integer")


def set_num_threads(n: int) -> None:
    """Limit the threads the cpu backend's kernels use (NumPy's BLAS and OpenMP pools) to ``n``,
    through threadpoolctl when it is installed. Without it the limit goes to ``OMP_NUM_THREADS``
    and the BLAS variables, which reach libraries loaded later and child processes only."""
    global _thread_limit
    _positive_int("set_num_threads", n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        if _thread_limit is not None:
            _thread_limit.restore_original_limits()
        _thread_limit = threadpool_limits(limits=n)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        os.environ[var] = str(n)


def get_num_threads() -> int:
    """The threads the cpu backend's kernels may use: the largest pool threadpoolctl finds in the
    loaded BLAS/OpenMP libraries, else ``OMP_NUM_THREADS``, else the CPUs this process may run on."""
    try:
        from threadpoolctl import threadpool_info
        pools = [p["num_threads"] for p in threadpool_info()]
    except ImportError:
        pools = []
    if pools:
        return max(pools)
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def set_num_interop_threads(n: int) -> None:
    """Accepted for PyTorch's sake (once, as PyTorch): plugtorch runs ops one after the other in the
    caller's thread, so it has no inter-op pool to size and ``get_num_interop_threads()`` stays 1."""
    global _interop_threads_set
    _positive_int("set_num_interop_threads", n)
    if _interop_threads_set:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work has started or "
                           "set_num_interop_threads called")
    _interop_threads_set = True


def get_num_interop_threads() -> int:
    """1: plugtorch runs ops in the caller's thread, one after the other (no inter-op pool)."""
    return 1


def set_warn_always(b: bool) -> None:
    """Show the warnings plugtorch gives once (the cpu fallback's, per op) every time."""
    global warn_always
    if not isinstance(b, bool):
        raise RuntimeError(f"setWarnOnlyOnce expects a bool, but got {type(b).__name__}")
    warn_always = b


def is_warn_always_enabled() -> bool:
    """Whether ``set_warn_always(True)`` is in force."""
    return warn_always


def set_flush_denormal(mode: bool) -> bool:
    """False: the cpu backend cannot flush denormal floats to zero (NumPy leaves the FPU's mode
    alone), which is what PyTorch answers on a CPU without the capability; nothing changes."""
    _check_bool("set_flush_denormal", "mode", mode, 1)
    return False


def set_float32_matmul_precision(precision: str) -> None:
    """Record 'highest', 'high' or 'medium' (``get_float32_matmul_precision`` reports it). plugtorch's
    float32 matmuls always accumulate in float32 at least ('highest'); no backend trades precision
    for speed (TF32, bfloat16 passes), so the setting changes no result."""
    global _matmul_precision
    if not isinstance(precision, str):
        raise RuntimeError(f"set_float32_matmul_precision expects a str, but got {type(precision).__name__}")
    if precision not in ("highest", "high", "medium"):
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      "set_float32_matmul_precision call has no effect.", UserWarning, stacklevel=2)
        return
    _matmul_precision = precision


def get_float32_matmul_precision() -> str:
    """The value last given to ``set_float32_matmul_precision`` ('highest' at first)."""
    return _matmul_precision


__all__ = ["use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled", "set_deterministic_debug_mode",
           "get_deterministic_debug_mode", "set_num_threads", "get_num_threads", "set_num_interop_threads",
           "get_num_interop_threads", "set_warn_always", "is_warn_always_enabled", "set_float32_matmul_precision",
           "get_float32_matmul_precision", "set_flush_denormal"]
