"""DKIM key-record vectors (dkimpy, mail-auth and RFC-derived rows) against the pure assessment."""

from __future__ import annotations

import json
from typing import Any

import pytest

from outbound.health.dkim import assess_key, parse_tags
from tests.fixtures.common import corpora_dir


def vectors() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((corpora_dir() / "dkim" / "dkim_key_record_vectors.json").read_text())
    return rows


def outcome(problems: list[tuple[str, str, str]]) -> tuple[set[str], set[str]]:
    return {c for s, c, _ in problems if s == "error"}, {c for s, c, _ in problems if s == "warning"}


def test_every_dkim_vector() -> None:
    rows = vectors()
    assert len(rows) == 25
    misses = []
    for row in rows:
        errors, warnings = outcome(assess_key(row["record"]))
        health = row["health"]
        if health == "ok":
            good = not errors and not warnings
        elif health == "weak":
            good = not errors and "weak_key" in warnings
        elif health.startswith("warn:"):
            good = not errors and health[5:] in warnings
        else:
            good = health[6:] in errors
        if not good:
            misses.append(f"{row['name']}: want {health}, got errors={errors} warnings={warnings}")
    assert not misses, "\n".join(misses)


def test_dkimpy_key_files_parse() -> None:
    # dkimpy's own key files: the good ones must assess without errors
    folder = corpora_dir() / "dkim" / "dkimpy-data"
    for name in ("test.txt", "test2.txt", "ed25519test.dns"):
        text = (folder / name).read_text().strip()
        errors, _ = outcome(assess_key(text))
        assert not errors, (name, text[:60], errors)


@pytest.mark.parametrize(
    ("record", "code"),
    [
        ("v=DKIM1; k=rsa; p=MIGfMA0; p=x", "syntax"),
        ("v=DKIM1; k=dsa; p=AAAA", "unknown_k"),
        ("v=DKIM1; p=", "revoked"),
    ],
)
def test_errors_have_codes(record: str, code: str) -> None:
    errors, _ = outcome(assess_key(record))
    assert code in errors


def test_tag_list_tolerates_folding_and_empty_specs() -> None:
    tags, order = parse_tags(" v = DKIM1 ;; k=rsa;\r\n\tp=AB CD ;")
    assert tags == {"v": "DKIM1", "k": "rsa", "p": "AB CD"}
    assert order == ("v", "k", "p")
