"""The built-in ONNX plugin: the loader, the ONNX reader's modules, and how ONNX models are captured."""
