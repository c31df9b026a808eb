"""Lets ``pytest conformance --backend NAME`` run the suite from a checkout: this folder's conftest
is loaded before pytest parses the options when the folder is named on the command line, and it
loads the plugin (pytest_plugin.py) unless ``-p plugtorch.conformance.pytest_plugin`` already did."""
from plugtorch.conformance import pytest_plugin as _plugin


def pytest_addoption(parser, pluginmanager):
    if not pluginmanager.has_plugin(_plugin.__name__) and not pluginmanager.is_registered(_plugin):
        pluginmanager.register(_plugin, _plugin.__name__)   # (pytest replays its addoption and configure)
