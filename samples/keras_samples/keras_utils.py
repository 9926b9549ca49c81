"""Small Keras helpers (take the Keras module ``K``): leaf layers, seeded weights and inputs, running a model."""

from __future__ import annotations

import numpy as np

from .common import BATCH, role_of, seed_of


def is_model(K, layer) -> bool:
    return isinstance(layer, K.Model)


def leaf_layers(K, model, prefix=""):
    """(path, layer) for every non-model layer, depth first; nested models are expanded, not listed."""
    for layer in model.layers:
        if is_model(K, layer):
            yield from leaf_layers(K, layer, prefix + layer.name + "/")
        else:
            yield prefix + layer.name, layer


def n_elements(weights) -> int:
    return int(sum(int(np.prod(w.shape)) for w in weights))


def fill_weights(K, model, model_name: str) -> None:
    """Overwrite every weight with seeded random values (per layer: rng seeded by 'model/layer')."""
    for _, layer in leaf_layers(K, model):
        values = layer.get_weights()
        if not values:
            continue
        rng = np.random.default_rng(seed_of(f"{model_name}/{layer.name}"))
        cls = type(layer).__name__
        new = []
        for w, value in zip(layer.weights, values, strict=True):
            role = role_of(w.name)
            shape = value.shape
            if role == "moving_variance":
                arr = rng.uniform(0.5, 2.0, shape)
            elif role in ("gamma", "scale"):
                arr = rng.uniform(0.5, 1.5, shape)
            elif value.ndim == 1:  # bias, beta, moving_mean, shift
                arr = 0.2 * rng.standard_normal(shape)
            else:
                spatial = int(np.prod(shape[:-2])) if value.ndim > 2 else 1
                if cls.startswith("Depthwise") or role == "depthwise_kernel":
                    fan_in = spatial
                elif cls.endswith("Transpose"):
                    fan_in = spatial * shape[-1]
                else:
                    fan_in = spatial * shape[-2]
                arr = rng.standard_normal(shape) * (1.5 / np.sqrt(fan_in))
            new.append(arr.astype(np.float32))
        layer.set_weights(new)


def input_names(model):
    return [t._keras_history[0].name for t in model.inputs]


def output_names(model):
    return [t._keras_history[0].name for t in model.outputs]


def make_inputs(model, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    feed = {}
    for name, t in zip(input_names(model), model.inputs, strict=True):
        shape = (BATCH, *tuple(int(d) for d in t.shape[1:]))
        feed[name] = rng.standard_normal(shape).astype(np.float32)
    return feed


def as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def feed_arg(arrays):
    return arrays[0] if len(arrays) == 1 else list(arrays)


def run_model(model, arrays):
    return [np.asarray(y) for y in as_list(model(feed_arg(arrays), training=False))]


def single(t):
    if isinstance(t, (list, tuple)):
        assert len(t) == 1, t
        return t[0]
    return t
