"""Keras HDF5 records that lie: layer and weight names of missing groups, datasets of impossible shapes or dtypes,
scalars where tensors belong, and links, external storage or virtual datasets reaching outside the file."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from tests.conftest import SAMPLES
from tests.hostile.case import Case, case
from tests.hostile.keras_build import sequential_file
from tests.hostile.outcome import CHECK_FAILS, LOAD_ERROR, OK

KERNEL = "model_weights/conv/conv/kernel:0"
BIAS = "model_weights/conv/conv/bias:0"

Change = Callable[[h5py.File, Path], object]
"""Changes an open HDF5 file (given the model's folder, for files beside it)."""
SEQUENTIAL = "4 layers (1 conv), 271 params"
"""The report's summary of ``sequential_file``: conv, pool, flatten and head, 76 + 195 parameters."""


def _changed(change: Change):
    def build(folder: Path) -> Path:
        path = sequential_file(folder)
        with h5py.File(path, "a") as handle:
            change(handle, folder)
        return path

    return build


def _h5(name: str, change: Change, expected: str, match: str, **details: str) -> Case:
    return case(f"keras/h5/{name}", _changed(change), expected, match, **details)


def _replace_dataset(name: str, make: Callable[[h5py.File, str], object]) -> Change:
    def change(handle: h5py.File, folder: Path) -> None:
        del handle[name]
        make(handle, name)

    return change


def _store(value: object, **options: object) -> Callable[[h5py.File, str], object]:
    return lambda handle, name: handle.create_dataset(name, data=value, **options)


def _claims(shape: tuple[int, ...], **options: object) -> Callable[[h5py.File, str], object]:
    """A dataset declaring ``shape`` with nothing (or one chunk) written."""

    def make(handle: h5py.File, name: str) -> None:
        dataset = handle.create_dataset(name, shape=shape, dtype="f4", **options)
        if "chunks" in options:
            dataset[(0,) * len(shape)] = 1.0

    return make


def _inflating(handle: h5py.File, name: str) -> None:
    """A 72 MiB kernel stored gzip-compressed in about 100 KB (zeros and a little noise per chunk): ~700×."""
    chunk = (3, 3, 2, 2**14)
    dataset = handle.create_dataset(name, shape=(3, 3, 2, 2**20), dtype="f4", chunks=chunk, compression="gzip")
    block = np.zeros(chunk, np.float32)
    block[0, 0, 0, :400] = np.random.default_rng(0).standard_normal(400)
    for start in range(0, 2**20, 2**14):
        dataset[..., start : start + 2**14] = block


def _set_attr(group: str, key: str, value: object) -> Change:
    return lambda handle, folder: handle[group].attrs.__setitem__(key, value)


def _outside_file(folder: Path) -> Path:
    """An HDF5 file beside the model's folder holding a plausible kernel, which no model may read."""
    path = folder.parent / "outside.h5"
    with h5py.File(path, "w") as handle:
        handle["kernel"] = np.ones((3, 3, 2, 4), np.float32)
        handle.create_group("conv")
    return path


def _external_link(target: str, name: str) -> Change:
    def change(handle: h5py.File, folder: Path) -> None:
        outside = _outside_file(folder)
        del handle[name]
        handle[name] = h5py.ExternalLink(str(outside), target)

    return change


def _external_storage(handle: h5py.File, folder: Path) -> None:
    outside = folder.parent / "outside.bin"
    outside.write_bytes(np.ones(72, np.float32).tobytes())
    del handle[KERNEL]
    handle.create_dataset(KERNEL, shape=(3, 3, 2, 4), dtype="f4", external=[(str(outside), 0, 288)])


def _virtual(handle: h5py.File, folder: Path) -> None:
    outside = _outside_file(folder)
    layout = h5py.VirtualLayout(shape=(3, 3, 2, 4), dtype="f4")
    layout[...] = h5py.VirtualSource(str(outside), "kernel", shape=(3, 3, 2, 4))
    del handle[KERNEL]
    handle.create_virtual_dataset(KERNEL, layout)


def _soft_link(target: str) -> Change:
    def change(handle: h5py.File, folder: Path) -> None:
        del handle[KERNEL]
        handle[KERNEL] = h5py.SoftLink(target)

    return change


def _record_cases() -> list[Case]:
    return [
        _h5(
            "layer-names-name-a-missing-group",
            _set_attr("model_weights", "layer_names", ["conv", "ghost"]),
            LOAD_ERROR,
            "ghost",
        ),
        _h5(
            "layer-names-missing",
            lambda h, f: h["model_weights"].attrs.__delitem__("layer_names"),
            LOAD_ERROR,
            "layer_names",
        ),
        _h5(
            "layer-names-numbers",
            _set_attr("model_weights", "layer_names", [1, 2, 3]),
            LOAD_ERROR,
            "not a list of strings",
        ),
        _h5(
            "layer-names-one-string",
            _set_attr("model_weights", "layer_names", "conv"),
            LOAD_ERROR,
            "not a list of strings",
        ),
        _h5(
            "layer-names-2d",
            _set_attr("model_weights", "layer_names", [["conv"], ["pool"]]),
            LOAD_ERROR,
            "not a list of strings",
        ),
        _h5(
            "weight-names-name-missing-dataset",
            _set_attr("model_weights/conv", "weight_names", ["conv/ghost:0"]),
            LOAD_ERROR,
            "ghost",
        ),
        _h5(
            "weight-names-name-a-group",
            _set_attr("model_weights/conv", "weight_names", ["conv"]),
            LOAD_ERROR,
            "not a dataset",
        ),
        _h5(
            "weight-names-name-the-root",
            _set_attr("model_weights/conv", "weight_names", ["/"]),
            LOAD_ERROR,
            "not a dataset",
        ),
        _h5("model-weights-missing", lambda h, f: h.__delitem__("model_weights"), LOAD_ERROR, "no model_weights"),
        _h5(
            "model-config-a-number",
            lambda h, f: h.attrs.__setitem__("model_config", 5),
            LOAD_ERROR,
            "not a JSON object",
        ),
        _h5(
            "model-config-a-list",
            lambda h, f: h.attrs.__setitem__("model_config", ["{}", "{}"]),
            LOAD_ERROR,
            "not valid JSON",
        ),
        # the version only names the producer
        _h5("keras-version-an-array", lambda h, f: h.attrs.__setitem__("keras_version", [2, 15]), OK, SEQUENTIAL),
    ]


def _dataset_cases() -> list[Case]:
    return [
        _h5("kernel-text", _replace_dataset(KERNEL, _store("a kernel")), LOAD_ERROR, "not a number type"),
        _h5(
            "kernel-compound",
            _replace_dataset(KERNEL, _store(np.zeros((3, 3, 2, 4), "f4,i4"))),
            LOAD_ERROR,
            "not a number type",
        ),
        _h5(
            "kernel-complex",
            _replace_dataset(KERNEL, _store(np.zeros((3, 3, 2, 4), np.complex64))),
            LOAD_ERROR,
            "not a number type",
        ),
        _h5("kernel-scalar", _replace_dataset(KERNEL, _store(1.0)), LOAD_ERROR, "kernel has shape"),
        _h5(
            "kernel-empty",
            _replace_dataset(KERNEL, _store(np.zeros((3, 3, 0, 4), np.float32))),
            CHECK_FAILS,
            "error [channels] conv: the input has 2 channels",
        ),
        _h5(
            "kernel-claims-terabytes",
            _replace_dataset(KERNEL, _claims((1 << 20, 1 << 20, 2, 4))),
            LOAD_ERROR,
            "declares shape",
        ),
        _h5(
            "kernel-claims-terabytes-chunked",
            _replace_dataset(KERNEL, _claims((1 << 20, 1 << 20, 2, 4), chunks=(4, 4, 2, 4))),
            LOAD_ERROR,
            "declares shape",
        ),
        _h5(
            "kernel-claims-terabytes-compressed",
            _replace_dataset(KERNEL, _claims((1 << 20, 1 << 20, 2, 4), chunks=(64, 64, 2, 4), compression="gzip")),
            LOAD_ERROR,
            "declares shape",
        ),
        # no element, yet the other dims span more bytes than NumPy can index: refused before any read
        _h5(
            "kernel-zero-with-2**62-dims",
            _replace_dataset(KERNEL, _claims((0, 3, 2**62, 2**62))),
            LOAD_ERROR,
            f"declares shape (0, 3, {2**62}, {2**62}), which no array can have",
            validate=LOAD_ERROR,
        ),
        # a small file decoding into a big array: refused before it is read
        _h5(
            "kernel-compressed-700x",
            _replace_dataset(KERNEL, _inflating),
            LOAD_ERROR,
            "declares shape (3, 3, 2, 1048576) (75,497,472 bytes) but stores",
            validate=LOAD_ERROR,
        ),
        # integer and boolean kernels are numbers Keras casts on loading
        _h5(
            "kernel-int8",
            _replace_dataset(KERNEL, _store(np.arange(72, dtype=np.int8).reshape(3, 3, 2, 4))),
            OK,
            SEQUENTIAL,
        ),
        _h5("kernel-bool", _replace_dataset(KERNEL, _store(np.ones((3, 3, 2, 4), bool))), OK, SEQUENTIAL),
        _h5("bias-scalar", _replace_dataset(BIAS, _store(0.5)), CHECK_FAILS, "error [bias] conv: bias should hold 4"),
        _h5(
            "bias-2d",
            _replace_dataset(BIAS, _store(np.zeros((2, 2), np.float32))),
            CHECK_FAILS,
            "error [bias] conv: bias should hold 4",
        ),
        _h5(
            "dense-kernel-3d",
            _replace_dataset("model_weights/head/head/kernel:0", _store(np.zeros((4, 4, 4), np.float32))),
            LOAD_ERROR,
            "2-D kernel",
        ),
    ]


def _escape_cases() -> list[Case]:
    return [
        _h5("external-link-layer-group", _external_link("/conv", "model_weights/conv"), LOAD_ERROR, "external link"),
        _h5("external-link-kernel", _external_link("/kernel", KERNEL), LOAD_ERROR, "external link"),
        _h5(
            "external-link-dangling",
            lambda h, f: h.__setitem__("model_weights/ghost", h5py.ExternalLink("/nowhere.h5", "/x")),
            LOAD_ERROR,
            "external link",
        ),
        _h5("external-storage-kernel", _external_storage, LOAD_ERROR, "external storage"),
        _h5("virtual-kernel", _virtual, LOAD_ERROR, "is a virtual dataset"),
        _h5("soft-link-kernel-to-bias", _soft_link("/" + BIAS), LOAD_ERROR, "kernel has shape"),
        _h5("soft-link-kernel-dangling", _soft_link("/nowhere"), LOAD_ERROR, "listed in weight_names but missing"),
        _h5("soft-link-kernel-to-itself", _soft_link("/" + KERNEL), LOAD_ERROR, "too many links"),
        case("keras/h5/weights-v3-hard-link-cycle", _v3_cycle, LOAD_ERROR, "nests layer groups more than 64 deep"),
    ]


def _v3_cycle(folder: Path) -> Path:
    """A Keras 3 ``.weights.h5`` whose first layer's ``layers`` group is the root's own (a hard-link cycle)."""
    path = folder / "model.weights.h5"
    shutil.copy(SAMPLES / "keras" / "k3_nested.weights.h5", path)
    with h5py.File(path, "a") as handle:
        first = sorted(handle["layers"])[0]
        handle[f"layers/{first}/layers"] = handle["layers"]
    return path


def cases() -> list[Case]:
    """Every HDF5 record, dataset and escape case."""
    return [*_record_cases(), *_dataset_cases(), *_escape_cases()]
