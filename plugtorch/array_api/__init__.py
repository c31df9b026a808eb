"""``plugtorch.array_api``: the Python Array API standard (2024.12) over plugtorch tensors.

Its arrays are ``plugtorch.Tensor``: ``x.__array_namespace__()`` returns this module, so
libraries that dispatch through the standard (scikit-learn with ``array_api_dispatch=True``,
SciPy, array-api-compat's ``array_namespace``) run on tensors of any plugtorch device. Every
function is written over plugtorch ops, so it runs on every backend (cpu, opencl, cuda,
plug-ins) and records autograd like any other plugtorch code.

The functions follow the standard where it differs from PyTorch's functions: ``axis=`` and
``keepdims=``, type promotion (no mixing of kinds, 0-d arrays promote like others, Python
scalars take the array's dtype), ``unique_*``, stable sorts, ``copy=`` of ``asarray`` and
``reshape``. Operators on tensors (``x + y``, ``x[i]``) stay PyTorch's. complex64 and complex128
are in (docs/complex.md); uint16/uint32/uint64 are not; see docs/array_api.md for the full list.

>>> import plugtorch.array_api as xp
>>> x = xp.asarray([[1., 2.], [3., 4.]])
>>> xp.mean(x, axis=0).tolist()
[2.0, 3.0]
>>> x.__array_namespace__() is xp
True
"""
from __future__ import annotations

import sys

from plugtorch.array_api._creation import *  # noqa: F401,F403
from plugtorch.array_api._creation import __all__ as _creation_all
from plugtorch.array_api._dtypes import (astype, bool, can_cast, complex64, complex128, e, finfo,  # noqa: F401
                                         float32, float64, iinfo, inf, int8, int16, int32, int64, isdtype, nan,
                                         newaxis, pi, result_type, uint8)
from plugtorch.array_api._elementwise import *  # noqa: F401,F403
from plugtorch.array_api._elementwise import __all__ as _elementwise_all
from plugtorch.array_api._info import __array_namespace_info__  # noqa: F401
from plugtorch.array_api._linear_algebra import *  # noqa: F401,F403
from plugtorch.array_api._linear_algebra import __all__ as _linear_algebra_all
from plugtorch.array_api._manipulation import *  # noqa: F401,F403
from plugtorch.array_api._manipulation import __all__ as _manipulation_all
from plugtorch.array_api._searching import *  # noqa: F401,F403
from plugtorch.array_api._searching import __all__ as _searching_all
from plugtorch.array_api._statistical import *  # noqa: F401,F403
from plugtorch.array_api._statistical import __all__ as _statistical_all
from plugtorch.array_api import fft, linalg  # noqa: E402,F401

__array_api_version__ = "2024.12"
# the versions __array_namespace__(api_version=) accepts: each later one is a superset here
SUPPORTED_VERSIONS = ("2021.12", "2022.12", "2023.12", "2024.12")

__all__ = (["__array_api_version__", "__array_namespace_info__", "astype", "bool", "can_cast", "complex64",
            "complex128", "e", "fft",
            "finfo", "float32", "float64", "iinfo", "inf", "int8", "int16", "int32", "int64", "isdtype", "linalg",
            "nan", "newaxis", "pi", "result_type", "uint8"]
           + _creation_all + _elementwise_all + _linear_algebra_all + _manipulation_all + _searching_all
           + _statistical_all)


def namespace(api_version=None):
    """This module, for ``Tensor.__array_namespace__(api_version=)``: ValueError for a version
    of the standard it does not implement."""
    if api_version is not None and api_version not in SUPPORTED_VERSIONS:
        raise ValueError(f"__array_namespace__(): api_version {api_version!r} is not supported; plugtorch.array_api "
                         f"implements {', '.join(SUPPORTED_VERSIONS)}")
    return sys.modules[__name__]
