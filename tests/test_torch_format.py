"""plugtorch.load of PyTorch's torch.save files (zip format), read without unpickling.

The files under tests/data/torch_save were written once by PyTorch 2.13 from known values (the
script is in that folder's README); the tests compare what loads with those values, computed
here by hand or with NumPy. Crafted files check that nothing but weights is ever built.
"""
import collections
import io
import pickle
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

import plugtorch as pt

DATA = Path(__file__).parent / "data" / "torch_save"


def test_a_state_dict_loads_into_the_model():
    sd = pt.load(DATA / "state_dict.pt")
    assert isinstance(sd, collections.OrderedDict)
    assert list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                        "1.num_batches_tracked"]
    assert sd._metadata == {"": {"version": 1}, "0": {"version": 1}, "1": {"version": 2}}
    w = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    assert sd["0.weight"].dtype is pt.float32 and sd["0.weight"].tolist() == w.tolist()
    assert sd["1.num_batches_tracked"].dtype is pt.int64 and sd["1.num_batches_tracked"].shape == ()
    m = pt.nn.Sequential(pt.nn.Linear(3, 2), pt.nn.BatchNorm1d(2))
    m.load_state_dict(sd)
    m.eval()
    x = np.ones((1, 3), np.float32)
    want = ((x @ w.T + [-1.0, 0.5]) - 0.25) / np.sqrt(2.0 + 1e-5)   # BatchNorm weight 1, bias 0
    np.testing.assert_allclose(m(pt.tensor(x)).detach().numpy(), want, rtol=1e-6)
    assert m[1].num_batches_tracked.item() == 7


def test_every_dtype_round_trips():
    d = pt.load(DATA / "dtypes.pt")
    for name in ("float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64"):
        assert d[name].dtype is getattr(pt, name) and d[name].tolist() == [-9, -6, -3, 0, 3, 6], name
    assert d["uint8"].dtype is pt.uint8 and d["uint8"].tolist() == [0, 50, 100, 150, 200]
    assert d["bool"].tolist() == [True, False, True]
    for name in ("complex64", "complex128"):
        assert d[name].dtype is getattr(pt, name) and d[name].tolist() == [1 + 2j, -0.5j, 3 + 0j]
    assert d["scalar"].shape == () and d["scalar"].item() == 2.5 and d["scalar"].dtype is pt.float64
    assert d["empty"].shape == (0, 3)


def test_views_share_memory_and_python_values_come_back():
    o = pt.load(DATA / "objects.pt")
    base = np.arange(12, dtype=np.float32)
    assert o["rows"].tolist() == base.reshape(3, 4).tolist() and o["t"].tolist() == base.reshape(3, 4).T.tolist()
    assert o["tail"].tolist() == base[5:].tolist() and o["step"].tolist() == base[::3].tolist()
    o["base"][6] = -1.0     # one storage in the file: one memory after loading, as torch.load gives
    assert o["rows"][1, 2].item() == -1.0 and o["t"][2, 1].item() == -1.0 and o["tail"][1].item() == -1.0
    assert o["step"][2].item() == -1.0
    assert isinstance(o["param"], pt.nn.Parameter) and o["param"].requires_grad and o["param"].tolist() == [1, -2]
    assert isinstance(o["frozen"], pt.nn.Parameter) and not o["frozen"].requires_grad
    assert o["leaf"].requires_grad and o["leaf"].is_leaf
    assert o["list"] == [1, 2.5, "three", None, True] and o["tuple"] == (4, (5, 6)) and o["set"] == {7, 8}
    assert o["bytes"] == b"\x00\xff" and o["dtype"] is pt.float16 and o["device"] == pt.device("cpu")
    assert o["size"] == pt.Size([2, 3]) and o["big"] == 2 ** 70 and o["cplx"] == 1 - 2j
    assert list(o["od"].items()) == [("b", 1), ("a", 2)] and isinstance(o["od"], collections.OrderedDict)
    assert o["nested"]["deep"][0]["x"].tolist() == [9]


