"""Optimizers and learning-rate schedulers, as ``torch.optim``.

>>> import plugtorch as pt
>>> w = pt.ones(3, requires_grad=True)
>>> opt = pt.optim.Adam([w], lr=0.1)
>>> w.square().sum().backward(); opt.step(); opt.zero_grad()

Each algorithm's update is also a plain function in its module (``plugtorch.optim.sgd.sgd``,
``plugtorch.optim.adam.adam`` ...), as in PyTorch.
"""
from plugtorch.optim import lr_scheduler, swa_utils  # noqa: F401
from plugtorch.optim.adadelta import Adadelta  # noqa: F401
from plugtorch.optim.adafactor import Adafactor  # noqa: F401
from plugtorch.optim.adagrad import Adagrad  # noqa: F401
from plugtorch.optim.adam import Adam  # noqa: F401
from plugtorch.optim.adamax import Adamax  # noqa: F401
from plugtorch.optim.adamw import AdamW  # noqa: F401
from plugtorch.optim.asgd import ASGD  # noqa: F401
from plugtorch.optim.lbfgs import LBFGS  # noqa: F401
from plugtorch.optim.muon import Muon  # noqa: F401
from plugtorch.optim.nadam import NAdam  # noqa: F401
from plugtorch.optim.optimizer import Optimizer  # noqa: F401
from plugtorch.optim.radam import RAdam  # noqa: F401
from plugtorch.optim.rmsprop import RMSprop  # noqa: F401
from plugtorch.optim.rprop import Rprop  # noqa: F401
from plugtorch.optim.sgd import SGD  # noqa: F401
from plugtorch.optim.sparse_adam import SparseAdam  # noqa: F401
