"""The ``legacy`` part: "Keras 2.1.6" style ``.h5`` files derived from ``k2_seq_input_shape.h5`` with h5py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from .common import max_diff, write_json
from .keras_utils import run_model

LEGACY_SOURCE = "k2_seq_input_shape"
LEGACY_STEM = "legacy216_seq_input_shape"
# keys Keras 2.1.6 layer configs did not have (or that modern Keras adds around a config)
LEGACY_DROP_KEYS = ("groups", "module", "registered_name", "build_config", "synchronized")


def old_name(name: str) -> str:
    """Keras 2.1.6 numbered layers from 1: conv2d -> conv2d_1, conv2d_1 -> conv2d_2."""
    m = re.fullmatch(r"(.*?)(?:_(\d+))?", name)
    base, n = m.group(1), m.group(2)
    return f"{base}_{int(n) + 1 if n else 1}"


def strip_new_keys(obj):
    if isinstance(obj, dict):
        return {k: strip_new_keys(v) for k, v in obj.items() if k not in LEGACY_DROP_KEYS}
    if isinstance(obj, list):
        return [strip_new_keys(v) for v in obj]
    return obj


def fixed_bytes(strings):
    """A fixed-length numpy bytes array (dtype S<n>), as h5py 2 / Keras 2.1 stored string lists."""
    return np.array([s.encode("utf-8") for s in strings], dtype=f"S{max(1, max(len(s) for s in strings))}")


def put_string_list(attrs, name, strings, chunks):
    if not strings:  # Keras wrote np.asarray([]): a float64 array of shape (0,)
        attrs[name] = np.zeros((0,), dtype=np.float64)
    elif chunks <= 1:
        attrs[name] = fixed_bytes(strings)
    else:
        for i, part in enumerate(np.array_split(np.array(strings, dtype=object), chunks)):
            attrs[f"{name}{i}"] = fixed_bytes(list(part))


def derive_legacy_h5(src: Path, dst: Path, chunked: bool) -> dict:
    """Rewrite a tf-keras 2.21 full ``.h5`` (Sequential) as Keras 2.1.6 would have written it.

    - root attrs ``keras_version`` = ``2.1.6``, ``backend`` = ``tensorflow``, ``model_config``: all fixed-length
      numpy bytes (``np.bytes_``), not ``str``;
    - ``model_config`` in the pre-2.2.3 Sequential form ``{"class_name": "Sequential", "config": [layers]}``
      (the layer list directly under ``config``), layer names numbered from 1 (``conv2d`` -> ``conv2d_1``),
      config keys unknown to 2.1.6 dropped (``groups``, ``module``, ``registered_name``, ``build_config``);
    - ``model_weights`` attrs ``layer_names`` (``S<n>`` array), ``backend``, ``keras_version``;
    - each layer's ``weight_names`` is ``<layer>_1/<role>:0`` (the duplicated TF name scope old files had), so
      the dataset lives at ``model_weights/conv2d_1/conv2d_1_1/kernel:0``: the group name differs from the
      weight name's first part; weightless layers get a float64 array of shape (0,);
    - ``chunked=True`` also splits ``layer_names`` into ``layer_names0``, ``layer_names1`` and every
      non-empty ``weight_names`` into ``weight_names0``, ``weight_names1`` (Keras does this only past 64,512
      bytes; here it is forced although the lists are small).
    """
    import h5py

    rename = {}
    with h5py.File(src, "r") as f_in, h5py.File(dst, "w") as f_out:
        config = json.loads(f_in.attrs["model_config"])
        assert config["class_name"] == "Sequential"
        layers = config["config"]["layers"]
        new_layers = []
        for layer in layers:
            if layer["class_name"] == "InputLayer":
                continue
            layer = strip_new_keys(layer)
            name = layer["config"]["name"]
            rename[name] = old_name(name)
            layer["config"]["name"] = rename[name]
            layer.pop("name", None)
            new_layers.append({"class_name": layer["class_name"], "config": layer["config"]})
        old_config = {"class_name": "Sequential", "config": new_layers}
        f_out.attrs["keras_version"] = np.bytes_(b"2.1.6")
        f_out.attrs["backend"] = np.bytes_(b"tensorflow")
        f_out.attrs["model_config"] = np.bytes_(json.dumps(old_config).encode("utf-8"))

        g_in, g_out = f_in["model_weights"], f_out.create_group("model_weights")
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in g_in.attrs["layer_names"]]
        put_string_list(g_out.attrs, "layer_names", [rename[n] for n in names], 2 if chunked else 1)
        g_out.attrs["backend"] = np.bytes_(b"tensorflow")
        g_out.attrs["keras_version"] = np.bytes_(b"2.1.6")
        for name in names:
            lg_in, lg_out = g_in[name], g_out.create_group(rename[name])
            wnames = [n.decode() if isinstance(n, bytes) else str(n) for n in lg_in.attrs["weight_names"]]
            new_wnames = []
            for wname in wnames:
                new = f"{rename[name]}_1/{wname.split('/')[-1]}"
                lg_out.create_dataset(new, data=np.asarray(lg_in[wname]))
                new_wnames.append(new)
            put_string_list(lg_out.attrs, "weight_names", new_wnames, 2 if chunked and new_wnames else 1)
    return rename


def legacy_part(out: Path, work: Path) -> None:
    log = {"files": {}, "errors": []}
    src = out / f"{LEGACY_SOURCE}.h5"
    src_ref = dict(np.load(out / f"{LEGACY_SOURCE}.reference.npz", allow_pickle=False))
    for chunked in (False, True):
        stem = LEGACY_STEM + ("_chunked" if chunked else "")
        dst = out / f"{stem}.h5"
        rename = derive_legacy_h5(src, dst, chunked)
        # Keras 2.21 names the input of a Sequential built without Input '<first layer>_input'
        rename_all = dict(rename)
        for n in src_ref["input_names"]:
            n = str(n)
            if n.endswith("_input"):
                rename_all[n] = rename[n[: -len("_input")]] + "_input"

        def ren(s, rename_all=rename_all):
            return rename_all.get(s, s)

        ref = {}
        for key, value in src_ref.items():
            if ":" in key:
                kind, rest = key.split(":", 1)
                layer, _, role = rest.partition("/")
                key = f"{kind}:{ren(layer)}" + (f"/{role}" if role else "")
            if key in (
                "layer_names",
                "flat_layer_names",
                "flat_layer_paths",
                "conv_layer_names",
                "input_names",
                "output_names",
            ):
                value = np.array([ren(str(s)) for s in value], dtype=str)
            ref[key] = value
        ref["writer"] = np.array(f"derived with h5py from {LEGACY_SOURCE}.h5 (tf-keras 2.21.0), mimics keras 2.1.6")
        np.savez_compressed(out / f"{stem}.reference.npz", **ref)
        log["files"][dst.name] = {"renamed_layers": rename}

    # tf-keras must still read them, and compute the same numbers
    import tf_keras as K

    for chunked in (False, True):
        stem = LEGACY_STEM + ("_chunked" if chunked else "")
        ref = np.load(out / f"{stem}.reference.npz", allow_pickle=False)
        model = K.models.load_model(str(out / f"{stem}.h5"), compile=False)
        arrays = [ref[f"input:{n}"] for n in ref["input_names"]]
        diff = max_diff(run_model(model, arrays), [ref[f"output:{n}"] for n in ref["output_names"]])
        names = [layer.name for layer in model.layers]
        assert names == [str(s) for s in ref["layer_names"]], (names, ref["layer_names"])
        log["files"][f"{stem}.h5"]["tf_keras_reload_max_abs_diff"] = diff
        print(f"[legacy] {stem}.h5 reloads in tf-keras, max |diff| = {diff:.2e}")
        assert diff <= 1e-6
    write_json(work / "log_legacy.json", log)
