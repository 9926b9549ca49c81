"""Which files are models: the rule for the files the tool finds itself, in a folder or by a glob pattern.

``inspect FOLDER`` and ``pytest --inspect-models FOLDER`` take the same files: a known suffix (any case), and
neither the file nor a folder between it and the folder given hidden (a name that starts with ``.``: ``.git``,
macOS' ``._model.onnx``).  A file named on its own is read whatever its name; its content decides the format.
"""

from __future__ import annotations

import os
from pathlib import Path

MODEL_SUFFIXES = (".onnx", ".h5", ".keras")


def is_model_file(path: Path, folder: Path | None = None) -> bool:
    """Whether ``path``, found under ``folder`` (or on its own), is a model file by its name."""
    below = path.relative_to(folder).parts if folder is not None else (path.name,)
    return path.suffix.lower() in MODEL_SUFFIXES and not any(part.startswith(".") for part in below)


def model_files(folder: Path) -> list[Path]:
    """The model files under ``folder``, recursively, sorted by path; hidden folders are not entered."""
    found = []
    for top, folders, files in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".")]
        found += [Path(top, name) for name in files if is_model_file(Path(top, name), folder)]
    return sorted(found, key=lambda path: path.relative_to(folder).parts)
