"""dispatch(op, *args): modes -> autograd -> meta -> backend kernel (or decomposition / fallback).

The path for an op with no active mode and no gradient to record is kept short: one meta
call, one dict lookup for the kernel, one kernel call and the wrap into a Tensor.
"""
from __future__ import annotations

import os
import threading
import warnings

import numpy as np
from sys import _getframe, getrefcount
from weakref import WeakSet

from plugtorch import _caches, _dtypes
from plugtorch._device import backend_for, device
from plugtorch.dispatch.checked import PluginKernels
from plugtorch.dispatch.fpstate import FP_ERRORS, quietly, strict
from plugtorch.dispatch.framestack import READABLE, holds as stack_holds, operand_slot
from plugtorch.dispatch.registry import FAST_MAX, OUT_INPLACE, OUT_MULTI, OUT_RAW, OUT_TENSOR, OUT_VIEW

_modes: list = []          # the modes active in ANY thread: the hot paths' one cheap check
_modes_lock = threading.Lock()
_new = object.__new__
_fallback_warned: set = set()
_fallback_records: list = []   # sets collecting the names of ops run through the cpu fallback


class _ModeStack(threading.local):
    """Each thread's own dispatch modes, innermost last (as grad mode is per thread)."""

    def __init__(self):
        self.modes = []
        self.recorder = None   # plugtorch.jit's tracer while it records this thread's kernels


_stack = _ModeStack()


class _GradState(threading.local):
    enabled = True
    inference = False
    # custom autograd.Function forwards running (under no_grad): their ops are not the
    # program's own no_grad block (plugtorch.jit replays them through autograd with gradients on)
    in_function = 0
    # the serial (rising) of the explicit turning-on of grad mode in effect: enable_grad(),
    # set_grad_enabled(True) (block or call), inference_mode(False); 0 if none. plugtorch.jit
    # tells the ops made after one inside a traced call (recorded with gradients under no_grad
    # too) from those that only inherited grad mode by a serial above the one at the call
    forced = 0


grad_state = _GradState()

# Filled in by plugtorch/__init__ to avoid import cycles.
Tensor = None
autograd_record = None
array_operand = None   # plugtorch.as_tensor: a NumPy array operand of an operator (x + arr)
_ndarray = np.ndarray

_fallback_override = None


def set_cpu_fallback(enabled: bool | None) -> None:
    """Run ops a backend lacks on cpu (copy in, run, copy back; warns once per op).

    ``None`` returns control to the ``PLUGTORCH_CPU_FALLBACK`` environment variable.
    """
    global _fallback_override
    _fallback_override = enabled


def cpu_fallback_enabled() -> bool:
    if _fallback_override is not None:
        return _fallback_override
    return os.environ.get("PLUGTORCH_CPU_FALLBACK", "0") not in ("", "0", "false", "False")


class record_fallbacks:
    """Collect the names of the ops that run on cpu through the fallback inside the block
    (the conformance suite reports an entry that needed one as "via fallback").

    >>> with record_fallbacks() as ops:      # doctest: +SKIP
    ...     y = x.erf()                      # x on a backend without an erf kernel
    >>> ops
    {'erf'}
    """

    def __enter__(self) -> set:
        self.ops = set()
        _fallback_records.append(self.ops)
        return self.ops

    def __exit__(self, *exc):
        _fallback_records.remove(self.ops)
        return False


def dispatch(op, *args, **kwargs):
    """Run one op through modes, autograd and the device's backend."""
    try:   # (free unless raised: a TypeError from binding the arguments is renamed for the op)
        if _modes:
            return _dispatch_with_modes(op, args, kwargs)
        if (op.differentiable or op.grad_nyi) and grad_state.enabled:
            for a in args:
                if a.__class__ is Tensor:
                    if a._rg:
                        return autograd_record(op, args, kwargs)
                elif isinstance(a, Tensor):
                    if a._rg:
                        return autograd_record(op, args, kwargs)
                elif a.__class__ is list or a.__class__ is tuple:
                    if _requires_grad(a):
                        return autograd_record(op, args, kwargs)
        f = op.operator
        if f is not None and not kwargs and len(args) == f[0] and args[0].__class__ is Tensor and (
                f[0] == 1 or args[1].__class__ is Tensor or args[1].__class__ in _SCALARS):
            return f[1](*args)   # a pointwise op on plain operands: its memoised meta (binary_operator)
        return run(op, args, kwargs)
    except TypeError as e:
        named = bad_arguments(op.name, op, args, kwargs, e)
        if named is None:
            raise
        raise named from None


