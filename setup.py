"""Package layout and the optional C extensions (everything else is in pyproject.toml).

The conformance suite lives in the top-level ``conformance/`` folder (DESIGN.md) and ships
inside the wheel as ``plugtorch.conformance``, so no bare ``conformance`` module lands in
site-packages. pyproject.toml cannot combine package discovery with such a mapping.

``plugtorch.backends.opencl._fastlaunch`` (the opencl backend's launch hot paths in C, see
docs/opencl.md) needs only a C compiler and the Python headers, no OpenCL SDK; it is optional:
where it does not build, the install goes on and the backend runs its Python paths.
``plugtorch.dispatch._fastop`` (the Tensor operators' memo hits in C, see docs/opencl.md) is
optional the same way: without it the operators are the dispatcher's Python functions.
``plugtorch.compiler._fastcall`` (a compiled function's call in C, see docs/jit.md) is optional
too: without it, ``CompiledFunction`` calls through the same path written in Python.
"""
from setuptools import Extension, find_packages, setup

setup(
    packages=find_packages(include=["plugtorch", "plugtorch.*"])
    + ["plugtorch.conformance"] + [f"plugtorch.conformance.{p}" for p in find_packages("conformance")],
    package_dir={"plugtorch.conformance": "conformance"},
    ext_modules=[Extension("plugtorch.backends.opencl._fastlaunch",
                           ["plugtorch/backends/opencl/_fastlaunch.c"], optional=True),
                 Extension("plugtorch.dispatch._fastop", ["plugtorch/dispatch/_fastop.c"], optional=True),
                 Extension("plugtorch.compiler._fastcall", ["plugtorch/compiler/_fastcall.c"], optional=True)],
)
