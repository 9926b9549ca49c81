"""Options handed to every hook: what the user asked for on the command line or in the API."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """Settings shared by loaders and analyzers.

    ``raise_errors`` makes a raising analyzer propagate instead of becoming an error finding (tests, and
    ``INSPECTOR_RAISE_ERRORS=1``).
    """

    raise_errors: bool = False
