"""Makes ``import plugtorch.cuda`` and ``from plugtorch.cuda.amp import ...`` work.

The ``plugtorch.cuda`` namespace itself is ``plugtorch/cuda_api.py`` (loaded on first use, so
``import plugtorch`` needs no CuPy); this package puts that module under the name
``plugtorch.cuda`` and lends it this folder, which holds its submodules (``amp``).
"""
import sys

from plugtorch import cuda_api as _api

_api.__path__ = __path__
sys.modules[__name__] = _api
