"""plugtorch.onnx: export models to ONNX, as ``torch.onnx``.

>>> import plugtorch as pt
>>> model = pt.nn.Sequential(pt.nn.Linear(4, 8), pt.nn.ReLU(), pt.nn.Linear(8, 2)).eval()
>>> pt.onnx.export(model, (pt.randn(2, 4),), "mlp.onnx", input_names=["x"],
...                dynamic_axes={"x": {0: "batch"}})                        # doctest: +SKIP

The exporter traces the model with ``plugtorch.jit`` and maps each op of the op-level graph to
ONNX operators through one table (``plugtorch/onnx/table.py``); composite ops without a mapping
export through their decompositions. It needs the ``onnx`` package (``pip install
'plugtorch[onnx]'``); see docs/onnx.md.
"""
from plugtorch.onnx.errors import OnnxExporterError, UnsupportedOperatorError  # noqa: F401
from plugtorch.onnx.exporter import DEFAULT_OPSET, export  # noqa: F401

__all__ = ["export", "OnnxExporterError", "UnsupportedOperatorError", "DEFAULT_OPSET"]
