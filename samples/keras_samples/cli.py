"""Make the Keras fixtures in ``samples/keras/`` with real Keras, tf-keras and tf2onnx.

This package (``samples/keras_samples/``, its modules listed in ``__init__.py``; entry point
``samples/make_keras_samples.py``) is the only place in conv-inspector that uses TensorFlow, Keras or
tf2onnx. It is run once by hand when the fixtures change; CI and the tests never run it (they read the
committed files). Nothing in ``inspector/`` or ``tests/`` may import it.

Set up a throw-away virtual environment outside the repository and run it from the repository root::

    python3 -m venv /tmp/tfvenv
    /tmp/tfvenv/bin/pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0 keras==3.15.1 \\
        tf2onnx==1.17.0 onnx h5py onnxruntime==1.32.0
    /tmp/tfvenv/bin/python samples/make_keras_samples.py

    # optional: re-check the written files with a Python that has no TensorFlow (h5py, onnx, onnxruntime)
    /tmp/venv/bin/python samples/make_keras_samples.py --part check

(The files were made with exactly those versions; pip resolved onnx 1.23.2, h5py 3.14.0, numpy 2.4.6,
protobuf 7.36.2. onnxruntime is optional: without it the ONNX files are converted but not run here.)

What it does (``--part all``, the default, runs every step, each in a fresh subprocess so Keras' name
counters and seeds start from zero):

``k2``      tf-keras 2 (``import tf_keras``): build each model, fill every weight with seeded random values,
            record what Keras computes (``*.reference.npz``), save ``.h5``, ``.weights-only.h5``, ``.keras``,
            reload each with tf-keras and compare predictions, convert to ONNX with tf2onnx.
``k3``      Keras 3 (``import keras``, TensorFlow backend): the same, saving ``.h5``, ``.keras``,
            ``.weights.h5``.
``legacy``  derive old "Keras 2.1.6" style ``.h5`` files from ``k2_seq_input_shape.h5`` with h5py only
            (see ``derive_legacy_h5``), and check that tf-keras still loads them to the same predictions.
``readme``  write ``samples/keras/README.md`` (file table, layers, parameter counts, ONNX node map) and
            ``samples/keras/tf2onnx_map.json``.
``check``   open every file without TensorFlow (h5py, zipfile, numpy, onnx, onnxruntime if present).

Re-runnable and deterministic: ``samples/keras/`` is emptied and rewritten; weights and inputs come from
``numpy.random.default_rng`` seeded by the model and layer names (``zlib.crc32``), so a re-run writes the same
numbers (``.keras`` zips carry a save date in ``metadata.json``, so they are not byte-identical).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .check import check_part
from .common import OUT_DEFAULT, SAMPLES_DIR, WORK_DEFAULT
from .legacy import legacy_part
from .readme import readme_part
from .writer import writer_part

# --part all runs every part through the thin entry point, each in a fresh Python
ENTRY_POINT = SAMPLES_DIR / "make_keras_samples.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", default="all", choices=["all", "k2", "k3", "legacy", "readme", "check"])
    parser.add_argument("--out", type=Path, default=OUT_DEFAULT, help="output folder (default samples/keras)")
    parser.add_argument("--work", type=Path, default=WORK_DEFAULT, help="scratch folder for the step logs")
    args = parser.parse_args()
    out, work = args.out.resolve(), args.work.resolve()

    if args.part == "all":
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        env = dict(os.environ)
        env.update(
            {
                "KERAS_BACKEND": "tensorflow",
                "TF_CPP_MIN_LOG_LEVEL": "2",
                # oneDNN is what lets TensorFlow's CPU run channels_first (NCHW) convolutions; with
                # TF_ENABLE_ONEDNN_OPTS=0 Conv2D refuses NCHW on the CPU ("only supports NHWC").
                "TF_ENABLE_ONEDNN_OPTS": "1",
                "CUDA_VISIBLE_DEVICES": "",
                "PYTHONHASHSEED": "0",
            }
        )
        env.pop("TF_USE_LEGACY_KERAS", None)
        for part in ("k2", "k3", "legacy", "readme", "check"):
            cmd = [
                sys.executable,
                str(ENTRY_POINT),
                "--part",
                part,
                "--out",
                str(out),
                "--work",
                str(work),
            ]
            print("+", " ".join(cmd), flush=True)
            subprocess.run(cmd, env=env, check=True)
        return
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    if args.part in ("k2", "k3"):
        writer_part(int(args.part[1]), out, work)
    elif args.part == "legacy":
        legacy_part(out, work)
    elif args.part == "readme":
        readme_part(out, work)
    elif args.part == "check":
        check_part(out)