def bad_arguments(name, op, args, kwargs, error):
    """``error`` renamed for ``name`` when ``args`` do not bind to ``op``'s signature (else None)."""
    from plugtorch.dispatch.arguments import binding_error
    return binding_error(name, op.signature, args, kwargs, error)


_SCALARS = frozenset((float, int))   # the other operands binary_operator memoises, beside tensors


def binary_operator(op):
    """The Tensor operator ``a <op> b`` of pointwise binary ``op`` (``Tensor.__add__``):
    ``dispatch(op, a, b)`` with the meta result memoised.

    The meta function of a pointwise op depends only on the operands' devices, dtypes and
    shapes (or a scalar's type), so its verdict for one such signature holds for every call
    with it. ``invalidate_caches()`` forgets them when kernels change. The operator is the
    class's own function (no wrapper frame): one Python call per ``a + b``.

    >>> add = binary_operator(registry.get("add"))      # doctest: +SKIP
    >>> add(plugtorch.ones(2), 1.0)
    tensor([2., 2.])
    """
    made = _operators.get(op)
    if made is not None:   # one operator per op: Tensor's method, op.operator and binary() share it
        return made
    fast = op.fast

    def operator(a, b):
        if _modes or a.__class__ is not Tensor:
            return dispatch(op, a, array_operand(b) if b.__class__ is _ndarray else b)
        bc = b.__class__
        if bc is Tensor:
            if (a._rg or b._rg) and grad_state.enabled and (op.differentiable or op.grad_nyi):
                return autograd_record(op, (a, b), {})
            dev = a._device
            if b._device is not dev:
                return run(op, (a, b), {})
            bd = b._data
            key = (dev, a._dtype, b._dtype, a._data.shape, bd.shape)
        elif bc is float or bc is int:
            if a._rg and grad_state.enabled and (op.differentiable or op.grad_nyi):
                return autograd_record(op, (a, b), {})
            if bc is int and not -0x8000000000000000 <= b <= 0x7fffffffffffffff:
                return run(op, (a, b), {})   # (the memo keys by type: the meta checks an int past int64)
            bd = b
            key = (a._device, a._dtype, bc, a._data.shape)
        elif bc is _ndarray:   # `x + arr`: the array as a cpu tensor, as PyTorch's operators take it
            return operator(a, array_operand(b))
        elif isinstance(b, _OPERAND_TYPES) or isinstance(b, Tensor):   # (bool, complex, a NumPy scalar, a subclass)
            return dispatch(op, a, b)
        else:   # as PyTorch's operators: Python then asks b's reflected operator (b.__radd__)
            return NotImplemented
        e = fast.get(key)
        if e is None:
            e = _binary_entry(op, a, b, bd, key)
            if e is None:   # (no mode and nothing to record, as checked above: what dispatch would run)
                return run(op, (a, b), {})
        ad = a._data
        k = e[4]
        if (k is not None and getrefcount(a) <= _TEMP_REFS
                and getrefcount(ad) <= _TEMP_DATA_REFS and a._vc is None and a._base is None
                and (ad.__class__ is not _ndarray or ad.base is None or _sole_view(ad))
                and a.grad_fn is None and (getrefcount(a) <= _OWN_REFS or _by_operator(a, b))
                and not strict()):
            # `a` is a temporary nothing else can see (as in `x * y + z`, or passed straight from
            # a call as in `mul(reciprocal(a), b)`): reuse its memory, as NumPy does, instead of
            # allocating (and page-faulting) a new result
            k(ad, bd, e[1])
            res = ad
        else:
            try:
                res = e[0](ad, bd, e[1])
            except FP_ERRORS:   # a strict warning filter: run it again quietly (dispatch/fpstate.py)
                res = quietly(e[0], ad, bd, e[1])
        t = _new(Tensor)
        t._data = res
        t._dtype = e[2]
        t._device = e[3]
        return t

    operator.__name__ = operator.__qualname__ = op.name
    op.operator = (2, operator)
    f = _in_c(operator, fast, 2)
    if Tensor is not None:   # (the C operator needs the class: kept once it exists)
        _operators[op] = f
    return f


