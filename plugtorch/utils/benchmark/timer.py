"""``Timer``: times a Python statement as ``torch.utils.benchmark.Timer`` does (``timeit.Timer``
underneath, a warm-up, replicates in blocks sized to hide the timer's own cost, the thread count
set while it runs), returning ``Measurement``s."""
from __future__ import annotations

import enum
import statistics
import timeit as _timeit

import plugtorch
from plugtorch import _device, _settings
from plugtorch.utils.benchmark.common import Measurement, TaskSpec

__all__ = ["Timer", "timer", "Language"]


def timer() -> float:
    """``timeit.default_timer`` after waiting for the kernels queued on every loaded backend
    (OpenCL and CUDA run asynchronously: a time read before they finish measures the queueing)."""
    for backend in list(_device.BACKENDS.values()):
        if backend.is_available():     # (a registered backend without its device, cuda without CuPy)
            backend.synchronize()
    return _timeit.default_timer()


class Language(enum.Enum):
    PYTHON = 0
    CPP = 1


class _threads:
    """Run with ``n`` cpu threads (``plugtorch.set_num_threads``), then restore the count."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.prior = _settings.get_num_threads()
        if self.prior != self.n:
            _settings.set_num_threads(self.n)

    def __exit__(self, *exc_info):
        if self.prior != self.n:
            _settings.set_num_threads(self.prior)


class Timer:
    """Time ``stmt`` after running ``setup`` once, with ``globals`` as its namespace (``plugtorch``
    and ``torch``, both plugtorch, are added when missing, so statements written for PyTorch run).
    ``label``, ``sub_label``, ``description`` and ``env`` name the measurement (``Compare`` groups
    by them); ``num_threads`` is the cpu thread count while it runs (1 by default, as PyTorch's).

    >>> import plugtorch as pt
    >>> from plugtorch.utils.benchmark import Timer
    >>> m = Timer("x + 1", globals={"x": pt.ones(4)}).timeit(100)
    >>> m.number_per_run, len(m.times), m.mean > 0
    (100, 1, True)
    """

    def __init__(self, stmt: str = "pass", setup: str = "pass", global_setup: str = "", timer=timer,
                 globals: dict | None = None, label: str | None = None, sub_label: str | None = None,
                 description: str | None = None, env: str | None = None, num_threads: int = 1,
                 language=Language.PYTHON):
        if not isinstance(stmt, str):
            raise ValueError("Currently only a `str` stmt is supported.")
        if language in (Language.CPP, "cpp", "c++"):
            raise NotImplementedError("Timer(language='c++'): plugtorch has no C++ API to time; time the Python "
                                      "statement (language='python')")
        if language not in (Language.PYTHON, "py", "python"):
            raise ValueError(f"Invalid language `{language}`.")
        if global_setup:
            raise ValueError(f"global_setup is C++ only, got `{global_setup}`. Most likely this code can simply "
                             "be moved to `setup`.")
        self._globals = dict(globals or {})
        self._globals.setdefault("plugtorch", plugtorch)
        self._globals.setdefault("torch", plugtorch)
        self._language = Language.PYTHON
        self._timer = _timeit.Timer(stmt=stmt, setup=setup, timer=timer, globals=self._globals)
        self._task_spec = TaskSpec(stmt=stmt, setup=setup, global_setup=global_setup, label=label,
                                   sub_label=sub_label, description=description, env=env,
                                   num_threads=num_threads)

    def _timeit(self, number: int) -> float:
        # (no real statement takes under 1 ns; this also keeps ratios finite)
        return max(self._timer.timeit(number), 1e-9)

    def timeit(self, number: int = 1000000) -> Measurement:
        """Run ``stmt`` ``number`` times (after a warm-up of ``number // 100``, at least 2): one
        replicate, as ``timeit.Timer.timeit``."""
        with _threads(self._task_spec.num_threads):
            self._timeit(number=max(int(number // 100), 2))
            return Measurement(number_per_run=number, raw_times=[self._timeit(number=number)],
                               task_spec=self._task_spec)

    def repeat(self, repeat: int = -1, number: int = -1) -> None:
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def autorange(self, callback=None) -> None:
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def _estimate_block_size(self, min_run_time: float) -> int:
        """The smallest power of 10 of executions whose time dwarfs the timer's own cost."""
        with _threads(self._task_spec.num_threads):
            overhead = statistics.median(self._timeit(0) for _ in range(5))
            number = 1
            while True:
                taken = self._timeit(number)
                if overhead / taken <= 1e-4 and taken >= min_run_time / 1000:
                    break
                if taken > min_run_time or number * 10 > 2147483647:
                    break
                number *= 10
        return number

    def _measurement_loop(self, number, stop_hook, min_run_time, max_run_time=None, callback=None) -> list:
        total, can_stop, times = 0.0, False, []
        with _threads(self._task_spec.num_threads):
            while total < min_run_time or not can_stop:
                spent = self._timeit(number)
                times.append(spent)
                total += spent
                if callback:
                    callback(number, spent)
                can_stop = stop_hook(times)
                if max_run_time and total > max_run_time:
                    break
        return times

    def blocked_autorange(self, callback=None, min_run_time: float = 0.2) -> Measurement:
        """Replicates of ``block_size`` executions each until ``min_run_time`` seconds were
        spent; the block size is the smallest power of 10 that hides the timer's cost.
        ``callback(number, seconds)`` is called after each block."""
        number = self._estimate_block_size(min_run_time)
        times = self._measurement_loop(number, lambda times: True, min_run_time, callback=callback)
        return Measurement(number_per_run=number, raw_times=times, task_spec=self._task_spec)

    def adaptive_autorange(self, threshold: float = 0.1, *, min_run_time: float = 0.01, max_run_time: float = 10.0,
                           callback=None) -> Measurement:
        """As ``blocked_autorange``, but runs until more than 3 blocks and ``min_run_time``
        seconds give an interquartile range under ``threshold`` of the median, or
        ``max_run_time`` seconds were spent."""
        number = self._estimate_block_size(min_run_time=0.05)

        def stop_hook(times):
            return len(times) > 3 and Measurement(number, times, self._task_spec).meets_confidence(threshold)
        times = self._measurement_loop(number, stop_hook, min_run_time, max_run_time, callback=callback)
        return Measurement(number_per_run=number, raw_times=times, task_spec=self._task_spec)

    def collect_callgrind(self, *args, **kwargs):
        raise NotImplementedError("Timer.collect_callgrind(): plugtorch does not count instructions with "
                                  "Callgrind; use blocked_autorange() for times")
