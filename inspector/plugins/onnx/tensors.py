"""Reading ONNX tensors safely: declared sizes checked against stored bytes, external data kept in the
model's folder and read lazily through a memory map."""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from inspector.errors import LoadError, UnsupportedModelError
from inspector.model.budget import numpy_can_hold
from inspector.model.file_checks import regular_file_size, resolved

_COMPLEX = {onnx.TensorProto.COMPLEX64, onnx.TensorProto.COMPLEX128}
"""Element types stored as two values (real, imaginary) each in a typed field."""
_PACKED = {getattr(onnx.TensorProto, name, None) for name in ("INT4", "UINT4", "FLOAT4E2M1")} - {None}
"""4-bit element types, stored two to a byte or to a typed value."""


@functools.cache
def tensor_dtype(data_type: int) -> str:
    """Readable dtype name of an ONNX element type (``float32``, ``int8``; ``bfloat16`` when NumPy lacks it)."""
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(data_type)).name
    except (KeyError, TypeError, ValueError):
        name = onnx.TensorProto.DataType.Name(data_type) if data_type in onnx.TensorProto.DataType.values() else ""
        return name.lower() or f"type {data_type}"


def _numpy_dtype(tensor: onnx.TensorProto, where: str) -> np.dtype:
    try:
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type))
    except (KeyError, TypeError, ValueError):
        raise UnsupportedModelError(
            f"{where}: element type {tensor_dtype(tensor.data_type)} is not supported"
        ) from None
    if dtype.kind in "OUS":
        raise UnsupportedModelError(f"{where}: string tensors are not weights")
    return dtype


def declared_shape(tensor: onnx.TensorProto, where: str) -> tuple[int, ...]:
    """The tensor's dims, refusing negative ones."""
    dims = tuple(tensor.dims)
    if dims and min(dims) < 0:
        raise LoadError(f"{where}: tensor {tensor.name!r} declares a negative dimension {list(dims)}")
    return dims


def _external_info(tensor: onnx.TensorProto) -> dict[str, str]:
    return {entry.key: entry.value for entry in tensor.external_data}


def _resolve_external(model_dir: Path, location: str, where: str) -> Path:
    if not location:
        raise LoadError(f"{where}: external data has no location")
    if os.path.isabs(location) or Path(location).is_absolute() or location.startswith(("/", "\\")):
        raise LoadError(
            f"{where}: external data location {location!r} is absolute; only files beside the model are read"
        )
    if ".." in Path(location.replace("\\", "/")).parts:
        raise LoadError(f"{where}: external data location {location!r} leaves the model's folder")
    label = f"{where}: external data file {location!r}"
    root = resolved(model_dir, where)
    target = resolved(root / location, label)
    if not target.is_relative_to(root):
        raise LoadError(f"{where}: external data location {location!r} resolves outside the model's folder")
    regular_file_size(root / location, label)  # as the system opens it (links followed, up to its limit)
    return target


def tensor_reader(
    tensor: onnx.TensorProto, model_dir: Path, where: str, raw: bytes | None = None
) -> tuple[tuple[int, ...], str, Callable[[], np.ndarray]]:
    """Check ``tensor``'s declared size against what is stored and return ``(shape, dtype, read)``.

    ``read`` materializes the array on demand (a memory map for external data; a view of the stored bytes, or of
    ``raw``, the tensor's ``raw_data`` kept apart from it, when given).  Nothing is allocated here.
    """
    shape = declared_shape(tensor, where)
    count = math.prod(shape)
    dtype = _numpy_dtype(tensor, where)
    if count == 0 and not numpy_can_hold(shape, dtype.itemsize):  # else the stored size tells
        raise LoadError(
            f"{where}: tensor {tensor.name!r} of shape {list(shape)} has no element, but its other dims are too "
            "large for NumPy to hold it"
        )
    dtype_name = tensor_dtype(tensor.data_type)
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        return shape, dtype_name, _external_reader(tensor, model_dir, shape, where)
    packed = tensor.data_type in _PACKED
    if raw is not None or tensor.HasField("raw_data"):
        stored = len(raw if raw is not None else tensor.raw_data)
        needed = (count + 1) // 2 if packed else count * dtype.itemsize
        if stored != needed:
            raise LoadError(
                f"{where}: tensor {tensor.name!r} declares shape {list(shape)} ({needed} bytes) "
                f"but stores {stored} bytes"
            )
        if raw is not None or not tensor.HasField("segment"):  # onnx refuses to read segments
            return shape, dtype_name, _raw_reader(tensor, raw, dtype, shape, packed)
    else:
        field = onnx.helper.tensor_dtype_to_field(tensor.data_type)
        stored = len(getattr(tensor, field))
        needed = (count + 1) // 2 if packed else count * (2 if tensor.data_type in _COMPLEX else 1)
        if stored != needed:
            raise LoadError(
                f"{where}: tensor {tensor.name!r} declares shape {list(shape)} ({needed} values) "
                f"but its {field} holds {stored}"
            )

    def read() -> np.ndarray:
        return numpy_helper.to_array(tensor)

    return shape, dtype_name, read


def _raw_reader(
    tensor: onnx.TensorProto, raw: bytes | None, dtype: np.dtype, shape: tuple[int, ...], packed: bool
) -> Callable[[], np.ndarray]:
    """A reader of ``tensor``'s ``raw_data`` (or of ``raw``, the ``raw_data`` taken out of it): a read-only view for
    NumPy's own numbers (little-endian, as ONNX stores them), else onnx's conversion of the tensor with its bytes."""
    if dtype.kind in "biufc" and not packed:  # not ml_dtypes' bfloat16 and float8 types (kind "V")

        def view() -> np.ndarray:
            return np.frombuffer(tensor.raw_data if raw is None else raw, dtype.newbyteorder("<")).reshape(shape)

        return view

    def convert() -> np.ndarray:
        if raw is None:
            return numpy_helper.to_array(tensor)
        filled = onnx.TensorProto()
        filled.CopyFrom(tensor)
        filled.raw_data = raw
        return numpy_helper.to_array(filled)

    return convert


def _external_reader(
    tensor: onnx.TensorProto, model_dir: Path, shape: tuple[int, ...], where: str
) -> Callable[[], np.ndarray]:
    info = _external_info(tensor)
    target = _resolve_external(model_dir, info.get("location", ""), where)
    dtype = _numpy_dtype(tensor, where).newbyteorder("<")
    try:
        offset = int(info.get("offset", "0"))
        file_size = target.stat().st_size
        length = int(info["length"]) if "length" in info else file_size - offset
    except ValueError as error:
        raise LoadError(f"{where}: external data of {tensor.name!r} has a bad offset or length ({error})") from None
    needed = math.prod(shape) * dtype.itemsize
    if offset < 0 or length < 0 or offset + length > file_size:
        raise LoadError(
            f"{where}: external data of {tensor.name!r} claims bytes {offset}..{offset + length} "
            f"of {target.name}, which has {file_size}"
        )
    if length < needed:
        raise LoadError(
            f"{where}: external data of {tensor.name!r} holds {length} bytes, shape {list(shape)} needs {needed}"
        )

    def read() -> np.ndarray:
        if needed == 0:
            return np.zeros(shape, dtype=dtype)
        return np.memmap(target, dtype=dtype, mode="r", offset=offset, shape=shape)

    return read
