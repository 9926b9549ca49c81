"""The independent NumPy convolution: Conv, ConvTranspose and ConvInteger, never onnxruntime or onnx.reference."""

from inspector.engine.numpy_conv import conv, conv_integer, conv_magnitude, conv_transpose, conv_transpose_magnitude

__all__ = ["conv", "conv_integer", "conv_magnitude", "conv_transpose", "conv_transpose_magnitude"]
