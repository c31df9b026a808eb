"""plugtorch: PyTorch's programming model on any backend you can plug in.

>>> import plugtorch as pt
>>> x = pt.tensor([1., 2., 3.], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4., 6.])
"""
from __future__ import annotations

import builtins as _builtins

__version__ = "0.1.0"

from plugtorch import _dtypes
from plugtorch._dtypes import (bfloat16, bool, complex64, complex128, dtype, finfo, float16, float32, float64,  # noqa: F401
                               get_default_dtype, iinfo, int8, int16, int32, int64, promote_types,
                               result_type, set_default_dtype, uint8)
from plugtorch._dtypes import float8_e4m3fn, float8_e4m3fnuz, float8_e5m2, float8_e5m2fnuz  # noqa: F401
from plugtorch._device import device, get_default_device, set_default_device  # noqa: F401
from plugtorch._tensor import Size, Tensor  # noqa: F401

half, float, double = float16, float32, float64
short, int, long = int16, int32, int64
cfloat, cdouble = complex64, complex128

# wire the layers together (each module refers to Tensor without importing the package)
from plugtorch.dispatch import dispatcher as _dispatcher  # noqa: E402
from plugtorch.dispatch import meta as _meta  # noqa: E402

_dispatcher.Tensor = Tensor
_meta.Tensor = Tensor

from plugtorch.dispatch import ops as _op_decls  # noqa: E402,F401
from plugtorch import dispatch  # noqa: E402,F401
from plugtorch import backends  # noqa: E402

backends._register_cpu()

from plugtorch.autograd import engine as _engine  # noqa: E402

_engine.Tensor = Tensor
_dispatcher.autograd_record = _engine.record

from plugtorch import autograd  # noqa: E402,F401
from plugtorch.autograd import inplace as _inplace  # noqa: E402,F401
from plugtorch.autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled,  # noqa: E402,F401
                                          is_inference_mode_enabled, no_grad, set_grad_enabled)
from plugtorch.autograd.anomaly_mode import (is_anomaly_check_nan_enabled, is_anomaly_enabled,  # noqa: E402,F401
                                             set_anomaly_enabled)
from plugtorch import return_types  # noqa: E402,F401
from plugtorch._ops_public import *  # noqa: E402,F401,F403
from plugtorch._ops_public import ops  # noqa: E402,F401
from plugtorch import _ops_public as _public  # noqa: E402

_dispatcher.array_operand = _public.as_tensor
from plugtorch import _methods  # noqa: E402,F401
from plugtorch._ops_inplace import *  # noqa: E402,F401,F403  (abs_, exp_, relu_, clamp_ ...: x.<name>_())
from plugtorch.random import (Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed,  # noqa: E402,F401
                              set_rng_state)
from plugtorch import profiler  # noqa: E402,F401
from plugtorch.dispatch.dispatcher import cpu_fallback_enabled, set_cpu_fallback  # noqa: E402,F401
from plugtorch._printing import set_printoptions  # noqa: E402,F401
from plugtorch.serialization import load, save  # noqa: E402,F401
from plugtorch import jit  # noqa: E402,F401
from plugtorch import compiler  # noqa: E402,F401
from plugtorch.compiler import compile  # noqa: E402,F401
from plugtorch import special  # noqa: E402,F401  (torch.special's functions)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


# PyTorch's constants (torch.pi ... torch.newaxis, which is None as NumPy's)
import math as _math  # noqa: E402

pi, e, inf, nan, newaxis = _math.pi, _math.e, _math.inf, _math.nan, None

from plugtorch._settings import *  # noqa: E402,F401,F403  (use_deterministic_algorithms, set_num_threads ...)
from plugtorch._legacy_types import *  # noqa: E402,F401,F403  (FloatTensor, LongTensor ...: legacy constructors)
from plugtorch._layout import layout, strided  # noqa: E402,F401
from plugtorch._memory_format import (channels_last, channels_last_3d, contiguous_format,  # noqa: E402,F401
                                      memory_format, preserve_format)
from plugtorch import _layout  # noqa: E402

_layout.install(Tensor)


def typename(obj) -> str:
    """PyTorch's name for ``obj``'s type: 'torch.FloatTensor' for a float32 cpu tensor (its legacy
    type, see ``Tensor.type()``), the qualified class name otherwise.

    >>> plugtorch.typename(plugtorch.ones(2))
    'torch.FloatTensor'
    """
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):          # classes and functions name themselves
        name = obj.__qualname__
    elif hasattr(obj, "__name__"):
        name = obj.__name__
    else:                                     # other objects by their class
        module, name = type(obj).__module__, type(obj).__qualname__
    return name if module in ("", "builtins") else f"{module}.{name}"


