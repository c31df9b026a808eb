"""plugtorch.utils.hooks.RemovableHandle: what register_*_hook returns; remove() and `with`."""
import plugtorch as pt
from plugtorch.utils.hooks import RemovableHandle


def test_removable_handle_is_what_hooks_return_and_removes_them():
    lin = pt.nn.Linear(2, 2)
    calls = []
    h = lin.register_forward_hook(lambda m, i, o: calls.append(1))
    assert isinstance(h, RemovableHandle)
    lin(pt.ones(1, 2))
    h.remove()
    lin(pt.ones(1, 2))
    assert calls == [1]
    with lin.register_forward_pre_hook(lambda m, i: calls.append(2)) as h2:
        assert isinstance(h2, RemovableHandle)
        lin(pt.ones(1, 2))
    lin(pt.ones(1, 2))
    assert calls == [1, 2]
    assert pt.utils.hooks.RemovableHandle is RemovableHandle
