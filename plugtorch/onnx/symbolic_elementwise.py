"""Table entries for pointwise ops: arithmetic, comparisons, logic, unary math, casts, copies.

Math runs in the dtype plugtorch's kernels use (``opmath``: float16/bfloat16 in float32, small
integers in int32) and is cast to the result's dtype once, so results match eager bit for bit
where ONNX Runtime's kernels are exact.
"""
from __future__ import annotations

import math

import numpy as np

import plugtorch as pt
from plugtorch.onnx.values import Val, onnx_dtype, opmath, result_type
from plugtorch.onnx.table import onnx_op


def _finish(g, name, ct):
    out = g.out.dtype
    return [name if ct is out else g.cast(name, out)]


# ---- binary arithmetic -------------------------------------------------------------------------------
_BOOL_FORMS = {"Add": "Or", "Mul": "And", "Max": "Or", "Min": "And"}


def _binary(onnx_type):
    def emit(g, input, other):
        out = g.out.dtype
        if out is pt.bool and onnx_type in _BOOL_FORMS:
            return [g.node(_BOOL_FORMS[onnx_type], [g.input(input, pt.bool), g.input(other, pt.bool)])]
        ct = opmath(out)
        return _finish(g, g.node(onnx_type, [g.input(input, ct), g.input(other, ct)]), ct)
    return emit


for _name, _type in (("add", "Add"), ("sub", "Sub"), ("mul", "Mul"), ("div", "Div"),
                     ("maximum", "Max"), ("minimum", "Min"), ("pow", "Pow")):
    onnx_op(_name)(_binary(_type))


@onnx_op("floor_divide")
def floor_divide(g, input, other):
    ct = opmath(g.out.dtype)
    a, b = g.input(input, ct), g.input(other, ct)
    if ct.is_floating_point:
        return _finish(g, g.node("Floor", [g.node("Div", [a, b])]), ct)
    # integers: ONNX Div truncates; (a - a mod b) / b is exact and rounds toward -inf
    r = g.node("Mod", [a, b], fmod=0)
    return _finish(g, g.node("Div", [g.node("Sub", [a, r]), b]), ct)


@onnx_op("remainder")
def remainder(g, input, other):
    ct = opmath(g.out.dtype)
    a, b = g.input(input, ct), g.input(other, ct)
    if ct.is_floating_point:     # Python's modulo: fmod, moved by b where its sign differs from b's
        r = g.node("Mod", [a, b], fmod=1)      # (as eager: -0.0 stays, 1 % -inf is -inf)
        zero = g.scalar(0, ct)
        moved = g.node("And", [g.node("Not", [g.node("Equal", [r, zero])]),
                               g.node("Xor", [g.node("Less", [r, zero]), g.node("Less", [b, zero])])])
        return _finish(g, g.node("Where", [moved, g.node("Add", [r, b]), r]), ct)
    return _finish(g, g.node("Mod", [a, b], fmod=0), ct)


@onnx_op("fmod")
def fmod(g, input, other):
    ct = opmath(g.out.dtype)
    return _finish(g, g.node("Mod", [g.input(input, ct), g.input(other, ct)], fmod=1), ct)


def _negative(g, x, ct):
    """x < 0, counting -0.0 (1 / -0.0 is -inf)."""
    zero = g.scalar(0, ct)
    neg_zero = g.node("And", [g.node("Equal", [x, zero]),
                              g.node("Less", [g.node("Div", [g.scalar(1, ct), x]), zero])])
    return g.node("Or", [g.node("Less", [x, zero]), neg_zero])


@onnx_op("atan2")
def atan2(g, input, other):
    """atan(|y| / |x|) in [0, pi/2] (0 for two zeros, pi/4 for two infinities), reflected into
    the quadrant by the signs of x and y, -0.0 included, as eager and C's atan2."""
    ct = opmath(g.out.dtype)
    y, x = g.input(input, ct), g.input(other, ct)
    ay, ax = g.node("Abs", [y]), g.node("Abs", [x])
    t = g.node("Atan", [g.node("Div", [ay, ax])])
    zero = g.scalar(0, ct)
    both_zero = g.node("And", [g.node("Equal", [ay, zero]), g.node("Equal", [ax, zero])])
    both_inf = g.node("And", [g.node("IsInf", [ay]), g.node("IsInf", [ax])])
    t = g.node("Where", [both_zero, zero, g.node("Where", [both_inf, g.scalar(math.pi / 4, ct), t])])
    t = g.node("Where", [_negative(g, x, ct), g.node("Sub", [g.scalar(math.pi, ct), t]), t])
    # (a factor, not Where: onnxruntime's Where and Neg give +0.0 for -0.0)
    sign = g.node("Where", [_negative(g, y, ct), g.scalar(-1, ct), g.scalar(1, ct)])
    return _finish(g, g.node("Mul", [t, sign]), ct)


