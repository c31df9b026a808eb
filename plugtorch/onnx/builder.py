"""The emitting context the table's functions write ONNX nodes through.

``GraphBuilder`` holds the nodes and initializers of the model being built and the call being
emitted (``g.out``: its first result). Table functions call ``g.input`` (a Val or a Python
scalar as an ONNX name, cast as asked), ``g.node`` (append an operator), ``g.const``/``g.scalar``
(initializers), ``g.ints`` (a 1-D int64 tensor of sizes, SymInts emitted from the inputs'
run-time shapes), ``g.reduce`` (opset-aware reductions) and ``g.static`` (a size that must not
follow a dynamic axis).

Views become copies in ONNX. A view remembers how it was made from its base (``ViewRecipe``):
``assign`` writes through it by scattering into the base, and a view read after its base was
written is emitted again from the new base.
"""
from __future__ import annotations

import numpy as np

import plugtorch as pt
from plugtorch._tensor import Tensor
from plugtorch.onnx.errors import OnnxExporterError
from plugtorch.onnx.values import SymInt, Val, ViewRecipe, has_symint, onnx_dtype


class GraphBuilder:
    """The ONNX graph being built: nodes, initializers, and the call being emitted."""

    def __init__(self, onnx, opset, fold, names=None):
        self.onnx = onnx
        self.helper = onnx.helper
        self.opset = opset
        self.fold = fold
        self.nodes = []
        self.initializers = {}        # name -> numpy array
        self.param_names = names or {}   # id(tensor) -> state_dict name
        self._param_set = set(self.param_names.values())
        self.expect = {}              # output name -> (dtype, dims, op, site)
        self.sym_source = {}          # symbol -> (input name, axis)
        self._consts = {}
        self._cache = {}
        self._count = 0
        self._override = {}
        self.cur = ("", "", [])       # (op name, site, out Vals) of the call being emitted

    # ---- names and constants -----------------------------------------------------------------------
    def fresh(self, hint) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, array, hint="const") -> str:
        """An initializer holding ``array`` (small constants shared by value)."""
        a = np.asarray(array)
        key = None
        if a.size <= 64:
            key = (a.dtype.str, a.shape, a.tobytes())
            hit = self._consts.get(key)
            if hit is not None:
                return hit
        name = self.fresh(hint)
        self.initializers[name] = np.array(a, order="C")       # (ascontiguousarray makes 0-d 1-d)
        if key is not None:
            self._consts[key] = name
        return name

    def scalar(self, value, dtype) -> str:
        """A 0-d constant of plugtorch dtype ``dtype``."""
        return self.const(np.array(value, dtype=dtype.numpy), "scalar")

    def tensor_const(self, t: Tensor, hint="const") -> str:
        """An initializer holding tensor ``t``'s values now."""
        return self.const(t.detach().cpu().numpy(), hint)

    def captured(self, t: Tensor) -> str:
        """The initializer of a tensor the model captured: a parameter or buffer under its
        ``state_dict`` name."""
        name = self.param_names.get(id(t))
        if name is None:
            return self.tensor_const(t)
        if name not in self.initializers:
            self.initializers[name] = np.array(t.detach().cpu().numpy(), order="C")
        return name

    def is_parameter(self, v: Val) -> bool:
        """Whether ``v`` is a parameter or buffer of the model, stored under its own name."""
        return self.name(v) in self._param_set and v.name in self.initializers

    # ---- emitting ------------------------------------------------------------------------------------
    def node(self, op_type, inputs, n_out=1, **attrs):
        """Append an ONNX node; returns its output name (a list when ``n_out != 1``)."""
        base = self.fresh(f"{self.cur[0] or 'graph'}/{op_type}")
        outs = [f"{base}:{i}" if n_out != 1 else base for i in range(n_out)]
        self.nodes.append(self.helper.make_node(op_type, [i if i is not None else "" for i in inputs], outs,
                                                name=base, **attrs))
        return outs[0] if n_out == 1 else outs

    def name(self, v: Val) -> str:
        """The ONNX name of ``v`` now (a view of a root written since is emitted again)."""
        o = self._override.get(v)
        if o is not None:
            return o
        if v.view is not None and v.seen != v.root.version:
            self._refresh(v)
        return v.name

    def input(self, x, dtype=None) -> str:
        """A tensor operand: a Val (cast to ``dtype`` if given) or a Python scalar as a 0-d
        constant of ``dtype``."""
        if isinstance(x, Val):
            n = self.name(x)
            return n if dtype is None or dtype is x.dtype else self.cast(n, dtype)
        if isinstance(x, SymInt):
            n = self.node("Squeeze", [self.ints([x]), self.const(np.array([0], np.int64))])
            return n if dtype is None or dtype is pt.int64 else self.cast(n, dtype)
        if dtype is None:
            raise AssertionError("a scalar operand needs a dtype")
        return self.scalar(x, dtype)

    def cast(self, name, dtype) -> str:
        return self.node("Cast", [name], to=onnx_dtype(self.onnx, dtype))

    @property
    def out(self) -> Val:
        """The (first) result of the call being emitted."""
        return self.cur[2][0]

    def fail(self, why, exc=OnnxExporterError):
        op, site, _ = self.cur
        raise exc(f"plugtorch.onnx.export: op '{op}'{_at(site)}: {why}")

    def static(self, x, what="this argument"):
        """``x`` with no SymInt in it, or an error naming the argument."""
        if has_symint(x):
            self.fail(f"{what} depends on the size of a dynamic axis ({x!r}) and this mapping needs it fixed; "
                      "export with that axis static")
        return x

    def static_dim(self, v: Val, d: int) -> int:
        x = v.dims[d]
        if isinstance(x, SymInt):
            self.fail(f"dim {d} of its input follows a dynamic axis and this mapping needs it fixed; export with "
                      "that axis static")
        return x

    def ints(self, seq) -> str:
        """A 1-D int64 tensor of ``seq`` (ints and SymInts): a constant when all are ints."""
        seq = list(seq)
        if not has_symint(seq):
            return self.const(np.array(seq, dtype=np.int64).reshape(len(seq)))
        parts, run = [], []
        for x in seq:
            if isinstance(x, SymInt):
                if run:
                    parts.append(self.const(np.array(run, dtype=np.int64)))
                    run = []
                parts.append(self.sym_value(x))
            else:
                run.append(int(x))
        if run:
            parts.append(self.const(np.array(run, dtype=np.int64)))
        return parts[0] if len(parts) == 1 else self.node("Concat", parts, axis=0)

    def sym_value(self, s: SymInt) -> str:
        """A [1] int64 tensor holding ``s`` at run time (Shape/Gather of the inputs)."""
        key = ("sym",) + s.key()
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if s.source is not None:         # a size read from a value's run-time shape
            val, d = s.source
            if self.name(val) is None:
                self.fail(f"a size of its result ({s.value} in the example) follows the dynamic axes in a way "
                          "only the result's run-time shape knows (a strided convolution's output size), and this "
                          "mapping needs it beforehand; keep those axes static")
            saved = self.cur
            self.cur = ("shape", "", [])
            total = self.node("Gather", [self.node("Shape", [self.name(val)]), self.const(np.array([d], np.int64))],
                              axis=0)
            if s.const:
                total = self.node("Add", [total, self.const(np.array([s.const], np.int64))])
            self.cur = saved
            self._cache[key] = total
            return total
        total = None
        for sym, a in s.coef:
            size = self.sym_size(sym)
            term = size if a == 1 else self.node("Mul", [size, self.const(np.array([a], np.int64))])
            total = term if total is None else self.node("Add", [total, term])
        if s.const:
            total = self.node("Add", [total, self.const(np.array([s.const], np.int64))])
        self._cache[key] = total
        return total

    def sym_size(self, sym) -> str:
        key = ("size", sym)
        hit = self._cache.get(key)
        if hit is None:
            src, axis = self.sym_source[sym]
            saved = self.cur
            self.cur = ("shape", "", [])
            shape = self.node("Shape", [src])
            hit = self.node("Gather", [shape, self.const(np.array([axis], np.int64))], axis=0)
            self.cur = saved
            # emitted once, near the top: later calls may sit in a folded region
            self._cache[key] = hit
        return hit

    def shape_of(self, v: Val) -> str:
        """``v``'s shape as a 1-D int64 tensor (a constant unless a dim is dynamic)."""
        return self.ints(v.dims)

    def reduce(self, op_type, name, axes, keepdims) -> str:
        """ReduceSum/Mean/Max/Min/Prod over ``axes`` (None: all), opset-aware: the axes are an
        input from opset 18 on (13 for ReduceSum) and an attribute before."""
        kd = 1 if keepdims else 0
        if axes is None:
            return self.node(op_type, [name], keepdims=kd)
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.node(op_type, [name, self.const(np.array(axes, np.int64))], keepdims=kd)
        return self.node(op_type, [name], axes=axes, keepdims=kd)

    def unsqueeze(self, name, axes) -> str:
        return self.node("Unsqueeze", [name, self.const(np.array(list(axes), np.int64))])

    def squeeze(self, name, axes) -> str:
        return self.node("Squeeze", [name, self.const(np.array(list(axes), np.int64))])

    def reshape(self, name, dims) -> str:
        dims = list(dims)
        zero = any(d == 0 for d in dims if not isinstance(d, SymInt))
        return self.node("Reshape", [name, self.ints(dims)], **({"allowzero": 1} if zero else {}))

    def value(self, v) -> np.ndarray | None:
        """The value of ``v`` as a NumPy array when it is known at export and folding is on."""
        if isinstance(v, Val) and self.fold:
            self.name(v)
            if v.const:
                return v.tensors[0].detach().cpu().numpy()
        return None

    # ---- views and in-place writes ---------------------------------------------------------------
    def _refresh(self, v: Val):
        r = v.view
        parent_name = self.name(r.parent)
        root = v.root
        if self.fold and root.const and r.parent.const:
            v.name = self.tensor_const(v.tensors[0])
            v.const = True
        else:
            v.name = self._replay(r, parent_name)
            v.const = False
        v.seen = root.version

    def _replay(self, r: ViewRecipe, parent_name) -> str:
        if r.entry is None:
            raise OnnxExporterError(f"plugtorch.onnx.export: op '{r.op}'{_at(r.site)} made a view whose base is "
                                    "written in place later, and it has no ONNX mapping to emit it again from the "
                                    "written base; clone() the view, or write a copy")
        saved, saved_cur = dict(self._override), self.cur
        self._override[r.parent] = parent_name
        self.cur = (r.op, r.site, [])
        try:
            names = r.entry.fn(self, *r.args, **r.kwargs)
        finally:
            self._override, self.cur = saved, saved_cur
        return names[r.index]

    def assign(self, dst: Val, new_name: str, const: bool):
        """``dst``'s contents become ``new_name`` (same shape and dtype): a write through a view
        scatters into the base; views of the written base are emitted again when read."""
        root = dst.root
        if root is dst:
            dst.name = new_name
            dst.const = const
            dst.version += 1
            return
        chain = []
        v = dst
        while v is not root:
            chain.append(v.view)
            v = v.view.parent
        idx = self.iota(root)
        for r in reversed(chain):
            idx = self._replay(r, idx)
        flat = self.const(np.array([-1], np.int64))
        scat = self.node("ScatterElements", [self.node("Reshape", [self.name(root), flat]),
                                             self.node("Reshape", [idx, flat]),
                                             self.node("Reshape", [new_name, flat])], axis=0)
        root.name = self.node("Reshape", [scat, self.shape_of(root)])
        root.const = False
        root.version += 1

    def iota(self, v: Val) -> str:
        """int64 positions 0..numel-1 in ``v``'s shape (where each element of ``v`` lives)."""
        if not v.dynamic:
            return self.const(np.arange(int(np.prod(v.shape, dtype=np.int64)), dtype=np.int64).reshape(v.shape))
        shape = self.shape_of(v)
        n = self.node("ReduceProd", [shape], keepdims=0)
        rng = self.node("Range", [self.const(np.array(0, np.int64)), n, self.const(np.array(1, np.int64))])
        return self.node("Reshape", [rng, shape])


def _at(site) -> str:
    return f" (traced at {site})" if site else ""
