"""Cases any model reader meets: empty and random files, directories, missing, unreadable and special files,
and every sample truncated at several points or with bits flipped."""

from __future__ import annotations

import os
import shutil
import zlib
from pathlib import Path

import numpy as np

from tests.conftest import SAMPLES
from tests.hostile.case import SAMPLE_FILES, Case, case
from tests.hostile.outcome import LOAD_ERROR, OK
from tests.hostile.sample_answers import flipped_magic, flipped_random, truncated

VALIDATION_PASSED = "validation passed: 2 of 2 conv layers match onnxruntime"
"""What ``inspect --validate`` says of the seed sample."""

SUFFIXES = (".onnx", ".h5", ".keras", ".weights.h5", "")
MAGICS = {"hdf5": b"\x89HDF\r\n\x1a\n", "zip": b"PK\x03\x04", "onnx": b"\x08\x07\x12"}
CUTS = (1, 0.25, 0.5, 0.75, -1)
"""Where samples are cut: after the first byte, at quarters, and one byte short of the end."""
FLIPPED_BITS = 8
MAGIC_BIT = 3
"""Flipping bit 3 of the first byte breaks every format's start: ONNX's tag 0x08 becomes the invalid tag 0."""


def rng(name: str) -> np.random.Generator:
    """A generator seeded by a case's name, so every case is the same on every run."""
    return np.random.default_rng(zlib.crc32(name.encode()))


def _bytes(filename: str, content: bytes):
    def build(folder: Path) -> Path:
        path = folder / filename
        path.write_bytes(content)
        return path

    return build


def _truncated(sample: Path, cut: float):
    def build(folder: Path) -> Path:
        data = sample.read_bytes()
        size = int(cut) if cut >= 1 else len(data) + int(cut) if cut < 0 else int(len(data) * cut)
        path = folder / sample.name
        path.write_bytes(data[:size])
        return path

    return build


