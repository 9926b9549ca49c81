"""Keras ``.keras`` zips that lie (member names leaving the folder, declared sizes, encryption, unknown
compression, wrong offsets), Lambda layers carrying bytecode that would write a file, and unknown classes."""

from __future__ import annotations

import base64
import json
import marshal
import shutil
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import h5py

from tests.conftest import SAMPLES
from tests.hostile.case import Case, case
from tests.hostile.outcome import LOAD_ERROR, OK, OK_WITH_WARNING

BASE = SAMPLES / "keras" / "k2_conv2d_family.keras"
FAMILY = "18 layers (5 conv), 1,062 params"
"""The report's summary of ``BASE``."""
NEVER_RUN = (
    "warning [keras-layer] lambda_scale_shift: Lambda layer 'lambda_scale_shift' holds Python code, which is never run"
)
MARKER = "lambda-ran.txt"
"""The file a planted Lambda writes, beside the model's folder, if anything ever runs it."""

# Offsets inside a zip central directory entry (after its signature PK\1\2) and a local file header (PK\3\4).
_CENTRAL = {
    "flags": (8, "<H"),
    "method": (10, "<H"),
    "compressed": (20, "<I"),
    "size": (24, "<I"),
    "offset": (42, "<I"),
}
_LOCAL = {"flags": (6, "<H"), "method": (8, "<H")}


def rezip(source: Path, target: Path, changes: dict[str, bytes | None], method: int = zipfile.ZIP_STORED) -> Path:
    """``source``'s members into ``target``: ``changes`` replaces (bytes), drops (``None``) or adds members."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", compression=method) as new:
        for info in old.infolist():
            if info.filename not in changes:
                new.writestr(info.filename, old.read(info))
        for name, data in changes.items():
            if data is not None:
                new.writestr(name, data)
    return target


def _patch(path: Path, member: str, central: dict[str, int], local: dict[str, int] | None = None) -> None:
    """Overwrite fields of ``member``'s central directory entry (and local header) in place."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        header = archive.getinfo(member).header_offset
    entry = data.index(b"PK\x01\x02")
    while data[entry + 46 : entry + 46 + len(member)] != member.encode():
        entry = data.index(b"PK\x01\x02", entry + 4)
    for field, value in central.items():
        offset, layout = _CENTRAL[field]
        struct.pack_into(layout, data, entry + offset, value)
    for field, value in (local or {}).items():
        offset, layout = _LOCAL[field]
        struct.pack_into(layout, data, header + offset, value)
    path.write_bytes(bytes(data))


def _zip_case(
    name: str, changes: dict[str, bytes | None], expected: str, match: str, patch=None, method=zipfile.ZIP_STORED
) -> Case:
    def build(folder: Path) -> Path:
        path = rezip(BASE, folder / "model.keras", changes, method)
        if patch is not None:
            patch(path)
        return path

    return case(f"keras/zip/{name}", build, expected, match)


def _patched(member: str, central: dict[str, int], local: dict[str, int] | None = None) -> Callable[[Path], None]:
    return lambda path: _patch(path, member, central, local)


def _config() -> bytes:
    with zipfile.ZipFile(BASE) as archive:
        return archive.read("config.json")


def _weights_cut() -> tuple[bytes, str]:
    """Half of ``BASE``'s weights file, and what the loader must say of it (sizes from the bytes themselves)."""
    with zipfile.ZipFile(BASE) as archive:
        data = archive.read("model.weights.h5")
    half = len(data) // 2
    return data[:half], f"truncated HDF5 file: its superblock says it has {len(data):,} bytes, it has {half:,}"


