"""``plugtorch.utils.benchmark``: time statements as ``torch.utils.benchmark`` does.

>>> import plugtorch as pt
>>> from plugtorch.utils import benchmark
>>> t = benchmark.Timer("x * 2", globals={"x": pt.ones(8)}, label="mul", description="n=8")
>>> m = t.blocked_autorange(min_run_time=0.01)
>>> m.median > 0 and m.number_per_run >= 1
True
"""
from plugtorch.utils.benchmark.common import (Measurement, TaskSpec, ordered_unique, select_unit,  # noqa: F401
                                              trim_sigfig, unit_to_english)
from plugtorch.utils.benchmark.timer import Language, Timer, timer  # noqa: F401
from plugtorch.utils.benchmark.compare import Colorize, Compare  # noqa: F401