def test_an_adam_state_dict_resumes_training():
    ck = pt.load(DATA / "adam.pt")
    state = ck["optimizer"]["state"][0]
    # two steps from [1, 2] with gradients [0.5, -1] and [0.25, 0]
    assert state["step"].item() == 2.0
    np.testing.assert_allclose(state["exp_avg"].numpy(), [0.07, -0.09], rtol=1e-6)
    np.testing.assert_allclose(state["exp_avg_sq"].numpy(), [0.999 * 0.00025 + 0.001 * 0.0625, 0.000999],
                               rtol=1e-5)
    p = pt.nn.Parameter(ck["param"].clone())
    opt = pt.optim.Adam([p], lr=0.1)
    opt.load_state_dict(ck["optimizer"])
    g = np.array([0.1, 0.2], np.float32)
    p.grad = pt.tensor(g)
    opt.step()
    m = 0.9 * state["exp_avg"].numpy().astype(np.float64) + 0.1 * g
    v = 0.999 * state["exp_avg_sq"].numpy().astype(np.float64) + 0.001 * g * g
    want = ck["param"].numpy() - 0.1 * (m / (1 - 0.9 ** 3)) / (np.sqrt(v / (1 - 0.999 ** 3)) + 1e-8)
    np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-5)


def test_pickle_protocol_4_and_a_file_object():
    with open(DATA / "protocol4.pt", "rb") as f:
        d = pt.load(io.BytesIO(f.read()))
    assert d["x"].tolist() == [[2.0, 3.0, 4.0], [5.0, 6.0, 7.0]]


@pytest.mark.parametrize("device", [d for d in pt.backends.available() if d in ("opencl", "cuda")])
def test_map_location_moves_the_storages_and_keeps_them_shared(device):
    o = pt.load(DATA / "objects.pt", map_location=device)
    assert o["rows"].device.type == device and o["param"].device.type == device
    o["base"][1] = 50.0
    assert o["rows"][0, 1].item() == 50.0 and o["t"][1, 0].item() == 50.0


def test_map_location_function_and_dict():
    seen = []

    def to_cpu(t, saved):
        seen.append(saved)
        return t

    sd = pt.load(DATA / "state_dict.pt", map_location=to_cpu)
    assert seen == ["cpu"] * 7 and sd["0.bias"].tolist() == [-1.0, 0.5]
    assert pt.load(DATA / "state_dict.pt", map_location={"cpu": "cpu"})["0.bias"].tolist() == [-1.0, 0.5]


def test_a_map_location_function_returning_none_keeps_the_saved_device():
    sd = pt.load(DATA / "state_dict.pt", map_location=lambda t, saved: None)
    assert sd["0.bias"].tolist() == [-1.0, 0.5] and sd["0.bias"].device == pt.device("cpu")
    with pytest.raises(TypeError, match=r"map_location returned str for a tensor saved on 'cpu' in "
                                        r".*state_dict\.pt; a map_location function must return a tensor"):
        pt.load(DATA / "state_dict.pt", map_location=lambda t, saved: "cpu")


def test_a_pickled_module_is_refused_naming_its_class():
    with pytest.raises(pickle.UnpicklingError, match=r"module\.pt: it needs the Python object "
                                                     r"torch\.nn\.modules\.linear\.Linear.*state_dict"):
        pt.load(DATA / "module.pt")


def test_the_legacy_format_is_refused_with_the_fix():
    with pytest.raises(RuntimeError, match=r"legacy format of PyTorch before 1\.6.*never unpickles"):
        pt.load(DATA / "legacy.pt")


# ---- crafted files: what a weights-only load must refuse -------------------------------------------

class _Payload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


class _System:
    def __reduce__(self):
        import os
        return (os.system, ("exit 3",))


