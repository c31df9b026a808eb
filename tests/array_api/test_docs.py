"""The README's Array API example runs as written and prints what its comment says; the
examples in plugtorch.array_api's docstrings (and the default device's) run as shown."""
import doctest
import importlib
import pathlib
import pkgutil
import re
import subprocess
import sys

import pytest

import plugtorch as pt

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULES = ["plugtorch.array_api", "plugtorch._device"] + sorted(
    m.name for m in pkgutil.walk_packages(importlib.import_module("plugtorch.array_api").__path__,
                                          "plugtorch.array_api."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), extraglobs={"pt": pt, "plugtorch": pt})
    assert result.failed == 0


@pytest.mark.skipif(not pt.opencl.is_available(), reason="no OpenCL device")
def test_readme_scikit_learn_example():
    pytest.importorskip("sklearn", minversion="1.6")
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The Array API: scikit-learn on an OpenCL device", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    device, score = r.stdout.split()
    assert device == "opencl:0" and round(float(score), 2) == 0.99
    assert "(docs/array_api.md)" in readme
