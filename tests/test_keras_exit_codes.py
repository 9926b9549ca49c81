"""Exit codes of the Keras reader: a bug in the reader is exit 3 (an internal error, traceback with ``--debug``),
never exit 2; a damaged file is exit 2 with one line, h5py's errors told apart by their types where h5py is called.
"""

from __future__ import annotations

import builtins
import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import inspector
from inspector.cli.main import main
from inspector.errors import LoadError
from inspector.plugins.keras import hdf5_access
from tests.conftest import SAMPLES, report_json
from tests.hostile.corpus_keras_zip import rezip
from tests.hostile.keras_build import Edit, functional_file, put, replace, sequential_file

KERNEL = "model_weights/conv/conv/kernel:0"
LAUNCH = (
    "import builtins, importlib, runpy, sys\n"
    "module, name, error = sys.argv[1:4]\n"
    "def bug(*args, **kwargs):\n"
    "    raise getattr(builtins, error)('injected bug')\n"
    "setattr(importlib.import_module(module), name, bug)\n"
    "sys.argv = ['inspector', *sys.argv[4:]]\n"
    "runpy.run_module('inspector', run_name='__main__')\n"
)
"""``python -m inspector ARGS`` with one function of the reader replaced by one that raises."""

BUGS = [
    # (module, function, exception, file): each call site used to sit under a broad ``except`` that made it exit 2
    ("inspector.plugins.keras.layers", "conv_length", "ValueError", "h5"),
    ("inspector.plugins.keras.layers", "common_shape", "TypeError", "h5"),
    ("inspector.plugins.keras.layers", "join_channels", "IndexError", "keras"),
    ("inspector.plugins.keras.shapes", "split_channels", "KeyError", "h5"),
    ("inspector.plugins.keras.config", "tensor_id", "TypeError", "h5"),
    ("inspector.plugins.keras.config", "declared_shape", "ValueError", "keras"),
    ("inspector.plugins.keras.weights", "_role", "KeyError", "h5"),
    ("inspector.plugins.keras.weights", "v3_roles", "ValueError", "keras"),
    ("inspector.plugins.keras.weights_only", "_legacy_class", "RuntimeError", "weights-only"),
    ("inspector.plugins.keras.archive", "text", "AttributeError", "h5"),
]


@pytest.fixture()
def files(tmp_path) -> dict[str, Path]:
    return {
        "h5": sequential_file(tmp_path),
        "keras": SAMPLES / "keras" / "k2_conv2d_family.keras",
        "weights-only": SAMPLES / "keras" / "k2_conv2d_family.weights-only.h5",
    }


@pytest.mark.parametrize(("module", "name", "error", "kind"), BUGS, ids=[f"{b[1]}-{b[2]}" for b in BUGS])
def test_a_bug_in_the_reader_is_an_internal_error(module, name, error, kind, files, monkeypatch, capsys):
    def bug(*args, **kwargs):
        raise getattr(builtins, error)("injected bug")

    monkeypatch.setattr(importlib.import_module(module), name, bug)
    assert main([str(files[kind])]) == 3
    stderr = capsys.readouterr().err
    assert stderr.startswith(f"inspect: internal error: {error}: ") and "a bug" in stderr, stderr


def test_python_m_inspector_exits_3_with_a_traceback_under_debug(files):
    """The command as users run it: a ValueError raised while building a layer is a bug, not a bad file."""
    command = [sys.executable, "-c", LAUNCH, "inspector.plugins.keras.layers", "conv_length", "ValueError"]
    plain = subprocess.run([*command, str(files["h5"])], capture_output=True, text=True, timeout=120, check=False)
    assert plain.returncode == 3, plain.stderr
    assert (
        plain.stderr.startswith("inspect: internal error: ValueError: injected bug") and "Traceback" not in plain.stderr
    )
    debug = subprocess.run(
        [*command, str(files["h5"]), "--debug"], capture_output=True, text=True, timeout=120, check=False
    )
    assert debug.returncode == 3 and "Traceback" in debug.stderr and "conv_length" in debug.stderr, debug.stderr


