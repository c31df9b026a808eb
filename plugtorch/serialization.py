"""``plugtorch.save`` / ``plugtorch.load``: a file format whose loading never runs code.

A file is a standard safetensors file: the tensors are its entries ("0", "1", ...) and the
object around them (dicts, lists, tuples, sets, numbers, strings, dtypes, devices) is JSON in its
``__metadata__``. NumPy arrays are stored as cpu tensors marked ``"ndarray"`` and load as arrays.
Loading parses JSON and raw little-endian bytes only; nothing is unpickled.
A plain safetensors file from elsewhere loads as a dict of tensors. Saving to a path replaces
the file atomically, so a failure mid-write leaves the previous checkpoint whole -- except where a
rename would change more than the contents (see ``save``): then it is written in place, as
``torch.save`` writes every file.

Saved tensors that overlap in one storage (a tensor and its views) load sharing memory again, as
with PyTorch: the span of the storage they cover is stored once, as one 1-D entry, and each of
them as a view of it (``"view": {"storage", "offset", "shape", "stride"}`` in its structure
entry, in elements of the span). Unlike PyTorch, only that span is stored, never the whole
storage: a slice saved alone stores just the slice. Views are matched per dtype: a view of
another dtype (``a.view(pt.int32)``) is stored separately and loads as its own tensor.
Tensors that share nothing are stored as before, so such a file is a plain safetensors file.

>>> import io, plugtorch as pt
>>> buf = io.BytesIO()
>>> pt.save({"w": pt.ones(2), "step": 3}, buf)
>>> _ = buf.seek(0); pt.load(buf)
{'w': tensor([1., 1.]), 'step': 3}
"""
from __future__ import annotations

import collections
import contextlib
import io
import json
import math
import mmap as _mmap
import os
import secrets
import stat

import numpy as np

from plugtorch import _dtypes
from plugtorch import _safetensors as st
from plugtorch import _torch_format
from plugtorch._device import device as _device
from plugtorch._tensor import Size, Tensor

FORMAT = "plugtorch"
VERSION = "1"
MAX_DEPTH = 100     # lists/tuples/dicts inside each other; keeps decoding far from Python's stack limit

# plugtorch dtype <-> safetensors dtype code
_CODES = {"float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16", "int64": "I64",
          "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL",
          "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2"}
_DTYPES = {code: getattr(_dtypes, name) for name, code in _CODES.items()}
_FLOATS = ("inf", "-inf", "nan")    # the repr of the floats JSON cannot hold


# ---- save ----------------------------------------------------------------------------------
def save(obj, f) -> None:
    """Save tensors and nested dicts/lists/tuples of them (with numbers and strings) to ``f``
    (a path or a binary file object). A path is written to a temporary file beside it that
    replaces it only once complete and on disk (renamed over it), so a save that fails midway
    leaves the old file whole. A symlink is followed: the file it points to is replaced, the link
    stays. Where the rename would change what the path is, not just its contents, the existing file
    is written in place instead, as ``torch.save`` (``open(path, "wb")``) writes it, and then flushed
    to disk; such a save is not atomic (one that fails midway leaves a truncated file):

    * the file has other hard links (``st_nlink > 1``): a rename would leave them the old data;
    * no file can be created in its directory (a writable file in a read-only directory);
    * this process could not give the new file the old one's owner and group (a non-root user
      saving over another user's writable file).

    >>> pt.save(model.state_dict(), "model.safetensors")   # doctest: +SKIP
    """
    tensors: list = []
    refs: dict = {}
    structure = _encode(obj, tensors, {}, 0, refs)
    tensors = _store_overlaps_once(tensors, refs)
    for i, t in enumerate(tensors):
        if t.dtype.is_complex:   # safetensors has no complex dtype code: its (real, imag) pairs
            from plugtorch import _ops_public as P
            tensors[i] = P.view_as_real(t.detach().resolve_conj().contiguous())
        if tensors[i].dtype.name not in _CODES:
            raise TypeError(f"plugtorch.save: a {t.dtype} tensor of shape {tuple(t.shape)} has no safetensors "
                            "dtype code")
    header = st.encode_header([(_CODES[t.dtype.name], tuple(t.shape)) for t in tensors],
                              {"format": FORMAT, "version": VERSION,
                               "structure": json.dumps(structure, allow_nan=False)})

    def write(fh):
        st.write_all(fh, header)
        for t in tensors:
            arr = _host_array(t)
            if arr.dtype != t.dtype.numpy or arr.shape != tuple(t.shape):   # never a file that lies
                raise RuntimeError(f"plugtorch.save: the {t.device.type} backend gave a host array of "
                                   f"{arr.dtype} {arr.shape} for a {t.dtype} tensor of shape "
                                   f"{tuple(t.shape)}; the checkpoint was not written")
            st.write_array(fh, arr)
    if hasattr(f, "write"):
        write(f)
    else:
        _replace_atomically(os.fspath(f), write)


