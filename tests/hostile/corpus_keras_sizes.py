"""Keras configs declaring sizes no memory holds or no shape can have (dims of 2**62 and 10**400, products past
64 bits, reshapes that lose values): each size is computed exactly in Python integers and never allocated, plain
or under ``--validate``."""

from __future__ import annotations

from tests.hostile.case import Case
from tests.hostile.corpus_keras_config import SEQUENTIAL, replace_pool, sequential
from tests.hostile.keras_build import put
from tests.hostile.outcome import CHECK_FAILS, LOAD_ERROR, OK

HUGE = 2**62
"""A size past any memory, whose products overflow 64-bit integers: every size is a Python integer."""


def _features(side: int, channels: int = 4) -> str:
    """What the head is told of a square ``side``×``side`` map of ``channels``: its feature count, in words."""
    return f"error [channels] head: the input has {side * side * channels:,} features, the weight expects 64"


def cases() -> list[Case]:
    """Sizes no memory holds, or no shape can have: each is computed exactly, never allocated."""
    huge_input = put("image", "batch_input_shape", [None, HUGE, HUGE, 2])
    vast = 10**400  # past what a float holds
    return [
        # the conv (3×3, same) keeps 2**62 a side, the 2/2 pool halves it; --validate refuses the conv's input
        sequential(
            "input-2**62-squared",
            huge_input,
            CHECK_FAILS,
            _features(2**61),
            validate=LOAD_ERROR,
            validate_match=f"layer 'conv': input 'image' of shape [1, 2, {HUGE}, {HUGE}] needs 1.7e+38 bytes",
        ),
        sequential(
            "input-10**400",
            put("image", "batch_input_shape", [None, vast, 8, 2]),
            CHECK_FAILS,
            f"error [channels] head: the input has {vast // 2 * 4 * 4:,} features",
            validate=LOAD_ERROR,
            validate_match=f"layer 'conv': input 'image' of shape [1, 2, {vast}, 8] needs more than 2**",
        ),
        sequential(
            "batch-2**62",
            put("image", "batch_input_shape", [HUGE, 8, 8, 2]),
            OK,
            SEQUENTIAL,
            validate=LOAD_ERROR,
            validate_match=f"layer 'conv': input 'image' of shape [{HUGE}, 2, 8, 8] needs 2.4e+21 bytes",
        ),
        # the conv's 8×8 output, each side grown by the upsampling or the padding
        sequential(
            "upsampling-2**62",
            replace_pool(_resize("UpSampling2D", "size", [HUGE, HUGE])),
            CHECK_FAILS,
            _features(8 * HUGE),
            validate=CHECK_FAILS,
            validate_match=_features(8 * HUGE).removeprefix("error "),
        ),
        sequential(
            "zero-padding-2**62",
            replace_pool(_resize("ZeroPadding2D", "padding", HUGE)),
            CHECK_FAILS,
            _features(8 + 2 * HUGE),
            validate=CHECK_FAILS,
            validate_match=_features(8 + 2 * HUGE).removeprefix("error "),
        ),
        # one output pixel (ceil(8 / 2**62)), which the 2×2 pool cannot cover
        sequential("conv-strides-2**62", put("conv", "strides", [HUGE, HUGE]), CHECK_FAILS, _features(0)),
        sequential(
            "conv-kernel-2**62",
            put("conv", "kernel_size", [HUGE, HUGE]),
            CHECK_FAILS,
            f"error [params] conv: attributes promise {HUGE * HUGE * 2 * 4 + 4:,} parameters",
        ),
        sequential(
            "reshape-2**62",
            replace_pool(_resize("Reshape", "target_shape", [HUGE, -1])),
            LOAD_ERROR,
            f"target_shape [{HUGE}, -1] cannot hold the input's 256 values",
            validate=LOAD_ERROR,
        ),
        # past ONNX's 64-bit attributes: the conv is not run under --validate (a ValueError from onnx: exit 3)
        sequential(
            "groups-10**30",
            put("conv", "groups", 10**30),
            CHECK_FAILS,
            f"error [groups] conv: input channels C=2 are not divisible by groups={10**30}",
            validate=CHECK_FAILS,
            validate_match="[validation] conv: not validated: cannot run on its own: an attribute (kernel, strides, "
            "dilations, pads or groups) is past ONNX's 64-bit integers",
        ),
        sequential(
            "reshape-loses-values",
            replace_pool(_resize("Reshape", "target_shape", [7, 7])),
            LOAD_ERROR,
            "layer 'pool' (Reshape): target_shape [7, 7] cannot hold the input's 256 values (shape (None, 8, 8, 4))",
        ),
    ]


def _resize(class_name: str, key: str, value: object) -> dict:
    return {"class_name": class_name, "config": {"name": "pool", key: value}}
