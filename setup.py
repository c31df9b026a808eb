"""Package layout (everything else is in pyproject.toml).

The conformance suite lives in the top-level ``conformance/`` folder (DESIGN.md) and ships
inside the wheel as ``plugtorch.conformance``, so no bare ``conformance`` module lands in
site-packages. pyproject.toml cannot combine package discovery with such a mapping.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["plugtorch", "plugtorch.*"])
    + ["plugtorch.conformance"] + [f"plugtorch.conformance.{p}" for p in find_packages("conformance")],
    package_dir={"plugtorch.conformance": "conformance"},
)
