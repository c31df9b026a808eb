"""``Module``: the base class of every layer; holds parameters, buffers and submodules.

Attributes assigned on a module are registered by kind: a ``Parameter`` becomes a parameter,
a ``Module`` a submodule, and ``register_buffer`` declares state that is saved but not trained.

>>> import plugtorch as pt
>>> class Scale(pt.nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.w = pt.nn.Parameter(pt.ones(3))
...     def forward(self, x):
...         return x * self.w
>>> [n for n, _ in Scale().named_parameters()]
['w']
"""
from __future__ import annotations

import functools
import itertools
import warnings
from collections import OrderedDict, namedtuple
from types import MappingProxyType

import plugtorch
from plugtorch._tensor import Tensor
from plugtorch.dispatch.dispatcher import grad_state as _grad_state
from plugtorch.nn.parameter import Buffer, Parameter



class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it found missing and unexpected (lists a post-hook may edit)."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__
_hook_ids = itertools.count()


def optional_parameter(module, name: str, shape, present: bool, *, device=None, dtype=None, fill=None) -> None:
    """Register parameter ``name`` of ``shape`` (made by ``fill``, default ``empty``) when ``present``,
    else register it as None, as layers do for ``bias=False`` or ``affine=False``.

    >>> import plugtorch as pt
    >>> m = pt.nn.Module()
    >>> optional_parameter(m, "weight", (2,), True, fill=pt.ones); optional_parameter(m, "bias", (2,), False)
    >>> m.weight.tolist(), m.bias
    ([1.0, 1.0], None)
    """
    value = Parameter((fill or plugtorch.empty)(shape, device=device, dtype=dtype)) if present else None
    module.register_parameter(name, value)


class RemovableHandle:
    """Returned by ``register_*_hook``; ``remove()`` takes the hook away again."""

    def __init__(self, *dicts):
        self.id = next(_hook_ids)
        self._dicts = dicts

    def remove(self):
        removed = False
        for d in self._dicts:
            removed = d.pop(self.id, None) is not None or removed
        if removed:
            _structure_changed()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _addindent(s, n):
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


TRAIN_EPOCH = 0
_ABSENT = object()


def _structure_changed():
    """A module's parameters, submodules or hooks changed: plugtorch.compile's graphs, keyed by
    TRAIN_EPOCH, captured the old ones (not while a trace records the program itself)."""
    global TRAIN_EPOCH
    from plugtorch.dispatch.dispatcher import current_recorder
    if current_recorder() is None:
        TRAIN_EPOCH += 1


_BOTH_KINDS = ("Cannot use both regular backward hooks and full backward hooks on a single Module. Please use "
               "only one of them.")


def _hook_last_node(module, args, out):
    """register_backward_hook's hooks on the node that made ``out`` (its first tensor)."""
    var = out
    while not isinstance(var, Tensor):
        if isinstance(var, dict):
            var = next((v for v in var.values() if isinstance(v, Tensor)), None)
        elif isinstance(var, (list, tuple)) and var:
            var = var[0]
        else:
            return
    node = var.grad_fn
    if node is None:
        return
    # PyTorch's test: the node's inputs are exactly the nodes that made the forward's arguments
    made = {id(a.grad_fn) for a in args if isinstance(a, Tensor) and a.grad_fn is not None}
    if made != {id(fn) for fn, _ in node.next_functions}:
        warnings.warn("Using a non-full backward hook when the forward contains multiple autograd Nodes is deprecated "
                      "and will be removed in future versions. This hook will be missing some grad_input. Please use "
                      "register_full_backward_hook to get the documented behavior.", FutureWarning, stacklevel=4)
    for hook in module._non_full_backward_hooks.values():
        node.register_hook(lambda grad_inputs, grad_outputs, hook=hook: _tupled(hook(module, grad_inputs, grad_outputs)))


def _tupled(res):
    return res if res is None or isinstance(res, tuple) else (res,)


