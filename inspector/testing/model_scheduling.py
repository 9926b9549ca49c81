"""Under pytest-xdist, all the layer items of one model file go to one worker, so no model is validated twice.

A model is validated once per process, by the first of its items that runs there.  xdist's default distribution
(``load``) deals items out one by one, so a model's layers would land on several workers and each would validate
it.  :class:`ModelScheduling` is xdist's ``loadgroup`` scheduler with each model file one work unit; every other
test is a unit of its own or, under ``--dist loadgroup``, one with the tests of its ``xdist_group``.
Imported only by xdist's ``pytest_xdist_make_scheduler`` hook, so only where xdist is installed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadGroupScheduling

DISTRIBUTIONS = ("load", "loadgroup")
"""The ``--dist`` modes this scheduler takes over (``load`` is what ``-n`` alone means); ``loadfile`` and
``loadscope`` keep a file's items together by themselves, ``each`` runs everything on every worker on purpose."""


class ModelScheduling(LoadGroupScheduling):
    """``loadgroup`` scheduling whose work units are whole model files."""

    def __init__(self, config: pytest.Config, log: Producer, claims: Callable[[Path], bool]) -> None:
        super().__init__(config, log)
        self.claims = claims  # whether a collected file is a model file (the plugin's own rule)
        self.groups = config.getvalue("dist") == "loadgroup"

    def _split_scope(self, nodeid: str) -> str:
        file = nodeid.split("::", 1)[0]
        if self.claims(self.config.rootpath / file):
            return file
        return super()._split_scope(nodeid) if self.groups else nodeid
