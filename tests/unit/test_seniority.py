"""Seniority derived from a job title."""

from __future__ import annotations

import pytest

from outbound.prospects.seniority import DEPARTMENTS, LEVELS, department, seniority


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


@pytest.mark.parametrize(("title", "dept"), [
    ("VP Sales", "sales"), ("Chief Revenue Officer", "sales"), ("Head of Growth", "marketing"),
    ("Senior Software Engineer", "engineering"), ("CTO", "engineering"), ("Director of Product Design", "product"),
    ("CFO", "finance"), ("Head of Talent", "people"), ("IT Manager", "it"), ("CEO", "other"), (None, "other"),
])
def test_a_title_gives_its_department(title: str | None, dept: str) -> None:
    assert department(title) == dept and dept in DEPARTMENTS
