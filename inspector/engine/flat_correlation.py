"""The compute kernel behind :mod:`inspector.engine.numpy_conv`: a blocked multi-tap correlation on flat buffers.

Every convolution the engine supports is reduced (by ``numpy_conv``) to one or more calls of
:func:`correlate`, which computes, for an output grid ``t`` of shape ``grid``::

    dst[g * Og + o, t] = sum over c < Cg, e < E of weights[g, o, c, e] * buf[g * Cg + c, base(t) + offsets[e]]

where ``base(t) = sum_j t_j * pitch[j]`` is the position of ``t`` in a (padded, phase-split) input image that
was flattened per channel, so each kernel tap ``e`` is just a constant shift ``offsets[e]`` of the flat
buffer.  Output rows are computed over the full buffer pitch (a few junk columns past the output width,
dropped when a block is written to ``dst``), so a block of rows is one contiguous span per channel and tap:
im2col is one long copy per tap, and one batched ``matmul`` (BLAS, one GEMM per group) per block does the
multiply-adds.  Blocks keep the column buffer near ``COLUMN_BUDGET_BYTES``: large, because float64 GEMMs with
fewer than a few hundred columns ran at half speed (``benchmarks/bench_conv.py``), and because each BLAS call
with more than one thread waits for every thread, which a busy machine makes slow.

Depthwise convolutions (one input channel per group) whose image spans at least ``DIRECT_MIN_SPAN`` flat
positions are computed tap by tap instead: one multiply and one add per tap over a block of channels and
positions that stays in cache (``DEPTHWISE_BLOCK_BYTES``), with no column buffer.  Measured alternately on the
development machine while it was busy (one thread, float64, 3x3): 3.5 ms against 5.0 ms through the columns on
32x112x112, 8.2 against 10.6 on 144x56x56; on short images NumPy's per-row cost of a broadcast multiply turns
it round (576x14x14: 3.5 against 2.1 ms; 5x5 on 240x28x28: 29 against 13 ms).  Either way NumPy's two memory
passes per tap (it has no fused multiply-add) stay far from onnxruntime's register-blocked float32 kernels.

Threads are BLAS's own (``OPENBLAS_NUM_THREADS``, threadpoolctl, ...); the engine does not set them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from inspector.engine.workspace import scratch

COLUMN_BUDGET_BYTES = 8 << 20
"""Size of the im2col column buffer of one block (8 MiB) for GEMMs of at least ``WIDE_GEMM`` output channels per
group; narrower ones (grouped, depthwise, small transposed convs) stream their columns once, and ran 10-25% faster
with 3/16 of it (1.5 MiB), which stays in cache."""

WIDE_GEMM = 64
"""Output channels per group from which a GEMM gets the full ``COLUMN_BUDGET_BYTES``."""

WEIGHT_BLOCK_BYTES = 8 << 20
"""Size of the block of weight rows converted for one GEMM when the columns are one block (8 MiB)."""

DEPTHWISE_BLOCK_BYTES = 1 << 19
"""Size of the accumulator of one depthwise block (512 KiB)."""

DIRECT_MIN_SPAN = 2048
"""Shortest image (flat positions per channel) that depthwise convolutions compute tap by tap; shorter ones
take the im2col road, where NumPy's per-row overhead of a broadcast multiply does not dominate."""


def correlate(
    buf: np.ndarray,
    offsets: Sequence[int],
    weights: np.ndarray,
    grid: Sequence[int],
    pitch: Sequence[int],
    dst: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    absolute: bool = False,
) -> None:
    """Write ``dst[:, t] = sum weights * buf[:, base(t) + offsets] (+ bias)`` over the grid ``t``.

    Parameters
    ----------
    buf : (C, S) array
        Flattened input channels, in the compute dtype.
    offsets : sequence of E ints
        Flat shift of each tap.
    weights : (groups, Og, Cg, E) array
        Tap weights, ``groups * Cg == C``, in any float dtype: converted to the compute dtype a block of rows at a
        time when the columns are one block (``WEIGHT_BLOCK_BYTES``), else all at once.
    grid, pitch : sequences of rank ints
        Output grid shape and the flat buffer stride of each grid axis (``pitch[-1] == 1``, each pitch a
        multiple of the next, ``pitch[j - 1] // pitch[j] >= grid[j]``).
    dst : (groups * Og, *grid) array view
        Receives the result (any strides; cast to its dtype).
    bias : (groups * Og,) array, optional
    absolute
        Use ``|weights|`` (taken as they are converted).
    """
    if 0 in grid:
        return
    if not offsets or 0 in weights.shape[1:3]:  # an empty sum
        dst[...] = 0 if bias is None else bias.reshape((-1,) + (1,) * len(grid))
        return
    direct = weights.shape[2] == 1 and weights.shape[0] > 1 and _span(grid, pitch) >= DIRECT_MIN_SPAN
    (_depthwise if direct else _im2col_gemm)(_Job(buf, offsets, weights, grid, pitch, dst, bias, absolute))


