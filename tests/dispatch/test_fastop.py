"""The operators' memo hits in C (plugtorch/dispatch/_fastop.c) against the Python operator
functions (PLUGTORCH_DISPATCH_NO_EXT=1): the same results, dtypes, devices, errors, autograd and
version counters, on cpu and opencl; a changed kernel is seen after invalidate_caches()."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.dispatch import dispatcher as D, registry

needs_ext = pytest.mark.skipif(D._c_operators is None, reason="plugtorch.dispatch._fastop is not built")

SCRIPT = r"""
import json, sys
import numpy as np
import plugtorch as pt
from plugtorch.dispatch import dispatcher as D, registry

devices = ["cpu"] + (["opencl"] if pt.opencl.is_available() else [])
out = {"ext": D._c_operators is not None, "add_type": type(pt.Tensor.__add__).__name__}


def show(r):
    if isinstance(r, pt.Tensor):
        return [str(r.dtype), str(r.device), list(r.shape), r.detach().cpu().numpy().tobytes().hex(),
                r.requires_grad, type(r.grad_fn).__name__ if r.grad_fn is not None else None]
    return repr(r)


def case(name, fn):
    for _ in range(3):   # the first call fills the memo, the later ones hit it
        try:
            r = show(fn())
        except Exception as e:
            r = [type(e).__name__, str(e)]
    out[name] = r


