"""``plugtorch.autocast``: mixed precision as a dispatch mode over the autocast policy table.

Entering an enabled ``autocast`` pushes one dispatch mode for the thread (nested contexts
change its per-thread state and reuse it). The mode sees each op a program calls, looks the op
up in ``plugtorch/dispatch/autocast_policy.py`` under the list its device type follows, casts
the eligible tensor arguments, and runs the op. The casts are ordinary ``_to_dtype`` calls made
above autograd, so autograd records them and the backward pass casts each gradient back to its
parameter's dtype; every backend, plug-ins included, gets autocast without code of its own.

Ops that run inside another op (a composite's decomposition) are left as they are, as PyTorch
runs an autocast op's kernel with autocast off: ``cross_entropy`` runs in float32 and
``linear`` in float16 whatever their pieces' entries say.

>>> import plugtorch as pt
>>> a = pt.ones(2, 2)
>>> with pt.autocast("cpu"):
...     (a @ a).dtype, pt.cat([a @ a, a]).dtype
(plugtorch.bfloat16, plugtorch.float32)
"""
from __future__ import annotations

import functools
import threading
import warnings
import weakref

from plugtorch import _dtypes
from plugtorch.dispatch import autocast_policy as policy
from plugtorch.dispatch.dispatcher import DispatchMode, grad_state, pop_mode, push_mode
from plugtorch.dispatch.registry import OPS

__all__ = ["autocast", "is_autocast_available", "is_autocast_enabled", "get_autocast_dtype",
           "set_autocast_dtype", "is_autocast_cache_enabled", "clear_autocast_cache"]

_LOW = (_dtypes.float16, _dtypes.bfloat16)
_ELIGIBLE = (_dtypes.float16, _dtypes.bfloat16, _dtypes.float32)   # float64 is never cast
_LIST_INDEX = {name: i for i, name in enumerate(policy.LISTS)}


class _State(threading.local):
    """The calling thread's autocast state (as PyTorch's, autocast is per thread)."""

    def __init__(self):
        self.enabled = {}          # device type -> bool
        self.dtype = {}            # device type -> the dtype a context set
        self.cache_enabled = True
        self.frames = []           # one per entered context: what __exit__ restores
        self.cache = {}            # id(weight) -> (weakref to it, its version, its cast)
        self.mode = None           # the pushed _AutocastMode, while one is
        self.inside = 0            # > 0 while an op runs below the mode


_state = _State()


# ---- the per-thread state, as PyTorch's functions ------------------------------------------
def _backend(device_type: str):
    from plugtorch import backends
    return backends.get_backend(device_type)