# ---- comparisons and logic -------------------------------------------------------------------------
def _compare(onnx_type, negate=False):
    def emit(g, input, other):
        ct = opmath(result_type(input, other))
        if ct is pt.bool and onnx_type != "Equal":
            ct = pt.int32
        r = g.node(onnx_type, [g.input(input, ct), g.input(other, ct)])
        return [g.node("Not", [r]) if negate else r]
    return emit


for _name, _type, _neg in (("eq", "Equal", False), ("ne", "Equal", True), ("lt", "Less", False),
                           ("le", "LessOrEqual", False), ("gt", "Greater", False),
                           ("ge", "GreaterOrEqual", False)):
    onnx_op(_name)(_compare(_type, _neg))


def _logical(onnx_type):
    def emit(g, input, other):
        r = g.node(onnx_type, [g.input(input, pt.bool), g.input(other, pt.bool)])
        return [r if g.out.dtype is pt.bool else g.cast(r, g.out.dtype)]
    return emit


for _name, _type in (("logical_and", "And"), ("logical_or", "Or"), ("logical_xor", "Xor")):
    onnx_op(_name)(_logical(_type))


@onnx_op("logical_not")
def logical_not(g, input):
    r = g.node("Not", [g.input(input, pt.bool)])
    return [r if g.out.dtype is pt.bool else g.cast(r, g.out.dtype)]


def _ints_need_18(opset, input, other=None):
    if opset < 18 and g_dtype(input) is not pt.bool:
        return "bitwise operators on integers are ONNX operators from opset 18 (pass opset_version=18)"
    return None


def g_dtype(x):
    return x.dtype if isinstance(x, Val) else pt.bool if isinstance(x, bool) else pt.int64


def _bitwise(onnx_type, bool_type):
    def emit(g, input, other):
        out = g.out.dtype
        if out is pt.bool:
            return [g.node(bool_type, [g.input(input, pt.bool), g.input(other, pt.bool)])]
        return [g.node(onnx_type, [g.input(input, out), g.input(other, out)])]
    return emit


for _name, _type, _btype in (("bitwise_and", "BitwiseAnd", "And"), ("bitwise_or", "BitwiseOr", "Or"),
                             ("bitwise_xor", "BitwiseXor", "Xor")):
    onnx_op(_name, declines=_ints_need_18)(_bitwise(_type, _btype))


@onnx_op("bitwise_not")
def bitwise_not(g, input):
    out = g.out.dtype
    if out is pt.bool:
        return [g.node("Not", [g.input(input, pt.bool)])]
    if g.opset >= 18:
        return [g.node("BitwiseNot", [g.input(input)])]
    # before opset 18: ~x is -1 - x in two's complement (255 - x for uint8), exact
    ct = opmath(out)
    return _finish(g, g.node("Sub", [g.scalar(255 if out is pt.uint8 else -1, ct), g.input(input, ct)]), ct)


