"""plugtorch.save / plugtorch.load: round trips, the safetensors format, and damaged files."""
import collections
import gzip
import io
import json
import mmap
import os
import pickle
import struct
import subprocess
import sys

import numpy as np
import pytest
import safetensors
import safetensors.numpy

import plugtorch as pt


def round_trip(obj, **load_kw):
    buf = io.BytesIO()
    pt.save(obj, buf)
    buf.seek(0)
    return pt.load(buf, **load_kw)


def saved_bytes(obj):
    buf = io.BytesIO()
    pt.save(obj, buf)
    return buf.getvalue()


def load_bytes(data, **kw):
    return pt.load(io.BytesIO(data), **kw)


@pytest.mark.parametrize("dtype", [pt.float64, pt.float32, pt.float16, pt.bfloat16, pt.int64, pt.int32,
                                   pt.int16, pt.int8, pt.uint8, pt.bool])
def test_every_dtype_round_trips_bit_exact(dtype):
    values = np.array([[0.0, -1.5, 3.25], [7.0, 1e-3, -0.0]])
    t = pt.tensor(values).to(dtype)
    back = round_trip(t)
    assert back.dtype == dtype and back.shape == (2, 3) and back.device == pt.device("cpu")
    assert back.numpy().tobytes() == t.numpy().tobytes()


@pytest.mark.parametrize("dtype", [pt.complex64, pt.complex128])
def test_complex_round_trips_bit_exact_as_real_pairs(dtype):
    z = pt.tensor([[1.5 - 2j, -0.0 + 1e-30j], [float("inf"), complex(float("nan"), 3)]], dtype=dtype)
    for t in (z, z.t(), z[:, 1], pt.nn.Parameter(z.clone())):
        back = round_trip({"t": t})["t"]
        assert back.dtype == dtype and back.shape == t.shape and type(back) is type(t)
        assert back.detach().numpy().tobytes() == t.detach().contiguous().numpy().tobytes()
    # a plain safetensors reader sees the (real, imaginary) pairs
    entries = safetensors.numpy.load(saved_bytes({"t": z}))
    assert entries["0"].shape == (2, 2, 2) and entries["0"].dtype == dtype.to_real().numpy


def test_a_complex_mark_on_a_tensor_that_is_not_pairs_is_refused():
    data = saved_bytes({"t": pt.tensor([1j, 2j])})
    meta_start = 8
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[meta_start:meta_start + n])
    header["0"]["shape"] = [4]           # (the same bytes as 4 floats: no longer pairs)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with pytest.raises(RuntimeError, match=r"tensor '0' is marked complex but holds plugtorch.float32 of shape \[4\]"):
        load_bytes(struct.pack("<Q", len(raw)) + raw + data[meta_start + n:])


def test_bfloat16_keeps_its_rounding():
    t = pt.tensor([1.0 + 2 ** -7, 3.14159, -65504.0]).bfloat16()
    assert round_trip(t).float().tolist() == t.float().tolist() == [1.0078125, 3.140625, -65536.0]


def test_nested_state_dict_round_trip():
    w = pt.randn(3, 4)
    obj = {"model": collections.OrderedDict(weight=w, bias=pt.zeros(4)),
           "optim": {"state": {0: {"step": pt.tensor(5.0), "exp_avg": pt.ones(3)}},
                     "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0], "name": None}]},
           "epoch": 7, "best": float("inf"), "ok": True, "dtype": pt.float16, "device": pt.device("cpu"),
           (1, 2): "tuple key", "same": w, "empty": pt.zeros(0, 5)}
    back = round_trip(obj)
    assert isinstance(back["model"], collections.OrderedDict) and list(back["model"]) == ["weight", "bias"]
    np.testing.assert_array_equal(back["model"]["weight"].numpy(), w.numpy())
    assert back["same"] is back["model"]["weight"]
    st = back["optim"]["state"][0]
    assert st["step"].item() == 5.0 and st["exp_avg"].tolist() == [1.0, 1.0, 1.0]
    assert back["optim"]["param_groups"] == [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0], "name": None}]
    assert (back["epoch"], back["best"], back["ok"], back[(1, 2)]) == (7, float("inf"), True, "tuple key")
    assert back["dtype"] is pt.float16 and back["device"] == pt.device("cpu")
    assert back["empty"].shape == (0, 5)


def test_requires_grad_and_non_contiguous_tensors():
    a = pt.arange(6.0).view(2, 3).t()
    a.requires_grad_()
    back = round_trip([a, a[1]])
    assert back[0].requires_grad and back[0].tolist() == [[0, 3], [1, 4], [2, 5]]
    assert back[1].tolist() == [1.0, 4.0]


def test_optimizer_state_dict_round_trip_resumes_training():
    p = pt.tensor([1.0, -1.0], requires_grad=True)
    opt = pt.optim.Adam([p], lr=0.1)
    p.grad = pt.tensor([0.5, 0.25])
    opt.step()
    q = p.detach().clone().requires_grad_()
    opt2 = pt.optim.Adam([q], lr=0.1)
    opt2.load_state_dict(round_trip(opt.state_dict()))
    for o, t in ((opt, p), (opt2, q)):
        t.grad = pt.tensor([0.5, 0.25])
        o.step()
    assert p.tolist() == q.tolist()


def test_path_and_file_object(tmp_path):
    path = tmp_path / "x.pt"
    pt.save({"a": pt.ones(2)}, path)
    assert pt.load(path)["a"].tolist() == [1.0, 1.0]
    assert pt.load(str(path))["a"].tolist() == [1.0, 1.0]
    with open(path, "rb") as f:
        assert pt.load(f)["a"].tolist() == [1.0, 1.0]


def test_files_are_standard_safetensors():
    data = saved_bytes({"w": pt.tensor([1.0, 2.0]), "n": 3})
    arrays = safetensors.numpy.load(data)
    assert list(arrays) == ["0"] and arrays["0"].tolist() == [1.0, 2.0]
    other = safetensors.numpy.save({"a": np.arange(3, dtype=np.int32)}, metadata={"format": "pt"})
    loaded = load_bytes(other)
    assert list(loaded) == ["a"] and loaded["a"].dtype == pt.int32 and loaded["a"].tolist() == [0, 1, 2]


def test_saving_an_unsupported_object_is_a_type_error():
    with pytest.raises(TypeError, match="plugtorch.save can store tensors, numbers, strings.*but got object"):
        pt.save({"x": object()}, io.BytesIO())


# ---- damaged and foreign files -----------------------------------------------------------------
def split(data):
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def join(header, body):
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + body


GOOD = saved_bytes({"w": pt.arange(12.0).view(3, 4), "b": pt.ones(2)})


@pytest.mark.parametrize("cut", [0, 5, 8, 40, len(GOOD) - 60, len(GOOD) - 1])
def test_truncated_file(cut):
    with pytest.raises(RuntimeError, match="plugtorch.load: cannot load .*truncated"):
        load_bytes(GOOD[:cut])


@pytest.mark.parametrize("delta", [+1, +4096, -3, -(2 ** 20)])
def test_wrong_header_length(delta):
    (n,) = struct.unpack("<Q", GOOD[:8])
    bad = struct.pack("<Q", max(n + delta, 1)) + GOOD[8:]
    with pytest.raises(RuntimeError, match="plugtorch.load: cannot load"):
        load_bytes(bad)


def test_huge_header_length_names_the_problem():
    with pytest.raises(RuntimeError, match=r"header length says 18446744073709551615 bytes but only \d+ follow"):
        load_bytes(struct.pack("<Q", 2 ** 64 - 1) + GOOD[8:])


