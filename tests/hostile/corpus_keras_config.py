"""Keras ``model_config`` documents that lie: not JSON, the wrong types, missing keys, references to layers that
do not exist, cycles, impossible conv and pooling arguments, and structures deep or long enough to hurt."""

from __future__ import annotations

import itertools
from pathlib import Path

import h5py
import numpy as np

from tests.hostile.case import Case, case
from tests.hostile.keras_build import Edit, functional_file, layer, put, replace, sequential_file
from tests.hostile.outcome import CHECK_FAILS, LOAD_ERROR, OK, OK_WITH_WARNING

SEQUENTIAL = "4 layers (1 conv), 271 params"
"""The report's summary of ``sequential_file``: conv, pool, flatten and head, 76 + 195 parameters."""


def _raw_config(text: str | bytes):
    """The functional model with ``model_config`` replaced by ``text`` as stored."""

    def build(folder: Path) -> Path:
        path = functional_file(folder)
        with h5py.File(path, "a") as handle:
            handle.attrs["model_config"] = np.bytes_(text) if isinstance(text, bytes) else text
        return path

    return build


def sequential(name: str, edit: Edit, expected: str, match: str, **details: str) -> Case:
    """A case of ``sequential_file`` after ``edit`` (``details`` as ``case`` takes them)."""
    build = lambda folder: sequential_file(folder, edit)  # noqa: E731
    return case(f"keras/config/{name}", build, expected, match, **details)


def functional(name: str, edit: Edit, expected: str, match: str, known_bug: str = "") -> Case:
    """A case of ``functional_file`` after ``edit``."""
    build = lambda folder: functional_file(folder, edit)  # noqa: E731
    return case(f"keras/config/{name}", build, expected, match, known_bug=known_bug)


def _drop(key: str) -> Edit:
    return lambda config: config.pop(key)


def _set_root(key: str, value: object) -> Edit:
    return lambda config: config.__setitem__(key, value)


def _set_layers(value: object) -> Edit:
    return lambda config: config["config"].__setitem__("layers", value)


def _append_layer(entry: object) -> Edit:
    return lambda config: config["config"]["layers"].append(entry)


def _nested_sequential(depth: int) -> Edit:
    def edit(config: dict) -> None:
        inner = {
            "class_name": "Sequential",
            "config": {"name": "inner0", "layers": [{"class_name": "ReLU", "config": {"name": "r"}}]},
        }
        for level in range(1, depth):
            inner = {"class_name": "Sequential", "config": {"name": f"inner{level}", "layers": [inner]}}
        config["config"]["layers"].append(inner)

    return edit


def _deep_keras3_args(depth: int):
    """The Add layer's Keras 3 inbound node with its tensor buried ``depth`` lists deep (written as text: the json
    module would refuse to write it)."""

    def build(folder: Path) -> Path:
        path = functional_file(folder, replace("add", "inbound_nodes", "DEEP"))
        tensor = '{"class_name": "__keras_tensor__", "config": {"keras_history": ["conv", 0, 0]}}'
        deep = '[{"args": ' + "[" * depth + tensor + "]" * depth + "}]"
        with h5py.File(path, "a") as handle:
            handle.attrs["model_config"] = handle.attrs["model_config"].replace('"DEEP"', deep)
        return path

    return build


def _cycle(config: dict) -> None:
    layer(config, "conv")["inbound_nodes"] = [[["add", 0, 0, {}]]]


def _long_chain_reversed(length: int) -> Edit:
    """``length`` ReLU layers in a chain, listed last first (each pass of a naive resolver frees one)."""

    def edit(config: dict) -> None:
        names = ["add", *(f"relu{i}" for i in range(length))]
        chain = [
            {"class_name": "ReLU", "name": b, "config": {"name": b}, "inbound_nodes": [[[a, 0, 0, {}]]]}
            for a, b in itertools.pairwise(names)
        ]
        config["config"]["layers"].extend(reversed(chain))
        config["config"]["output_layers"] = [[names[-1], 0, 0]]

    return edit


