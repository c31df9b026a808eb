"""The opencl backend's fusion capability: a fused group returns what its steps' kernels return,
called one by one, bit for bit (dtypes, broadcasting, views, scalars, where, casts, 0-d, empty)."""
import numpy as np
import pytest

import plugtorch as pt
from plugtorch.backends import get_backend
from plugtorch.backends.fusion import IN, STEP, Input, PointwiseGroup, Ref, Step, deferred_builds
from plugtorch.backends.opencl.runtime import STATS
from plugtorch.dispatch.registry import get

from .conftest import DEV

BE = get_backend("opencl")
NAN, INF = float("nan"), float("inf")


class In:
    def __init__(self, k):
        self.k = k


class St:
    def __init__(self, j):
        self.j = j


def build(inputs, calls, outputs=None):
    """A PointwiseGroup for ``calls`` [(op, *args)] on opencl tensors ``inputs`` (In(k) and St(j)
    stand for inputs and earlier steps), with the kargs each op's meta gives, and the unfused
    results: each step's kernel called on the real arrays, one by one."""
    kernels = BE.kernels
    values, steps = [], []
    natives = {id(t._data): Ref(IN, k) for k, t in enumerate(inputs)}
    for op, *args in calls:
        real = [inputs[a.k] if isinstance(a, In) else values[a.j] if isinstance(a, St) else a for a in args]
        dev, kargs, out = get(op).meta(*real)
        refs = []
        for ka in kargs:
            if hasattr(ka, "strides") and not isinstance(ka, pt.dtype):
                assert id(ka) in natives, f"{op}: a native argument that is no input or step"
                refs.append(natives[id(ka)])
            else:
                refs.append(ka)
        res = kernels[op](*kargs)
        natives[id(res)] = Ref(STEP, len(steps))
        values.append(pt.Tensor._wrap(res, out, dev))
        steps.append(Step(op, tuple(refs), tuple(res.shape), out))
    outputs = tuple(outputs if outputs is not None else (len(steps) - 1,))
    shape = tuple(values[outputs[0]]._data.shape)
    group = PointwiseGroup(tuple(Input(tuple(t.shape), t.dtype) for t in inputs), tuple(steps),
                           outputs, shape)
    return group, [values[j]._data for j in outputs]


def run_fused(inputs, calls, outputs=None):
    """Fuse, run, and check every output bit for bit against the unfused kernels."""
    group, want = build(inputs, calls, outputs)
    fn = BE.fuse_pointwise(group)
    assert fn is not None, "the group was declined"
    got = fn(*[t._data for t in inputs])
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.contiguous and g.offset == 0
        assert g.shape == w.shape and g.dtype == w.dtype
        gn, wn = BE.to_numpy(g), BE.to_numpy(w)
        assert gn.tobytes() == wn.tobytes(), f"fused {gn!r}\nunfused {wn!r}"
    return got


