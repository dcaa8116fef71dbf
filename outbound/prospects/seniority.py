"""A contact's seniority (c-level, vp, director, manager, individual) and department from a free-text job title."""

from __future__ import annotations

import re

LEVELS = ("c-level", "vp", "director", "manager", "individual")   # highest first

# Checked in this order, on the lower-cased title split into words; the first that matches wins, so
# "VP of Engineering Management" is a vp and "Director, Product Manager" a director.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("c-level", re.compile(r"\b(chief|ceo|cto|cfo|coo|cmo|cio|ciso|cro|cpo|founder|co-founder|cofounder|owner|"
                           r"president|managing partner|managing director)\b")),
    ("vp", re.compile(r"\b(vp|svp|evp|avp|vice[- ]president)\b")),
    ("director", re.compile(r"\b(director|head of|head)\b")),
    ("manager", re.compile(r"\b(manager|mgr|lead|supervisor|team lead)\b")),
)


def seniority(title: str | None) -> str:
    """The level a title names; "individual" for any other title, and for none."""
    text = re.sub(r"[^a-z0-9 -]+", " ", (title or "").lower())
    if re.search(r"\bvice[- ]president\b", text):  # "Vice President" is no president
        return "vp"
    for level, pattern in _RULES:
        if pattern.search(text):
            return level
    return "individual"


DEPARTMENTS = ("sales", "marketing", "engineering", "product", "finance", "operations", "people", "it", "other")
_DEPARTMENTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("sales", re.compile(r"\b(sales|revenue|account executive|business development|bdr|sdr|cro)\b")),
    ("marketing", re.compile(r"\b(marketing|growth|demand|brand|content|cmo)\b")),
    ("engineering", re.compile(r"\b(engineer\w*|developer|software|devops|cto)\b")),
    ("product", re.compile(r"\b(product|design|ux|cpo)\b")),
    ("finance", re.compile(r"\b(finance|financial|accounting|controller|cfo)\b")),
    ("operations", re.compile(r"\b(operations|ops|coo|procurement|supply)\b")),
    ("people", re.compile(r"\b(hr|people|talent|recruit\w*|human resources)\b")),
    ("it", re.compile(r"\b(it|information|security|cio|ciso)\b")),
)


def department(title: str | None) -> str:
    """The function a title names (the first that matches); "other" for any other title, and for none."""
    text = re.sub(r"[^a-z0-9 -]+", " ", (title or "").lower())
    return next((name for name, pattern in _DEPARTMENTS if pattern.search(text)), "other")
