"""``plugtorch.onnx.export``: trace, lower through the table, check, write.

Dynamic axes: the model is traced on the example inputs and once more per dynamic-axis name with
that axis one longer (the inputs grown by repeating their last slice), and once with every
dynamic axis two longer. The op-level graphs must match call for call; integer arguments that
differ between them (the sizes in ``view``, ``expand``, ``full`` ...) are fitted as affine
functions of the axes' sizes and emitted from the inputs' run-time shapes, the last trace
checking the fit.
"""
from __future__ import annotations

import inspect
import io
import os
import warnings

import plugtorch as pt
from plugtorch._tensor import Tensor
from plugtorch.compiler.decorators import exporting
from plugtorch.jit.api import trace_call
from plugtorch.jit.ir import values_in
from plugtorch.jit.tracer import flatten_tensors, rebuild
from plugtorch.onnx.errors import OnnxExporterError
from plugtorch.onnx.lowering import Lowering
from plugtorch.onnx.values import SymInt, Val, onnx_dtype
from plugtorch.onnx.table import MIN_OPSET

DEFAULT_OPSET = 17


def _import_onnx():
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401
        import onnx.shape_inference  # noqa: F401
    except ImportError:
        raise ImportError("plugtorch.onnx.export needs the 'onnx' package: pip install 'plugtorch[onnx]' "
                          "(or pip install onnx)") from None
    return onnx


def _opset(onnx, opset_version):
    latest = onnx.defs.onnx_opset_version()
    if opset_version is None:
        return DEFAULT_OPSET
    if not isinstance(opset_version, int) or isinstance(opset_version, bool) or \
            not MIN_OPSET <= opset_version <= latest:
        raise ValueError(f"plugtorch.onnx.export: opset_version must be an int from {MIN_OPSET} to {latest} (the "
                         f"newest this onnx {onnx.__version__} knows), got {opset_version!r}")
    return opset_version


def _split_args(args, kwargs):
    """PyTorch's convention: a Tensor, or a tuple whose last element may be a dict of kwargs."""
    if isinstance(args, Tensor):
        args = (args,)
    elif isinstance(args, list):
        args = tuple(args)
    elif not isinstance(args, tuple):
        raise TypeError(f"plugtorch.onnx.export: args must be a Tensor or a tuple of arguments, got "
                        f"{type(args).__name__}")
    if kwargs is None and args and isinstance(args[-1], dict):
        args, kwargs = args[:-1], args[-1]
    return args, dict(kwargs or {})


def _default_input_names(model, args, kwargs, n):
    fn = model.forward if isinstance(model, pt.nn.Module) else model
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    if not kwargs and len(args) == n and len(params) >= n and all(isinstance(a, Tensor) for a in args):
        return [p.name for p in params[:n]]
    return [f"input_{i}" for i in range(n)]


def _names(given, default, what):
    if given is None:
        return list(default)
    given = list(given)
    if len(given) > len(default):
        raise ValueError(f"plugtorch.onnx.export: {len(given)} {what} names given for {len(default)} {what}s")
    if len(set(given)) != len(given):
        raise ValueError(f"plugtorch.onnx.export: {what} names must be unique, got {given}")
    return given + list(default[len(given):])


def _dynamic_axes(dynamic_axes):
    """{name: {axis: symbol}} from PyTorch's forms ({name: [axes]} or {name: {axis: symbol}})."""
    if dynamic_axes is not None and not isinstance(dynamic_axes, dict):
        raise TypeError(f"plugtorch.onnx.export: dynamic_axes must be a dict, got {type(dynamic_axes).__name__}")
    out = {}
    for name, axes in (dynamic_axes or {}).items():
        if isinstance(axes, dict):
            out[name] = {int(a): str(s) for a, s in axes.items()}
        elif isinstance(axes, (list, tuple)):
            out[name] = {int(a): f"{name}_dynamic_axes_{i + 1}" for i, a in enumerate(axes)}
        else:
            raise TypeError(f"plugtorch.onnx.export: dynamic_axes['{name}'] must be a list of axes or a dict "
                            f"{{axis: name}}, got {type(axes).__name__}")
    return out


def _grow(t, axis, by):
    """``t`` with dim ``axis`` longer by ``by``, repeating its last slice (valid indices stay valid)."""
    n = t.shape[axis]
    idx = pt.tensor(list(range(n)) + [n - 1] * by, dtype=pt.int64, device=t.device)
    return t.index_select(axis, idx)


