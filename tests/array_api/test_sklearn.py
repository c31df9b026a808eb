"""scikit-learn's Array API dispatch on plugtorch tensors gives NumPy's results, on cpu and
opencl: scalers, PCA, LinearDiscriminantAnalysis, Ridge, metrics and pairwise distances.

Each device runs tests/array_api/sklearn_run.py in a child process with SCIPY_ARRAY_API=1 (SciPy
reads it once, at import); the child fits every estimator on NumPy arrays and on tensors and
saves both results, which are compared here. The results of dispatched calls must stay on the
tensors' device, and nothing may warn (no cpu fallback, no solver substitution)."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

from tests.array_api.conftest import DEVICES  # noqa: E402

RUNNER = pathlib.Path(__file__).with_name("sklearn_run.py")
CASES = ["StandardScaler", "MinMaxScaler", "PCA.transform", "PCA.explained_variance_ratio_", "LDA.predict",
         "LDA.transform", "LDA.predict_proba", "Ridge.predict", "Ridge.coef_", "r2_score", "mean_squared_error",
         "accuracy_score", "euclidean_distances"]


@pytest.fixture(scope="module", params=DEVICES)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("sklearn") / f"{request.param}.npz"
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    r = subprocess.run([sys.executable, str(RUNNER), request.param, str(out)], env=env, capture_output=True,
                       text=True, timeout=600, cwd=RUNNER.parents[2])
    assert r.returncode == 0, r.stderr[-3000:]
    return request.param, dict(np.load(out))


@pytest.mark.parametrize("case", CASES)
def test_same_results_as_numpy(results, case):
    device, saved = results
    want, got = saved[f"{case}/numpy"], saved[f"{case}/plugtorch"]
    assert got.shape == want.shape
    if want.dtype.kind in "iub":
        np.testing.assert_array_equal(got, want)
    elif case == "accuracy_score":   # counted in the namespace's default float: float32, as on torch
        np.testing.assert_allclose(got, want, rtol=1e-7)
    else:   # float64 on both sides: LAPACK on cpu, own kernels and host LAPACK on opencl
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11 * max(1.0, float(np.abs(want).max())))
    dev = str(saved[f"{case}/device"])
    assert dev == "-" or dev.split(":")[0] == device, f"{case} came back on {dev}"
    assert list(saved[f"{case}/warnings"]) == []