def correlate_bytes(
    channels: int,
    weights_shape: Sequence[int],
    grid: Sequence[int],
    pitch: Sequence[int],
    itemsize: int,
    *,
    converted: bool,
) -> int:
    """The bytes :func:`correlate` allocates (columns, result and weight blocks), from the shapes alone.

    ``weights_shape`` is ``(groups, Og, Cg, E)``, ``itemsize`` the compute dtype's, ``converted`` whether the
    weights are converted (another dtype, or ``absolute``).  Python integers: nothing is allocated to size it.
    """
    groups, out_per_group, in_per_group, taps = (int(n) for n in weights_shape)
    if 0 in grid or 0 in (taps, out_per_group, in_per_group):
        return 0
    if in_per_group == 1 and groups > 1 and _span(grid, pitch) >= DIRECT_MIN_SPAN:
        budget = max(1, DEPTHWISE_BLOCK_BYTES // (out_per_group * itemsize))
        chunk = min(groups, max(1, budget // _span(grid, pitch)))
        capacity = _Tiling(grid, pitch, max(1, budget // chunk)).capacity
        return (groups * taps + 2 * chunk * capacity) * out_per_group * itemsize
    budget = COLUMN_BUDGET_BYTES if out_per_group >= WIDE_GEMM else COLUMN_BUDGET_BYTES * 3 // 16
    tiling = _Tiling(grid, pitch, max(1, budget // (channels * taps * itemsize)))
    columns = channels * taps * tiling.capacity if taps > 1 else 0
    result = groups * out_per_group * tiling.capacity
    width = in_per_group * taps
    if not converted:
        weights = 0
    elif tiling.block_count > 1:
        weights = groups * out_per_group * width
    else:
        weights = groups * min(out_per_group, max(1, WEIGHT_BLOCK_BYTES // (groups * width * itemsize))) * width
    return (columns + 2 * result + weights) * itemsize  # matmul writes a strided block through a copy of it


@dataclass(frozen=True)
class _Job:
    """The arguments of one :func:`correlate` call, for the road it takes."""

    buf: np.ndarray
    offsets: Sequence[int]
    weights: np.ndarray
    grid: Sequence[int]
    pitch: Sequence[int]
    dst: np.ndarray
    bias: np.ndarray | None
    absolute: bool


def _im2col_gemm(job: _Job) -> None:
    """:func:`correlate` as one (batched over groups) GEMM per block of the im2col columns."""
    buf, offsets, weights, dst, bias = job.buf, job.offsets, job.weights, job.dst, job.bias
    taps = len(offsets)
    groups, out_per_group, in_per_group, _ = weights.shape
    matrix = weights.reshape(groups, out_per_group, in_per_group * taps)
    budget = COLUMN_BUDGET_BYTES if out_per_group >= WIDE_GEMM else COLUMN_BUDGET_BYTES * 3 // 16
    tiling = _Tiling(job.grid, job.pitch, max(1, budget // (buf.shape[0] * taps * buf.itemsize)))
    columns = scratch("columns", (buf.shape[0], taps, tiling.capacity if taps > 1 else 0), buf.dtype)
    # Fewer positions than output channels: the GEMM runs faster as positions x channels (up to 1.5x measured).
    transposed = groups == 1 and tiling.capacity < out_per_group
    res = scratch("result", (dst.shape[0], tiling.capacity)[:: -1 if transposed else 1], buf.dtype)
    parts = _weight_parts(matrix, buf.dtype, job.absolute, whole=tiling.block_count > 1)
    for start, span, rows, block_index in tiling.blocks():
        if taps == 1:
            lhs = buf[:, start + offsets[0] : start + offsets[0] + span]
        else:
            lhs = columns[:, :, :span]
            for e, off in enumerate(offsets):
                lhs[:, e] = buf[:, start + off : start + off + span]
        lhs = lhs.reshape(groups, in_per_group * taps, span)
        for part, weight_rows in parts():
            if transposed:
                np.matmul(lhs[0].T, weight_rows[0].T, out=res[:span, part])
            else:
                np.matmul(weight_rows, lhs, out=res[:, :span].reshape(groups, out_per_group, span)[:, part])
        _store(dst[(slice(None), *block_index)], tiling.valid(res.T if transposed else res, rows), bias)


def _weight_parts(
    matrix: np.ndarray, dtype: np.dtype, absolute: bool, *, whole: bool
) -> Callable[[], Iterator[tuple[slice, np.ndarray]]]:
    """The weight matrix ``(groups, Og, K)`` as ``(rows, block)`` pairs in ``dtype`` (absolute values if asked).

    Weights in ``dtype`` already come whole.  Others are converted whole and once when ``whole`` (columns in
    several blocks), else a block of rows at a time into reused scratch memory as each GEMM needs it: a big
    weight read once, with no converted copy of it all (a float64 copy of a 2048×2048×3×3 filter bank is 300 MB).
    """
    if matrix.dtype == dtype and not absolute:
        return lambda: iter([(slice(None), matrix)])
    if whole:
        converted = _converted(matrix, dtype, absolute, np.empty(matrix.shape, dtype))
        return lambda: iter([(slice(None), converted)])
    groups, out_per_group, width = matrix.shape
    step = max(1, WEIGHT_BLOCK_BYTES // (groups * width * dtype.itemsize))

    def blocks() -> Iterator[tuple[slice, np.ndarray]]:
        for row in range(0, out_per_group, step):
            part = slice(row, min(row + step, out_per_group))
            block = scratch("weights", (groups, part.stop - row, width), dtype)
            yield part, _converted(matrix[:, part], dtype, absolute, block)

    return blocks


def _converted(source: np.ndarray, dtype: np.dtype, absolute: bool, out: np.ndarray) -> np.ndarray:
    """``source`` (or ``|source|``) written into ``out`` of ``dtype``."""
    if absolute:
        return np.abs(source, out=out, casting="same_kind")
    np.copyto(out, source, casting="same_kind")
    return out


def _depthwise(job: _Job) -> None:
    """:func:`correlate` with one input channel per group: a multiply-add per tap over a block of channels.

    Output channel ``c * m + j`` is ``sum_e weights[c, j, 0, e] * buf[c, base + offsets[e]]``, accumulated in a
    block of channels and flat positions that stays in cache (``DEPTHWISE_BLOCK_BYTES`` per operand).
    """
    buf, offsets, weights, dst, bias = job.buf, job.offsets, job.weights, job.dst, job.bias
    channels, multiplier = weights.shape[:2]
    budget = max(1, DEPTHWISE_BLOCK_BYTES // (multiplier * buf.itemsize))
    chunk = min(channels, max(1, budget // _span(job.grid, job.pitch)))
    tiling = _Tiling(job.grid, job.pitch, max(1, budget // chunk))
    taps_first = weights[:, :, 0, :].transpose(2, 0, 1)
    per_tap = _converted(taps_first, buf.dtype, job.absolute, np.empty(taps_first.shape, buf.dtype))[..., None]
    acc = scratch("result", (chunk, multiplier, tiling.capacity), buf.dtype)
    product = scratch("columns", (chunk, multiplier, tiling.capacity), buf.dtype)
    for c0 in range(0, channels, chunk):
        c1 = min(channels, c0 + chunk)
        rows_out = slice(c0 * multiplier, c1 * multiplier)
        for start, span, rows, block_index in tiling.blocks():
            total, term = acc[: c1 - c0, :, :span], product[: c1 - c0, :, :span]
            for e, off in enumerate(offsets):
                source = buf[c0:c1, None, start + off : start + off + span]
                if e == 0:
                    np.multiply(source, per_tap[e, c0:c1], out=total)
                else:
                    np.multiply(source, per_tap[e, c0:c1], out=term)
                    total += term
            block = tiling.valid(acc[: c1 - c0].reshape((c1 - c0) * multiplier, -1), rows)
            _store(dst[(rows_out, *block_index)], block, None if bias is None else bias[rows_out])


def _span(grid: Sequence[int], pitch: Sequence[int]) -> int:
    """Flat positions from the first grid point to the last."""
    return sum((n - 1) * p for n, p in zip(grid, pitch, strict=True)) + 1


def _store(target: np.ndarray, block: np.ndarray, bias: np.ndarray | None) -> None:
    """Write a computed block to its place in ``dst``, adding the bias (one value per row)."""
    if bias is None:
        target[...] = block
    else:
        np.add(block, bias.reshape((-1,) + (1,) * (block.ndim - 1)), out=target)


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

    @property
    def block_count(self) -> int:
        """How many blocks :meth:`blocks` yields."""
        return math.prod(self.grid[: self.axis]) * -(-self.grid[self.axis] // self.step)

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
