"""The examples in plugtorch.distributions' docstrings run and print what they claim."""
import doctest
import importlib
import pkgutil

import pytest

import plugtorch as pt
import plugtorch.distributions

MODULES = ["plugtorch.distributions"] + sorted(
    m.name for m in pkgutil.walk_packages(plugtorch.distributions.__path__, "plugtorch.distributions."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    pt.manual_seed(0)
    result = doctest.testmod(importlib.import_module(name), extraglobs={"pt": pt, "plugtorch": pt},
                             optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
