"""``inspect``'s MODEL arguments: a folder stands for the model files under it, a glob pattern for its matches.

A folder is walked recursively by :mod:`inspector.model.model_files` (.onnx, .h5, .keras, sorted, hidden files and
folders skipped).  A pattern (``'models/*.onnx'``, ``'zoo/**/*.h5'``, quoted so that the shell leaves it) is
expanded here: the folders it matches as folders, its files by the same rule, sorted.  Any other argument, a file
above all, passes as given, so a folder reports exactly as the list of its files would.  So does a folder or
pattern with no model file: the loader refuses it as it refuses any path that is no model (one line, exit 2, and
the other models are still reported).
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Sequence
from pathlib import Path

from inspector.model.model_files import is_model_file, model_files

_PATTERN = re.compile(r"[*?[]")


def expand_models(arguments: Sequence[str]) -> list[str]:
    """The model paths that ``arguments`` stand for, in order."""
    return [path for argument in arguments for path in _expand(argument)]


def _expand(argument: str) -> list[str]:
    if os.path.isdir(argument):  # os.path answers False where pathlib raises (a name too long for the system)
        found = model_files(Path(argument))
    elif _PATTERN.search(argument) and not os.path.lexists(argument):
        found = _matches(argument)
    else:
        found = []
    return [str(model) for model in found] or [argument]


def _matches(pattern: str) -> list[Path]:
    """The model files ``pattern`` matches (``**`` spans folders), each once, sorted by path."""
    found: set[Path] = set()
    for match in map(Path, glob.glob(pattern, recursive=True)):
        if os.path.isdir(match):
            found.update(model_files(match))
        elif is_model_file(match):
            found.add(match)
    return sorted(found, key=lambda model: model.parts)
