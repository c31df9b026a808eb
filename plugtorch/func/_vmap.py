"""vmap: map a function over a dimension of its inputs.

plugtorch has no batched tensors: vmap calls the function once per sample (the inputs' mapped
dimensions selected away) and stacks the outputs along ``out_dims``. That is correct for any
function, including ones with data-dependent control flow, in-place ops on their own
temporaries, and other transforms inside (``vmap(grad(f))`` gives per-sample gradients); it
costs one call of the function per sample. In-place writes into tensors not mapped over and made
outside the function (a module's buffer, an in_dim None input) raise, as the loop would repeat
them per sample (torch's vmap writes them once, and refuses batched values there).
``chunk_size`` is checked and otherwise changes nothing. Random ops are watched by a dispatch mode: with ``randomness="error"`` the first one
raises, with ``"same"`` every sample draws the same numbers (the default generators are rewound
before each sample), with ``"different"`` each draws its own.

>>> import plugtorch as pt
>>> vmap(lambda x: x.sum())(pt.tensor([[1.0, 2.0], [3.0, 4.0]])).tolist()
[3.0, 7.0]
"""
from __future__ import annotations

import functools

import plugtorch as pt
from plugtorch.dispatch.dispatcher import DispatchMode
from plugtorch.dispatch.registry import OUT_TENSOR
from plugtorch.func._pytree import broadcast_prefix, spec_str, tree_flatten, tree_unflatten

_RANDOMNESS = ("error", "different", "same")


def _check_randomness(randomness):
    if randomness not in _RANDOMNESS:
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}")


class _RandomnessError(DispatchMode):
    """Refuse random ops (torch's vmap under randomness='error')."""

    def __plugtorch_dispatch__(self, op, args, kwargs, call):
        if "random" in op.tags:
            raise RuntimeError("vmap: called random operation while in randomness error mode. Please either use the "
                               "'same' or 'different' randomness flags on vmap or perform the randomness operation "
                               "out of vmap")
        return call(args, kwargs)


class _randomness:
    """Per-sample context: the error mode, or for 'same' the default generators rewound to
    their state before the first sample (``snapshot`` is shared by the samples of one call)."""

    def __init__(self, randomness, snapshot):
        self.randomness = randomness
        self.snapshot = snapshot

    def __enter__(self):
        if self.randomness == "error":
            self.mode = _RandomnessError()
            self.mode.__enter__()
        elif self.randomness == "same":
            from plugtorch import random as R
            if not self.snapshot:
                self.snapshot.append({d: g.get_state() for d, g in R._defaults.items()})
            else:
                saved = self.snapshot[0]
                for d in list(R._defaults):
                    if d in saved:
                        R._defaults[d].set_state(saved[d])
                    else:   # first used by the first sample: recreated from the same seed
                        del R._defaults[d]

    def __exit__(self, *exc):
        if self.randomness == "error":
            self.mode.__exit__(*exc)
        return False


class _BatchedTracker(DispatchMode):
    """One sample's watch over the ops it runs. Marks every tensor computed from the sample's
    mapped inputs (batched), so an output under ``out_dims=None`` can be refused when it depends
    on the sample (torch's BatchedTensor check); and every tensor the sample made (views of a
    tensor made before the call are not), so in-place writes into tensors from outside the call
    are checked: torch's vmap writes into them once, with unbatched values only, while this
    per-sample loop would write once per sample (a BatchNorm's running stats, a closure's
    buffer), so a batched value written into one, or any write repeated in a later sample,
    raises instead of leaving a silently wrong value.

    ``written`` is shared by the samples of one call: the storages of outside tensors written
    by the first sample (kept alive, so their ids stay theirs)."""

    def __init__(self, tensors, index, written, name):
        self.keep = list(tensors)            # alive for the call, so their ids stay theirs
        self.ids = {id(t) for t in self.keep}
        self.data_ids = {id(t._data) for t in self.keep}   # detach() shares the sample's data
        self.made = set()
        self.index = index
        self.written = written
        self.name = name

    def batched(self, t) -> bool:
        return id(t) in self.ids or (isinstance(t, pt.Tensor) and id(t._data) in self.data_ids)

    def __plugtorch_dispatch__(self, op, args, kwargs, call):
        if "inplace" in op.tags and args and isinstance(args[0], pt.Tensor):
            self._check_write(op, args, kwargs)
        res = call(args, kwargs)
        touched = any(self._touches(a) for a in args) or any(self._touches(a) for a in kwargs.values())
        # a view shares its input's memory: made here only when that input was
        made = "view" not in op.tags or (bool(args) and isinstance(args[0], pt.Tensor) and id(args[0]) in self.made)
        for r in (res if isinstance(res, (tuple, list)) else (res,)):
            if isinstance(r, pt.Tensor):
                if touched and not self.batched(r):
                    self.ids.add(id(r))
                    self.data_ids.add(id(r._data))
                    self.keep.append(r)
                if made and "inplace" not in op.tags and id(r) not in self.made:
                    self.made.add(id(r))
                    self.keep.append(r)
        return res

    def _check_write(self, op, args, kwargs):
        dst = args[0]
        if id(dst) in self.made or self.batched(dst):
            return
        if any(self._touches(a) for a in args[1:]) or any(self._touches(a) for a in kwargs.values()):
            raise RuntimeError(f"vmap({self.name}, ...): in-place {op.name} writes a value that depends on the mapped "
                               "inputs into a tensor that is not mapped over (passed with in_dim None, or used from "
                               "outside the function, such as a module's buffer); that is not possible because the "
                               "tensor has no per-sample copy. Use out-of-place ops instead (a BatchNorm under vmap "
                               "in training mode: set track_running_stats=False, see "
                               "plugtorch.func.replace_all_batch_norm_modules_)")
        root = dst._base if dst._base is not None else dst
        if self.index == 0:
            self.written.setdefault(id(root), root)
        elif id(root) in self.written:
            raise RuntimeError(f"vmap({self.name}, ...): in-place {op.name} writes into a tensor that is not mapped "
                               "over (passed with in_dim None, or used from outside the function) in every sample: "
                               "plugtorch's vmap calls the function once per sample, so the write would happen once "
                               "per sample where torch's happens once. Do the write outside vmap, or out of place")

    def _touches(self, a):
        if isinstance(a, (tuple, list)):
            return any(self.batched(b) for b in a)
        return self.batched(a)