def _unwrap(model, dynamic):
    """What to trace: the original model behind what jit.trace, jit.load and compile return (their
    replays bypass the dispatcher, so tracing them would record nothing); a traced or loaded
    graph runs its op-level calls through the dispatcher, at its traced shapes only."""
    from plugtorch.compiler import CompiledFunction, OptimizedModule
    from plugtorch.jit.api import TracedFunction, TracedModule
    from plugtorch.jit.serialize import LoadedGraph
    if isinstance(model, TracedModule):
        return model.original_module, None
    if isinstance(model, OptimizedModule):
        return model._orig_mod, None
    if isinstance(model, CompiledFunction):
        return model.__wrapped__, None
    if isinstance(model, (TracedFunction, LoadedGraph)):
        if dynamic:
            raise OnnxExporterError("plugtorch.onnx.export: a traced or loaded graph has the shapes it was traced "
                                    "with, so it cannot export dynamic axes; export the original model")
        loaded = model if isinstance(model, LoadedGraph) else LoadedGraph(model.graph, {}, model.__name__)
        return loaded._interpret, {id(t): n for n, t in loaded._names.items()}
    return model, None


class _KeepBuffers:
    """Restores a module's buffers (running stats of a model exported in training mode)."""

    def __init__(self, model):
        self.saved = []
        if isinstance(model, pt.nn.Module):
            self.saved = [(b, b.detach().clone()) for _, b in model.named_buffers()]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        with pt.no_grad():
            for b, v in self.saved:
                if b.shape == v.shape:
                    b.copy_(v)


def export(model, args=(), f=None, *, kwargs=None, input_names=None, output_names=None, dynamic_axes=None,
           opset_version=None, do_constant_folding=True, verbose=False, export_params=True,
           keep_initializers_as_inputs=False, dynamo=False, external_data=True):
    """Export ``model`` (a Module or a function) to ONNX, as ``torch.onnx.export``.

    The model runs once on ``args`` under ``plugtorch.jit``'s tracer (in its current mode, under
    no_grad); each op of the traced graph is mapped to ONNX operators through the export table
    (composite ops without a mapping through their decomposition); constants are folded; the
    model is checked with ``onnx.checker`` and written to ``f`` (a path or a binary file; None
    writes nothing). Returns the ``onnx.ModelProto``.

    ``dynamic_axes``: ``{"x": {0: "batch"}}`` or ``{"x": [0]}``; those dims become symbolic.
    ``opset_version``: default 17 (recorded in the model). ``export_params=True``,
    ``keep_initializers_as_inputs=False``, ``dynamo`` and ``external_data`` are accepted as
    PyTorch's scripts pass them (one exporter; files under 2 GB hold their weights).

    >>> import plugtorch as pt
    >>> m = pt.nn.Linear(4, 2)
    >>> proto = pt.onnx.export(m, (pt.randn(3, 4),), "linear.onnx", input_names=["x"],
    ...                        dynamic_axes={"x": {0: "batch"}})        # doctest: +SKIP
    """
    onnx = _import_onnx()
    opset = _opset(onnx, opset_version)
    if not export_params:
        raise OnnxExporterError("plugtorch.onnx.export: export_params=False is not supported: the file always holds "
                                "the parameters as initializers (export with export_params=True, the default)")
    if keep_initializers_as_inputs:
        raise OnnxExporterError("plugtorch.onnx.export: keep_initializers_as_inputs=True is not supported: the "
                                "parameters are initializers, not graph inputs (pass False, the default)")
    if isinstance(f, io.TextIOBase):
        raise TypeError("plugtorch.onnx.export: f must be a path or a binary file (open it with 'wb')")
    model, graph_names = _unwrap(model, bool(dynamic_axes))
    args, kwargs = _split_args(args, kwargs)
    tensors, spec = flatten_tensors(args, kwargs)
    in_names = _names(input_names, _default_input_names(model, args, kwargs, len(tensors)), "input")
    if len(in_names) != len(tensors):
        raise ValueError(f"plugtorch.onnx.export: {len(in_names)} input names for {len(tensors)} input tensors")
    dyn = _dynamic_axes(dynamic_axes)
    axes = {in_names[i]: {a % max(t.ndim, 1): s for a, s in dyn.get(in_names[i], {}).items()}
            for i, t in enumerate(tensors)}
    probes = _probes(tensors, in_names, dyn)

    with _KeepBuffers(model):
        graphs, probe_inputs, probes = _trace_probes(model, tensors, spec, in_names, axes, probes)
        g = Lowering(onnx, opset, bool(do_constant_folding), probes if len(probes) > 1 else None,
                     _param_names(model, graph_names))
        envs = [dict() for _ in graphs]
        for i, name in enumerate(in_names):
            dims = list(tensors[i].shape)
            for axis, sym in axes[name].items():
                dims[axis] = SymInt(dims[axis], 0, ((sym, 1),))
                g.sym_source.setdefault(sym, (name, axis))
            val = Val([ins[i] for ins in probe_inputs], name, False, tensors[i].dtype, dims)
            for k, graph in enumerate(graphs):
                envs[k][graph.inputs[i]] = val
        g.bind_captures([gr.captures for gr in graphs], envs, "the model", graphs[0].ops)
        g.lower([gr.ops for gr in graphs], envs)
        outs = _outputs(g, graphs, envs)
    out_names = _names(output_names, ["output"] if len(outs) == 1 else [f"output_{i}" for i in range(len(outs))],
                       "output")
    if len(out_names) != len(outs):
        raise ValueError(f"plugtorch.onnx.export: {len(out_names)} output names for {len(outs)} outputs")
    for name in dyn:
        if name not in in_names and name not in out_names:
            warnings.warn(f"Provided key {name} for dynamic axes is not a valid input/output name (inputs: "
                          f"{in_names}, outputs: {out_names})", UserWarning, stacklevel=2)
    clash = set(out_names) & set(in_names)
    if clash:
        raise ValueError(f"plugtorch.onnx.export: names {sorted(clash)} are used for both inputs and outputs")
    model_proto = _build(onnx, g, model, in_names, tensors, axes, dyn, outs, out_names, opset)
    if verbose:
        import onnx.printer
        print(onnx.printer.to_text(model_proto))
    if f is not None:
        data = model_proto.SerializeToString()
        if isinstance(f, (str, bytes, os.PathLike)):
            # (as plugtorch.save: a failure mid-write leaves the previous file whole)
            from plugtorch.serialization import _replace_atomically
            _replace_atomically(os.fsdecode(f), lambda fh: fh.write(data))
        else:
            f.write(data)
    return model_proto


