"""``jit.save`` / ``jit.load``: a traced graph in one file, JSON and safetensors, never pickle.

The file is a ``plugtorch.save`` file (safetensors with a JSON structure in its header) holding:
the format name and version, the op-level graph (each call an op name of the registry, its
arguments with value references and plain constants, its results), the inputs' shapes and
dtypes, and the captured tensors (weights, buffers, constants) as safetensors entries.

Loading validates every field before anything runs: the op names against the registry, value
references (defined before use, each defined once), constants (numbers, strings, None, dtypes,
devices, slices, tuples and lists of them), shapes and dtypes. The graph then runs through the
dispatcher on the device its tensors were loaded to — any backend, a plug-in's included — and
its first call on each input signature is traced into a kernel-level graph that later calls
replay. No code from the file runs: op names select registry entries, nothing is evaluated.
"""
from __future__ import annotations

import math
import os

from plugtorch import _dtypes
from plugtorch._device import device as _device
from plugtorch._tensor import Tensor
from plugtorch.dispatch import dispatcher as D
from plugtorch.dispatch import registry
from plugtorch.jit.ir import CAPTURE, GRAD, INPUT, Graph, OpCall, Struct, Value, substitute, values_in
from plugtorch.jit.tracer import ENABLE_GRAD

FORMAT = "plugtorch.jit"
VERSION = 1
MAX_VALUES = 10_000_000
MAX_NEST = 64


class _Bad(Exception):
    pass


# ---- save -------------------------------------------------------------------------------------
def _enc(t, op, depth=0):
    if depth > MAX_NEST:
        raise _Bad(f"op '{op}': arguments nest too deeply")
    c = t.__class__
    if c is Value:
        return {"v": t.index}
    if t is None or c in (bool, int, str):
        return t
    if c is float:
        return t
    if c is list:
        return [_enc(x, op, depth + 1) for x in t]
    if c is tuple:
        return {"tuple": [_enc(x, op, depth + 1) for x in t]}
    if c is slice:
        return {"slice": [_enc(t.start, op), _enc(t.stop, op), _enc(t.step, op)]}
    if t is Ellipsis:
        return {"ellipsis": True}
    if isinstance(t, _dtypes.dtype) or isinstance(t, _device):
        return t      # plugtorch.save encodes these
    if c is dict:
        return {"dict": [[k, _enc(v, op, depth + 1)] for k, v in t.items() if isinstance(k, str)]}
    if c is Struct:      # (a namedtuple or OrderedDict output: a loaded graph returns its tuple or dict)
        return _enc(t.items, op, depth)
    raise _Bad(f"op '{op}' takes an argument of type {type(t).__name__} ({t!r:.60}), which a saved graph "
               "cannot hold (it keeps numbers, strings, None, dtypes, devices, slices and lists of them)")


def to_structure(graph: Graph, names: dict | None = None) -> dict:
    """The graph as a structure ``plugtorch.save`` can write (tensors inline)."""
    if graph.backward_ran or any(c.kind == GRAD for c in graph.captures):
        raise RuntimeError("plugtorch.jit.save: this graph runs a backward pass (or reads .grad); only "
                           "forward graphs (inference) are saved — trace the model's forward to save it")
    if graph.breaks or graph.guards:
        what, site = (graph.breaks or graph.guards)[0][:2]
        raise RuntimeError(f"plugtorch.jit.save: the trace read tensor data into Python ({what} at {site}); "
                           "its graph is not a faithful record of the program and is not saved")
    if graph.late_reads:
        what, site = graph.late_reads[0]
        raise RuntimeError(f"plugtorch.jit.save: the traced call returns a Python number read from a tensor "
                           f"({what}() at {site}); a saved graph returns tensors only: return the tensor and "
                           "call .item() on the result")
    defined = {v.index for v in graph.inputs} | {v.index for v in graph.captures}
    ops = []
    try:
        for call in graph.ops:
            for v in values_in((call.args, call.kwargs)):
                if v.index not in defined:
                    raise _Bad(f"op '{call.op.name}' reads {v!r}, which no op of the graph produced")
            outs = values_in(call.outs)
            defined |= {v.index for v in outs}
            ops.append({"op": call.op.name, "args": _enc(list(call.args), call.op.name),
                        "kwargs": _enc(dict(call.kwargs), call.op.name),
                        "outs": _enc(call.outs, call.op.name), "site": call.site or ""})
            if call.grad is not True:   # (False: made under no_grad; "enable_grad": under enable_grad()
                # inside a call entered under no_grad, which records autograd under no_grad too)
                ops[-1]["grad"] = ENABLE_GRAD if call.grad == ENABLE_GRAD else False
        for v in values_in(graph.outputs):
            if v.index not in defined:
                raise _Bad(f"the output {v!r} is produced by no op of the graph")
        outputs = _enc(graph.outputs, "return")
    except _Bad as e:
        raise RuntimeError(f"plugtorch.jit.save: {e}") from None
    values = {}
    for v in graph.values:
        values[str(v.index)] = {"shape": list(v.shape), "dtype": v.dtype, "device": v.device}
    names = names or {}
    return {
        "format": FORMAT, "version": VERSION,
        "inputs": [v.index for v in graph.inputs],
        "captures": [{"v": v.index, "tensor": v.tensor.detach(), "name": names.get(id(v.tensor), ""),
                      "parameter": bool(getattr(v.tensor, "_is_param", False)),
                      "requires_grad": bool(v.tensor.requires_grad)}
                     for v in graph.captures],
        "values": values,
        "ops": ops,
        "outputs": outputs,
        "spec": _enc_spec(graph.input_spec),
    }


