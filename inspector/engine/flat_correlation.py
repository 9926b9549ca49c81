"""The compute kernel behind :mod:`inspector.engine.numpy_conv`: a blocked multi-tap correlation on flat buffers.

Every convolution the engine supports is reduced (by ``numpy_conv``) to one or more calls of
:func:`correlate`, which computes, for an output grid ``t`` of shape ``grid``::

    dst[g * Og + o, t] = sum over c < Cg, e < E of weights[g, o, c, e] * buf[g * Cg + c, base(t) + offsets[e]]

where ``base(t) = sum_j t_j * pitch[j]`` is the position of ``t`` in a (padded, phase-split) input image that
was flattened per channel, so each kernel tap ``e`` is just a constant shift ``offsets[e]`` of the flat
buffer.  Output rows are computed over the full buffer pitch (a few junk columns past the output width,
dropped when a block is written to ``dst``), so a block of rows is one contiguous span per channel and tap:
im2col is one long copy per tap, and one batched ``matmul`` (BLAS, one GEMM per group) per block does the
multiply-adds.  Blocks keep the column buffer near ``COLUMN_BUDGET_BYTES``.

Depthwise convolutions take the same road.  Measured on the development machine (2-core AMD EPYC, one
thread, 3x3 depthwise on 32x112x112): per-tap NumPy multiply-adds over channels-by-span slabs cost 0.85 ms
at best (two memory passes per tap; NumPy has no fused multiply-add) and 1.7 ms with multiplier 2, while the
tap copies plus a batched GEMM cost 0.65 ms for either multiplier.  Python threads do not help either:
two threads running NumPy elementwise loops were no faster than one (GIL hand-overs per call).

Threads are BLAS's own (``OPENBLAS_NUM_THREADS``, threadpoolctl, ...); the engine does not set them.  With
blocks of this size, two OpenBLAS threads against one were measured 1.35-1.7x faster on dense, dilated, 3-D
and transposed convolutions and equal (0.99-1.00x) on grouped and depthwise ones, never slower.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import numpy as np

from inspector.engine.workspace import scratch

COLUMN_BUDGET_BYTES = 3 << 19
"""Size of the im2col column buffer of one block (1.5 MiB): GEMMs this size run at full speed, smaller ones slow
down (0.5 MiB cost 10-20% on 3x3 and depthwise convs), larger ones gain nothing and cost memory."""


def correlate(
    buf: np.ndarray,
    offsets: Sequence[int],
    weights: np.ndarray,
    grid: Sequence[int],
    pitch: Sequence[int],
    dst: np.ndarray,
    bias: np.ndarray | None = None,
) -> None:
    """Write ``dst[:, t] = sum weights * buf[:, base(t) + offsets] (+ bias)`` over the grid ``t``.

    Parameters
    ----------
    buf : (C, S) array
        Flattened input channels, in the compute dtype.
    offsets : sequence of E ints
        Flat shift of each tap.
    weights : (groups, Og, Cg, E) array
        Tap weights, compute dtype, ``groups * Cg == C``.
    grid, pitch : sequences of rank ints
        Output grid shape and the flat buffer stride of each grid axis (``pitch[-1] == 1``, each pitch a
        multiple of the next, ``pitch[j - 1] // pitch[j] >= grid[j]``).
    dst : (groups * Og, *grid) array view
        Receives the result (any strides; cast to its dtype).
    bias : (groups * Og,) array, optional
    """
    if 0 in grid:
        return
    taps = len(offsets)
    if taps == 0:
        dst[...] = 0 if bias is None else bias.reshape((-1,) + (1,) * len(grid))
        return
    groups, out_per_group, in_per_group, _ = weights.shape
    matrix = weights.reshape(groups, out_per_group, in_per_group * taps)
    tiling = _Tiling(grid, pitch, max(1, COLUMN_BUDGET_BYTES // (buf.shape[0] * taps * buf.itemsize)))
    columns = scratch("columns", (buf.shape[0], taps, tiling.capacity if taps > 1 else 0), buf.dtype)
    res = scratch("result", (dst.shape[0], tiling.capacity), buf.dtype)
    bias_view = None if bias is None else bias.reshape((-1,) + (1,) * (len(grid) - tiling.axis))
    for start, span, rows, block_index in tiling.blocks():
        if taps == 1:
            lhs = buf[:, start + offsets[0] : start + offsets[0] + span]
        else:
            lhs = columns[:, :, :span]
            for e, off in enumerate(offsets):
                lhs[:, e] = buf[:, start + off : start + off + span]
        lhs = lhs.reshape(groups, in_per_group * taps, span)
        np.matmul(matrix, lhs, out=res[:, :span].reshape(groups, out_per_group, span))
        target = dst[(slice(None), *block_index)]
        block = tiling.valid(res, rows)
        if bias_view is None:
            target[...] = block
        else:
            np.add(block, bias_view, out=target)


class _Tiling:
    """Blocks of at most ``span_budget`` flat positions: a range along one grid axis, prefix indices fixed."""

    def __init__(self, grid: Sequence[int], pitch: Sequence[int], span_budget: int) -> None:
        rank = len(grid)
        self.grid, self.pitch = tuple(grid), tuple(pitch)
        self.axis = next((j for j in range(rank) if pitch[j] <= span_budget), rank - 1)
        self.step = min(grid[self.axis], max(1, span_budget // pitch[self.axis]))
        self.capacity = self.step * pitch[self.axis]
        self._inner_shape = tuple(pitch[j - 1] // pitch[j] for j in range(self.axis + 1, rank))
        self._inner_valid = tuple(slice(0, n) for n in grid[self.axis + 1 :])
        self._tail = 1 + sum((n - 1) * p for n, p in zip(grid[self.axis + 1 :], pitch[self.axis + 1 :], strict=True))

    def blocks(self) -> Iterator[tuple[int, int, int, tuple]]:
        """Yield ``(start, span, rows, index)``: flat start and length, rows along the axis, dst index."""
        axis, step, pitch = self.axis, self.step, self.pitch[self.axis]
        for prefix in itertools.product(*(range(n) for n in self.grid[:axis])):
            base = sum(i * p for i, p in zip(prefix, self.pitch[:axis], strict=True))
            for lo in range(0, self.grid[axis], step):
                rows = min(step, self.grid[axis] - lo)
                yield base + lo * pitch, (rows - 1) * pitch + self._tail, rows, (*prefix, slice(lo, lo + rows))

    def valid(self, res: np.ndarray, rows: int) -> np.ndarray:
        """The grid points of a computed block, dropping the junk columns between rows."""
        full = res[:, : rows * self.pitch[self.axis]].reshape(res.shape[0], rows, *self._inner_shape)
        return full[(slice(None), slice(None), *self._inner_valid)]
