"""Which kernels ran on a device: a dispatch mode the runner puts around a failing sample.

An op call runs a kernel of the device's backend when the backend has one for it (and the op
has a meta function); otherwise its decomposition runs, whose ops the mode sees in turn, or
the cpu fallback. So the recorded names are the device's kernels that computed the result:
the ones to look at when it is wrong.

>>> import plugtorch as pt
>>> x = pt.ones(3)
>>> with KernelRecorder(pt.device("cpu")) as rec:
...     y = pt.nn.functional.softmax(-x, 0)
>>> "neg" in rec.forward
True
"""
from __future__ import annotations

import plugtorch as pt
from plugtorch.dispatch.dispatcher import DispatchMode


class KernelRecorder(DispatchMode):
    """Record the kernels of ``device``'s backend that run inside the block, in order of first
    use, into ``forward`` (or ``backward`` once ``phase`` is set to "backward")."""

    def __init__(self, device):
        self.device = pt.device(device)
        self.kernels = self.device._backend.kernels if self.device._backend is not None else \
            pt.backends.get_backend(self.device.type).kernels
        self.phase = "forward"
        self.forward: list = []
        self.backward: list = []

    def __plugtorch_dispatch__(self, op, args, kwargs, call):
        if op.meta is not None and op.name in self.kernels and _on(self.device, args, kwargs):
            names = self.backward if self.phase == "backward" else self.forward
            if op.name not in names:
                names.append(op.name)
        return call(args, kwargs)


def _on(device, args, kwargs) -> bool:
    """Whether a call runs on ``device``'s type: one of its tensors (or its ``device=``) is there."""
    for a in (*args, *kwargs.values()):
        if isinstance(a, pt.Tensor):
            if a.device.type == device.type:
                return True
        elif isinstance(a, pt.device):
            if a.type == device.type:
                return True
        elif isinstance(a, str) and a.split(":")[0] == device.type:
            return True
        elif isinstance(a, (list, tuple)) and _on(device, a, {}):
            return True
    return False
