"""Op declarations, one module per family; importing this package fills the registry."""
from plugtorch.dispatch.ops import pointwise, reductions, shape, indexing, linalg, creation, fft  # noqa: F401
from plugtorch.dispatch.ops import composite  # noqa: F401
from plugtorch.dispatch.ops import linalg_composite  # noqa: F401
from plugtorch.dispatch.ops import complex  # noqa: F401
from plugtorch.dispatch.ops import linalg_compact  # noqa: F401
from plugtorch.dispatch.ops import special  # noqa: F401
from plugtorch.dispatch.ops import arrangements, scans, scatters, statistics, spectral, matrix_functions, linalg_eig  # noqa: F401,E501
from plugtorch.dispatch.ops import searching  # noqa: F401
from plugtorch.dispatch.ops import rnn  # noqa: F401  (_rnn_layer)

complex.refuse_complex(complex.REAL_ONLY_OPS)   # (nn's ops again when plugtorch.nn registers them)