def _enc_spec(spec):
    if spec is None:
        return None
    kind, payload = spec
    if kind == "T":
        return ["T", payload]
    if kind in ("L", "U"):
        return [kind, [_enc_spec(s) for s in payload]]
    if kind == "D":
        return ["D", [[k, _enc_spec(s)] for k, s in payload.items()]]
    return ["C", _enc(payload, "input")]


def save(m, f) -> None:
    from plugtorch.jit.api import TracedFunction, TracedModule
    from plugtorch.serialization import save as _save
    if isinstance(m, LoadedGraph):
        graph, names = m._graph, m._names
    elif isinstance(m, TracedModule):
        graph = m._fn.graph
        names = {id(t): n for n, t in m._module.state_dict(keep_vars=True).items()} \
            if _has_keep_vars(m._module) else {id(t): n for n, t in m._module.named_parameters()}
    elif isinstance(m, TracedFunction):
        graph, names = m.graph, {}
    else:
        raise TypeError(f"plugtorch.jit.save: expected what plugtorch.jit.trace returns, got {type(m).__name__}; "
                        "trace the model first (plugtorch.jit.trace(model, example_inputs))")
    _save(to_structure(graph, names), f)


def _has_keep_vars(module) -> bool:
    try:
        module.state_dict(keep_vars=True)
        return True
    except TypeError:
        return False


# ---- load -------------------------------------------------------------------------------------------
def load(f, map_location=None):
    from plugtorch.serialization import load as _load
    name = os.fsdecode(f) if isinstance(f, (str, bytes, os.PathLike)) else getattr(f, "name", "<file object>")
    obj = _load(f, map_location=map_location)
    try:
        graph, names = from_structure(obj)
    except _Bad as e:
        raise RuntimeError(f"plugtorch.jit.load: '{name}' is not a valid saved graph: {e}") from None
    if map_location is not None:
        _remap_devices(graph, map_location)
    return LoadedGraph(graph, names, name)


def _remap_devices(graph, map_location):
    """Device constants in the ops' arguments (factories' device=) follow the weights."""
    if callable(map_location) and not isinstance(map_location, (str, _device)):
        return
    if isinstance(map_location, dict):
        table = {str(k): _device(v) if not isinstance(v, _device) else v for k, v in map_location.items()}

        def where(d):
            return table.get(str(d), d)
    else:
        target = _device(map_location) if not isinstance(map_location, _device) else map_location

        def where(d):
            return target

    def fix(t):
        c = t.__class__
        if isinstance(t, _device):
            return where(t)
        if c is list:
            return [fix(x) for x in t]
        if c is tuple:
            return tuple(fix(x) for x in t)
        if c is dict:
            return {k: fix(x) for k, x in t.items()}
        return t
    for call in graph.ops:
        call.args = fix(call.args)
        call.kwargs = fix(call.kwargs)
    for v in graph.values:
        v.device = where(v.device)


def _need(cond, why):
    if not cond:
        raise _Bad(why)


def _shape(s, where):
    _need(isinstance(s, list) and len(s) <= 64 and all(isinstance(d, int) and not isinstance(d, bool)
                                                        and 0 <= d < 2 ** 62 for d in s),
          f"{where}: a shape must be a list of non-negative integers, got {s!r:.80}")
    return tuple(s)