def _shift(left):
    """ONNX's BitShift is unsigned only: shift the bits as uint64 (casts keep two's complement)
    and an arithmetic right shift as ~((~x) >> s) for negative x. An amount outside [0, bits)
    gives 0 (left) or the sign (right), as eager and torch."""
    def emit(g, input, other):
        out = g.out.dtype
        ct = opmath(out)       # (onnxruntime's Where has no int8/int16 kernels)
        u64 = g.onnx.TensorProto.UINT64

        def unsigned_shift(v, direction):
            r = g.node("Cast", [g.node("BitShift", [g.node("Cast", [v], to=u64), amount], direction=direction)],
                       to=onnx_dtype(g.onnx, out))
            return r if ct is out else g.cast(r, ct)      # (wrapped to the result's width first)
        x, s = g.input(input, ct), g.input(other, pt.int64)
        zero, minus_one = g.scalar(0, ct), g.scalar(-1, ct)
        ok = g.node("And", [g.node("GreaterOrEqual", [s, g.const(np.array(0, np.int64))]),
                            g.node("Less", [s, g.const(np.array(out.itemsize * 8, np.int64))])])
        amount = g.node("Cast", [g.node("Where", [ok, s, g.const(np.array(0, np.int64))])], to=u64)
        if left:
            return _finish(g, g.node("Where", [ok, unsigned_shift(x, "LEFT"), zero]), ct)
        neg = g.node("Less", [x, zero])
        r = unsigned_shift(g.node("Where", [neg, g.node("Sub", [minus_one, x]), x]), "RIGHT")   # ~x >= 0
        r = g.node("Where", [neg, g.node("Sub", [minus_one, r]), r])
        return _finish(g, g.node("Where", [ok, r, g.node("Where", [neg, minus_one, zero])]), ct)
    return emit


onnx_op("bitwise_left_shift")(_shift(True))
onnx_op("bitwise_right_shift")(_shift(False))


@onnx_op("where")
def where(g, condition, input, other):
    out = g.out.dtype
    return [g.node("Where", [g.input(condition, pt.bool), g.input(input, out), g.input(other, out)])]


# ---- unary math ------------------------------------------------------------------------------------
def _unary(onnx_type):
    def emit(g, input):
        ct = opmath(g.out.dtype)
        return _finish(g, g.node(onnx_type, [g.input(input, ct)]), ct)
    return emit


for _name, _type in (("exp", "Exp"), ("log", "Log"), ("sin", "Sin"), ("cos", "Cos"), ("tan", "Tan"),
                     ("asin", "Asin"), ("acos", "Acos"), ("atan", "Atan"), ("sinh", "Sinh"), ("cosh", "Cosh"),
                     ("tanh", "Tanh"), ("sqrt", "Sqrt"), ("erf", "Erf"), ("sigmoid", "Sigmoid"),
                     ("abs", "Abs"), ("neg", "Neg"), ("sign", "Sign"), ("relu", "Relu"),
                     ("reciprocal", "Reciprocal"), ("acosh", "Acosh"), ("asinh", "Asinh"), ("atanh", "Atanh")):
    onnx_op(_name)(_unary(_type))


def _rounding(onnx_type):
    def emit(g, input):
        if not input.dtype.is_floating_point:    # integers are already whole
            return [g.node("Identity", [g.input(input)])]
        ct = opmath(g.out.dtype)
        return _finish(g, g.node(onnx_type, [g.input(input, ct)]), ct)
    return emit


for _name, _type in (("ceil", "Ceil"), ("floor", "Floor"), ("round", "Round")):
    onnx_op(_name)(_rounding(_type))


@onnx_op("trunc")
def trunc(g, input):
    if not input.dtype.is_floating_point:
        return [g.node("Identity", [g.input(input)])]
    ct = opmath(g.out.dtype)
    x = g.input(input, ct)
    neg = g.node("Less", [x, g.scalar(0, ct)])
    return _finish(g, g.node("Where", [neg, g.node("Ceil", [x]), g.node("Floor", [x])]), ct)


def _composed(fn):
    """A unary op written with other ONNX operators: ``fn(g, x, ct) -> name``."""
    def emit(g, input):
        ct = opmath(g.out.dtype)
        return _finish(g, fn(g, g.input(input, ct), ct), ct)
    return emit


onnx_op("rsqrt")(_composed(lambda g, x, ct: g.node("Reciprocal", [g.node("Sqrt", [x])])))
onnx_op("exp2")(_composed(lambda g, x, ct: g.node("Pow", [g.scalar(2.0, ct), x])))
onnx_op("expm1")(_composed(lambda g, x, ct: g.node("Sub", [g.node("Exp", [x]), g.scalar(1.0, ct)])))
onnx_op("log1p")(_composed(lambda g, x, ct: g.node("Log", [g.node("Add", [x, g.scalar(1.0, ct)])])))
# (ONNX has no Erfc: 1 - Erf, which loses the far right tail that eager erfc keeps; gelu exports it)
onnx_op("erfc")(_composed(lambda g, x, ct: g.node("Sub", [g.scalar(1.0, ct), g.node("Erf", [x])])))
onnx_op("log2")(_composed(lambda g, x, ct: g.node("Div", [g.node("Log", [x]), g.scalar(math.log(2.0), ct)])))
onnx_op("log10")(_composed(lambda g, x, ct: g.node("Div", [g.node("Log", [x]), g.scalar(math.log(10.0), ct)])))