def _host_array(t: Tensor) -> np.ndarray:
    return t.detach()._host()


def _replace_atomically(path: str, write) -> None:
    path = os.path.realpath(path)       # write through a symlink, not over it
    directory, base = os.path.split(path)
    # refused before anything is written (else the error would name the temporary file)
    if not os.path.isdir(directory):
        raise RuntimeError(f"Parent directory {directory} does not exist. plugtorch.save does not create it: "
                           "call os.makedirs(os.path.dirname(path), exist_ok=True) first")
    if os.path.isdir(path):
        raise RuntimeError(f"plugtorch.save: {path} is a directory; pass the path of a file (e.g. "
                           f"{os.path.join(path, 'checkpoint.pt')})")
    try:
        existing = os.stat(path)
    except OSError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        # a device, a named pipe or a socket (pt.save(obj, "/dev/null")): written to, as
        # open(path, "wb") (and torch.save) does; a rename would put a regular file in its place
        with open(path, "wb") as fh:
            write(fh)
        return
    mode = None if existing is None else stat.S_IMODE(existing.st_mode)
    if existing is not None:
        _check_writable(path)
        if not _rename_keeps_the_file(existing):
            _write_in_place(path, write)
            return
    try:
        tmp, fd = _create_beside(directory, base)
    except PermissionError as e:
        if existing is None:
            raise PermissionError(e.errno, f"plugtorch.save: cannot create {path}: {e.strerror} (no file can be "
                                  f"created in {directory}); make the directory writable or save to another "
                                  "path") from None
        _write_in_place(path, write)    # a writable file in a directory closed to new files
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
            made = os.stat(tmp)
            if (existing.st_uid, existing.st_gid) != (made.st_uid, made.st_gid):
                # the replaced file's owner and group stay (root saving over a user's checkpoint, a
                # file in a shared group): the ones this process may set, as open(path, "wb") keeps them
                try:
                    os.chown(tmp, existing.st_uid, existing.st_gid)
                except OSError:
                    with contextlib.suppress(OSError):      # not root: the group, if one of ours
                        os.chown(tmp, -1, existing.st_gid)
                if stat.S_IMODE(os.stat(tmp).st_mode) != mode:      # chown may clear setuid/setgid bits
                    os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _check_writable(path: str) -> None:
    # a rename replaces even a read-only file: refuse where open(path, "wb") (and torch.save) would,
    # so a checkpoint made read-only to protect it stays as it is
    try:
        os.close(os.open(path, os.O_WRONLY | getattr(os, "O_NONBLOCK", 0)))
    except PermissionError as e:
        raise RuntimeError(f"plugtorch.save: cannot write {path}: {e.strerror} (the file is read-only); make it "
                           "writable (chmod u+w) or save to another path") from None


def _rename_keeps_the_file(existing: os.stat_result) -> bool:
    """Whether renaming a new file over ``existing`` changes only its contents: no other hard link
    keeps the old inode, and this process can give the new file the old one's owner and group."""
    if existing.st_nlink > 1:
        return False
    if not hasattr(os, "geteuid") or os.geteuid() == 0:     # (root: chown sets any owner)
        return True
    return existing.st_uid == os.geteuid() and (existing.st_gid == os.getegid()
                                                or existing.st_gid in os.getgroups())


def _write_in_place(path: str, write) -> None:
    # as open(path, "wb") and torch.save: same inode, so its links, owner, group and mode stay
    with open(path, "wb") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())


def _create_beside(directory: str, base: str):
    while True:     # O_EXCL with mode 0o666: the umask applies, as for open(path, "wb")
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(4)}.tmp")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue


def _fsync_directory(directory: str) -> None:
    try:    # makes the rename itself durable; not possible on every platform
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _store_overlaps_once(tensors, refs) -> list:
    """The tensors to write: ``tensors``, except that each cluster of two or more that overlap
    in one storage (same device and dtype) is replaced by the 1-D span of the storage it
    covers, and the structure entries of its members (``refs``: name -> entries) become views
    of that span. Without overlaps, ``tensors`` itself: the file keeps the plain format."""
    by_storage: dict = {}
    for i, t in enumerate(tensors):
        ext = _extent(t)
        if ext is not None:
            by_storage.setdefault(ext[0], []).append((ext[2], ext[3], i, ext[1]))
    span_of: dict = {}   # tensor index -> its cluster
    clusters = []        # (a member, first element, last element) per cluster
    for members in by_storage.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda m: (m[0], m[2]))
        group, hi = [members[0]], members[0][1]
        for m in members[1:] + [None]:
            if m is not None and m[0] <= hi:    # overlaps the cluster so far
                group.append(m)
                hi = max(hi, m[1])
                continue
            if len(group) > 1:
                clusters.append((group[0][3], group[0][0], hi))
                for g in group:
                    span_of[g[2]] = len(clusters) - 1
            if m is not None:
                group, hi = [m], m[1]
    if not clusters:
        return tensors
    from plugtorch import _ops_public as P
    out, written = [], {}
    for i, t in enumerate(tensors):
        c = span_of.get(i)
        if c is None:
            for e in refs[str(i)]:
                e["__tensor__"] = str(len(out))
            out.append(t)
            continue
        first, lo, hi = clusters[c]
        if c not in written:
            written[c] = str(len(out))
            span = P.as_strided(first, (hi - lo + 1,), (1,), lo)
            out.append(P.view_as_real(span).reshape(-1) if span.dtype.is_complex else span)
        # a complex tensor is a view of the span's (real, imaginary) pairs: in real elements
        k, pair = (2, [2]) if t.dtype.is_complex else (1, [])
        view = {"storage": written[c], "offset": k * (t.storage_offset() - lo), "shape": list(t.shape) + pair,
                "stride": [k * x for x in t.stride()] + [1] * len(pair)}
        for e in refs[str(i)]:
            e["__tensor__"] = f"v{i}"
            e["view"] = view
    return out


def _extent(t: Tensor):
    """(storage key, the tensor, first element, last element): where ``t`` sits in its storage,
    in elements of its dtype; None when that cannot be told (a backend without storages), it
    has no elements or it runs backwards (negative strides)."""
    t = t.detach()
    if t.numel() == 0 or getattr(type(t._backend()).storage_offset, "unknown", False):
        return None
    try:
        stride, offset = t.stride(), t.storage_offset()
        ptr = t.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):
        return None
    if any(s < 0 for s in stride):
        return None
    last = offset + sum((n - 1) * s for n, s in zip(t.shape, stride))
    return (str(t.device), t.dtype, ptr), t, offset, last