def test_shape_disagreeing_with_byte_count():
    header, body = split(GOOD)
    header["0"]["shape"] = [4, 4]
    with pytest.raises(RuntimeError, match="tensor table is inconsistent .*modified"):
        load_bytes(join(header, body))
    header, body = split(GOOD)
    header["0"]["data_offsets"][1] += 4
    with pytest.raises(RuntimeError, match="tensor table is inconsistent"):
        load_bytes(join(header, body + b"\0" * 4))


def test_structure_pointing_at_a_missing_tensor():
    header, body = split(GOOD)
    header["__metadata__"]["structure"] = header["__metadata__"]["structure"].replace('"1"', '"9"')
    with pytest.raises(RuntimeError, match="refers to tensor '9', which the file does not contain"):
        load_bytes(join(header, body))


def test_tampered_structure_and_dtype():
    header, body = split(GOOD)
    header["__metadata__"]["structure"] = '{"__import__": "os"}'
    with pytest.raises(RuntimeError, match="unknown entry '__import__'"):
        load_bytes(join(header, body))
    header["__metadata__"]["structure"] = "{not json"
    with pytest.raises(RuntimeError, match="object structure is not valid JSON"):
        load_bytes(join(header, body))


@pytest.mark.parametrize("data", [pickle.dumps({"w": [1.0, 2.0]})]
                         + [pickle.dumps(obj, protocol=p) for p in (2, 3, 4, 5) for obj in (1, [0.5] * 300, {})],
                         ids=["pickle"] + [f"protocol{p}-{k}" for p in (2, 3, 4, 5) for k in "ilD"])
def test_pickle_files_are_refused(data):
    # (torch.save's zip files load without unpickling: tests/test_torch_format.py)
    with pytest.raises(RuntimeError, match="looks like a pickle .* never unpickles"):
        load_bytes(data)


class _Payload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickle_payload_is_never_run(tmp_path):
    target = tmp_path / "created-by-unpickling"
    with pytest.raises(RuntimeError, match="looks like a pickle"):
        load_bytes(pickle.dumps({"x": _Payload(str(target))}))
    assert not target.exists()


def header_length(data):
    return struct.unpack("<Q", data[:8])[0]


def test_header_length_128_mod_256_is_not_taken_for_a_pickle():
    # the two examples: the length prefix then starts with 0x80, a pickle's first byte
    data = saved_bytes({"k" * 138: pt.ones(2)})
    assert header_length(data) % 256 == 128
    assert load_bytes(data)["k" * 138].tolist() == [1.0, 1.0]
    pt.manual_seed(0)
    model = pt.nn.Sequential(*[pt.nn.Linear(64, 64) for _ in range(5)])
    opt = pt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(pt.randn(2, 64)).sum().backward()
    opt.step()
    data = saved_bytes({"model": model.state_dict(), "optim": opt.state_dict()})
    assert header_length(data) % 256 == 128
    back = load_bytes(data)
    for k, v in model.state_dict().items():
        assert back["model"][k].numpy().tobytes() == v.numpy().tobytes()
    buf = back["optim"]["state"][0]["momentum_buffer"]
    assert buf.numpy().tobytes() == opt.state_dict()["state"][0]["momentum_buffer"].numpy().tobytes()


def test_saved_header_lengths_over_a_whole_256_byte_cycle_round_trip():
    residues = set()
    for k in range(1, 257):    # keys one byte longer each time; save pads headers to 8 bytes
        data = saved_bytes({"k" * k: pt.arange(3.0) + k})
        residues.add(header_length(data) % 256)
        assert load_bytes(data)["k" * k].tolist() == [k, k + 1.0, k + 2.0]
    assert residues == set(range(0, 256, 8))


def test_every_header_length_residue_loads():
    # safetensors files from elsewhere need not pad: every length mod 256 must load
    header, body = split(GOOD)
    h = json.dumps(header).encode()
    for residue in range(256):
        padded = h + b" " * ((residue - len(h)) % 256)
        data = struct.pack("<Q", len(padded)) + padded + body
        assert header_length(data) % 256 == residue
        back = load_bytes(data)
        assert back["w"].tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
        assert back["b"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("n", [0x280, 0x580])
def test_truncated_file_whose_length_prefix_starts_like_a_pickle(n):
    # 0x80 0x02 .. is also how pickle protocol 2 starts; a cut file must still say truncated
    data = struct.pack("<Q", n) + b'{"__metadata__":{}}'
    with pytest.raises(RuntimeError, match=f"header length says {n} bytes but only 19 follow .*truncated"):
        load_bytes(data)


def test_foreign_file():
    with pytest.raises(RuntimeError, match="header is not valid JSON"):
        load_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00<html>not json</html>")


# ---- devices -----------------------------------------------------------------------------------
def test_tensors_return_to_their_device_or_map_location(altcpu):
    data = saved_bytes({"a": pt.tensor([1.0, 2.0], device=altcpu), "b": pt.tensor([3], dtype=pt.int8)})
    back = load_bytes(data)
    assert back["a"].device == altcpu and back["b"].device == pt.device("cpu")
    assert back["a"].tolist() == [1.0, 2.0]
    assert load_bytes(data, map_location="cpu")["a"].device == pt.device("cpu")
    assert load_bytes(data, map_location=pt.device("altcpu:0"))["b"].device == altcpu
    moved = load_bytes(data, map_location={"altcpu:0": "cpu", "cpu": "altcpu:0"})
    assert moved["a"].device == pt.device("cpu") and moved["b"].device == altcpu
    seen = []
    load_bytes(data, map_location=lambda t, loc: seen.append(loc) or t)
    assert sorted(seen) == ["altcpu:0", "cpu"]


def test_a_map_location_function_returning_none_leaves_the_saved_device(altcpu):
    # as PyTorch: None from the function means "the default" (the saved device); before, the
    # tensor loaded as None (or an AttributeError for a view)
    x = pt.tensor([1.0, 2.0, 3.0])
    data = saved_bytes({"x": x, "v": x[1:], "a": pt.tensor([4.0], device=altcpu)})
    back = load_bytes(data, map_location=lambda t, loc: None)
    assert back["x"].tolist() == [1.0, 2.0, 3.0] and back["v"].tolist() == [2.0, 3.0]
    assert back["a"].device == altcpu and back["a"].tolist() == [4.0]
    back["x"][1] = 9.0
    assert back["v"][0].item() == 9.0                          # still one memory
    only_cpu = load_bytes(data, map_location=lambda t, loc: t.to(altcpu) if loc == "cpu" else None)
    assert only_cpu["x"].device == altcpu and only_cpu["a"].device == altcpu
    with pytest.raises(TypeError, match="map_location returned int for a tensor saved on 'cpu' in <file object>; "
                                        "a map_location function must return a tensor, or None"):
        load_bytes(data, map_location=lambda t, loc: 5)


def test_unavailable_device_suggests_map_location(altcpu):
    data = saved_bytes(pt.ones(1, device=altcpu))
    pt.backends.unregister("altcpu")
    with pytest.raises(RuntimeError, match="saved on 'altcpu:0' and cannot be restored.*map_location='cpu'"):
        load_bytes(data)
    assert load_bytes(data, map_location="cpu").tolist() == [1.0]


@pytest.mark.parametrize("device", [d for d in pt.backends.available() if d != "cpu"])
@pytest.mark.parametrize("dtype", [pt.float32, pt.bfloat16, pt.int64])
def test_round_trip_on_every_available_backend(device, dtype):
    if pt.backends.get_backend(device).unsupported_dtype(dtype, 0):
        pytest.skip(f"{device} does not support {dtype}")
    t = pt.tensor([[1.5, -2.0], [0.25, 8.0]], device=device).to(dtype)
    data = saved_bytes({"t": t})
    back = load_bytes(data)["t"]
    assert back.device == t.device and back.dtype == dtype
    assert back.cpu().numpy().tobytes() == t.cpu().numpy().tobytes()
    on_cpu = load_bytes(data, map_location="cpu")["t"]
    assert on_cpu.device == pt.device("cpu") and on_cpu.numpy().tobytes() == t.cpu().numpy().tobytes()
    assert load_bytes(saved_bytes(on_cpu), map_location=device).device == t.device


def test_module_state_dict_round_trip(tmp_path):
    pt.manual_seed(0)
    model = pt.nn.Sequential(pt.nn.Linear(4, 3), pt.nn.ReLU(), pt.nn.Linear(3, 2))
    pt.save(model.state_dict(), tmp_path / "model.safetensors")
    pt.manual_seed(1)
    other = pt.nn.Sequential(pt.nn.Linear(4, 3), pt.nn.ReLU(), pt.nn.Linear(3, 2))
    other.load_state_dict(pt.load(tmp_path / "model.safetensors"))
    x = pt.randn(5, 4)
    with pt.no_grad():
        np.testing.assert_array_equal(model(x).numpy(), other(x).numpy())
    with pytest.raises(TypeError, match="but got Sequential; .* save a module's state_dict"):
        pt.save(model, io.BytesIO())


# ---- saving to a path is atomic ----------------------------------------------------------------
from plugtorch import serialization  # noqa: E402


def _fail_on_second_tensor(exc):
    calls = []

    def host_array(t):
        calls.append(t)
        if len(calls) == 2:    # the header and the first tensor are already written
            raise exc
        return t.detach()._host()
    return host_array


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "interrupted"])
def test_a_save_that_fails_midway_leaves_the_old_file_whole(tmp_path, monkeypatch, exc):
    path = tmp_path / "ckpt.pt"
    pt.save({"w": pt.arange(4.0)}, path)
    old = path.read_bytes()
    monkeypatch.setattr(serialization, "_host_array", _fail_on_second_tensor(exc))
    with pytest.raises(type(exc)):
        pt.save({"a": pt.ones(1000), "b": pt.zeros(1000)}, path)
    assert path.read_bytes() == old and pt.load(path)["w"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]    # no temporary file left


