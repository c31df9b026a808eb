"""Fit scikit-learn estimators on NumPy arrays and, with array_api_dispatch=True, on plugtorch
tensors of one device; save both results for tests/array_api/test_sklearn.py to compare.

    SCIPY_ARRAY_API=1 python tests/array_api/sklearn_run.py DEVICE OUT.npz

Runs in its own process because SciPy reads SCIPY_ARRAY_API once, when it is first imported.
For each case OUT holds ``<case>/numpy`` and ``<case>/plugtorch`` (the tensor's values), and
``<case>/device``: the device the result came back on ("-" for a Python number), and
``<case>/warnings``: what was warned during the dispatched call.
"""
from __future__ import annotations

import sys
import warnings

import numpy as np
import sklearn
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import Ridge
from sklearn.metrics import accuracy_score, mean_squared_error, r2_score
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import plugtorch as pt
import plugtorch.array_api as xp


def data(dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 6)) * [1, 2, 3, 0.5, 1, 10] + [0, 1, -2, 0, 5, 0]
    y = (X[:, 0] + 0.5 * X[:, 1] - 0.2 * X[:, 2] > 0.5).astype(np.int64) + (X[:, 4] > 5)
    yr = X @ np.arange(1.0, 7.0) + 0.1 * rng.normal(size=80)
    return X.astype(dtype), y, yr.astype(dtype)


CASES = {
    "StandardScaler": lambda X, y, yr: StandardScaler().fit_transform(X),
    "MinMaxScaler": lambda X, y, yr: MinMaxScaler().fit(X).transform(X[:7]),
    "PCA.transform": lambda X, y, yr: PCA(n_components=3, svd_solver="full").fit_transform(X),
    "PCA.explained_variance_ratio_": lambda X, y, yr: PCA(n_components=3, svd_solver="full").fit(X)
    .explained_variance_ratio_,
    "LDA.predict": lambda X, y, yr: LinearDiscriminantAnalysis().fit(X, y).predict(X),
    "LDA.transform": lambda X, y, yr: LinearDiscriminantAnalysis(solver="svd").fit(X, y).transform(X),
    "LDA.predict_proba": lambda X, y, yr: LinearDiscriminantAnalysis().fit(X, y).predict_proba(X),
    "Ridge.predict": lambda X, y, yr: Ridge(alpha=1.0, solver="svd").fit(X, yr).predict(X),
    "Ridge.coef_": lambda X, y, yr: Ridge(alpha=0.5, solver="svd").fit(X, yr).coef_,
    "r2_score": lambda X, y, yr: r2_score(yr, 0.9 * yr),
    "mean_squared_error": lambda X, y, yr: mean_squared_error(yr, 0.9 * yr),
    "accuracy_score": lambda X, y, yr: accuracy_score(y[:40], y[40:]),
    "euclidean_distances": lambda X, y, yr: euclidean_distances(X[:5], X[5:9]),
}


def main(device: str, out: str) -> None:
    has_f64 = "float64" in xp.__array_namespace_info__().dtypes(device=device)
    dtype = np.float64 if has_f64 else np.float32
    X, y, yr = data(dtype)
    tX, ty, tyr = (pt.asarray(a, device=device) for a in (X, y, yr))
    saved = {}
    for name, f in CASES.items():
        saved[f"{name}/numpy"] = np.asarray(f(X, y, yr))
        with sklearn.config_context(array_api_dispatch=True), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = f(tX, ty, tyr)
        # UserWarnings (scikit-learn's, plugtorch's cpu fallback); NumPy's RuntimeWarnings of
        # kernels meeting 0/0 are silenced by plugtorch and only show here through "always"
        saved[f"{name}/warnings"] = np.array([str(w.message) for w in caught if issubclass(w.category, UserWarning)],
                                             dtype=str)
        if isinstance(got, pt.Tensor):
            saved[f"{name}/device"] = np.array(str(got.device))
            got = got.cpu().numpy()
        else:
            saved[f"{name}/device"] = np.array("-")
        saved[f"{name}/plugtorch"] = np.asarray(got)
    np.savez(out, **saved)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
