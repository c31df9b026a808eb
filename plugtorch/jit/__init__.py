"""plugtorch.jit: traced static graphs, replayed without the dispatcher, saved for deployment.

>>> import plugtorch as pt
>>> f = pt.jit.trace(lambda x, y: (x * y + 1).relu(), (pt.ones(3), pt.ones(3)))
>>> f(pt.tensor([1., -2., 3.]), pt.ones(3)).tolist()
[2.0, 0.0, 4.0]

See docs/jit.md: the tracer is a dispatch mode, the IR has an op level and a kernel level,
passes are small functions over it, and the executor is one generated function per graph.
"""
from plugtorch.jit.api import TracedDataChanged, TracedFunction, TracedModule, trace  # noqa: F401
from plugtorch.jit.tracer import TracerWarning  # noqa: F401
from plugtorch.jit.freezing import freeze, optimize_for_inference, trace_module  # noqa: F401
from plugtorch.jit.futures import Future, fork, wait  # noqa: F401
from plugtorch.jit.scripting import (Final, FunctionModifiers, annotate, export, ignore, interface,  # noqa: F401
                                     is_scripting, script, unused)

ScriptModule = TracedModule
ScriptFunction = TracedFunction


def save(m, f) -> None:
    """Write a traced function or module to ``f`` (a path or a binary file): the graph as JSON
    and the weights as safetensors, in one file; never pickle."""
    from plugtorch.jit.serialize import save as _save
    _save(m, f)


def load(f, map_location=None):
    """Load what ``save`` wrote, on ``map_location`` (default: the devices it was saved from).
    Needs no model code: the graph's ops are plugtorch ops."""
    from plugtorch.jit.serialize import load as _load
    return _load(f, map_location=map_location)


def is_tracing() -> bool:
    from plugtorch.dispatch import dispatcher as D
    return D.current_recorder() is not None
