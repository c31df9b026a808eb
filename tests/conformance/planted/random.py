"""Bugs in the random kernels a backend writes: uniform_, normal_ and random_, each receiving
the output array, its parameters and the device's generator state (cpu: a NumPy Generator).
bernoulli, multinomial, randperm and dropout are decompositions that draw through uniform_, so
a uniform_ bug shows there too."""
from __future__ import annotations

import copy

import numpy as np

from plugtorch.backends.base import host_generator

from . import Bug


def _unseeded(cpu):
    def uniform_(x, low, high, gen):   # a stream of its own, seeded from the OS
        cpu(x, low, high, np.random.default_rng())
    return uniform_


def _fixed_seed(cpu):
    def uniform_(x, low, high, gen):   # the backend's own seed, not the one manual_seed set
        cpu(x, low, high, host_generator(1234))
    return uniform_


def _not_advanced(cpu):
    def uniform_(x, low, high, gen):   # draws from a copy of the state: the next fill repeats this one
        cpu(x, low, high, np.random.Generator(copy.deepcopy(gen.bit_generator)))
    return uniform_


def _sixteen_bits(cpu):
    def uniform_(x, low, high, gen):   # 16 random bits per value, a common GPU shortcut
        r = (gen.integers(0, 1 << 16, size=x.shape) * 2.0 ** -16).astype(np.float32)
        x[...] = r * (high - low) + low
    return uniform_


def _rounds_to_high(cpu):
    def uniform_(x, low, high, gen):   # a float32 draw rounded to the dtype: can round up to high
        x[...] = gen.random(x.shape, dtype=np.float32) * (high - low) + low
    return uniform_


def _normal_not_advanced(cpu):
    def normal_(x, mean, std, gen):
        cpu(x, mean, std, np.random.Generator(copy.deepcopy(gen.bit_generator)))
    return normal_


def _box_muller_cos_twice(cpu):
    def normal_(x, mean, std, gen):   # one pair of uniforms per two values; sin mistyped as cos
        m = (x.size + 1) // 2
        u1, u2 = gen.random(m, dtype=np.float32), gen.random(m, dtype=np.float32)
        r, t = np.sqrt(-2 * np.log1p(-u1)), np.float32(2 * np.pi) * u2
        z = np.empty(2 * m, np.float32)
        z[0::2] = r * np.cos(t)
        z[1::2] = r * np.cos(t)
        x[...] = (z[:x.size].reshape(x.shape) * std + mean).astype(x.dtype)
    return normal_


def _inclusive_high(cpu):
    def random_(x, low, high, gen):   # [low, high]: for bool, 2 becomes True
        x[...] = gen.integers(low, high, size=x.shape, endpoint=True)
    return random_


def _float32_scaled(cpu):
    def random_(x, low, high, gen):   # low + floor(u * span) in float32: 24 bits for any span
        u = gen.random(x.shape, dtype=np.float32)
        x[...] = (np.floor(u * np.float32(high - low)).astype(np.int64) + low).astype(x.dtype)
    return random_


def _modulo_32_bits(cpu):
    def random_(x, low, high, gen):   # one 32-bit draw modulo the span: wide spans never reach their top
        r = gen.integers(0, 1 << 32, size=x.shape, dtype=np.uint64)
        x[...] = ((r % np.uint64(high - low)).astype(np.int64) + low).astype(x.dtype)
    return random_


BUGS = [
    Bug("uniform_ ignores the seed (an unseeded stream)", "random", "uniform_", {"uniform_": _unseeded}, check="seed"),
    Bug("uniform_ draws from a fixed seed of its own", "random", "uniform_", {"uniform_": _fixed_seed}, check="seed"),
    Bug("uniform_ does not advance the generator (randperm repeats itself)", "random", "randperm",
        {"uniform_": _not_advanced}),
    Bug("uniform_ with 16 random bits", "random", "uniform_", {"uniform_": _sixteen_bits},
        dtypes=("float32", "float64")),   # (float16/bfloat16 hold fewer bits than that)
    Bug("normal_ Box-Muller writes cos twice (sin typo)", "random", "normal_",
        {"normal_": _box_muller_cos_twice}),
    Bug("normal_ does not advance the generator", "random", "normal_", {"normal_": _normal_not_advanced},
        check="seed"),
    Bug("uniform_ in float16/bfloat16 can return `to`", "random", "uniform_", {"uniform_": _rounds_to_high},
        dtypes=("float16", "bfloat16")),
    Bug("random_ includes high (bool: True twice as likely)", "random", "random_", {"random_": _inclusive_high},
        dtypes=("bool",)),
    Bug("random_ scales a float32 uniform (randint's wide ranges miss their low bits)", "random", "randint",
        {"random_": _float32_scaled}),
    Bug("random_ takes a 32-bit draw modulo the span", "random", "random_", {"random_": _modulo_32_bits}),
]
