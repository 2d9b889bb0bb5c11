"""The corpus of free-text descriptions with their expected spoken form (issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prompts.spoken import clean_text, to_spoken

CORPUS = Path(__file__).with_name("free_text_corpus.tsv")


def _rows() -> list[tuple[str, str]]:
    rows = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            written, spoken = line.split("\t")
            rows.append((written, spoken))
    return rows


@pytest.mark.parametrize("written, spoken", _rows())
def test_corpus(written, spoken):
    said = to_spoken(clean_text(written))
    assert said == spoken
    assert not any(c.isdigit() for c in said), said