def from_structure(obj):
    _need(isinstance(obj, dict), "it holds no graph (a plain checkpoint? load it with plugtorch.load)")
    _need(obj.get("format") == FORMAT, f"its format is {obj.get('format')!r}, not {FORMAT!r}")
    _need(obj.get("version") == VERSION, f"it is version {obj.get('version')!r}; this plugtorch reads version "
                                         f"{VERSION} (upgrade plugtorch, or save the model again)")
    for k in ("inputs", "captures", "values", "ops", "outputs"):
        _need(k in obj, f"the field '{k}' is missing")
    raw_values = obj["values"]
    _need(isinstance(raw_values, dict) and len(raw_values) <= MAX_VALUES, "'values' must be a map")
    g = Graph()
    metas = {}
    for k, meta in raw_values.items():
        _need(isinstance(k, str) and k.isdigit(), f"value id {k!r} is not an integer")
        _need(isinstance(meta, dict), f"value {k}: its meta must be a map")
        shape = _shape(meta.get("shape"), f"value {k}")
        dt = meta.get("dtype")
        _need(isinstance(dt, _dtypes.dtype), f"value {k}: unknown dtype {dt!r:.40}")
        dev = meta.get("device")
        _need(isinstance(dev, _device), f"value {k}: device must be a device, got {dev!r:.40}")
        metas[int(k)] = (shape, dt, dev)
    values = {}

    def new_value(idx, kind, where):
        _need(isinstance(idx, int) and not isinstance(idx, bool) and idx in metas,
              f"{where}: reference to value {idx!r} that the 'values' map does not describe")
        _need(idx not in values, f"{where}: value {idx} is defined twice")
        shape, dt, dev = metas[idx]
        v = Value(idx, kind, shape, dt, dev)
        values[idx] = v
        return v

    _need(isinstance(obj["inputs"], list), "'inputs' must be a list")
    for pos, idx in enumerate(obj["inputs"]):
        v = new_value(idx, INPUT, f"input {pos}")
        v.pos = pos
        g.inputs.append(v)
    names = {}
    _need(isinstance(obj["captures"], list), "'captures' must be a list")
    for i, c in enumerate(obj["captures"]):
        _need(isinstance(c, dict) and isinstance(c.get("tensor"), Tensor), f"capture {i} holds no tensor")
        v = new_value(c.get("v"), CAPTURE, f"capture {i}")
        t = c["tensor"]
        _need(tuple(t.shape) == v.shape and t.dtype is v.dtype,
              f"capture {i}: the stored tensor is {t.dtype} {list(t.shape)} but the graph says {v.type_str()}")
        if c.get("requires_grad") is True and t.dtype.is_floating_point:
            t.requires_grad_(True)
        if c.get("parameter") is True:
            t._is_param = True
        v.tensor = t
        v.device = t.device
        name = c.get("name")
        if isinstance(name, str) and name:
            names[name] = t
        g.captures.append(v)
    _need(isinstance(obj["ops"], list), "'ops' must be a list")
    for i, rec in enumerate(obj["ops"]):
        where = f"op {i}"
        _need(isinstance(rec, dict), f"{where} is not a map")
        name = rec.get("op")
        _need(isinstance(name, str) and name in registry.OPS,
              f"{where}: unknown op {name!r:.60} (not in this plugtorch's op registry; the file needs a newer "
              "plugtorch or was modified)")
        op = registry.OPS[name]
        args = _dec(rec.get("args"), values, f"{where} ({name})", 0)
        kwargs = _dec(rec.get("kwargs"), values, f"{where} ({name})", 0)
        _need(isinstance(args, list), f"{where} ({name}): 'args' must be a list")
        _need(isinstance(kwargs, dict) and all(isinstance(k, str) for k in kwargs),
              f"{where} ({name}): 'kwargs' must be a map of names")
        try:
            op.signature.bind(*args, **kwargs)
        except TypeError as e:
            raise _Bad(f"{where}: the arguments do not fit {name}{op.signature}: {e}") from None
        # (an in-place op returns the tensor it wrote: a value its arguments already name)
        written = {v.index for v in values_in((args, kwargs))}
        outs = _dec_outs(rec.get("outs"), values, new_value, f"{where} ({name})", 0, written)
        site = rec.get("site") if isinstance(rec.get("site"), str) else ""
        grad = rec.get("grad", True)
        _need(grad is True or grad is False or grad == ENABLE_GRAD,
              f"{where} ({name}): 'grad' must be true or false, or {ENABLE_GRAD!r}")
        if grad == ENABLE_GRAD:
            grad, g.enables_grad = ENABLE_GRAD, True
        call = OpCall(op, tuple(args), kwargs, site[:300], grad)
        call.outs = outs
        g.ops.append(call)
    g.outputs = _dec(obj["outputs"], values, "outputs", 0)
    g.values = [values[k] for k in sorted(values)]
    spec = obj.get("spec")
    g.input_spec = _dec_spec(spec, len(g.inputs)) if spec is not None else \
        (("L", [("T", i) for i in range(len(g.inputs))]), ("D", {}))
    return g, names