def binary(op, a, b):
    """``op(a, b)`` through ``op``'s binary operator function (for callers holding the op:
    autograd's recording)."""
    f = _operators.get(op)
    if f is None:
        f = binary_operator(op)
    r = f(a, b)
    # (NotImplemented is the operator's answer to an operand it does not take: the op raises)
    return r if r is not NotImplemented else dispatch(op, a, b)


def unary(op, a):
    """``op(a)`` through ``op``'s unary operator function (see ``binary``)."""
    f = _operators.get(op)
    if f is None:
        f = unary_operator(op)
    return f(a)


_operators: dict = {}   # op -> its operator function, for binary() and unary()
# what a binary operator takes besides Tensors (else NotImplemented)
_OPERAND_TYPES = (int, float, complex, np.number, np.bool_, np.ndarray)


def _binary_entry(op, a, b, bd, key):
    dev, kargs, out = op.meta(a, b)
    if out in _FLOAT8:
        check_float8(op, out)
    kernels = dev._kernels or _resolve_kernels(dev)
    kernel = kernels.get(op.name) or _checked(kernels, op, out)
    if kernel is None or kargs[0] is not a._data or kargs[1] is not bd:
        return None   # (the meta moved or converted an operand: it must run on every call)
    if bd is b and "scalar_checked" in op.tags and not out.is_floating_point:
        return None      # the meta checks this scalar's value: run it on every call
    inplace = None   # the in-place kernel, when the result could live in a's memory
    # (the key holds a's shape and dtype: whether it is large enough holds for every call)
    if (_ELIDE and out is a._dtype and kargs[0] is a._data
            and getattr(a._data, "nbytes", 0) >= _ELIDE_BYTES):
        from plugtorch.dispatch.meta import broadcast_shapes
        sa = a._data.shape
        if not isinstance(b, Tensor) or broadcast_shapes(sa, bd.shape, op=op.name) == sa:
            inplace = kernels.get(op.name + "_")
    e = (kernel, kargs[2], out, dev, inplace)
    _caches.put(op.fast, key, e, FAST_MAX)
    return e


def _sole_view(ad) -> bool:
    """Whether NumPy view ``ad`` is the only holder of its memory (a view NumPy made of a fresh
    result). A view of an array someone still holds (``from_numpy(arr[0])``), of a buffer
    (``frombuffer(b)``: its base is no array owning memory) or of a memory map is not: reusing
    it would overwrite their data."""
    base = ad.base
    # references: ad's base, the local `base` and getrefcount's argument
    return base.__class__ is _ndarray and base.flags.owndata and getrefcount(base) <= 3


_operand_slots: dict = {}   # (code, offset) -> framestack.operand_slot: where its operands lie


def _by_operator(a, b) -> bool:
    """Whether the caller of the operator function calling this runs the binary operator
    instruction ``a + b`` (or ``b + a``) itself: its value stack holds ``a`` and ``b``.

    Not a call: ``Tensor.__add__(x, y)`` with a named ``x`` passes it with the reference count
    ``x * y + z`` passes its temporary. Not C code that the instruction runs and that hands
    over an object it holds no reference of its own to: ``o[:] + 1``, ``o.reshape(3) - 1`` or
    ``o + 1`` on a NumPy object array call each element's operator from NumPy's object loop
    (while this frame runs the operator of the array), and an element the array alone holds
    counts as a temporary does. Both must keep their values."""
    try:
        frame = _getframe(2)
    except ValueError:   # called from C with no Python frame above
        return False
    key = (frame.f_code, frame.f_lasti)
    slot = _operand_slots.get(key)
    if slot is None:
        slot = operand_slot(*key)
        _caches.put(_operand_slots, key, slot, FAST_MAX)
    return slot >= 0 and stack_holds(frame, slot, a, b)


