"""Sample generation: hypothesis draws shapes, layouts and value profiles under a fixed seed.

Hypothesis picks the *structure* of each case (shapes including 0-d, empty and size-1 dims,
broadcasting partners, reduction dims, which inputs are transposed / strided / expanded, and
whether values are ordinary, huge, tiny or special); NumPy fills in the values from a seed
hypothesis also draws. The same ``--seed`` gives the same cases on every machine.

>>> ctx = SampleContext(plugtorch.float32, seed=0, max_examples=3, key="neg")
>>> len(ctx.draws("unary")) <= 3
True
"""
from __future__ import annotations

import functools
import zlib

import numpy as np

from plugtorch import _dtypes

from .entry import Input

LAYOUTS = ("contiguous", "transposed", "stepped", "expanded")
PROFILES = ("normal", "normal", "large", "tiny", "special")

# magnitudes (powers of ten) of "large" and "tiny" values per float dtype
_LARGE = {_dtypes.float16: (2, 4.5), _dtypes.bfloat16: (3, 30), _dtypes.float32: (3, 30),
          _dtypes.float64: (3, 200)}
_TINY = {_dtypes.float16: (-4, -2), _dtypes.bfloat16: (-30, -3), _dtypes.float32: (-30, -3),
         _dtypes.float64: (-200, -3)}
SPECIALS = (np.inf, -np.inf, np.nan, 0.0, -0.0)


# ---- hypothesis: the structure of each case -----------------------------------------------
def _strategies():
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    shape = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)
    layout = st.sampled_from(LAYOUTS)
    profile = st.sampled_from(PROFILES)
    seed = st.integers(0, 2 ** 31 - 1)

    @st.composite
    def reduce(draw):
        shp = draw(shape)
        n = len(shp)
        dim = draw(st.one_of(st.none(), st.integers(-n, n - 1) if n else st.none(),
                             st.lists(st.integers(0, n - 1), unique=True, max_size=n) if n else st.none()))
        return {"shape": shp, "dim": dim, "keepdim": draw(st.booleans()), "layout": draw(layout),
                "profile": draw(profile), "seed": draw(seed)}

    @st.composite
    def along(draw):   # ops over one dim (softmax, cumsum, sort)
        shp = draw(shape)
        n = max(len(shp), 1)
        return {"shape": shp, "dim": draw(st.integers(-n, n - 1)), "layout": draw(layout),
                "profile": draw(profile), "seed": draw(seed)}

    def nary(k, max_side=4):
        return st.fixed_dictionaries({
            "shapes": hnp.mutually_broadcastable_shapes(num_shapes=k, min_dims=0, max_dims=4, max_side=max_side)
            .map(lambda b: b.input_shapes),
            "layouts": st.lists(layout, min_size=k, max_size=k), "profile": profile, "seed": seed})

    @st.composite
    def matmul(draw):
        m, k, n = (draw(st.integers(0, 6)) for _ in range(3))
        batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3))
        return {"a": batch.input_shapes[0] + (m, k), "b": batch.input_shapes[1] + (k, n),
                "layouts": draw(st.lists(layout, min_size=2, max_size=2)), "profile": draw(profile),
                "seed": draw(seed)}

    return {
        "unary": st.fixed_dictionaries({"shape": shape, "layout": layout, "profile": profile, "seed": seed}),
        "binary": nary(2), "ternary": nary(3), "reduce": reduce(), "along": along(), "matmul": matmul(),
    }


@functools.lru_cache(maxsize=None)
def draws(kind: str, n: int, seed: int) -> tuple:
    """``n`` hypothesis-drawn configurations of ``kind`` (fixed by ``seed``)."""
    if n <= 0:
        return ()
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    out = []
    strategy = _strategies()[kind]

    @hseed(seed)
    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=False)
    @given(strategy)
    def collect(x):
        out.append(x)

    collect()
    return tuple(out[:n])