_CONST = (int, float, str, bool, type(None))


def _dec(t, values, where, depth):
    _need(depth <= MAX_NEST, f"{where}: arguments nest too deeply")
    if t is None or isinstance(t, _CONST):
        return t
    if isinstance(t, (_dtypes.dtype, _device)):
        return t
    if isinstance(t, list):
        return [_dec(x, values, where, depth + 1) for x in t]
    if isinstance(t, dict):
        if set(t) == {"v"}:
            idx = t["v"]
            _need(isinstance(idx, int) and idx in values, f"{where}: reads value {idx!r:.30} before it is defined")
            return values[idx]
        if set(t) == {"tuple"} and isinstance(t["tuple"], list):
            return tuple(_dec(x, values, where, depth + 1) for x in t["tuple"])
        if set(t) == {"slice"} and isinstance(t["slice"], list) and len(t["slice"]) == 3:
            parts = [_dec(x, values, where, depth + 1) for x in t["slice"]]
            _need(all(p is None or (isinstance(p, int) and not isinstance(p, bool)) for p in parts),
                  f"{where}: a slice holds integers or None")
            return slice(*parts)
        if set(t) == {"ellipsis"}:
            return Ellipsis
        if set(t) == {"dict"} and isinstance(t["dict"], list):
            out = {}
            for kv in t["dict"]:
                _need(isinstance(kv, list) and len(kv) == 2 and isinstance(kv[0], str), f"{where}: bad map entry")
                out[kv[0]] = _dec(kv[1], values, where, depth + 1)
            return out
    raise _Bad(f"{where}: an argument of unknown form {t!r:.60}")


def _dec_outs(t, values, new_value, where, depth, written=frozenset()):
    _need(depth <= MAX_NEST, f"{where}: results nest too deeply")
    if isinstance(t, dict) and set(t) == {"v"}:
        from plugtorch.jit.ir import NODE
        if t["v"] in written and isinstance(t["v"], int) and not isinstance(t["v"], bool):
            return values[t["v"]]
        return new_value(t["v"], NODE, where)
    if isinstance(t, dict) and set(t) == {"tuple"} and isinstance(t["tuple"], list):
        return tuple(_dec_outs(x, values, new_value, where, depth + 1, written) for x in t["tuple"])
    if isinstance(t, list):
        return [_dec_outs(x, values, new_value, where, depth + 1, written) for x in t]
    _need(t is None or isinstance(t, _CONST), f"{where}: a result of unknown form {t!r:.60}")
    return t


def _dec_spec(s, n_inputs, depth=0):
    _need(depth <= MAX_NEST and isinstance(s, list) and len(s) == 2 and s[0] in ("T", "L", "U", "D", "C"),
          "the input structure ('spec') is malformed")
    kind, payload = s
    if kind == "T":
        _need(isinstance(payload, int) and 0 <= payload < n_inputs, "the input structure names a missing input")
        return ("T", payload)
    if kind in ("L", "U"):
        _need(isinstance(payload, list), "the input structure is malformed")
        return (kind, [_dec_spec(x, n_inputs, depth + 1) for x in payload])
    if kind == "D":
        _need(isinstance(payload, list), "the input structure is malformed")
        return ("D", {k: _dec_spec(x, n_inputs, depth + 1) for k, x in payload})
    return ("C", _dec(payload, {}, "input structure", depth + 1))


