"""The safetensors container that ``plugtorch.save`` writes and ``plugtorch.load`` reads.

A file is an 8-byte little-endian header length ``n``, ``n`` bytes of JSON (an object mapping
each tensor's name to its ``dtype``, ``shape`` and ``data_offsets`` relative to the data start,
plus an optional ``__metadata__`` of strings), then the tensors' bytes back to back.

Reading checks every field against the file's size before anything is allocated, so a damaged
or hostile file fails with a RuntimeError naming the file; tensors are then read straight into
their final buffers (or viewed in a memory map), never through an intermediate copy.

>>> import io
>>> buf = io.BytesIO()
>>> write_all(buf, encode_header([("F32", (2,))], {"k": "v"}))
>>> write_array(buf, np.ones(2, np.float32))
>>> size = buf.tell(); _ = buf.seek(0)
>>> h = read_header(buf, size, "<buf>")
>>> h.metadata, h.entries["0"].shape
({'k': 'v'}, (2,))
"""
from __future__ import annotations

import json
import math
import mmap
import struct
from typing import NamedTuple

import numpy as np

MAX_HEADER = 100_000_000    # safetensors' own limit on the JSON header
MAX_NDIM = 64               # NumPy's limit on dimensions
ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
            "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


class Entry(NamedTuple):
    key: str
    code: str       # safetensors dtype code, e.g. "F32"
    shape: tuple
    begin: int      # byte offsets relative to the data start
    end: int


class Header(NamedTuple):
    metadata: dict          # the __metadata__ strings
    entries: dict           # tensor name -> Entry, in header order
    data_start: int         # absolute position of the data in the file object


def bad(name, why) -> RuntimeError:
    return RuntimeError(f"plugtorch.load: cannot load {name}: {why}")


# ---- writing -------------------------------------------------------------------------------
def encode_header(specs, metadata) -> bytes:
    """The length prefix and JSON header for tensors ``specs`` [(code, shape)], named "0", "1", ..."""
    header, offset = {"__metadata__": metadata}, 0
    for i, (code, shape) in enumerate(specs):
        nbytes = math.prod(shape) * ITEMSIZE[code]
        header[str(i)] = {"dtype": code, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)     # safetensors pads the header to 8 bytes with spaces
    return struct.pack("<Q", len(h)) + h


def write_array(fh, arr: np.ndarray) -> None:
    """Append ``arr``'s bytes (C order, little-endian as the hosts we run on) without a copy."""
    arr = np.ascontiguousarray(arr)
    write_all(fh, memoryview(arr.reshape(-1).view(np.uint8)))


def write_all(fh, data) -> None:
    data = memoryview(data)
    while len(data):
        n = fh.write(data)
        data = data[len(data) if n is None else n:]   # raw files may write less than asked


# ---- reading -------------------------------------------------------------------------------
_PICKLE = ("it looks like a pickle file (or a torch.save file in the legacy format of PyTorch before 1.6, "
           "or saved with _use_new_zipfile_serialization=False). plugtorch never unpickles, because "
           "unpickling can run arbitrary code; it reads torch.save's zip format (the default since "
           "PyTorch 1.6) without unpickling. Re-save the tensors with torch.save's default format, "
           "safetensors or plugtorch.save")


def _looks_pickled(prefix: bytes) -> bool:
    # pickle protocol 2+ opens with PROTO (0x80, version) and an opcode (never 0x00); a torch.save
    # zip with a local file header. Only asked once the bytes are known not to be safetensors.
    return prefix[:4] == b"PK\x03\x04" or (
        len(prefix) >= 3 and prefix[0] == 0x80 and 2 <= prefix[1] <= 5 and prefix[2] != 0)