def data(shape, dtype, seed=0, edges=True):
    """Random values of ``dtype`` on opencl, with inf/nan/-0.0 (floats) or extremes (ints)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dtype is pt.bool:
        a = rng.random(n) > 0.5
    elif dtype.is_floating_point:
        a = rng.standard_normal(n) * 3
        if edges and n >= 8:
            a[:6] = [NAN, INF, -INF, -0.0, 0.0, 1e30]
            rng.shuffle(a)
    else:
        info = np.iinfo(dtype.numpy)
        a = rng.integers(-20 if info.min < 0 else 0, 20, n)
        if edges and n >= 4:
            a[:3] = [info.max, info.min, info.max - 1]
            rng.shuffle(a)
    return pt.tensor(a.reshape(shape), dtype=dtype, device=DEV)


def test_docstring_example_a_times_b_plus_c():
    a, b, c = data((1000,), pt.float32, 0), data((1000,), pt.float32, 1), data((), pt.float32, 2)
    (out,) = run_fused([a, b, c], [("mul", In(0), In(1)), ("add", St(0), In(2))])
    np.testing.assert_array_equal(BE.to_numpy(out), (a * b + c).cpu().numpy())


@pytest.mark.parametrize("dtype", [pt.float32, pt.float64, pt.bfloat16, pt.float16])
def test_float_chain(dtype):
    x, y, z = (data((7, 13), dtype, s) for s in range(3))
    run_fused([x, y, z], [
        ("mul", In(0), In(1)), ("add", St(0), In(2)), ("sub", St(1), In(0)), ("div", St(2), In(1)),
        ("neg", St(3)), ("abs", St(4)), ("sigmoid", St(3)), ("tanh", St(6)), ("exp", St(7)),
        ("maximum", St(8), In(2)), ("minimum", St(9), In(0)), ("floor_divide", St(10), In(1)),
        ("remainder", St(11), In(2)), ("sqrt", St(12)), ("rsqrt", St(5)), ("log1p", St(14)),
        ("atan2", St(15), In(1)), ("pow", St(16), In(2)), ("round", St(17)), ("fmod", In(0), In(1)),
        ("add", St(18), St(19)),
    ], outputs=(20, 3, 12))


@pytest.mark.parametrize("dtype", [pt.float32, pt.bfloat16, pt.float16, pt.float64])
def test_python_scalars(dtype):
    # 16-bit floats' mul and div take a scalar as float32 unrounded, the other ops rounded
    x = data((33,), dtype, 4)
    run_fused([x], [("mul", In(0), 0.1), ("add", St(0), 1.3), ("div", St(1), 3.7),
                    ("sub", St(2), 2), ("pow", St(3), 2.0), ("maximum", St(4), True)])
    run_fused([x], [("pow", In(0), 0.5), ("pow", In(0), -0.5), ("add", St(0), St(1))],
              outputs=(0, 1, 2))      # pow(x, +-0.5) is sqrt / rsqrt (-0.0 stays -0.0)


def test_int32_wraps_and_scalar_division():
    a, b = data((50,), pt.int32, 5), data((50,), pt.int32, 6)
    run_fused([a, b], [
        ("mul", In(0), In(1)), ("add", St(0), In(0)), ("sub", St(1), 7), ("neg", St(2)),
        ("abs", St(3)), ("bitwise_xor", St(4), In(1)), ("bitwise_left_shift", St(5), 3),
        ("bitwise_right_shift", St(6), In(1)), ("maximum", St(7), In(0)), ("minimum", St(8), In(1)),
        ("floor_divide", St(9), 3), ("remainder", St(10), -4), ("fmod", St(11), 5),
        ("pow", St(12), 2), ("bitwise_not", St(13)), ("sign", St(14)),
        ("gt", St(1), In(0)), ("add", St(16), St(15)),
    ], outputs=(17, 0))


def test_bool_chain():
    a, b = data((9, 4), pt.bool, 7), data((4,), pt.bool, 8)
    run_fused([a, b], [
        ("add", In(0), In(1)), ("mul", St(0), In(0)), ("logical_xor", St(1), In(1)),
        ("bitwise_not", St(2)), ("logical_not", St(3)), ("eq", St(4), In(0)),
        ("logical_or", St(5), False), ("bitwise_and", St(6), In(1)),
    ])


def test_mixed_dtypes_and_casts():
    i = data((6, 5), pt.int32, 9)
    f = data((6, 5), pt.float32, 10)
    h = data((5,), pt.bfloat16, 11)
    run_fused([i, f, h], [
        ("add", In(0), 2.5),                               # int32 + float -> float32
        ("mul", St(0), In(2)),                             # float32 * bfloat16 -> float32
        ("_to_dtype", St(1), pt.bfloat16),                 # rounded to bfloat16
        ("add", St(2), In(2)),                             # bfloat16 + bfloat16 (rounded again)
        ("_to_dtype", In(1), pt.int32),                    # float -> int (nan, inf: as the kernel)
        ("_to_dtype", St(3), pt.float64),
        ("add", St(5), St(4)),                             # float64 + int32
        ("_to_dtype", In(0), pt.bool), ("_to_dtype", St(7), pt.float32),
        ("clone", St(8)), ("mul", St(9), In(1)), ("_to_dtype", St(10), pt.int8),
        ("isnan", In(1)), ("isinf", St(3)), ("isfinite", St(6)),
    ], outputs=(6, 11, 12, 13, 14))


def test_float16_with_other_dtypes():
    h = data((4, 9), pt.float16, 17)
    d = data((9,), pt.float64, 18)
    b = data((4, 9), pt.bfloat16, 19)
    run_fused([h, d, b], [
        ("mul", In(0), In(0)),                             # overflows to inf in float16
        ("add", St(0), In(1)),                             # float16 + float64 -> float64
        ("_to_dtype", St(1), pt.float16),                  # a float64 rounded to half once
        ("add", St(2), In(2)),                             # float16 + bfloat16 -> float32
        ("_to_dtype", St(3), pt.float16), ("mul", St(4), 1e-3), ("div", St(5), 3.0),
        ("sigmoid", St(6)), ("_to_dtype", In(2), pt.float16), ("sub", St(7), St(8)),
    ], outputs=(9, 3))


def test_comparisons_feeding_where():
    x, y = data((4, 6), pt.float32, 12), data((6,), pt.float32, 13)
    run_fused([x, y], [
        ("gt", In(0), In(1)), ("where", St(0), In(0), In(1)),
        ("lt", In(0), 0.0), ("where", St(2), 0.0, St(1)),   # relu-like with a scalar branch
        ("where", St(0), St(3), 2.5), ("ne", In(0), In(0)),  # nan != nan
        ("where", St(5), -1.0, St(4)),
    ])


def test_where_with_a_scalar_condition():
    # the meta wants a tensor condition, the kernel takes a Python bool too (a filled array)
    x = data((3, 5), pt.float32, 16)
    f32 = pt.float32
    for cond in (True, False):
        g = PointwiseGroup((Input((3, 5), f32),),
                           (Step("where", (cond, Ref(IN, 0), 2.5, f32), (3, 5), f32),), (0,), (3, 5))
        (got,) = BE.fuse_pointwise(g)(x._data)
        want = BE.kernels["where"](cond, x._data, 2.5, f32)
        assert BE.to_numpy(got).tobytes() == BE.to_numpy(want).tobytes()


def test_where_int_and_bool_condition_from_int():
    a, b = data((10,), pt.int32, 14), data((10,), pt.int64, 15)
    run_fused([a, b], [("ge", In(0), In(1)), ("where", St(0), In(0), In(1)), ("mul", St(1), 3)])


def test_broadcasting_and_several_strided_inputs():
    # more strided inputs than the eager Geo struct carries (it has room for three)
    ins = [data((4, 1, 5), pt.float32, 20), data((3, 1), pt.float32, 21), data((5,), pt.float32, 22),
           data((4, 3, 5), pt.float32, 23), data((1, 3, 1), pt.float32, 24), data((), pt.float32, 25)]
    run_fused(ins, [("add", In(0), In(1)), ("mul", St(0), In(2)), ("sub", St(1), In(3)),
                    ("div", St(2), In(4)), ("add", St(3), In(5)), ("maximum", St(4), In(1))])


def test_non_contiguous_inputs_and_offsets():
    base = data((6, 8), pt.float32, 30)
    other = data((8, 6), pt.float32, 31)
    t = other.t()                     # transposed
    s = base[1:5, ::2]                # offset and stride 2
    s2 = base[2:6, 1::2]
    e = data((1, 4), pt.float32, 32).expand(4, 4)   # stride 0
    calls = [("mul", In(0), In(1)), ("add", St(0), In(2)), ("sub", St(1), In(3))]
    run_fused([s, s2, e, s.contiguous()], calls)
    run_fused([t[:4, :6], base[:4, :6], base[2:, 2:], base[:4, 2:]], calls)   # offsets, contiguous rows


def test_contiguous_inputs_at_an_offset():
    base = data((3, 64), pt.float64, 33)
    a, b = base[1], base[2]           # contiguous, offsets 64 and 128
    run_fused([a, b, base[0]], [("mul", In(0), In(1)), ("add", St(0), In(2))])
    run_fused([base[0], base[1], base[2]], [("mul", In(0), In(1)), ("add", St(0), In(2))])


def test_zero_dim_and_empty():
    a, b = data((), pt.float32, 40), data((), pt.float32, 41)
    (out,) = run_fused([a, b], [("mul", In(0), In(1)), ("exp", St(0))])
    assert out.shape == ()
    e1, e2 = data((0, 3), pt.float32, 42), data((3,), pt.float32, 43)
    (out,) = run_fused([e1, e2], [("add", In(0), In(1)), ("neg", St(0))])
    assert out.shape == (0, 3)
    (out,) = run_fused([data((0,), pt.int32, 44)], [("_to_dtype", In(0), pt.float32)])
    assert out.shape == (0,)


def test_more_than_eight_dims_together_runs_unfused():
    # each step alone collapses to 6 dims; x and y together keep all 9 (the kernels' limit is 8)
    x = data((2,) * 9, pt.float32, 50).permute(4, 3, 2, 1, 0, 5, 6, 7, 8)
    y = data((2,) * 9, pt.float32, 51).permute(0, 1, 2, 3, 8, 7, 6, 5, 4)
    run_fused([x, y], [("mul", In(0), 1.5), ("add", St(0), In(1))])
    group, _ = build([x, y], [("mul", In(0), 1.5), ("add", St(0), In(1))])
    assert BE.fuse_pointwise(group)._geo([x._data, y._data]) is None   # (the unfused path ran)


def test_programs_are_shared_across_scalar_values_and_strides():
    x = data((100,), pt.float32, 60)
    run_fused([x], [("mul", In(0), 1.5), ("add", St(0), -2.0)])
    built = STATS["programs_built"]
    run_fused([x], [("mul", In(0), 3.25), ("add", St(0), 7.0)])
    run_fused([data((5, 20), pt.float32, 61).t()], [("mul", In(0), 0.5), ("add", St(0), 1.0)])
    assert STATS["programs_built"] == built


def test_deferred_groups_build_in_one_program_at_the_first_call():
    x, y, z = data((37,), pt.float32, 100), data((3, 1), pt.float32, 101), data((1, 4), pt.int16, 102)
    cases = [([x], [("expm1", In(0)), ("mul", St(0), 0.375)]),
             ([x, x], [("log1p", In(0)), ("sub", St(0), In(1)), ("mul", St(1), 1.5)]),
             ([y, z], [("atan", In(0)), ("add", St(0), In(1))]),     # broadcast: only the strided kernel
             ([y, data((4, 3), pt.int16, 103).t()], [("sinh", In(0)), ("mul", St(0), In(1))])]
    made = [build(inputs, calls) for inputs, calls in cases]
    built = STATS["programs_built"]
    with deferred_builds():
        fns = [BE.fuse_pointwise(group) for group, _ in made]
    assert STATS["programs_built"] == built                 # nothing built before a call
    for (inputs, _), (_, want), fn in zip(cases, made, fns):
        (got,) = fn(*[t._data for t in inputs])
        assert BE.to_numpy(got).tobytes() == BE.to_numpy(want[0]).tobytes()
        assert STATS["programs_built"] == built + 1         # the first call built all four


def test_without_deferred_builds_a_group_builds_at_once():
    x = data((29,), pt.float32, 110)
    group, want = build([x], [("cosh", In(0)), ("mul", St(0), 0.625)])
    built = STATS["programs_built"]      # (after the unfused kernels build)
    fn = BE.fuse_pointwise(group)
    assert STATS["programs_built"] == built + 1
    assert BE.to_numpy(fn(x._data)[0]).tobytes() == BE.to_numpy(want[0]).tobytes()


def test_callable_reused_for_new_inputs():
    a, b = data((257,), pt.float32, 70), data((257,), pt.float32, 71)
    group, _ = build([a, b], [("mul", In(0), In(1)), ("sigmoid", St(0))])
    fn = BE.fuse_pointwise(group)
    for seed in range(3):
        c, d = data((257,), pt.float32, 72 + seed), data((257,), pt.float32, 80 + seed)
        (got,) = fn(c._data, d._data)
        np.testing.assert_array_equal(BE.to_numpy(got), (c * d).sigmoid().cpu().numpy())


def test_declines():
    a, b = data((5,), pt.int32, 90), data((5,), pt.int32, 91)
    # integer division by a tensor: the eager kernel checks the divisor for zeros first
    for op in ("floor_divide", "remainder", "fmod"):
        group, _ = build([a, b], [(op, In(0), In(1))])
        assert BE.fuse_pointwise(group) is None
    i32 = pt.int32          # (a zero divisor: eager raises, the meta lets it through to the kernel)
    by_zero = PointwiseGroup((Input((5,), i32),), (Step("remainder", (Ref(IN, 0), 0, i32), (5,), i32),),
                             (0,), (5,))
    assert BE.fuse_pointwise(by_zero) is None
    # not elementwise ops
    for op, kargs in [("sum", (Ref(IN, 0), None, False, pt.float32)), ("bernoulli", (Ref(IN, 0),)),
                      ("copy_", (Ref(IN, 0), Ref(IN, 0)))]:
        g = PointwiseGroup((Input((5,), pt.float32),), (Step(op, kargs, (5,), pt.float32),), (0,), (5,))
        assert BE.fuse_pointwise(g) is None
    # a step whose dtype is not its kernel's
    wrong = PointwiseGroup((Input((5,), pt.float32),),
                           (Step("lt", (Ref(IN, 0), 0.0, pt.float32), (5,), pt.float32),), (0,), (5,))
    assert BE.fuse_pointwise(wrong) is None


def test_cpu_backend_declines():
    g, _ = build([data((3,), pt.float32, 95)], [("neg", In(0))])
    assert get_backend("cpu").fuse_pointwise(g) is None