def _corrupt_chunk(folder: Path) -> Path:
    """A gzip-compressed kernel whose compressed bytes are overwritten: h5py raises ``OSError`` on reading it."""
    path = sequential_file(folder)
    with h5py.File(path, "a") as handle:
        values = handle[KERNEL][()]
        del handle[KERNEL]
        handle.create_dataset(KERNEL, data=values, chunks=values.shape, compression="gzip")
        chunk = handle[KERNEL].id.get_chunk_info(0)
    data = bytearray(path.read_bytes())
    data[chunk.byte_offset : chunk.byte_offset + chunk.size] = b"\xff" * chunk.size
    path.write_bytes(data)
    return path


def _broken_btree(folder: Path) -> Path:
    """The first B-tree node's signature overwritten: h5py raises ``RuntimeError`` walking the links."""
    path = sequential_file(folder)
    data = bytearray(path.read_bytes())
    at = data.find(b"TREE")
    data[at : at + 4] = b"XXXX"
    path.write_bytes(data)
    return path


def _truncated(folder: Path) -> Path:
    """The first 64 bytes of a Keras file: its superblock (version 0) and little more."""
    path = folder / "model.h5"
    path.write_bytes(sequential_file(folder).read_bytes()[:64])
    return path


def _self_link(folder: Path) -> Path:
    """The kernel a soft link to itself: h5py raises ``RuntimeError`` (too many links) opening it."""
    path = sequential_file(folder)
    with h5py.File(path, "a") as handle:
        del handle[KERNEL]
        handle[KERNEL] = h5py.SoftLink("/" + KERNEL)
    return path


def _scalar_kernel(folder: Path) -> Path:
    path = sequential_file(folder)
    with h5py.File(path, "a") as handle:
        del handle[KERNEL]
        handle[KERNEL] = 1.0
    return path


def _reshape_to(target: object) -> Edit:
    def edit(config: dict) -> None:
        config["config"]["layers"][2] = {"class_name": "Reshape", "config": {"name": "pool", "target_shape": target}}

    return edit


DAMAGED = {
    "chunk-that-does-not-inflate": (_corrupt_chunk, "kernel:0: cannot be read ("),
    "b-tree-signature": (_broken_btree, ": corrupt HDF5 structure ("),
    "truncated": (_truncated, ": truncated HDF5 file: its superblock says it has "),
    "soft-link-to-itself": (_self_link, "kernel:0: corrupt HDF5 structure (Special link traversal failed"),
    "scalar-kernel": (_scalar_kernel, "layer 'conv' (Conv2D): kernel has shape (), not that of a 2-D kernel"),
    "groups-null": (lambda f: sequential_file(f, put("conv", "groups", None)), "groups None is not an integer"),
    "reshape-to-a-number": (lambda f: sequential_file(f, _reshape_to(5)), "target_shape 5 is not a list of ints"),
    "inbound-index-text": (
        lambda f: functional_file(f, replace("conv", "inbound_nodes", [[["a", "x", 0, {}]]])),
        "model_config is malformed: ['a', 'x', 0, {}] has a node or tensor index that is not an integer",
    ),
    "weights-not-hdf5": (
        lambda f: rezip(SAMPLES / "keras" / "k2_conv2d_family.keras", f / "m.keras", {"model.weights.h5": b"no"}),
        "m.keras: model.weights.h5: not a readable HDF5 file (",
    ),
}


def test_damaged_files_are_exit_2_with_one_line_each(tmp_path):
    paths = []
    for index, (build, _) in enumerate(DAMAGED.values()):
        folder = tmp_path / str(index) / "model"
        folder.mkdir(parents=True)
        paths.append(build(folder))
    result = subprocess.run(
        [sys.executable, "-m", "inspector", *map(str, paths)], capture_output=True, text=True, timeout=300, check=False
    )
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr, result.stderr
    assert len(lines) == len(paths), result.stderr
    for (name, (_, match)), path, line in zip(DAMAGED.items(), paths, lines, strict=True):
        assert line.startswith(f"inspect: error: {path}"), (name, line)
        assert match in line, (name, line)


