"""The common model every loader produces, its layouts and invariants, and what is computed from it alone.

``common`` holds the dataclasses (``Model``, ``Layer``, ``ConvLayer``, ``DenseLayer``, ``Weight``,
``TensorInfo``); ``layouts`` converts stored weights to the canonical layout; ``slicing`` hands out filters;
``padding`` and ``input_shapes`` resolve geometry; ``findings`` and ``filter_stats`` are what analyzers report.
Nothing here imports a loader, the engine, validation or a renderer.
"""

from inspector.model.common import ConvLayer, DenseLayer, Dim, Layer, Model, Shape, TensorInfo, Weight

__all__ = ["ConvLayer", "DenseLayer", "Dim", "Layer", "Model", "Shape", "TensorInfo", "Weight"]