def _probes(tensors, in_names, dyn):
    """Each dynamic axis name's size in every trace: the example, one per name grown by 1, and
    two that check the affine fits: all grown by 2, and all far from the example (``_far``)."""
    where = {}
    for i, name in enumerate(in_names):
        t = tensors[i]
        for axis, sym in dyn.get(name, {}).items():
            if not -t.ndim <= axis < t.ndim:
                raise ValueError(f"plugtorch.onnx.export: dynamic axis {axis} of input '{name}' is out of range "
                                 f"for its shape {list(t.shape)}")
            where.setdefault(sym, set()).add(t.shape[axis])
    base = {}
    for sym, sizes in where.items():
        if len(sizes) != 1:
            raise ValueError(f"plugtorch.onnx.export: the dynamic axes named '{sym}' have different sizes in the "
                             f"example inputs: {sorted(sizes)}")
        base[sym] = sizes.pop()
        if base[sym] == 0:
            raise ValueError(f"plugtorch.onnx.export: dynamic axis '{sym}' has size 0 in the example; export "
                             "with a non-empty example")
    if not base:
        return [base]
    return [dict(base)] + [{**base, s: base[s] + 1} for s in base] + [{s: n + 2 for s, n in base.items()}] + \
        [_far(base, _FAR_GROWTH[0])]


