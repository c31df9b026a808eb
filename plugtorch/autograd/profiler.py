"""``plugtorch.autograd.profiler``: PyTorch's older profiler interface, over ``plugtorch.profiler``.

``profile(enabled=True, use_cuda=False, record_shapes=False, ...)`` records op calls while
active (``enabled=False`` records nothing); ``prof.key_averages().table(sort_by=...)``,
``prof.function_events`` and ``record_function`` read as in PyTorch.

>>> import plugtorch as pt
>>> x = pt.ones(3)
>>> with pt.autograd.profiler.profile() as prof:
...     y = x.exp()
>>> [a.key for a in prof.key_averages()]
['exp']
"""
from __future__ import annotations

from plugtorch import profiler as _profiler
from plugtorch.profiler import EventList, FunctionEvent, FunctionEventAvg, record_function  # noqa: F401


class profile(_profiler.profile):
    """The legacy ``torch.autograd.profiler.profile``: device times are included by
    synchronising after each op when ``use_cuda``/``use_device`` asks for them."""

    def __init__(self, enabled: bool = True, *, use_cuda: bool = False, use_device=None,
                 record_shapes: bool = False, with_flops: bool = False, profile_memory: bool = False,
                 with_stack: bool = False, with_modules: bool = False, use_kineto: bool = False,
                 use_cpu: bool = True, **kwargs):
        never = (lambda step: _profiler.ProfilerAction.NONE) if not enabled else None
        super().__init__(schedule=never, record_shapes=record_shapes, profile_memory=profile_memory,
                         with_stack=with_stack, with_flops=with_flops, with_modules=with_modules,
                         sync=bool(use_cuda or use_device), **kwargs)
        self.enabled = enabled

    @property
    def function_events(self) -> EventList:
        return self.events()

    @property
    def self_cpu_time_total(self) -> float:
        return sum(e.self_cpu_time_total for e in self.events())
