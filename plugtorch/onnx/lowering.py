"""Lowering op-level graphs to ONNX nodes, call by call, through the export table.

The exporter traces the model once per dynamic-axis probe (``exporter.py``); this module walks
those op-level graphs in lockstep, call by call:

* an int argument that differs between the traces follows a dynamic axis: it becomes a
  ``SymInt`` (an affine function of the axes' sizes), emitted as Shape/Gather arithmetic;
* a call whose tensor arguments are all known at export (weights, constants) and takes no
  ``SymInt`` is folded: plugtorch eager computed it while lowering, and the result becomes an
  initializer;
* a call whose op the table maps emits ONNX nodes through its entry;
* any other composite op is traced again at the op level, running its decomposition on the
  call's real tensors under a nested ``plugtorch.jit`` tracer, and its calls are lowered in turn;
* a core op without a mapping raises ``UnsupportedOperatorError`` naming the op, the source
  line and the opsets tried.

Every value keeps the real tensor each trace computed (plugtorch eager, under no_grad): the
decompositions run on them and constant folding reads them. In-place writes (``copy_``) are
functionalized: a write through a view scatters into its base, and views read after a write to
their base are emitted again from it.
"""
from __future__ import annotations

import numpy as np

import plugtorch as pt
from plugtorch.dispatch import dispatcher as D
from plugtorch.dispatch.host import is_host_decomposition
from plugtorch.dispatch.registry import OUT_INPLACE
from plugtorch.jit.ir import substitute, values_in
from plugtorch.jit.tracer import Tracer, flatten_tensors
from plugtorch.onnx.builder import GraphBuilder, _at
from plugtorch.onnx.errors import OnnxExporterError, UnsupportedOperatorError
from plugtorch.onnx.table import lookup
from plugtorch.onnx.values import SymInt, Val, ViewRecipe, has_symint, is_int, real_args, vals_in


