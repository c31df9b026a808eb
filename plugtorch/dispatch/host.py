"""The host round trip: the decomposition of ops whose kernels only some backends have.

Factorisations (SVD, eigh, LAPACK's drivers) and FFTs have a cpu kernel (NumPy's LAPACK and
pocketfft) and, on some devices, a native one. A backend without one runs the op through host
memory: the tensor arguments are copied to cpu, the op runs there, and the results are copied
back. That is the op's decomposition, so every backend, plug-ins included, gets the op; a
backend says which of its ops take this route in ``declarations()``, and the conformance suite
reports such entries as "via host".

>>> from plugtorch.dispatch.host import record_host_round_trips
>>> with record_host_round_trips() as ops:      # doctest: +SKIP
...     plugtorch.linalg.svd(x_on_opencl)
>>> ops
{'linalg_svd'}
"""
from __future__ import annotations

_records: list = []   # sets collecting the names of ops that made a host round trip


class record_host_round_trips:
    """Collect the names of the ops that ran through host memory inside the block."""

    def __enter__(self) -> set:
        self.ops = set()
        _records.append(self.ops)
        return self.ops

    def __exit__(self, *exc):
        _records.remove(self.ops)
        return False


def _map(fn, v):
    if isinstance(v, (list, tuple)):
        return type(v)(_map(fn, x) for x in v)
    return fn(v)


def host_decomposition(name: str):
    """The decomposition of op ``name``: copy its tensor arguments to cpu, run it there, copy
    its results back to the device of its first tensor argument."""
    def via_host(*args, **kwargs):
        import plugtorch as pt
        tensors = [a for a in _flat(args + tuple(kwargs.values())) if isinstance(a, pt.Tensor)]
        dev = tensors[0].device
        if dev.type == "cpu":   # (cpu has every such kernel: this would recurse)
            raise NotImplementedError(f"{name}(): the cpu backend has no kernel for it; register one")
        for ops in _records:
            ops.add(name)
        to_cpu = lambda v: v.cpu() if isinstance(v, pt.Tensor) else v  # noqa: E731
        out = getattr(pt.ops, name)(*_map(to_cpu, args), **{k: _map(to_cpu, v) for k, v in kwargs.items()})
        return _map(lambda v: v.to(dev) if isinstance(v, pt.Tensor) else v, out)
    via_host.__name__ = f"{name}_via_host"
    via_host.host_round_trip = True
    return via_host


def _flat(args):
    for a in args:
        if isinstance(a, (list, tuple)):
            yield from _flat(a)
        else:
            yield a


def is_host_decomposition(op) -> bool:
    """Whether ``op`` (an OpDef) decomposes into a host round trip."""
    return getattr(op.decomposition, "host_round_trip", False)


def host_ops(kernels) -> list:
    """The ops with a host round trip that a kernel table lacks: what that backend runs through
    host memory (for its ``declarations()``)."""
    from plugtorch.dispatch.registry import OPS
    return sorted(n for n, op in OPS.items() if is_host_decomposition(op) and n not in kernels)
