"""Classes reachable by the module paths PyTorch defines them in (scripts name them that way)."""
import plugtorch as pt


def test_multihead_attention_and_its_projection_by_torch_paths():
    from plugtorch.nn.modules.activation import MultiheadAttention
    from plugtorch.nn.modules.linear import Linear, NonDynamicallyQuantizableLinear
    assert MultiheadAttention is pt.nn.MultiheadAttention
    mha = MultiheadAttention(4, 2)
    assert type(mha.out_proj) is NonDynamicallyQuantizableLinear and isinstance(mha.out_proj, Linear)
    assert mha.out_proj.weight.shape == (4, 4)