def _zip_cases() -> list[Case]:
    cut, truncated = _weights_cut()
    traversal = {"../../evil.json": b"{}", "/tmp/evil.json": b"{}", "..\\evil.json": b"{}", "a/../../b.json": b"{}"}
    return [
        # members are read by name, never extracted: names leaving the folder are never used
        _zip_case("member-names-leave-the-folder", traversal, OK, FAMILY),
        _zip_case(
            "config-only-under-a-traversal-name",
            {"config.json": None, "../config.json": _config()},
            LOAD_ERROR,
            "not a Keras file",
        ),
        _zip_case("config-declares-4GiB", {}, LOAD_ERROR, "declares", _patched("config.json", {"size": 0xFFFFFFF0})),
        _zip_case(
            "weights-declare-past-the-end",
            {},
            LOAD_ERROR,
            "declares",
            _patched("model.weights.h5", {"size": 0x7FFFFFFF, "compressed": 0x7FFFFFFF}),
        ),
        _zip_case(
            "weights-compressed-declare-1GiB",
            {},
            LOAD_ERROR,
            "declares 1,073,741,824 bytes",
            _patched("model.weights.h5", {"size": 1 << 30}),
            zipfile.ZIP_DEFLATED,
        ),
        _zip_case("config-encrypted", {}, LOAD_ERROR, "encrypted", _patched("config.json", {"flags": 1}, {"flags": 1})),
        _zip_case(
            "weights-encrypted", {}, LOAD_ERROR, "encrypted", _patched("model.weights.h5", {"flags": 1}, {"flags": 1})
        ),
        _zip_case(
            "config-unknown-compression",
            {},
            LOAD_ERROR,
            "compression",
            _patched("config.json", {"method": 99}, {"method": 99}),
        ),
        _zip_case(
            "weights-local-header-elsewhere",
            {},
            LOAD_ERROR,
            "local header",
            _patched("model.weights.h5", {"offset": 0}),
        ),
        _zip_case("weights-not-hdf5", {"model.weights.h5": b"hello"}, LOAD_ERROR, "not a readable HDF5"),
        _zip_case("weights-missing", {"model.weights.h5": None}, LOAD_ERROR, "no model.weights.h5"),
        # a weights file cut short inside a sound zip, stored (read in place) or deflated (inflated into memory)
        _zip_case("weights-truncated", {"model.weights.h5": cut}, LOAD_ERROR, f"model.weights.h5: {truncated}"),
        _zip_case(
            "weights-truncated-deflated",
            {"model.weights.h5": cut},
            LOAD_ERROR,
            f"model.weights.h5: {truncated}",
            method=zipfile.ZIP_DEFLATED,
        ),
        _zip_case("config-not-json", {"config.json": b"{oops"}, LOAD_ERROR, "not valid JSON"),
        _zip_case("config-a-list", {"config.json": b"[]"}, LOAD_ERROR, "not a JSON object"),
        _zip_case("config-missing", {"config.json": None}, LOAD_ERROR, "not a Keras file"),
        _zip_case("metadata-a-list", {"metadata.json": b"[1]"}, LOAD_ERROR, "not a JSON object"),
        # the version only names the producer
        _zip_case("metadata-version-an-object", {"metadata.json": b'{"keras_version": {"x": 1}}'}, OK, FAMILY),
        _zip_case(
            "empty-archive",
            {"config.json": None, "metadata.json": None, "model.weights.h5": None},
            LOAD_ERROR,
            "not a Keras file",
        ),
    ]


def planted_code(marker: Path) -> str:
    """Keras' own encoding (base64 of ``marshal``) of a lambda that, if ever run, writes ``marker``."""
    module = compile(f"lambda x: (open({str(marker)!r}, 'w').write('ran'), x)[1]", "<planted>", "eval")
    lambda_code = next(c for c in module.co_consts if hasattr(c, "co_code"))
    return base64.encodebytes(marshal.dumps(lambda_code)).decode("ascii")


def _planted_h5(folder: Path) -> Path:
    path = folder / "model.h5"
    shutil.copy(SAMPLES / "keras" / "k2_lambda_layer.h5", path)
    with h5py.File(path, "a") as handle:
        config = json.loads(handle.attrs["model_config"])
        entry = next(e for e in config["config"]["layers"] if e["class_name"] == "Lambda")
        entry["config"]["function"] = [planted_code(folder.parent / MARKER), None, None]
        handle.attrs["model_config"] = json.dumps(config)
    return path


def _planted_keras(folder: Path) -> Path:
    source = SAMPLES / "keras" / "k3_lambda_layer.keras"
    with zipfile.ZipFile(source) as archive:
        config = json.loads(archive.read("config.json"))
    entry = next(e for e in config["config"]["layers"] if e["class_name"] == "Lambda")
    entry["config"]["function"]["config"]["code"] = planted_code(folder.parent / MARKER)
    return rezip(source, folder / "model.keras", {"config.json": json.dumps(config).encode()})


def _custom_class(folder: Path) -> Path:
    path = folder / "model.h5"
    shutil.copy(SAMPLES / "keras" / "k2_custom_layer.h5", path)
    with h5py.File(path, "a") as handle:
        config = json.loads(handle.attrs["model_config"])
        entry = next(e for e in config["config"]["layers"] if e["config"]["name"] == "scale_shift")
        entry.update({"class_name": "os>system", "module": "os", "registered_name": "os.system"})
        entry["config"]["command"] = "touch pwned"
        handle.attrs["model_config"] = json.dumps(config)
    return path


def _code_cases() -> list[Case]:
    return [
        case("keras/lambda/h5-bytecode-that-writes-a-file", _planted_h5, OK_WITH_WARNING, NEVER_RUN),
        case("keras/lambda/keras-bytecode-that-writes-a-file", _planted_keras, OK_WITH_WARNING, NEVER_RUN),
        case(
            "keras/custom/class-naming-os-system",
            _custom_class,
            OK_WITH_WARNING,
            "warning [keras-layer] scale_shift: layer 'scale_shift' has class 'os>system', which is not interpreted",
        ),
    ]


def cases() -> list[Case]:
    """Every zip, Lambda and custom-class case."""
    return [*_zip_cases(), *_code_cases()]