# The far probe grows every dynamic axis by n + 3 (to 2n + 3): a size that is a floor division of an
# axis (a strided convolution's or pooling's output: stride 3 gives ceil(h / 3), the same for h = 9,
# 10, 11) can look constant, or affine, at n, n + 1 and n + 2, and would be baked into the file,
# computing something else at other sizes; it differs at 2n + 3 for every stride up to n + 3. A model
# that cannot run that far (a positional table of fixed length) is probed closer (the last tried is
# n + 3).
_FAR_GROWTH = (lambda n: n + 3, lambda n: (n + 3) // 2 + 2, lambda n: 3)


def _far(base, grow):
    return {s: n + max(3, grow(n)) for s, n in base.items()}


def _trace_probes(model, tensors, spec, in_names, axes, probes):
    """Trace the model on the inputs of each probe (copies: a program writing its inputs leaves
    the caller's alone)."""
    if len(probes) == 1:
        return _trace_each(model, tensors, spec, in_names, axes, probes) + (probes,)
    graphs, probe_inputs = _trace_each(model, tensors, spec, in_names, axes, probes[:-1])
    for grow in _FAR_GROWTH:        # the far probe, closer if the model fails that far out
        probes[-1] = _far(probes[0], grow)
        try:
            far = _trace_each(model, tensors, spec, in_names, axes, probes[-1:])
        except OnnxExporterError:
            raise
        except Exception:       # (an index past a fixed-length table ...)
            continue
        return graphs + far[0], probe_inputs + far[1], probes
    raise OnnxExporterError(
        "plugtorch.onnx.export: the model fails when its dynamic axes are 3 longer than in the example "
        f"({probes[-1]}), so the exporter cannot check which sizes follow them; export with those axes "
        "static, or with a smaller example")


def _trace_each(model, tensors, spec, in_names, axes, probes):
    graphs, probe_inputs = [], []
    for sizes in probes:
        ins = []
        for i, t in enumerate(tensors):
            t = t.detach().clone()
            for axis, sym in axes[in_names[i]].items():
                if sizes[sym] != t.shape[axis]:
                    t = _grow(t, axis, sizes[sym] - t.shape[axis])
            ins.append(t)
        with pt.no_grad():
            with exporting():
                graph, _, _, _ = trace_call(model, rebuild(spec[0], ins), rebuild(spec[1], ins))
        if graph.backward_ran:
            raise OnnxExporterError("plugtorch.onnx.export: the model runs backward(); export its forward pass")
        if graph.program_reads:
            _refuse_host_read(graph.program_reads[0])
        graphs.append(graph)
        probe_inputs.append(ins)
    return graphs, probe_inputs


def _refuse_host_read(brk):
    """A value Python read from a tensor's data would be a constant of the file: wrong for other inputs."""
    what, site = brk
    raise OnnxExporterError(
        f"plugtorch.onnx.export: the model reads tensor data into Python ({what}) at {site or 'an unknown line'}; "
        "the exported file would hold the value this example gave, and compute something else for other inputs. "
        "Keep the computation in tensor ops (torch.where instead of if, no item()/int()/tolist() on data)")


def _param_names(model, graph_names):
    """id(tensor) -> state_dict name, for the initializers' names."""
    if isinstance(model, pt.nn.Module):
        try:
            return {id(t): n for n, t in model.state_dict(keep_vars=True).items()}
        except TypeError:
            return {id(t): n for n, t in model.named_parameters()}
    return graph_names or {}


def _outputs(g, graphs, envs):
    per = [values_in(gr.outputs) for gr in graphs]
    if any(len(p) != len(per[0]) for p in per):
        raise OnnxExporterError("plugtorch.onnx.export: the model returns a different number of tensors at other "
                                "sizes of the dynamic axes")
    _check_output_kinds(graphs[0].outputs)
    outs = []
    for vs in zip(*per):
        val = envs[0].get(vs[0])
        if val is None or any(envs[k].get(v) is not val for k, v in enumerate(vs)):
            raise OnnxExporterError("plugtorch.onnx.export: an output of the model is not computed by the traced "
                                    "graph (or differs between the dynamic-axes probes)")
        outs.append(val)
    return outs


def _check_output_kinds(t):
    from plugtorch.jit.ir import Struct, Value
    if t is None or isinstance(t, Value):
        return
    if isinstance(t, Struct):     # (a namedtuple or OrderedDict: its tensors)
        _check_output_kinds(t.items)
        return
    if isinstance(t, (list, tuple)):
        for x in t:
            _check_output_kinds(x)
        return
    if isinstance(t, dict):
        for x in t.values():
            _check_output_kinds(x)
        return
    raise OnnxExporterError(f"plugtorch.onnx.export: the model returns a {type(t).__name__} ({t!r:.40}); ONNX "
                            "models return tensors only (None is left out)")


def _value_info(onnx, name, dtype, dims, labels=None):
    """A graph input's or output's type: a dim named in ``labels`` (dynamic_axes) gets that name,
    a dim equal to one dynamic size the size's name, another dynamic dim no name."""
    labels = {a % max(len(dims), 1): s for a, s in (labels or {}).items()}
    shape = []
    for i, d in enumerate(dims):
        if i in labels:
            shape.append(labels[i])
        elif isinstance(d, SymInt):
            plain = len(d.coef) == 1 and d.coef[0][1] == 1 and d.const == 0
            shape.append(d.coef[0][0] if plain else None)
        else:
            shape.append(int(d))
    return onnx.helper.make_tensor_value_info(name, onnx_dtype(onnx, dtype), shape)


def _build(onnx, g, model, in_names, examples, axes, dyn, outs, out_names, opset):
    helper = onnx.helper
    inputs = []
    for name, t in zip(in_names, examples):
        dims = list(t.shape)
        for axis, sym in axes[name].items():
            dims[axis] = SymInt(dims[axis], 0, ((sym, 1),))
        inputs.append(_value_info(onnx, name, t.dtype, dims))
    g.cur = ("output", "", [])
    outputs = []
    for val, name in zip(outs, out_names):
        g.nodes.append(helper.make_node("Identity", [g.name(val)], [name], name=f"output/{name}"))
        outputs.append(_value_info(onnx, name, val.dtype, val.dims, dyn.get(name)))
    nodes, used = _live(g.nodes, out_names)
    if in_names and not used & set(in_names):
        warnings.warn("plugtorch.onnx.export: the exported model's outputs do not depend on its inputs (the traced "
                      "program computed none of them from the inputs through plugtorch ops; does the model run "
                      "its work outside the dispatcher?)", UserWarning, stacklevel=3)
    inits = [onnx.numpy_helper.from_array(arr, name) for name, arr in g.initializers.items() if name in used]
    graph_name = type(model).__name__ if isinstance(model, pt.nn.Module) else getattr(model, "__name__", "main")
    graph = helper.make_graph(nodes, graph_name, inputs, outputs, initializer=inits)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="plugtorch", producer_version=pt.__version__)
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    _verify(onnx, proto, g)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as e:      # onnx's ValidationError / InferenceError
        raise OnnxExporterError(f"plugtorch.onnx.export: the exported model fails onnx.checker ({e}); this is a bug "
                                "in plugtorch's export table, please report it with the model") from None
    return proto


