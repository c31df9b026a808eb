"""The package's layers import one way (DESIGN.md): the bottom (_caches, _dtypes, _device)
imports nothing above it; the dispatcher and the backend registry never import each other;
``_tensor`` imports neither the public functions nor autograd, which ``_methods`` attaches
(the one place where Tensor is bound late). Function-level imports count too."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import plugtorch

ROOT = Path(plugtorch.__file__).parent


def imported_modules(path: Path) -> set:
    """Every plugtorch module ``path`` imports, at any depth of the file."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module != "plugtorch":     # `from plugtorch import _dtypes` is plugtorch._dtypes
                out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return {m for m in out if m == "plugtorch" or m.startswith("plugtorch.")}


ROOT_PACKAGE = "plugtorch"    # `import plugtorch` (exactly): reaches every layer at once
LOWER_LAYERS_MAY_NOT = [ROOT_PACKAGE, "plugtorch.autograd", "plugtorch._ops_public", "plugtorch.nn"]

RULES = [
    # (module file, modules (and their submodules) it must not import)
    ("_caches.py", ["plugtorch."] + LOWER_LAYERS_MAY_NOT),
    ("_dtypes.py", ["plugtorch.dispatch", "plugtorch.backends", "plugtorch._device", "plugtorch._tensor",
                    *LOWER_LAYERS_MAY_NOT]),
    ("_device.py", ["plugtorch.dispatch", "plugtorch.backends", "plugtorch._tensor", "plugtorch._dtypes",
                    *LOWER_LAYERS_MAY_NOT]),
    ("dispatch/dispatcher.py", ["plugtorch.backends", "plugtorch._tensor", *LOWER_LAYERS_MAY_NOT]),
    ("dispatch/meta.py", ["plugtorch.backends", *LOWER_LAYERS_MAY_NOT]),
    ("dispatch/registry.py", ["plugtorch.backends", *LOWER_LAYERS_MAY_NOT]),
    ("dispatch/checked.py", ["plugtorch.backends", *LOWER_LAYERS_MAY_NOT]),
    ("backends/__init__.py", ["plugtorch.dispatch", *LOWER_LAYERS_MAY_NOT]),
    ("backends/plugins.py", ["plugtorch.dispatch", *LOWER_LAYERS_MAY_NOT]),
    ("backends/base.py", ["plugtorch.dispatch", *LOWER_LAYERS_MAY_NOT]),
    ("_tensor.py", ["plugtorch._methods", *LOWER_LAYERS_MAY_NOT]),
]


def _forbidden(module, prefix):
    if prefix == ROOT_PACKAGE:
        return module == ROOT_PACKAGE
    if prefix.endswith("."):
        return module.startswith(prefix) and not module.startswith("plugtorch._caches")
    return module == prefix or module.startswith(prefix + ".")


@pytest.mark.parametrize("module,forbidden", RULES, ids=[r[0] for r in RULES])
def test_module_does_not_import_the_layers_above_it(module, forbidden):
    found = imported_modules(ROOT / module)
    bad = sorted(m for m in found if any(_forbidden(m, f) for f in forbidden))
    assert not bad, f"{module} imports {bad}, a layer above it"


def test_the_import_scan_sees_function_level_and_root_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("from plugtorch import _dtypes\ndef g():\n    import plugtorch\n"
                 "    from plugtorch.autograd import graph\n")
    assert imported_modules(f) == {"plugtorch._dtypes", "plugtorch", "plugtorch.autograd",
                                   "plugtorch.autograd.graph"}