def _calibrate_elision():
    """Reference counts a temporary operand (and its array) has inside an operator function.

    Measured with the same call structure as the operators (``Tensor.__add__`` is the function
    ``binary_operator`` makes); elision is enabled only if a named operand, or an array someone
    else holds, counts exactly one more, and a direct call of the function is told apart from
    the operator, so that nothing visible anywhere is ever overwritten.
    """
    class Probe:
        pass

    def probe(a, b):
        ad = a._data
        return getrefcount(a), getrefcount(ad), _by_operator(a, b)

    Probe.__add__ = Probe.__mul__ = probe
    held = []

    def make(share=False):
        p = Probe()
        p._data = object()
        if share:
            held.append(p._data)
        return p

    temp_refs, temp_data, by_op = make() + 1
    named = make()
    named_refs, _, _ = named * 1
    _, shared_data, _ = make(share=True) + 1
    own_refs, _, by_call = Probe.__add__(make(), 1)   # a temporary passed by a call: the frame's only
    _, _, by_named_call = Probe.__add__(named, 1)
    objects = np.empty(1, object)   # an element NumPy's object loop hands over, the array's alone
    objects[0] = make()
    (_, _, by_loop), = objects[:] + 1
    # (where framestack cannot read this Python's frames, no operator's operand is reused; a
    # temporary a call passes is, as its count tells it apart)
    ok = (named_refs == temp_refs + 1 and shared_data == temp_data + 1 and by_op == READABLE
          and not by_call and not by_named_call and not by_loop and own_refs < temp_refs)
    return ok, temp_refs, temp_data, own_refs


_ELIDE, _TEMP_REFS, _TEMP_DATA_REFS, _OWN_REFS = _calibrate_elision()
_ELIDE_BYTES = 1 << 18      # below 256 KiB a fresh allocation is cheap (NumPy's threshold too)


def unary_operator(op):
    """The Tensor method ``a.<op>()`` (and ``-a``) of pointwise unary ``op``, with the meta result
    memoised (see ``binary_operator``)."""
    made = _operators.get(op)
    if made is not None:
        return made
    fast = op.fast

    def operator(self):
        if _modes or self.__class__ is not Tensor:
            return dispatch(op, self)
        if self._rg and grad_state.enabled and (op.differentiable or op.grad_nyi):
            return autograd_record(op, (self,), {})
        key = (self._device, self._dtype)
        e = fast.get(key)
        if e is None:
            dev, kargs, out = op.meta(self)
            if out in _FLOAT8:
                check_float8(op, out)
            kernels = dev._kernels or _resolve_kernels(dev)
            kernel = kernels.get(op.name) or _checked(kernels, op, out)
            if kernel is None or kargs[0] is not self._data:
                return run(op, (self,), {})
            e = (kernel, kargs[1], out, dev)
            _caches.put(fast, key, e, FAST_MAX)
        t = _new(Tensor)
        try:
            t._data = e[0](self._data, e[1])
        except FP_ERRORS:
            t._data = quietly(e[0], self._data, e[1])
        t._dtype = e[2]
        t._device = e[3]
        return t

    operator.__name__ = operator.__qualname__ = op.name   # argument errors name it: "sin() takes 1 ..."
    operator.__doc__ = op.doc
    op.operator = (1, operator)
    f = _in_c(operator, fast, 1)
    if Tensor is not None:   # (the C operator needs the class: kept once it exists)
        _operators[op] = f
    return f


def _load_operators():
    """The optional C extension running the operators' memo hits (``_fastop.c``), or None:
    not built, built from another source, or ``PLUGTORCH_DISPATCH_NO_EXT=1``."""
    if os.environ.get("PLUGTORCH_DISPATCH_NO_EXT", "0") not in ("", "0"):
        return None
    try:
        from plugtorch.dispatch import _fastop as m
    except ImportError:
        return None
    return m if getattr(m, "VERSION", None) == 1 else None


