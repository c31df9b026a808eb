"""Reading PyTorch's ``torch.save`` files (the zip format of PyTorch 1.6 and later) without
unpickling them: what ``torch.load(f, weights_only=True)`` accepts, and nothing else.

A ``torch.save`` file is a zip archive holding ``<name>/data.pkl`` (a pickle of the saved object
whose tensors refer to storages by key), ``<name>/data/<key>`` (each storage's raw bytes) and
``<name>/byteorder``. Python's ``pickle`` module would call whatever the pickle names, so it is
never used here: ``pickletools.genops`` (the standard library's opcode parser, which runs nothing)
reads the opcodes, and a small stack machine below builds the object from them. The only things
it constructs are containers (list, tuple, dict, OrderedDict, Counter, set, frozenset), numbers, strings,
bytes, dtypes, devices, sizes and tensors; any other global the pickle names (a model class,
``os.system``, a NumPy array) is refused with ``pickle.UnpicklingError``, as
``torch.load(weights_only=True)`` refuses it, before anything of the file has been used.

Tensors that share a storage in the file share memory after loading (tied weights, views), and
``map_location`` moves them as ``plugtorch.load`` does for its own files.
"""
from __future__ import annotations

import codecs
import collections
import lzma
import pickle
import pickletools
import sys
import zipfile
import zlib

import numpy as np

from plugtorch import _dtypes
from plugtorch import _safetensors as st

ZIP_MAGIC = b"PK\x03\x04"
MAX_MEMO = 1 << 24
MAX_TUPLE_DEPTH = 1000   # hashing a deeper tuple overflows the C stack (a crash, not an exception)
MAX_SAME_HASH = 64       # distinct keys of one dict or set with one hash: more is a hash-flooding file
# what reading a damaged record raises: zipfile's errors, the decompressors' errors, an unknown
# compression method (NotImplementedError) and an encrypted record (RuntimeError)
_ZIP_ERRORS = (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error, lzma.LZMAError, NotImplementedError,
               RuntimeError, OverflowError)

_STORAGES = {   # torch.<name>Storage -> dtype (UntypedStorage holds bytes)
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16",
    "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128", "UntypedStorage": "uint8",
}
_DTYPE_NAMES = {
    "float32": "float32", "float": "float32", "float64": "float64", "double": "float64", "float16": "float16",
    "half": "float16", "bfloat16": "bfloat16", "int8": "int8", "uint8": "uint8", "int16": "int16", "short": "int16",
    "int32": "int32", "int": "int32", "int64": "int64", "long": "int64", "bool": "bool", "complex64": "complex64",
    "cfloat": "complex64", "complex128": "complex128", "cdouble": "complex128",
}
# dtypes of torch that only _rebuild_tensor_v3 (an UntypedStorage and a dtype) saves; those plugtorch has load
_V3_DTYPES = ("float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu", "uint16",
              "uint32", "uint64", "complex32", "chalf", "float4_e2m1fn_x2", "bits1x8", "bits2x4", "bits4x2", "bits8",
              "bits16", *(f"int{i}" for i in range(1, 8)), *(f"uint{i}" for i in range(1, 8)))
_QUANTIZED = ("qint8", "quint8", "qint32", "quint4x2", "quint2x4", "QInt8Storage", "QUInt8Storage", "QInt32Storage",
              "QUInt4x2Storage", "QUInt2x4Storage", "per_tensor_affine", "per_channel_affine",
              "per_channel_affine_float_qparams", "per_tensor_symmetric", "per_channel_symmetric")