class Lowering(GraphBuilder):
    """Lowers op-level graphs (one per trace) into ONNX nodes and initializers.

    ``sizes[k]``: each symbol's size in trace ``k`` (trace 0 is the example, traces 1..n each
    grow one symbol by 1, the last two grow all by 2 and far out to check the affine fit)."""

    def __init__(self, onnx, opset, fold, sizes, names=None):
        super().__init__(onnx, opset, fold, names)
        self.sizes = sizes
        self.symbols = list(sizes[0]) if sizes else []
        self.ntraces = len(sizes) if sizes else 1
        self.runtime_sizes = {}     # per-trace sizes -> the SymInt of a result dim no affine fit gives

    # ---- walking the graphs ---------------------------------------------------------------------------
    def merge(self, temps, where):
        """One template from the per-trace templates: Vals must agree, ints that differ become
        SymInts, anything else must be equal."""
        t0 = temps[0]
        c = t0.__class__
        if c is Val:
            if any(t is not t0 for t in temps):
                raise _structure(where, "a tensor argument differs between the probes")
            return t0
        if c is bool or t0 is None or c is str:
            if any(t != t0 or t.__class__ is not c for t in temps):
                raise _structure(where, f"the argument {t0!r} changes with the dynamic axes")
            return t0
        if c is int:
            vals = [t for t in temps]
            if any(not is_int(v) for v in vals):
                raise _structure(where, f"the argument {t0!r} changes type with the dynamic axes")
            if all(v == t0 for v in vals):
                return t0
            try:
                return self.symint(vals, where)
            except OnnxExporterError:
                # an int that is, in every trace, a size only read at run time plus a constant
                # (y.shape[2] - 1 of a strided convolution's y)
                for sizes, s in self.runtime_sizes.items():
                    if all(v - n == vals[0] - sizes[0] for v, n in zip(vals, sizes)):
                        return SymInt(vals[0], vals[0] - sizes[0], (), source=s.source)
                raise
        if c is float:
            if any(t.__class__ is not float or not (t == t0 or (t != t and t0 != t0)) for t in temps):
                raise _structure(where, f"the float argument {t0!r} changes with the dynamic axes (a number "
                                        "computed from a tensor's size?); ONNX export can follow sizes only "
                                        "through integer arguments")
            return t0
        if c in (list, tuple) or c is pt.Size:
            if any(t.__class__ is not c or len(t) != len(t0) for t in temps):
                raise _structure(where, "an argument list changes length with the dynamic axes")
            merged = [self.merge([t[i] for t in temps], where) for i in range(len(t0))]
            return c(merged) if c is not pt.Size or not has_symint(merged) else tuple(merged)
        if c is dict:
            if any(t.__class__ is not dict or t.keys() != t0.keys() for t in temps):
                raise _structure(where, "keyword arguments change with the dynamic axes")
            return {k: self.merge([t[k] for t in temps], where) for k in t0}
        if c is slice:
            return slice(*(self.merge([getattr(t, a) for t in temps], where) for a in ("start", "stop", "step")))
        for t in temps[1:]:
            if not (t is t0 or t == t0):
                raise _structure(where, f"the argument {t0!r} changes with the dynamic axes")
        return t0

    def symint(self, vals, where, what="the integer argument"):
        """Fit ``vals`` (one per trace) as const + sum(a_s * size_s); the last traces check it."""
        if self.ntraces < 3:
            raise _structure(where, "an integer argument differs between traces")
        base = self.sizes[0]
        coef = []
        const = vals[0]
        for j, sym in enumerate(self.symbols, start=1):
            a = vals[j] - vals[0]     # trace j grows `sym` by 1
            if a:
                coef.append((sym, a))
                const -= a * base[sym]
        # the traces after the fitting ones check the fit (all grown by 2, and all far out)
        if any(const + sum(a * check[s] for s, a in coef) != v
               for check, v in zip(self.sizes[len(self.symbols) + 1:], vals[len(self.symbols) + 1:])):
            raise _structure(where, f"{what} ({vals[0]} in the example) follows the dynamic axes "
                                    f"({', '.join(self.symbols)}) in a way that is not affine (a product of two "
                                    "dynamic sizes, or a division: a strided convolution's or pooling's output "
                                    "size); use -1 in reshape/view, or keep one of those axes static")
        if not coef:
            raise _structure(where, f"the integer argument {vals[0]} differs between traces")
        return SymInt(vals[0], const, tuple(coef))

    def new_val(self, jvals, tensors, where):
        """A Val for the per-trace jit Values ``jvals`` (same position in each trace)."""
        if any(len(j.shape) != len(jvals[0].shape) for j in jvals):
            raise _structure(where, "a result's rank changes with the dynamic axes")
        dims = []
        val = Val(tensors, None, False, jvals[0].dtype, dims)
        for d in range(len(jvals[0].shape)):
            sizes = [j.shape[d] for j in jvals]
            if all(s == sizes[0] for s in sizes):
                dims.append(sizes[0])
                continue
            known = self.runtime_sizes.get(tuple(sizes))
            if known is not None:       # (the same size as an earlier value's: read it from there)
                dims.append(known)
                continue
            try:
                dims.append(self.symint(sizes, where, f"the size of dim {d} of its result"))
            except OnnxExporterError:
                # no affine function of the axes (a strided convolution's or pooling's output
                # size, a floor division): ONNX computes it; a later size that needs it reads it
                # from this value's run-time shape
                s = SymInt(sizes[0], 0, (), source=(val, d))
                self.runtime_sizes.setdefault(tuple(sizes), s)
                dims.append(s)
        return val

    def lower(self, oplists, envs, parent=None):
        """Lower the calls of one graph per trace (in lockstep); ``envs[k]``: jit Value -> Val."""
        n = len(oplists[0])
        for k, ol in enumerate(oplists):
            if len(ol) != n:
                raise _structure(_where(parent, None, None), f"the traced program makes {n} calls on the example "
                                 f"and {len(ol)} on a probe with other dynamic sizes (a loop over a dynamic axis?)")
        for j in range(n):
            calls = [ol[j] for ol in oplists]
            op = calls[0].op
            site = parent[1] if parent else calls[0].site
            where = _where(parent, op.name, site)
            if any(c.op is not op for c in calls):
                raise _structure(where, f"a probe with other dynamic sizes calls '{calls[1].op.name}' here")
            temps = []
            for k, c in enumerate(calls):
                env = envs[k]
                try:
                    temps.append(substitute((list(c.args), dict(c.kwargs)), env.__getitem__))
                except KeyError:
                    raise OnnxExporterError(f"plugtorch.onnx.export: op '{op.name}'{_at(site)} reads a value the "
                                            "traced graph does not define") from None
            args, kwargs = self.merge(temps, where)
            self.call(op, args, kwargs, temps, calls, envs, site, parent)

    def call(self, op, args, kwargs, temps, calls, envs, site, parent):
        for v in vals_in((args, kwargs)):
            self.name(v)      # views of roots written since are emitted again (and their const updated)
        entry = lookup(op.name)
        inplace = "inplace" in op.tags or op.out_kind == OUT_INPLACE
        foldable = (self.fold and not inplace and "random" not in op.tags and not has_symint((args, kwargs))
                    and all(v.const for v in vals_in((args, kwargs))))
        why = None
        if entry is not None and entry.since <= self.opset and entry.declines is not None:
            why = entry.declines(self.opset, *args, **kwargs)
        usable = entry is not None and entry.since <= self.opset and not why
        if not foldable and not usable:
            if op.decomposition is not None and not inplace and not is_host_decomposition(op):
                return self.decompose(op, temps, calls, envs, site, parent)
            raise UnsupportedOperatorError(_unsupported(op, entry, self.opset, site, parent, why))
        results = []
        for k, c in enumerate(calls):
            a, kw = real_args(temps[k][0], k), real_args(temps[k][1], k)
            with pt.no_grad():
                results.append(D.dispatch(op, *a, **kw))
        outs = []          # (per-trace jit Values, Val) for the call's tensor results
        jouts = [values_in(c.outs) for c in calls]
        touts = [flatten_tensors((r,))[0] for r in results]
        for i in range(len(jouts[0])):
            jv = [jo[i] for jo in jouts]
            known = envs[0].get(jv[0])
            if known is not None:
                outs.append((jv, known, False))
                continue
            val = self.new_val(jv, [to[i] for to in touts], _where(parent, op.name, site))
            for k in range(len(jv)):
                envs[k][jv[k]] = val
            outs.append((jv, val, True))
        new = [v for _, v, is_new in outs if is_new]
        if foldable:
            for v in new:
                v.const = True
                v.name = self.tensor_const(v.tensors[0])
        else:
            self.cur = (op.name, site, [v for _, v, _ in outs])
            try:
                names = entry.fn(self, *args, **kwargs)
            finally:
                self.cur = ("", "", [])
            if names is None:
                names = []
            if len(names) != len(outs) and not inplace:
                raise AssertionError(f"onnx mapping of {op.name} returned {len(names)} names for {len(outs)} results")
            for (jv, v, is_new), nm in zip(outs, names):
                if is_new:
                    v.name = nm
                    self.expect[nm] = (v.dtype, v.dims, op.name, site)
        # views: remember how to emit them again from their base
        for jv, v, is_new in outs:
            if not is_new or jv[0].root is jv[0]:
                continue
            parents = vals_in(args)
            if not parents:
                continue
            p = parents[0]
            index = [o[1] for o in outs].index(v)
            v.view = ViewRecipe(p, entry if usable else None, args, kwargs, index, op.name, site)
            v.root = p.root
            v.seen = p.root.version

    def decompose(self, op, temps, calls, envs, site, parent):
        """Export a composite op through its decomposition, traced on the call's real tensors."""
        subs, envs2, souts = [], [], []
        for k, c in enumerate(calls):
            a, kw = real_args(temps[k][0], k), real_args(temps[k][1], k)
            tensors, _ = flatten_tensors(a, kw)
            vals = vals_in(temps[k])
            tr = Tracer(warn=False)
            env = {}
            for i, t in enumerate(tensors):
                env[tr.add_input(t, i)] = vals[i]
            try:
                with tr, pt.no_grad():
                    res = op.decomposition(*a, **kw)
            except NotImplementedError as e:      # (istft's complex views, say)
                raise UnsupportedOperatorError(
                    f"plugtorch.onnx.export: op '{op.name}'{_at(site)} has no ONNX mapping for opset {self.opset} "
                    f"and its decomposition cannot be traced at export ({e})") from e
            if tr.graph.breaks or tr.graph.guards:
                what = (tr.graph.breaks or tr.graph.guards)[0][0]
                raise UnsupportedOperatorError(
                    f"plugtorch.onnx.export: op '{op.name}'{_at(site)} has no ONNX mapping for opset {self.opset} "
                    f"and its decomposition reads tensor data into Python ({what}), so it cannot export through it")
            souts.append(tr._out_template(res))
            subs.append(tr.graph)
            envs2.append(env)
        where = _where(parent, op.name, site)
        self.bind_captures([s.captures for s in subs], envs2, where, subs[0].ops)
        self.lower([s.ops for s in subs], envs2, parent=parent or (op.name, site))
        for k, c in enumerate(calls):
            for jv, sv in zip(values_in(c.outs), values_in(souts[k])):
                val = envs2[k].get(sv)
                if val is None:
                    raise OnnxExporterError(f"plugtorch.onnx.export: the decomposition of '{op.name}'{_at(site)} "
                                            "returned a value it did not compute")
                if jv not in envs[k]:
                    envs[k][jv] = val

    def bind_captures(self, caps, envs, where, ops=()):
        """Captured tensors (weights, constants built outside the dispatcher) as constant Vals;
        ``ops``: the first trace's calls (to name the op a constant that changes feeds)."""
        n = len(caps[0])
        if any(len(c) != n for c in caps):
            raise _structure(where, "the probes with other dynamic sizes capture other constants")
        for i in range(n):
            vs = [c[i] for c in caps]
            t0 = vs[0].tensor
            for v in vs[1:]:
                t = v.tensor
                if t is not t0 and (tuple(t.shape) != tuple(t0.shape) or t.dtype is not t0.dtype or
                                    not np.array_equal(t.detach().cpu().numpy(), t0.detach().cpu().numpy())):
                    user = next((c for c in ops if any(x is vs[0] for x in values_in((c.args, c.kwargs)))), None)
                    fed = (f" (the {_nth(user, vs[0])} argument of op '{user.op.name}'" +
                           (f", traced at {user.site})" if user.site else ")")) if user else ""
                    raise _structure(where, f"a constant tensor {t0.dtype} {list(t0.shape)} the program builds{fed} "
                                            "depends on the dynamic axes' sizes (built from a Python list or "
                                            "NumPy?); build it with plugtorch ops from the input's shape, or keep "
                                            "that axis static")
            val = Val([v.tensor for v in vs], None, True, t0.dtype, list(t0.shape))
            val.name = self.captured(t0)
            for k, v in enumerate(vs):
                envs[k][v] = val