_c_operators = _load_operators()


def _in_c(operator, fast, arity):
    """``operator`` with its common case (a memo hit: no mode, no grad, exact Tensor operands,
    no elision) run in C, the rest by ``operator`` itself; ``operator`` where the extension is
    absent. (The C operator adds no reference to an operand before handing a call over, so the
    elision's reference counts hold.)"""
    if _c_operators is None or Tensor is None:
        return operator
    if not _c_operators.ready():
        _c_operators.init(Tensor, _modes, FP_ERRORS, quietly)
    return _c_operators.Operator(operator, fast, arity)


def inplace_kernel(op, self, args, kwargs):
    """Run ``self.op_(*args)`` with the backend's optional in-place kernel ``"<op>_"``.

    Returns None (the caller then computes out of place and copies) when there is no such
    kernel, a mode is active, the result would need a cast, or ``self`` is an expanded view.
    """
    if _modes:
        return None
    dev = self._device
    a = self._data
    key = od = None
    if len(args) == 1 and not kwargs:   # self may be a Parameter
        # memoised like binary_operator(): (kernel, its dtype argument) per operand signature, or False
        other = args[0]
        oc = other.__class__
        if oc is Tensor:
            if other._device is dev:
                od = other._data
                key = (_INPLACE, dev, self._dtype, a.shape, other._dtype, od.shape)
        elif oc is float or (oc is int and -0x8000000000000000 <= other <= 0x7fffffffffffffff):
            # (the memo keys by type: an int past int64 goes on to the meta, which checks it)
            od = other
            key = (_INPLACE, dev, self._dtype, a.shape, oc)
        if key is not None:
            e = op.fast.get(key)
            if e is not None:
                if e is False or _expanded(dev, a):
                    return None
                if strict():   # (a kernel that writes in place cannot run again: fpstate.py)
                    quietly(e[0], a, od, e[1])
                else:
                    e[0](a, od, e[1])
                self._bump_version()
                return self
    kernels = dev._kernels
    if kernels is None:
        kernels = _resolve_kernels(dev)
    k = kernels.get(op.name + "_")
    if k is None:
        return None
    _, kargs, out = op.meta(self, *args, **kwargs)
    if out in _FLOAT8:
        check_float8(op, out)
    ok = out is self._dtype and kargs[0] is a
    if ok and len(args) == 1:
        other = args[0]
        if isinstance(other, Tensor) and other._data.shape != a.shape:
            from plugtorch.dispatch.meta import broadcast_shapes
            ok = broadcast_shapes(a.shape, other._data.shape, op=op.name + "_") == a.shape
    if key is not None:
        if not ok:
            _caches.put(op.fast, key, False, FAST_MAX)
        elif len(kargs) == 3 and kargs[1] is od and not (
                od is args[0] and "scalar_checked" in op.tags and not out.is_floating_point):
            _caches.put(op.fast, key, (k, kargs[2]), FAST_MAX)
    if not ok or _expanded(dev, a):
        return None
    if strict():
        quietly(k, *kargs)
    else:
        k(*kargs)
    self._bump_version()
    return self


_INPLACE = object()   # marks in-place entries among an op's memoised dispatch decisions


def _expanded(dev, a) -> bool:
    """Whether native array ``a`` repeats elements (a zero stride): no in-place kernel then."""
    st = getattr(a, "strides", None)
    if st is not None and 0 not in st:   # the native strides (bytes or elements): no zero, no repeat
        return False
    for n, st in zip(a.shape, dev._backend.strides(a)):
        if st == 0 and n > 1:
            return True
    return False


def invalidate_caches() -> None:
    """Forget memoised dispatch decisions (call after changing a backend's kernels)."""
    _caches.invalidate()


def _requires_grad(args) -> bool:
    for a in args:
        if a.__class__ is Tensor or isinstance(a, Tensor):
            if a.requires_grad:
                return True
        elif a.__class__ in (list, tuple):
            for b in a:
                if isinstance(b, Tensor) and b.requires_grad:
                    return True
    return False


