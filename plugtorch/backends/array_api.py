"""ArrayAPIBackend: any Array API–compatible library as a plugtorch backend.

Through array-api-compat, NumPy, CuPy, array-api-strict, PyTorch, JAX or Dask become a
device: the core ops are written once with the standard's functions. What the standard lacks
(``erf``, scatters, assignment through integer arrays) is listed in ``fallback_ops`` and runs
on cpu; composite ops decompose as on every backend.

What a library may lack beyond the standard's minimum is probed when the backend is made and
declared in ``capabilities`` (see ``CAPABILITIES``); ``capabilities=`` overrides a probe. Where
one is missing the backend declares it instead of computing wrong numbers: ops that need it
raise ``MissingCapabilityError`` (the conformance suite reports them as unsupported), or run
on cpu when that gives the same result.

>>> import array_api_strict, plugtorch
>>> plugtorch.backends.register(plugtorch.backends.ArrayAPIBackend(array_api_strict), name="strict")  # doctest: +SKIP
>>> (plugtorch.ones(3, device="strict") * 2).tolist()                                              # doctest: +SKIP
[2.0, 2.0, 2.0]
"""
from __future__ import annotations


import re
import types
import warnings
import weakref

import numpy as np

from plugtorch import _dtypes
from plugtorch.backends.array_api_kernels import make_array_api_kernels
from plugtorch.backends.array_api_numerics import make_fixes, probe_numerics
from plugtorch.backends.base import Backend, MissingCapabilityError, contiguous_strides, host_generator

# ops with no counterpart in the Array API standard: run on cpu and copy back
FALLBACK_OPS = frozenset({"erf", "index_put", "scatter", "scatter_add"})
# ops whose kernels need functions only recent revisions of the standard have (cumulative_sum,
# take_along_axis ...): on older namespaces they fall back too
RECENT_OPS = frozenset({"cumsum", "cumprod", "sort", "gather"})
# What plugtorch's ops rely on beyond the standard's minimum (which allows both to be missing)
CAPABILITIES = {
    # a view's writes reach its base and the base's reach its views: in-place ops and assignment
    # on views, and the composites and backward formulas that write into part of a buffer (pad,
    # conv/unfold, the backward of select, slice, pooling ...). Lazy or immutable libraries
    # (Dask, ndonnx, JAX) make views copies.
    "writes through views": "views are copies: a write into a tensor that shares memory with "
                            "a live view or base would not reach the others",
    # nonzero's result has a known shape (boolean masks, masked_select): Dask's has nan sizes
    "data-dependent shapes": "results whose shape depends on the values have unknown sizes",
}
DATA_DEPENDENT_OPS = frozenset({"nonzero"})   # run on cpu without the capability


