"""Named tuples returned by ops with several outputs, as ``torch.return_types``."""
from collections import namedtuple as _namedtuple


def namedtuple(name, fields):
    """A named tuple printed as PyTorch prints its return types:
    ``plugtorch.return_types.max(\\nvalues=tensor([3]),\\nindices=tensor([0]))``."""
    base = _namedtuple(name, fields)

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
        return f"plugtorch.return_types.{name}(\n{body})"
    return type(name, (base,), {"__slots__": (), "__repr__": __repr__, "__module__": __name__})


max = namedtuple("max", ["values", "indices"])
min = namedtuple("min", ["values", "indices"])
sort = namedtuple("sort", ["values", "indices"])
topk = namedtuple("topk", ["values", "indices"])
kthvalue = namedtuple("kthvalue", ["values", "indices"])
mode = namedtuple("mode", ["values", "indices"])
aminmax = namedtuple("aminmax", ["min", "max"])
median = namedtuple("median", ["values", "indices"])
nanmedian = namedtuple("nanmedian", ["values", "indices"])
linalg_cholesky_ex = namedtuple("linalg_cholesky_ex", ["L", "info"])
linalg_inv_ex = namedtuple("linalg_inv_ex", ["inverse", "info"])
linalg_solve_ex = namedtuple("linalg_solve_ex", ["result", "info"])
linalg_slogdet = namedtuple("linalg_slogdet", ["sign", "logabsdet"])
linalg_qr = namedtuple("linalg_qr", ["Q", "R"])
linalg_eigh = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
linalg_svd = namedtuple("linalg_svd", ["U", "S", "Vh"])
linalg_lstsq = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])
slogdet = namedtuple("slogdet", ["sign", "logabsdet"])
svd = namedtuple("svd", ["U", "S", "V"])
qr = namedtuple("qr", ["Q", "R"])
frexp = namedtuple("frexp", ["mantissa", "exponent"])
cummax = namedtuple("cummax", ["values", "indices"])
cummin = namedtuple("cummin", ["values", "indices"])
histogram = namedtuple("histogram", ["hist", "bin_edges"])
linalg_lu_factor = namedtuple("linalg_lu_factor", ["LU", "pivots"])
linalg_lu_factor_ex = namedtuple("linalg_lu_factor_ex", ["LU", "pivots", "info"])
linalg_lu = namedtuple("linalg_lu", ["P", "L", "U"])
lu_unpack = namedtuple("lu_unpack", ["P", "L", "U"])
histogramdd = namedtuple("histogramdd", ["hist", "bin_edges"])
linalg_eig = namedtuple("linalg_eig", ["eigenvalues", "eigenvectors"])
triangular_solve = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])
geqrf = namedtuple("geqrf", ["a", "tau"])
linalg_ldl_factor_ex = namedtuple("linalg_ldl_factor_ex", ["LD", "pivots", "info"])
linalg_ldl_factor = namedtuple("linalg_ldl_factor", ["LD", "pivots"])
