"""Built-in analyzer: per-filter health of every conv layer (NaN/Inf, dead, int8 range, duplicates).

The int8 range check: per-tensor symmetric int8 quantization gives the whole weight one step,
``max|W| / 127``, so a filter whose largest magnitude is ``a`` uses ``127·a / max|W|`` levels per sign.  When the
ratio ``max|W| / a`` reaches ``RANGE_RATIO_THRESHOLD`` (16) that filter keeps fewer than 8 levels (3 bits), coarser
than per-channel 4-bit quantization, which is the point where quantizing per channel is advised.  Weights stored as
integers (a ``ConvInteger`` weight, which the loader cannot dequantize) are not checked, only described.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Sequence

import numpy as np

from inspector.errors import FilterError
from inspector.hookspecs import hookimpl
from inspector.model.common import ConvLayer, Model
from inspector.model.filter_stats import CHUNK_BYTES, FilterStats, matrices_stats, row_chunks
from inspector.model.findings import Finding, Severity, examples, noun, plural, times
from inspector.model.mapped import drop_pages, mapped_file
from inspector.model.transient_reads import TransientReads
from inspector.options import Options

INT8_LEVELS = 127
RANGE_RATIO_THRESHOLD = 16.0
DIGESTED_DIRECTLY = 32
"""Filters of a small layer digested one by one; more are told apart by a vectorized fingerprint first."""
RUN_BYTES = 2**20
"""Layers smaller than this are checked in runs of up to this many bytes of weights, their filter statistics in one
NumPy pass per run (a pass costs microseconds however small, and a model may have thousands of small layers)."""


def _channels(channels: list[int]) -> str:
    """``output channel 5``, ``output channels 1, 2, 3 … (9 more)``."""
    return f"output {noun(len(channels), 'channel')} {examples(channels)}"


def _finding(layer: ConvLayer, severity: Severity, check: str, message: str, **data: object) -> Finding:
    return Finding(severity=severity, check=check, layer=layer.name, message=message, data=data)


def _non_finite(layer: ConvLayer, stats: FilterStats) -> list[Finding]:
    filters = (~stats.finite).nonzero()[0].tolist()
    bias = [] if layer.bias is None else np.flatnonzero(~np.isfinite(layer.bias.array.ravel())).tolist()
    if not filters and not bias:
        return []
    parts = [f"{noun(len(filters), 'the filter')} of {_channels(filters)}"] if filters else []
    parts += [f"the bias of {_channels(bias)}"] if bias else []
    message = f"NaN or Inf in {' and '.join(parts)}"
    return [_finding(layer, "error", "non_finite", message, filter_channels=filters, bias_channels=bias)]


def _dead(layer: ConvLayer, stats: FilterStats) -> list[Finding]:
    dead = (stats.finite & (stats.max_abs == 0)).nonzero()[0].tolist()
    if not dead:
        return []
    output = "its bias alone" if layer.bias is not None else "zero"
    are, each = ("is", "that output map is") if len(dead) == 1 else ("are", "each of those output maps is")
    message = (
        f"{len(dead):,} of {plural(layer.out_channels, 'filter')} {are} all zero (dead), so {each} {output}: "
        f"{_channels(dead)}"
    )
    return [_finding(layer, "warning", "dead_filter", message, channels=dead)]


def _int8_range(layer: ConvLayer, stats: FilterStats) -> list[Finding]:
    live = (stats.finite & (stats.max_abs > 0)).nonzero()[0]
    if live.size < 2:
        return []
    magnitudes = stats.max_abs[live]
    largest = float(magnitudes.max())
    ratios = largest / magnitudes
    crushed = live[ratios >= RANGE_RATIO_THRESHOLD].tolist()
    if not crushed:
        return []
    top, small = int(live[magnitudes.argmax()]), int(live[magnitudes.argmin()])
    ratio = float(ratios.max())
    levels = int(INT8_LEVELS / ratio)
    left = (
        f"leaving it {levels} of {INT8_LEVELS} levels"
        if levels
        else "rounding it to zero (a dead filter once quantized)"
    )
    message = (
        f"per-tensor int8 quantization would crush {len(crushed):,} of {plural(layer.out_channels, 'filter')}: the "
        f"largest |w| ({largest:.3g}, channel {top}) is {times(ratio)} channel {small}'s ({stats.max_abs[small]:.3g}), "
        f"at or above the {RANGE_RATIO_THRESHOLD:g}× threshold, {left}; quantize per channel ({_channels(crushed)})"
    )
    return [
        _finding(
            layer,
            "warning",
            "int8_range",
            message,
            ratio=ratio,
            threshold=RANGE_RATIO_THRESHOLD,
            levels=levels,
            largest_channel=top,
            smallest_channel=small,
            channels=crushed,
        )
    ]


def duplicate_sets(layer: ConvLayer, stats: FilterStats, matrix: np.ndarray | None = None) -> list[list[int]]:
    """Sets of output channels whose filters are bit-for-bit equal and read the same inputs (same group).

    Dead and non-finite filters are left out: other findings name them.  Filters are keyed by a 128-bit BLAKE2
    digest of their bytes, read a bounded chunk at a time; in a layer bigger than one chunk or of more than
    ``DIGESTED_DIRECTLY`` filters, only the filters that share a fingerprint (group, min, max and three sampled
    weights) are.  ``matrix``: the layer's
    ``as_matrix()``, when the caller has it already.
    """
    candidates = (stats.finite & (stats.max_abs > 0)).nonzero()[0]
    if candidates.size < 2:
        return []
    matrix = layer.as_matrix() if matrix is None else matrix
    per_group = layer.out_channels // layer.groups
    few = matrix.nbytes <= CHUNK_BYTES and candidates.size <= DIGESTED_DIRECTLY
    suspects = candidates if few else _sharing_a_fingerprint(matrix, candidates, per_group, stats)
    sets: dict[tuple[int, bytes], list[int]] = {}
    mapped = mapped_file(matrix)
    for part in row_chunks(suspects.size, matrix.shape[1] * matrix.itemsize):
        for channel, row in zip(suspects[part].tolist(), matrix[suspects[part]], strict=True):
            digest = hashlib.blake2b(np.ascontiguousarray(row), digest_size=16).digest()
            sets.setdefault((channel // per_group, digest), []).append(channel)
            if mapped:
                drop_pages(matrix[channel])
    return sorted(part for part in sets.values() if len(part) > 1)


def _sharing_a_fingerprint(
    matrix: np.ndarray, candidates: np.ndarray, per_group: int, stats: FilterStats
) -> np.ndarray:
    """The ``candidates`` whose fingerprint (group, min, max, first, middle and last weight) another one shares;
    the sampled weights are read a chunk at a time."""
    sampled = [0, matrix.shape[1] // 2, matrix.shape[1] - 1]
    probes = np.empty((matrix.shape[0], 3))
    for rows in row_chunks(matrix.shape[0], matrix.shape[1] * matrix.itemsize):
        probes[rows] = matrix[rows][:, sampled]
        drop_pages(matrix[rows])
    fingerprint = np.column_stack(
        [candidates // per_group, stats.min[candidates], stats.max[candidates], probes[candidates]]
    )
    _, label, counts = np.unique(fingerprint, axis=0, return_inverse=True, return_counts=True)
    return candidates[counts[label.ravel()] > 1]


def _duplicates(layer: ConvLayer, stats: FilterStats, matrix: np.ndarray) -> list[Finding]:
    sets = duplicate_sets(layer, stats, matrix)
    if not sets:
        return []
    repeats = sum(len(part) - 1 for part in sets)
    if len(sets) == 1:
        first, *rest = sets[0]
        message = f"{plural(repeats, 'filter')} equal to filter {first} bit for bit: {examples(rest)}"
    else:
        described = [
            f"{plural(len(part) - 1, 'filter')} equal to filter {part[0]} ({examples(part[1:])})" for part in sets
        ]
        message = (
            f"{plural(repeats, 'filter')} repeat an earlier one of their group bit for bit, in {len(sets):,} sets: "
            + "; ".join(described[:3])
            + (f" … ({plural(len(sets) - 3, 'more set')})" if len(sets) > 3 else "")
        )
    return [_finding(layer, "info", "duplicate_filter", message, sets=sets, repeats=repeats)]


def check_filters(layer: ConvLayer, stats: FilterStats, matrix: np.ndarray) -> list[Finding]:
    """Findings for one layer's floating-point filters, from their statistics and ``as_matrix()``."""
    return [
        *_non_finite(layer, stats),
        *_dead(layer, stats),
        *_int8_range(layer, stats),
        *_duplicates(layer, stats, matrix),
    ]