# ---- running a loaded graph -------------------------------------------------------------------------
class LoadedGraph:
    """A graph read by ``jit.load``: call it like the traced function or module it came from.

    The first call on each input signature runs the op-level graph through the dispatcher (on
    the devices the weights were loaded to) while tracing it; later calls replay that trace."""

    def __init__(self, graph, names, filename="<graph>"):
        self._graph = graph
        self._names = names
        self._file = filename
        self._compiled = {}
        self.training = False

    def _interpret(self, *args, **kwargs):
        from plugtorch.jit.tracer import flatten_tensors
        tensors, spec = flatten_tensors(args, kwargs)
        g = self._graph
        if len(tensors) != len(g.inputs):
            raise RuntimeError(f"loaded graph '{self._file}' takes {len(g.inputs)} tensor(s), got {len(tensors)}")
        env = {}
        for v, t in zip(g.inputs, tensors):
            if t.dtype is not v.dtype or tuple(t.shape) != v.shape:
                raise RuntimeError(f"loaded graph '{self._file}': input {v.pos} is {t.dtype} {list(t.shape)}, "
                                   f"the graph was traced with {v.dtype} {list(v.shape)}; trace and save the model "
                                   "again for other shapes")
            env[v.index] = t
        for v in g.captures:
            env[v.index] = v.tensor
        for call in g.ops:
            a = substitute(list(call.args), lambda v: env[v.index])
            k = substitute(call.kwargs, lambda v: env[v.index])
            if call.grad is True:
                res = D.dispatch(call.op, *a, **k)
            else:     # (the program made it under no_grad: a parameter's update, a statistic; or
                # under enable_grad() in a call made under no_grad: tracer.ENABLE_GRAD)
                prev, D.grad_state.enabled = D.grad_state.enabled, bool(call.grad)
                try:
                    res = D.dispatch(call.op, *a, **k)
                finally:
                    D.grad_state.enabled = prev
            if "dynamic_shape" in call.op.tags:
                self._check_dynamic(call, call.outs, res)
            _bind(env, call.outs, res)
        return substitute(g.outputs, lambda v: env[v.index])

    def _check_dynamic(self, call, tpl, res):
        """An op whose result's shape depends on the data: the saved ops after it were recorded for
        the traced shape (sizes Python computed from it are constants in the file)."""
        if tpl.__class__ is Value:
            if isinstance(res, Tensor) and tuple(res.shape) != tuple(tpl.shape):
                raise RuntimeError(f"loaded graph '{self._file}': {call.op.name} returned shape {list(res.shape)} where "
                                   f"the saved graph was traced with {list(tpl.shape)}; its result's shape depends on "
                                   "the data, and the saved ops after it were recorded for the traced shape: trace "
                                   "and save the model on inputs giving this shape, or run the model's code")
        elif isinstance(tpl, (list, tuple)) and isinstance(res, (list, tuple)):
            for t, r in zip(tpl, res):
                self._check_dynamic(call, t, r)

    def __call__(self, *args, **kwargs):
        from plugtorch.compiler import CompiledFunction
        c = self._compiled.get("fn")
        if c is None:
            c = self._compiled["fn"] = CompiledFunction(self._interpret, name=os.path.basename(self._file))
        return c(*args, **kwargs)

    forward = __call__

    @property
    def graph(self) -> str:
        return self._graph.format("op")

    @property
    def code(self) -> str:
        lines = []
        for call in self._graph.ops:
            from plugtorch.jit.ir import _fmt_args
            outs = ", ".join(v.name for v in values_in(call.outs)) or "_"
            lines.append(f"{outs} = plugtorch.ops.{call.op.name}({_fmt_args(call.args, call.kwargs)})")
        return "\n".join(lines)

    def parameters(self):
        return [v.tensor for v in self._graph.captures if getattr(v.tensor, "_is_param", False)]

    def state_dict(self):
        return dict(self._names)

    def to(self, device):
        dev = _device(device) if not isinstance(device, _device) else device
        for v in self._graph.captures:
            t = v.tensor
            moved = t.detach().to(dev)
            t._data, t._device = moved._data, moved._device
        self._compiled.clear()
        return self

    def eval(self):
        return self

    def save(self, f):
        save(self, f)

    def __repr__(self):
        return f"LoadedGraph('{self._file}', {len(self._graph.ops)} ops)"


def _bind(env, tpl, res):
    if tpl.__class__ is Value:
        env[tpl.index] = res
    elif isinstance(tpl, (list, tuple)) and isinstance(res, (list, tuple)):
        for t, r in zip(tpl, res):
            _bind(env, t, r)
