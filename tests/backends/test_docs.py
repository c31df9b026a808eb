"""docs/backends.md cannot go stale: its core-op list is generated from the registry, and its
minimal backend runs."""
import pathlib
import re
import sys

import plugtorch as pt
from plugtorch.dispatch import registry

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import gen_backend_docs  # noqa: E402

DOC = (ROOT / "docs" / "backends.md").read_text()


def test_core_op_list_matches_the_registry():
    assert gen_backend_docs.listed_ops(DOC) == sorted(n for n in registry.core_ops() if "::" not in n)
    assert gen_backend_docs.render(DOC) == DOC, "docs/backends.md is stale: run python tools/gen_backend_docs.py"


def test_every_listed_op_has_a_cpu_kernel_with_the_listed_arguments():
    cpu = pt.backends.get_backend("cpu").kernels
    for line in DOC.splitlines():
        m = re.match(r"\| `(\(.*?\))` \| (.*) \|$", line)
        if m:
            for name in re.findall(r"`(\w+)`", m.group(2)):
                assert gen_backend_docs.kernel_args(cpu[name]) == m.group(1), name


def test_minimal_backend_example_runs():
    code = DOC.split("<!-- example: minimal-backend -->", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    exec(compile(code, "docs/backends.md", "exec"), {})
    assert not pt.backends.is_registered("toy")


def test_readme_links_the_guide():
    assert "(docs/backends.md)" in (ROOT / "README.md").read_text()