class ArrayAPIBackend(Backend):
    """A backend whose native arrays are those of an Array API namespace ``xp``.

    ``namespace`` is the library module (``numpy``, ``cupy``, ``array_api_strict``), its
    array-api-compat wrapper, or any other object holding the standard's functions. ``name`` defaults to the library's name; the entry point's name
    (or ``register(name=)``) overrides it. ``capabilities`` maps names of ``CAPABILITIES`` to
    True/False where the probe should not decide. ``numerics`` says what the probe of the
    library's numerics found wrong and did (``array_api_numerics``). ``to_numpy`` copies a native array to a NumPy
    array, for libraries that neither export DLPack nor move to the "cpu" device (ndonnx:
    ``to_numpy=lambda a: a.unwrap_numpy()``).
    """

    def __init__(self, namespace, name: str | None = None, *, capabilities: dict | None = None,
                 to_numpy=None):
        import array_api_compat
        # a module (numpy, cupy ...) is taken through array-api-compat; any other object holding
        # the standard's functions (a wrapper adjusting a library) is the namespace itself
        self.xp = (array_api_compat.array_namespace(namespace.asarray(0))
                   if isinstance(namespace, types.ModuleType) else namespace)
        self.library = getattr(namespace, "__name__", type(namespace).__name__)
        self.name = name or self.library.rsplit(".", 1)[-1].replace("-", "_")
        # inf/nan results (log(0), 0/0) are silent in PyTorch; NumPy-based libraries warn (the
        # warnings of NumPy's own ufuncs point at their caller: this package or array_api_compat)
        modules = {self.library, "array_api_compat", "plugtorch.backends.array_api_kernels",
                   "plugtorch.backends.array_api_numerics"} - {"numpy"}
        for mod in sorted(modules):
            warnings.filterwarnings("ignore", category=RuntimeWarning, module=re.escape(mod) + r"(\.|$)")
        # complex dtypes stay off: the generic kernels handle real dtypes only (no complex abs,
        # conj, FFT ...), and an unsupported dtype raises where a wrong result would not
        self._dtypes = {d: getattr(self.xp, d.name) for d in _dtypes.all_dtypes
                        if hasattr(self.xp, d.name) and not d.is_complex}
        self._array_type = type(self.xp.asarray(0))
        self._to_numpy = to_numpy
        self.capabilities = _probe(self.xp)
        for cap, value in (capabilities or {}).items():
            if cap not in CAPABILITIES:
                raise ValueError(f"ArrayAPIBackend(): unknown capability {cap!r}; known: {', '.join(CAPABILITIES)}")
            self.capabilities[cap] = bool(value)
        aliases = None if self.capabilities["writes through views"] else AliasGroups(self)
        self.kernels = {op: _declaring(op, k, self)
                        for op, k in make_array_api_kernels(self.xp, self._dtypes, self._array_type, aliases).items()}
        self.fallback_ops = FALLBACK_OPS | (RECENT_OPS - set(self.kernels))
        if not self.capabilities["data-dependent shapes"]:
            self.fallback_ops |= DATA_DEPENDENT_OPS
            for op in DATA_DEPENDENT_OPS:
                self.kernels.pop(op, None)
        # what the library computes wrong on a few probe values: repaired, or run on cpu
        from plugtorch.backends import get_backend
        replace, self.numerics = probe_numerics(self, self.kernels, get_backend("cpu").kernels,
                                                make_fixes(self.xp, self._dtypes, self._array_type))
        for op, k in replace.items():
            if k is None:
                self.kernels.pop(op)
                self.fallback_ops |= {op}
            else:
                self.kernels[op] = _declaring(op, k, self)

    def missing_capabilities(self) -> dict:
        """The capabilities this library lacks, each with what follows for plugtorch's ops."""
        return {c: why for c, why in CAPABILITIES.items() if not self.capabilities[c]}

    def declarations(self) -> list:
        """The capabilities this library lacks, then each op its numerics probe found wrong and
        what the backend does about it (``numerics``): shown by ``plugtorch.backends.summary()``."""
        return ([f"lacks '{c}' ({why})" for c, why in self.missing_capabilities().items()]
                + [f"{op}: {what}" for op, what in self.numerics.items()])

    # --- devices -------------------------------------------------------------------------
    def device_name(self, index=0) -> str:
        return f"{self.library} (Array API {getattr(self.xp, '__array_api_version__', '?')})"

    def unsupported_dtype(self, dtype, index):
        if dtype in self._dtypes:
            return None
        if dtype.is_complex:
            return (f"plug-in backends over the Array API have no complex kernels yet; compute "
                    f"{dtype.name} on cpu")
        return f"{self.library} has no {dtype.name} (the Array API standard does not require it)"

    # --- data ----------------------------------------------------------------------------
    def from_numpy(self, array, index=None):
        d = self._dtypes.get(_dtypes.from_numpy_dtype(array.dtype))
        return self.xp.asarray(np.asarray(array, order="C"), dtype=d, copy=True)

    def to_numpy(self, native):
        if self._to_numpy is not None:
            return np.array(self._to_numpy(native), copy=True)
        host = self._host_view(native)
        if host is None:
            import array_api_compat
            try:
                host = np.asarray(array_api_compat.to_device(native, "cpu"))
            except (ValueError, TypeError, NotImplementedError) as e:
                raise TypeError(f"the '{self.name}' backend cannot copy a {type(native).__name__} to NumPy: "
                                f"it exports no DLPack and to_device(x, 'cpu') raised {type(e).__name__}: {e}; "
                                "give ArrayAPIBackend(..., to_numpy=f) a function that does") from None
        return np.array(host, copy=True)

    def _host_view(self, native):
        """A NumPy view of ``native``'s memory when it lives in host memory, else None."""
        try:
            return np.from_dlpack(native)
        except (BufferError, TypeError, RuntimeError, AttributeError, ValueError):
            return None

    def strides(self, native):
        host = self._host_view(native)
        if host is not None and host.itemsize:
            return tuple(s // host.itemsize for s in host.strides)
        st, size = getattr(native, "strides", None), getattr(native, "itemsize", None)
        if isinstance(st, tuple) and isinstance(size, int) and size:   # CuPy and NumPy-likes
            return tuple(s // size for s in st)
        return contiguous_strides(native.shape)   # unknown layout: reshape may copy instead

    def new_generator(self, index, seed):
        # the standard has no random numbers: draw on the host (the cpu stream) and copy in
        return host_generator(seed)


class AliasGroups:
    """Which native arrays stand for one tensor memory, on a library whose views are copies.

    The view kernels link their input and result; a kernel that writes in place asks
    ``check_write`` first, which refuses a write into an array while another of its group lives
    (the write would reach neither the base nor the other views). Arrays are tracked by id and
    forgotten when collected, so a view that is gone no longer blocks its base.
    """

    def __init__(self, backend):
        self._backend = backend
        self._groups: dict = {}   # id(array) -> the set of ids sharing its memory

    def tracking(self, view_kernel):
        def kernel(x, *args):
            r = view_kernel(x, *args)
            self.link(x, r)
            return r
        return kernel

    def link(self, base, view) -> None:
        if view is base:
            return
        group = self._groups.get(id(base)) or self._track(base, set())
        other = self._groups.get(id(view))
        if other is None:
            self._track(view, group)
        elif other is not group:
            for i in other:
                self._groups[i] = group
            group |= other

    def _track(self, x, group):
        group.add(id(x))
        self._groups[id(x)] = group
        weakref.finalize(x, self._forget, id(x))
        return group

    def _forget(self, i):
        group = self._groups.pop(i, None)
        if group is not None:
            group.discard(i)

    def check_write(self, op: str, x) -> None:
        group = self._groups.get(id(x))
        if group is not None and len(group) > 1:
            be = self._backend
            raise MissingCapabilityError(
                op, be.name, "writes through views",
                f"a view on this backend ({be.library}) is a copy, so a write into a tensor that shares memory "
                "with a live view or base would not reach the others; ops that write into part of a tensor (in-place ops "
                "and assignment on views, pad, conv and unfold, the backward of indexing, slicing and pooling) "
                "are refused on this backend: run them on cpu (.cpu()) or on a backend with real views")


def _declaring(op, kernel, backend):
    """``kernel``, with the library's NotImplementedError (an op or dtype it lacks: ndonnx's
    atan2, remainder of uint8 ...) turned into a MissingCapabilityError naming the op."""
    def k(*args):
        try:
            return kernel(*args)
        except MissingCapabilityError:
            raise
        except NotImplementedError as e:
            dtypes = ", ".join(str(a.dtype) for a in args if hasattr(a, "dtype") and hasattr(a, "shape"))
            raise MissingCapabilityError(
                op, backend.name, f"{op} in {backend.library}",
                f"{backend.library} raised NotImplementedError{': ' + str(e) if str(e) else ''}"
                f"{f' for {dtypes} operands' if dtypes else ''}") from e
    return k


def _probe(xp) -> dict:
    """Each capability of ``CAPABILITIES``: tried on small arrays of namespace ``xp``."""
    return {"writes through views": _writes_through_views(xp), "data-dependent shapes": _known_shapes(xp)}


def _writes_through_views(xp) -> bool:
    try:
        base = xp.zeros((2,))
        view = base[0:1, ...]                # as the slice kernel takes it
        view[...] = xp.ones((1,))            # as copy_ writes
        if not bool(base[0] == 1):
            return False
        base[...] = xp.full((2,), 2.0)
        return bool(view[0] == 2)
    except Exception:   # immutable arrays (JAX) refuse the assignment
        return False


def _known_shapes(xp) -> bool:
    try:
        if not xp.__array_namespace_info__().capabilities().get("data-dependent shapes", True):
            return False
    except (AttributeError, TypeError):
        pass
    try:
        n = xp.nonzero(xp.asarray([True, False]))[0].shape[0]
        return isinstance(n, int) and n == 1   # (Dask declares the capability and answers nan)
    except Exception:
        return False


__all__ = ["ArrayAPIBackend", "AliasGroups", "CAPABILITIES", "FALLBACK_OPS"]