class Module:
    """Base class for all neural network modules; subclasses define ``forward``."""

    training: bool
    dump_patches = False
    _version = 1
    _compiled_call_impl = None     # set by compile(): calls then run the compiled _call_impl
    # (read-only empty defaults for a module whose subclass skipped Module.__init__ and the like)
    _backward_hooks = _backward_pre_hooks = _non_full_backward_hooks = MappingProxyType({})

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments; "
                            "Module.__init__ takes none")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        d["_forward_hooks"] = OrderedDict()
        d["_forward_hooks_with_kwargs"] = {}
        d["_forward_hooks_always_called"] = {}
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_pre_hooks_with_kwargs"] = {}
        d["_backward_hooks"] = OrderedDict()
        d["_backward_pre_hooks"] = OrderedDict()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    # ---- registration -------------------------------------------------------------------
    def register_parameter(self, name: str, param: Parameter | None) -> None:
        self._check_name("parameter", name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                            "(plugtorch.nn.Parameter or None required)")
        if param is not None and param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters "
                             "must be created explicitly; use .detach() or wrap it in nn.Parameter")
        if self._parameters.get(name, _ABSENT) is not param:
            _structure_changed()
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        self._check_name("buffer", name)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(plugtorch Tensor or None required)")
        if isinstance(tensor, Buffer):
            persistent = tensor.persistent
            tensor = tensor.detach()
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name("module", name)
        if self._modules.get(name, _ABSENT) is not module:
            _structure_changed()
        self._modules[name] = module

    register_module = add_module

    def _check_name(self, kind, name):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f"{kind} name can't be empty or contain \".\", got: {name!r}")
        own = {"parameter": self._parameters, "buffer": self._buffers, "module": self._modules}[kind]
        if name not in own and hasattr(self, name):
            raise KeyError(f"attribute '{name}' already exists")

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            if name not in params:      # a replaced parameter keeps its place (state dict order), as in torch
                self._forget(name)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(plugtorch.nn.Parameter or None expected)")
            if params[name] is not None:
                _structure_changed()
            params[name] = None
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            if d["_modules"].get(name, _ABSENT) is not value:
                _structure_changed()
            if name not in d["_modules"]:   # a replaced submodule keeps its place (Sequential order), as in torch
                self._forget(name)
            self._modules[name] = value
        elif d.get("_modules") is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                "(plugtorch.nn.Module or None expected)")
            if d["_modules"][name] is not None:
                _structure_changed()
            d["_modules"][name] = None
        elif isinstance(value, Buffer):
            self._forget(name)
            self.register_buffer(name, value)
        elif d.get("_buffers") is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(plugtorch.Tensor or None expected)")
            if d["_buffers"][name] is not value:
                _structure_changed()
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name):
        self.__dict__.pop(name, None)
        for key in ("_parameters", "_buffers", "_modules"):
            self.__dict__[key].pop(name, None)
        self._non_persistent_buffers_set.discard(name)

    def __getattr__(self, name):
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            store = d.get(key)
            if store is not None and name in store:
                return store[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for key in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__[key]:
                del self.__dict__[key][name]
                self._non_persistent_buffers_set.discard(name)
                if key != "_buffers":
                    _structure_changed()
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(object.__dir__(self)) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def set_submodule(self, target: str, module: "Module", strict: bool = False) -> None:
        """Replace (or, unless ``strict``, add) the submodule at dotted path ``target``."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        parent_path, _, name = target.rpartition(".")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent = self.get_submodule(parent_path)
        if strict and name not in parent._modules:
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}`")
        if name in parent.__dict__ or name in parent._parameters or name in parent._buffers:
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(parent, name, module)

    def get_submodule(self, target: str) -> "Module":
        mod = self
        for item in target.split(".") if target else []:
            if item not in mod._modules:
                raise AttributeError(f"{type(mod).__name__} has no attribute `{item}` (looking up '{target}')")
            mod = mod._modules[item]
        return mod

    def _get_member(self, target, store, kind):
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        members = getattr(mod, store)
        if name not in members:
            raise AttributeError(f"{type(mod).__name__} has no {kind} `{name}`")
        return members[name]

    def get_parameter(self, target: str) -> Parameter:
        return self._get_member(target, "_parameters", "parameter")

    def get_buffer(self, target: str) -> Tensor:
        return self._get_member(target, "_buffers", "buffer")

    # ---- iteration ----------------------------------------------------------------------
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse, remove_duplicate):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mprefix, m in mods:
            for k, v in getattr(m, store).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield mprefix + ("." if mprefix else "") + k, v

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- state ----------------------------------------------------------------------------
    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """Parameters and persistent buffers by dotted name (detached unless ``keep_vars``)."""
        if args:  # PyTorch's deprecated positional form (destination, prefix, keep_vars)
            destination, prefix, keep_vars = (list(args) + [destination, prefix, keep_vars][len(args):])[:3]
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        for hook in self.__dict__.get("_state_dict_pre_hooks", {}).values():
            hook(self, prefix, keep_vars)
        local_metadata = dict(version=self._version)
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        for hook, legacy in self.__dict__.get("_state_dict_hooks", {}).values():
            result = hook(self, destination, prefix, local_metadata)
            if not legacy and result is not None:
                raise RuntimeError("state_dict post-hook must return None")
            if legacy and result is not None:
                destination = result
        return destination

    def _upgrade_state_dict(self, state_dict, prefix: str, version) -> None:
        """Bring an older checkpoint's entries (``version`` from its metadata, None without) up to this
        class's ``_version``, in place, before loading; a layer whose saved form changed overrides it."""

    def get_extra_state(self):
        """Extra (non-tensor) state for ``state_dict`` under ``_extra_state``; override it together with
        :meth:`set_extra_state`."""
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never be called. "
                           "Please file an issue.")

    def set_extra_state(self, state) -> None:
        """Restore what :meth:`get_extra_state` returned, from ``load_state_dict``."""
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never be called. "
                           "Please file an issue.")

    def _add_state_hook(self, store, hook, legacy=None):
        hooks = self.__dict__.setdefault(store, OrderedDict())
        h = RemovableHandle(hooks)
        hooks[h.id] = hook if legacy is None else (hook, legacy)
        return h

    def register_state_dict_pre_hook(self, hook):
        """``hook(module, prefix, keep_vars)`` runs before ``state_dict`` collects this module's entries."""
        return self._add_state_hook("_state_dict_pre_hooks", hook)

    def register_state_dict_post_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata)`` runs after ``state_dict`` has collected this
        module (and its children); it edits ``state_dict`` in place and returns None."""
        return self._add_state_hook("_state_dict_hooks", hook, legacy=False)

    def _register_state_dict_hook(self, hook):
        # PyTorch's older private form: a hook that returns a dict replaces the state_dict.
        return self._add_state_hook("_state_dict_hooks", hook, legacy=True)

    def register_load_state_dict_post_hook(self, hook):
        """``hook(module, incompatible_keys)`` runs after ``load_state_dict`` has loaded this module; it may
        edit ``incompatible_keys.missing_keys``/``unexpected_keys`` in place (before ``strict`` checks them)
        and must return None."""
        return self._add_state_hook("_load_state_dict_post_hooks", hook)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy ``state_dict`` into this module's parameters and buffers.

        Missing or unexpected keys raise ``RuntimeError`` when ``strict``; a shape mismatch always
        does. Returns ``(missing_keys, unexpected_keys)``. Each module loads its own entries with
        ``_load_from_state_dict`` (which a subclass may override, as in PyTorch), then its children.

        A load that raises is not undone, as in PyTorch: every entry that matched (right key and
        shape) has been copied in before the ``RuntimeError`` listing the others, so the module then
        holds a mix of the checkpoint and its previous values. Load into a fresh module, or reload a
        known state, after such an error.
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}.")
        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)     # pre-hooks may rename keys; the caller's dict stays as it is
        if metadata is not None:
            state_dict._metadata = metadata
        missing, unexpected, errors = [], [], []
        result = _IncompatibleKeys(missing, unexpected)

        def load(module, local_state_dict, prefix=""):
            local_metadata = {} if metadata is None else dict(metadata.get(prefix[:-1], {}))
            if assign:
                local_metadata["assign_to_params_buffers"] = assign
            module._load_from_state_dict(local_state_dict, prefix, local_metadata, True, missing, unexpected, errors)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, {k: v for k, v in local_state_dict.items() if k.startswith(child_prefix)},
                         child_prefix)
            for hook in module.__dict__.get("_load_state_dict_post_hooks", {}).values():
                if hook(module, result) is not None:
                    raise AssertionError("Hooks registered with ``register_load_state_dict_post_hook`` are not "
                                         "expected to return new values, if incompatible_keys need to be "
                                         "modified, it should be done inplace.")

        load(self, state_dict)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in missing)))
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(errors)))
        return result

    def _save_to_state_dict(self, destination, prefix: str, keep_vars: bool) -> None:
        """Put this module's own parameters, persistent buffers and extra state (not its children's) into
        ``destination``; subclasses may override it, as in PyTorch."""
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()
        if type(self).get_extra_state is not Module.get_extra_state:
            destination[prefix + "_extra_state"] = self.get_extra_state()

    def _load_from_state_dict(self, state_dict, prefix: str, local_metadata, strict: bool, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        """Load this module's own entries (``prefix`` + name) from ``state_dict``, appending to
        ``missing_keys``, ``unexpected_keys`` and ``error_msgs``; subclasses may override it, as in PyTorch."""
        self._upgrade_state_dict(state_dict, prefix, local_metadata.get("version"))
        for hook in self.__dict__.get("_load_state_dict_pre_hooks", {}).values():
            hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        if hasattr(self, "_materialize_from_state_dict"):    # lazy layers take the saved shapes first
            self._materialize_from_state_dict(state_dict, prefix)
        assign = local_metadata.get("assign_to_params_buffers", False)
        local = {name: ("_parameters", v) for name, v in self._parameters.items() if v is not None}
        local.update((name, ("_buffers", v)) for name, v in self._buffers.items()
                     if v is not None and name not in self._non_persistent_buffers_set)
        for name, (store, cur) in local.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            new = state_dict[key]
            if not isinstance(new, Tensor):
                error_msgs.append(f'While copying the parameter named "{key}", expected plugtorch.Tensor '
                                  f"in state_dict, got {type(new).__name__}.")
                continue
            if cur.dim() == 0 and new.dim() == 1 and new.numel() == 1:
                new = new[0]    # checkpoints from before 0-d tensors stored scalars with shape [1]
            if tuple(new.shape) != tuple(cur.shape):
                error_msgs.append(f"size mismatch for {key}: copying a param with shape "
                                  f"{plugtorch.Size(new.shape)} from checkpoint, the shape in current model "
                                  f"is {plugtorch.Size(cur.shape)}.")
                continue
            with plugtorch.no_grad():
                if assign:
                    getattr(self, store)[name] = Parameter(new, cur.requires_grad) if store == "_parameters" else new
                elif cur.is_meta and not new.is_meta:   # nothing to copy into: PyTorch's warning
                    warnings.warn(f"for {key}: copying from a non-meta parameter in the checkpoint to a meta "
                                  "parameter in the current model, which is a no-op. (Did you mean to pass "
                                  "`assign=True` to assign items in the state dictionary to their corresponding "
                                  "key in the module instead of copying them in place?)", UserWarning, stacklevel=3)
                else:
                    cur.copy_(new.to(cur.device))
        extra_key = prefix + "_extra_state"
        if type(self).set_extra_state is not Module.set_extra_state:
            if extra_key in state_dict:
                self.set_extra_state(state_dict[extra_key])
            elif strict:
                missing_keys.append(extra_key)
        elif strict and extra_key in state_dict:
            unexpected_keys.append(extra_key)
        if strict:
            for key in state_dict:
                if key.startswith(prefix) and key != extra_key:
                    # a dotted key must go on into a child module ("weight.x" is unexpected); a plain
                    # one must name an own parameter or persistent buffer (a bare child's name is too)
                    first, *rest = key[len(prefix):].split(".", 1)
                    if first not in (self._modules if rest else local):
                        unexpected_keys.append(key)

    def register_load_state_dict_pre_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
        error_msgs)`` runs at the start of ``load_state_dict`` and may edit ``state_dict`` (a copy)."""
        return self._register_load_state_dict_pre_hook(hook, with_module=True)

    def _register_load_state_dict_pre_hook(self, hook, with_module: bool = False):
        hooks = self.__dict__.setdefault("_load_state_dict_pre_hooks", OrderedDict())
        h = RemovableHandle(hooks)
        hooks[h.id] = functools.partial(hook, self) if with_module else hook   # a deepcopy binds its copy
        return h

    # ---- mode, conversion, gradients ----------------------------------------------------
    def train(self, mode: bool = True):
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        global TRAIN_EPOCH
        for m in self.modules():
            m.training = mode
        TRAIN_EPOCH += 1   # plugtorch.compile keys its graphs by it (training mode changes control flow)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none:
                p.grad = None      # without reading it first: a compiled step then needs no guard on it
            elif p.grad is not None:   # in place, as PyTorch's: whoever holds the grad sees zeros
                g = p.grad
                if g.grad_fn is not None:
                    g.detach_()
                else:
                    g.requires_grad_(False)
                with plugtorch.no_grad():
                    g.zero_()

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply(self, fn, recurse: bool = True):
        """Replace each parameter's and buffer's data by ``fn(tensor)``, keeping the objects."""
        for m in (self.modules() if recurse else [self]):
            for name, p in m._parameters.items():
                if p is None:
                    continue
                with plugtorch.no_grad():
                    new = fn(p)
                p.data = new
                if p._grad is not None:
                    with plugtorch.no_grad():
                        p._grad = fn(p._grad)
            for name, b in m._buffers.items():
                if b is not None:
                    m._buffers[name] = fn(b)
        return self

    def to_empty(self, *, device, recurse: bool = True):
        """Move the parameters and buffers to ``device`` without copying their values: each gets fresh,
        uninitialized storage there (initialize it afterwards, e.g. with ``reset_parameters``)."""
        return self._apply(lambda t: plugtorch.empty_like(t, device=device), recurse=recurse)

    def share_memory(self):
        """Move the parameters, their gradients and the buffers to shared memory
        (``Tensor.share_memory_``, all in one call); returns self."""
        from plugtorch.multiprocessing.reductions import share_tensors
        tensors = []
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None:
                    tensors += [p] if p._grad is None else [p, p._grad]
            tensors += [b for b in m._buffers.values() if b is not None]
        share_tensors(tensors)
        return self

    def to(self, *args, **kwargs):
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)`` or
        ``to(memory_format=...)``; floating point parameters and buffers take the dtype, all of them the
        device, the 4-D and 5-D ones the memory format. Returns ``self``."""
        from plugtorch._tensor import parse_to_args
        if "copy" in kwargs:
            raise TypeError("to() got unexpected keyword arguments ['copy']")
        fmt = kwargs.pop("memory_format", None)
        device, dtype, _ = parse_to_args(args, kwargs)
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype}")

        def convert(t):
            # memory_format=plugtorch.channels_last lays out the 4-D (and 5-D) parameters and buffers, as torch
            if fmt is not None and t.dim() in (4, 5):
                return t.to(device=device, dtype=dtype if t.dtype.is_floating_point else None, memory_format=fmt)
            return t.to(device=device, dtype=dtype if t.dtype.is_floating_point else None)
        return self._apply(convert)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{device}" if isinstance(device, int) else device)

    def _cast_floating(self, dtype):
        # integer buffers (num_batches_tracked, indices) keep their dtype, as in PyTorch
        return self._apply(lambda t: t.to(dtype=dtype) if t.dtype.is_floating_point else t)

    def float(self):
        return self._cast_floating(plugtorch.float32)

    def double(self):
        return self._cast_floating(plugtorch.float64)

    def half(self):
        return self._cast_floating(plugtorch.float16)

    def bfloat16(self):
        return self._cast_floating(plugtorch.bfloat16)

    def type(self, dst_type):
        return self._apply(lambda t: t.to(dtype=dst_type))

    # ---- hooks and calling ----------------------------------------------------------------
    def register_forward_pre_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False):
        """``hook(module, args) -> None or new args`` runs before ``forward``."""
        h = RemovableHandle(self._forward_pre_hooks, self._forward_pre_hooks_with_kwargs)
        self._forward_pre_hooks[h.id] = hook
        _structure_changed()
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[h.id] = True
        if prepend:
            self._forward_pre_hooks.move_to_end(h.id, last=False)
        return h

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False):
        """``hook(module, args, output) -> None or new output`` runs after ``forward``."""
        h = RemovableHandle(self._forward_hooks, self._forward_hooks_with_kwargs,
                            self._forward_hooks_always_called)
        self._forward_hooks[h.id] = hook
        _structure_changed()
        if with_kwargs:
            self._forward_hooks_with_kwargs[h.id] = True
        if always_call:
            self._forward_hooks_always_called[h.id] = True
        if prepend:
            self._forward_hooks.move_to_end(h.id, last=False)
        return h

    def register_full_backward_pre_hook(self, hook, *, prepend: bool = False):
        """``hook(module, grad_output) -> None or new grad_output`` runs when the gradients of the
        module's outputs are computed, before those of its inputs; what it returns replaces
        ``grad_output`` (PyTorch's semantics: the outputs are the tensors ``forward`` returned,
        itself or in a tuple, after the forward hooks)."""
        return self._add_backward_hook("_backward_pre_hooks", hook, prepend)

    def register_full_backward_hook(self, hook, *, prepend: bool = False):
        """``hook(module, grad_input, grad_output) -> None or new grad_input`` runs when the
        gradients of the module's inputs are computed: ``grad_input`` holds one entry per
        positional argument of ``forward`` (None for non-tensors, zeros for tensors that need no
        gradient), ``grad_output`` one per output (None for non-tensors). When no input requires grad it runs with the output's
        gradients and ``grad_input`` all None (it must then return None)."""
        if self._non_full_backward_hooks:
            raise RuntimeError(_BOTH_KINDS)
        return self._add_backward_hook("_backward_hooks", hook, prepend)

    def register_backward_hook(self, hook):
        """PyTorch's deprecated (non-full) backward hook: ``hook(module, grad_input, grad_output)``
        runs as a hook on the node that made the module's output (the first tensor of its
        outputs), so ``grad_input`` holds the gradients of that last op's inputs, in plugtorch's
        order of that op's arguments (``linear``: input, weight, bias; PyTorch's ``addmm``: bias,
        input, weight.T); a tuple it returns replaces them. For a forward of several ops it warns,
        as PyTorch, that grad_input misses the gradients of the earlier ops: use
        ``register_full_backward_hook`` (same ``grad_output``, ``grad_input`` per forward argument).
        """
        if self._backward_hooks or self._backward_pre_hooks:
            raise RuntimeError(_BOTH_KINDS)
        return self._add_backward_hook("_non_full_backward_hooks", hook, False)

    def _add_backward_hook(self, name, hook, prepend):
        d = self.__dict__.get(name)
        if d is None:       # (a module made without Module.__init__)
            d = self.__dict__[name] = OrderedDict()
        h = RemovableHandle(d)
        d[h.id] = hook
        if prepend:
            d.move_to_end(h.id, last=False)
        _structure_changed()
        return h

    def __call__(self, *args, **kwargs):
        compiled = self._compiled_call_impl
        if compiled is not None:
            return compiled(*args, **kwargs)
        return self._call_impl(*args, **kwargs)

    def _call_impl(self, *args, **kwargs):
        if not (self._forward_hooks or self._forward_pre_hooks or self._backward_hooks or self._backward_pre_hooks
                or self._non_full_backward_hooks):
            return self.forward(*args, **kwargs)
        for hid, hook in list(self._forward_pre_hooks.items()):
            if hid in self._forward_pre_hooks_with_kwargs:
                res = hook(self, args, kwargs)
                if res is not None:
                    if not (isinstance(res, tuple) and len(res) == 2):
                        raise RuntimeError(f"forward pre-hook {getattr(hook, '__name__', hook)} registered "
                                           f"with_kwargs=True must return None or a tuple of (new_args, "
                                           f"new_kwargs), but got {res!r}")
                    args, kwargs = res
            else:
                res = hook(self, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
        bw = None
        if (self._backward_hooks or self._backward_pre_hooks) and _grad_state.enabled:
            from plugtorch.nn.modules._backward_hooks import BackwardHooks
            bw = BackwardHooks(self)
            args = bw.setup_inputs(args)
        try:
            out = self.forward(*args, **kwargs)
        except Exception:
            for hid in self._forward_hooks_always_called:     # always_call hooks see failures too
                hook = self._forward_hooks[hid]
                hook(self, args, kwargs, None) if hid in self._forward_hooks_with_kwargs else hook(self, args, None)
            raise
        for hid, hook in list(self._forward_hooks.items()):
            res = hook(self, args, kwargs, out) if hid in self._forward_hooks_with_kwargs else hook(self, args, out)
            if res is not None:
                out = res
        if bw is not None:
            out = bw.setup_outputs(out)
        if self._non_full_backward_hooks and _grad_state.enabled:
            _hook_last_node(self, args, out)
        return out

    def compile(self, *args, **kwargs) -> None:
        """Compile this module's calls in place with ``plugtorch.compile`` (the arguments are
        passed on): later ``m(x)`` run the compiled call, hooks included, while the module,
        its parameters and ``state_dict`` stay as they are.

        >>> import plugtorch as pt
        >>> m = pt.nn.Linear(2, 2)
        >>> m.compile()
        >>> m(pt.ones(1, 2)).shape
        plugtorch.Size([1, 2])
        """
        from plugtorch.compiler import compile as compile_fn
        self._compiled_call_impl = compile_fn(self._call_impl, *args, **kwargs)

    # ---- printing -------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, m in self._modules.items():
            lines.append(f"({name}): " + _addindent(repr(m), 2))
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_compiled_call_impl", None)      # (compiled graphs are not pickled: as torch)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
