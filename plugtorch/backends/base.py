"""The contract a backend fulfils. A backend is this small class plus a table of kernels.

A kernel is a plain function on native arrays: it receives what the op's meta function
returned (already validated), never sees autograd, and returns a native array (or a tuple of
them, or None for in-place ops). See docs/backends.md.
"""
from __future__ import annotations

import math

import numpy as np

from plugtorch import _dtypes


def contiguous_strides(shape) -> tuple:
    """Row-major strides, in elements, of a fresh array of ``shape`` (what a backend reports for
    memory it lays out itself).

    >>> contiguous_strides((2, 3, 4)), contiguous_strides((2, 0, 3))
    ((12, 4, 1), (3, 3, 1))
    """
    st, acc = [], 1
    for n in reversed(shape):
        st.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(st))


def is_contiguous(shape, strides) -> bool:
    """Whether ``strides`` (in elements) lay ``shape`` out row-major without gaps (size-1 dims,
    whatever their stride, and empty arrays count as contiguous, as in PyTorch).

    >>> is_contiguous((2, 3), (3, 1)), is_contiguous((2, 3), (1, 2))
    (True, False)
    """
    if 0 in shape:
        return True
    expected = 1
    for s, st in zip(reversed(shape), reversed(strides)):
        if s != 1 and st != expected:
            return False
        expected *= s
    return True


class StridedArray:
    """The layout of a backend's own strided array: ``shape``, ``strides`` and ``offset`` (in
    elements) into memory a subclass holds (opencl's CLArray a cl.Buffer, meta's MetaArray none),
    ``dtype`` (a NumPy dtype) and ``size`` (the number of elements). Views differ only in these.

    >>> a = StridedArray((2, 3), np.dtype(np.float32))
    >>> a.strides, a.offset, a.size, a.ndim, a.itemsize
    ((3, 1), 0, 6, 2, 4)
    """

    __slots__ = ("shape", "strides", "offset", "dtype", "size")

    def __init__(self, shape, dtype, strides=None, offset=0):
        self.shape = shape
        self.dtype = dtype
        self.size = math.prod(shape)
        self.strides = contiguous_strides(shape) if strides is None else strides
        self.offset = offset

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize


def host_generator(seed: int) -> np.random.Generator:
    """The cpu random stream for ``seed`` (Philox on the host); backends without device random
    numbers draw from it too, so their samples equal cpu's.

    >>> host_generator(0).integers(10, size=3).tolist() == host_generator(0).integers(10, size=3).tolist()
    True
    """
    return np.random.Generator(np.random.Philox(seed))


_HOST_STATE_BYTES = 8 * (4 + 2 + 4 + 3)   # Philox's counter, key, buffer; buffer_pos, has_uint32, uinteger


def host_generator_state(gen: np.random.Generator) -> bytes:
    """``gen``'s whole Philox state as bytes (``set_host_generator_state`` takes them back)."""
    st = gen.bit_generator.state
    words = np.concatenate([st["state"]["counter"], st["state"]["key"], st["buffer"],
                            np.array([st["buffer_pos"], st["has_uint32"], st["uinteger"]], dtype=np.uint64)])
    return words.astype("<u8").tobytes()


def set_host_generator_state(gen: np.random.Generator, state: bytes) -> None:
    if len(state) != _HOST_STATE_BYTES:
        raise RuntimeError(f"Expected a cpu generator state of size {_HOST_STATE_BYTES} but found the input RNG "
                           f"state size to be {len(state)}")
    w = np.frombuffer(state, dtype="<u8").astype(np.uint64)
    gen.bit_generator.state = {"bit_generator": "Philox", "state": {"counter": w[0:4].copy(), "key": w[4:6].copy()},
                               "buffer": w[6:10].copy(), "buffer_pos": int(w[10]), "has_uint32": int(w[11]),
                               "uinteger": int(w[12])}


class MissingCapabilityError(NotImplementedError):
    """A backend refuses an op that needs a capability it declares missing (writes through views on
    a library whose views are copies ...): never a wrong result. The conformance suite reports the
    op as unsupported on that backend.

    >>> str(MissingCapabilityError("copy_", "dask", "writes through views", "its views are copies"))
    "copy_(): the 'dask' backend lacks the capability 'writes through views' (its views are copies)"
    """

    def __init__(self, op: str, backend: str, capability: str, detail: str = ""):
        self.op, self.backend, self.capability = op, backend, capability
        super().__init__(f"{op}(): the '{backend}' backend lacks the capability '{capability}'"
                         + (f" ({detail})" if detail else ""))