def _runs(layers: Sequence[ConvLayer]) -> Iterator[list[ConvLayer]]:
    """The layers in runs of consecutive ones whose weights fit ``RUN_BYTES`` together (a bigger one alone)."""
    run: list[ConvLayer] = []
    held = 0
    for layer in layers:
        size = 8 * (layer.weight.size if layer.weight is not None else 0)  # bytes as float64, at most
        if run and held + size > RUN_BYTES:
            yield run
            run, held = [], 0
        run.append(layer)
        held += size
    if run:
        yield run


@hookimpl
def analyze_model(model: Model, options: Options) -> list[Finding]:
    """Check every conv layer's filters, reading one layer's weights at a time (small layers a bounded run of them
    at a time); layers whose weight cannot be sliced are left to ``analyze_params``, integer (still quantized)
    weights get no findings."""
    layers = model.conv_layers
    if not options.read_weights:
        message = "filter checks (NaN or Inf, dead, duplicate, int8 range) skipped: weights not read (--no-weights)"
        return [Finding(severity="info", check="filters_skipped", layer=None, message=message)] if layers else []
    findings: list[Finding] = []
    done = 0
    for run in _runs(layers):
        reads = TransientReads(run)
        try:
            matrices = {}
            for index, layer in enumerate(run):
                with contextlib.suppress(FilterError):
                    matrix = layer.as_matrix()
                    if np.issubdtype(matrix.dtype, np.floating):
                        matrices[index] = matrix
            stats = matrices_stats(matrices) if matrices else {}
            for index, layer in enumerate(run):
                if index in stats:
                    findings.extend(check_filters(layer, stats[index], matrices[index]))
                done += 1
                if options.progress is not None:
                    options.progress(layer.name, done, len(layers))
        finally:
            reads.release_all()
    return findings
