"""The examples in plugtorch.nn's docstrings run and print what they claim."""
import doctest
import importlib
import pkgutil

import pytest

import plugtorch as pt
import plugtorch.nn

MODULES = sorted(m.name for m in pkgutil.walk_packages(plugtorch.nn.__path__, "plugtorch.nn."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    pt.manual_seed(0)
    result = doctest.testmod(importlib.import_module(name), extraglobs={"pt": pt, "plugtorch": pt},
                             optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
