"""The order of a file-order scan repeated until nothing more can run, in time linear in items and inputs.

A Keras functional config lists layers in any order; each runs once the tensors it reads exist.  Scanning the
list again and again gives a natural order (file order where possible) but costs quadratic time on a long chain
listed backwards; ``PassOrder`` hands out the same order without rescanning.
"""

from __future__ import annotations

import heapq
from collections.abc import Container, Hashable, Iterable, Iterator, Sequence


class PassOrder:
    """Item indexes in the order repeated file-order passes would run them.

    ``needs[i]`` are the keys item ``i`` waits for; keys in ``available`` exist from the start, and
    ``provide(key)`` makes one exist (call it while iterating, as items produce their outputs).
    """

    def __init__(self, needs: Sequence[Iterable[Hashable]], available: Container[Hashable]) -> None:
        self._missing: list[int] = []
        self._waiters: dict[Hashable, list[int]] = {}
        self._this_pass: list[int] = []
        self._next_pass: list[int] = []
        self._cursor = -1
        for item, keys in enumerate(needs):
            absent = {key for key in keys if key not in available}
            self._missing.append(len(absent))
            for key in absent:
                self._waiters.setdefault(key, []).append(item)
            if not absent:
                self._this_pass.append(item)  # ascending, so already a heap

    def provide(self, key: Hashable) -> None:
        """Mark ``key`` as existing: items waiting only for it become ready (this pass if the scan is before them)."""
        for item in self._waiters.pop(key, ()):
            self._missing[item] -= 1
            if self._missing[item] == 0:
                heapq.heappush(self._this_pass if item > self._cursor else self._next_pass, item)

    def __iter__(self) -> Iterator[int]:
        while self._this_pass or self._next_pass:
            if not self._this_pass:
                self._this_pass, self._next_pass = self._next_pass, []
            self._cursor = heapq.heappop(self._this_pass)
            yield self._cursor

    def stuck(self) -> list[int]:
        """The items whose inputs never appeared."""
        return [item for item, count in enumerate(self._missing) if count]