def _dispatch_with_modes(op, args, kwargs):
    stack = _stack.modes
    if not stack:    # the active modes belong to other threads (or are suspended, below)
        return _below_modes(op, args, kwargs)
    # Modes are suspended while one handles a call, so ops it runs itself are not seen again;
    # call.redispatch(other_op, *args) runs an op through the modes below the caller (autocast's
    # casts, which a tracer below it must see).
    modes = list(stack)
    stack.clear()
    try:
        def call_below(i, op):
            def nxt(a, k):
                if i < 0:
                    stack.extend(modes)
                    try:
                        return _below_modes(op, a, k)
                    finally:
                        stack.clear()
                return modes[i].__plugtorch_dispatch__(op, a, k, call_below(i - 1, op))
            nxt.redispatch = lambda other, *a, **k: call_below(i, other)(a, k)
            return nxt
        return call_below(len(modes) - 1, op)(args, kwargs)
    finally:
        stack[:] = modes


def _below_modes(op, args, kwargs):
    if (op.differentiable or op.grad_nyi) and grad_state.enabled and _requires_grad(args):
        return autograd_record(op, args, kwargs)
    return run(op, args, kwargs)


def run(op, args, kwargs):
    """Below autograd: meta, then the backend's kernel (or decomposition / fallback)."""
    meta = op.meta
    if meta is None:
        res = op.decomposition(*args, **kwargs)
        if _modes:
            rec = _stack.recorder
            if rec is not None:   # plugtorch.jit: results the decomposition made without an op
                rec.composite_call(op, args, kwargs, res)
        return res
    dev, kargs, out = meta(*args, **kwargs)
    if out.__class__ is _DTYPE and out in _FLOAT8:
        check_float8(op, out)
    kernels = dev._kernels
    if kernels is None:
        kernels = _resolve_kernels(dev)
    kernel = kernels.get(op.name)
    if kernel is None:
        kernel = _checked(kernels, op, out)
        if kernel is None:
            return _no_kernel(op, dev._backend, dev, args, kwargs)
    try:
        if op.runs_once and strict():   # (it cannot run again after a warning: fpstate.py)
            res = quietly(kernel, *kargs)
        else:
            try:
                res = kernel(*kargs)
            except FP_ERRORS:
                if op.runs_once:
                    raise
                res = quietly(kernel, *kargs)
    except MemoryError as e:   # NumPy's; PyTorch raises RuntimeError when an allocation fails
        raise RuntimeError(f"{op.name}(): out of memory on device '{dev}': {e}; free tensors or use smaller "
                           "sizes") from e
    if _modes:
        rec = _stack.recorder
        if rec is not None:    # plugtorch.jit records the kernel call (a tracer is a mode)
            rec.kernel_call(op, dev, kernel, kargs, out, res, args, kwargs)
    if op.out_kind == OUT_TENSOR:
        t = _new(Tensor)
        t._data = res
        t._dtype = out
        t._device = dev
        return t
    return _finish(op, res, out, dev, args, kwargs)


def _finish(op, res, out, dev, args, kwargs):
    kind = op.out_kind
    if kind == OUT_VIEW:
        return _wrap_view(op, res, out, dev, args, kwargs)
    if kind == OUT_INPLACE:
        t = args[0]
        t._bump_version()
        return t
    if kind == OUT_MULTI:   # (None where a kernel computed nothing, as _linear_backward's mask says)
        return tuple(None if r is None else Tensor._wrap(r, d, dev) for r, d in zip(res, out))
    return res  # OUT_RAW


def _wrap_view(op, res, dtype, dev, args, kwargs):
    src = args[0]
    t = Tensor._wrap(res, dtype, dev)
    base = src._base if src._base is not None else src
    t._base = base
    t._vc = base._version_counter()
    parent_fn = src._view_fn
    rest = args[1:]
    if parent_fn is None:
        t._view_fn = lambda b: dispatch(op, b, *rest, **kwargs)
    else:
        t._view_fn = lambda b: dispatch(op, parent_fn(b), *rest, **kwargs)
    if grad_state.enabled or src._rg:   # (record() runs view ops with grad mode off)
        # autograd re-derives the history of live views when their base is written in place
        views = base._views
        if views is None:
            views = base._views = WeakSet()
        views.add(t)
    else:
        t._untracked_view = True   # an in-place write that autograd must record is refused
    return t