def _zip(pkl: bytes, records=None, byteorder="little") -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", byteorder)
        for k, v in (records or {}).items():
            z.writestr(f"archive/data/{k}", v)
    buf.seek(0)
    return buf


def test_a_code_payload_is_never_run(tmp_path):
    target = tmp_path / "created-by-unpickling"
    for proto in (2, 4):
        with pytest.raises(pickle.UnpicklingError, match=r"it needs the Python object io\.open"):
            pt.load(_zip(pickle.dumps({"x": _Payload(str(target))}, protocol=proto)))
        with pytest.raises(pickle.UnpicklingError, match=r"(posix|os)\.system"):
            pt.load(_zip(pickle.dumps([_System()], protocol=proto)))
    assert not target.exists()


class _FakeStorage:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


def _torch_pickle(obj, storage_kind="FloatStorage"):
    """A pickle as torch.save writes it, made without torch: stand-in modules named torch and
    torch._utils let the pickler name their functions."""
    torch_mod, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*a):
        raise AssertionError

    kind = type(storage_kind, (), {})
    kind.__module__ = "torch"
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    setattr(torch_mod, storage_kind, kind)
    torch_mod._utils = utils

    class P(pickle.Pickler):
        def persistent_id(self, o):
            return ("storage", kind, o.key, "cpu", o.numel) if isinstance(o, _FakeStorage) else None

    class T:
        def __init__(self, storage, offset, size, stride, metadata=None):
            self.args = (storage, offset, size, stride, False, collections.OrderedDict())
            self.args += (metadata,) if metadata is not None else ()

        def __reduce__(self):
            return (_rebuild_tensor_v2, self.args)

    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules.update({"torch": torch_mod, "torch._utils": utils})
    try:
        buf = io.BytesIO()
        P(buf, protocol=2).dump(obj(T))
        return buf.getvalue()
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def test_a_crafted_file_loads_like_torch_writes_it():
    pkl = _torch_pickle(lambda T: {"w": T(_FakeStorage("0", 6), 1, (2, 2), (2, 1))})
    d = pt.load(_zip(pkl, {"0": np.arange(6, dtype=np.float32).tobytes()}))
    assert d["w"].tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_tampered_files_are_refused_naming_the_problem():
    good = np.arange(6, dtype=np.float32).tobytes()
    past = _torch_pickle(lambda T: {"w": T(_FakeStorage("0", 6), 4, (2, 2), (2, 1))})
    with pytest.raises(RuntimeError, match=r"reaches past the 6 elements of storage '0'"):
        pt.load(_zip(past, {"0": good}))
    short = _torch_pickle(lambda T: {"w": T(_FakeStorage("0", 6), 0, (6,), (1,))})
    with pytest.raises(RuntimeError, match=r"storage '0' holds 20 bytes, but its pickle says 6 elements"):
        pt.load(_zip(short, {"0": good[:20]}))
    with pytest.raises(RuntimeError, match=r"refers to the record 'archive/data/0', which the archive does not hold"):
        pt.load(_zip(short))
    neg = _torch_pickle(lambda T: {"w": T(_FakeStorage("0", 6), 0, (-1,), (1,))})
    with pytest.raises(RuntimeError, match=r"not valid \(the file was modified\)"):
        pt.load(_zip(neg, {"0": good}))
    with pytest.raises(RuntimeError, match=r"ends without its STOP opcode|cannot be read"):
        pt.load(_zip(short[:-1], {"0": good}))
    with pytest.raises(RuntimeError, match=r"not a valid zip file"):
        pt.load(io.BytesIO(b"PK\x03\x04" + b"\0" * 100))
    with pytest.raises(RuntimeError, match=r"not a torch\.save file"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("readme.txt", "hi")
        pt.load(io.BytesIO(buf.getvalue()))


# ---- hostile pickles and archives: only RuntimeError or UnpicklingError, never a crash ----------

def _global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _ustr(s):
    s = s.encode()
    return b"X" + len(s).to_bytes(4, "little") + s


def _long(n):
    return b"L" + str(n).encode() + b"L\n"


def test_deeply_nested_tuples_are_refused_before_hashing_them():
    # hashing a tuple nested 300000 deep (a dict key, a set item) overflows the C stack: a segfault
    for tail in (b"}" + b")" + b"\x85" * 300000 + b"K\x01s.",                            # a dict key
                 _global("builtins", "frozenset") + b")" + b"\x85" * 300000 + b"\x85\x85R.",  # a frozenset item
                 b"(" * 300000 + b"t" * 300000 + b"."):                               # MARK ... TUPLE
        with pytest.raises(RuntimeError, match=r"nests tuples more than 1000 deep"):
            pt.load(_zip(b"\x80\x02" + tail))
    nested = b"\x80\x02" + b")" + b"\x85" * 999 + b"."     # 1000 deep (the empty tuple counts as 0) loads
    t = pt.load(_zip(nested))
    for _ in range(999):
        assert len(t) == 1
        t = t[0]
    assert t == ()


def test_allowed_callables_take_only_the_arguments_torch_gives_them():
    cases = {   # each would allocate a terabyte, accept junk or make a huge value
        _global("builtins", "bytearray") + _long(10 ** 12) + b"\x85R.": r"bytearray takes bytes.*not a size",
        _global("torch", "Size") + _long(10 ** 30) + b"\x85\x85R.": r"torch\.Size takes a list of integers",
        _global("torch", "Size") + _ustr("9" * 50) + b"\x85\x85R.": r"torch\.Size takes a list of integers",
        _global("builtins", "complex") + _ustr("1e999") + b"\x85R.": r"complex takes two numbers",
        _global("builtins", "slice") + b"]\x85R.": r"slice takes integers or None",
        _global("torch", "device") + _long(10 ** 30) + b"\x85R.": r"torch\.device takes a string",
        _global("_codecs", "encode") + _ustr("abc") + _ustr("rot13") + b"\x86R.": r"takes a string and a text enc",
    }
    for tail, msg in cases.items():
        with pytest.raises(RuntimeError, match=msg):
            pt.load(_zip(b"\x80\x02" + tail))
    ok = {_global("builtins", "bytearray") + b"C\x02ab\x85R.": bytearray(b"ab"),
          _global("builtins", "bytearray") + _ustr("\xff") + _ustr("latin-1") + b"\x86R.": bytearray(b"\xff"),
          _global("torch", "Size") + b"]K\x02aK\x03a\x85R.": (2, 3),
          _global("builtins", "slice") + b"K\x01NK\x02\x87R.": slice(1, None, 2),
          _global("builtins", "complex") + b"G?\xf0\x00\x00\x00\x00\x00\x00K\x02\x86R.": 1 + 2j}
    for tail, want in ok.items():
        assert pt.load(_zip(b"\x80\x02" + tail)) == want


def test_a_parameter_rebuilt_from_a_non_tensor_is_refused():
    # _rebuild_from_type_v2(OrderedDict, Parameter, (), {}): was AttributeError 'requires_grad'
    pkl = (b"\x80\x02" + _global("torch._tensor", "_rebuild_from_type_v2") + b"("
           + _global("collections", "OrderedDict") + _global("torch.nn.parameter", "Parameter") + b")}tR.")
    with pytest.raises(RuntimeError, match=r"rebuilds a tensor subclass from OrderedDict, not a tensor"):
        pt.load(_zip(pkl))


def test_stand_ins_never_come_back_as_values():
    for tail, msg in ((_global("builtins", "set") + b".", r"gives the function set as a value"),
                      (b"]" + _global("torch", "FloatStorage") + b"a.", r"gives the class torch\.FloatStorage"),
                      (b"}" + _ustr("k") + _global("torch", "Tensor") + b"s.", r"gives a tensor class")):
        with pytest.raises(RuntimeError, match=msg):
            pt.load(_zip(b"\x80\x02" + tail))
    # hidden in a state_dict's _metadata, or behind a cycle
    od = b"\x80\x02" + _global("collections", "OrderedDict") + b")R}" + _ustr("_metadata") + _global("builtins", "set")
    with pytest.raises(RuntimeError, match=r"gives the function set"):
        pt.load(_zip(od + b"sb."))
    with pytest.raises(RuntimeError, match=r"gives the function slice"):
        pt.load(_zip(b"\x80\x02]\x94h\x00a" + _global("builtins", "slice") + b"a."))
    cyc = pt.load(_zip(b"\x80\x02]\x94h\x00a."))    # a list holding itself still loads
    assert cyc[0] is cyc


def test_a_state_dicts_metadata_cannot_hide_ordereddict_methods():
    pkl = b"\x80\x02" + _global("collections", "OrderedDict") + b")R}" + _ustr("items") + b"K\x01sb."
    with pytest.raises(RuntimeError, match=r"sets the state of a OrderedDict"):
        pt.load(_zip(pkl))


def test_a_storage_named_twice_with_other_sizes_is_refused():
    pkl = _torch_pickle(lambda T: [T(_FakeStorage("0", 6), 0, (6,), (1,)), T(_FakeStorage("0", 3), 0, (3,), (1,))])
    with pytest.raises(RuntimeError, match=r"names storage '0' as 6 elements of \S*float32 and as 3 elements of "
                                           r"\S*float32"):
        pt.load(_zip(pkl, {"0": np.arange(6, dtype=np.float32).tobytes()}))


def test_a_record_is_not_decompressed_before_its_size_matches(monkeypatch):
    # 64 MiB of zeros compress to 64 KiB: the pickle says 6 floats, so the record must not be read
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", _torch_pickle(lambda T: T(_FakeStorage("0", 6), 0, (6,), (1,))))
        z.writestr("archive/data/0", b"\0" * (64 << 20))
    opened = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *a, **k):
        opened.append(name if isinstance(name, str) else name.filename)
        return real_open(self, name, *a, **k)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    with pytest.raises(RuntimeError, match=r"storage '0' holds 67108864 bytes, but its pickle says 6 elements"):
        pt.load(io.BytesIO(buf.getvalue()))
    assert "archive/data/0" not in opened and "archive/data.pkl" in opened