def float8_unsupported(name) -> str:
    return (f"the {name} backend has no float8 arrays (it does not set supports_float8); keep float8 "
            "tensors on cpu and convert them (x.to(device, plugtorch.float32)) to compute")


class Backend:
    """Base class for backends. Subclasses set ``name`` and fill ``kernels``."""

    name: str = "?"
    kernels: dict = {}
    origin: str = "built-in"
    # core ops this backend leaves to cpu by design (copied in and out, warning once per op)
    fallback_ops: frozenset = frozenset()
    # plugtorch.autocast: which of PyTorch's op lists the device type follows ("cuda", as
    # accelerators do, or "cpu"; see plugtorch/dispatch/autocast_policy.py) and its default dtype
    autocast_list: str = "cuda"
    autocast_dtype = _dtypes.float16

    # --- devices -------------------------------------------------------------------------
    def is_available(self) -> bool:
        return self.device_count() > 0

    def unavailable_reason(self) -> str | None:
        return None if self.is_available() else f"no {self.name} device found"

    def device_count(self) -> int:
        return 1

    def current_device(self) -> int:
        return 0

    def device_name(self, index: int = 0) -> str:
        return self.name

    def check_device(self, dev) -> None:
        """Raise RuntimeError if ``dev`` can't be used (missing driver, index out of range)."""
        if not self.is_available():
            raise RuntimeError(f"device '{dev}' is not available: {self.unavailable_reason()}")
        n = self.device_count()
        if dev.index is not None and dev.index >= n:
            raise RuntimeError(f"device '{dev}' does not exist: the {self.name} backend has {n} "
                               f"device(s) ({self.name}:0 to {self.name}:{n - 1})")

    # complex64/complex128: a backend opts in once its kernels handle them (cpu does); the others
    # refuse complex tensors with a TypeError rather than compute them wrong
    supports_complex: bool = False
    # the float8 types (storage and conversion types, as in PyTorch): a backend opts in once it
    # holds and converts them (cpu does, through ml_dtypes)
    supports_float8: bool = False

    def unsupported_dtype(self, dtype, index) -> str | None:
        """None if the device supports ``dtype``, else the reason (shown in the TypeError)."""
        if dtype.is_complex and not self.supports_complex:
            return (f"the {self.name} backend has no complex kernels (it does not set "
                    "supports_complex); compute complex tensors on cpu")
        if dtype in _dtypes.float8_dtypes and not self.supports_float8:
            return float8_unsupported(self.name)
        return None

    def supported_dtypes(self, index: int = 0) -> list:
        return [d for d in _dtypes.all_dtypes if self.unsupported_dtype(d, index) is None]

    def declarations(self) -> list:
        """What the backend declares about its own ops: capabilities it lacks, kernels it repairs
        or leaves to cpu because its library computes them wrong. ``plugtorch.backends.summary()``
        lists them under the table, one line each."""
        return []

    # --- data ----------------------------------------------------------------------------
    def from_numpy(self, array: np.ndarray, index: int):
        raise NotImplementedError

    def to_numpy(self, native) -> np.ndarray:
        raise NotImplementedError

    def strides(self, native) -> tuple:
        """Strides in elements."""
        raise NotImplementedError

    def storage_offset(self, native) -> int:
        return 0
    # (marks this default: a backend that keeps it cannot tell where an array sits in memory, its
    # views being copies, so the dispatcher's overlap checks pass its tensors)
    storage_offset.unknown = True

    def data_ptr(self, native) -> int:
        """The address of ``native``'s first element (``Tensor.data_ptr()``)."""
        raise RuntimeError(f"data_ptr(): the '{self.name}' backend does not expose memory addresses; move the "
                           "tensor to cpu or opencl first, or implement data_ptr() in the backend")

    def storage_bytes(self, native):
        """A 1-D uint8 native over the whole allocation ``native`` views, sharing its memory
        (``Tensor.untyped_storage()``). A backend whose views are copies keeps this default: it
        cannot give a storage that aliases its tensors, so plugtorch refuses to pretend it can."""
        raise NotImplementedError

    def view_storage(self, storage, dtype, size, stride, offset):
        """A native of ``dtype`` (a plugtorch dtype) viewing the memory of ``storage`` (a native
        from ``storage_bytes``) with ``size``, ``stride`` and ``offset`` in elements of ``dtype``,
        inside it (``Tensor.set_``; the caller checked the bounds)."""
        raise NotImplementedError

    def storage_size(self, native) -> int | None:
        """Elements in the memory ``native`` views (None: the backend cannot tell). The
        conformance suite checks that a result's strides and storage offset stay inside it."""
        return None

    def array_device(self, native) -> int | None:
        """The index of the device ``native`` lives on (None: the backend cannot tell). The
        conformance suite checks that each kernel result is on the device of its op."""
        return None

    def synchronize(self, index: int | None = None) -> None:
        pass

    # --- graphs (optional; see plugtorch/backends/fusion.py) ------------------------------
    def fuse_pointwise(self, group, index: int = 0):
        """A callable running the chain of pointwise kernel calls ``group`` (a
        ``fusion.PointwiseGroup``) as one kernel on device ``index``: ``fn(*native_inputs)`` returns
        the list of the group's outputs as fresh contiguous native arrays. Return None (the
        default) to decline; ``plugtorch.jit`` then runs the kernels one by one."""
        return None

    def fused_into(self, kernel):
        """For a ``fuse_pointwise`` kernel, ``into(dsts, *native_inputs)``: the same call with
        output ``j`` written into the native array ``dsts[j]`` where that is not None (a graph's
        copy back into a parameter, done by the kernel). None (the default) keeps the copies."""
        return None

    def fuse_pair(self, first: str, second: str, index: int = 0):
        """A kernel running a call of op ``first`` and a call of op ``second`` together, where a
        graph makes both on the same arrays (``cross_entropy`` and its backward in a training
        step): ``fn(*first_kargs, *second_kargs)`` returns ``(first_result, second_result)``,
        equal to the two kernels' results. Return None (the default) to decline; ``plugtorch.jit``
        then runs the two kernels."""
        return None

    # --- random --------------------------------------------------------------------------
    def new_generator(self, index: int, seed: int):
        raise NotImplementedError

    def generator_state(self, generator) -> bytes:
        """The bytes that ``set_generator_state`` restores ``generator`` (a ``new_generator``
        result) from, so that the draws after it repeat (``plugtorch.get_rng_state``). The default
        handles the host Philox stream (``host_generator``); a backend with its own overrides both."""
        if isinstance(generator, np.random.Generator):
            return host_generator_state(generator)
        raise NotImplementedError(f"backend '{self.name}' cannot save its random state: implement "
                                  "generator_state and set_generator_state")

    def set_generator_state(self, generator, state: bytes) -> None:
        """Put ``generator`` back in the state ``generator_state`` gave."""
        if isinstance(generator, np.random.Generator):
            return set_host_generator_state(generator, state)
        raise NotImplementedError(f"backend '{self.name}' cannot restore its random state: implement "
                                  "generator_state and set_generator_state")

    # --- memory --------------------------------------------------------------------------
    def memory_allocated(self, index: int = 0) -> int:
        return 0

    def max_memory_allocated(self, index: int = 0) -> int:
        return 0

    def empty_cache(self) -> None:
        pass

    # --- DLPack --------------------------------------------------------------------------
    # native arrays that speak DLPack themselves (NumPy, CuPy, most Array API libraries) export as
    # they are; a backend with its own buffer type overrides these two or stays non-exporting,
    # naming its DLPack device type (kDLOpenCL = 4 ...) so __dlpack_device__ still answers
    dlpack_device_type = None

    def to_dlpack(self, native, stream=None, **kwargs):
        self._check_dlpack(native)
        return native.__dlpack__(stream=stream, **kwargs)

    def dlpack_device(self, native):
        self._check_dlpack(native)
        return native.__dlpack_device__()

    def _check_dlpack(self, native) -> None:
        if not hasattr(native, "__dlpack__"):
            raise BufferError(f"the {self.name} backend does not export DLPack capsules: its arrays "
                              f"({type(native).__name__}) have no __dlpack__; copy to cpu first (.cpu())")
