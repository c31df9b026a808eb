"""The dispatcher: op registry, meta functions, modes and CPU fallback."""
from plugtorch.dispatch import meta, registry  # noqa: F401
from plugtorch.dispatch.dispatcher import (DispatchMode, cpu_fallback_enabled, dispatch,  # noqa: F401
                                           set_cpu_fallback)
from plugtorch.dispatch.registry import OPS, get, register_op  # noqa: F401