_DISK_FULL = """
import resource, signal, sys
import plugtorch as pt
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)             # writes past the limit fail with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))  # a disk that fills up at 64 KiB
try:
    pt.save({"w": pt.zeros(100_000)}, sys.argv[1])
except OSError as e:
    print("failed:", e.strerror)
"""


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGXFSZ"), reason="needs RLIMIT_FSIZE (POSIX)")
def test_a_disk_filling_up_mid_save_leaves_the_old_file_whole(tmp_path):
    path = tmp_path / "ckpt.pt"
    pt.save({"w": pt.arange(1000.0)}, path)
    old = path.read_bytes()
    run = subprocess.run([sys.executable, "-c", _DISK_FULL, str(path)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0 and run.stdout.startswith("failed: File too large"), run.stderr
    assert path.read_bytes() == old and pt.load(path)["w"].tolist() == list(range(1000))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]


def test_a_save_whose_fsync_fails_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    pt.save([pt.ones(3)], path)
    old = path.read_bytes()

    def fsync(fd):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(serialization.os, "fsync", fsync)
    with pytest.raises(OSError, match="Input/output error"):
        pt.save([pt.zeros(3)], path)
    monkeypatch.undo()
    assert path.read_bytes() == old and sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]


def test_an_object_that_cannot_be_saved_leaves_the_old_file_whole(tmp_path):
    path = tmp_path / "ckpt.pt"
    pt.save({"w": pt.ones(2)}, path)
    old = path.read_bytes()
    with pytest.raises(TypeError, match="but got object"):
        pt.save({"w": pt.zeros(2), "x": object()}, path)
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="more than 100 levels deep .*contains itself"):
        pt.save(loop, path)
    assert path.read_bytes() == old and sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]


def test_save_replaces_the_file_and_keeps_its_mode_and_symlinks(tmp_path):
    path, link = tmp_path / "ckpt.pt", tmp_path / "latest.pt"
    pt.save(pt.ones(2), path)
    with open(tmp_path / "plain", "wb"):
        pass     # a file made as open(path, "wb") makes it: same umask
    assert path.stat().st_mode == (tmp_path / "plain").stat().st_mode
    path.chmod(0o640)
    link.symlink_to(path.name)
    pt.save(pt.zeros(3), link)
    assert link.is_symlink() and pt.load(path).tolist() == [0.0, 0.0, 0.0]
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt", "latest.pt", "plain"]


def test_a_counter_loads_as_a_counter(tmp_path):
    # MultiStepLR keeps its milestones in a Counter; loaded as a plain dict, a resumed schedule
    # raised AttributeError ('dict' object has no attribute 'elements') at its next milestone
    c = collections.Counter([2, 5, 5])
    pt.save({"milestones": c, "nested": [collections.Counter({"a": 3})]}, tmp_path / "c.pt")
    back = pt.load(tmp_path / "c.pt")
    assert type(back["milestones"]) is collections.Counter and back["milestones"] == {2: 1, 5: 2}
    assert sorted(back["milestones"].elements()) == [2, 5, 5] and back["milestones"][7] == 0
    assert type(back["nested"][0]) is collections.Counter and back["nested"][0]["a"] == 3


def test_a_size_loads_as_a_size(tmp_path):
    pt.save({"shape": pt.zeros(2, 3, 4).shape, "empty": pt.tensor(1.0).shape, "t": (2, 3)}, tmp_path / "s.pt")
    back = pt.load(tmp_path / "s.pt")
    assert type(back["shape"]) is pt.Size and back["shape"] == (2, 3, 4) and back["shape"].numel() == 24
    assert type(back["empty"]) is pt.Size and back["empty"].numel() == 1
    assert type(back["t"]) is tuple


def test_sets_load_as_sets(tmp_path):
    w = pt.ones(2)
    pt.save({"seen": {1, "a", (2, 3)}, "frozen": frozenset({4.5, None}), "empty": set(), "ts": {w}},
            tmp_path / "s.pt")
    back = pt.load(tmp_path / "s.pt")
    assert type(back["seen"]) is set and back["seen"] == {1, "a", (2, 3)}
    assert type(back["frozen"]) is frozenset and back["frozen"] == frozenset({4.5, None})
    assert back["empty"] == set() and [t.tolist() for t in back["ts"]] == [[1.0, 1.0]]


def test_a_set_holding_an_unhashable_item_is_refused():
    buf = io.BytesIO()
    pt.save({"s": {10 ** 30}}, buf)
    old = b"[" + str(10 ** 30).encode() + b"]"
    data = buf.getvalue().replace(old, b'[{\\"__dict__\\": []}]'.ljust(len(old)))   # a dict in the set
    assert data != buf.getvalue()
    with pytest.raises(RuntimeError, match="__set__ holding an item that cannot be in a set"):
        pt.load(io.BytesIO(data))


def test_save_into_a_missing_directory_is_refused_naming_it(tmp_path):
    missing = tmp_path / "runs" / "exp1"
    with pytest.raises(RuntimeError, match=f"Parent directory {missing} does not exist.*os.makedirs"):
        pt.save({"w": pt.ones(2)}, missing / "ckpt.pt")
    assert list(tmp_path.iterdir()) == []       # nothing created, no temporary file left anywhere
    missing.mkdir(parents=True)
    pt.save({"w": pt.ones(2)}, missing / "ckpt.pt")
    assert pt.load(missing / "ckpt.pt")["w"].tolist() == [1.0, 1.0]


def test_save_onto_a_directory_is_refused_naming_it(tmp_path):
    (tmp_path / "ckpt").mkdir()
    with pytest.raises(RuntimeError, match=f"{tmp_path / 'ckpt'} is a directory"):
        pt.save({"w": pt.ones(2)}, tmp_path / "ckpt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"] and list((tmp_path / "ckpt").iterdir()) == []


