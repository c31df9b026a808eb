"""Modules under transforms: stack_module_state (ensembles through vmap) and
replace_all_batch_norm_modules_, as torch.func's.

>>> import plugtorch as pt
>>> models = [pt.nn.Linear(3, 2) for _ in range(4)]
>>> params, buffers = stack_module_state(models)
>>> tuple(params["weight"].shape), buffers
((4, 2, 3), {})
"""
from __future__ import annotations

import plugtorch as pt


def _stacked_leaf(tensors, name):
    grads = [t.requires_grad for t in tensors]
    if any(grads) and not all(grads):
        raise RuntimeError(f"Expected {name} from each model to have the same .requires_grad")
    result = pt.stack(tensors)
    return result.detach().requires_grad_() if all(grads) else result


def stack_module_state(models):
    """(params, buffers): each of the models' parameters and buffers stacked along a new first
    dim, keyed by name; the stacked parameters are new leaves (an optimizer may take them).
    ``vmap(lambda p, b, x: functional_call(models[0], (p, b), (x,)), in_dims=(0, 0, None))``
    then runs the ensemble."""
    models = list(models)
    if len(models) == 0:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or not any(m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/eval mode.")
    if not all(type(m) is type(models[0]) for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    out = []
    for named in ("named_parameters", "named_buffers"):
        every = [dict(getattr(m, named)()) for m in models]
        out.append({k: _stacked_leaf(tuple(d[k] for d in every), k) for k in every[0]})
    return tuple(out)


def replace_all_batch_norm_modules_(root):
    """Make every BatchNorm in ``root`` stop tracking running statistics (running_mean,
    running_var and num_batches_tracked become None), in place; returns ``root``."""
    from plugtorch.nn.modules.normalization import _BatchNorm
    for m in root.modules():
        if isinstance(m, _BatchNorm) and m.track_running_stats:
            m.running_mean = None
            m.running_var = None
            m.num_batches_tracked = None
            m.track_running_stats = False
    return root
