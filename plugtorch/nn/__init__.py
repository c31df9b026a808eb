"""``plugtorch.nn``: modules, layers, losses, initialisation and ``nn.functional``.

Modules are thin stateful wrappers whose ``forward`` calls ``plugtorch.nn.functional``, which
calls plugtorch ops (the heavy ones as composite ops a backend may override, see ``ops.py``).

>>> import plugtorch as pt
>>> net = pt.nn.Sequential(pt.nn.Linear(4, 8), pt.nn.ReLU(), pt.nn.Linear(8, 2))
>>> net(pt.randn(3, 4)).shape
plugtorch.Size([3, 2])
"""
import importlib as _importlib

from plugtorch.nn.parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter  # noqa: F401
from plugtorch.nn import functional  # noqa: F401
from plugtorch.nn import init  # noqa: F401
from plugtorch.nn.modules import *  # noqa: F401,F403
from plugtorch.nn.modules.module import Module  # noqa: F401
from plugtorch.nn import utils  # noqa: F401
from plugtorch.nn import parallel  # noqa: F401
# (the star import above bound ``attention`` to plugtorch.nn.modules.attention: rebind it to the package)
attention = _importlib.import_module("plugtorch.nn.attention")
from plugtorch.nn.parallel import DataParallel  # noqa: F401