from plugtorch._storage import TypedStorage, UntypedStorage, is_storage  # noqa: E402
from plugtorch import _storage as _storage_module  # noqa: E402

globals().update(_storage_module._legacy_storages())   # FloatStorage, LongStorage ...: TypedStorage of a dtype


def is_inference(input) -> bool:
    """``input.is_inference()``: always False here, as ``inference_mode`` is ``no_grad`` in plugtorch
    (it makes no separate kind of tensor)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"is_inference(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return input.is_inference()


def numel(input) -> int:
    return input.numel()


def is_floating_point(input) -> bool:
    return input.dtype.is_floating_point


def broadcast_shapes(*shapes):
    return Size(_meta.broadcast_shapes(*[tuple(s) if not isinstance(s, _builtins.int) else (s,) for s in shapes]))


def broadcast_tensors(*tensors):
    shape = _meta.broadcast_shapes(*[tuple(t.shape) for t in tensors], op="broadcast_tensors")
    return tuple(t.expand(shape) for t in tensors)


def __getattr__(name):
    # device namespaces load on first use, so `import plugtorch` needs neither pyopencl nor cupy
    if name in ("opencl", "cuda"):
        import importlib    # (plugtorch.cuda: a package that is plugtorch/cuda_api.py, holding cuda.amp)
        mod = importlib.import_module("plugtorch.cuda" if name == "cuda" else "plugtorch.opencl_api")
        globals()[name] = mod
        return mod
    if name in ("nn", "optim", "linalg", "fft", "testing", "utils", "library", "distributed", "hub", "onnx",
                "distributions", "signal", "accelerator", "_dynamo", "multiprocessing"):
        import importlib
        mod = importlib.import_module(f"plugtorch.{name}")
        globals()[name] = mod
        return mod
    raise AttributeError(f"module 'plugtorch' has no attribute '{name}'")


# nn's and optim's composite ops (linear, conv2d, cross_entropy, _fused_sgd_ ...) are in the
# registry from the start, so plugtorch.ops, the conformance suite and backend authors see one
# complete set whatever was imported (it costs a few milliseconds)
from plugtorch import nn, optim  # noqa: E402,F401

# mixed precision: autocast (a dispatch mode) and GradScaler, whose ops join the registry here too
from plugtorch import amp  # noqa: E402,F401
from plugtorch.amp import (autocast, clear_autocast_cache, get_autocast_dtype,  # noqa: E402,F401
                           is_autocast_cache_enabled, is_autocast_enabled, set_autocast_dtype)
from plugtorch.amp import GradScaler  # noqa: E402,F401

from plugtorch._ops_indices import range  # noqa: E402,F401,A001  (torch.range; the builtin is _builtins.range here)

# function transforms (torch.func) and torch.vmap at the top level
from plugtorch import func  # noqa: E402,F401
from plugtorch.func import vmap  # noqa: E402,F401

# torch's top-level names for nn's ops whose signatures are the functional ones (nn registered them above)
for _name in ("conv1d", "conv2d", "conv_transpose2d", "max_pool2d", "cosine_similarity", "bilinear", "layer_norm",
              "group_norm", "rms_norm"):
    globals()[_name] = getattr(ops, _name)
# ... and for the functionals whose top-level signatures are the functional ones (not batch_norm,
# instance_norm, embedding: torch orders their arguments differently)
for _name in ("conv3d", "conv_transpose1d", "conv_transpose3d", "conv_tbc", "max_pool1d", "max_pool3d",
              "max_pool1d_with_indices", "avg_pool1d", "adaptive_avg_pool1d", "pixel_shuffle", "pixel_unshuffle",
              "channel_shuffle", "native_channel_shuffle", "hardshrink", "rrelu", "rrelu_", "celu", "celu_", "selu",
              "selu_", "threshold", "threshold_", "prelu", "pairwise_distance", "dropout", "alpha_dropout",
              "feature_alpha_dropout"):
    globals()[_name] = getattr(nn.functional, _name)
adaptive_max_pool1d = nn.functional.adaptive_max_pool1d_with_indices   # (torch's returns values and indices)

# torch's top-level forms with ATen's argument orders (batch_norm, embedding, the losses' integer
# reductions, the functional RNN cells, convolution, grid_sampler ...), poisson, binomial, frombuffer
from plugtorch._nn_toplevel import *  # noqa: E402,F401,F403

# out= for every function whose torch counterpart takes it (the table is in plugtorch/_out.py)
from plugtorch import _out  # noqa: E402

_out.install(globals(), "")
_out.install(vars(nn.functional), "nn.functional")
