"""cpu kernel of the nn op ``_embedding_bag`` (plugtorch/nn/ops.py): the bags
``input[offsets[b]:offsets[b + 1]]`` of a 1-D input, where the decomposition runs about twenty
ops (scatters, a cumsum, host reads for its checks).

Sums (and means) are a product of the (bags, num_embeddings) sparse matrix that holds each bag's
indices (per_sample_weights, or ones, as its values) with the weight: SciPy's CSR kernel adds
each bag's rows in input order from zero, products rounded first, as the decomposition's
accumulating scatter does, so the values are its values bit for bit; no (n, dim) copy of the
rows is made. Maxima are one ``maximum.reduceat`` over the gathered rows (nan wins). Padding
entries are left out (and not counted by a mean); an empty bag gives zeros.
"""
from __future__ import annotations

import numpy as np

try:   # the CSR-times-dense loop itself: csr_matrix's construction checks cost as much as the product
    from scipy.sparse._sparsetools import csr_matvecs as _csr_matvecs
except ImportError:   # (pragma: no cover) another SciPy: through the public class
    _csr_matvecs = None

_CSR_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _check(idx, off, k, n, nb):
    """The decomposition's data checks and messages (plugtorch/nn/functional/sparse.py)."""
    if n and (idx.min() < 0 or idx.max() >= k):
        raise RuntimeError(f"embedding_bag: index out of range (weight has {k} rows, indices must be in [0, {k}))")
    if nb < 0:
        raise RuntimeError("embedding_bag: include_last_offset=True needs at least one offset (the end)")
    if off.size:
        if off[0] != 0:
            raise RuntimeError("offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
                               f"from position 0. However, got {int(off[0])}")
        if off[-1] > n:
            raise RuntimeError(f"offsets[-1] can not be greater than input's length {n} but got offsets[-1] of "
                               f"{int(off[-1])}")
        if (off[1:] < off[:-1]).any():
            raise RuntimeError("embedding_bag: offsets must be non-decreasing (bag b is input[offsets[b]:offsets[b + 1]])")


def _bag_sums(weight, cols, vals, ptr, nb):
    """(nb, dim): bag b sums ``vals[j] * weight[cols[j]]`` for j in ptr[b]:ptr[b + 1], in order from 0."""
    d = weight.shape[1]
    if weight.dtype not in _CSR_DTYPES:   # float16, bfloat16: a scatter in input order, in the dtype
        out = np.zeros((nb, d), weight.dtype)
        rows = weight.take(cols, axis=0)
        if vals is not None:
            rows *= vals[:, None]
        np.add.at(out, np.repeat(np.arange(nb), np.diff(ptr)), rows)
        return out
    vals = np.ones(cols.size, weight.dtype) if vals is None else vals
    if _csr_matvecs is None:
        import scipy.sparse
        return np.asarray(scipy.sparse.csr_matrix((vals, cols, ptr), shape=(nb, weight.shape[0])) @ weight)
    out = np.zeros((nb, d), weight.dtype)
    _csr_matvecs(nb, weight.shape[0], d, ptr, cols, vals, np.ascontiguousarray(weight).reshape(-1), out.reshape(-1))
    return out


def embedding_bag(input, weight, offsets, mode, per_sample_weights, include_last_offset, padding_idx):
    """The nn op: (bags, dim) sums, means or maxima of ``weight``'s rows picked by the 1-D ``input``."""
    n, k = input.shape[0], weight.shape[0]
    off = offsets.astype(np.intp, copy=False)
    nb = off.shape[0] - 1 if include_last_offset else off.shape[0]
    _check(input, off, k, n, nb)
    # (as PyTorch's, the last bag runs to the end of the input whatever include_last_offset's end says)
    if nb <= 0:
        return np.zeros((0,) + weight.shape[1:], weight.dtype)
    bounds = np.append(off[:nb], n)                        # bag b: bounds[b]:bounds[b + 1]
    cols = input.astype(np.intp, copy=False)
    if padding_idx is not None:                            # padding entries left out: bounds among the rest
        valid = cols != padding_idx
        bounds = np.concatenate([[0], np.cumsum(valid)])[bounds]
        cols = cols[valid]
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights[valid]
    count = np.diff(bounds)
    if mode == "max":
        out = np.zeros((nb,) + weight.shape[1:], weight.dtype)
        full = count > 0
        if full.any():
            out[full] = np.maximum.reduceat(weight.take(cols, axis=0), bounds[:-1][full], axis=0)
        return out
    out = _bag_sums(weight, cols, per_sample_weights, bounds, nb)
    if mode == "mean":
        out /= np.maximum(count, 1).astype(out.dtype)[:, None]
    return out


KERNELS = {"_embedding_bag": embedding_bag}