def _encode(obj, tensors, seen, depth, refs):
    if depth > MAX_DEPTH:
        raise ValueError(f"plugtorch.save: the object nests lists, tuples and dicts more than {MAX_DEPTH} "
                         "levels deep (or contains itself); plugtorch.load refuses such files, so flatten it")
    if isinstance(obj, Tensor):
        name = seen.get(id(obj))
        if name is None:     # the same tensor twice is stored once and loads as one object
            name = seen[id(obj)] = str(len(tensors))
            tensors.append(obj)
        entry = {"__tensor__": name, "device": str(obj.device), "requires_grad": obj.requires_grad,
                 "parameter": bool(obj._is_param)}
        if obj.dtype.is_complex:    # stored as its real view, shape + (2,)
            entry["complex"] = True
        refs.setdefault(name, []).append(entry)
        return entry
    if isinstance(obj, np.ndarray) and obj.dtype.name in _CODES:
        # a NumPy array (as torch.save pickles one): stored as a cpu tensor, loaded as an array again
        from plugtorch import _ops_public as P
        entry = _encode(P.from_numpy(obj if all(x >= 0 for x in obj.strides) else obj.copy()),
                        tensors, seen, depth, refs)
        entry["ndarray"] = True
        return entry
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}
    if isinstance(obj, Size):   # a shape kept in a checkpoint loads as a Size again (numel() ...)
        return {"__size__": [int(n) for n in obj]}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, tensors, seen, depth + 1, refs) for v in obj]
        return items if type(obj) is list else {"__tuple__": items}
    if isinstance(obj, (set, frozenset)):   # as torch.save keeps them
        return {"__frozenset__" if isinstance(obj, frozenset) else "__set__":
                [_encode(v, tensors, seen, depth + 1, refs) for v in obj]}
    if isinstance(obj, dict):   # a Counter stays one: MultiStepLR's milestones use its elements()
        kind = ("__odict__" if isinstance(obj, collections.OrderedDict)
                else "__counter__" if isinstance(obj, collections.Counter) else "__dict__")
        return {kind: [[_encode(k, tensors, seen, depth + 1, refs), _encode(v, tensors, seen, depth + 1, refs)]
                       for k, v in obj.items()]}
    if isinstance(obj, _dtypes.dtype):
        return {"__dtype__": obj.name}
    if isinstance(obj, _device):
        return {"__device__": str(obj)}
    raise TypeError(f"plugtorch.save can store tensors, numbers, strings, None, dtypes, devices, NumPy arrays and "
                    f"lists/tuples/sets/dicts of them, but got {type(obj).__name__}; convert it to one of "
                    "those (e.g. save a module's state_dict(), not the module)")


# ---- load ----------------------------------------------------------------------------------
def load(f, map_location=None, *, weights_only=True, mmap=None):
    """Load what ``save`` wrote. ``map_location`` (a device, a string, a dict mapping saved
    device names to new ones, or ``fn(tensor, saved_device_name)`` returning the tensor to use,
    or None for the default) moves tensors on load;
    without it they return to the device they were saved from. Tensors for another device go
    there straight from the file's bytes.

    ``mmap=True`` (``f`` must be a path) leaves cpu tensors in a copy-on-write map of the file
    instead of reading them into memory: writes to them never reach the file.

    Loading never executes code, so ``weights_only`` is always in effect. PyTorch's ``torch.save``
    files (its zip format, PyTorch 1.6 and later) load too, as ``torch.load(f, weights_only=True)``
    loads them: tensors (sharing memory where they shared a storage), parameters, containers,
    numbers, strings, dtypes and devices. Their pickle is read by a stack machine that builds only
    those; a file that needs any other Python object (a whole pickled model) raises
    ``pickle.UnpicklingError`` naming it, and nothing from the file runs (``mmap`` applies to
    plugtorch and safetensors files; a torch.save file is read into memory).

    >>> sd = pt.load("model.safetensors", map_location="cpu")   # doctest: +SKIP
    """
    is_path = isinstance(f, (str, bytes, os.PathLike))
    if mmap and not is_path:
        raise ValueError("f must be a file path in order to use the mmap argument")
    name = os.fsdecode(f) if is_path else getattr(f, "name", "<file object>")
    with contextlib.ExitStack() as stack:
        fh = stack.enter_context(open(f, "rb")) if is_path else f
        fh, size = _sized(fh)
        start = fh.tell()
        if _torch_format.is_torch_zip(fh.read(4)):   # a torch.save file: read without unpickling
            fh.seek(start)
            return _torch_format.load(fh if start == 0 else io.BytesIO(fh.read()), name, map_location)
        fh.seek(start)
        header = st.read_header(fh, size, name)
        reader = _Reader(fh, name, header, map_location)
        if mmap:    # not closed here: the tensors hold it, and the file can close under it
            reader.mapping = _mmap.mmap(fh.fileno(), 0, access=_mmap.ACCESS_COPY)
        meta = header.metadata
        if meta.get("format") != FORMAT or "structure" not in meta:
            return {k: reader.tensor(k, "cpu") for k in header.entries}
        try:
            structure = json.loads(meta["structure"])
        except (ValueError, RecursionError) as e:
            raise st.bad(name, f"its object structure is not valid JSON ({_first_line(e)})") from None
        return _decode(structure, reader, 0)


def _first_line(e) -> str:
    return str(e).splitlines()[0][:200] if str(e) else type(e).__name__


