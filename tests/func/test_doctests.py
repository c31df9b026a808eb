"""The examples in plugtorch.func's and plugtorch.autograd.functional's docstrings run and print what they claim."""
import doctest
import importlib

import pytest

import plugtorch as pt

MODULES = ["plugtorch.func", "plugtorch.func._pytree", "plugtorch.func._transforms", "plugtorch.func._vmap", "plugtorch.func._modules",
           "plugtorch.autograd.functional"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    pt.manual_seed(0)
    result = doctest.testmod(importlib.import_module(name), extraglobs={"pt": pt, "plugtorch": pt},
                             optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
