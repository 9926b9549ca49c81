"""The inputs a validation run feeds a model: seeded random tensors, or the user's arrays from an ``.npz`` file.

Random inputs are drawn by dtype from ``numpy.random.default_rng``: floats standard normal, int8 and uint8
over their whole range, other integers from 0 to 15 (they are often indices or sizes), booleans fair coins.
Open dims take the user's ``--input-shape``, or 1 for the batch (:mod:`inspector.model.input_shapes`).  A layer run
on its own gets a generator seeded by the run's seed and its name, so its input does not depend on which other
layers run.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inspector.errors import ValidationError
from inspector.model.common import Model, Shape
from inspector.model.input_shapes import DEFAULT_BATCH, bind_dim_names, check_input_names, checked_shape, runnable_shape
from inspector.validation.limits import check_inputs
from inspector.validation.options import DEFAULT_MAX_CAPTURE_MB

SMALL_INTEGER_LIMIT = 16
BLOCK_ELEMENTS = 1 << 20
"""Random floats drawn at a time (8 MiB of float64, and 4 MiB once rounded to float32 on their way to the input)."""


@dataclass(frozen=True, slots=True)
class Feeds:
    """Arrays by input name, the value chosen for each symbolic dim, and how the arrays were made (for reports)."""

    arrays: Mapping[str, np.ndarray]
    symbols: Mapping[str, int]
    description: Mapping[str, Any] = field(default_factory=dict)


def layer_rng(seed: int, layer_name: str) -> np.random.Generator:
    """The generator of a layer run on its own: seeded by ``seed`` and the layer's name, stable across processes."""
    return np.random.default_rng([seed, zlib.crc32(layer_name.encode())])