def flip_bits(data: bytes, positions: np.ndarray) -> bytes:
    """``data`` with the bits at ``positions`` (bit indexes) inverted."""
    array = bytearray(data)
    for position in positions:
        array[position // 8] ^= 1 << (position % 8)
    return bytes(array)


def _flipped(sample: Path, name: str, first_byte: bool):
    def build(folder: Path) -> Path:
        data = sample.read_bytes()
        bits = np.array([MAGIC_BIT]) if first_byte else rng(name).integers(0, len(data) * 8, FLIPPED_BITS)
        path = folder / sample.name
        path.write_bytes(flip_bits(data, bits))
        return path

    return build


def _directory(filename: str):
    def build(folder: Path) -> Path:
        path = folder / filename
        path.mkdir()
        return path

    return build


def _missing(relative: str):
    return lambda folder: folder / relative


def _symlink(filename: str, target: str):
    def build(folder: Path) -> Path:
        path = folder / filename
        path.symlink_to(target if target.startswith("/") else folder / target)
        return path

    return build


def _symlink_loop(folder: Path) -> Path:
    (folder / "a.onnx").symlink_to(folder / "b.onnx")
    (folder / "b.onnx").symlink_to(folder / "a.onnx")
    return folder / "a.onnx"


def _symlink_chain(length: int):
    """``model.onnx`` → ``link1`` → … → the seed sample: ``length`` links in a row."""

    def build(folder: Path) -> Path:
        target = SAMPLES / "seed.onnx"
        for index in range(length, 0, -1):
            (folder / f"link{index}").symlink_to(target)
            target = folder / f"link{index}"
        (folder / "model.onnx").symlink_to(target)
        return folder / "model.onnx"

    return build


def _through_a_file(folder: Path) -> Path:
    """A path that goes on below a file, as if it were a folder."""
    shutil.copy(SAMPLES / "seed.onnx", folder / "seed.onnx")
    return folder / "seed.onnx" / "model.onnx"


def _fifo(folder: Path) -> Path:
    path = folder / "pipe.onnx"
    os.mkfifo(path)
    return path


def _unreadable(folder: Path) -> Path:
    path = folder / "locked.onnx"
    shutil.copy(SAMPLES / "seed.onnx", path)
    path.chmod(0)
    return path


def _sparse(filename: str, size: int):
    def build(folder: Path) -> Path:
        path = folder / filename
        with path.open("wb") as stream:
            stream.truncate(size)
        return path

    return build


def _newline_name(folder: Path) -> Path:
    path = folder / "two\nlines.onnx"
    path.write_bytes(b"\x08\x07garbage")
    return path


UNRECOGNISED = {
    ".onnx": "not a readable ONNX model",
    ".h5": "not a Keras file (neither a Keras HDF5 file nor a .keras zip)",
    ".keras": "not a Keras file (neither a Keras HDF5 file nor a .keras zip)",
    ".weights.h5": "not a Keras file (neither a Keras HDF5 file nor a .keras zip)",
    "": "not a model format any installed loader reads (ONNX, Keras)",
}
"""What a file of each suffix that is not in its format is told: the loader its suffix names refuses it."""
MAGIC_ANSWERS = {
    "hdf5": "not a readable HDF5 file",
    "zip": "not a readable zip file",
    "onnx": "not a readable ONNX model",
}
"""Random bytes after a format's signature: the loader the signature picks (whatever the suffix) refuses them."""


def _random_cases() -> list[Case]:
    cases = []
    for size in (1, 100, 4096):
        for suffix in SUFFIXES:
            name = f"random/{size}B{suffix or '-no-suffix'}"
            content = _bytes(f"model{suffix}", rng(name).bytes(size))
            cases.append(case(name, content, LOAD_ERROR, UNRECOGNISED[suffix]))
    for kind, magic in MAGICS.items():
        name = f"random/{kind}-magic"
        cases.append(case(name, _bytes("model.bin", magic + rng(name).bytes(2000)), LOAD_ERROR, MAGIC_ANSWERS[kind]))
    return cases


def _special_cases() -> list[Case]:
    # root reads a chmod 000 file: then the case shows it is read like any other
    locked = (LOAD_ERROR, "permission denied") if os.geteuid() != 0 else (OK, "4 layers (2 conv), 18,816 params")
    return [
        *(
            case(
                f"empty/{s or 'no-suffix'}",
                _bytes(f"model{s}", b""),
                LOAD_ERROR,
                "empty file (0 bytes)",
                validate=LOAD_ERROR,
            )
            for s in SUFFIXES
        ),
        case("directory/plain", _directory("models"), LOAD_ERROR, "is a directory"),
        case("directory/named-onnx", _directory("model.onnx"), LOAD_ERROR, "is a directory"),
        case("missing/file", _missing("nope.onnx"), LOAD_ERROR, "no such file"),
        case("missing/folder", _missing("nowhere/model.h5"), LOAD_ERROR, "no such file"),
        case("symlink/dangling", _symlink("model.onnx", "gone.onnx"), LOAD_ERROR, "no such file"),
        case(
            "symlink/loop",
            _symlink_loop,
            LOAD_ERROR,
            "too many levels of symbolic links (they loop",
            validate=LOAD_ERROR,
        ),
        case(
            "symlink/chain-10",
            _symlink_chain(10),
            OK,
            "4 layers (2 conv), 18,816 params",
            validate=OK,
            validate_match=VALIDATION_PASSED,
        ),
        case(
            "symlink/chain-50", _symlink_chain(50), LOAD_ERROR, "too many levels of symbolic links", validate=LOAD_ERROR
        ),
        case(
            "name/too-long",
            _missing("m" * 300 + ".onnx"),
            LOAD_ERROR,
            "the name is too long for the file system",
            validate=LOAD_ERROR,
        ),
        case(
            "name/through-a-file",
            _through_a_file,
            LOAD_ERROR,
            "a part of the path is not a folder",
            validate=LOAD_ERROR,
        ),
        case(
            "symlink/to-sample",
            _symlink("model.onnx", str(SAMPLES / "seed.onnx")),
            OK,
            "4 layers (2 conv), 18,816 params",
        ),
        case("special/fifo", _fifo, LOAD_ERROR, "not a regular file", validate=LOAD_ERROR),
        case(
            "special/dev-zero-onnx",
            _symlink("model.onnx", "/dev/zero"),
            LOAD_ERROR,
            "not a regular file",
            validate=LOAD_ERROR,
        ),
        case("special/dev-urandom-h5", _symlink("model.h5", "/dev/urandom"), LOAD_ERROR, "not a regular file"),
        case("special/unreadable", _unreadable, *locked),
        case("special/sparse-3GiB-onnx", _sparse("huge.onnx", 3 << 30), LOAD_ERROR, "past protobuf's 2 GiB limit"),
        case("special/sparse-1GiB-h5", _sparse("huge.h5", 1 << 30), LOAD_ERROR, UNRECOGNISED[".h5"]),
        case("special/newline-in-name", _newline_name, LOAD_ERROR, UNRECOGNISED[".onnx"]),
    ]


def _sample_cases() -> list[Case]:
    cases = []
    for sample in SAMPLE_FILES:
        label = sample.relative_to(SAMPLES).as_posix()
        cases += [_answered(f"truncated/{label}@{cut}", _truncated(sample, cut), truncated(label, cut)) for cut in CUTS]
        cases.append(_answered(f"flipped/{label}@magic", _flipped(sample, "", True), flipped_magic(label)))
        name = f"flipped/{label}@random"
        cases.append(_answered(name, _flipped(sample, name, False), flipped_random(label)))
    return cases


def _answered(name: str, build, answer: tuple[str, str, str]) -> Case:
    expected, match, known_bug = answer
    return case(name, build, expected, match, known_bug=known_bug)


def cases() -> list[Case]:
    """Every file-level case."""
    return [*_random_cases(), *_special_cases(), *_sample_cases()]
