"""Utilities beside the core: ``plugtorch.utils.data`` (datasets and loaders), ``checkpoint``
(activation checkpointing), ``dlpack`` (to_dlpack/from_dlpack), ``hooks`` (RemovableHandle),
``flop_counter`` (FlopCounterMode) and ``swap_tensors``."""
from plugtorch.utils import data  # noqa: F401
from plugtorch.utils import checkpoint  # noqa: F401,E402
from plugtorch.utils import dlpack  # noqa: F401,E402
from plugtorch.utils._swap import swap_tensors  # noqa: F401,E402
from plugtorch.utils import hooks  # noqa: F401,E402
from plugtorch.utils import flop_counter  # noqa: F401,E402
