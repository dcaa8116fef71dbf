"""Seniority derived from a job title."""

from __future__ import annotations

import pytest

from outbound.prospects.seniority import LEVELS, seniority


@pytest.mark.parametrize(("title", "level"), [
    ("CEO", "c-level"), ("Chief Revenue Officer", "c-level"), ("Co-Founder & CTO", "c-level"),
    ("President", "c-level"), ("Managing Director", "c-level"),
    ("VP Sales", "vp"), ("Vice President, Marketing", "vp"), ("SVP of Engineering", "vp"),
    ("Director of Demand Generation", "director"), ("Head of Growth", "director"),
    ("Sales Manager", "manager"), ("Team Lead, Support", "manager"), ("Engineering Mgr.", "manager"),
    ("Account Executive", "individual"), ("Software Engineer", "individual"), (None, "individual"), ("", "individual"),
])
def test_a_title_gives_its_level(title: str | None, level: str) -> None:
    assert seniority(title) == level and level in LEVELS