# what torch.load(weights_only=True) loads but plugtorch has no object for: refused naming the problem
_UNSUPPORTED = {
    ("torch._utils", "_rebuild_sparse_tensor"): "a sparse tensor; plugtorch has strided (dense) tensors only: save "
                                               "t.to_dense() instead",
    ("torch._utils", "_rebuild_sparse_csr_tensor"): "a sparse tensor; plugtorch has strided (dense) tensors only: "
                                                   "save t.to_dense() instead",
    ("torch._utils", "_rebuild_qtensor"): "a quantized tensor; plugtorch has no quantized tensors: save "
                                         "t.dequantize() (and its scale and zero point) instead",
    ("torch._utils", "_rebuild_meta_tensor_no_storage"): "a tensor on the 'meta' device, which has a shape and a "
                                                        "dtype but no values; plugtorch has no meta device and does "
                                                        "not make values up: save a tensor that holds its data",
    ("torch._utils", "_rebuild_nested_tensor"): "a nested tensor; plugtorch has no nested tensors: save the list "
                                               "t.unbind() instead",
    ("torch._utils", "_rebuild_wrapper_subclass"): "a tensor subclass (rebuilt by "
                                                  "_rebuild_wrapper_subclass); plugtorch loads plain tensors and "
                                                  "parameters only",
    **{("torch", q): f"a quantized tensor (torch.{q}); plugtorch has no quantized tensors: save t.dequantize() "
                     "instead" for q in _QUANTIZED},
    **{("torch", d): f"a tensor of dtype torch.{d}, which plugtorch does not have: convert it to one it "
                     "has (t.float(), t.long(), t.to(torch.complex64)) before saving" for d in _V3_DTYPES},
}


class _StorageType:
    __slots__ = ("dtype", "name")

    def __init__(self, dtype, name):
        self.dtype, self.name = dtype, name


class _Storage:
    """One storage of the file: a 1-D tensor of its elements, already on its target device."""
    __slots__ = ("tensor", "key")

    def __init__(self, tensor, key):
        self.tensor, self.key = tensor, key


class _TensorClass:   # torch.Tensor / torch.nn.Parameter as named by _rebuild_from_type_v2
    __slots__ = ("parameter",)

    def __init__(self, parameter):
        self.parameter = parameter


def is_torch_zip(prefix: bytes) -> bool:
    return prefix[:4] == ZIP_MAGIC


def load(fh, name, map_location):
    """The object in the ``torch.save`` zip ``fh`` (positioned at its start)."""
    try:
        archive = zipfile.ZipFile(fh)
    except _ZIP_ERRORS as e:
        raise st.bad(name, f"it starts like a torch.save zip archive but is not a valid zip file ({e}); "
                           "the file is truncated or damaged") from None
    with archive:
        pkl = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1] \
            or [n for n in archive.namelist() if n == "data.pkl"]
        if len(pkl) != 1:
            raise st.bad(name, "it is a zip archive but not a torch.save file: it holds "
                               f"{len(pkl)} '<name>/data.pkl' records, not one")
        prefix = pkl[0][:-len("data.pkl")]
        order = "little"
        if prefix + "byteorder" in archive.namelist():
            raw = _read(archive, prefix + "byteorder", name, len("little"))    # (never a big record whole)
            raw = raw if isinstance(raw, bytes) else _read(archive, prefix + "byteorder", name, len("big"))
            order = raw.decode("ascii", "replace").strip() if isinstance(raw, bytes) else f"<{raw} bytes>"
            if order not in ("little", "big"):
                raise st.bad(name, f"its byteorder record says {st._short(order)}, not 'little' or 'big' (the file "
                                   "was modified)")
        reader = _Reader(archive, prefix, name, map_location, order)
        return _Machine(name, reader).run(_read(archive, pkl[0], name))


def _read(archive, member, name, size=None) -> bytes:
    """The bytes of record ``member``. With ``size`` (the bytes the pickle says it holds), a record
    whose zip entry declares another size is returned as its declared size, unread: a record is never
    decompressed before its size is known to match (a few bytes of a file can declare terabytes)."""
    try:
        if size is not None:
            declared = archive.getinfo(member).file_size
            if declared != size:
                return declared
        return archive.read(member)
    except KeyError:
        raise st.bad(name, f"its pickle refers to the record '{member}', which the archive does not hold "
                           "(the file is truncated or was modified)") from None
    except _ZIP_ERRORS as e:
        raise st.bad(name, f"its record '{member}' cannot be read ({e}); the file is truncated or "
                           "damaged") from None


