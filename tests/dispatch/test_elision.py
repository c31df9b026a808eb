"""Temporary elision: ``x * y + z`` may reuse the memory of the temporary ``x * y``, but never
memory anything else can still see."""
import dis
import functools
import inspect
import itertools
import operator
import sys
import types

import numpy as np
import pytest

import plugtorch as pt
from plugtorch.dispatch import dispatcher as D

N = 1 << 17   # 512 KiB of float32: above the elision threshold


def operands():
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(N).astype(np.float32) for _ in range(3))
    return a, b, c, pt.from_numpy(a.copy()), pt.from_numpy(b.copy()), pt.from_numpy(c.copy())


def test_calibration_enables_elision_on_this_python():
    assert D._ELIDE and D._TEMP_REFS >= 2 and D._TEMP_DATA_REFS >= 2


def test_chained_expression_is_right_and_reuses_the_temporary():
    a, b, c, A, B, C = operands()

    out = A * B + C
    np.testing.assert_array_equal(out.numpy(), a * b + c)
    np.testing.assert_array_equal(A.numpy(), a)   # operands untouched
    np.testing.assert_array_equal(B.numpy(), b)
    np.testing.assert_array_equal(C.numpy(), c)
    r = (A * B) - C
    np.testing.assert_array_equal(r.numpy(), a * b - c)


def test_named_intermediate_is_never_overwritten():
    a, b, c, A, B, C = operands()
    x = A * B
    y = x + C
    np.testing.assert_array_equal(x.numpy(), a * b)
    np.testing.assert_array_equal(y.numpy(), a * b + c)


def test_array_shared_with_numpy_is_never_overwritten():
    a, b, c, A, B, C = operands()
    held = (A * B).numpy()
    y = pt.from_numpy(held) + C
    np.testing.assert_array_equal(held, a * b)
    np.testing.assert_array_equal(y.numpy(), a * b + c)


def test_views_and_saved_tensors_keep_their_values():
    a, b, c, A, B, C = operands()
    base = A * B
    v = base[::2]
    y = (A * B)[::2] + C[::2]      # a view of a temporary: its base stays intact
    np.testing.assert_array_equal(y.numpy(), (a * b)[::2] + c[::2])
    np.testing.assert_array_equal(v.numpy(), (a * b)[::2])
    w = A.clone().requires_grad_()
    loss = ((w * B) * C).sum()     # recorded ops save their inputs: no elision there
    loss.backward()
    np.testing.assert_allclose(w.grad.numpy(), b * c, rtol=1e-6)