_SAVE_AS_ANOTHER_USER = """
import os, sys
import plugtorch as pt
if os.geteuid() == 0:        # root writes anything: save as 'nobody', for whom a 0o444 file is read-only
    os.setuid(65534)
try:
    pt.save({"w": pt.zeros(3)}, sys.argv[1])
    print("saved")
except RuntimeError as e:
    print("refused:", e)
"""


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="needs POSIX users")
def test_save_refuses_to_replace_a_read_only_checkpoint():
    import shutil
    import tempfile
    directory = tempfile.mkdtemp(prefix="pt-readonly-", dir="/tmp")     # searchable by 'nobody'
    try:
        os.chmod(directory, 0o777)
        path = os.path.join(directory, "best.pt")
        pt.save({"w": pt.arange(3.0)}, path)
        os.chmod(path, 0o444)       # protected: a rename would replace it all the same
        old = open(path, "rb").read()
        run = subprocess.run([sys.executable, "-c", _SAVE_AS_ANOTHER_USER, path], capture_output=True,
                             text=True, timeout=120)
        assert run.stdout.startswith(f"refused: plugtorch.save: cannot write {path}: Permission denied"), \
            run.stdout + run.stderr
        assert open(path, "rb").read() == old and pt.load(path)["w"].tolist() == [0.0, 1.0, 2.0]
        assert os.listdir(directory) == ["best.pt"]
        os.chmod(path, 0o666)       # writable again: saved as usual
        run = subprocess.run([sys.executable, "-c", _SAVE_AS_ANOTHER_USER, path], capture_output=True,
                             text=True, timeout=120)
        assert run.stdout == "saved\n", run.stdout + run.stderr
        assert pt.load(path)["w"].tolist() == [0.0, 0.0, 0.0]
    finally:
        shutil.rmtree(directory, ignore_errors=True)


_SAVE_IN_A_LOCKED_DIRECTORY = """
import os, sys
import plugtorch as pt
if os.geteuid() == 0:        # as 'nobody', who may write the file but not create files beside it
    os.setuid(65534)
pt.save({"w": pt.ones(3)}, sys.argv[1])
print("saved")
try:
    pt.save({"w": pt.ones(3)}, os.path.join(os.path.dirname(sys.argv[1]), "new.pt"))
except PermissionError as e:
    print(e)
"""


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="needs POSIX users")
def test_a_writable_file_in_a_read_only_directory_is_saved_in_place():
    # no temporary file can be created beside it: plugtorch.save raised PermissionError where
    # torch.save (open(path, "wb")) writes the file; it is now written in place, and a new file
    # there is refused naming the path and the directory
    import shutil
    import tempfile
    directory = tempfile.mkdtemp(prefix="pt-lockeddir-", dir="/tmp")
    try:
        path = os.path.join(directory, "ckpt.pt")
        pt.save({"w": pt.arange(3.0)}, path)
        os.chmod(path, 0o666)
        inode = os.stat(path).st_ino
        os.chmod(directory, 0o755 if os.geteuid() == 0 else 0o555)
        run = subprocess.run([sys.executable, "-c", _SAVE_IN_A_LOCKED_DIRECTORY, path], capture_output=True,
                             text=True, timeout=120)
        new = os.path.join(directory, "new.pt")
        assert run.stdout == (f"saved\n[Errno 13] plugtorch.save: cannot create {new}: Permission denied (no "
                              f"file can be created in {directory}); make the directory writable or save to "
                              "another path\n"), run.stdout + run.stderr
        assert pt.load(path)["w"].tolist() == [1.0, 1.0, 1.0] and os.listdir(directory) == ["ckpt.pt"]
        assert os.stat(path).st_ino == inode      # the same file: its owner and mode stay
    finally:
        os.chmod(directory, 0o755)
        shutil.rmtree(directory, ignore_errors=True)


def _deny_temporary_files(monkeypatch):
    def create_beside(directory, base):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(serialization, "_create_beside", create_beside)


def _record_fsyncs(monkeypatch):
    synced = []
    real = os.fsync

    def fsync(fd):
        synced.append(os.fstat(fd).st_ino)
        real(fd)
    monkeypatch.setattr(serialization.os, "fsync", fsync)
    return synced


def test_save_where_no_temporary_file_can_be_made_writes_in_place_and_syncs(tmp_path, monkeypatch):
    # the read-only directory as root sees it (root creates files anywhere): the temporary file is refused
    path = tmp_path / "ckpt.pt"
    pt.save({"w": pt.zeros(2)}, path)
    inode = path.stat().st_ino
    _deny_temporary_files(monkeypatch)
    synced = _record_fsyncs(monkeypatch)
    pt.save({"w": pt.arange(5.0)}, path)
    assert pt.load(path)["w"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert path.stat().st_ino == inode and synced == [inode]      # the same file, flushed to disk
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]
    with pytest.raises(PermissionError, match=f"cannot create {tmp_path / 'new.pt'}: Permission denied"):
        pt.save({"w": pt.zeros(2)}, tmp_path / "new.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]


def test_save_still_replaces_a_file_with_one_link_by_a_rename(tmp_path):
    # the atomic path stays the rule: a new inode appears under the name only when complete
    path = tmp_path / "ckpt.pt"
    pt.save({"w": pt.zeros(2)}, path)
    old = os.stat(path)
    keep = open(path, "rb")      # an open handle keeps the old inode alive and readable
    pt.save({"w": pt.ones(2)}, path)
    assert os.stat(path).st_ino != old.st_ino and pt.load(path)["w"].tolist() == [1.0, 1.0]
    assert pt.load(keep)["w"].tolist() == [0.0, 0.0]
    keep.close()


def test_save_over_a_hard_linked_file_updates_every_name(tmp_path, monkeypatch):
    # os.replace broke the link: "best.pt" kept the old checkpoint while "ckpt.pt" got the new one;
    # torch.save writes in place, so every name of the file sees the new checkpoint
    path, other = tmp_path / "ckpt.pt", tmp_path / "best.pt"
    pt.save({"w": pt.zeros(2)}, path)
    os.link(path, other)
    synced = _record_fsyncs(monkeypatch)
    pt.save({"w": pt.arange(3.0)}, path)
    assert pt.load(other)["w"].tolist() == [0.0, 1.0, 2.0] == pt.load(path)["w"].tolist()
    assert os.stat(path).st_ino == os.stat(other).st_ino and os.stat(path).st_nlink == 2
    assert synced == [os.stat(path).st_ino]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "ckpt.pt"]
    os.unlink(other)             # back to one link: atomic again
    inode = os.stat(path).st_ino
    pt.save({"w": pt.ones(1)}, path)
    assert os.stat(path).st_ino != inode and pt.load(path)["w"].tolist() == [1.0]


def test_save_through_a_symlink_replaces_the_target_and_keeps_the_link(tmp_path):
    # a link to a file in another directory, a link to a link, a dangling link, a link to a hard-linked file
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "ckpt.pt"
    pt.save({"w": pt.zeros(2)}, target)
    (tmp_path / "latest.pt").symlink_to(target)
    (tmp_path / "chain.pt").symlink_to("latest.pt")
    pt.save({"w": pt.ones(2)}, tmp_path / "chain.pt")
    assert (tmp_path / "chain.pt").is_symlink() and (tmp_path / "latest.pt").is_symlink()
    assert pt.load(target)["w"].tolist() == [1.0, 1.0]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["ckpt.pt"]
    (tmp_path / "next.pt").symlink_to(tmp_path / "runs" / "next.pt")     # dangling: creates the target
    pt.save({"w": pt.arange(2.0)}, tmp_path / "next.pt")
    assert (tmp_path / "next.pt").is_symlink() and pt.load(tmp_path / "runs" / "next.pt")["w"].tolist() == [0.0, 1.0]
    os.link(target, tmp_path / "runs" / "hard.pt")
    pt.save({"w": pt.full((2,), 7.0)}, tmp_path / "latest.pt")
    assert pt.load(tmp_path / "runs" / "hard.pt")["w"].tolist() == [7.0, 7.0]
    assert (tmp_path / "latest.pt").is_symlink()