def _document_cases() -> list[Case]:
    return [
        case("keras/config/not-json", _raw_config("{not json"), LOAD_ERROR, "not valid JSON"),
        case("keras/config/json-list", _raw_config("[1, 2]"), LOAD_ERROR, "not a JSON object"),
        case("keras/config/json-number", _raw_config("5"), LOAD_ERROR, "not a JSON object"),
        case("keras/config/json-null", _raw_config("null"), LOAD_ERROR, "not a JSON object"),
        case("keras/config/json-string", _raw_config('"model"'), LOAD_ERROR, "not a JSON object"),
        case("keras/config/nested-100000-deep", _raw_config("[" * 100_000), LOAD_ERROR, "not valid JSON"),
        case("keras/config/invalid-utf8", _raw_config(b"\xff\xfe{\x80}"), LOAD_ERROR, "not valid JSON"),
        case("keras/config/empty", _raw_config(""), LOAD_ERROR, "not valid JSON"),
        functional("root-class-missing", _drop("class_name"), LOAD_ERROR, "not a Sequential or Functional"),
        functional("root-class-number", _set_root("class_name", 7), LOAD_ERROR, "not a Sequential or Functional"),
        functional("root-is-a-layer", _set_root("class_name", "Conv2D"), LOAD_ERROR, "not a Sequential or Functional"),
        functional("root-config-missing", _drop("config"), LOAD_ERROR, "Functional config is not an object"),
        functional("root-config-text", _set_root("config", "layers"), LOAD_ERROR, "Functional config is not an"),
        functional("layers-an-object", _set_layers({"conv": {}}), LOAD_ERROR, "not a list"),
        functional("layers-null", _set_layers(None), LOAD_ERROR, "not a list"),
        functional("layer-entry-a-number", _append_layer(3), LOAD_ERROR, "not an object"),
        functional("layer-entry-a-list", _append_layer(["conv"]), LOAD_ERROR, "not an object"),
        functional("layer-name-a-number", replace("conv", "name", 12), LOAD_ERROR, "not a string"),
        functional("layer-config-a-list", replace("conv", "config", [1, 2]), LOAD_ERROR, "not an object"),
        functional("layer-class-missing", lambda c: layer(c, "conv").pop("class_name"), LOAD_ERROR, "class_name"),
        functional("layer-class-a-list", replace("conv", "class_name", ["Conv2D"]), LOAD_ERROR, "class_name"),
        functional("inbound-nodes-text", replace("conv", "inbound_nodes", "a"), LOAD_ERROR, "inbound_nodes"),
        functional("inbound-node-a-number", replace("conv", "inbound_nodes", [7]), LOAD_ERROR, "inbound node"),
        functional(
            "inbound-index-text", replace("conv", "inbound_nodes", [[["a", "x", 0, {}]]]), LOAD_ERROR, "malformed"
        ),
        functional("inbound-reference-short", replace("conv", "inbound_nodes", [[["a"]]]), LOAD_ERROR, "malformed"),
        functional("inbound-keras3-history-a-number", _keras3_history("conv"), LOAD_ERROR, "never appear"),
        case(
            "keras/config/inbound-keras3-args-990-deep",
            _deep_keras3_args(990),
            LOAD_ERROR,
            "root attribute model_config is not valid JSON (maximum recursion depth exceeded",
        ),
        functional(
            "input-layers-name-nothing",
            lambda c: c["config"].__setitem__("input_layers", [["ghost", 0, 0]]),
            LOAD_ERROR,
            "ghost",
        ),
        functional(
            "output-layers-name-nothing",
            lambda c: c["config"].__setitem__("output_layers", [["ghost", 0, 0]]),
            LOAD_ERROR,
            "ghost",
        ),
        functional(
            "output-layers-a-number",
            lambda c: c["config"].__setitem__("output_layers", 3),
            LOAD_ERROR,
            "output_layers 3 is not a list",
        ),
        functional("cycle", _cycle, LOAD_ERROR, "never appear"),
        functional(
            "inputs-from-nowhere", replace("add", "inbound_nodes", [[["ghost", 0, 0, {}]]]), LOAD_ERROR, "ghost"
        ),
        functional("chain-of-3000-listed-backwards", _long_chain_reversed(3000), OK, "3003 layers (2 conv), 76 params"),
        sequential("nested-100-deep", _nested_sequential(100), LOAD_ERROR, "more than 64 deep"),
        sequential(
            "input-shape-negative", put("image", "batch_input_shape", [None, -8, 8, 2]), LOAD_ERROR, "input shape"
        ),
        sequential("input-shape-text", put("image", "batch_input_shape", "8x8"), LOAD_ERROR, "input shape"),
        sequential(
            "input-shape-nan", put("image", "batch_input_shape", [None, float("nan"), 8, 2]), LOAD_ERROR, "input shape"
        ),
        sequential(
            "input-shape-huge",
            put("image", "batch_input_shape", [None, 1 << 40, 1 << 40, 2]),
            CHECK_FAILS,
            "error [channels] head: the input has 1,208,925,819,614,629,174,706,176 features, the weight expects 64",
        ),
    ]