def _fn_name(func):
    return getattr(func, "__name__", repr(func))


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """Vectorize ``func`` over dimension ``in_dims`` of its inputs, stacking results along ``out_dims``.

    ``in_dims`` is an int, or a tuple with one entry per positional argument, each an int, None
    (not mapped) or a tree (tuple/list/dict) matching that argument; ``out_dims`` likewise for
    the outputs. Keyword arguments are passed unmapped.

    >>> x = pt.arange(6.0).reshape(2, 3)
    >>> vmap(pt.dot, in_dims=(0, None))(x, pt.ones(3)).tolist()
    [3.0, 12.0]
    """
    _check_randomness(randomness)
    if chunk_size is not None and not (isinstance(chunk_size, int) and chunk_size > 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        name = _fn_name(func)
        where = f"vmap({name}, in_dims={in_dims}, ...)(<inputs>)"
        flat_args, args_spec = tree_flatten(args)
        dims = _flat_in_dims(in_dims, args, name, where)
        batch = _batch_size(flat_args, dims, where)
        if batch > 0 and _batchable(func, flat_args, len(args), kwargs, out_dims):
            return _pointwise_batched(func, flat_args, dims, batch, kwargs, out_dims)
        snapshot = []
        samples = []
        trackers = []   # which tensors each sample computed from its inputs, and made
        written = {}    # outside tensors the first sample wrote into
        for i in range(max(batch, 1)):
            sample = [_select(x, d, i, batch) for x, d in zip(flat_args, dims)]
            watch = _BatchedTracker((t for t, d in zip(sample, dims) if d is not None), i, written, name)
            trackers.append(watch)
            with _randomness(randomness, snapshot), watch:
                samples.append(func(*tree_unflatten(sample, args_spec), **kwargs))
        return _stack_outputs(samples, out_dims, batch, name, trackers)
    return wrapped


def _batchable(func, flat_args, n_args, kwargs, out_dims) -> bool:
    """The one case batched without a loop: ``func`` is a pointwise op of the registry
    (``plugtorch.sin``, ``plugtorch.mul`` ...) called on flat arguments whose tensors share a
    dtype and device, so broadcasting the batch gives each sample's numbers and dtype exactly."""
    op = getattr(func, "_op", None)
    # a wrapper of the op (grad(pt.sin), vmap(pt.mul)) is not the op: functools.wraps copies its _op
    if op is None or hasattr(func, "__wrapped__") or "pointwise" not in op.tags or op.out_kind != OUT_TENSOR or len(flat_args) != n_args:
        return False
    if not isinstance(out_dims, int) or isinstance(out_dims, bool):
        return False
    tensors = [a for a in (*flat_args, *kwargs.values()) if isinstance(a, pt.Tensor)]
    return len({(t.dtype, t.device) for t in tensors}) == 1


def _pointwise_batched(func, flat_args, dims, batch, kwargs, out_dim):
    """Batch first and padded to the samples' largest rank, so broadcasting lines up each sample's
    dims as the per-sample call would; the result's batch dim then moves to ``out_dim``."""
    rank = max([x.dim() - (d is not None) for x, d in zip(flat_args, dims) if isinstance(x, pt.Tensor)] +
               [v.dim() for v in kwargs.values() if isinstance(v, pt.Tensor)])
    moved = []
    for x, d in zip(flat_args, dims):
        if d is not None:
            x = x.movedim(d, 0)
            x = x.reshape((batch,) + (1,) * (rank - x.dim() + 1) + tuple(x.shape[1:]))
        moved.append(x)
    return func(*moved, **kwargs).movedim(0, out_dim)


def _flat_in_dims(in_dims, args, name, where):
    if not args:
        raise ValueError(f"vmap({name})(<inputs>): got no inputs. Maybe you forgot to add inputs, or you are trying "
                         "to vmap over a function with no inputs. The latter is unsupported.")
    if not (isinstance(in_dims, int) and not isinstance(in_dims, bool)) and not isinstance(in_dims, tuple):
        raise ValueError(f"{where}: expected `in_dims` to be int or a (potentially nested) tuple matching the "
                         f"structure of inputs, got: {type(in_dims)}.")
    dims = broadcast_prefix(in_dims if isinstance(in_dims, tuple) else (in_dims,) * len(args), args)
    if dims is None:
        raise ValueError(f"{where}: in_dims is not compatible with the structure of `inputs`. in_dims has structure "
                         f"{spec_str(tree_flatten(in_dims)[1])} but inputs has structure "
                         f"{spec_str(tree_flatten(args)[1])}.")
    return dims


def _batch_size(flat_args, dims, where):
    sizes = []
    for x, d in zip(flat_args, dims):
        if d is None:
            continue
        if not isinstance(d, int) or isinstance(d, bool):
            raise ValueError(f"{where}: Got in_dim={d} for an input but in_dim must be either an integer dimension or "
                             "None.")
        if not isinstance(x, pt.Tensor):
            raise ValueError(f"{where}: Got in_dim={d} for an input but the input is of type {type(x)}. We cannot vmap "
                             "over non-Tensor arguments, please use None as the respective in_dim")
        n = x.dim()
        if not -n <= d < n:
            raise ValueError(f"{where}: Got in_dim={d} for some input, but that input is a Tensor of dimensionality "
                             f"{n} so expected in_dim to satisfy -{n} <= in_dim < {n}.")
        sizes.append(x.shape[d])
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(s != sizes[0] for s in sizes):
        raise ValueError("vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                         f"{sizes} for the mapped dimension")
    return sizes[0]


def _select(x, d, i, batch):
    if d is None:
        return x
    if batch == 0:   # no sample to call with: one of zeros gives the outputs' shapes
        shape = list(x.shape)
        del shape[d]
        return pt.zeros(shape, dtype=x.dtype, device=x.device)
    return x.select(d, i)


def _stack_outputs(samples, out_dims, batch, name, trackers):
    flat0, spec = tree_flatten(samples[0])
    if not (out_dims is None or isinstance(out_dims, (int, tuple, list, dict))) or isinstance(out_dims, bool):
        raise ValueError(f"vmap({name}, ..., out_dims={out_dims}): `out_dims` must be an int, None or a python "
                         "collection of ints representing where in the outputs the vmapped dimension should appear.")
    dims = broadcast_prefix(out_dims, samples[0])
    if dims is None:
        raise ValueError(f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is not compatible with the "
                         f"structure of `outputs`. out_dims has structure {spec_str(tree_flatten(out_dims)[1])} but "
                         f"outputs has structure {spec_str(spec)}.")
    flats = []
    for s in samples:
        leaves, s_spec = tree_flatten(s)
        if s_spec != spec:
            raise ValueError(f"vmap({name}, ...): `{name}` returned outputs of different structures for different "
                             f"samples ({spec_str(spec)} and {spec_str(s_spec)}); return the same structure for every "
                             "sample")
        flats.append(leaves)
    out = []
    for k, (first, d) in enumerate(zip(flat0, dims)):
        column = [f[k] for f in flats]
        if d is None:
            # computed from the sample (seen by the tracker), or different per sample (made where the
            # tracker cannot see: detach(), a host round trip): a batched output
            if any(t.batched(c) for t, c in zip(trackers, column)) or not all(_same(first, c) for c in column[1:]):
                raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor when out_dim is None")
            out.append(first)
            continue
        if not isinstance(first, pt.Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(first)}. Did you "
                             "mean to set out_dims= to None for output?")
        if batch == 0:
            out.append(first.unsqueeze(d).narrow(d, 0, 0))
        else:
            out.append(pt.stack(column, d))
    return tree_unflatten(out, spec)


def _same(a, b):
    if a is b:
        return True
    if isinstance(a, pt.Tensor) or isinstance(b, pt.Tensor):
        return (isinstance(a, pt.Tensor) and isinstance(b, pt.Tensor) and a.shape == b.shape and a.dtype == b.dtype
                and a.device == b.device and bool(pt.equal(a, b)))
    try:
        return bool(a == b)
    except (TypeError, ValueError):   # (NumPy arrays and the like)
        return False
