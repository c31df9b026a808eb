"""plugtorch._dynamo: torch._dynamo's reset, explain and config.cache_size_limit, as the
torch.compile tutorials call them, forwarding to plugtorch.compiler."""
import pytest

import plugtorch as pt


def test_dynamo_reset_makes_compiled_functions_trace_again():
    c = pt.compile(lambda x: x.sin() + 1)
    x = pt.tensor([0.0, 1.0])
    c(x), c(x)
    assert c.counters["graphs"] == 1
    pt._dynamo.reset()          # reached as an attribute, without importing plugtorch._dynamo
    assert pt.compiler.stats()["graphs"] == 0
    assert c(x).tolist() == pytest.approx([1.0, 1.8414709848078965])
    assert pt.compiler.stats()["graphs"] == 1


def test_dynamo_config_cache_size_limit_bounds_the_graphs_kept():
    assert pt._dynamo.config.cache_size_limit == pt.compiler.CACHE_SIZE_LIMIT == 8
    pt._dynamo.config.cache_size_limit = 2
    try:
        assert pt.compiler.CACHE_SIZE_LIMIT == 2
        c = pt.compile(lambda x: x * 2)
        for n in (1, 2, 3):     # three shapes: three signatures, only the last two kept
            assert c(pt.ones(n)).tolist() == [2.0] * n
        assert len(c._cache) == 2
    finally:
        pt._dynamo.config.cache_size_limit = 8
    assert pt.compiler.CACHE_SIZE_LIMIT == 8


def test_dynamo_config_rejects_unknown_settings_and_bad_values():
    with pytest.raises(AttributeError, match="no setting 'suppress_errors'"):
        pt._dynamo.config.suppress_errors = True
    with pytest.raises(AttributeError, match="no setting 'verbose'"):
        pt._dynamo.config.verbose
    with pytest.raises(ValueError, match="cache_size_limit must be a positive int, got 0"):
        pt._dynamo.config.cache_size_limit = 0


def test_dynamo_explain_is_the_compiler_explain():
    assert pt._dynamo.explain is pt.compiler.explain
    assert pt._dynamo.disable is pt.compiler.disable
