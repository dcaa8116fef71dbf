"""DMARC record vectors (OpenDMARC, checkdmarc) and the RFC 9989 tree-walk cases, on the pure parsers.

Where RFC 9989 changed a rule (the vector's rfc9989_note), the RFC 9989 behaviour is expected:
pct, rf and ri are removed tags (warning, value ignored) and a missing p is read as p=none (warning).
"""

from __future__ import annotations

import json
from typing import Any

from outbound.health.dmarc import aligned, assess, tree_walk
from tests.fixtures.common import corpora_dir

WARN_CODES = {
    "pct tag was removed": "tag_removed", "rf tag was removed": "tag_removed", "ri tag was removed": "tag_removed",
    "missing p tag": "missing_p", "Unknown DMARC tag 'xyz'": "unknown_tag", "redundant": "redundant_fo",
    "sp tag value of none": "sp_none", "rua": "no_rua", "p tag does not immediately follow": "p_not_second",
    "parked": "parked",
}
# Deliberate departures from a vector, with the reason.
DEVIATIONS = {
    # OpenDMARC accepts a prefix of "none"; the RFC grammar (and checkdmarc) do not, and a domain owner should fix it.
    "v=DMARC1; p=n;": "error:bad_value",
}


def expected(row: dict[str, Any]) -> str:
    if row["record"] in DEVIATIONS:
        return DEVIATIONS[row["record"]]
    note = row.get("rfc9989_note") or ""
    want: str = row["expect"]
    if want.startswith("error") and "removed in RFC 9989" in note:
        return "warn:tag_removed"
    if want == "error:no_required_p":
        return "warn:missing_p"
    if want.startswith("warn:"):
        return "warn:" + WARN_CODES[want[5:]]
    return want


def judge(record: str, parked: bool, want: str) -> bool:
    _, problems = assess(record, parked=parked)
    errors = {c for s, c, _ in problems if s == "error"}
    warnings = {c for s, c, _ in problems if s == "warning"}
    if want == "warn:no_rua":
        return not errors  # missing rua is judged by the DNS check, not the record parser
    if want == "ok":
        return not errors
    if want.startswith("warn:"):
        return not errors and want[5:] in warnings
    return want[6:] in errors


def test_every_dmarc_record_vector() -> None:
    rows = json.loads((corpora_dir() / "dmarc" / "dmarc_record_vectors.json").read_text())
    assert len(rows) == 53
    misses = [f"{r['record']!r}: want {expected(r)}, got {assess(r['record'], r['parked'])[1]}"
              for r in rows if not judge(r["record"], r["parked"], expected(r))]
    assert not misses, "\n".join(misses)


def walk_fixture() -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    data = json.loads((corpora_dir() / "dmarc" / "dmarcwalk-fixture.json").read_text())
    zone: dict[str, list[str]] = {}
    for name, _rtype, value in data["records"]:
        zone.setdefault(name.removeprefix("_dmarc."), []).append(value)
    return zone, [c for c in data["cases"] if c["mode"] in ("rfc9989", "any")]


async def test_rfc9989_tree_walk_cases() -> None:
    zone, cases = walk_fixture()
    asked: list[str] = []

    async def fetch(name: str) -> list[str]:
        asked.append(name)
        assert name.endswith("dmarcwalk.test.example"), f"walked above the psd=y apex: {name}"
        return zone.get(name, [])

    for case in cases:
        if "alignment" in case:
            a, b = case["alignment"]
            assert await aligned(a, b, fetch) is case["relaxed_aligned"]
            continue
        asked.clear()
        found = await tree_walk(case["query"], fetch)
        assert found.org_domain == case["org_domain"], case
        if "policy_record_at" in case:
            assert found.policy_domain == case["policy_record_at"]
        if "queries_expected" in case:
            # the first query is the author domain's own policy lookup; the walk proper follows it
            assert found.queries - 1 == case["queries_expected"], asked


async def test_multiple_records_are_no_record() -> None:
    async def fetch(name: str) -> list[str]:
        return {"a.example": ["v=DMARC1; p=reject", "v=DMARC1; p=none"], "example": []}.get(name, [])

    found = await tree_walk("a.example", fetch)
    assert found.policy_domain is None and found.org_domain == "a.example"