class _Reader:
    def __init__(self, archive, prefix, name, map_location, order):
        self.archive, self.prefix, self.name = archive, prefix, name
        self.map_location, self.order = map_location, order
        self.storages: dict = {}

    def storage(self, pid) -> _Storage:
        from plugtorch import _ops_public as P
        from plugtorch import serialization as S
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str)
                and isinstance(pid[3], str) and type(pid[4]) is int and pid[4] >= 0):
            raise st.bad(self.name, f"its pickle has the persistent id {st._short(repr(pid))}, not "
                                    "('storage', <storage type>, key, location, numel)")
        _, kind, key, location, numel = pid
        made = self.storages.get(key)
        if made is not None:
            if made.tensor.dtype is not kind.dtype or made.tensor.shape[0] != numel:
                raise st.bad(self.name, f"its pickle names storage '{key}' as {made.tensor.shape[0]} elements of "
                                        f"{made.tensor.dtype} and as {numel} elements of {kind.dtype} (the file was "
                                        "modified)")
            return made
        dt = kind.dtype
        raw = _read(self.archive, f"{self.prefix}data/{key}", self.name, numel * dt.itemsize)
        if isinstance(raw, int) or len(raw) != numel * dt.itemsize:
            held = raw if isinstance(raw, int) else len(raw)
            raise st.bad(self.name, f"storage '{key}' holds {held} bytes, but its pickle says {numel} "
                                    f"elements of {dt} ({numel * dt.itemsize} bytes); the file was modified")
        arr = np.frombuffer(bytearray(raw), dtype=dt.numpy, count=numel)
        if (self.order == "big") != (sys.byteorder == "big") and dt.itemsize > 1:
            arr = arr.byteswap()
        saved_device = _device_name(location)
        target = S._target(saved_device, self.map_location)
        t = P.from_numpy(arr)
        if target is None:
            mapped = S._call_map_location(self.map_location, t, saved_device, self.name)
            t, target = (t, saved_device) if mapped is None else (mapped, None)
        if target is not None and not S._is_cpu(target):
            try:
                t = t.to(target)
            except (RuntimeError, ValueError, TypeError) as e:
                raise st.bad(self.name, f"a tensor was saved on '{saved_device}' and cannot be restored on "
                                        f"'{target}' ({e}); pass map_location='cpu' (or another available "
                                        "device) to plugtorch.load") from None
        made = self.storages[key] = _Storage(t, key)
        return made


def _device_name(location: str) -> str:
    # torch names cuda devices "cuda:0"; plugtorch's cpu, cuda and opencl take the same form
    return "cpu" if location in ("cpu", "meta") else location