def _nth(call, value) -> str:
    args = list(call.args) + list(call.kwargs.values())
    for i, a in enumerate(args):
        if any(x is value for x in values_in(a)):
            return {0: "first", 1: "second", 2: "third"}.get(i, f"#{i + 1}")
    return "an"


def _where(parent, op, site) -> str:
    if parent and op is None:
        return f"the decomposition of '{parent[0]}'{_at(parent[1])}"
    if op is None:
        return "the traced program"
    if parent:
        return f"op '{op}' in the decomposition of '{parent[0]}'{_at(parent[1])}"
    return f"op '{op}'{_at(site)}"


def _structure(where, why):
    return OnnxExporterError(f"plugtorch.onnx.export: {where}: {why}. The exporter traced the model at other sizes "
                             "of the dynamic axes and compares the graphs; export with those axes static, or make "
                             "the model's Python code independent of their sizes")


def _unsupported(op, entry, opset, site, parent, why) -> str:
    inside = f" (in the decomposition of '{parent[0]}')" if parent else ""
    at = site or "an unknown line"
    msg = (f"plugtorch.onnx.export: the op '{op.name}'{inside} traced at {at} has no ONNX mapping: tried opset "
           f"{opset}")
    if entry is None:
        msg += " (the export table has no entry for it at any opset)"
    elif entry.since > opset:
        msg += f"; the table maps it from opset {entry.since}: pass opset_version={entry.since} or later"
    else:
        msg += f" (its mapping does not cover this call: {why})"
    if "random" in op.tags:
        msg += "; it draws random numbers: export the model in eval mode (model.eval()) so dropout is off"
    elif op.decomposition is None:
        msg += "; it is a core op, so there is no decomposition to export instead"
    elif is_host_decomposition(op):
        msg += "; only a cpu kernel computes it (other devices copy to cpu), so there is no decomposition into " \
               "other ops to export instead"
    return msg + ". Rewrite that line with ops the exporter maps, or add a mapping to plugtorch/onnx/table.py"
