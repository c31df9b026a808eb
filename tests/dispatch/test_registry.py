"""The tables held against each other: ops, cpu kernels, public functions and Tensor methods."""
import inspect
import sys

import pytest

import plugtorch as pt
from plugtorch import _methods, _ops_public
from plugtorch.backends import get_backend
from plugtorch.dispatch import registry

CPU = get_backend("cpu")


@pytest.mark.parametrize("name", registry.core_ops())
def test_every_core_op_has_a_cpu_kernel(name):
    assert name in CPU.kernels, f"core op '{name}' has no cpu kernel"


def test_every_cpu_kernel_is_a_registered_op():
    # "<op>_" names the optional in-place kernel of a registered op <op>; nn ops (linear) are
    # registered when plugtorch.nn is imported, optim's (_fused_sgd_) with plugtorch.optim
    import plugtorch.nn  # noqa: F401
    import plugtorch.optim  # noqa: F401
    names = {n[:-1] if n.endswith("_") and n[:-1] in registry.OPS else n for n in CPU.kernels}
    assert sorted(names - set(registry.OPS)) == []


@pytest.mark.parametrize("name", sorted(_ops_public.PUBLIC_TO_OP))
def test_public_function_maps_to_registered_op(name):
    assert _ops_public.PUBLIC_TO_OP[name] in registry.OPS
    assert callable(getattr(pt, name, None) or getattr(_ops_public, name))


@pytest.mark.parametrize("name", sorted(_ops_public.__all__))
def test_all_exports_are_ops_and_reachable(name):
    assert name in _ops_public.PUBLIC_TO_OP or name in registry.OPS
    assert getattr(pt, name) is getattr(_ops_public, name)


@pytest.mark.parametrize("name", sorted(set(_methods.METHODS) | {n + "_" for n in _methods.INPLACE}
                                        | {n + "_" for n in _methods.METADATA_INPLACE}))
def test_every_tensor_method_maps_to_an_op(name):
    in_place = set(_methods.INPLACE) | set(_methods.METADATA_INPLACE)
    base = name[:-1] if name.endswith("_") and name[:-1] in in_place else name
    assert base in _ops_public.PUBLIC_TO_OP or base in registry.OPS
    assert callable(getattr(pt.Tensor, name))


def test_every_public_op_is_reachable():
    for name, op in registry.OPS.items():
        assert getattr(pt.ops, name)._op is op
        if not name.startswith("_") and not name.endswith("_"):
            # nn's composite ops (registered when plugtorch.nn loads) live in nn.functional
            in_nn = "plugtorch.nn" in sys.modules and hasattr(pt.nn.functional, name)
            assert hasattr(pt, name) or in_nn or name in ("slice", "view", "index", "vector_norm"), name


def test_op_definitions_are_consistent():
    for name, op in registry.OPS.items():
        assert op.name == name
        assert op.tags <= registry.KNOWN_TAGS
        assert isinstance(op.signature, inspect.Signature)
        assert op.is_core == (op.decomposition is None)
        if "view" in op.tags:
            assert op.out_kind == registry.OUT_VIEW
        if "inplace" in op.tags:
            assert op.out_kind == registry.OUT_INPLACE
    assert repr(registry.get("add")).startswith("<op add (core)")
    assert set(registry.core_ops()).isdisjoint(registry.composite_ops())


def test_registry_errors():
    with pytest.raises(RuntimeError, match="op 'add' is already registered"):
        registry.register_op("add", lambda x: None)
    with pytest.raises(ValueError, match="unknown tags"):
        registry.register_op("_tmp_bad_tag", lambda x: None, tags=("nope",))
    with pytest.raises(TypeError, match="needs a meta function"):
        registry.register_op("_tmp_no_meta")
    with pytest.raises(NotImplementedError, match="no op named 'nope'"):
        registry.get("nope")
