"""Every hostile corpus case gets the one answer it states (outcome and a fragment of the text), in bounded time
and memory; a case that states less is refused."""

from __future__ import annotations

import pytest

from tests.hostile.case import Case, run_case
from tests.hostile.corpus import all_cases
from tests.hostile.outcome import LOAD_ERROR, OK


def known_bug(reason: str) -> pytest.MarkDecorator:
    """A known wrong answer: the case must fail by its own assertion (a crash is not the known bug)."""
    return pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)


CORPUS = all_cases()


def test_the_corpus_is_large():
    assert len(CORPUS) >= 200


def test_a_case_states_one_outcome_and_a_fragment():
    def build(folder):
        return folder / "model.onnx"

    with pytest.raises(ValueError, match="one outcome"):
        Case("either", build, frozenset({LOAD_ERROR, OK}), "not a readable ONNX model")  # type: ignore[arg-type]
    for vague in ("", "  ", "ok"):
        with pytest.raises(ValueError, match="fragment"):
            Case("vague", build, LOAD_ERROR, vague)


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(
            item,
            marks=known_bug(item.known_bug) if item.known_bug else (),
        )
        for item in CORPUS
    ],
    ids=[item.name for item in CORPUS],
)
def test_case(item, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    run_case(item, folder)
