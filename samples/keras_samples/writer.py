"""The ``k2`` and ``k3`` parts: build every model, record it, save it in every format, reload, convert."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .catalog import MODELS
from .common import BATCH, max_diff, seed_of, write_json
from .conversion import convert_onnx
from .keras_utils import feed_arg, fill_weights, make_inputs, run_model
from .reference import reference


def writer_part(v: int, out: Path, work: Path) -> None:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import tensorflow as tf

    if v == 2:
        import tf_keras as K

        writer = f"tf-keras {K.__version__}"
    else:
        import keras as K

        writer = f"keras {K.__version__}"
    prefix = f"k{v}_"
    log = {"writer": writer, "tensorflow": tf.__version__, "files": {}, "onnx": {}, "errors": [], "notes": []}
    try:
        import tf2onnx

        log["tf2onnx"] = tf2onnx.__version__
    except ImportError:
        tf2onnx = None
        log["notes"].append("tf2onnx not installed: no ONNX files written")

    load = K.models.load_model if v == 2 else K.saving.load_model

    for spec in MODELS:
        if v not in spec["writers"]:
            continue
        model_name, build, files = spec["name"], spec["build"], spec["files"]
        stem = prefix + model_name
        print(f"[{writer}] {stem}")
        K.backend.clear_session()
        seed = seed_of(spec["seed"])
        K.utils.set_random_seed(seed)
        model = build(K, v)
        fill_weights(K, model, spec["seed"])
        feed = make_inputs(model, seed)
        names_in, arrays = list(feed), list(feed.values())
        if spec["trained"]:
            rng = np.random.default_rng(seed + 1)
            targets = [
                rng.standard_normal((BATCH, *tuple(int(d) for d in t.shape[1:]))).astype(np.float32)
                for t in model.outputs
            ]
            optimizer = K.optimizers.Adam(learning_rate=1e-2)
            model.compile(optimizer=optimizer, loss="mse")
            model.fit(feed_arg(arrays), feed_arg(targets), batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
        ref = reference(K, v, model, model_name, seed, arrays, names_in, writer)
        expected = [ref[f"output:{n}"] for n in ref["output_names"]]
        np.savez_compressed(out / f"{stem}.reference.npz", **ref)

        # save in every format this writer has, reload with the same Keras, compare predictions
        saves = [(f"{stem}.h5", "full legacy HDF5 (model.save)", lambda p, m=model: m.save(p))]
        if v == 2 and "weights" in files:
            saves.append(
                (
                    f"{stem}.weights-only.h5",
                    "Keras 2 weights-only HDF5 (save_weights)",
                    lambda p, m=model: m.save_weights(p),
                )
            )
        elif "weights" in files:
            saves.append(
                (f"{stem}.weights.h5", "Keras 3 .weights.h5 (save_weights)", lambda p, m=model: m.save_weights(p))
            )
        if "keras" in files:
            saves.append((f"{stem}.keras", ".keras zip (model.save)", lambda p, m=model: m.save(p)))
        for fname, kind, save in saves:
            path = out / fname
            entry = {"kind": kind, "model": model_name, "writer": writer}
            try:
                save(str(path))
            except Exception as exc:
                entry["error"] = f"save: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                log["errors"].append(f"{fname}: {entry['error']}")
                print("  SAVE FAILED", fname, entry["error"])
                path.unlink(missing_ok=True)
                continue
            try:
                if "weights" in fname:
                    fresh = build(K, v)
                    fresh.load_weights(str(path))
                    again = fresh
                else:
                    again = load(str(path), compile=False, safe_mode=False)
                entry["reload_max_abs_diff"] = max_diff(run_model(again, arrays), expected)
                assert entry["reload_max_abs_diff"] <= 1e-6, (fname, entry["reload_max_abs_diff"])
            except Exception as exc:
                entry["reload_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                log["errors"].append(f"{fname}: reload: {entry['reload_error']}")
                print("  RELOAD FAILED", fname, entry["reload_error"])
            log["files"][fname] = entry
        if tf2onnx is not None and "onnx" in files:
            convert_onnx(K, v, model, ref, out / f"{stem}.tf2onnx.onnx", log)
    write_json(work / f"log_k{v}.json", log)
