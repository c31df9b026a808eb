"""The cuda backend where it can't run (CI, this machine): every query answers, every use says why.

The probe is also checked against a CuPy that imports but finds no driver, and one whose
import breaks, by putting a stand-in module or a failing importer in front of ``import cupy``.
"""
import importlib.abc
import subprocess
import sys
import types

import pytest

import plugtorch as pt
from plugtorch.backends.cuda import CUDABackend
from plugtorch.backends.cuda.backend import probe_cupy

no_cuda = pytest.mark.skipif(pt.cuda.is_available(), reason="a CUDA device is available here")


def _without_cupy(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)   # makes `import cupy` fail as if absent


def test_import_plugtorch_does_not_import_cupy():
    code = ("import sys, plugtorch; plugtorch.cuda; x = plugtorch.ones(2) + 1; "
            "assert 'cupy' not in sys.modules, 'cupy imported'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_probe_without_cupy_names_the_extras(monkeypatch):
    _without_cupy(monkeypatch)
    cp, n, reason = probe_cupy()
    assert (cp, n) == (None, 0)
    assert reason.startswith("CuPy is not installed")
    assert "pip install plugtorch[cuda12]" in reason and "plugtorch[cuda13]" in reason


def test_probe_with_cupy_but_no_driver(monkeypatch):
    class CUDARuntimeError(RuntimeError):
        pass

    def no_device():
        raise CUDARuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_device))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    cp, n, reason = probe_cupy()
    assert cp is fake and n == 0
    assert reason == ("no CUDA device or driver found: CUDARuntimeError: cudaErrorNoDevice: "
                      "no CUDA-capable device is detected")
    be = CUDABackend()
    assert not be.is_available() and be.device_count() == 0
    with pytest.raises(RuntimeError, match="^cuda is not available: no CUDA device or driver found"):
        be.cupy()


def test_probe_with_zero_devices(monkeypatch):
    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 0))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    assert probe_cupy()[1:] == (0, "no CUDA device or driver found: the CUDA runtime reports 0 devices")


def test_probe_with_broken_cupy(monkeypatch):
    class Broken(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "cupy":
                raise ImportError("libcudart.so.13: cannot open shared object file")
            return None

    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Broken(), *sys.meta_path])
    cp, n, reason = probe_cupy()
    assert (cp, n) == (None, 0)
    assert reason.startswith("CuPy failed to import: ImportError: libcudart.so.13: cannot open")
    assert "plugtorch[cuda12]" in reason


@no_cuda
def test_is_available_false_with_reason():
    assert pt.cuda.is_available() is False
    assert pt.cuda.device_count() == 0
    reason = pt.cuda.unavailable_reason()
    assert reason.startswith(("CuPy is not installed", "CuPy failed to import", "no CUDA device or driver found"))


@no_cuda
@pytest.mark.parametrize("make", [
    lambda: pt.zeros(2, device="cuda"),
    lambda: pt.tensor([1.0, 2.0], device="cuda:0"),
    lambda: pt.ones(3).to("cuda"),
    lambda: pt.ones(3).cuda() if hasattr(pt.Tensor, "cuda") else pt.ones(3).to("cuda"),
    lambda: pt.randn(2, device=pt.device("cuda", 1)),
])
def test_device_cuda_raises_with_reason(make):
    with pytest.raises(RuntimeError) as e:
        make()
    msg = str(e.value)
    assert "'cuda:" in msg and "is not available" in msg
    assert pt.cuda.unavailable_reason() in msg


@no_cuda
@pytest.mark.parametrize("call", [
    pt.cuda.current_device, pt.cuda.get_device_name, pt.cuda.synchronize, pt.cuda.initial_seed,
    lambda: pt.cuda.set_device(0), pt.cuda.Stream, pt.cuda.Event, pt.cuda.current_stream,
])
def test_calls_needing_a_device_raise_with_reason(call):
    with pytest.raises(RuntimeError, match="^cuda is not available: ") as e:
        call()
    assert pt.cuda.unavailable_reason() in str(e.value)


@no_cuda
def test_queries_answer_without_a_device():
    # as in PyTorch, memory queries, empty_cache and seeding do nothing before CUDA is usable
    assert pt.cuda.memory_allocated() == 0
    assert pt.cuda.max_memory_allocated() == 0
    assert pt.cuda.memory_reserved() == 0
    assert pt.cuda.empty_cache() is None
    assert pt.cuda.reset_peak_memory_stats() is None
    assert pt.cuda.manual_seed(1) is None
    assert pt.cuda.manual_seed_all(1) is None
    assert pt.cuda.seed() is None


@no_cuda
def test_backend_list_reports_cuda_unavailable():
    entry = next(e for e in pt.backends.list() if e["name"] == "cuda")
    assert entry["devices"] == []
    assert entry["status"] == f"unavailable: {pt.cuda.unavailable_reason()}"
    assert "cuda" not in pt.backends.available()


@no_cuda
def test_cpu_work_is_unaffected_by_a_failed_cuda_attempt():
    with pytest.raises(RuntimeError):
        pt.ones(2, device="cuda")
    assert (pt.ones(2) * 3).tolist() == [3.0, 3.0]


def test_bfloat16_is_declared_unsupported():
    be = CUDABackend()
    reason = be.unsupported_dtype(pt.bfloat16, 0)
    assert "bfloat16" in reason and "float16 or float32" in reason
    assert be.unsupported_dtype(pt.float16, 0) is None
    assert be.unsupported_dtype(pt.float64, 0) is None
