"""What every change works with: ``Gen`` (the call being changed, the sample context for
new values, the rng) and helpers that find and replace tensor arguments."""
from __future__ import annotations

import numpy as np

from plugtorch.conformance.entry import Input
from plugtorch.conformance.samples import usable_layout

from ..arguments import bind, signature_for
from ..call import error

# dims that may point one past the last dim
DIM_PAST_END = {"unsqueeze": 1, "stack": 1, "diag_embed": 1}    # (diag_embed: dims of its result, one more)


class Gen:
    """What a change works on: the call, the sample context (for new values) and the rng."""

    def __init__(self, call, ctx, rng):
        self.call, self.ctx, self.rng = call, ctx, rng

    def args(self):
        sig = signature_for(self.call.entry) if self.call.target == "op" else None
        return bind(self.call.op, self.call.sample.args, self.call.sample.kwargs, sig)

    def pick(self, items):
        items = list(items)
        return items[int(self.rng.integers(len(items)))] if items else None

    def set(self, key, value):
        s = self.call.sample
        if isinstance(key, int):
            args = list(s.args)
            args[key] = value
            s.args = tuple(args)
        else:
            s.kwargs[key] = value

    def set_variadic(self, values):
        """Replace the varargs part (``view(x, 2, 3)``'s sizes) with ``values``."""
        s = self.call.sample
        first = next(a.key for a in self.args() if a.variadic)
        s.args = tuple(s.args[:first]) + tuple(values)

    def invalid(self, what, cls):
        self.call.invalid = what
        self.call.expect = error(cls)
        return what


def tensor_inputs(gen, kinds=("tensor", "index", "mask")):
    """(arg, path, Input) for every tensor, inside lists too."""
    out = []
    for a in gen.args():
        if a.kind in kinds and isinstance(a.value, Input):
            out.append((a, None, a.value))
        elif isinstance(a.value, (list, tuple)):
            for i, v in enumerate(a.value):
                if isinstance(v, Input) and ("tensor" in kinds or a.kind != "tensors"):
                    out.append((a, i, v))
    return out


def replace_input(gen, arg, path, new):
    if path is None:
        gen.set(arg.key, new)
    else:
        seq = list(arg.value)
        seq[path] = new
        gen.set(arg.key, type(arg.value)(seq))


def relaid(inp: Input, layout: str) -> Input:
    """The same logical values built with another layout (contiguous, transposed or stepped)."""
    v = inp.logical()
    layout = usable_layout(v.shape, layout)
    if layout == "transposed":
        base = np.ascontiguousarray(np.swapaxes(v, -1, -2))
    elif layout == "stepped":
        base = np.repeat(v, 2, axis=-1)      # every second element is the logical one
    else:
        base, layout = np.ascontiguousarray(v), "contiguous"
    return Input(base, inp.dtype, layout, tuple(v.shape), inp.requires_grad, inp.on_cpu)


def fresh(gen, shape, dtype, like: Input, **kw) -> Input:
    return Input(gen.ctx.values(shape, dtype=dtype, **kw), dtype, "contiguous", tuple(shape), like.requires_grad,
                 like.on_cpu)