def _rebuild_tensor(name, storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    from plugtorch.dispatch.ops.arrangements import storage_needed

    def int_ok(x):
        return type(x) is int and 0 <= x < 2 ** 63

    if not isinstance(storage, _Storage):
        raise st.bad(name, f"its pickle rebuilds a tensor from {type(storage).__name__}, not a storage")
    if not (int_ok(offset) and isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)
            <= st.MAX_NDIM and all(int_ok(n) for n in size) and all(int_ok(s) for s in stride)
            and type(requires_grad) is bool):
        raise st.bad(name, f"its pickle rebuilds a tensor of storage '{storage.key}' with offset "
                           f"{st._short(offset)}, size {st._short(size)} and stride {st._short(stride)}, which are "
                           "not valid (the file was modified)")
    if metadata and not (isinstance(metadata, dict) and set(metadata) <= {"conj", "neg"}
                         and all(type(v) is bool for v in metadata.values())):
        raise st.bad(name, f"its pickle gives a tensor the metadata {st._short(metadata)}; plugtorch.load knows "
                           "only the conj and neg bits of torch's lazy views (the file was modified or is newer)")
    if hooks:
        raise st.bad(name, "its pickle restores backward hooks on a tensor; hooks are Python code, which "
                           "plugtorch.load does not restore")
    base = storage.tensor
    if storage_needed(size, stride, offset) > base.shape[0]:
        raise st.bad(name, f"a tensor of size {list(size)}, stride {list(stride)} and offset {offset} reaches "
                           f"past the {base.shape[0]} elements of storage '{storage.key}' (the file was modified)")
    t = base.as_strided(size, stride, offset)
    # torch.save(x.conj()) and torch._neg_view(x) store x's elements and a bit saying that the tensor's
    # values are their conjugate or negation; plugtorch has no such lazy views: the values are made
    # (a copy, no longer sharing memory with other views of the storage)
    if metadata and metadata.get("neg"):
        t = t.neg()
    if metadata and metadata.get("conj"):
        t = t.conj()
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_tensor_v3(name, order, storage, offset, size, stride, requires_grad, hooks, dtype, metadata=None):
    """A tensor of a dtype that has no typed storage class in torch (float8, uint16, ...): its
    storage is untyped (bytes), and offset, size and stride count elements of ``dtype``."""
    if not (isinstance(storage, _Storage) and storage.tensor.dtype is _dtypes.uint8
            and isinstance(dtype, _dtypes.dtype)):
        raise st.bad(name, "its pickle rebuilds a tensor (_rebuild_tensor_v3) from something other than an untyped "
                           "storage and a dtype (the file was modified)")
    nbytes = storage.tensor.shape[0]
    if nbytes % dtype.itemsize:
        raise st.bad(name, f"storage '{storage.key}' holds {nbytes} bytes, not a whole number of {dtype} elements "
                           "(the file was modified)")
    if dtype.itemsize > 1 and (order == "big") != (sys.byteorder == "big"):
        raise st.bad(name, f"it holds a {dtype} tensor saved on a machine of the other byte order, which "
                           "plugtorch.load does not convert; save it on a little-endian machine")
    typed = _Storage(storage.tensor if dtype.itemsize == 1 and dtype is _dtypes.uint8 else storage.tensor.view(dtype),
                     storage.key)
    return _rebuild_tensor(name, typed, offset, size, stride, requires_grad, hooks, metadata)


def _rebuild_parameter(name, data, requires_grad, hooks, state=None):
    from plugtorch import _tensor
    from plugtorch.nn.parameter import Parameter
    if not isinstance(data, _tensor.Tensor) or type(requires_grad) is not bool:
        raise st.bad(name, "its pickle rebuilds a parameter from something other than a tensor")
    if hooks or state:
        raise st.bad(name, "its pickle restores Python attributes or hooks on a parameter, which "
                           "plugtorch.load does not restore")
    return Parameter(data, requires_grad=requires_grad)


def _rebuild_from_type(name, func, new_type, args, state):
    if not (isinstance(new_type, _TensorClass) and isinstance(func, _Allowed) and isinstance(args, tuple)):
        raise st.bad(name, "its pickle rebuilds a tensor subclass that plugtorch.load does not know")
    t = func.call(args)
    from plugtorch import _tensor
    if not isinstance(t, _tensor.Tensor):
        raise st.bad(name, f"its pickle rebuilds a tensor subclass from {type(t).__name__}, not a tensor")
    if state:
        raise st.bad(name, "its pickle restores Python attributes on a tensor, which plugtorch.load does "
                           "not restore")
    if new_type.parameter:
        return _rebuild_parameter(name, t, t.requires_grad, None)
    return t


class _Allowed:
    """A callable the pickle may name: ours, never one the file picks."""
    __slots__ = ("fn", "label")

    def __init__(self, fn, label):
        self.fn, self.label = fn, label

    def call(self, args):
        return self.fn(*args)


