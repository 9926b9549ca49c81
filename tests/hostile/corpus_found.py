"""What the fuzzer found, each kept as a case built from scratch (the mutant reduced to what matters).

* A flipped bit in a node name made it invalid UTF-8: protobuf then returns the name as ``bytes``, and joining
  it to a layer path raised ``TypeError`` (found flipping bits of ``shared_weights.onnx``).
* A flipped bit in the size of an object in an HDF5 global heap collection (where every Keras attribute string
  lives) made the HDF5 library loop forever reading an attribute: the walk lands on a free-space header of size 0
  and never moves on (found twice, in ``k2_custom_layer.weights-only.h5`` and ``k3_lambda_layer.weights.h5``).
* Overwritten bytes in a variable-length string of an attribute (its 4-byte length and heap address) made the
  HDF5 library allocate and fill 4 GiB before failing, taking 13 s (found in ``k3_custom_layer.h5``).  Nothing
  runs before HDF5 does here: the case runs with a capped address space, where the allocation fails at once and
  the file is refused; the README tells pipelines to cap memory (``ulimit -v``) for that reason.
* JSON edits of Keras configs: a root ``class_name`` that is a list raised ``TypeError`` (unhashable) outside
  the config reader's error handling; a Keras 3 tensor without ``config`` gave an error naming no file.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

from onnx import helper

from tests.conftest import SAMPLES
from tests.hostile.case import Case, case
from tests.hostile.corpus_keras_zip import rezip
from tests.hostile.keras_build import functional_file, replace, sequential_file
from tests.hostile.onnx_build import conv_file, external, graph_file, weight
from tests.hostile.outcome import LOAD_ERROR

PLACEHOLDER = b"PLACEHOLDER"
KT = "__keras_tensor__"


def _with_bytes(build, raw: bytes):
    """A model written by ``build`` with the text ``PLACEHOLDER`` swapped for ``raw`` (same length)."""
    assert len(raw) == len(PLACEHOLDER)

    def rebuild(folder: Path) -> Path:
        path = build(folder)
        data = path.read_bytes()
        assert data.count(PLACEHOLDER) == 1
        path.write_bytes(data.replace(PLACEHOLDER, raw))
        return path

    return rebuild


NOT_UTF8 = b"PLACE\xe9OLDER"


def _named_node(folder: Path) -> Path:
    conv = helper.make_node("Conv", ["x", "w"], ["t"], name="conv")
    relu = helper.make_node("Relu", ["t"], ["y"], name=PLACEHOLDER.decode())
    return graph_file(folder, [conv, relu], [weight()])


def _external_location(folder: Path) -> Path:
    return conv_file(folder, w=external(weight(), PLACEHOLDER.decode()))


HEAP = b"GCOL\x01\x00\x00\x00"
FIRST_OBJECT_SIZE = 16 + 8
"""Offset of the first object's 8-byte size in a global heap collection (collection header 16, object header 8)."""


def _grow_first_heap_object(data: bytes) -> bytes:
    """``data`` with the first global heap object 1,024 bytes longer than it is (one flipped bit)."""
    at = data.index(HEAP) + FIRST_OBJECT_SIZE + 1
    return data[:at] + bytes([data[at] ^ 0x04]) + data[at + 1 :]


def _heap_h5(folder: Path) -> Path:
    path = sequential_file(folder)
    path.write_bytes(_grow_first_heap_object(path.read_bytes()))
    return path


def _heap_keras(method: int):
    def build(folder: Path) -> Path:
        source = SAMPLES / "keras" / "k3_nested.keras"
        with zipfile.ZipFile(source) as archive:
            weights = _grow_first_heap_object(archive.read("model.weights.h5"))
        return rezip(source, folder / "model.keras", {"model.weights.h5": weights}, method)

    return build


def _huge_string_length(folder: Path) -> Path:
    """The first attribute string pointing into the first global heap collection: its length made 4 GiB and its
    heap address broken, as the fuzzer's overwrite did."""
    path = sequential_file(folder)
    data = bytearray(path.read_bytes())
    address = struct.pack("<Q", data.index(HEAP))
    at = data.index(address, data.index(HEAP) + 4096)
    data[at - 2 : at + 3] = b"\xff\xff\xff\xff\x0f"
    path.write_bytes(bytes(data))
    return path


def _root_class_list(config: dict) -> None:
    config["class_name"] = [config["class_name"]]


def cases() -> list[Case]:
    """Every case the fuzzer found."""
    return [
        case("found/node-name-not-utf8", _with_bytes(_named_node, NOT_UTF8), LOAD_ERROR, "not UTF-8"),
        case("found/external-location-not-utf8", _with_bytes(_external_location, NOT_UTF8), LOAD_ERROR, "not UTF-8"),
        case("found/hdf5-heap-object-grown", _heap_h5, LOAD_ERROR, "global heap"),
        case("found/hdf5-heap-object-grown-in-keras", _heap_keras(zipfile.ZIP_STORED), LOAD_ERROR, "global heap"),
        case("found/hdf5-heap-grown-in-deflated-keras", _heap_keras(zipfile.ZIP_DEFLATED), LOAD_ERROR, "global heap"),
        case(
            "found/keras-root-class-a-list",
            lambda folder: functional_file(folder, _root_class_list),
            LOAD_ERROR,
            "not a Sequential or Functional",
        ),
        case(
            "found/keras3-tensor-without-config",
            lambda folder: functional_file(folder, replace("add", "inbound_nodes", [{"args": [{"class_name": KT}]}])),
            LOAD_ERROR,
            "keras tensor is not an object",
        ),
        case(
            "found/hdf5-string-length-4GiB",
            _huge_string_length,
            LOAD_ERROR,
            "allocation failed",
            capped="HDF5 allocates a string's declared length before reading it",
        ),
    ]
