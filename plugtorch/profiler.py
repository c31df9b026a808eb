"""``plugtorch.profiler``: a dispatch mode recording every op call, as ``torch.profiler``.

``profile`` records one event per op call (composite ops and the ops they decompose into,
nested), ``record_function`` labels a range of them, ``schedule`` and ``step()`` choose the
steps recorded, and ``on_trace_ready`` (``tensorboard_trace_handler``) receives each cycle.

>>> import plugtorch as pt
>>> with pt.profiler.profile() as prof:
...     with pt.profiler.record_function("scale"):
...         y = (pt.ones(3) * 2).sum()
>>> prof.counts()["mul"]
1
>>> [e.name for e in prof.events() if e.name == "scale"][0], len(prof.events()) > 1
('scale', True)
"""
from __future__ import annotations

import enum
import functools
import gzip
import json
import os
import threading
import time
import warnings

from plugtorch.dispatch.dispatcher import DispatchMode, pop_mode, push_mode


class ProfilerActivity(enum.Enum):
    """What a profile records: ``CPU`` (every op call) and plugtorch's devices (``CUDA``,
    ``OPENCL``: their ops are timed to completion, the device synchronised after each)."""
    CPU = "cpu"
    CUDA = "cuda"
    OPENCL = "opencl"


def supported_activities() -> set:
    """CPU plus the activities of the devices present."""
    from plugtorch._device import backend_for
    out = {ProfilerActivity.CPU}
    for act in (ProfilerActivity.CUDA, ProfilerActivity.OPENCL):
        try:
            if backend_for(act.value).is_available():
                out.add(act)
        except Exception:   # a backend whose library is missing: not supported here
            pass
    return out


class ProfilerAction(enum.Enum):
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(*, wait: int, warmup: int, active: int, repeat: int = 0, skip_first: int = 0,
             skip_first_wait: int = 0):
    """The action of each step: skip ``skip_first`` steps, then cycles of ``wait`` idle steps,
    ``warmup`` steps and ``active`` recorded steps (the last one saves), ``repeat`` times (0: forever).

    >>> s = schedule(wait=1, warmup=1, active=2)
    >>> [s(i).name for i in range(5)]
    ['NONE', 'WARMUP', 'RECORD', 'RECORD_AND_SAVE', 'NONE']
    """
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise AssertionError(
            f"Invalid profiler schedule arguments. Got wait={wait} (need >= 0), warmup={warmup} (need >= 0), "
            f"active={active} (need > 0), repeat={repeat} (need >= 0), skip_first={skip_first} (need >= 0).")
    if warmup == 0:
        warnings.warn("Profiler won't be using warmup, this can skew profiler results", stacklevel=2)

    def schedule_fn(step: int) -> ProfilerAction:
        if step < 0:
            raise AssertionError(f"Step must be non-negative. Got {step}.")
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait != 0:
            step += wait
        num_steps = wait + warmup + active
        if repeat > 0 and step / num_steps >= repeat:
            return ProfilerAction.NONE
        mod = step % num_steps
        if mod < wait:
            return ProfilerAction.NONE
        if mod < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if mod < num_steps - 1 else ProfilerAction.RECORD_AND_SAVE
    return schedule_fn


def _default_schedule(step: int) -> ProfilerAction:
    return ProfilerAction.RECORD


class FunctionEvent:
    """One recorded op call or labelled range: times in microseconds, nesting in ``cpu_parent``
    and ``cpu_children``."""

    def __init__(self, id, name, thread, start_us, end_us=None, device_type="cpu", input_shapes=None,
                 is_user_annotation=False):
        self.id, self.name, self.thread = id, name, thread
        self.start_us, self.end_us = start_us, end_us
        self.device_type = device_type
        self.input_shapes = input_shapes
        self.is_user_annotation = is_user_annotation
        self.cpu_parent = None
        self.cpu_children = []

    key = property(lambda self: self.name)
    cpu_time_total = property(lambda self: self.end_us - self.start_us)
    count = 1

    def __repr__(self):
        return f"<FunctionEvent {self.name} {self.cpu_time_total:.1f} us, {len(self.cpu_children)} children>"