def _resolve_backend(dev):
    be = backend_for(dev.type)
    be.check_device(dev)
    dev._backend = be
    dev._kernels = be.kernels if be.origin == "built-in" else PluginKernels(be, dev)
    return be


_DTYPE = _dtypes.dtype
_FLOAT8 = frozenset(_dtypes.float8_dtypes)
# the ops that may give float8 results: moving, viewing, indexing and converting them, and the few
# pointwise ops PyTorch's CPU kernels run on float8 (abs, mul, where). The rest (sums, exp, random
# draws ...) would round at every step in 8 bits; as PyTorch's, they refuse float8 (convert first)
FLOAT8_OPS = frozenset({
    "_to_dtype", "as_strided", "cat", "clone", "copy_", "embedding", "empty", "expand", "flip", "full", "gather",
    "index", "index_put", "permute", "scatter", "select", "slice", "unfold", "view", "where", "abs", "mul"})


def check_float8(op, out):
    if op.name not in FLOAT8_OPS:
        from plugtorch.dispatch.meta import not_implemented_for
        raise not_implemented_for(op.name, out, "float8 tensors are for storage and conversion, as in PyTorch; "
                                  "convert to a wider float first (x.float() or x.to(plugtorch.bfloat16))")


def _resolve_kernels(dev):
    _resolve_backend(dev)
    return dev._kernels


def _checked(kernels, op, out):
    # a plug-in's kernel table gives its kernels wrapped to check their results against the
    # meta's (dispatch/checked.py); the built-ins' tables are the backends' own, unchecked
    return kernels.checked(op, out) if kernels.__class__ is PluginKernels else None


def _no_kernel(op, be, dev, args, kwargs):
    if op.decomposition is not None:
        return op.decomposition(*args, **kwargs)
    if op.out_kind == OUT_VIEW and dev.type != "cpu":
        # a view shares its base's memory; a result computed on cpu and copied back cannot
        raise NotImplementedError(
            f"The view operator '{op.name}' is not implemented for the '{be.name}' backend, and views "
            "cannot run through the cpu fallback (a copy made on cpu does not share the base's memory "
            f"on '{be.name}'). Implement the '{op.name}' kernel in the backend: it returns an array "
            "sharing the input's storage (see docs/backends.md, 'The core ops').")
    if dev.type != "cpu" and (op.name in be.fallback_ops or cpu_fallback_enabled()):
        return _run_on_cpu(op, be, dev, args, kwargs)
    raise NotImplementedError(
        f"The operator '{op.name}' is not implemented for the '{be.name}' backend. "
        "Implement it in the backend, or set PLUGTORCH_CPU_FALLBACK=1 (or call "
        "plugtorch.set_cpu_fallback(True)) to run it on cpu instead.")


def _run_on_cpu(op, be, dev, args, kwargs):
    for ops in _fallback_records:
        ops.add(op.name)
    from plugtorch import _settings
    if op.name not in _fallback_warned or _settings.warn_always:
        _fallback_warned.add(op.name)
        warnings.warn(f"plugtorch: '{op.name}' is not implemented on '{be.name}'; running it on "
                      "cpu and copying the result back (this warning is shown once per op)",
                      RuntimeWarning, stacklevel=4)
    cpu = device("cpu")

    def to_cpu(a):
        if isinstance(a, Tensor):
            return a.to(cpu)
        if isinstance(a, (list, tuple)):
            return type(a)(to_cpu(b) for b in a)
        if isinstance(a, device):
            return cpu
        return a

    cargs = [to_cpu(a) for a in args]
    ckw = {k: to_cpu(v) for k, v in kwargs.items()}
    out = run(op, cargs, ckw)
    if op.out_kind == OUT_INPLACE:
        args[0].copy_(cargs[0])
        return args[0]

    def back(r):
        if isinstance(r, Tensor):
            return r.to(dev)
        if isinstance(r, tuple):
            return tuple(back(x) for x in r)
        return r
    return back(out)


