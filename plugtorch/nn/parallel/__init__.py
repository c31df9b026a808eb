"""Parallel training wrappers, as ``torch.nn.parallel``.

``DistributedDataParallel`` needs a process group (``plugtorch.distributed.init_process_group``);
importing this package imports no MPI.
"""
from plugtorch.nn.parallel.data_parallel import DataParallel, data_parallel, gather, replicate, scatter  # noqa: F401
from plugtorch.nn.parallel.distributed import DistributedDataParallel  # noqa: F401
