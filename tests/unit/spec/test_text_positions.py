"""YamlDocument.text_position: where a spot inside a string value sits in the file."""

from __future__ import annotations

from pathlib import Path

from outbound.spec.yamlfile import YamlDocument, read_yaml

TEXT = """name: x
steps:
  - id: a
    subject: "Hi {{ first_name }}"
    plain: Hi there
    body: |
      line one
        indented {a|b
      line three
    folded: >
      one
      two
"""


def _doc(tmp_path: Path) -> YamlDocument:
    (tmp_path / "s.yaml").write_text(TEXT)
    doc = read_yaml(tmp_path / "s.yaml")
    assert isinstance(doc, YamlDocument)
    return doc


def test_a_literal_block_keeps_its_lines(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    assert doc.text_position(("steps", 0, "body"), 1, 1) == (7, 7)
    assert doc.text_position(("steps", 0, "body"), 2, 12) == (8, 18)  # the '{' of '{a|b'
    assert TEXT.splitlines()[7][17] == "{"


def test_one_line_values_quoted_or_not(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    assert doc.text_position(("steps", 0, "subject"), 1, 4) == (4, 18)
    assert TEXT.splitlines()[3][17] == "{"
    assert doc.text_position(("steps", 0, "plain"), 1, 1) == (5, 12)


def test_folded_values_and_missing_keys_are_not_placed(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    assert doc.text_position(("steps", 0, "folded"), 1, 1) is None
    assert doc.text_position(("steps", 0, "nope"), 1, 1) is None
    assert doc.text_position(("steps", 3, "body"), 1, 1) is None
    assert doc.text_position(("steps", 0, "subject"), 2, 1) is None