def _sized(fh):
    """``fh`` and the number of bytes it holds from its position; a stream that cannot seek
    is read into memory first."""
    try:
        pos = fh.tell()
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        fh.seek(pos)
        return fh, end - pos
    except (OSError, ValueError, AttributeError):
        data = fh.read()
        return io.BytesIO(data), len(data)


def _fileno(fh):
    raw = getattr(fh, "raw", fh)      # only a real file: gzip and others have a fileno of another file
    return raw.fileno() if isinstance(raw, io.FileIO) else None


class _Reader:
    """Makes the file's tensors, each straight into its final place."""

    def __init__(self, fh, name, header, map_location):
        self.fh, self.name, self.header, self.map_location = fh, name, header, map_location
        self.fileno = _fileno(fh)
        self.mapping = None     # the copy-on-write map of the file with mmap=True
        self.made: dict = {}
        self.spans: dict = {}   # (entry, saved device) -> the 1-D span that view entries view

    def bad(self, why) -> RuntimeError:
        return st.bad(self.name, why)

    def tensor(self, key, saved_device) -> Tensor:
        from plugtorch import _ops_public as P
        e = self.header.entries.get(key)
        if e is None:
            raise self.bad(f"its structure refers to tensor '{key}', which the file does not "
                           "contain (the file was modified)")
        dt = _DTYPES.get(e.code)
        if dt is None:
            raise self.bad(f"tensor '{key}' has dtype {e.code}, which plugtorch does not support")
        target = _target(saved_device, self.map_location)
        if self.mapping is not None:
            return self.place(P.from_numpy(st.mapped_array(self.mapping, self.header, e, dt.numpy)),
                              saved_device, target)
        if target is not None and not _is_cpu(target) and self.fileno is not None and e.end > e.begin:
            return self._to_device_from_file(e, dt, saved_device, target)
        return self.place(P.from_numpy(st.read_array(self.fh, self.header, e, dt.numpy, self.name)),
                          saved_device, target)

    def _to_device_from_file(self, e, dt, saved_device, target) -> Tensor:
        # one host->device copy from the file's pages: no host buffer in between
        from plugtorch import _ops_public as P
        window, offset = st.map_window(self.fileno, self.header, e, self.name)
        view = np.frombuffer(window, dt.numpy, (e.end - e.begin) // dt.itemsize, offset).reshape(e.shape)
        try:
            out = self.place(P.from_numpy(view), saved_device, target)
            if isinstance(out._data, np.ndarray) and np.may_share_memory(out._data, view):
                out = out.clone()   # a backend that keeps host arrays must not keep the file's pages
        finally:
            del view
            with contextlib.suppress(BufferError):   # a view still alive somewhere: unmapped when it goes
                window.close()
        return out

    def place(self, t, saved_device, target) -> Tensor:
        if target is None:
            mapped = _call_map_location(self.map_location, t, saved_device, self.name)
            if mapped is not None:
                return mapped
            target = saved_device
        if _is_cpu(target):
            return t
        try:
            return t.to(target)
        except (RuntimeError, ValueError, TypeError) as e:
            raise self.bad(f"a tensor was saved on '{saved_device}' and cannot be restored on "
                           f"'{target}' ({e}); pass map_location='cpu' (or another available "
                           "device) to plugtorch.load") from None


def _target(saved_device, map_location):
    """Where a tensor saved on ``saved_device`` goes; None when ``map_location`` is a function."""
    if map_location is None:
        return saved_device
    if callable(map_location) and not isinstance(map_location, (str, _device)):
        return None
    if isinstance(map_location, dict):
        return map_location.get(saved_device, saved_device)
    return map_location


class _MapLocationError(TypeError):
    """A map_location function returned something other than a tensor or None (not a damaged file)."""


def _call_map_location(fn, t, saved_device, name):
    """``fn(t, saved_device)`` for a function ``map_location``: a tensor, or None, which (as in
    PyTorch) leaves that tensor to the default, its saved device."""
    out = fn(t, saved_device)
    if out is not None and not isinstance(out, Tensor):
        raise _MapLocationError(f"plugtorch.load: map_location returned {type(out).__name__} for a tensor saved on "
                                f"'{saved_device}' in {name}; a map_location function must return a tensor, "
                                "or None to restore it on its saved device")
    return out


def _is_cpu(target) -> bool:
    return str(target) == "cpu"


def _decode(s, r: _Reader, depth):
    if depth > MAX_DEPTH:
        raise r.bad(f"its object structure nests more than {MAX_DEPTH} levels deep (the file was modified)")
    if isinstance(s, list):
        return [_decode(v, r, depth + 1) for v in s]
    if not isinstance(s, dict):
        return s
    if "__tensor__" in s:
        return _decode_tensor(s, r)
    if len(s) != 1:
        raise r.bad("its object structure has an unknown entry (the file was modified)")
    (kind, v), = s.items()
    if kind in ("__tuple__", "__set__", "__frozenset__", "__dict__", "__odict__", "__counter__") \
            and not isinstance(v, list):
        raise r.bad(f"its object structure has a {kind} entry holding {st._short(v)}, not a list "
                    "(the file was modified)")
    if kind == "__tuple__":
        return tuple(_decode(x, r, depth + 1) for x in v)
    if kind in ("__set__", "__frozenset__"):
        items = [_hashable(_decode(x, r, depth + 1)) for x in v]
        try:
            return (frozenset if kind == "__frozenset__" else set)(items)
        except TypeError:
            raise r.bad(f"its object structure has a {kind} holding an item that cannot be in a set "
                        "(the file was modified)") from None
    if kind in ("__dict__", "__odict__", "__counter__"):
        out = {"__odict__": collections.OrderedDict, "__counter__": collections.Counter}.get(kind, dict)()
        for pair in v:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise r.bad(f"its object structure has a {kind} item {st._short(pair)}, not a "
                            "[key, value] pair (the file was modified)")
            key = _hashable(_decode(pair[0], r, depth + 1))
            try:
                hash(key)
            except TypeError:
                raise r.bad(f"its object structure has a dict key of type {type(key).__name__}, "
                            "which cannot be a key (the file was modified)") from None
            out[key] = _decode(pair[1], r, depth + 1)
        return out
    if kind == "__float__" and v in _FLOATS:
        return float(v)
    if kind == "__size__" and isinstance(v, list) and all(type(n) is int and n >= 0 for n in v):
        return Size(v)
    if kind == "__dtype__" and isinstance(v, str) and v in _CODES:
        return getattr(_dtypes, v)
    if kind == "__device__" and isinstance(v, str):
        try:
            return _device(v)
        except (RuntimeError, ValueError, TypeError) as e:
            raise r.bad(f"its object structure has an invalid device {st._short(v)} ({e})") from None
    if kind in ("__float__", "__dtype__", "__device__", "__size__"):
        raise r.bad(f"its object structure has an invalid {kind} entry {st._short(v)} (the file was modified)")
    raise r.bad(f"its object structure has an unknown entry {st._short(kind)} (the file was modified)")


def _decode_tensor(s, r: _Reader) -> Tensor:
    key, saved_device = s["__tensor__"], s.get("device", "cpu")
    grad, param, cplx = s.get("requires_grad", False), s.get("parameter", False), s.get("complex", False)
    if not (isinstance(key, str) and isinstance(saved_device, str) and type(grad) is bool
            and type(param) is bool and type(cplx) is bool and type(s.get("ndarray", False)) is bool) \
            or set(s) - {"__tensor__", "device", "requires_grad", "parameter", "complex", "view", "ndarray"}:
        raise r.bad(f"its object structure has an invalid tensor entry {st._short(s)} (the file was modified)")
    if s.get("ndarray"):
        return _decode_tensor({k: v for k, v in s.items() if k != "ndarray"}, r).numpy()
    if key in r.made:
        return r.made[key]
    t = _view_of_span(s["view"], key, saved_device, r) if "view" in s else r.tensor(key, saved_device)
    if cplx:
        if t.dtype not in (_dtypes.float32, _dtypes.float64) or t.ndim == 0 or t.shape[-1] != 2:
            raise r.bad(f"tensor '{key}' is marked complex but holds {t.dtype} of shape {list(t.shape)}, not the "
                        "(real, imaginary) pairs of a complex tensor (the file was modified)")
        from plugtorch import _ops_public as P
        try:
            t = P.view_as_complex(t)
        except RuntimeError as e:   # a view entry whose strides do not pair up
            raise r.bad(f"tensor '{key}' is marked complex but cannot be viewed as complex ({e}); the file "
                        "was modified") from None
    try:
        if param:
            from plugtorch.nn.parameter import Parameter
            t = Parameter(t, requires_grad=grad)
        elif grad:
            t.requires_grad_(True)
    except RuntimeError as e:     # e.g. an integer tensor marked as requiring grad
        raise r.bad(f"tensor '{key}' cannot be restored as saved ({e}); the file was modified") from None
    r.made[key] = t
    return t


_INT64_MAX = 2 ** 63 - 1


def _view_of_span(v, key, saved_device, r: _Reader) -> Tensor:
    """Tensor ``key``: a view (offset, shape, stride in elements) of the 1-D span stored as
    entry ``v["storage"]``, loaded once per file and device (so its views share it)."""
    def bad(why):
        return r.bad(f"tensor '{key}' has an invalid view entry {st._short(v)}: {why} (the file was modified)")

    def int_ok(x):
        return type(x) is int and 0 <= x <= _INT64_MAX

    if not (isinstance(v, dict) and set(v) == {"storage", "offset", "shape", "stride"}):
        raise bad("expected the fields storage, offset, shape and stride")
    span_key, offset, shape, stride = v["storage"], v["offset"], v["shape"], v["stride"]
    if not isinstance(span_key, str):
        raise bad("its storage is not a tensor name")
    if not int_ok(offset):
        raise bad("its offset is not a non-negative integer")
    if not (isinstance(shape, list) and isinstance(stride, list) and len(shape) == len(stride) <= st.MAX_NDIM
            and all(int_ok(n) for n in shape) and all(int_ok(x) for x in stride)):
        raise bad("its shape and stride are not two lists of as many non-negative integers (at most "
                  f"{st.MAX_NDIM})")
    span = r.spans.get((span_key, saved_device))
    if span is None:
        span = r.spans[(span_key, saved_device)] = r.tensor(span_key, saved_device)
    if span.ndim != 1:
        raise bad(f"its storage '{span_key}' has shape {list(span.shape)}, not one dimension")
    from plugtorch.dispatch.ops.arrangements import storage_needed
    reach = max(storage_needed(shape, stride, offset), offset)
    if reach > span.shape[0]:
        raise bad(f"it reaches element {reach} of its storage '{span_key}', which holds {span.shape[0]}")
    try:
        return span.as_strided(tuple(shape), tuple(stride), span.storage_offset() + offset)
    except (RuntimeError, ValueError, OverflowError, TypeError) as e:
        raise bad(f"the view cannot be made ({e})") from None


def _hashable(k):
    return tuple(_hashable(x) for x in k) if isinstance(k, list) else k


# ---- torch.serialization's allowlist of globals ---------------------------------------------
_safe_globals: list = []


def add_safe_globals(safe_globals: list) -> None:
    """Record globals (classes, functions, or ``(obj, "module.name")`` pairs) as safe to load, as
    ``torch.serialization.add_safe_globals``. plugtorch's loads never build arbitrary Python
    objects (a file that needs one is refused whatever this list holds), so the list only keeps
    scripts that declare it running; loading a ``state_dict`` needs none of it.

    >>> pt.serialization.add_safe_globals([MyModel])   # doctest: +SKIP
    """
    if not isinstance(safe_globals, (list, tuple)):
        raise TypeError(f"add_safe_globals(): expected a list of globals, got {type(safe_globals).__name__}")
    for g in safe_globals:
        if isinstance(g, tuple) and not (len(g) == 2 and isinstance(g[1], str)):
            raise ValueError(f"add_safe_globals(): a tuple entry must be (global, 'module.name'), got {g!r}")
    _safe_globals.extend(safe_globals)


def get_safe_globals() -> list:
    """The globals ``add_safe_globals`` recorded (a copy)."""
    return list(_safe_globals)


def clear_safe_globals() -> None:
    """Forget the globals ``add_safe_globals`` recorded."""
    _safe_globals.clear()


class safe_globals:
    """``with safe_globals([...]):`` records the globals as safe for the block only, as
    ``torch.serialization.safe_globals`` (see ``add_safe_globals``)."""

    def __init__(self, safe_globals: list):
        self.safe_globals = safe_globals

    def __enter__(self):
        self._saved = list(_safe_globals)
        add_safe_globals(self.safe_globals)

    def __exit__(self, *exc):
        _safe_globals[:] = self._saved
        return False
