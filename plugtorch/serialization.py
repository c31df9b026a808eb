"""``plugtorch.save`` / ``plugtorch.load``: a file format whose loading never runs code.

A file is a standard safetensors file: the tensors are its entries ("0", "1", ...) and the
object around them (dicts, lists, tuples, numbers, strings, dtypes, devices) is JSON in its
``__metadata__``. Loading parses JSON and raw little-endian bytes only; nothing is unpickled.
A plain safetensors file from elsewhere loads as a dict of tensors.

>>> import io, plugtorch as pt
>>> buf = io.BytesIO()
>>> pt.save({"w": pt.ones(2), "step": 3}, buf)
>>> _ = buf.seek(0); pt.load(buf)
{'w': tensor([1., 1.]), 'step': 3}
"""
from __future__ import annotations

import collections
import json
import math
import os
import struct

import numpy as np

from plugtorch import _dtypes
from plugtorch._device import device as _device
from plugtorch._tensor import Tensor

FORMAT = "plugtorch"
VERSION = "1"

# plugtorch dtype <-> safetensors dtype code
_CODES = {"float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16", "int64": "I64",
          "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL"}
_DTYPES = {code: getattr(_dtypes, name) for name, code in _CODES.items()}


# ---- save ----------------------------------------------------------------------------------
def save(obj, f) -> None:
    """Save tensors and nested dicts/lists/tuples of them (with numbers and strings) to ``f``
    (a path or a binary file object).

    >>> pt.save(model.state_dict(), "model.safetensors")   # doctest: +SKIP
    """
    tensors: list = []
    seen: dict = {}
    structure = _encode(obj, tensors, seen)
    data = _write_safetensors(tensors, {"format": FORMAT, "version": VERSION,
                                        "structure": json.dumps(structure, allow_nan=False)})
    if hasattr(f, "write"):
        f.write(data)
    else:
        with open(os.fspath(f), "wb") as fh:
            fh.write(data)


def _encode(obj, tensors, seen):
    if isinstance(obj, Tensor):
        name = seen.get(id(obj))
        if name is None:     # the same tensor twice is stored once and loads as one object
            name = seen[id(obj)] = str(len(tensors))
            tensors.append(obj)
        return {"__tensor__": name, "device": str(obj.device), "requires_grad": obj.requires_grad,
                "parameter": bool(obj._is_param)}
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, tensors, seen) for v in obj]
        return items if type(obj) is list else {"__tuple__": items}
    if isinstance(obj, dict):
        kind = "__odict__" if isinstance(obj, collections.OrderedDict) else "__dict__"
        return {kind: [[_encode(k, tensors, seen), _encode(v, tensors, seen)] for k, v in obj.items()]}
    if isinstance(obj, _dtypes.dtype):
        return {"__dtype__": obj.name}
    if isinstance(obj, _device):
        return {"__device__": str(obj)}
    raise TypeError(f"plugtorch.save can store tensors, numbers, strings, None, dtypes, devices and "
                    f"lists/tuples/dicts of them, but got {type(obj).__name__}; convert it to one of "
                    "those (e.g. save a module's state_dict(), not the module)")


