"""The README's "What each event does" table is the rulebook's own answer, row for row."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from outbound.rulebook.facts import Fact
from outbound.rulebook.table import examples, rulebook_table

README = Path(__file__).resolve().parents[3] / "README.md"
START = "<!-- rulebook table:"
END = "<!-- end of rulebook table -->"


def test_the_readme_table_is_what_the_rulebook_decides() -> None:
    text = README.read_text(encoding="utf-8")
    assert START in text and END in text, "the README lost its rulebook table markers"
    body = text.split(START, 1)[1].split("\n", 1)[1].split(END, 1)[0].strip()
    assert body == rulebook_table(), (
        "README.md's 'What each event does' table differs from the rulebook; paste the output of "
        "python -c 'from outbound.rulebook.table import rulebook_table; print(rulebook_table())'")


def test_the_table_covers_every_kind_of_fact() -> None:
    kinds = {type(fact) for _, _, fact in examples()}
    assert kinds == set(get_args(Fact)), "a kind of fact has no row in the README table"