def is_autocast_available(device_type: str) -> bool:
    """Whether ``device_type`` names a device type with a backend (autocast works on every one).

    >>> import plugtorch as pt
    >>> pt.amp.is_autocast_available("cpu"), pt.amp.is_autocast_available("nosuchdevice")
    (True, False)
    """
    try:
        _backend(device_type)
    except RuntimeError:
        return False
    return True


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is on for ``device_type`` in this thread (None means "cuda", as in PyTorch)."""
    return bool(_state.enabled.get("cuda" if device_type is None else device_type, False))


def _default_dtype(device_type: str):
    return getattr(_backend(device_type), "autocast_dtype", _dtypes.float16)


def get_autocast_dtype(device_type: str):
    """The dtype autocast runs lower-precision ops in on ``device_type``: what the innermost
    context set, else the backend's default (bfloat16 on cpu, float16 on cuda, opencl and plug-ins).

    >>> import plugtorch as pt
    >>> pt.get_autocast_dtype("cpu"), pt.get_autocast_dtype("opencl")
    (plugtorch.bfloat16, plugtorch.float16)
    """
    d = _state.dtype.get(device_type)
    return d if d is not None else _default_dtype(device_type)


def set_autocast_dtype(device_type: str, dtype) -> None:
    """Set the dtype autocast uses on ``device_type`` in this thread (``autocast(dtype=...)`` does
    this for its block)."""
    _state.dtype[device_type] = dtype


def is_autocast_cache_enabled() -> bool:
    return _state.cache_enabled


def clear_autocast_cache() -> None:
    """Forget the cached lower-precision casts of weights (leaving the outermost context does)."""
    _state.cache.clear()


def _list_index(device_type: str) -> int:
    name = getattr(_backend(device_type), "autocast_list", "cuda")
    if name not in _LIST_INDEX:
        raise RuntimeError(f"the '{device_type}' backend declares autocast_list = {name!r}; it must be one of "
                           f"{', '.join(map(repr, policy.LISTS))} (which of PyTorch's op lists it follows)")
    return _LIST_INDEX[name]


# ---- the context manager ---------------------------------------------------------------------
class autocast:
    """Run the ops in a block (or a decorated function) in mixed precision on ``device_type``.

    Lower-precision ops (matmul, linear, convolutions ...) run in ``dtype`` (default: bfloat16 on
    cpu, float16 on cuda and opencl), float32 ops (softmax, losses, norms ... on cuda; losses
    on cpu) in float32, and ops that combine tensors in their widest dtype; see docs/amp.md.
    Gradients reach the parameters in the parameters' own dtype. ``cache_enabled`` keeps one
    cast per weight for the outermost block.

    >>> import plugtorch as pt
    >>> lin = pt.nn.Linear(4, 2)
    >>> with pt.autocast("cpu"):
    ...     y = lin(pt.ones(3, 4))
    >>> y.dtype, lin.weight.dtype
    (plugtorch.bfloat16, plugtorch.float32)
    >>> y.float().sum().backward(); lin.weight.grad.dtype
    plugtorch.float32
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True, cache_enabled: bool | None = None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}` (pass the device "
                             "type name, e.g. autocast('cuda') or autocast(x.device.type))")
        if not is_autocast_available(device_type):
            raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}': no backend is "
                               "registered for it (see plugtorch.backends.list())")
        if dtype is not None and not isinstance(dtype, _dtypes.dtype):
            raise TypeError(f"autocast(): dtype must be a plugtorch.dtype, got {type(dtype).__name__}")
        self.device = device_type
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self._cache_enabled = is_autocast_cache_enabled() if cache_enabled is None else bool(cache_enabled)
        self._enabled = bool(enabled) and self._usable()

    def _usable(self) -> bool:
        name = self.device.upper()
        if self.fast_dtype not in _LOW:
            warnings.warn(f"In {name} autocast, but the target dtype is not supported. Disabling autocast.\n"
                          f"{name} Autocast only supports dtypes of plugtorch.bfloat16, plugtorch.float16 currently "
                          f"(got {self.fast_dtype}).", UserWarning, stacklevel=3)
            return False
        be = _backend(self.device)
        if self.device != "cpu":
            if not be.is_available():
                warnings.warn(f"{name} is not available ({be.unavailable_reason()}). Disabling autocast.",
                              UserWarning, stacklevel=3)
                return False
            why = be.unsupported_dtype(self.fast_dtype, be.current_device())
            if why is not None:
                other = _dtypes.bfloat16 if self.fast_dtype is _dtypes.float16 else _dtypes.float16
                warnings.warn(f"In {name} autocast, but device '{self.device}:{be.current_device()}' does not support "
                              f"{self.fast_dtype} ({why}). Disabling autocast; dtype={other} may work instead.",
                              UserWarning, stacklevel=3)
                return False
        return True

    def __enter__(self):
        st = _state
        st.frames.append((self.device, st.enabled.get(self.device, False), st.dtype.get(self.device),
                          st.cache_enabled, st.mode is None and self._enabled))
        st.enabled[self.device] = self._enabled
        st.dtype[self.device] = self.fast_dtype
        st.cache_enabled = self._cache_enabled
        if st.mode is None and self._enabled:
            st.mode = _AutocastMode()
            push_mode(st.mode)
        return self

    def __exit__(self, *exc):
        st = _state
        device, enabled, dtype, cache_enabled, pushed = st.frames.pop()
        if not st.frames:
            st.cache.clear()     # casts of weights live as long as the outermost context
        st.enabled[device] = enabled
        st.dtype[device] = dtype
        st.cache_enabled = cache_enabled
        if pushed:
            mode, st.mode = st.mode, None
            pop_mode(mode)
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(f"autocast()(func) requires a callable, but got {type(func).__name__}. Did you mean to "
                            "use autocast as a context manager? For example:\n    with plugtorch.autocast(device_type=...):"
                            "\n        output = model(input)")

        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            with self:      # (re-entrant: what __exit__ restores is kept per thread, not here)
                return func(*args, **kwargs)
        return decorate_autocast


# ---- the mode -----------------------------------------------------------------------------
_TO_DTYPE = OPS["_to_dtype"]
_DTYPE_ARG: dict = {}    # op name -> position of its `dtype` parameter (None: it has none)


class _AutocastMode(DispatchMode):
    """Casts the arguments of the ops the policy table lists; one per thread while autocast is on."""

    def __plugtorch_dispatch__(self, op, args, kwargs, call):
        st = _state
        if st.inside:     # an op running inside another op (a decomposition): as it comes
            return call(args, kwargs)
        st.inside = 1
        try:
            entry = policy.POLICIES.get(op.name)
            if entry is not None:
                args, kwargs = _cast_arguments(op, entry, args, kwargs, st, call.redispatch)
            return call(args, kwargs)
        finally:
            st.inside = 0


def _first_device_type(args):
    for a in args:
        d = getattr(a, "_device", None)
        if d is not None:
            return d.type
        if a.__class__ in (list, tuple):
            for b in a:
                d = getattr(b, "_device", None)
                if d is not None:
                    return d.type
    return None


def _cast_arguments(op, entry, args, kwargs, st, dispatch):
    """``(args, kwargs)`` with the eligible tensors cast as ``entry`` says; ``dispatch`` runs the
    casts through the modes below autocast (a tracer there records them as ops)."""
    device_type = _first_device_type(args) or _first_device_type(kwargs.values())
    if device_type is None or not st.enabled.get(device_type):
        return args, kwargs
    how = entry[_list_index(device_type)]
    if how is None:
        return args, kwargs
    if how == policy.BANNED:
        raise RuntimeError(policy.BANNED_MESSAGES[op.name])
    fast = get_autocast_dtype(device_type)
    if how == policy.LOWER:
        to = fast
    elif how == policy.FP32:
        if _explicit_dtype(op, args, kwargs):   # an op told its dtype is not autocast, as in PyTorch
            return args, kwargs
        to = _dtypes.float32
    else:   # PROMOTE: float32 if any eligible input is, else the autocast dtype
        to = fast
        for t in _tensors(args, kwargs):
            if t._dtype is _dtypes.float32 and t._device.type == device_type:
                to = _dtypes.float32
                break
            if t._dtype in _LOW and t._dtype is not fast and t._device.type == device_type:
                to = _dtypes.float32    # float16 beside bfloat16: both fit float32
    cache = st.cache if st.cache_enabled and to is fast and grad_state.enabled else None

    def cast(a):
        if a.__class__ in (list, tuple):
            return a.__class__(cast(b) for b in a)
        d = getattr(a, "_dtype", None)
        if d is None or d is to or d not in _ELIGIBLE or a._device.type != device_type:
            return a
        if cache is not None and d is _dtypes.float32 and a._rg and a.grad_fn is None and a._base is None:
            return _cached_cast(cache, a, to, dispatch)
        return dispatch(_TO_DTYPE, a, to)

    return tuple(cast(a) for a in args), {k: cast(v) for k, v in kwargs.items()} if kwargs else kwargs


def _cached_cast(cache, w, to, dispatch):
    """The cast of weight ``w`` (a float32 leaf that requires grad), made once per outermost
    context and reused while ``w`` is unchanged (an in-place update gives it a new version)."""
    key = id(w)
    hit = cache.get(key)
    version = w._version
    if hit is not None and hit[0]() is w and hit[1] == version:
        return hit[2]
    c = dispatch(_TO_DTYPE, w, to)
    cache[key] = (weakref.ref(w), version, c)
    return c


def _tensors(args, kwargs):
    for a in (*args, *kwargs.values()):
        if a.__class__ in (list, tuple):
            for b in a:
                if getattr(b, "_dtype", None) is not None:
                    yield b
        elif getattr(a, "_dtype", None) is not None:
            yield a


def _explicit_dtype(op, args, kwargs) -> bool:
    if kwargs.get("dtype") is not None:
        return True
    pos = _DTYPE_ARG.get(op.name, -1)
    if pos == -1:
        names = list(op.signature.parameters)
        pos = _DTYPE_ARG[op.name] = names.index("dtype") if "dtype" in names else None
    return pos is not None and pos < len(args) and args[pos] is not None
