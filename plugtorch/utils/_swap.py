"""``plugtorch.utils.swap_tensors``: exchange the contents of two tensor objects in place."""
from __future__ import annotations

import weakref

_POISONED = ("Trying to execute AccumulateGrad node that was poisoned by swap_tensors this can happen when "
             "you try to run backward on a tensor that was swapped. Run backward before swapping, or run the "
             "forward again after it.")


def _poisoned(grad):
    raise RuntimeError(_POISONED)


def _foreign_weakrefs(t) -> int:
    """Weak references to ``t`` beyond plugtorch's own (its gradient accumulator's, its base's
    set of live views)."""
    ours = set()
    acc = t.__dict__.get("_acc")
    if acc is not None:
        ours.add(id(acc._var))
    base = t._base
    if base is not None and base._views is not None:
        ours.update(id(r) for r in base._views.data)
    return sum(1 for r in weakref.getweakrefs(t) if id(r) not in ours)


def swap_tensors(t1, t2) -> None:
    """Swap what ``t1`` and ``t2`` hold (data, dtype, device, autograd fields, Python attributes
    and class) while each keeps its identity, as ``torch.utils.swap_tensors``. A graph recorded
    before the swap can no longer accumulate into the swapped leaves.

    >>> import plugtorch as pt
    >>> a, b = pt.ones(2), pt.zeros(3, dtype=pt.int64)
    >>> swap_tensors(a, b); a.tolist(), b.tolist()
    ([0, 0, 0], [1.0, 1.0])
    """
    from plugtorch._tensor import Tensor
    if not isinstance(t1, Tensor) or not isinstance(t2, Tensor):
        raise TypeError(f"swap_tensors(): expected two Tensors, got {type(t1).__name__} and {type(t2).__name__}")
    if _foreign_weakrefs(t1):
        raise RuntimeError("Cannot swap t1 because it has weakref associated with it")
    if _foreign_weakrefs(t2):
        raise RuntimeError("Cannot swap t2 because it has weakref associated with it")
    for t in (t1, t2):
        acc = t.__dict__.pop("_acc", None)
        if acc is not None:   # its graph would accumulate into the swapped object: refuse, as torch
            acc._pre_hooks = {0: [_poisoned]}
    t1.__class__, t2.__class__ = t2.__class__, t1.__class__
    t1.__dict__, t2.__dict__ = t2.__dict__, t1.__dict__