_SAVE_OVER_ANOTHER_USERS_FILE = """
import os, sys
import plugtorch as pt
os.setuid(65534)
pt.save({"w": pt.ones(2)}, sys.argv[1])
"""


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="needs root to save as another user")
def test_a_user_saving_over_another_users_writable_file_keeps_its_owner():
    # 'nobody' saving over root's 0o666 file in a 0o777 directory: the rename made the file
    # nobody's (a non-root user cannot chown); torch.save writes in place, keeping owner and mode
    import shutil
    import tempfile
    directory = tempfile.mkdtemp(prefix="pt-owner-", dir="/tmp")
    try:
        os.chmod(directory, 0o777)
        path = os.path.join(directory, "shared.pt")
        pt.save({"w": pt.zeros(2)}, path)
        os.chmod(path, 0o666)
        run = subprocess.run([sys.executable, "-c", _SAVE_OVER_ANOTHER_USERS_FILE, path], capture_output=True,
                             text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        st = os.stat(path)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, 0, 0o666)
        assert pt.load(path)["w"].tolist() == [1.0, 1.0] and os.listdir(directory) == ["shared.pt"]
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_save_to_a_file_object_writes_in_place():
    buf = io.BytesIO()
    buf.write(b"prefix")
    pt.save({"a": pt.arange(3)}, buf)
    buf.seek(6)
    assert pt.load(buf)["a"].tolist() == [0, 1, 2]


# ---- tampered and truncated files: a RuntimeError naming the file, or a successful load -------
class Named(io.BytesIO):
    name = "ckpt-under-test.pt"


def loads_or_refuses(data):
    """Load ``data``; a refusal must be a RuntimeError naming the file, nothing else."""
    try:
        return pt.load(Named(data))
    except RuntimeError as e:
        assert str(e).startswith("plugtorch.load: cannot load ckpt-under-test.pt: "), str(e)[:300]
        assert type(e) is RuntimeError, type(e)
        return e


SMALL = saved_bytes({"w": pt.arange(6.0).view(2, 3), "n": 3, "t": (pt.tensor([1, 2]), 0.5),
                     "b": pt.tensor([True, False]), "d": pt.float16, "inf": float("inf")})


def test_every_truncation_of_a_file_is_refused():
    for cut in range(len(SMALL)):
        out = loads_or_refuses(SMALL[:cut])
        assert isinstance(out, RuntimeError), cut
        assert "truncated" in str(out) or "not valid JSON" in str(out), (cut, str(out))


def test_byte_changes_anywhere_in_the_header_load_or_are_refused():
    rng = np.random.default_rng(15)
    n = header_length(SMALL)
    refused = 0
    for pos in range(8 + n):
        for value in (SMALL[pos] ^ (1 << int(rng.integers(8))), int(rng.integers(256))):
            data = SMALL[:pos] + bytes([value]) + SMALL[pos + 1:]
            refused += isinstance(loads_or_refuses(data), RuntimeError)
    assert refused > n     # most changes break the JSON; the rest change a value and still load


def tampered(edit):
    header, body = split(SMALL)
    body = edit(header, body) or body
    return join(header, body)


def structure(text):
    def edit(header, body):
        header["__metadata__"]["structure"] = text
    return tampered(edit)


def entry(key, **fields):
    def edit(header, body):
        header[key].update(fields)
    return tampered(edit)


DEEP = 100_000
TAMPERED = {
    "header-deeply-nested": struct.pack("<Q", 2 * DEEP) + b"[" * DEEP + b"]" * DEEP,
    "header-nested-object": join({"a": json.loads("[" * 50 + "]" * 50)}, b""),
    "header-a-list": join([1, 2], b""),
    "header-bad-utf8": struct.pack("<Q", 4) + b'{"\xff"' + b"\0" * 8,
    "header-huge-int": struct.pack("<Q", 5008) + b'{"a":' + b"9" * 5000 + b"}" + b"  ",
    "metadata-a-list": tampered(lambda h, b: h.update(__metadata__=[1])),
    "metadata-not-strings": tampered(lambda h, b: h["__metadata__"].update(version=1)),
    "entry-a-number": tampered(lambda h, b: h.update({"0": 5})),
    "entry-missing-fields": tampered(lambda h, b: h.update({"0": {}})),
    "dtype-unknown": entry("0", dtype="F128"),
    "dtype-not-a-string": entry("0", dtype=["F32"]),
    "dtype-unsupported": entry("0", dtype="U16", shape=[12]),
    "shape-huge": entry("0", shape=[2 ** 40, 2 ** 40]),
    "shape-huge-with-a-zero": entry("0", shape=[0, 2 ** 62, 2 ** 62]),
    "shape-2**64": entry("0", shape=[2 ** 64]),
    "shape-negative": entry("0", shape=[-2, -3]),
    "shape-floats": entry("0", shape=[2.0, 3.0]),
    "shape-bools": entry("0", shape=[True, 6]),
    "shape-a-string": entry("0", shape="23"),
    "shape-too-many-dims": entry("0", shape=[1] * 65),
    "offsets-negative": entry("0", data_offsets=[-24, 0]),
    "offsets-reversed": entry("0", data_offsets=[48, 0]),
    "offsets-three": entry("0", data_offsets=[0, 24, 48]),
    "offsets-overlapping": entry("1", data_offsets=[16, 32]),
    "offsets-gap": entry("1", data_offsets=[26, 42]),
    "offsets-past-the-end": entry("2", shape=[1000], data_offsets=[40, 1040]),
    "offsets-strings": entry("0", data_offsets=["0", "48"]),
    "trailing-bytes": tampered(lambda h, b: b + b"\0" * 8),
    "structure-deeply-nested": structure("[" * DEEP + "]" * DEEP),
    "structure-nested-past-the-limit": structure("[" * 150 + "]" * 150),
    "structure-not-a-string": tampered(lambda h, b: h["__metadata__"].update(structure=5)),
    "tensor-a-number": structure('{"__tensor__": 5}'),
    "tensor-a-list": structure('{"__tensor__": ["0"]}'),
    "tensor-missing": structure('{"__tensor__": "77"}'),
    "tensor-device-a-number": structure('{"__tensor__": "0", "device": 7}'),
    "tensor-device-unknown": structure('{"__tensor__": "0", "device": "nope:3"}'),
    "tensor-flag-a-string": structure('{"__tensor__": "0", "requires_grad": "yes"}'),
    "tensor-extra-field": structure('{"__tensor__": "0", "__import__": "os"}'),
    "tensor-int-requiring-grad": structure('{"__tensor__": "1", "requires_grad": true}'),
    "dict-a-number": structure('{"__dict__": 3}'),
    "dict-items-not-pairs": structure('{"__dict__": [1, 2]}'),
    "dict-pair-of-three": structure('{"__dict__": [[1, 2, 3]]}'),
    "dict-key-a-dict": structure('{"__dict__": [[{"__dict__": []}, 1]]}'),
    "dict-key-nested-dict": structure('{"__dict__": [[[1, {"__dict__": []}], 1]]}'),
    "odict-a-string": structure('{"__odict__": "ab"}'),
    "tuple-a-number": structure('{"__tuple__": 5}'),
    "float-x": structure('{"__float__": "x"}'),
    "float-a-list": structure('{"__float__": [1]}'),
    "float-1e999": structure('{"__float__": "1e999"}'),
    "dtype-nope": structure('{"__dtype__": "nope"}'),
    "dtype-a-number": structure('{"__dtype__": 7}'),
    "device-a-number": structure('{"__device__": 7}'),
    "device-bad-index": structure('{"__device__": "cuda:x"}'),
    "two-keys": structure('{"__tuple__": [], "__dict__": []}'),
    "unknown-kind": structure('{"__reduce__": ["os.system", ["echo"]]}'),
}