# ---- NumPy: the values --------------------------------------------------------------------
class SampleContext:
    """What a sample generator receives: the dtype, the seed, the example budget and helpers."""

    def __init__(self, dtype, seed: int = 0, max_examples: int = 6, key: str = ""):
        self.dtype = dtype
        self.seed = seed
        self.max_examples = max_examples
        self.rng = np.random.default_rng([seed, zlib.crc32(f"{key}/{dtype.name}".encode())])

    def draws(self, kind: str) -> tuple:
        return draws(kind, self.max_examples, self.seed)

    def values(self, shape, *, dtype=None, profile="normal", low=None, high=None, seed=None,
               unique=False) -> np.ndarray:
        """Host values of ``shape``: ``profile`` is normal, large, tiny or special (inf/nan/-0.0 mixed in)."""
        dtype = dtype or self.dtype
        rng = self.rng if seed is None else np.random.default_rng([seed, zlib.crc32(dtype.name.encode())])
        shape = tuple(shape)
        n = int(np.prod(shape, dtype=np.int64))
        if unique:
            span = max(n, 1)
            v = rng.permutation(span)[:n].astype(np.float64) - span // 2
            if dtype.is_floating_point:
                v = v * 0.5
            return _cast(v.reshape(shape), dtype)
        if dtype is _dtypes.bool:
            return rng.integers(0, 2, size=shape).astype(bool)
        if dtype.is_complex:   # real and imaginary parts drawn as the parts' dtype
            kw = dict(profile=profile, low=low, high=high, unique=unique)
            re = self.values(shape, dtype=dtype.to_real(), seed=seed, **kw)
            im = self.values(shape, dtype=dtype.to_real(), seed=None if seed is None else seed + 1, **kw)
            return (re + 1j * im).astype(dtype.numpy)
        if not dtype.is_floating_point:
            info = _dtypes.iinfo(dtype)
            lo = (0 if dtype is _dtypes.uint8 else -9) if low is None else max(int(low), int(info.min))
            hi = 10 if high is None else min(int(high), int(info.max) + 1)
            return rng.integers(lo, max(hi, lo + 1), size=shape).astype(dtype.numpy)
        lo = -9.0 if low is None else float(low)
        hi = 9.0 if high is None else float(high)
        v = rng.uniform(lo, hi, size=shape)
        if profile in ("large", "tiny") and low is None and high is None:
            e0, e1 = (_LARGE if profile == "large" else _TINY)[dtype]
            v = np.sign(rng.uniform(-1, 1, size=shape)) * 10.0 ** rng.uniform(e0, e1, size=shape)
        elif profile == "special" and n:
            k = max(1, n // 3)
            idx = rng.choice(n, size=k, replace=False)
            flat = v.reshape(-1)
            flat[idx] = rng.choice(np.array(SPECIALS), size=k)
            v = flat.reshape(shape)
        return _cast(v, dtype)

    def input(self, shape, *, layout="contiguous", dtype=None, requires_grad=True, on_cpu=False,
              **value_kw) -> Input:
        """An Input whose final shape is ``shape``, built with ``layout`` when the shape allows it."""
        shape = tuple(shape)
        dtype = dtype or self.dtype
        layout = usable_layout(shape, layout)
        if layout == "transposed":
            base = shape[:-2] + (shape[-1], shape[-2])
        elif layout == "stepped":
            base = shape[:-1] + (2 * shape[-1],)
        elif layout == "expanded":
            d = next(i for i, s in enumerate(shape) if s > 1)
            base = shape[:d] + (1,) + shape[d + 1:]
        else:
            base = shape
        vals = self.values(base, dtype=dtype, **value_kw)
        return Input(vals, dtype, layout, shape, requires_grad, on_cpu)


def usable_layout(shape, layout):
    if layout == "transposed" and len(shape) < 2:
        layout = "stepped"
    if layout == "stepped" and len(shape) < 1:
        return "contiguous"
    if layout == "expanded" and not any(s > 1 for s in shape):
        return "contiguous"
    return layout


def _cast(v, dtype):
    with np.errstate(over="ignore", invalid="ignore"):
        if dtype.is_floating_point:
            return v.astype(dtype.numpy)
        if dtype is _dtypes.bool:
            return v != 0
        return v.astype(np.int64).astype(dtype.numpy)