def _odict(*args):
    if args and not (len(args) == 1 and isinstance(args[0], (list, tuple))):
        raise TypeError("OrderedDict takes one list of pairs")
    return collections.OrderedDict(*args)


def _counter(*args):
    # a Counter pickles as Counter({key: count}): an LR scheduler's milestones (MultiStepLR)
    if args and not (len(args) == 1 and type(args[0]) is dict):
        raise TypeError("Counter takes one dict")
    return collections.Counter(*args)


def _encode(s, encoding="utf-8"):
    if not isinstance(s, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise TypeError("_codecs.encode takes a string and a text encoding")
    return codecs.encode(s, encoding)


def _size(dims=()):
    if not (isinstance(dims, (list, tuple)) and all(type(d) is int and -2 ** 63 <= d < 2 ** 63 for d in dims)):
        raise TypeError("torch.Size takes a list of integers")
    from plugtorch import _tensor
    return _tensor.Size(tuple(dims))


def _bytearray(*args):
    # what bytearray.__reduce_ex__ gives: (), (bytes,) with protocol 3 and later, (str, 'latin-1') before
    if args == () or (len(args) == 1 and type(args[0]) is bytes) \
            or (len(args) == 2 and type(args[0]) is str and args[1] in ("latin-1", "latin1")):
        return bytearray(*args)
    raise TypeError("bytearray takes bytes, or a string and 'latin-1' (not a size)")


def _complex(re=0.0, im=0.0):
    if not all(type(x) in (int, float) for x in (re, im)):
        raise TypeError("complex takes two numbers")
    return complex(re, im)


def _slice(*args):
    if not (1 <= len(args) <= 3 and all(a is None or type(a) is int for a in args)):
        raise TypeError("slice takes integers or None")
    return slice(*args)


def _device_of(*args):
    from plugtorch import _device
    if not (1 <= len(args) <= 2 and type(args[0]) is str and (len(args) == 1 or type(args[1]) is int)):
        raise TypeError("torch.device takes a string and an optional index")
    return _device.device(*args)


def _layout(text):
    from plugtorch import _layout
    if text != "torch.strided":
        raise TypeError(f"layout {text!r}: plugtorch loads strided tensors only")
    return _layout.strided


def _globals(name, order):
    g = {
        ("collections", "OrderedDict"): _Allowed(_odict, "collections.OrderedDict"),
        ("collections", "Counter"): _Allowed(_counter, "collections.Counter"),
        ("_codecs", "encode"): _Allowed(_encode, "_codecs.encode"),
        ("torch._utils", "_rebuild_tensor_v2"): _Allowed(lambda *a: _rebuild_tensor(name, *a), "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_tensor"): _Allowed(lambda s, o, size, stride: _rebuild_tensor(name, s, o, size, stride),
                                                      "_rebuild_tensor"),
        ("torch._utils", "_rebuild_parameter"): _Allowed(lambda *a: _rebuild_parameter(name, *a), "_rebuild_parameter"),
        ("torch._utils", "_rebuild_parameter_with_state"): _Allowed(lambda *a: _rebuild_parameter(name, *a),
                                                                    "_rebuild_parameter_with_state"),
        ("torch._tensor", "_rebuild_from_type_v2"): _Allowed(lambda *a: _rebuild_from_type(name, *a),
                                                             "_rebuild_from_type_v2"),
        ("torch", "Tensor"): _TensorClass(False),
        ("torch.nn.parameter", "Parameter"): _TensorClass(True),
        ("torch", "device"): _Allowed(_device_of, "torch.device"),
        ("torch", "Size"): _Allowed(_size, "torch.Size"),
        ("torch.serialization", "_get_layout"): _Allowed(_layout, "_get_layout"),
    }
    for mod in ("builtins", "__builtin__"):
        g[(mod, "set")] = _Allowed(lambda items=(): set(items), "set")
        g[(mod, "frozenset")] = _Allowed(lambda items=(): frozenset(items), "frozenset")
        g[(mod, "complex")] = _Allowed(_complex, "complex")
        g[(mod, "slice")] = _Allowed(_slice, "slice")
        g[(mod, "bytearray")] = _Allowed(_bytearray, "bytearray")
    for storage, dt in _STORAGES.items():
        g[("torch", storage)] = g[("torch.cuda", storage)] = _StorageType(getattr(_dtypes, dt), storage)
    for alias, dt in _DTYPE_NAMES.items():
        g[("torch", alias)] = getattr(_dtypes, dt)
    for dt in _V3_DTYPES:
        if isinstance(getattr(_dtypes, dt, None), _dtypes.dtype):
            g[("torch", dt)] = getattr(_dtypes, dt)
    g[("torch.storage", "UntypedStorage")] = g[("torch", "UntypedStorage")]
    g[("torch._utils", "_rebuild_tensor_v3")] = _Allowed(lambda *a: _rebuild_tensor_v3(name, order, *a),
                                                         "_rebuild_tensor_v3")
    return g


_SCALARS = {"BININT", "BININT1", "BININT2", "INT", "LONG", "LONG1", "LONG4", "BINFLOAT", "FLOAT",
            "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "UNICODE", "BINBYTES", "SHORT_BINBYTES",
            "BINBYTES8", "BINSTRING", "SHORT_BINSTRING", "STRING"}


class _Machine:
    """Runs a pickle's opcodes, building only what ``_globals`` allows."""

    def __init__(self, name, reader):
        self.name, self.reader = name, reader
        self.allowed = _globals(name, reader.order)
        self.depths = {}   # id(tuple) -> (the tuple, kept alive so that its id stays its own; its depth)
        self.hashes = {}   # id(dict or set) -> (it, Counter of its keys' hashes): see _hashed

    def bad(self, why):
        return st.bad(self.name, f"its pickle {why} (the file is damaged or was modified)")

    def refuse(self, module, qual):
        return pickle.UnpicklingError(
            f"plugtorch.load: cannot load {self.name}: it needs the Python object {module}.{qual}, which a "
            "weights-only load does not create (torch.load(weights_only=True) refuses it too), because making it "
            "would run code from the file (plugtorch.serialization.add_safe_globals does not change that). "
            "Save the model's state_dict (torch.save(model.state_dict(), f)) instead of the whole object, and "
            "rebuild the model in code")

    def run(self, data: bytes):
        stack, marks, memo = [], [], {}

        def pop_mark():
            nonlocal stack
            if not marks:
                raise self.bad("pops a mark it never set")
            items, stack = stack, marks.pop()
            return items

        def need(k):
            if len(stack) < k:
                raise self.bad("reads past the bottom of its stack")

        try:
            ops = pickletools.genops(data)
            for op, arg, _pos in ops:
                n = op.name
                if n in _SCALARS:
                    stack.append(arg)
                elif n in ("PROTO", "FRAME"):
                    pass
                elif n == "STOP":
                    need(1)
                    return self._check_result(stack.pop())
                elif n == "MARK":
                    marks.append(stack)
                    stack = []
                elif n in ("BINPUT", "LONG_BINPUT", "PUT"):
                    need(1)
                    if len(memo) >= MAX_MEMO:
                        raise self.bad("memoizes too many objects")
                    memo[arg] = stack[-1]
                elif n == "MEMOIZE":
                    need(1)
                    memo[len(memo)] = stack[-1]
                elif n in ("BINGET", "LONG_BINGET", "GET"):
                    if arg not in memo:
                        raise self.bad(f"reads memo entry {arg!r}, which it never stored")
                    stack.append(memo[arg])
                elif n == "NONE":
                    stack.append(None)
                elif n in ("NEWTRUE", "NEWFALSE"):
                    stack.append(n == "NEWTRUE")
                elif n == "EMPTY_TUPLE":
                    stack.append(())
                elif n in ("TUPLE1", "TUPLE2", "TUPLE3"):
                    k = int(n[-1])
                    need(k)
                    items = self._tuple(stack[-k:])
                    del stack[-k:]
                    stack.append(items)
                elif n == "TUPLE":
                    items = pop_mark()   # (first: it rebinds stack)
                    stack.append(self._tuple(items))
                elif n == "EMPTY_LIST":
                    stack.append([])
                elif n == "LIST":
                    items = pop_mark()
                    stack.append(list(items))
                elif n == "EMPTY_DICT":
                    stack.append({})
                elif n == "DICT":
                    items = pop_mark()
                    stack.append(self._pairs({}, items))
                elif n == "EMPTY_SET":
                    stack.append(set())
                elif n == "FROZENSET":
                    items = pop_mark()
                    self._hashed(None, items)
                    stack.append(frozenset(items))
                elif n == "APPEND":
                    need(2)
                    v = stack.pop()
                    self._container(stack[-1], list).append(v)
                elif n == "APPENDS":
                    items = pop_mark()
                    need(1)
                    self._container(stack[-1], list).extend(items)
                elif n == "SETITEM":
                    need(3)
                    v, k = stack.pop(), stack.pop()
                    self._pairs(self._container(stack[-1], dict), [k, v])
                elif n == "SETITEMS":
                    items = pop_mark()
                    need(1)
                    self._pairs(self._container(stack[-1], dict), items)
                elif n == "ADDITEMS":
                    items = pop_mark()
                    need(1)
                    self._hashed(self._container(stack[-1], set), items).update(items)
                elif n == "GLOBAL":
                    module, _, qual = arg.partition(" ")
                    stack.append(self._global(module, qual))
                elif n == "STACK_GLOBAL":
                    need(2)
                    qual, module = stack.pop(), stack.pop()
                    if not (isinstance(module, str) and isinstance(qual, str)):
                        raise self.bad("names a global with something other than strings")
                    stack.append(self._global(module, qual))
                elif n in ("REDUCE", "NEWOBJ"):
                    need(2)
                    args, fn = stack.pop(), stack.pop()
                    if not isinstance(fn, _Allowed) or not isinstance(args, tuple):
                        raise self.bad(f"calls {type(fn).__name__}, which is not callable here")
                    if fn.label in ("set", "frozenset", "collections.OrderedDict") and args:
                        self._hashed(None, (p[0] if isinstance(p, (list, tuple)) and p else None for p in args[0])
                                     if fn.label == "collections.OrderedDict" else args[0])
                    stack.append(fn.call(args))
                elif n == "BUILD":
                    need(2)
                    state = stack.pop()
                    self._build(stack[-1], state)
                elif n == "BINPERSID":
                    need(1)
                    stack.append(self.reader.storage(stack.pop()))
                else:
                    raise self.bad(f"uses the opcode {n}, which a torch.save file does not contain")
        except (ValueError, EOFError) as e:   # genops on a truncated or malformed pickle
            raise self.bad(f"cannot be read ({e})") from None
        except (TypeError, KeyError, IndexError, OverflowError, RecursionError, MemoryError) as e:
            from plugtorch.serialization import _MapLocationError
            if isinstance(e, _MapLocationError):   # the caller's map_location, not the file
                raise
            raise self.bad(f"builds an invalid object ({type(e).__name__}: {e})") from None
        raise self.bad("ends without its STOP opcode")

    def _tuple(self, items):
        t = tuple(items)
        if t:
            depth = 1 + max((self.depths[id(x)][1] for x in t if type(x) is tuple and id(x) in self.depths), default=0)
            if depth > MAX_TUPLE_DEPTH:
                raise self.bad(f"nests tuples more than {MAX_TUPLE_DEPTH} deep")
            self.depths[id(t)] = (t, depth)
        return t

    def _hashed(self, container, keys):
        """``container``, once the ``keys`` about to go into it (with those it got before) are not a
        hash flood: numbers and tuples hash the same in every process (strings do not), so a file
        can hold thousands of distinct keys of one hash, and each insertion then probes all of
        the earlier ones (a 300 kB pickle took 4 s, a 3 MB one minutes). ``container`` None: a new one."""
        entry = self.hashes.get(id(container)) if container is not None else None
        if entry is None:
            entry = (container, collections.Counter())   # (the container kept alive: its id stays its own)
            if container is not None:
                self.hashes[id(container)] = entry
        counts = entry[1]
        for k in keys:
            if type(k) not in (str, bytes):
                h = hash(k)
                counts[h] += 1
                if counts[h] > MAX_SAME_HASH:
                    raise self.bad(f"gives a dict or set more than {MAX_SAME_HASH} keys with the same hash "
                                   f"({st._short(k)} ...), a hash-flooding file")
        return container

    def _check_result(self, obj):
        """``obj``, once nothing in it is one of the stand-ins above (a storage, a storage type, a
        callable or a tensor class), which a torch.load would have given as a torch object."""
        from plugtorch import _tensor
        seen, todo = set(), [obj]
        while todo:
            x = todo.pop()
            if isinstance(x, _Storage):
                raise st.bad(self.name, f"it holds a bare storage ('{x.key}', saved by torch.save(t.untyped_storage()) "
                                        "or t.storage()), which plugtorch has no object for: save the tensor instead")
            if isinstance(x, (_StorageType, _Allowed, _TensorClass)):
                what = {_StorageType: f"the class torch."
                        f"{getattr(x, 'name', '')}", _Allowed: f"the function {getattr(x, 'label', '')}",
                        _TensorClass: "a tensor class"}[type(x)]
                raise self.bad(f"gives {what} as a value, which plugtorch has no object for (only tensors, "
                               "containers, numbers, strings, dtypes and devices load)")
            if isinstance(x, _tensor.Tensor) or type(x) in (int, float, str, bytes, bool, complex) or id(x) in seen:
                continue
            seen.add(id(x))
            if isinstance(x, dict):
                todo.extend(x.keys())
                todo.extend(x.values())
                if type(x) is collections.OrderedDict:
                    todo.extend(vars(x).values())
            elif isinstance(x, (list, tuple, set, frozenset)):
                todo.extend(x)
            elif type(x) is slice:
                todo.extend((x.start, x.stop, x.step))
        return obj

    def _global(self, module, qual):
        v = self.allowed.get((module, qual))
        if v is None and (module, qual) in _UNSUPPORTED:
            raise st.bad(self.name, f"it holds {_UNSUPPORTED[module, qual]}")
        if v is None:
            raise self.refuse(module, qual)
        return v

    def _container(self, obj, kind):
        if not isinstance(obj, kind) or type(obj) not in (list, dict, collections.OrderedDict, set):
            raise self.bad(f"adds items to a {type(obj).__name__}, not a {kind.__name__}")
        return obj

    def _pairs(self, d, items):
        if len(items) % 2:
            raise self.bad("gives a dict an odd number of keys and values")
        self._hashed(d, items[0::2])
        for i in range(0, len(items), 2):
            d[items[i]] = items[i + 1]
        return d

    def _build(self, obj, state):
        # OrderedDict's state is its __dict__: a state_dict's _metadata (versions of its modules)
        # (never a name of OrderedDict's own: an attribute "items" or "keys" would hide its method)
        if type(obj) is collections.OrderedDict and isinstance(state, dict) and all(
                isinstance(k, str) and k.isidentifier() and not hasattr(collections.OrderedDict, k) for k in state):
            for k, v in state.items():
                setattr(obj, k, v)
            return
        if state in (None, {}) or (isinstance(state, tuple) and not any(state)):
            return
        raise self.bad(f"sets the state of a {type(obj).__name__}, which plugtorch.load does not restore")