def _keras3_history(name: str) -> Edit:
    node = {"args": [{"class_name": "__keras_tensor__", "config": {"shape": [None, 6, 6, 2], "keras_history": 5}}]}
    return replace(name, "inbound_nodes", [node])


def _layer_cases() -> list[Case]:
    return [
        sequential("kernel-size-text", put("conv", "kernel_size", "3"), LOAD_ERROR, "kernel_size '3' is not 2 int(s)"),
        sequential("kernel-size-wrong-rank", put("conv", "kernel_size", [3]), LOAD_ERROR, "kernel_size [3] is not 2"),
        sequential(
            "kernel-size-contradicts-weight",
            put("conv", "kernel_size", [5, 5]),
            CHECK_FAILS,
            "error [kernel] conv: kernel_shape [5, 5]",
        ),
        # --validate runs no conv whose geometry fails its check (it ran into a TypeError: exit 3)
        sequential(
            "strides-zero",
            put("conv", "strides", [0, 0]),
            CHECK_FAILS,
            "error [strides] conv: strides must be",
            validate=CHECK_FAILS,
            validate_match="[strides] conv: strides must be positive, got [0, 0]",
        ),
        sequential(
            "strides-negative", put("conv", "strides", [-1, 2]), CHECK_FAILS, "error [strides] conv: strides must be"
        ),
        sequential("strides-bool", put("conv", "strides", [True, True]), LOAD_ERROR, "strides [True, True] is not 2"),
        sequential(
            "dilation-zero", put("conv", "dilation_rate", 0), CHECK_FAILS, "error [dilations] conv: dilations must be"
        ),
        sequential("padding-unknown", put("conv", "padding", "sometimes"), LOAD_ERROR, "padding 'sometimes' is not"),
        sequential("padding-a-list", put("conv", "padding", ["same"]), LOAD_ERROR, "padding \"['same']\" is not"),
        sequential("groups-zero", put("conv", "groups", 0), CHECK_FAILS, "error [groups] conv: group must be"),
        sequential("groups-text", put("conv", "groups", "x"), LOAD_ERROR, "groups 'x' is not an integer"),
        sequential("groups-null", put("conv", "groups", None), LOAD_ERROR, "groups None is not an integer"),
        # a serialised activation object is read as the layer's activation, never run
        sequential("activation-an-object", put("conv", "activation", {"class_name": "Evil"}), OK, SEQUENTIAL),
        # pooling arguments Keras refuses: the pooling layer is blamed, its output (so the head's input) unknown
        sequential(
            "pool-size-zero",
            put("pool", "pool_size", [0, 0]),
            CHECK_FAILS,
            "4 layers (1 conv), 271 params\nerror [pool_size] pool: pool_size must be positive, got [0, 0]",
        ),
        sequential(
            "pool-strides-zero",
            put("pool", "strides", [0, 0]),
            CHECK_FAILS,
            "error [strides] pool: strides must be positive, got [0, 0]",
            validate=CHECK_FAILS,
            validate_match="[strides] pool: strides must be positive, got [0, 0]",
        ),
        sequential(
            "pool-strides-negative",
            put("pool", "strides", [-2, -2]),
            CHECK_FAILS,
            "error [strides] pool: strides must be positive, got [-2, -2]",
        ),
        sequential("pool-size-text", put("pool", "pool_size", "big"), LOAD_ERROR, "pool_size 'big' is not 2 int(s)"),
        sequential(
            "data-format-unknown",
            put("conv", "data_format", "diagonal"),
            LOAD_ERROR,
            "layer 'conv' (Conv2D): data_format 'diagonal' is not channels_last or channels_first",
        ),
        # Keras reads any value of trainable as a truth value
        sequential("trainable-text", put("conv", "trainable", "sometimes"), OK, SEQUENTIAL),
        sequential(
            "reshape-target-text",
            replace_pool({"class_name": "Reshape", "config": {"name": "pool", "target_shape": 5}}),
            LOAD_ERROR,
            "layer 'pool' (Reshape): target_shape 5 is not a list of ints",
        ),
        sequential(
            "reshape-two-unknowns",
            replace_pool({"class_name": "Reshape", "config": {"name": "pool", "target_shape": [-1, -1]}}),
            LOAD_ERROR,
            "layer 'pool' (Reshape): target_shape [-1, -1] is not sizes of at least 0 with at most one unknown (-1)",
        ),
        sequential(
            "zero-padding-garbage",
            replace_pool({"class_name": "ZeroPadding2D", "config": {"name": "pool", "padding": [[1], "x"]}}),
            LOAD_ERROR,
            "layer 'pool' (ZeroPadding2D): padding [1] is not 2 int(s)",
        ),
        sequential(
            "cropping-past-the-edge",
            replace_pool({"class_name": "Cropping2D", "config": {"name": "pool", "cropping": 50}}),
            CHECK_FAILS,
            "4 layers (1 conv), 271 params\nerror [cropping] pool: cropping [50, 50] on spatial axis 0 takes 100 "
            "positions from an input of 8: nothing is left",
        ),
        sequential(
            "upsampling-size-zero",
            replace_pool({"class_name": "UpSampling2D", "config": {"name": "pool", "size": 0}}),
            CHECK_FAILS,
            "4 layers (1 conv), 271 params\nerror [size] pool: size must be positive, got [0, 0]",
        ),
        sequential(
            "concatenate-axis-text",
            replace_pool({"class_name": "Concatenate", "config": {"name": "pool", "axis": "x"}}),
            LOAD_ERROR,
            "layer 'pool' (Concatenate): axis 'x' is not an integer",
        ),
        sequential(
            "input-shape-bool",
            put("image", "batch_input_shape", [None, True, 8, 2]),
            LOAD_ERROR,
            "input shape [None, True, 8, 2] is not a list of non-negative ints",
        ),
        sequential(
            "zero-padding-negative",
            replace_pool({"class_name": "ZeroPadding2D", "config": {"name": "pool", "padding": -1}}),
            CHECK_FAILS,
            "4 layers (1 conv), 271 params\nerror [padding] pool: padding must be non-negative, got [-1, -1, -1, -1]",
        ),
        sequential(
            "cropping-negative",
            replace_pool({"class_name": "Cropping2D", "config": {"name": "pool", "cropping": [[0, -3], [1, 1]]}}),
            CHECK_FAILS,
            "4 layers (1 conv), 271 params\nerror [cropping] pool: cropping must be non-negative, got [0, -3, 1, 1]",
        ),
        # Keras reads a data format in any case
        sequential("data-format-upper-case", put("conv", "data_format", "CHANNELS_LAST"), OK, SEQUENTIAL),
        functional(
            "input-layers-text",
            lambda c: c["config"].__setitem__("input_layers", "a"),
            LOAD_ERROR,
            "model_config input_layers 'a' is not a list of [layer, node, index] references",
        ),
        sequential(
            "unknown-class",
            replace("pool", "class_name", "evil>Backdoor"),
            OK_WITH_WARNING,
            "warning [keras-layer] pool: layer 'pool' has class 'evil>Backdoor', which is not interpreted",
        ),
    ]


def replace_pool(entry: dict) -> Edit:
    """An edit putting layer entry ``entry`` where the sequential model's pooling layer is."""

    def edit(config: dict) -> None:
        layers = config["config"]["layers"]
        layers[2] = entry

    return edit


def cases() -> list[Case]:
    """Every model_config case."""
    return [*_document_cases(), *_layer_cases()]
