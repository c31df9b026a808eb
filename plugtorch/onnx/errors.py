"""The exporter's exceptions (named as ``torch.onnx.errors``)."""
from __future__ import annotations


class OnnxExporterError(RuntimeError):
    """The model cannot be exported as asked (a dynamic axis the traced program fixes, a write
    the exporter cannot express, a model whose structure depends on a dynamic size)."""


class UnsupportedOperatorError(OnnxExporterError):
    """An op of the traced graph has no ONNX mapping for the chosen opset and no decomposition
    that exports instead; the message names the op, the source line and the opsets tried."""