def _write_safetensors(tensors, metadata) -> bytes:
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for i, t in enumerate(tensors):
        blob = np.ascontiguousarray(t.detach()._host()).tobytes()
        header[str(i)] = {"dtype": _CODES[t.dtype.name], "shape": list(t.shape),
                          "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)     # safetensors pads the header to 8 bytes with spaces
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


# ---- load ----------------------------------------------------------------------------------
def load(f, map_location=None, *, weights_only=True, mmap=None):
    """Load what ``save`` wrote. ``map_location`` (a device, a string, a dict mapping saved
    device names to new ones, or ``fn(tensor, saved_device_name)``) moves tensors on load;
    without it they return to the device they were saved from.

    Loading never executes code, so ``weights_only`` is always in effect.
    """
    name = f if isinstance(f, (str, os.PathLike)) else getattr(f, "name", "<file object>")
    if hasattr(f, "read"):
        data = f.read()
    else:
        with open(os.fspath(f), "rb") as fh:
            data = fh.read()
    header = _read_header(data, name)
    raw = _read_tensors(data, name)
    meta = header.get("__metadata__") or {}
    if meta.get("format") != FORMAT or "structure" not in meta:
        return {k: _place(_to_tensor(k, v, name), "cpu", map_location) for k, v in raw.items()}
    try:
        structure = json.loads(meta["structure"])
    except ValueError as e:
        raise _bad(name, f"its object structure is not valid JSON ({e})") from None
    made: dict = {}
    return _decode(structure, raw, made, map_location, name)


def _bad(name, why):
    return RuntimeError(f"plugtorch.load: cannot load {name}: {why}")


def _read_header(data: bytes, name):
    if data[:1] == b"\x80" or data[:4] == b"PK\x03\x04":
        raise _bad(name, "it looks like a pickle (or torch.save zip) file. plugtorch never unpickles, "
                         "because unpickling can run arbitrary code; re-save the tensors with "
                         "safetensors or plugtorch.save")
    if len(data) < 8:
        raise _bad(name, f"it is {len(data)} bytes long, too short for a safetensors header "
                         "(the file is truncated or is not a plugtorch/safetensors file)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise _bad(name, f"its header length says {n} bytes but only {len(data) - 8} follow "
                         "(the file is truncated, or its header length is wrong)")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _bad(name, "its header is not valid JSON (the file is damaged or is not a "
                         "plugtorch/safetensors file)") from None
    if not isinstance(header, dict):
        raise _bad(name, "its header is not a JSON object")
    return header


def _read_tensors(data: bytes, name) -> dict:
    import safetensors
    try:
        entries = safetensors.deserialize(data)
    except Exception as e:    # SafetensorError: offsets, shapes and byte counts disagree
        raise _bad(name, f"its tensor table is inconsistent ({e}); the file is truncated or was "
                         "modified") from None
    return dict(entries)


def _to_tensor(key, entry, name):
    from plugtorch import _ops_public as P
    dt = _DTYPES.get(entry["dtype"])
    if dt is None:
        raise _bad(name, f"tensor '{key}' has dtype {entry['dtype']}, which plugtorch does not support")
    shape = tuple(entry["shape"])
    arr = np.frombuffer(bytearray(entry["data"]), dtype=dt.numpy)   # safetensors is little-endian, as the hosts we run on
    if arr.size != math.prod(shape):
        raise _bad(name, f"tensor '{key}' has shape {list(shape)} but {arr.nbytes} bytes of data")
    return P.from_numpy(arr.reshape(shape))


def _place(t, saved_device, map_location):
    if map_location is None:
        target = saved_device
    elif callable(map_location) and not isinstance(map_location, (str, _device)):
        return map_location(t, saved_device)
    elif isinstance(map_location, dict):
        target = map_location.get(saved_device, saved_device)
    else:
        target = map_location
    if str(target) == "cpu":
        return t
    try:
        return t.to(target)
    except RuntimeError as e:
        raise RuntimeError(f"plugtorch.load: a tensor was saved on '{saved_device}' and cannot be "
                           f"restored on '{target}' ({e}); pass map_location='cpu' (or another "
                           "available device) to plugtorch.load") from None


def _decode(s, raw, made, map_location, name):
    if isinstance(s, list):
        return [_decode(v, raw, made, map_location, name) for v in s]
    if not isinstance(s, dict):
        return s
    if len(s) != 1 and "__tensor__" not in s:
        raise _bad(name, "its object structure has an unknown entry (the file was modified)")
    if "__tensor__" in s:
        key = s["__tensor__"]
        if key in made:
            return made[key]
        if key not in raw:
            raise _bad(name, f"its structure refers to tensor '{key}', which the file does not "
                             "contain (the file was modified)")
        t = _place(_to_tensor(key, raw[key], name), s.get("device", "cpu"), map_location)
        if s.get("parameter"):
            from plugtorch.nn.parameter import Parameter
            t = Parameter(t, requires_grad=bool(s.get("requires_grad")))
        elif s.get("requires_grad"):
            t.requires_grad_(True)
        made[key] = t
        return t
    (kind, v), = s.items()
    if kind == "__tuple__":
        return tuple(_decode(x, raw, made, map_location, name) for x in v)
    if kind in ("__dict__", "__odict__"):
        pairs = [(_hashable(_decode(k, raw, made, map_location, name)), _decode(x, raw, made, map_location, name))
                 for k, x in v]
        return collections.OrderedDict(pairs) if kind == "__odict__" else dict(pairs)
    if kind == "__float__":
        return float(v)
    if kind == "__dtype__":
        return _dtypes.to_dtype(v)
    if kind == "__device__":
        return _device(v)
    raise _bad(name, f"its object structure has an unknown entry '{kind}' (the file was modified)")


def _hashable(k):
    return tuple(_hashable(x) for x in k) if isinstance(k, list) else k
