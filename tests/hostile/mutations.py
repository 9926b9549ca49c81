"""Hypothesis strategies that break sample files: byte flips, truncations, splices and overwrites of any sample,
and JSON-level edits of a Keras model config (values replaced, removed, retyped or duplicated)."""

from __future__ import annotations

import functools
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import h5py
from hypothesis import strategies as st

from tests.hostile.case import SAMPLE_FILES
from tests.hostile.corpus_keras_zip import rezip

CONFIG_SAMPLES = tuple(p for p in SAMPLE_FILES if p.suffix == ".keras" or p.name.endswith(("family.h5", "nested.h5")))
"""Keras files with a config: every ``.keras`` zip and the legacy ``.h5`` of the richest models."""
EDGE_BYTES = (b"\x00", b"\xff", b"\x7f", b"\x80", b"\xff\xff\xff\xff\x0f", b"\x00\x00\x00\x80")
"""Bytes that turn lengths, counts and varints into zeros, huge or negative numbers."""
EDGE_INTS = (0, -1, 1, 2**31, 2**63, -(2**63), 2**100)

json_values = st.recursive(
    st.none() | st.booleans() | st.sampled_from(EDGE_INTS) | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=8,
)


@functools.cache
def sample_bytes(path: Path) -> bytes:
    """A sample's bytes, read once."""
    return path.read_bytes()


@st.composite
def mutated_bytes(draw: st.DrawFn) -> tuple[Path, bytes]:
    """A sample and its bytes after one to four byte-level mutations."""
    sample = draw(st.sampled_from(SAMPLE_FILES))
    data = bytearray(sample_bytes(sample))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(("flip", "truncate", "overwrite", "splice", "repeat")))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[at:]
        elif kind == "overwrite":
            edge = draw(st.sampled_from(EDGE_BYTES))
            data[at : at + len(edge)] = edge
        else:
            source = data if kind == "repeat" else sample_bytes(draw(st.sampled_from(SAMPLE_FILES)))
            start = draw(st.integers(0, len(source) - 1))
            data[at:at] = source[start : start + draw(st.integers(1, 512))]
    return sample, bytes(data)


def _places(document: Any, path: tuple = ()) -> list[tuple]:
    """Every path to a value inside a JSON document (keys and list indexes)."""
    places = [path]
    items = (
        document.items() if isinstance(document, dict) else enumerate(document if isinstance(document, list) else ())
    )
    for key, value in items:
        places.extend(_places(value, (*path, key)))
    return places


def _edit(draw: st.DrawFn, document: Any) -> Any:
    """``document`` with one value replaced, removed, retyped or duplicated."""
    place = draw(st.sampled_from(_places(document)))
    if not place:
        return draw(json_values)
    *parents, key = place
    container = functools.reduce(lambda node, step: node[step], parents, document)
    kind = draw(st.sampled_from(("replace", "remove", "retype", "duplicate")))
    if kind == "remove":
        del container[key]
    elif kind == "replace":
        container[key] = draw(json_values)
    elif kind == "retype":
        value = container[key]
        container[key] = draw(st.sampled_from(([value], {"value": value}, str(value), None)))
    elif isinstance(container, list):
        container.insert(key, json.loads(json.dumps(container[key])))
    return document


@st.composite
def mutated_configs(draw: st.DrawFn) -> tuple[Path, str]:
    """A Keras sample with a config and that config after one to three JSON-level edits."""
    sample = draw(st.sampled_from(CONFIG_SAMPLES))
    document = json.loads(read_config(sample))
    for _ in range(draw(st.integers(1, 3))):
        document = _edit(draw, document)
    return sample, json.dumps(document)


def read_config(sample: Path) -> str:
    """The model config of a ``.keras`` zip or a legacy ``.h5``."""
    if sample.suffix == ".keras":
        with zipfile.ZipFile(sample) as archive:
            return archive.read("config.json").decode()
    with h5py.File(sample, "r") as handle:
        return str(handle.attrs["model_config"])


def write_with_config(sample: Path, config: str, folder: Path) -> Path:
    """A copy of ``sample`` in ``folder`` holding ``config`` as its model config."""
    target = folder / sample.name
    if sample.suffix == ".keras":
        return rezip(sample, target, {"config.json": config.encode()})
    shutil.copy(sample, target)
    with h5py.File(target, "a") as handle:
        handle.attrs["model_config"] = config
    return target
