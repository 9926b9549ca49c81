"""Weights read for one pass over a model and dropped again layer by layer, so that a pass holds one layer's
weights at a time, whatever the model's size."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from inspector.model.common import Layer, Weight, layer_weights


def _with_parts(weights: Iterable[Weight]) -> list[Weight]:
    """``weights`` and, recursively, the weights they are computed from."""
    pending, found = list(weights), []
    while pending:
        weight = pending.pop()
        found.append(weight)
        pending.extend(weight.parts)
    return found


class TransientReads:
    """Weights read during one pass over layers and dropped again after each layer.

    Made before the pass, it remembers what each weight of ``layers`` holds; ``release(layer)`` drops the arrays
    read since (a memory-mapped weight leaves resident memory, an HDF5 weight is read again when next asked for),
    so a pass over a big model holds one layer's weights at a time.  Arrays read before, and weights of a model
    closed meanwhile, are kept.
    """

    def __init__(self, layers: Iterable[Layer]) -> None:
        self._kept = {
            id(weight): (weight, weight.held()) for layer in layers for weight in _with_parts(layer_weights(layer))
        }

    def release(self, layer: Layer) -> None:
        """Drop what ``layer``'s weights read since this object was made."""
        for weight in _with_parts(layer_weights(layer)):
            kept = self._kept.get(id(weight))
            if kept is not None:
                weight.restore(kept[1])

    def release_all(self) -> None:
        """Drop what the weights of every layer read since this object was made."""
        for weight, held in self._kept.values():
            weight.restore(held)


@contextlib.contextmanager
def transient_reads(layer: Layer) -> Iterator[Layer]:
    """Read ``layer``'s weights inside the block without keeping them (:class:`TransientReads`)."""
    reads = TransientReads([layer])
    try:
        yield layer
    finally:
        reads.release_all()
