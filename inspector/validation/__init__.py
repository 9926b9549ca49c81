"""Layer-by-layer validation against onnxruntime: options, inputs, the rounding bound, comparison and results.

Results are data: rendering them is the report's business.  What a model's format must supply (the activations
each conv saw, a way to run one layer) comes through the hooks of :mod:`inspector.hookspecs`.
"""
