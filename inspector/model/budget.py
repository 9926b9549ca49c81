"""What a file may make the tool allocate: one budget, checked in Python integers before anything is spent.

A model file decides the size of some arrays the tool makes: a constant folded while loading, a validation input,
a captured activation.  Each such size is computed from the numbers that will actually be used (exact integers,
no float, no NumPy overflow) and checked here first; past a limit the run stops with one line naming the tensor,
its size and the flag that raises the limit (exit 2).

=========================================  ============  ===================
what                                       default       raised by
=========================================  ============  ===================
a constant folded while loading            256 MiB       ``--max-fold-mb``
validation inputs, tensors, recomputation  256 MiB       ``--max-capture-mb``
control flow nested in a graph             64 levels     (fixed)
=========================================  ============  ===================
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from inspector.errors import InspectorError, LoadError

MIB = 2**20
DEFAULT_FOLD_MB = 256.0
"""Largest constant computed while loading a model (``--max-fold-mb``)."""
MAX_NESTING = 64
"""Deepest control flow (``If``/``Loop`` bodies, nested Keras models) a loader walks into."""
NUMPY_MAX_BYTES = 2**63 - 1
"""Largest array NumPy makes, counting a dim of 0 as 1 (so a shape ``[0, 2**62, 2**62]`` is refused too)."""


def element_count(shape: Sequence[int]) -> int:
    """The exact number of elements of ``shape`` (a Python integer, however large; 0 when a dim is 0)."""
    return math.prod(int(dim) for dim in shape)


def size_text(count: int) -> str:
    """``count`` bytes for a person: ``"1,024 bytes"``, ``"3.5 MiB"``, ``"2.1e+37 bytes"``."""
    if count < MIB:
        return f"{count:,} byte{'s' if count != 1 else ''}"
    if count < 2**60:
        mib = f"{count / MIB:,.1f}"
        return f"{mib.removesuffix('.0')} MiB"
    if count < 2**1000:
        return f"{float(count):.2g} bytes"
    return f"more than 2**{count.bit_length() - 1} bytes"  # float() overflows past 1.8e308


def check_allocation(
    what: str,
    shape: Sequence[int],
    itemsize: int,
    limit_mb: float,
    flag: str,
    error: type[InspectorError] = LoadError,
) -> int:
    """The bytes of an array of ``shape`` and ``itemsize``, or ``error`` when they pass ``limit_mb`` MiB.

    ``what`` names the tensor (with the file it comes from): the error reads "``what`` of shape [...] needs
    576 MiB, past the limit of 256 MiB (``flag`` raises it)".
    """
    dims = [int(dim) for dim in shape]
    if any(dim < 0 for dim in dims):
        raise error(f"{what} of shape {dims} has a negative dimension")
    needed = element_count(dims) * itemsize
    if needed > limit_mb * MIB:
        raise error(
            f"{what} of shape {dims} needs {size_text(needed)}, past the limit of {size_text(int(limit_mb * MIB))} "
            f"({flag} raises it)"
        )
    if not numpy_can_hold(dims, itemsize):
        raise error(f"{what} of shape {dims} has no element, but its other dims are too large for NumPy to hold it")
    return needed


def numpy_can_hold(shape: Sequence[int], itemsize: int) -> bool:
    """Whether NumPy can make an array of ``shape`` (it sizes a dim of 0 as 1, so ``[0, 2**62, 2**62]`` cannot)."""
    return element_count(max(int(dim), 1) for dim in shape) * itemsize <= NUMPY_MAX_BYTES