@pytest.mark.parametrize("name", list(TAMPERED))
def test_tampered_file_is_refused_with_a_runtime_error_naming_the_file(name):
    out = loads_or_refuses(TAMPERED[name])
    assert isinstance(out, RuntimeError), f"{name} loaded as {out!r}"


def test_tampered_files_say_what_is_wrong():
    why = {name: str(loads_or_refuses(data)) for name, data in TAMPERED.items()}
    assert "its header is not valid JSON" in why["header-deeply-nested"]
    assert "unknown dtype 'F128'" in why["dtype-unknown"]
    assert "dtype U16, which plugtorch does not support" in why["dtype-unsupported"]
    assert "shape [1099511627776, 1099511627776] too large" in why["shape-huge"]
    assert "invalid shape [-2, -3]" in why["shape-negative"]
    assert "invalid data_offsets [48, 0]" in why["offsets-reversed"]
    assert "tensor '1' starts at byte 16 of the data, but the tensors before it end at 24" in why["offsets-overlapping"]
    assert "need 1040 bytes of data but only 42 follow the header (the file is truncated)" in why["offsets-past-the-end"]
    assert "8 bytes after the last tensor" in why["trailing-bytes"]
    assert "structure is not valid JSON" in why["structure-deeply-nested"]
    assert "nests more than 100 levels deep" in why["structure-nested-past-the-limit"]
    assert "invalid tensor entry {'__tensor__': 5}" in why["tensor-a-number"]
    assert "saved on 'nope:3' and cannot be restored" in why["tensor-device-unknown"]
    assert "tensor '1' cannot be restored as saved" in why["tensor-int-requiring-grad"]
    assert "__dict__ entry holding 3, not a list" in why["dict-a-number"]
    assert "a dict key of type dict" in why["dict-key-a-dict"]
    assert "invalid __float__ entry 'x'" in why["float-x"]
    assert "invalid __dtype__ entry 'nope'" in why["dtype-nope"]
    assert "invalid __device__ entry 7" in why["device-a-number"]
    assert "unknown entry '__reduce__'" in why["unknown-kind"]


# ---- memory: tensors are read straight into their final buffers -------------------------------
_PEAK = """
import resource, sys
import plugtorch as pt
def peak():
    try:    # this process's own high-water mark: ru_maxrss keeps the parent's across fork and exec
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
before = peak()
sd = pt.load(sys.argv[1], mmap=sys.argv[2] == "mmap")
grew = peak() - before
print(grew, float(sum(v.sum().item() for v in sd.values())))
"""