class FunctionEventAvg:
    """Events of one name together (``key_averages()``)."""

    def __init__(self, key):
        self.key, self.count, self.cpu_time_total, self.self_cpu_time_total = key, 0, 0.0, 0.0

    cpu_time = property(lambda self: self.cpu_time_total / max(self.count, 1))

    def __repr__(self):
        return f"<FunctionEventAvg {self.key} count={self.count} cpu_time_total={self.cpu_time_total:.1f} us>"


def _self_time(e) -> float:
    """An event's time less its children's (PyTorch's "Self CPU")."""
    return e.cpu_time_total - sum(c.cpu_time_total for c in e.cpu_children)


FunctionEvent.self_cpu_time_total = property(_self_time)


def _format_us(us: float) -> str:
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


class EventList(list):
    """A list of events (``events()``) or of averages (``key_averages()``) that prints as
    PyTorch's profiler table: ``prof.key_averages().table(sort_by="self_cpu_time_total")``."""

    _SORT_KEYS = ("cpu_time_total", "self_cpu_time_total", "cpu_time", "count")

    def table(self, sort_by: str | None = None, row_limit: int = 100, max_name_column_width: int = 55,
              **unused) -> str:
        """Name, Self CPU %, Self CPU, CPU total %, CPU total, CPU time avg and # of Calls per row
        (times in us, ms or s), sorted by ``sort_by`` (descending) when given; the percentages
        are of the summed self times, as in PyTorch."""
        rows = list(self)
        if sort_by is not None:
            if sort_by not in self._SORT_KEYS:
                raise ValueError(f"table(): sort_by must be one of {', '.join(self._SORT_KEYS)} (plugtorch times "
                                 f"ops on the host, synchronising devices when asked), got {sort_by!r}")
            rows.sort(key=lambda e: getattr(e, sort_by), reverse=True)
        if row_limit is not None and row_limit > 0:
            rows = rows[:row_limit]
        total_self = sum(e.self_cpu_time_total for e in self) or 1.0
        width = min(max([len("Name")] + [len(e.key) for e in rows]), max_name_column_width)
        heads = ("Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "# of Calls")
        line = "-" * width + "  " + "  ".join("-" * 12 for _ in heads)
        out = [line, f"{'Name':<{width}}  " + "  ".join(f"{h:>12}" for h in heads), line]
        for e in rows:
            name = e.key if len(e.key) <= width else e.key[:width - 3] + "..."
            count = e.count
            cells = (f"{100 * e.self_cpu_time_total / total_self:.2f}%", _format_us(e.self_cpu_time_total),
                     f"{100 * e.cpu_time_total / total_self:.2f}%", _format_us(e.cpu_time_total),
                     _format_us(e.cpu_time_total / max(count, 1)), str(count))
            out.append(f"{name:<{width}}  " + "  ".join(f"{c:>12}" for c in cells))
        out += [line, f"Self CPU time total: {_format_us(sum(e.self_cpu_time_total for e in self))}"]
        return "\n".join(out)


_now_us = lambda: time.perf_counter_ns() / 1e3   # noqa: E731
_active: list = []      # profiles recording now (record_function adds its range to each)
_open = threading.local()   # .stack: per thread, the events not yet closed (parents of new ones)


def _stack():
    s = getattr(_open, "stack", None)
    if s is None:
        s = _open.stack = []
    return s


class profile(DispatchMode):
    """Record every op call while active (composite ops and the ops they decompose into).

    ``schedule`` (see ``schedule()``) picks the recorded steps, ``step()`` ends a step, and
    ``on_trace_ready(prof)`` runs at the end of each recorded cycle (and on exit while
    recording). ``sync=True`` (or a device in ``activities``) synchronises the device after
    each op so its time includes the kernel's.
    """

    def __init__(self, activities=None, *, schedule=None, on_trace_ready=None, record_shapes: bool = False,
                 profile_memory: bool = False, with_stack: bool = False, with_flops: bool = False,
                 with_modules: bool = False, acc_events: bool = False, sync: bool = False, **kwargs):
        acts = set(activities) if activities is not None else {ProfilerActivity.CPU}
        for a in acts:
            if not isinstance(a, ProfilerActivity):
                raise TypeError(f"profile(): activities must be ProfilerActivity members "
                                f"({', '.join('ProfilerActivity.' + m for m in ProfilerActivity.__members__)}), got {a!r}")
        self.activities = acts
        self.sync = sync or bool(acts - {ProfilerActivity.CPU})
        self.schedule = schedule or _default_schedule
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.acc_events = acc_events
        self.step_num = 0
        self.current_action = None
        self.stats: dict = {}     # name -> [calls, total seconds, devices]
        self._events: list = []
        self._step_start = None

    # ---- the recorder ----
    def __plugtorch_dispatch__(self, op, args, kwargs, call):
        if not self._recording:
            return call(args, kwargs)
        ev = self._begin(op.name, _shapes(args) if self.record_shapes else None)
        t0 = time.perf_counter()
        try:
            out = call(args, kwargs)
            if self.sync:
                _sync(out)
        finally:
            self._end(ev)
        dt = time.perf_counter() - t0
        s = self.stats.get(op.name)
        if s is None:
            s = self.stats[op.name] = [0, 0.0, set()]
        s[0] += 1
        s[1] += dt
        d = _device_of(args, out)
        if d is not None:
            s[2].add(str(d))
            ev.device_type = d.type
        return out

    _recording = False

    def _begin(self, name, shapes=None, user=False):
        stack = _stack()
        ev = FunctionEvent(len(self._events), name, threading.get_ident(), _now_us(), input_shapes=shapes,
                           is_user_annotation=user)
        for parent in reversed(stack):
            if parent[0] is self:
                ev.cpu_parent = parent[1]
                parent[1].cpu_children.append(ev)
                break
        self._events.append(ev)
        stack.append((self, ev))
        return ev

    def _end(self, ev):
        ev.end_us = _now_us()
        stack = _stack()
        for i in range(len(stack) - 1, -1, -1):
            if stack[i][1] is ev:
                del stack[i]
                break

    # ---- starting, stepping and stopping ----
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        self.step_num = 0
        push_mode(self)
        self.current_action = self.schedule(self.step_num)
        self._transit(None, self.current_action)

    def stop(self):
        self._transit(self.current_action, None)
        pop_mode(self)

    def step(self):
        """End a step: the schedule's action for the next one decides what is recorded."""
        prev = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        self._transit(prev, self.current_action)

    def _transit(self, prev, cur):
        rec = (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)
        if prev in rec and self._step_start is not None and self.step_num > 0:   # the step just ended, as a labelled range
            n = self.step_num - (cur is not None)    # (stop() ends the step now running)
            ev = FunctionEvent(len(self._events), f"ProfilerStep#{n}", threading.get_ident(),
                               self._step_start, _now_us(), is_user_annotation=True)
            self._events.append(ev)
        self._step_start = None
        if prev in rec and (cur is None or prev is ProfilerAction.RECORD_AND_SAVE):
            self._stop_recording()
            if self.on_trace_ready is not None:
                self.on_trace_ready(self)
        if cur in rec:
            if prev not in rec or prev is ProfilerAction.RECORD_AND_SAVE:   # a new cycle
                if not self.acc_events:
                    self._events = []
                    self.stats = {}
                self._start_recording()
            self._step_start = _now_us()

    def _start_recording(self):
        if not self._recording:
            self._recording = True
            _active.append(self)

    def _stop_recording(self):
        if self._recording:
            self._recording = False
            _active.remove(self)

    # ---- results ----
    def events(self) -> list:
        """The events of the last recorded cycle, in the order they began."""
        return EventList(sorted(self._events, key=lambda e: e.start_us))

    def key_averages(self) -> list:
        groups: dict = {}
        for e in self._events:
            a = groups.get(e.name)
            if a is None:
                a = groups[e.name] = FunctionEventAvg(e.name)
            a.count += 1
            a.cpu_time_total += e.cpu_time_total
            a.self_cpu_time_total += _self_time(e)
        return EventList(sorted(groups.values(), key=lambda a: -a.cpu_time_total))

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as Chrome trace JSON (chrome://tracing, Perfetto, TensorBoard); a
        path ending in ``.gz`` is gzipped."""
        pid = os.getpid()
        trace = []
        for e in self.events():
            args = {"device": e.device_type}
            if e.input_shapes is not None:
                args["Input Dims"] = e.input_shapes
            trace.append({"ph": "X", "cat": "user_annotation" if e.is_user_annotation else "cpu_op", "name": e.name,
                          "pid": pid, "tid": e.thread, "ts": e.start_us, "dur": e.cpu_time_total, "args": args})
        doc = {"schemaVersion": 1, "displayTimeUnit": "ms", "traceName": path, "traceEvents": trace}
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "wt") as f:
            json.dump(doc, f)

    def counts(self) -> dict:
        return {k: v[0] for k, v in self.stats.items()}

    def table(self, sort_by: str = "total", row_limit: int = 50) -> str:
        rows = sorted(self.stats.items(), key=lambda kv: -kv[1][1] if sort_by == "total" else -kv[1][0])
        total = sum(v[1] for _, v in rows) or 1.0
        lines = [f"{'op':<22}{'calls':>8}{'total us':>12}{'us/call':>10}{'%':>7}  devices",
                 "-" * 72]
        for name, (n, t, devs) in rows[:row_limit]:
            lines.append(f"{name:<22}{n:>8}{t * 1e6:>12.1f}{t * 1e6 / n:>10.2f}{100 * t / total:>7.1f}  {','.join(sorted(devs))}")
        lines.append("-" * 72)
        lines.append(f"{'total':<22}{sum(v[0] for _, v in rows):>8}{total * 1e6:>12.1f}   (nested ops are counted inside their callers too)")
        return "\n".join(lines)

    def __str__(self):
        return self.table()


class record_function:
    """Label a range of the profile (context manager or decorator); the ops run inside it are
    its children. Outside a profile it does nothing.

    >>> import plugtorch as pt
    >>> @record_function("step")
    ... def f(x):
    ...     return x + 1
    >>> with pt.profiler.profile() as prof:
    ...     _ = f(pt.ones(2))
    >>> [c.name for e in prof.events() if e.name == "step" for c in e.cpu_children]
    ['add']
    """

    def __init__(self, name: str, args: str | None = None):
        self.name, self.args = name, args
        self._events = None

    def __enter__(self):
        self._events = [(p, p._begin(self.name, user=True)) for p in list(_active)]
        return self

    def __exit__(self, *exc):
        for p, ev in self._events or ():
            p._end(ev)
        self._events = None
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            with record_function(self.name, self.args):
                return fn(*a, **k)
        return wrapper


def tensorboard_trace_handler(dir_name: str, worker_name: str | None = None, use_gzip: bool = False):
    """An ``on_trace_ready`` writing each cycle to ``dir_name/<worker>.<time_ns>.pt.trace.json``
    (``.gz`` with ``use_gzip``); the worker is ``<hostname>_<pid>`` by default."""
    import socket

    def handler_fn(prof) -> None:
        nonlocal worker_name
        if not os.path.isdir(dir_name):
            try:
                os.makedirs(dir_name, exist_ok=True)
            except Exception as e:
                raise RuntimeError("Can't create directory: " + dir_name) from e
        if not worker_name:
            worker_name = f"{socket.gethostname()}_{os.getpid()}"
        name = f"{worker_name}.{time.time_ns()}.pt.trace.json" + (".gz" if use_gzip else "")
        prof.export_chrome_trace(os.path.join(dir_name, name))
    return handler_fn


def _shapes(args):
    return [list(a.shape) if hasattr(a, "_data") else [] for a in args]


def _device_of(args, out):
    for a in (out, *args):
        d = getattr(a, "_device", None)
        if d is not None:
            return d
    return None


def _sync(out):
    d = getattr(out, "_device", None)
    if d is not None and d._backend is not None:
        d._backend.synchronize(d.index)
