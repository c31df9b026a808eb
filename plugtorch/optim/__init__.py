"""Optimizers and learning-rate schedulers, as ``torch.optim``.

>>> import plugtorch as pt
>>> w = pt.ones(3, requires_grad=True)
>>> opt = pt.optim.Adam([w], lr=0.1)
>>> w.square().sum().backward(); opt.step(); opt.zero_grad()
"""
from plugtorch.optim import lr_scheduler  # noqa: F401
from plugtorch.optim.adagrad import Adagrad, adagrad  # noqa: F401
from plugtorch.optim.adam import Adam, adam  # noqa: F401
from plugtorch.optim.adamw import AdamW, adamw  # noqa: F401
from plugtorch.optim.optimizer import Optimizer  # noqa: F401
from plugtorch.optim.rmsprop import RMSprop, rmsprop  # noqa: F401
from plugtorch.optim.sgd import SGD, sgd  # noqa: F401