def random_array(shape: tuple[int, ...], dtype: np.dtype, rng: np.random.Generator) -> np.ndarray:
    """A seeded array of ``dtype`` (see the module docstring for the distributions), drawn ``BLOCK_ELEMENTS`` at a
    time into the array itself: no float64 copy of it is made (the values are those of one draw of its size)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "fb" or dtype.name == "bfloat16":  # bfloat16 is ml_dtypes', which NumPy does not call a float
        array = np.empty(shape, dtype)  # an array even of shape (): onnxruntime takes no NumPy scalar
        flat = array.reshape(-1)
        for start in range(0, flat.size, BLOCK_ELEMENTS):
            block = flat[start : start + BLOCK_ELEMENTS]
            if dtype.kind == "b":
                block[...] = rng.random(block.size) < 0.5
            else:
                block[...] = rng.standard_normal(block.size).astype(np.float32)
        return array
    if dtype.kind in "iu":
        limits = np.iinfo(dtype)
        low, high = (limits.min, limits.max + 1) if dtype.itemsize == 1 else (0, SMALL_INTEGER_LIMIT)
        return rng.integers(low, high, shape, dtype=dtype)
    raise ValidationError(f"cannot make random values of dtype {dtype}; give the input in an .npz file (--inputs)")


def _npy_headers(path: str | Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """The shape and dtype of each array of an ``.npz`` file, by name, from the headers alone."""
    headers = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            with archive.open(member) as stream:
                version = np.lib.format.read_magic(stream)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read(stream)
            headers[member.removesuffix(".npy")] = (shape, dtype)
    return headers


def _numpy_dtype(name: str, dtype: str) -> np.dtype:
    try:
        return np.dtype(dtype)
    except TypeError:
        raise ValidationError(f"input {name!r} has dtype {dtype}, which NumPy cannot hold") from None


def _symbols(declared: Shape | None, actual: tuple[int, ...]) -> dict[str, int]:
    if declared is None:
        return {}
    return {d: a for d, a in zip(declared, actual, strict=False) if isinstance(d, str) and d != "?"}


def _tensor_entry(name: str, array: np.ndarray) -> dict[str, Any]:
    return {"name": name, "shape": list(array.shape), "dtype": array.dtype.name}


def random_feeds(
    model: Model, seed: int, input_shapes: Mapping[str, tuple[int, ...]], limit_mb: float = DEFAULT_MAX_CAPTURE_MB
) -> Feeds:
    """Seeded random arrays for every model input, in input order, once their sizes are checked against
    ``limit_mb`` (:mod:`inspector.validation.limits`)."""
    check_input_names(input_shapes, model.inputs, model.path)
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    symbols: dict[str, int] = {}  # a named dim takes one size in every input: given, else 1 where it is a batch
    for tensor in model.inputs:
        given = input_shapes.get(tensor.name)
        if given is not None:
            sizes = checked_shape(tensor.name, tensor.shape, given, "--input-shape")
            bind_dim_names(symbols, tensor.shape, sizes, tensor.name)
    for tensor in model.inputs:
        batch = tensor.shape[0] if tensor.shape else None
        if tensor.name not in input_shapes and isinstance(batch, str) and batch != "?":
            symbols.setdefault(batch, DEFAULT_BATCH)
    planned = {
        tensor.name: (
            input_shapes.get(tensor.name) or runnable_shape(tensor, symbols),
            _numpy_dtype(tensor.name, tensor.dtype),
        )
        for tensor in model.inputs
    }
    check_inputs(model.path, planned, limit_mb)
    for name, (shape, dtype) in planned.items():
        arrays[name] = random_array(tuple(shape), dtype, rng)
    description = {
        "source": "random",
        "seed": seed,
        "file": None,
        "tensors": [_tensor_entry(name, array) for name, array in arrays.items()],
    }
    return Feeds(arrays, symbols, description)


def file_feeds(model: Model, path: str | Path, limit_mb: float = DEFAULT_MAX_CAPTURE_MB) -> Feeds:
    """The arrays of an ``.npz`` file, one per model input (named as the inputs), cast within their kind; their
    sizes, read from the arrays' headers, are checked against ``limit_mb`` before they are read."""
    if not Path(path).is_file():
        raise ValidationError(f"--inputs {path}: no such file")
    if not zipfile.is_zipfile(path):
        raise ValidationError(
            f"--inputs {path}: not an .npz file (a zip archive of .npy arrays, as numpy.savez writes)"
        )
    try:
        headers = _npy_headers(path)
        names = [t.name for t in model.inputs]
        missing = [n for n in names if n not in headers]
        extra = sorted(set(headers) - set(names))
        if missing or extra:
            problem = f"has no array named {missing[0]!r}" if missing else f"has an array {extra[0]!r}"
            raise ValidationError(f"--inputs {path} {problem}; the model's inputs are {', '.join(names) or 'none'}")
        fed = {t.name: (headers[t.name][0], _numpy_dtype(t.name, t.dtype)) for t in model.inputs}
        check_inputs(model.path, fed, limit_mb)
        with np.load(path, allow_pickle=False) as archive:
            stored = {name: archive[name] for name in names}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValidationError(f"--inputs {path}: not a readable .npz file ({error})") from None
    arrays: dict[str, np.ndarray] = {}
    symbols: dict[str, int] = {}
    for tensor in model.inputs:
        array = stored[tensor.name]
        dtype = _numpy_dtype(tensor.name, tensor.dtype)
        if not np.can_cast(array.dtype, dtype, casting="same_kind"):
            raise ValidationError(f"--inputs {path}: array {tensor.name!r} is {array.dtype}, the model wants {dtype}")
        checked_shape(tensor.name, tensor.shape, array.shape, f"--inputs {path}")
        arrays[tensor.name] = np.ascontiguousarray(array, dtype=dtype)
        symbols.update(_symbols(tensor.shape, array.shape))
    description = {
        "source": "npz",
        "seed": None,
        "file": str(path),
        "tensors": [_tensor_entry(name, array) for name, array in arrays.items()],
    }
    return Feeds(arrays, symbols, description)