def read_header(fh, size: int, name) -> Header:
    """Parse and validate the header of the ``size`` bytes that ``fh`` holds from its position."""
    start = fh.tell()
    prefix = read_exact(fh, min(size, 8))
    n = struct.unpack("<Q", prefix)[0] if len(prefix) == 8 else None
    fits = n is not None and 2 <= n <= min(size - 8, MAX_HEADER)
    text = read_exact(fh, n) if fits else b""
    if text[:1] != b"{":          # the structure, not one byte, tells safetensors from the rest
        if _looks_pickled(prefix):
            raise bad(name, _PICKLE)
        if n is None:
            raise bad(name, f"it is {size} bytes long, too short for a safetensors header (the file "
                            "is truncated or is not a plugtorch/safetensors file)")
        if n > size - 8:
            raise bad(name, f"its header length says {n} bytes but only {size - 8} follow (the file "
                            "is truncated, or its header length is wrong)")
        if n > MAX_HEADER:
            raise bad(name, f"its header length says {n} bytes, more than safetensors' limit of "
                            f"{MAX_HEADER} (the file is damaged or is not a safetensors file)")
        if n < 2:
            raise bad(name, f"its header length says {n} bytes, too short for a JSON header")
        raise bad(name, "its header is not valid JSON (the file is damaged or is not a "
                        "plugtorch/safetensors file)")
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise bad(name, "its header is not valid JSON (the file is damaged or is not a "
                        "plugtorch/safetensors file)") from None
    if not isinstance(header, dict):
        raise bad(name, "its header is not a JSON object")
    meta = header.pop("__metadata__", None)
    if meta is None:
        meta = {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise bad(name, "its __metadata__ is not a map of strings (the file was modified)")
    entries = {k: _entry(k, v, name) for k, v in header.items()}
    _check_layout(entries.values(), size - 8 - n, name)
    return Header(meta, entries, start + 8 + n)


def _short(x) -> str:
    r = repr(x)
    return r if len(r) <= 80 else r[:77] + "..."


def _ints(v, length=None) -> bool:
    return (isinstance(v, list) and (length is None or len(v) == length)
            and all(type(x) is int and x >= 0 for x in v))


def _entry(key, v, name) -> Entry:
    def inconsistent(why):
        return bad(name, f"its tensor table is inconsistent (tensor {_short(key)} {why}); the file "
                         "is truncated or was modified")
    if not isinstance(v, dict):
        raise inconsistent(f"is {_short(v)}, not an object with dtype, shape and data_offsets")
    code, shape, offsets = v.get("dtype"), v.get("shape"), v.get("data_offsets")
    if not isinstance(code, str) or code not in ITEMSIZE:
        raise inconsistent(f"has an unknown dtype {_short(code)}")
    if not _ints(shape) or len(shape) > MAX_NDIM:
        raise inconsistent(f"has an invalid shape {_short(shape)} (at most {MAX_NDIM} sizes >= 0)")
    if not _ints(offsets, 2) or offsets[0] > offsets[1]:
        raise inconsistent(f"has invalid data_offsets {_short(offsets)} (expected [begin, end], "
                           "0 <= begin <= end)")
    # NumPy refuses shapes whose nonzero sizes multiply past its address space, even with a 0 size
    if math.prod(max(d, 1) for d in shape) * ITEMSIZE[code] >= 2 ** 63:
        raise inconsistent(f"has a shape {_short(shape)} too large to hold")
    nbytes = math.prod(shape) * ITEMSIZE[code]
    if nbytes != offsets[1] - offsets[0]:
        raise inconsistent(f"has shape {shape} of {code} ({nbytes} bytes) but data_offsets {offsets} "
                           f"hold {offsets[1] - offsets[0]} bytes")
    return Entry(key, code, tuple(shape), offsets[0], offsets[1])


def _check_layout(entries, data_size: int, name) -> None:
    pos = 0     # safetensors requires the tensors to tile the data: no gaps, no overlaps
    for e in sorted(entries, key=lambda e: (e.begin, e.end)):
        if e.begin != pos:
            raise bad(name, f"its tensor table is inconsistent (tensor {_short(e.key)} starts at byte "
                            f"{e.begin} of the data, but the tensors before it end at {pos}; they must "
                            "follow each other without gaps or overlaps); the file was modified")
        pos = e.end
    if pos > data_size:
        raise bad(name, f"its tensors need {pos} bytes of data but only {data_size} follow the header "
                        "(the file is truncated)")
    if pos < data_size:
        raise bad(name, f"its data has {data_size - pos} bytes after the last tensor (the file was "
                        "modified, or something was appended to it)")


def read_exact(fh, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        part = fh.read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def read_array(fh, header: Header, e: Entry, dtype: np.dtype, name) -> np.ndarray:
    """Tensor ``e`` read straight into a new, owned array."""
    arr = np.empty(e.shape, dtype)
    if e.end > e.begin:
        fh.seek(header.data_start + e.begin)
        _read_into(fh, memoryview(arr.reshape(-1).view(np.uint8)), name)
    return arr


def _read_into(fh, buf: memoryview, name) -> None:
    readinto, got = getattr(fh, "readinto", None), 0
    while got < len(buf):
        if readinto is not None:
            k = readinto(buf[got:]) or 0
        else:
            part = fh.read(len(buf) - got)
            k = len(part)
            buf[got:got + k] = part
        if not k:
            raise bad(name, "it ended before all its tensor data was read (the file is truncated, "
                            "or changed while it was being loaded)")
        got += k


def mapped_array(mapping, header: Header, e: Entry, dtype: np.dtype) -> np.ndarray:
    """Tensor ``e`` as a view of ``mapping`` (an mmap of the whole file)."""
    count = (e.end - e.begin) // dtype.itemsize
    if not count:
        return np.empty(e.shape, dtype)
    return np.frombuffer(mapping, dtype, count, header.data_start + e.begin).reshape(e.shape)


def map_window(fileno: int, header: Header, e: Entry, name) -> tuple:
    """A read-only mmap of just tensor ``e`` and the offset of its first byte in it; closing it
    after use keeps at most one tensor's pages of the file resident."""
    start = header.data_start + e.begin
    lo = start - start % mmap.ALLOCATIONGRANULARITY
    try:
        window = mmap.mmap(fileno, header.data_start + e.end - lo, offset=lo, access=mmap.ACCESS_READ)
    except (ValueError, OSError) as err:    # the file shrank since its header was read
        raise bad(name, f"its tensor {_short(e.key)} cannot be mapped ({err}); the file is truncated, "
                        "or changed while it was being loaded") from None
    return window, start - lo
