"""``DataParallel``: one process, the batch split over several devices, as ``torch.nn.DataParallel``.

Each call scatters the inputs along ``dim`` (``chunk``'s split), runs a replica of the module on
every device (parameters copied there differentiably, so their gradients come back summed to the
originals), and gathers the outputs on ``output_device``. Without an accelerator (no cuda
device) and without explicit devices it is a transparent wrapper, as PyTorch's on a CPU-only
machine: ``module.`` prefixes the state dict keys either way. For many devices or machines,
``DistributedDataParallel`` is faster (PyTorch recommends it too).

>>> import plugtorch as pt
>>> m = pt.nn.DataParallel(pt.nn.Linear(3, 2))
>>> m(pt.ones(4, 3)).shape, list(m.state_dict())
(plugtorch.Size([4, 2]), ['module.weight', 'module.bias'])
"""
from __future__ import annotations

import copy
import itertools

import plugtorch as pt
from plugtorch._tensor import Tensor
from plugtorch.nn.modules.module import Module


def _available_device_type():
    """The accelerator DataParallel defaults to, as PyTorch's (cuda), or None."""
    return "cuda" if pt.cuda.is_available() else None


def _device(d, kind):
    """An int indexes the accelerator's devices; 'opencl' means 'opencl:0', as tensors report it."""
    d = pt.device(kind, d) if isinstance(d, int) else pt.device(d)
    return d if d.type == "cpu" or d.index is not None else pt.device(d.type, 0)


def scatter(obj, devices, dim=0):
    """Split tensors along ``dim`` into one chunk per device (fewer if the batch is smaller), moved
    there; lists, tuples and dicts are scattered element by element, anything else is repeated."""
    if isinstance(obj, Tensor):
        return [c.to(d) for c, d in zip(obj.chunk(len(devices), dim), devices)]
    if isinstance(obj, (list, tuple)) and obj:
        parts = [scatter(o, devices, dim) for o in obj]
        return [type(obj)(p) for p in zip(*parts)]
    if isinstance(obj, dict) and obj:
        parts = [scatter(v, devices, dim) for v in obj.values()]
        return [dict(zip(obj, p)) for p in zip(*parts)]
    return [obj] * len(devices)


def gather(outputs, device, dim=0):
    """Join the replicas' outputs on ``device``: tensors concatenated along ``dim``, containers element by element."""
    first = outputs[0]
    if isinstance(first, Tensor):
        return pt.cat([o.to(device) for o in outputs], dim) if first.ndim else pt.stack([o.to(device)
                                                                                        for o in outputs])
    if first is None:
        return None
    if isinstance(first, dict):
        return type(first)((k, gather([o[k] for o in outputs], device, dim)) for k in first)
    if isinstance(first, (list, tuple)):
        return type(first)(gather(list(parts), device, dim) for parts in zip(*outputs))
    return first


def replicate(module, devices):
    """A copy of ``module`` per device whose parameters are differentiable copies of the originals
    (the gradients of every replica add up in the original parameters) and whose buffers are
    copies (on a device that already holds them, the originals: running statistics persist)."""
    replicas = []
    for device in devices:
        r = copy.deepcopy(module)
        for (_, src), (_, dst) in zip(module.named_modules(remove_duplicate=False),
                                      r.named_modules(remove_duplicate=False)):
            for name, p in src._parameters.items():
                dst._parameters[name] = None if p is None else p.to(device)
            for name, b in src._buffers.items():
                dst._buffers[name] = None if b is None else b.to(device)
        replicas.append(r)
    return replicas


class DataParallel(Module):
    """Split each batch over ``device_ids`` (ints index the cuda devices; strings or devices name
    any), run a replica of ``module`` per device, gather the outputs on ``output_device``."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        kind = _available_device_type()
        self.dim = dim
        explicit = device_ids is not None and any(not isinstance(d, int) for d in device_ids)
        if kind is None and not explicit:
            self.module = module
            self.device_ids = []
            return
        if device_ids is None:
            device_ids = list(range(pt.cuda.device_count()))
        if not device_ids:
            raise RuntimeError("no available devices were found")
        self._devices = [_device(d, kind) for d in device_ids]
        self.module = module
        self.device_ids = [d.index or 0 for d in self._devices]
        self.output_device = self._devices[0] if output_device is None else _device(output_device, kind)
        self.src_device_obj = self._devices[0]
        if len(self._devices) == 1:
            self.module.to(self.src_device_obj)

    def forward(self, *inputs, **kwargs):
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        for t in itertools.chain(self.module.parameters(), self.module.buffers()):
            if t.device != self.src_device_obj:
                raise RuntimeError(f"module must have its parameters and buffers on device {self.src_device_obj} "
                                   f"(device_ids[0]) but found one of them on device: {t.device}")
        chunks = scatter(inputs, self._devices, self.dim) if inputs else [()]
        kw = scatter(kwargs, self._devices, self.dim) if kwargs else [{}] * len(chunks)
        n = min(len(chunks), len(kw))
        if len(self._devices) == 1:
            return self.module(*chunks[0], **kw[0])
        replicas = replicate(self.module, self._devices[:n])
        outputs = [r(*c, **k) for r, c, k in zip(replicas, chunks[:n], kw[:n])]
        return gather(outputs, self.output_device, self.dim)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """``DataParallel(module, device_ids, output_device, dim)(*inputs, **module_kwargs)`` without keeping the wrapper."""
    inputs = inputs if isinstance(inputs, tuple) else (() if inputs is None else (inputs,))
    return DataParallel(module, device_ids, output_device, dim)(*inputs, **(module_kwargs or {}))
