"""``Optimizer``: parameter groups, per-parameter state, state dicts and the step protocol.

Each algorithm (``sgd.py``, ``adam.py`` ...) subclasses it and keeps its update math in a
plain function over lists of tensors, which the ``step`` method feeds from the groups.

>>> import plugtorch as pt
>>> w = pt.zeros(2, requires_grad=True)
>>> opt = pt.optim.SGD([w], lr=0.1)
>>> (w - pt.tensor([1., 2.])).square().sum().backward()
>>> opt.step(); w.tolist()
[0.20000000298023224, 0.4000000059604645]
"""
from __future__ import annotations

import copy
import functools
import weakref
from collections import defaultdict

from plugtorch._tensor import Tensor
from plugtorch.autograd.grad_mode import enable_grad, no_grad


_UNSET = object()


class _CountingDict:
    """The mutating methods of a dict, each counting a change (``_changed``) where it makes one:
    ``ParamState`` and ``OptimizerState`` below."""

    def __setitem__(self, key, value):
        if dict.get(self, key, _UNSET) is not value:     # (SGD stores its buffer back at each step)
            self._changed()
        dict.__setitem__(self, key, value)

    def __delitem__(self, key):
        dict.__delitem__(self, key)
        self._changed()

    def clear(self):
        dict.clear(self)
        self._changed()

    def pop(self, key, *default):
        if key in self:
            self._changed()
        return dict.pop(self, key, *default)

    def popitem(self):
        self._changed()
        return dict.popitem(self)

    def setdefault(self, key, default=None):
        if key not in self:
            self._changed()
        return dict.setdefault(self, key, default)

    def update(self, *args, **kwargs):
        dict.update(self, *args, **kwargs)
        self._changed()

    def __ior__(self, other):
        dict.update(self, other)
        self._changed()
        return self


class ParamState(_CountingDict, dict):
    """One parameter's state (``opt.state[p]``): a dict that counts each change made to it in its
    optimizer's ``OptimizerState.changes``."""
    _changes = None          # the owning OptimizerState's counter (a one-item list)

    def _changed(self):
        c = self._changes
        if c is not None:
            c[0] += 1


class OptimizerState(_CountingDict, defaultdict):
    """``opt.state``: a ``defaultdict`` making each parameter's state a ``ParamState`` on first
    use, which counts every change made to it or to them in ``changes`` (``[n]``). A compiled
    step (plugtorch.compile) captured the state tensors: one comparison of that count tells it
    that ``opt.state.clear()``, ``del opt.state[p]`` or ``opt.state[p]["momentum_buffer"] = t``
    did not happen, where comparing every state tensor by identity cost ~1 us per call."""

    def __init__(self, default_factory=dict, *args, **kwargs):
        self.changes = [0]
        super().__init__(default_factory, *args, **kwargs)

    def _changed(self):
        self.changes[0] += 1

    def __reduce__(self):
        # (with the counter: a copy's ParamStates count into the copy's, pickled or deep-copied)
        return type(self), (self.default_factory,), self.__dict__, None, iter(self.items())

    def __repr__(self):
        # (a defaultdict's text, as torch's ``opt.state`` prints: the class is an implementation detail)
        return f"defaultdict({self.default_factory!r}, {dict.__repr__(self)})"

    def __missing__(self, key):
        d = ParamState()
        d._changes = self.changes
        dict.__setitem__(self, key, d)
        self.changes[0] += 1
        return d


class _RequiredParameter:
    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()   # a default that every group must set (e.g. SGD's lr)
# every optimizer alive: plugtorch.compile guards a compiled step on the options of those whose
# parameters its graph uses (a new learning rate traces again instead of replaying the old one)
LIVE = weakref.WeakSet()


# hooks every optimizer runs around step() (register_optimizer_step_pre_hook / _post_hook)
_GLOBAL_STEP_PRE_HOOKS: dict = {}
_GLOBAL_STEP_POST_HOOKS: dict = {}


def register_optimizer_step_pre_hook(hook):
    """Run ``hook(optimizer, args, kwargs)`` before every optimizer's ``step``; it may return new
    ``(args, kwargs)``. Returns a handle whose ``remove()`` unregisters it."""
    return _add_hook(_GLOBAL_STEP_PRE_HOOKS, hook)


def register_optimizer_step_post_hook(hook):
    """Run ``hook(optimizer, args, kwargs)`` after every optimizer's ``step``."""
    return _add_hook(_GLOBAL_STEP_POST_HOOKS, hook)


def _add_hook(hooks: dict, hook, prepend: bool = False):
    from plugtorch.nn.modules.module import RemovableHandle
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks_in_order = {handle.id: hook, **{k: v for k, v in hooks.items() if k != handle.id}}
        hooks.clear()
        hooks.update(hooks_in_order)
    return handle