@pytest.mark.parametrize("mmap", ["read", "mmap"])
def test_loading_peaks_at_the_checkpoint_size(tmp_path, mmap):
    path = tmp_path / "big.pt"
    sd = {f"w{i}": pt.full((2048, 2048), float(i + 1)) for i in range(4)}     # 4 x 16 MiB
    pt.save(sd, path)
    size = path.stat().st_size
    run = subprocess.run([sys.executable, "-c", _PEAK, str(path), mmap], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    grew, total = run.stdout.split()
    assert float(total) == 2048 * 2048 * (1 + 2 + 3 + 4)
    if mmap == "read":     # before reading straight into the tensors' buffers: 3x
        assert int(grew) <= 1.5 * size, f"peak RSS grew {int(grew) / size:.2f}x the file size"
    else:                  # mmap=True reads nothing up front: pages come in as tensors are used
        assert int(grew) <= 0.1 * size, f"peak RSS grew {int(grew) / size:.2f}x the file size"


def _mapped_from(a) -> bool:
    while isinstance(a, np.ndarray):
        a = a.base
    return isinstance(a.obj if isinstance(a, memoryview) else a, mmap.mmap)


def _maps(path) -> bool:
    with open("/proc/self/maps") as f:
        return str(path) in f.read()


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs /proc/self/maps (Linux)")
def test_loaded_tensors_own_their_memory_unless_mmap(tmp_path):
    path = tmp_path / "ckpt.pt"
    pt.save({"w": pt.arange(6.0), "i": pt.tensor([1, 2])}, path)
    sd = pt.load(path)
    assert not _maps(path) and not _mapped_from(sd["w"].numpy()) and sd["w"].numpy().flags.writeable
    sd["w"].add_(1)
    assert pt.load(path)["w"].tolist() == [0, 1, 2, 3, 4, 5]
    mapped = pt.load(path, mmap=True)
    assert _maps(path) and _mapped_from(mapped["w"].numpy())
    mapped["w"].mul_(2)      # copy-on-write, as PyTorch's mmap=True: the file never changes
    assert mapped["w"].tolist() == [0, 2, 4, 6, 8, 10] and mapped["i"].tolist() == [1, 2]
    assert pt.load(path)["w"].tolist() == [0, 1, 2, 3, 4, 5]
    del mapped
    with pytest.raises(ValueError, match="f must be a file path in order to use the mmap argument"):
        pt.load(io.BytesIO(path.read_bytes()), mmap=True)


def test_map_location_to_a_device_copies_straight_from_the_file(tmp_path, altcpu, monkeypatch):
    path = tmp_path / "ckpt.pt"
    pt.save({"w": pt.arange(6.0).view(2, 3), "e": pt.zeros(0, 2), "h": pt.ones(3).bfloat16()}, path)
    backend = pt.backends.get_backend("altcpu")
    received = []

    def from_numpy(array, index=None):
        if array.size:     # (the dispatcher may probe a plug-in's array type with empty arrays)
            received.append((array.shape, _mapped_from(array)))
        return array       # keeps the host array: the loader must not leave it on the file's pages
    monkeypatch.setattr(backend, "from_numpy", from_numpy)
    sd = pt.load(path, map_location="altcpu")
    assert sorted(received) == [((2, 3), True), ((3,), True)]   # one transfer each, from the file
    assert all(t.device == altcpu for t in sd.values())
    assert not _mapped_from(sd["w"]._data) and sd["w"]._data.flags.writeable
    pt.save({"w": pt.zeros(2, 3), "e": pt.zeros(0, 2), "h": pt.zeros(3).bfloat16()}, path)
    assert sd["w"].tolist() == [[0, 1, 2], [3, 4, 5]] and sd["h"].tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("device", [d for d in pt.backends.available() if d in ("opencl", "cuda")])
def test_map_location_to_opencl_or_cuda_transfers_the_mapped_bytes(tmp_path, device, monkeypatch):
    path = tmp_path / "ckpt.pt"
    pt.save({"w": pt.arange(12.0).view(3, 4), "b": pt.tensor([1, -2])}, path)
    backend = pt.backends.get_backend(device)
    real, received = backend.from_numpy, []
    monkeypatch.setattr(backend, "from_numpy", lambda a, i=None: (a.size and received.append(_mapped_from(a)))
                        or real(a, i))
    sd = pt.load(path, map_location=device)
    assert received == [True, True]
    assert sd["w"].device.type == device and sd["w"].cpu().tolist() == np.arange(12.0).reshape(3, 4).tolist()
    assert sd["b"].cpu().tolist() == [1, -2]


def test_a_file_that_shrinks_before_its_tensor_is_mapped(tmp_path):
    from plugtorch import _safetensors
    path = tmp_path / "ckpt.pt"
    pt.save({"w": pt.ones(100_000)}, path)
    with open(path, "rb") as f:
        header = _safetensors.read_header(f, path.stat().st_size, "ckpt.pt")
        os.truncate(path, 1000)
        with pytest.raises(RuntimeError, match="cannot load ckpt.pt: its tensor '0' cannot be mapped .*truncated"):
            _safetensors.map_window(f.fileno(), header, header.entries["0"], "ckpt.pt")
        with pytest.raises(RuntimeError, match="cannot load ckpt.pt: it ended before all its tensor data was read"):
            _safetensors.read_array(f, header, header.entries["0"], np.dtype(np.float32), "ckpt.pt")


class Stream:
    """A pipe-like reader: read() only, no seek, tell or fileno."""

    def __init__(self, data):
        self._buf = io.BytesIO(data)

    def read(self, n=-1):
        return self._buf.read(n)


def test_streams_and_compressed_files_load(tmp_path, altcpu):
    data = saved_bytes({"w": pt.arange(5.0), "i": pt.tensor([7])})
    back = pt.load(Stream(data), map_location="altcpu")
    assert back["w"].device == altcpu and back["w"].tolist() == [0, 1, 2, 3, 4] and back["i"].tolist() == [7]
    with gzip.open(tmp_path / "ckpt.pt.gz", "wb") as f:   # its fileno() is the compressed file's
        pt.save({"w": pt.arange(5.0)}, f)
    with gzip.open(tmp_path / "ckpt.pt.gz", "rb") as f:
        assert pt.load(f, map_location="altcpu")["w"].tolist() == [0, 1, 2, 3, 4]


def test_save_refuses_a_backend_host_array_that_disagrees_with_the_tensor(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    pt.save(pt.ones(2), path)
    old = path.read_bytes()
    monkeypatch.setattr(serialization, "_host_array", lambda t: t.detach()._host().astype(np.float64))
    with pytest.raises(RuntimeError, match=r"the cpu backend gave a host array of float64 \(3,\) for a "
                                           r"plugtorch.float32 tensor of shape \(3,\); the checkpoint was not"):
        pt.save({"w": pt.zeros(3)}, path)
    assert path.read_bytes() == old and sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]


# ---- tensors sharing a storage: stored once, loaded as views of it ------------------------------
_DEVICES = [d for d in ("cpu", "opencl") if d in pt.backends.available()]


def header_of(data):
    header, body = split(data)
    return header, json.loads(header["__metadata__"]["structure"]), body


@pytest.mark.parametrize("device", _DEVICES)
def test_a_tensor_and_its_view_load_sharing_memory(device):
    a = pt.arange(6.0, device=device)
    data = saved_bytes({"a": a, "v": a[2:5]})
    header, structure, body = header_of(data)
    assert [k for k in header if k != "__metadata__"] == ["0"] and header["0"]["shape"] == [6]
    assert len(body) == 6 * 4                                      # the data once
    for kw in ({},) + tuple({"map_location": other} for other in _DEVICES if other != device):
        d = load_bytes(data, **kw)
        assert d["a"].device.type == kw.get("map_location", device) == d["v"].device.type
        d["a"][3] = 100
        assert d["v"].tolist() == [2.0, 100.0, 4.0]
        d["v"][0] = -1
        assert d["a"].tolist() == [0.0, 1.0, -1.0, 100.0, 4.0, 5.0]
    seen = []
    d = load_bytes(data, map_location=lambda t, loc: seen.append(loc) or t)
    assert seen == [str(a.device)]                                 # the span, once
    d["a"][4] = 7
    assert d["v"].tolist() == [2.0, 3.0, 7.0]


@pytest.mark.parametrize("device", _DEVICES)
def test_a_transposed_view_and_its_base(device):
    m = pt.arange(12.0, device=device).view(3, 4)
    back = round_trip([m.t(), m])
    assert back[0].stride() == (1, 4) and back[0].tolist() == m.t().tolist()
    back[1][0, 1] = -1
    assert back[0][1, 0].item() == -1


@pytest.mark.parametrize("device", _DEVICES)
def test_overlapping_slices_store_the_span_they_cover(device):
    a = pt.arange(100, device=device)
    data = saved_bytes([a[10:14], a[12:16:2], a[50:52]])
    header, structure, body = header_of(data)
    # the two overlapping slices: one span, a[10:15] (a[12:16:2] ends at 14); a[50:52], which
    # overlaps neither, alone
    assert sorted(header[k]["shape"] for k in header if k != "__metadata__") == [[2], [5]]
    assert len(body) == (5 + 2) * 8
    back = load_bytes(data)
    assert [t.tolist() for t in back] == [[10, 11, 12, 13], [12, 14], [50, 51]]
    back[0][2] = -5
    assert back[1].tolist() == [-5, 14] and back[2].tolist() == [50, 51]
    assert "view" not in structure[2]


def test_a_view_of_another_dtype_is_stored_separately():
    a = pt.arange(4.0)
    data = saved_bytes([a, a.view(pt.int32)])
    header, structure, _ = header_of(data)
    assert all("view" not in e for e in structure)
    back = load_bytes(data)
    assert back[1].tolist() == a.view(pt.int32).tolist() and back[1].dtype is pt.int32
    back[0][0] = 5
    assert back[1][0].item() == 0                                  # not shared, as the docstring says


@pytest.mark.parametrize("device", _DEVICES)
@pytest.mark.parametrize("dtype", [pt.complex64, pt.complex128])
def test_complex_views_share_their_span(dtype, device):
    from plugtorch.backends import get_backend
    if get_backend(device).unsupported_dtype(dtype, 0):
        pytest.skip(f"{dtype} is not supported on this {device} device")
    z = pt.arange(4.0, dtype=dtype.to_real(), device=device).to(dtype) * (1 + 2j)
    back = round_trip([z, z[1::2], z.view(2, 2).t()])
    assert back[0].dtype is dtype and back[1].tolist() == z[1::2].tolist() and back[2].tolist() == z.view(2, 2).t().tolist()
    back[0][1] = 5j
    assert back[1][0].item() == 5j and back[2][1, 0].item() == 5j


def test_a_single_slice_of_a_big_tensor_stores_only_the_slice():
    big = pt.arange(100_000.0)
    data = saved_bytes({"s": big[500:510]})
    header, structure, body = header_of(data)
    assert len(body) == 10 * 4 and len(data) < 1000               # PyTorch would write the 400 kB storage
    assert "view" not in structure["__dict__"][0][1]
    assert load_bytes(data)["s"].tolist() == list(range(500, 510))


def test_a_state_dict_keeps_the_plain_format():
    sd = pt.nn.Sequential(pt.nn.Linear(3, 2), pt.nn.Linear(2, 1)).state_dict()
    data = saved_bytes(sd)
    header, structure, _ = header_of(data)
    assert [k for k in header if k != "__metadata__"] == ["0", "1", "2", "3"]
    assert [e[1]["__tensor__"] for e in structure["__odict__"]] == ["0", "1", "2", "3"]
    assert all("view" not in e[1] for e in structure["__odict__"])
    plain = safetensors.numpy.load(data)
    assert [plain[str(i)].tolist() for i in range(4)] == [t.tolist() for t in sd.values()]
    back = load_bytes(data)
    assert list(back) == list(sd) and all(back[k].tolist() == sd[k].tolist() for k in sd)


def test_grad_and_parameter_flags_on_views():
    w = pt.nn.Parameter(pt.arange(4.0))
    back = round_trip([w, w.detach()[1:3]])
    assert isinstance(back[0], pt.nn.Parameter) and back[0].requires_grad and not back[1].requires_grad
    with pt.no_grad():
        back[0][1] = 9
    assert back[1].tolist() == [9.0, 2.0]


def _with_view(**named):
    a = pt.arange(6.0)
    return saved_bytes({**named, "a": a, "v": a[2:5]})


VIEWS = _with_view()


def view_entry(**fields):
    def edit(header, body):
        s = json.loads(header["__metadata__"]["structure"])
        s["__dict__"][1][1]["view"].update(fields)
        for k in [k for k, v in fields.items() if v is _DROP]:
            del s["__dict__"][1][1]["view"][k]
        header["__metadata__"]["structure"] = json.dumps(s)
    header, body = split(VIEWS)
    edit(header, body)
    return join(header, body)


def views_structure(text):
    header, body = split(VIEWS)
    header["__metadata__"]["structure"] = text
    return join(header, body)


_DROP = object()
_VIEWS_OF_A_2D_ENTRY = _with_view(m=pt.ones(2, 3))
TAMPERED_VIEWS = {
    "offset-negative": view_entry(offset=-1),
    "offset-a-float": view_entry(offset=2.0),
    "offset-a-bool": view_entry(offset=True),
    "offset-past-the-end": view_entry(offset=4),
    "offset-huge": view_entry(offset=2 ** 64),
    "shape-reaching-outside": view_entry(shape=[5]),
    "shape-negative": view_entry(shape=[-3]),
    "shape-a-string": view_entry(shape="3"),
    "stride-negative": view_entry(offset=4, stride=[-1]),
    "stride-reaching-outside": view_entry(stride=[2]),
    "stride-a-float": view_entry(stride=[1.0]),
    "stride-longer-than-shape": view_entry(stride=[1, 1]),
    "storage-missing": view_entry(storage="9"),
    "storage-a-number": view_entry(storage=0),
    "field-missing": view_entry(stride=_DROP),
    "field-extra": view_entry(base="x"),
    "view-a-list": views_structure('{"__tensor__": "v0", "view": [0, 0, [1], [1]]}'),
    "complex-odd-strides": views_structure('{"__tensor__": "v0", "complex": true, "view": {"storage": "0", '
                                           '"offset": 1, "shape": [2, 2], "stride": [3, 1]}}'),
}


@pytest.mark.parametrize("name", list(TAMPERED_VIEWS))
def test_tampered_view_entries_are_refused(name):
    out = loads_or_refuses(TAMPERED_VIEWS[name])
    assert isinstance(out, RuntimeError), f"{name} loaded as {out!r}"
    assert "(the file was modified)" in str(out) or "the file was modified" in str(out)


def test_tampered_view_entries_say_what_is_wrong():
    why = {name: str(loads_or_refuses(data)) for name, data in TAMPERED_VIEWS.items()}
    assert "tensor 'v1' has an invalid view entry" in why["offset-negative"]
    assert "its offset is not a non-negative integer" in why["offset-a-float"]
    assert "it reaches element 7 of its storage '0', which holds 6" in why["offset-past-the-end"]
    assert "it reaches element 7 of its storage '0', which holds 6" in why["shape-reaching-outside"]
    assert "it reaches element 7 of its storage '0', which holds 6" in why["stride-reaching-outside"]
    assert "lists of as many non-negative integers" in why["stride-negative"]
    assert "structure refers to tensor '9', which the file does not contain" in why["storage-missing"]
    assert "its storage is not a tensor name" in why["storage-a-number"]
    assert "expected the fields storage, offset, shape and stride" in why["field-extra"]
    assert "cannot be viewed as complex" in why["complex-odd-strides"]
    data = _VIEWS_OF_A_2D_ENTRY
    header, body = split(data)
    s = json.loads(header["__metadata__"]["structure"])
    s["__dict__"][2][1]["view"]["storage"] = s["__dict__"][0][1]["__tensor__"]    # the 2-d tensor
    header["__metadata__"]["structure"] = json.dumps(s)
    assert "has shape [2, 3], not one dimension" in str(loads_or_refuses(join(header, body)))


def test_numpy_arrays_round_trip_as_arrays(tmp_path):
    # the time_sequence_prediction example saves a bare float64 array with torch.save
    data = np.sin(np.arange(12, dtype=np.float64).reshape(3, 4) / 3.0)
    ints = np.arange(6, dtype=np.int32)[::2]       # a strided view
    p = tmp_path / "a.pt"
    pt.save({"data": data, "ints": ints, "t": pt.ones(2)}, p)
    out = pt.load(p)
    assert isinstance(out["data"], np.ndarray) and out["data"].dtype == np.float64
    np.testing.assert_array_equal(out["data"], data)
    assert isinstance(out["ints"], np.ndarray) and out["ints"].tolist() == [0, 2, 4]
    assert out["t"].tolist() == [1.0, 1.0]
    pt.save(data, p)
    np.testing.assert_array_equal(pt.load(p), data)


def test_an_object_array_is_refused(tmp_path):
    with pytest.raises(TypeError, match="plugtorch.save can store tensors, .*NumPy arrays.*got ndarray"):
        pt.save(np.array([object()]), tmp_path / "a.pt")


def test_safe_globals_are_recorded_and_a_state_dict_loads_inside_the_block(tmp_path):
    # word_language_model wraps its load in `with torch.serialization.safe_globals([...])`
    m = pt.nn.Linear(2, 3)
    p = tmp_path / "m.pt"
    pt.save(m.state_dict(), p)
    S = pt.serialization
    S.clear_safe_globals()
    S.add_safe_globals([pt.nn.Linear])
    with S.safe_globals([pt.nn.Dropout, (pt.nn.ReLU, "torch.nn.ReLU")]):
        assert S.get_safe_globals() == [pt.nn.Linear, pt.nn.Dropout, (pt.nn.ReLU, "torch.nn.ReLU")]
        m2 = pt.nn.Linear(2, 3)
        m2.load_state_dict(pt.load(p))
    assert S.get_safe_globals() == [pt.nn.Linear]
    S.clear_safe_globals()
    assert S.get_safe_globals() == []
    assert pt.equal(m2.weight, m.weight) and pt.equal(m2.bias, m.bias)


def test_add_safe_globals_checks_its_argument():
    with pytest.raises(TypeError, match="expected a list of globals, got type"):
        pt.serialization.add_safe_globals(pt.nn.Linear)
    with pytest.raises(ValueError, match="a tuple entry must be"):
        pt.serialization.add_safe_globals([(pt.nn.Linear,)])
    assert pt.serialization.get_safe_globals() == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_save_to_a_named_pipe_writes_into_it_and_keeps_it_a_pipe(tmp_path):
    # a device or a pipe is written to, as open(path, "wb") does: the atomic rename put a regular
    # file in its place (as root, pt.save(x, "/dev/null") replaced /dev/null by a file)
    import stat
    import threading
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()), daemon=True)
    reader.start()
    pt.save({"x": pt.arange(5)}, fifo)
    reader.join(10)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["pipe"]          # no temporary file left beside it
    loaded = pt.load(io.BytesIO(got[0]))
    assert loaded["x"].tolist() == [0, 1, 2, 3, 4]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="needs root to make a file another user owns")
def test_saving_over_a_file_keeps_its_owner_group_and_mode(tmp_path):
    # the atomic rename put a root-owned file in place of a user's checkpoint (open(path, "wb"),
    # as torch.save writes, keeps the owner): the replacement now takes the old file's owner,
    # group and permission bits
    path = tmp_path / "user.pt"
    pt.save({"w": pt.zeros(2)}, path)
    os.chown(path, 65534, 65534)
    os.chmod(path, 0o640)
    pt.save({"w": pt.ones(2)}, path)
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (65534, 65534, 0o640)
    assert pt.load(path)["w"].tolist() == [1.0, 1.0]