def test_broadcast_and_promotion_fall_back_to_a_new_result():
    a, b, c, A, B, C = operands()
    row = pt.ones(4, N // 4)
    col = pt.arange(4.0).reshape(4, 1)
    out = (row * 2) + col          # result keeps the temporary's shape: may reuse it
    np.testing.assert_array_equal(out.numpy(), np.ones((4, N // 4)) * 2 + np.arange(4.0).reshape(4, 1))
    small = pt.arange(4.0).reshape(4, 1) * 1
    out2 = small + row             # the result is larger than the temporary: a new array
    assert tuple(out2.shape) == (4, N // 4)
    ints = pt.ones(N, dtype=pt.int32) * 2
    f = (pt.ones(N, dtype=pt.int32) * 2) / 4   # int / int is float: a new array
    assert f.dtype is pt.float32 and ints.dtype is pt.int32
    np.testing.assert_array_equal(f.numpy(), np.full(N, 0.5, np.float32))


def test_the_in_place_kernel_is_what_runs_for_a_temporary(monkeypatch):
    a, b, c, A, B, C = operands()
    kernels = pt.backends.get_backend("cpu").kernels
    calls = []
    real = kernels["add_"]
    monkeypatch.setitem(kernels, "add_", lambda x, y, d: (calls.append(x.shape), real(x, y, d)))
    D.invalidate_caches()
    try:
        out = A * B + C
        assert calls == [(N,)]
        np.testing.assert_array_equal(out.numpy(), a * b + c)
        x = A * B
        _ = x + C                   # named: the out-of-place kernel
        assert calls == [(N,)]
    finally:
        D.invalidate_caches()


def test_operator_called_as_a_function_keeps_its_named_operand():
    # Tensor.__add__(x, y) passes a named x with the reference count `x * y + z` passes its
    # temporary: only the operator instruction itself may reuse the memory
    a, b, c, A, B, C = operands()
    for f in (pt.Tensor.__add__, pt.Tensor.__mul__, pt.Tensor.__radd__):
        out = f(A, B)
        np.testing.assert_array_equal(A.numpy(), a)
        assert out._data is not A._data
    np.testing.assert_array_equal(pt.Tensor.__sub__(A, C).numpy(), a - c)
    np.testing.assert_array_equal(A.numpy(), a)


def test_a_temporary_passed_by_a_call_is_reused(monkeypatch):
    # 2.0 / A is mul(reciprocal(A), 2.0): the reciprocal is held by nothing but the call
    a, b, c, A, B, C = operands()
    kernels = pt.backends.get_backend("cpu").kernels
    calls = []
    real = kernels["mul_"]
    monkeypatch.setitem(kernels, "mul_", lambda x, y, d: (calls.append(x.shape), real(x, y, d)))
    D.invalidate_caches()
    try:
        out = 2.0 / A
        assert calls == [(N,)]
        np.testing.assert_allclose(out.numpy(), np.float32(1) / a * 2, rtol=1e-6)
        np.testing.assert_array_equal(A.numpy(), a)
        r = A.reciprocal()
        out2 = pt.Tensor.__mul__(r, 2.0)     # named: a new result
        assert calls == [(N,)] and out2._data is not r._data
        np.testing.assert_array_equal(r.numpy(), np.float32(1) / a)
    finally:
        D.invalidate_caches()


def test_tensor_over_another_holders_memory_is_never_overwritten():
    # from_numpy of a NumPy view (or of a buffer) makes a tensor whose array only it holds, but
    # whose memory belongs to the array (buffer) the caller still has: `+ 1` must not write there
    ones = np.ones((2, N), np.float32)
    y = pt.from_numpy(ones[0]) + 1
    np.testing.assert_array_equal(ones, np.ones((2, N), np.float32))
    np.testing.assert_array_equal(y.numpy(), np.full(N, 2, np.float32))
    col = np.ones((N, 2), np.float32)
    y = pt.from_numpy(col[:, 0]) * 3
    np.testing.assert_array_equal(col, np.ones((N, 2), np.float32))
    np.testing.assert_array_equal(y.numpy(), np.full(N, 3, np.float32))
    flat = np.ones(N, np.float32)
    y = pt.from_numpy(flat.reshape(N)) - 1
    np.testing.assert_array_equal(flat, np.ones(N, np.float32))
    np.testing.assert_array_equal(y.numpy(), np.zeros(N, np.float32))
    buf = bytearray(np.ones(N, np.float32).tobytes())
    y = pt.frombuffer(buf, dtype=pt.float32) + 1
    np.testing.assert_array_equal(np.frombuffer(buf, np.float32), np.ones(N, np.float32))
    np.testing.assert_array_equal(y.numpy(), np.full(N, 2, np.float32))


def test_view_numpy_made_of_a_fresh_result_is_still_reused():
    fresh = np.ones(N, np.float32).reshape(N)   # its base is held by this view alone
    assert D._sole_view(fresh)
    held = np.ones(N, np.float32)
    assert not D._sole_view(held.reshape(N))
    assert not D._sole_view(np.frombuffer(bytearray(8), np.float32))


def test_numpy_object_array_elements_keep_their_values():
    # NumPy's object loops hand each element to the operator with no reference of their own:
    # inside `o + 1` an element counts as a temporary does, so `o + 1` wrote 2.0 into o's tensors
    def objects():
        o = np.empty(3, object)
        for i in range(3):
            o[i] = pt.full((N,), 1.0)
        return o
    for fn, want in ((lambda o: o + 1, 2.0), (lambda o: 1 + o, 2.0), (lambda o: o * 3.0, 3.0),
                     (lambda o: o - 1, 0.0)):
        o = objects()
        r = fn(o)
        for t, s in zip(o, r):
            np.testing.assert_array_equal(t.numpy(), np.ones(N, np.float32))
            np.testing.assert_array_equal(s.numpy(), np.full(N, want, np.float32))


class _Returns:
    """An operand whose Python operator returns a stored object array (``w + 0`` is ``w.o``)."""

    def __init__(self, o):
        self.o = o

    def __add__(self, other):
        return self.o


# every way C code hands tensors an object array (or a list) holds to their operators: the
# result as NumPy computes it on the float32 values, and whether the caller gets a list
_CALLERS = {
    "o[:] + 1": (lambda o: o[:] + 1, lambda v: [x + 1 for x in v]),
    "o.reshape(3) - 1": (lambda o: o.reshape(3) - 1, lambda v: [x - 1 for x in v]),
    "o[::-1] * 3": (lambda o: o[::-1] * 3.0, lambda v: [x * 3 for x in v[::-1]]),
    "1 + o[:]": (lambda o: 1 + o[:], lambda v: [1 + x for x in v]),
    "(p := o[:]) + 1": (lambda o: (p := o[:]) + 1, lambda v: [x + 1 for x in v]),
    "(w + 0) + 1": (lambda o: (_Returns(o) + 0) + 1, lambda v: [x + 1 for x in v]),
    "np.add(o, 1)": (lambda o: np.add(o, 1), lambda v: [x + 1 for x in v]),
    "np.add(o[:], 1)": (lambda o: np.add(o[:], 1), lambda v: [x + 1 for x in v]),
    "o.sum()": (lambda o: [o.sum()], lambda v: [v[0] + v[1] + v[2]]),
    "o[:].sum()": (lambda o: [o[:].sum()], lambda v: [v[0] + v[1] + v[2]]),
    "np.cumsum(o)": (lambda o: np.cumsum(o), lambda v: [v[0], v[0] + v[1], v[0] + v[1] + v[2]]),
    "np.vectorize": (lambda o: np.vectorize(lambda t: t + 1, otypes=[object])(o[:]),
                     lambda v: [x + 1 for x in v]),
    "np.frompyfunc(operator.add)": (lambda o: np.frompyfunc(operator.add, 2, 1)(o[:], 1),
                                    lambda v: [x + 1 for x in v]),
    "reduce(operator.add, o)": (lambda o: [functools.reduce(operator.add, o)], lambda v: [v[0] + v[1] + v[2]]),
    "reduce(operator.add, list)": (lambda o: [functools.reduce(operator.add, list(o))],
                                   lambda v: [v[0] + v[1] + v[2]]),
    "map(operator.add)": (lambda o: list(map(operator.add, o[:], [1, 1, 1])), lambda v: [x + 1 for x in v]),
    "sum(list)": (lambda o: [sum(list(o))], lambda v: [0 + v[0] + v[1] + v[2]]),
    "sum(o[:])": (lambda o: [sum(o[:])], lambda v: [0 + v[0] + v[1] + v[2]]),
    "accumulate": (lambda o: list(itertools.accumulate(o[:])), lambda v: [v[0], v[0] + v[1], v[0] + v[1] + v[2]]),
}


@pytest.mark.parametrize("caller", list(_CALLERS))
def test_tensors_an_object_array_holds_keep_their_values_for_every_caller(caller):
    # NumPy's object loop calls each element's operator with a reference it borrows from the
    # array, while this frame runs the BINARY_OP of `o[:] + 1`: an element the array alone holds
    # has a temporary's reference count, and o[:] + 1, o.reshape(3) - 1, 1 + o[:] wrote their
    # results into o's tensors. Only an operand on the operator instruction's own stack is reused.
    fn, reference = _CALLERS[caller]
    values = [np.full(N, v, np.float32) for v in (1.0, 2.5, -4.0)]
    o = np.empty(3, object)
    for i, v in enumerate(values):
        o[i] = pt.from_numpy(v.copy())
    r = fn(o)
    for t, v in zip(o, values):
        np.testing.assert_array_equal(t.numpy(), v)
    want = reference(values)
    assert len(r) == len(want)
    for s, w in zip(r, want):
        np.testing.assert_array_equal(s.numpy(), w)


def _gen(x, y):
    yield x * y + 1
    try:
        raise ValueError
    except ValueError:
        yield 2 * (x * y) - 1


def test_operands_on_the_stack_are_read_in_every_kind_of_frame(monkeypatch):
    # the operator's operands are read at the depth the bytecode fixes: in a generator (its
    # sent value), an exception handler, a comprehension, a frame with cells and free variables
    a, b, c, A, B, C = operands()
    kernels = pt.backends.get_backend("cpu").kernels
    calls = []
    real = kernels["add_"]
    monkeypatch.setitem(kernels, "add_", lambda x, y, d: (calls.append(1), real(x, y, d)))
    real_sub = kernels["sub_"]
    monkeypatch.setitem(kernels, "sub_", lambda x, y, d: (calls.append(-1), real_sub(x, y, d)))
    D.invalidate_caches()
    try:
        r = list(_gen(A, B))
        assert calls == [1, -1]
        np.testing.assert_array_equal(r[0].numpy(), a * b + 1)
        np.testing.assert_array_equal(r[1].numpy(), 2 * (a * b) - 1)

        def cells(x):
            def inner():
                return x
            return [(x * B) + C for _ in range(2)], inner
        r, _ = cells(A)
        assert calls == [1, -1, 1, 1]
        for t in r:
            np.testing.assert_array_equal(t.numpy(), a * b + c)
        np.testing.assert_array_equal(A.numpy(), a)
        np.testing.assert_array_equal(B.numpy(), b)
        np.testing.assert_array_equal(C.numpy(), c)
    finally:
        D.invalidate_caches()


def test_stack_depths_match_the_compilers_stack_size():
    # the flow analysis framestack reads the operands by: its deepest point is co_stacksize
    from plugtorch.dispatch import framestack

    assert framestack.READABLE == ((3, 11) <= sys.version_info[:2] <= (3, 13))

    def codes(c):
        yield c
        for k in c.co_consts:
            if isinstance(k, types.CodeType):
                yield from codes(k)
    n = 0
    for mod in (D, framestack, functools, dis):
        for c in codes(compile(inspect.getsource(mod), mod.__file__, "exec")):
            depths = framestack.stack_depths(c)
            assert depths is not None and min(depths.values()) >= 0
            peak = max(max(d, d + dis.stack_effect(i.opcode, i.arg if i.opcode >= dis.HAVE_ARGUMENT else None))
                       for i in dis.get_instructions(c) if (d := depths.get(i.offset)) is not None)
            assert peak <= c.co_stacksize
            assert sys.version_info >= (3, 13) or peak == c.co_stacksize, c
            if hasattr(c, "_varname_from_oparg"):   # (3.11+: the name of each slot before the stack)
                k = framestack.nlocalsplus(c)
                for i in range(k):
                    c._varname_from_oparg(i)
                with pytest.raises(IndexError):
                    c._varname_from_oparg(k)
            n += 1
    assert n > 100