def push_mode(mode) -> None:
    """Make ``mode`` the innermost dispatch mode of the calling thread."""
    _stack.modes.append(mode)
    with _modes_lock:
        _modes.append(mode)


def pop_mode(mode) -> None:
    """Exit ``mode``, which must be the calling thread's innermost mode."""
    stack = _stack.modes
    if not stack or stack[-1] is not mode:
        raise RuntimeError("dispatch modes must be exited in the reverse order they were entered")
    stack.pop()
    with _modes_lock:
        for i in range(len(_modes) - 1, -1, -1):
            if _modes[i] is mode:
                del _modes[i]
                break


def set_recorder(recorder):
    """Install ``recorder`` (or None) to see the calling thread's kernel calls; returns the old one.

    ``recorder.kernel_call(op, device, kernel, kernel_args, out_dtype, result, args, kwargs)``
    runs after each kernel the dispatcher calls while a mode is active (plugtorch.jit's tracer,
    which is itself a mode, so the check costs nothing when no mode is active)."""
    old = _stack.recorder
    _stack.recorder = recorder
    return old


def data_check(flag, exc_type, message, detail=None, eager_message=None) -> None:
    """Raise ``exc_type(message)`` if the 0-d bool tensor ``flag`` is true (argument checks that read
    data: an index out of range, a probability outside [0, 1]).

    Under plugtorch.jit's tracer the check becomes a node of the graph, so a replay checks its
    own inputs, and the read is not a graph break. ``detail()`` (eager only) may add data to the
    message; ``eager_message()`` (eager only) replaces it."""
    rec = _stack.recorder if _modes else None
    if rec is not None:
        rec.check_node(flag, exc_type, message)
    if flag._device.type == "meta":
        return            # no data to check, as PyTorch's meta kernels skip data-dependent checks
    if flag._device._backend is None:
        _resolve_backend(flag._device)
    if flag._device._backend.to_numpy(flag._data).reshape(()).item():
        if eager_message is not None:
            raise exc_type(eager_message())
        raise exc_type(message + (detail() if detail is not None else ""))


class outside_modes:
    """Run a block with no dispatch mode or recorder of the calling thread active: for a constant
    made once and kept in a cache (autograd's implicit gradient 1), which a tracer must capture as
    a tensor brought along, not record as an op of the program it traces (nor report as a tensor
    the program left in Python state)."""

    __slots__ = ("saved", "recorder")

    def __enter__(self):
        st = _stack
        self.saved, self.recorder = list(st.modes), st.recorder
        st.modes.clear()       # (in place: a mode's handler holds this list)
        st.recorder = None
        return self

    def __exit__(self, *exc):
        st = _stack
        st.modes[:] = self.saved
        st.recorder = self.recorder
        return False


def current_recorder():
    return _stack.recorder


def active_modes() -> list:
    """The calling thread's active dispatch modes, innermost last."""
    return list(_stack.modes)


class DispatchMode:
    """Base class for code that wants to see every op call.

    Override ``__plugtorch_dispatch__(self, op, args, kwargs, call)`` and return
    ``call(args, kwargs)`` (possibly with changed arguments) to run the op. Ops the handler runs
    itself are seen by no mode; ``call.redispatch(other_op, *args, **kwargs)`` runs one through
    the modes below this one instead.

    >>> class Count(DispatchMode):
    ...     def __init__(self): self.n = 0
    ...     def __plugtorch_dispatch__(self, op, args, kwargs, call):
    ...         self.n += 1
    ...         return call(args, kwargs)
    """

    def __plugtorch_dispatch__(self, op, args, kwargs, call):
        return call(args, kwargs)

    def __enter__(self):
        push_mode(self)
        return self

    def __exit__(self, *exc):
        pop_mode(self)
        return False
