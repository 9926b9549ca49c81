"""Paths, constants and small helpers that need no TensorFlow (seeds, JSON, differences, sizes)."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np

SAMPLES_DIR = Path(__file__).resolve().parent.parent  # samples/
OUT_DEFAULT = SAMPLES_DIR / "keras"
WORK_DEFAULT = Path("/tmp/conv_inspector_keras_samples_work")
OPSET = 15
MAX_IR_VERSION = 10
BATCH = 2

CONV_CLASSES = (
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "SeparableConv1D",
    "SeparableConv2D",
    "Conv1DTranspose",
    "Conv2DTranspose",
    "Conv3DTranspose",
)


def seed_of(text: str) -> int:
    """A stable 31-bit seed from a string (the model or layer name)."""
    return zlib.crc32(text.encode("utf-8")) & 0x7FFFFFFF


def role_of(weight_name: str) -> str:
    """``conv/kernel:0`` (Keras 2) or ``kernel`` (Keras 3) -> ``kernel``."""
    return weight_name.split("/")[-1].split(":")[0]


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")


def max_diff(a_list, b_list) -> float:
    return float(max(np.max(np.abs(np.asarray(a) - np.asarray(b))) for a, b in zip(a_list, b_list, strict=True)))


def human_size(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MiB"