def _float_test(kind):
    def emit(g, input):
        if not input.dtype.is_floating_point:
            same = g.node("Equal", [g.input(input), g.input(input)])     # all true, in the input's shape
            return [same if kind == "isfinite" else g.node("Not", [same])]
        x = g.input(input, opmath(input.dtype))
        if kind == "isnan":
            return [g.node("IsNaN", [x])]
        if kind == "isinf":
            return [g.node("IsInf", [x])]
        bad = g.node("Or", [g.node("IsNaN", [x]), g.node("IsInf", [x])])
        return [g.node("Not", [bad])]
    return emit


for _name in ("isnan", "isinf", "isfinite"):
    onnx_op(_name)(_float_test(_name))


# ---- casts and copies ------------------------------------------------------------------------------
@onnx_op("_to_dtype")
def to_dtype(g, input, dtype):
    return [g.input(input, dtype) if input.dtype is not dtype else g.node("Identity", [g.input(input)])]


@onnx_op("clone", "_to_device")
def clone(g, input, *args, **kwargs):
    return [g.node("Identity", [g.input(input)])]


@onnx_op("copy_")
def copy_(g, input, src, non_blocking=False):
    new = g.input(src, input.dtype)
    src_dims = src.dims if isinstance(src, Val) else []
    if list(src_dims) != list(input.dims):
        new = g.node("Expand", [new, g.shape_of(input)])
    const = isinstance(src, Val) and src.const or not isinstance(src, Val)
    if g.fold and const and input.root.const:
        root = input.root      # the write is known at export: the base's new value is a constant
        g.assign(input, new, False)
        root.name = g.tensor_const(root.tensors[0])
        root.const = True
        return []
    g.assign(input, new, False)
    return []


@onnx_op("nan_to_num")
def nan_to_num(g, input, nan=0.0, posinf=None, neginf=None):
    if not input.dtype.is_floating_point:
        return [g.node("Identity", [g.input(input)])]
    ct = opmath(input.dtype)
    info = np.finfo(input.dtype.numpy) if input.dtype is not pt.bfloat16 else None
    big = float(info.max) if info is not None else float(pt.finfo(pt.bfloat16).max)
    x = g.input(input, ct)
    x = g.node("Where", [g.node("IsNaN", [x]), g.scalar(nan, ct), x])
    x = g.node("Where", [g.node("IsInf", [x], detect_negative=0), g.scalar(big if posinf is None else posinf, ct), x])
    x = g.node("Where", [g.node("IsInf", [x], detect_positive=0), g.scalar(-big if neginf is None else neginf, ct), x])
    return _finish(g, x, ct)


# ---- special functions with only a cpu kernel that ONNX operators express exactly -------------------
@onnx_op("heaviside")
def heaviside(g, input, values):
    ct = opmath(g.out.dtype)
    x = g.input(input, ct)
    step = g.cast(g.node("Greater", [x, g.scalar(0, ct)]), ct)      # (NaN: 0, as eager)
    return _finish(g, g.node("Where", [g.node("Equal", [x, g.scalar(0, ct)]), g.input(values, ct), step]), ct)


@onnx_op("sinc")
def sinc(g, input):
    ct = opmath(g.out.dtype)
    x = g.input(input, ct)
    px = g.node("Mul", [x, g.scalar(math.pi, ct)])
    r = g.node("Div", [g.node("Sin", [px]), px])
    return _finish(g, g.node("Where", [g.node("Equal", [x, g.scalar(0, ct)]), g.scalar(1, ct), r]), ct)


@onnx_op("special_xlog1py")
def xlog1py(g, input, other):
    ct = opmath(g.out.dtype)
    x, y = g.input(input, ct), g.input(other, ct)
    r = g.node("Mul", [x, g.node("Log", [g.node("Add", [y, g.scalar(1.0, ct)])])])
    zero = g.node("And", [g.node("Equal", [x, g.scalar(0, ct)]), g.node("Not", [g.node("IsNaN", [y])])])
    return _finish(g, g.node("Where", [zero, g.scalar(0, ct), r]), ct)
