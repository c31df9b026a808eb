"""parameters_to_vector and vector_to_parameters.

>>> import plugtorch as pt
>>> ps = [pt.nn.Parameter(pt.ones(2, 2)), pt.nn.Parameter(pt.zeros(3))]
>>> pt.nn.utils.parameters_to_vector(ps).tolist()
[1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
"""
from __future__ import annotations

import plugtorch as pt


def _check_same_device(param, old):
    if old is not None and param.device != old:
        raise TypeError(f"Found two parameters on different devices, this is currently not supported "
                        f"({old} and {param.device})")
    return param.device


def parameters_to_vector(parameters):
    """All parameters flattened and concatenated into one 1-D tensor."""
    dev = None
    vec = []
    for p in parameters:
        dev = _check_same_device(p, dev)
        vec.append(p.reshape(-1))
    return pt.cat(vec)


def vector_to_parameters(vec, parameters) -> None:
    """Copy consecutive slices of ``vec`` into ``parameters`` (replacing their data)."""
    if not isinstance(vec, pt.Tensor):
        raise TypeError(f"expected plugtorch.Tensor, but got: {type(vec).__name__}")
    dev = None
    offset = 0
    for p in parameters:
        dev = _check_same_device(p, dev)
        n = p.numel()
        p.data = vec[offset:offset + n].reshape(tuple(p.shape)).detach().clone()
        offset += n
    if offset != vec.numel():
        raise RuntimeError(f"vector_to_parameters: the vector has {vec.numel()} elements but the parameters "
                           f"need {offset}")
