"""The ``check`` part: open every file in ``samples/keras/`` without TensorFlow."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from .common import MAX_IR_VERSION, human_size, max_diff


def h5_kind(f) -> str:
    if "model_config" in f.attrs:
        return "full legacy h5"
    if "layer_names" in f.attrs or "layer_names0" in f.attrs:
        return "keras2 weights-only h5"
    if "layers" in f:
        return "keras3 weights.h5"
    return "unknown"


def check_part(out: Path) -> None:
    import h5py

    problems = []
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    for path in sorted(out.iterdir()):
        name = path.name
        try:
            if name.endswith(".h5"):
                with h5py.File(path, "r") as f:
                    kind = h5_kind(f)
                    n = []
                    f.visit(n.append)
                    expect = (
                        "keras2 weights-only h5"
                        if name.endswith(".weights-only.h5")
                        else "keras3 weights.h5"
                        if name.endswith(".weights.h5")
                        else "full legacy h5"
                    )
                    assert kind == expect, (kind, expect)
                    detail = f"{kind}, {len(n)} objects" + (", optimizer_weights" if "optimizer_weights" in f else "")
            elif name.endswith(".keras"):
                assert zipfile.is_zipfile(path)
                with zipfile.ZipFile(path) as z:
                    members = sorted(z.namelist())
                    assert {"metadata.json", "config.json", "model.weights.h5"} <= set(members), members
                    json.loads(z.read("config.json"))
                    with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
                        assert "layers" in f or len(f.keys()) > 0
                detail = "zip: " + ", ".join(members)
            elif name.endswith(".npz"):
                d = np.load(path, allow_pickle=False)
                keys = list(d.keys())
                for k in keys:
                    d[k]
                assert "count_params" in keys
                detail = f"npz, {len(keys)} arrays"
            elif name.endswith(".onnx"):
                import onnx

                proto = onnx.load(str(path))
                onnx.checker.check_model(proto)
                assert proto.ir_version <= MAX_IR_VERSION, proto.ir_version
                detail = f"onnx IR {proto.ir_version}"
                if ort is not None:
                    ref = np.load(out / name.replace(".tf2onnx.onnx", ".reference.npz"), allow_pickle=False)
                    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                    outs = [str(n) for n in ref["output_names"]]
                    got = sess.run(outs, {str(n): ref[f"input:{n}"] for n in ref["input_names"]})
                    diff = max_diff(got, [ref[f"output:{n}"] for n in outs])
                    assert diff < 1e-3, diff
                    detail += f", onnxruntime {ort.__version__} max abs diff {diff:.1e}"
            elif name in ("README.md", "tf2onnx_map.json"):
                detail = "text"
            else:
                raise AssertionError("unexpected file")
            print(f"ok   {name:58s} {human_size(path.stat().st_size):>10s}  {detail}")
        except Exception as exc:
            problems.append(name)
            print(f"FAIL {name}: {type(exc).__name__}: {exc}")
    total = sum(p.stat().st_size for p in out.iterdir())
    print(f"total {human_size(total)} in {len(list(out.iterdir()))} files")
    if problems:
        raise SystemExit(f"{len(problems)} file(s) failed: {problems}")