def _live(nodes, out_names):
    """Nodes the outputs need (dead code left by folding and view bookkeeping goes)."""
    need = set(out_names)
    keep = []
    for n in reversed(nodes):
        if any(o in need for o in n.output):
            keep.append(n)
            need.update(i for i in n.input if i)
    keep.reverse()
    return keep, need


def _verify(onnx, proto, g):
    """Compare ONNX's shape inference with the traced results' dtypes and shapes: a mapping that
    emits the wrong dtype or shape is a bug of the table, caught here with the op's name."""
    bare = onnx.ModelProto()
    bare.CopyFrom(proto)
    for o in bare.graph.output:        # (inferred, not declared: compared below with the op's name)
        o.ClearField("type")
    try:
        inferred = onnx.shape_inference.infer_shapes(bare, strict_mode=True, data_prop=True)
    except Exception:
        # onnx 1.23's data propagation treats a 1-D Unsqueeze as a shape (x.unsqueeze(1) * y fails
        # to infer, ONNX Runtime runs it): check the model without it before blaming the table
        try:
            inferred = onnx.shape_inference.infer_shapes(bare, strict_mode=True, data_prop=False)
        except Exception as e:
            raise OnnxExporterError(f"plugtorch.onnx.export: ONNX shape inference fails on the exported model ({e})") \
                from None
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        exp = g.expect.get(vi.name)
        if exp is None:
            continue
        dtype, dims, op, site = exp
        tt = vi.type.tensor_type
        if tt.elem_type and tt.elem_type != onnx_dtype(onnx, dtype):
            raise OnnxExporterError(f"plugtorch.onnx.export: the mapping of '{op}' (traced at {site}) gives ONNX "
                                    f"element type {tt.elem_type}, the traced result is {dtype}: a bug in "
                                    "plugtorch/onnx's table")
        if tt.HasField("shape"):
            got = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
            if len(got) != len(dims) or any(gd is not None and not isinstance(d, SymInt) and gd != d
                                            for gd, d in zip(got, dims)):
                raise OnnxExporterError(f"plugtorch.onnx.export: the mapping of '{op}' (traced at {site}) gives "
                                        f"shape {got}, the traced result is {list(dims)}: a bug in plugtorch/onnx's "
                                        "table")