@pytest.mark.parametrize("libver", ["earliest", "latest"])  # superblock version 0, and 3 with its fields elsewhere
def test_a_file_cut_short_is_told_so_with_both_sizes(libver, tmp_path):
    path = tmp_path / "model.h5"
    with h5py.File(path, "w", libver=libver) as handle:
        handle["x"] = np.arange(1000.0)
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[: size // 2])
    expected = f"{path}: truncated HDF5 file: its superblock says it has {size:,} bytes, it has {size // 2:,}"
    with pytest.raises(LoadError) as caught:
        inspector.load(path)
    assert str(caught.value) == expected


def test_h5py_errors_become_load_errors_only_around_the_h5py_call(tmp_path):
    """What h5py raises (here ``RuntimeError`` for a soft link to itself) becomes a ``LoadError`` naming the place;
    a name that is not there is ``None``, as h5py's ``get`` has it."""
    path = sequential_file(tmp_path)
    with h5py.File(path, "a") as handle:
        del handle[KERNEL]
        handle[KERNEL] = h5py.SoftLink("/" + KERNEL)
    with h5py.File(path, "r") as handle:
        group = handle["model_weights/conv"]
        with pytest.raises(LoadError, match=r"^here: corrupt HDF5 structure \(.*too many links"):
            hdf5_access.child(group, "conv/kernel:0", "here")
        assert hdf5_access.child(group, "ghost", "here") is None
        assert hdf5_access.names(group, "here") == ["conv"]


def _dtype_policy_without_object(folder: Path) -> Path:
    return sequential_file(folder, put("image", "dtype", {"config": [1]}))


def _infinite_node_index(folder: Path) -> Path:
    """A Keras 2 inbound reference whose node index is ``Infinity`` (Python's json reads and writes it)."""
    path = functional_file(folder, replace("conv", "inbound_nodes", "INFINITE"))
    with h5py.File(path, "a") as handle:
        config = handle.attrs["model_config"].replace('"INFINITE"', '[[["a", Infinity, 0, {}]]]')
        handle.attrs["model_config"] = config
    return path


def _empty_kernel(folder: Path) -> Path:
    """The kernel an HDF5 dataset with a null dataspace: h5py gives it no shape at all."""
    path = sequential_file(folder)
    with h5py.File(path, "a") as handle:
        del handle[KERNEL]
        handle.create_dataset(KERNEL, data=h5py.Empty("f4"))
    return path


def _superscript_variable(folder: Path) -> Path:
    """A Keras 3 ``vars`` group with a member named ``²``, which ``str.isdigit`` accepts and ``int`` refuses."""
    path = folder / "model.weights.h5"
    shutil.copy(SAMPLES / "keras" / "k3_conv2d_family.weights.h5", path)
    with h5py.File(path, "a") as handle:
        handle["layers/activation/vars/²"] = [1.0]
    return path


def _conv_on_rank_3(folder: Path) -> Path:
    return sequential_file(folder, put("image", "batch_input_shape", [None, 8, 2]))


FORMERLY_CRASHING = {
    # each of these made the reader raise AttributeError, OverflowError, TypeError or ValueError (exit 3), or gave
    # exit 2 only through a broad except with Python's own words (``zip() argument 2 is longer than argument 1``)
    "dtype-policy-without-object": (_dtype_policy_without_object, 0, ""),
    "infinite-node-index": (_infinite_node_index, 2, "has a node or tensor index that is not an integer"),
    "empty-kernel": (_empty_kernel, 2, "kernel:0: is an empty dataset (it has no shape)"),
    "superscript-variable": (_superscript_variable, 0, ""),
    "conv-on-rank-3": (_conv_on_rank_3, 2, "Conv2D takes an input of rank 4, this one has shape (None, 8, 2)"),
}


@pytest.mark.parametrize("name", FORMERLY_CRASHING)
def test_files_that_crashed_the_reader_get_a_clean_answer(name, tmp_path, capsys):
    build, code, fragment = FORMERLY_CRASHING[name]
    assert main([str(build(tmp_path)), "--format", "json"]) == code
    captured = capsys.readouterr()
    if code != 2:
        report_json(captured.out)
    stderr = captured.err
    assert fragment in stderr and "internal error" not in stderr, stderr