for dev in devices:
    rng = np.random.default_rng(0)
    f = pt.tensor(rng.standard_normal((2, 3)).astype(np.float32), device=dev)
    g = pt.tensor(rng.standard_normal((2, 3)).astype(np.float32), device=dev)
    row = pt.tensor(rng.standard_normal(3).astype(np.float32), device=dev)
    i = pt.tensor([[1, -2, 3], [4, 5, -6]], device=dev)
    h = f.to(pt.float16)
    z = pt.tensor(2.5, device=dev)
    e = pt.ones(0, 3, device=dev)
    case(f"{dev} f+g", lambda: f + g)
    case(f"{dev} f-g", lambda: f - g)
    case(f"{dev} f*g", lambda: f * g)
    case(f"{dev} f/g", lambda: f / g)
    case(f"{dev} f+row", lambda: f + row)
    case(f"{dev} row*f", lambda: row * f)
    case(f"{dev} f+i", lambda: f + i)
    case(f"{dev} i+i", lambda: i + i)
    case(f"{dev} i/i", lambda: i / i)
    case(f"{dev} i//2", lambda: i // 2)
    case(f"{dev} i%3", lambda: i % 3)
    case(f"{dev} i**2", lambda: i ** 2)
    case(f"{dev} i**-1", lambda: i ** -1)
    case(f"{dev} h+f", lambda: h + f)
    case(f"{dev} h*2.0", lambda: h * 2.0)
    case(f"{dev} f+z", lambda: f + z)
    case(f"{dev} f*2.0", lambda: f * 2.0)
    case(f"{dev} f*2", lambda: f * 2)
    case(f"{dev} i*2.5", lambda: i * 2.5)
    case(f"{dev} 1+f", lambda: 1 + f)
    case(f"{dev} f+True", lambda: f + True)
    case(f"{dev} f+1j", lambda: f + 1j)
    case(f"{dev} f+np.float64", lambda: f + np.float64(0.5))
    case(f"{dev} e+e", lambda: e + e)
    case(f"{dev} f+e", lambda: f + e)
    case(f"{dev} f+'a'", lambda: f + "a")
    case(f"{dev} f+None", lambda: f + None)
    case(f"{dev} f==g", lambda: f == g)
    case(f"{dev} f<0.0", lambda: f < 0.0)
    case(f"{dev} -f", lambda: -f)
    case(f"{dev} f.neg()", lambda: f.neg())
    case(f"{dev} f.exp()", lambda: f.exp())
    case(f"{dev} i.sqrt()", lambda: i.sqrt())
    case(f"{dev} h.sin()", lambda: h.sin())
    case(f"{dev} f.exp(1)", lambda: f.exp(1))
    case(f"{dev} f.t()+g.t()", lambda: f.t() + g.t())
    case(f"{dev} f[:,1]+row[1]", lambda: f[:, 1] + row[1])
    case(f"{dev} param+f", lambda: pt.nn.Parameter(f.clone()) + f)
    case(f"{dev} 3.3/h", lambda: 3.3 / h)
    w = f.clone().requires_grad_()
    case(f"{dev} grad w*g", lambda: w * g)
    case(f"{dev} grad g+w", lambda: g + w)
    case(f"{dev} grad -w", lambda: -w)
    ((w * g + w).exp() * 2.0).sum().backward()
    out[f"{dev} w.grad"] = show(w.grad)
    with pt.no_grad():
        case(f"{dev} no_grad w*g", lambda: w * g)
    v = f.clone()
    v0 = v._version
    case(f"{dev} v+g", lambda: v + g)
    out[f"{dev} version"] = [v0, v._version]
    if dev != "cpu":
        case("cpu+opencl", lambda: pt.ones(3) + f[0])
        case("opencl+cpu", lambda: f[0] + pt.ones(3))
        case("opencl+cpu scalar", lambda: f + pt.tensor(2.0))
    traced = pt.jit.trace(lambda a, b: (a + b) * 2.0 - a.neg(), (f, g))
    out[f"{dev} traced"] = show(traced(g, f))
json.dump(out, sys.stdout)
"""


def _run(no_ext):
    env = dict(os.environ)
    env.pop("PLUGTORCH_DISPATCH_NO_EXT", None)
    if no_ext:
        env["PLUGTORCH_DISPATCH_NO_EXT"] = "1"
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


@needs_ext
def test_c_and_python_operators_give_the_same_results_and_errors():
    c, py = _run(False), _run(True)
    assert c.pop("ext") and not py.pop("ext")
    assert c.pop("add_type") == "Operator" and py.pop("add_type") == "function"
    assert c.keys() == py.keys()
    for name in c:
        assert c[name] == py[name], name
    # spot checks against NumPy: the Python path is not merely agreeing with itself
    rng = np.random.default_rng(0)
    f = rng.standard_normal((2, 3)).astype(np.float32)
    g = rng.standard_normal((2, 3)).astype(np.float32)
    assert c["cpu f+g"][:3] == ["plugtorch.float32", "cpu", [2, 3]]
    assert bytes.fromhex(c["cpu f+g"][3]) == (f + g).tobytes()
    assert c["cpu f+'a'"][0] == "TypeError" and c["cpu f.exp(1)"][0] == "TypeError"
    assert c["cpu grad w*g"][4] is True and c["cpu grad w*g"][5] is not None and c["cpu no_grad w*g"][4] is False
    grad = np.frombuffer(bytes.fromhex(c["cpu w.grad"][3]), np.float32).reshape(2, 3)
    np.testing.assert_allclose(grad, np.exp(f * g + f) * 2 * (g + 1), rtol=1e-5)
    if "cpu+opencl" in c:
        assert c["cpu+opencl"][0] == "RuntimeError"


@needs_ext
def test_operator_reads_as_the_python_function():
    add, neg = pt.Tensor.__add__, pt.Tensor.neg
    assert type(add).__name__ == "Operator"
    assert add.__name__ == "add" and neg.__name__ == "neg" and neg.__doc__ == registry.get("neg").doc
    assert add.__wrapped__ is registry.get("add").operator[1]
    x = pt.ones(2)
    assert x.__add__(1.0).tolist() == [2.0, 2.0] and x.neg().tolist() == [-1.0, -1.0]
    assert pt.Tensor.__add__(x, x).tolist() == [2.0, 2.0]


@needs_ext
@pytest.mark.parametrize("dev", ["cpu", "opencl"])
def test_changed_kernel_is_seen_after_invalidate_caches(monkeypatch, dev):
    if dev == "opencl" and not pt.opencl.is_available():
        pytest.skip("no opencl device")
    x = pt.ones(3, device=dev)
    for _ in range(3):   # the C operator's slots now hold the memo's entries
        x + x, x * 2.0, x.neg()
    kernels = pt.backends.get_backend(dev).kernels
    calls = []
    for name in ("add", "mul", "neg"):
        real = kernels[name]
        monkeypatch.setitem(kernels, name, (lambda real, name: lambda *a: (calls.append(name), real(*a))[1])(real, name))
    D.invalidate_caches()
    try:
        assert (x + x).tolist() == [2.0] * 3 and (x * 2.0).tolist() == [2.0] * 3 and x.neg().tolist() == [-1.0] * 3
        assert calls == ["add", "mul", "neg"]
    finally:
        monkeypatch.undo()
        D.invalidate_caches()
    assert (x + x).tolist() == [2.0] * 3 and calls == ["add", "mul", "neg"]


FREED_ENTRY = r"""
import gc
import plugtorch as pt
from plugtorch.dispatch import dispatcher as D
kernels = pt.backends.get_backend("cpu").kernels
real = kernels["add"]


class Kernel:   # a plug-in's kernel object whose cleanup forgets the memos
    def __call__(self, *a):
        return real(*a)

    def __del__(self):
        D.invalidate_caches()


for n in range(1, 5):   # each signature's entry (and its own kernel) in one of the operator's slots
    kernels["add"] = Kernel()
    D.invalidate_caches()
    x = pt.ones(n)
    x + x, x + x
kernels["add"] = real
D.invalidate_caches()
gc.collect()
y = pt.ones(7)
print([(y + y).tolist() for _ in range(3)])
"""


@needs_ext
def test_an_entry_emptied_from_the_memo_by_a_released_kernel_is_not_used_freed():
    # The C operator found `y + y`'s entry in op.fast (a borrowed reference) and then released
    # an old slot's entry: its kernel's __del__ called invalidate_caches(), which freed the entry
    # the operator went on to call ("TypeError: 'tuple' object is not callable", or a segfault;
    # PYTHONMALLOC=debug makes the freed memory recognisable).
    r = subprocess.run([sys.executable, "-c", FREED_ENTRY], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONMALLOC": "debug"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == str([[2.0] * 7] * 3)


@needs_ext
def test_invalidate_caches_releases_the_old_kernels_held_by_an_operator():
    import gc
    import weakref
    kernels = pt.backends.get_backend("cpu").kernels
    real = kernels["add"]

    class Kernel:
        def __call__(self, *a):
            return real(*a)

    k = Kernel()
    gone = weakref.ref(k)
    x, y = pt.ones(3), pt.ones(4)
    kernels["add"] = k
    try:
        D.invalidate_caches()
        for _ in range(3):
            assert (x + x).tolist() == [2.0] * 3
    finally:
        kernels["add"] = real
        D.invalidate_caches()
    del k
    for _ in range(3):   # one new hit: the operator's slots of the old memo go
        assert (y + y).tolist() == [2.0] * 4
    gc.collect()
    assert gone() is None   # (it outlived the memo in a slot until 4 other signatures had come)


def test_autograd_records_through_the_tensor_operator_itself():
    # autograd records a pointwise op through dispatcher.binary/unary; they made a second operator
    # for the op, which replaced op.operator (and its memo) while Tensor.__mul__ kept the first:
    # after any recorded mul, Tensor.__mul__.__wrapped__ was no longer op.operator's function
    x = pt.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).exp().sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1.0, 2.0]) * np.exp([1.0, 4.0]), rtol=1e-6)
    for name, attr in (("mul", "__mul__"), ("exp", "exp")):
        op = registry.get(name)
        meth = getattr(pt.Tensor, attr)
        assert getattr(meth, "__wrapped__", meth) is op.operator[1]
        assert D._operators[op] is meth
