"""Every hostile corpus case gets its expected clean answer, in bounded time and memory."""

from __future__ import annotations

import pytest

from tests.hostile.case import run_case
from tests.hostile.corpus import all_cases

CORPUS = all_cases()


def test_the_corpus_is_large():
    assert len(CORPUS) >= 200


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(item, marks=pytest.mark.xfail(strict=True, reason=item.known_bug) if item.known_bug else ())
        for item in CORPUS
    ],
    ids=[item.name for item in CORPUS],
)
def test_case(item, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    run_case(item, folder)