def test_damaged_compressed_records_raise_runtime_error():
    pkl = _torch_pickle(lambda T: T(_FakeStorage("0", 6), 0, (6,), (1,)))
    payload = np.arange(6, dtype=np.float32).tobytes()
    for method in (zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", method) as z:
            z.writestr("archive/data.pkl", pkl)
            z.writestr("archive/data/0", payload)
        good = buf.getvalue()
        assert pt.load(io.BytesIO(good)).tolist() == list(range(6))
        with zipfile.ZipFile(io.BytesIO(good)) as z:
            info = z.getinfo("archive/data/0")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
        bad = bytearray(good)
        for i in range(start, start + info.compress_size):    # garble the compressed stream (was zlib.error,
            bad[i] ^= 0x5A                                     # LZMAError or OSError)
        with pytest.raises(RuntimeError, match=r"record 'archive/data/0' cannot be read"):
            pt.load(io.BytesIO(bytes(bad)))
        unknown = bytearray(good)     # compression method 99 in the local and central headers
        unknown[info.header_offset + 8:info.header_offset + 10] = (99).to_bytes(2, "little")
        cd = good.index(b"PK\x01\x02", good.index(b"PK\x01\x02") + 4)     # the second central entry: data/0
        unknown[cd + 10:cd + 12] = (99).to_bytes(2, "little")
        with pytest.raises(RuntimeError, match=r"record 'archive/data/0' cannot be read.*compression method"):
            pt.load(io.BytesIO(bytes(unknown)))


# ---- what torch.load(weights_only=True) loads beyond plain tensors -----------------------------------

def test_rebuild_tensor_v3_views_an_untyped_storage_as_its_dtype():
    # torch saves dtypes without a typed storage class (float8, uint16, ...) as
    # _rebuild_tensor_v3(UntypedStorage bytes, offset, size, stride, requires_grad, hooks, dtype);
    # two tensors of other dtypes on one storage share its bytes
    def v3(dtype, n, memo):
        storage = (b"(" + _ustr("storage") + _global("torch.storage", "UntypedStorage") + _ustr("0") + _ustr("cpu")
                   + b"K\x08tQ") if memo is None else b"h" + bytes([memo])
        return (_global("torch._utils", "_rebuild_tensor_v3") + b"(" + storage + (b"\x94" if memo is None else b"")
                + b"K\x00K" + bytes([n]) + b"\x85K\x01\x85\x89" + _global("collections", "OrderedDict") + b")R"
                + _global("torch", dtype) + b"tR")
    pkl = b"\x80\x02(" + v3("int32", 2, None).replace(b"\x94", b"q\x00", 1) + v3("int16", 4, 0) + b"l."
    out = pt.load(_zip(pkl, {"0": np.array([7, -3], "<i4").tobytes()}))
    assert out[0].dtype is pt.int32 and out[0].tolist() == [7, -3]
    assert out[1].dtype is pt.int16 and out[1].tolist() == [7, 0, -3, -1]   # the same 8 bytes, little-endian
    out[1][0] = 9
    assert out[0][0].item() == 9
    with pytest.raises(RuntimeError, match=r"holds 7 bytes, not a whole number of \S*int32 elements"):
        pt.load(_zip(pkl.replace(b"K\x08tQ", b"K\x07tQ"), {"0": b"\0" * 7}))


def test_what_plugtorch_has_no_object_for_is_refused_naming_it():
    cases = {("torch._utils", "_rebuild_sparse_tensor"): r"it holds a sparse tensor.*t\.to_dense\(\)",
             ("torch._utils", "_rebuild_sparse_csr_tensor"): r"it holds a sparse tensor",
             ("torch._utils", "_rebuild_qtensor"): r"it holds a quantized tensor.*t\.dequantize\(\)",
             ("torch", "QInt8Storage"): r"quantized tensor \(torch\.QInt8Storage\)",
             ("torch._utils", "_rebuild_meta_tensor_no_storage"): r"'meta' device.*no values.*does not make values up",
             ("torch._utils", "_rebuild_nested_tensor"): r"a nested tensor.*t\.unbind\(\)",
             ("torch", "uint16"): r"dtype torch\.uint16, which plugtorch does not have",
             ("torch", "complex32"): r"dtype torch\.complex32, which plugtorch does not have"}
    for (module, qual), msg in cases.items():
        with pytest.raises(RuntimeError, match=msg):
            pt.load(_zip(b"\x80\x02" + _global(module, qual) + b"."))
    bare = _torch_pickle(lambda T: [_FakeStorage("0", 6)])    # torch.save(t.untyped_storage())
    with pytest.raises(RuntimeError, match=r"it holds a bare storage \('0'.*save the tensor instead"):
        pt.load(_zip(bare, {"0": np.zeros(6, np.float32).tobytes()}))


def test_a_counter_loads_as_multisteplr_saves_its_milestones():
    pkl = b"\x80\x02" + _global("collections", "Counter") + b"}(K\x02K\x01K\x04K\x01u\x85R."
    c = pt.load(_zip(pkl))
    assert type(c) is collections.Counter and c == {2: 1, 4: 1}
    with pytest.raises(RuntimeError, match=r"Counter takes one dict"):
        pt.load(_zip(b"\x80\x02" + _global("collections", "Counter") + _ustr("abc") + b"\x85R."))


def test_a_huge_byteorder_record_is_refused_unread():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:     # 32 MiB of zeros in 32 KiB
        z.writestr("archive/data.pkl", b"\x80\x02K\x05.")
        z.writestr("archive/byteorder", b"\0" * (32 << 20))
    with pytest.raises(RuntimeError, match=r"its byteorder record says '<33554432 bytes>', not 'little' or 'big'"):
        pt.load(io.BytesIO(buf.getvalue()))
    with pytest.raises(RuntimeError, match=r"its byteorder record says 'middle'"):
        pt.load(_zip(b"\x80\x02K\x05.", byteorder="middle"))
    assert pt.load(_zip(b"\x80\x02K\x05.", byteorder="big")) == 5


def test_conj_and_neg_bits_give_the_values_torch_gives():
    # torch.save(x.conj()) stores x's elements with metadata {'conj': True}; the values were
    # loaded unconjugated ([1+2j, 3-1j] instead of [1-2j, 3+1j]), a negative view unnegated
    x = np.array([1 + 2j, 3 - 1j], np.complex64)
    for meta, want in (({"conj": True}, np.conj(x)), ({"neg": True}, -x), ({"conj": True, "neg": True}, -np.conj(x)),
                       ({"conj": False}, x), ({}, x)):
        pkl = _torch_pickle(lambda T: T(_FakeStorage("0", 2), 0, (2,), (1,), meta), "ComplexFloatStorage")
        got = pt.load(_zip(pkl, {"0": x.tobytes()}))
        assert got.dtype is pt.complex64 and got.tolist() == want.tolist(), meta
    pkl = _torch_pickle(lambda T: T(_FakeStorage("0", 2), 0, (2,), (1,), {"neg": True}))
    assert pt.load(_zip(pkl, {"0": np.array([1.5, -2], np.float32).tobytes()})).tolist() == [-1.5, 2.0]
    pkl = _torch_pickle(lambda T: T(_FakeStorage("0", 2), 0, (2,), (1,), {"zero": True}))
    with pytest.raises(RuntimeError, match=r"metadata \{'zero': True\}; plugtorch\.load knows only the conj and neg"):
        pt.load(_zip(pkl, {"0": np.zeros(2, np.float32).tobytes()}))


def test_a_hash_flooding_file_is_refused_before_it_takes_minutes():
    # k * (2**61 - 1) all hash to 0 (ints hash modulo 2**61 - 1, the same in every process): each
    # insertion probed all the earlier keys, so 20000 such keys (300 kB) took 4 s and 3 MB minutes
    m = (1 << 61) - 1
    keys = [pickle.dumps(k * m, protocol=2)[2:-1] for k in range(1, 66)]
    assert len({hash(k * m) for k in range(1, 66)}) == 1
    flood = {"dict": lambda ks: b"}(" + b"".join(k + b"N" for k in ks) + b"u.",          # SETITEMS
             "set": lambda ks: b"\x8f(" + b"".join(ks) + b"\x90.",                        # ADDITEMS
             "frozenset": lambda ks: b"(" + b"".join(ks) + b"\x91.",                       # FROZENSET
             "set()": lambda ks: _global("builtins", "set") + b"(" + b"".join(ks) + b"l\x85R.",
             "OrderedDict()": lambda ks: (_global("collections", "OrderedDict") + b"("
                                          + b"".join(k + b"N\x86" for k in ks) + b"l\x85R.")}
    for what, make in flood.items():
        with pytest.raises(RuntimeError, match=r"more than 64 keys with the same hash \(149879795598890106815 "
                                               r"\.\.\.\), a hash-flooding file"):
            pt.load(_zip(b"\x80\x02" + make(keys)))
        got = pt.load(_zip(b"\x80\x02" + make(keys[:64])))     # 64 keys of one hash load
        assert len(got) == 64 and m in got and 64 * m in got, what