def _with_step_hooks(step):
    """``step`` running the global and the optimizer's pre and post hooks around it (once: a
    subclass's step calling ``super().step()`` runs them only for the outer call)."""
    @functools.wraps(step)
    def hooked(self, *args, **kwargs):
        if self.__dict__.get("_in_step"):
            return step(self, *args, **kwargs)
        for hook in (*_GLOBAL_STEP_PRE_HOOKS.values(), *self.__dict__.get("_step_pre_hooks", {}).values()):
            out = hook(self, args, kwargs)
            if out is not None:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError(f"optimizer step pre hook must return None or a tuple of (new_args, "
                                       f"new_kwargs), but got {out!r}")
                args, kwargs = out
        self._in_step = True
        try:
            result = step(self, *args, **kwargs)
        finally:
            self._in_step = False
        for hook in (*self.__dict__.get("_step_post_hooks", {}).values(), *_GLOBAL_STEP_POST_HOOKS.values()):
            hook(self, args, kwargs)
        return result
    hooked._with_hooks = True
    return hooked


class Optimizer:
    """Base class: ``Optimizer(params, defaults)`` where params are tensors or dicts of options."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_with_hooks", False):
            cls.step = _with_step_hooks(step)

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self._step_pre_hooks: dict = {}
        self._step_post_hooks: dict = {}
        self._state_dict_pre_hooks: dict = {}
        self._state_dict_post_hooks: dict = {}
        self._load_state_dict_pre_hooks: dict = {}
        self._load_state_dict_post_hooks: dict = {}
        LIVE.add(self)
        self.state: dict = OptimizerState()
        self.param_groups: list = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {type(params).__name__}; wrap it: [tensor]")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def __repr__(self):
        lines = [self.__class__.__name__ + " ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {g[k]}" for k in sorted(g) if k != "params"]
        return "\n".join(lines) + "\n)"

    # --- groups --------------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (the rest come from the defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but "
                            "the ordering of tensors in sets will change between runs. Please use a list instead.")
        params = list(params)
        # named parameters (model.named_parameters()): ("name", tensor) pairs, as PyTorch 2.6+
        names = [p[0] for p in params if isinstance(p, tuple)]
        if names and len(names) != len(params):
            raise ValueError("all optimizer params should be with/without names. Some param names are missing")
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor (one computed from others); "
                                 "optimize the leaf it came from, or .detach().requires_grad_() it")
        group = dict(param_group, params=params)
        if names:
            group = {"params": params, "param_names": names,
                     **{k: v for k, v in group.items() if k not in ("params", "param_names")}}
        if self.param_groups and ("param_names" in group) != ("param_names" in self.param_groups[0]):
            raise ValueError("all optimizer param groups should be with/without names. cannot add param group "
                             + ("with names" if "param_names" in group else "without names") + " to the optimizer")
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # --- gradients and steps ---------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter: to None (default) or to zeros in place."""
        for g in self.param_groups:
            for p in g["params"]:
                if set_to_none:
                    p.grad = None      # without reading it first: a compiled step then needs no guard on it
                    continue
                if p.grad is None:
                    continue
                else:
                    with no_grad():
                        p.grad.detach_()
                        p.grad.zero_()

    def step(self, closure=None):
        """Update the parameters once; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                self._update_group(group)
        return loss

    # --- hooks (as torch.optim.Optimizer's) ---------------------------------------------------
    def register_step_pre_hook(self, hook):
        """Run ``hook(optimizer, args, kwargs)`` before each ``step``; it may return new ``(args, kwargs)``.

        Under ``plugtorch.compile`` a hook runs while the step is traced: its tensor ops join
        the graph and replay, its other Python effects happen once per trace.
        """
        return _add_hook(self._step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        """Run ``hook(optimizer, args, kwargs)`` after each ``step``."""
        return _add_hook(self._step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend: bool = False):
        """Run ``hook(optimizer)`` before ``state_dict`` builds the dict."""
        return _add_hook(self._state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend: bool = False):
        """Run ``hook(optimizer, state_dict)`` on the built dict; a returned dict replaces it."""
        return _add_hook(self._state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend: bool = False):
        """Run ``hook(optimizer, state_dict)`` before loading; a returned dict is loaded instead."""
        return _add_hook(self._load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend: bool = False):
        """Run ``hook(optimizer)`` after ``load_state_dict``."""
        return _add_hook(self._load_state_dict_post_hooks, hook, prepend)

    def _update_group(self, group: dict) -> None:
        raise NotImplementedError(f"{self.__class__.__name__} does not implement its update")

    def _params_with_grad(self, group):
        return [p for p in group["params"] if p.grad is not None]

    def _group_state(self, group, *zero_buffers, init=None):
        """The group's parameters that have a gradient, and their state dicts.

        A parameter's first step creates its state, in this order: ``"step"`` (``new_step()``), a
        ``zeros_state(p)`` buffer for each name in ``zero_buffers``, then the entries of the dict
        ``init(p)`` returns (buffers that depend on the group's options or are not zeros).
        """
        params = self._params_with_grad(group)
        for p in params:
            st = self.state[p]
            if not st:
                st["step"] = new_step()
                for name in zero_buffers:
                    st[name] = zeros_state(p)
                if init is not None:
                    st.update(init(p))
        return params, [self.state[p] for p in params]

    # --- state dicts -----------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``.

        Parameters are numbered in group order, so the dict can be loaded into an optimizer
        built over another copy of the same model.
        """
        for hook in self.__dict__.get("_state_dict_pre_hooks", {}).values():
            hook(self)
        index, groups, n = {}, [], 0
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                if id(p) not in index:
                    index[id(p)] = n
                    n += 1
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": ids})
        state = {index[id(p)]: dict(s) for p, s in self.state.items()}
        sd = {"state": state, "param_groups": groups}
        for hook in self.__dict__.get("_state_dict_post_hooks", {}).values():
            out = hook(self, sd)
            sd = sd if out is None else out
        return sd

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore options and state saved by ``state_dict`` (tensors move to the parameters)."""
        state_dict = copy.copy(state_dict)
        for hook in self.__dict__.get("_load_state_dict_pre_hooks", {}).values():
            out = hook(self, state_dict)
            state_dict = state_dict if out is None else out
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups "
                             f"({len(saved)}) than the optimizer ({len(self.param_groups)})")
        for i, (g, s) in enumerate(zip(self.param_groups, saved)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't match the "
                                 f"size of optimizer's group: group {i} has {len(s['params'])} "
                                 f"parameters saved and {len(g['params'])} in the optimizer")
        by_index = {}
        for g, s in zip(self.param_groups, saved):
            by_index.update(zip(s["params"], g["params"]))
        self.state = OptimizerState()
        # plugtorch.compile's graphs captured the old state tensors and groups: they trace again
        self.__dict__["_state_epoch"] = self.__dict__.get("_state_epoch", 0) + 1
        for key, st in state_dict["state"].items():
            p = by_index.get(int(key))
            if p is None:
                continue
            self.state[p].update({k: _cast_state(p, k, v) for k, v in st.items()})
        # options missing from an older state dict keep this optimizer's values
        self.param_groups = [{**g, **s, "params": g["params"]} for g, s in zip(self.param_groups, saved)]
        for hook in self.__dict__.get("_load_state_dict_post_hooks", {}).values():
            hook(self)


Optimizer.step = _with_step_hooks(Optimizer.step)


# 0-d scalars the updates read on cpu (NAdam's mu_product, ASGD's eta and mu, like every 'step'):
# they stay float32 on cpu when loaded (PyTorch casts all but 'step' to the parameter's dtype and
# device), so a loaded optimizer rounds as the saved one did and needs no float64 on the device
_CPU_SCALARS = ("step", "mu_product", "eta", "mu")


def _cast_state(param, key, value):
    # as PyTorch: floating state follows the parameter's dtype and device; 'step' stays as is.
    # Lists, tuples and dicts of tensors (LBFGS's history) are cast element by element
    if isinstance(value, dict):
        return {k: _cast_state(param, k, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_state(param, None, v) for v in value)
    if key in _CPU_SCALARS and isinstance(value, (int, float)) and not isinstance(value, bool):
        # an older checkpoint's Python number (PyTorch before 1.12 counted 'step' with an int, and
        # kept ASGD's eta and mu, NAdam's mu_product as floats): the 0-d float32 tensor updates use
        from plugtorch import _ops_public as P
        from plugtorch._dtypes import float32
        return P.full((), float(value), dtype=float32)
    if not isinstance(value, Tensor):
        return value
    if key == "step" or (key in _CPU_SCALARS and value.ndim == 0):
        # on cpu, where a new optimizer keeps them, whatever device map_location sent them to
        # (a checkpoint loaded with map_location="opencl" into a cpu model must step as saved)
        return value.to("cpu", copy=True)
    if value.dtype.is_floating_point:
        return value.to(param.device, param.dtype, copy=True)
    return value.to(param.device, copy=True)


def check_lr(lr) -> None:
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr} (it must be >= 0)")


def check_nonnegative(name: str, value) -> None:
    if not 0.0 <= value:
        raise ValueError(f"Invalid {name} value: {value} (it must be >= 0)")


def check_fused_flags(foreach, fused, capturable=False, differentiable=False) -> None:
    """PyTorch's implementation switches: foreach / fused pick the loop or the one-op update
    (plugtorch's updates are one op by default; False asks for the loop), the others are refused."""
    if foreach and fused:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
    if differentiable:
        raise NotImplementedError("differentiable=True is not supported: plugtorch's optimizers update "
                                  "parameters under no_grad")
    if capturable:
        raise NotImplementedError("capturable=True (CUDA graph capture) is not supported")


def new_step():
    """A step counter, as PyTorch keeps it: a 0-d float32 tensor on cpu."""
    from plugtorch import _ops_public as P
    from plugtorch._dtypes import float32
    return P.zeros((), dtype=float32)


def zeros_state(p):
    """A zero buffer shaped, typed and placed like ``p`` (for momentum and moment estimates)."""
    from plugtorch import _ops_public as P
    return P.zeros_like(p)
