"""The date an out-of-office message says its author is back (or away until), in several languages.

Supported forms: ISO (2025-03-14), numeric with / . or - (14.03.2025, 3/14/2025, 14/03), and
day-month-name or month-name-day with or without a year, in English, German, French, Spanish,
Italian, Dutch, Swedish, Danish/Norwegian and Portuguese. A missing year is the first one that
puts the date on or after the message's own date. Dates after a "back/until/return" word win;
otherwise the latest date stated.
"""

from __future__ import annotations

import datetime as dt
import re

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        "january jan januar janvier janv enero ene gennaio genn gen januari janeiro",
        "february feb februar févr fevr février fevrier febrero febbraio febr februari fevereiro fev",
        "march mar märz maerz marz mars marzo maart março marco",
        "april apr avril avr abril aprile",
        "may mai mayo maggio mei maj maio",
        "june jun juni juin junio giugno giu junho",
        "july jul juli juillet juil julio luglio lug julho",
        "august aug august août aout agosto ago augusti augustus",
        "september sep sept septembre septiembre settembre set setembro",
        "october oct oktober octobre octubre ottobre ott okt outubro out",
        "november nov novembre noviembre novembre novembro",
        "december dec dezember décembre decembre dic diciembre dicembre dez december dezembro",
    ],
    start=1,
):
    for _name in _names.split():
        _MONTHS.setdefault(_name, _number)

MONTHS = _MONTHS  # month names of every supported language -> number (the follow-up dates read them too)
_MONTH_ALT = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_ORD = r"(?:st|nd|rd|th|er|e|º|°|\.)?"
_YEAR = r"(?:,?\s*(\d{4}))?"
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}}){_ORD}\s*(?:de\s+|of\s+)?({_MONTH_ALT})\.?(?:\s+de)?{_YEAR}\b", re.I)
_MONTH_DAY = re.compile(rf"\b({_MONTH_ALT})\.?\s+(\d{{1,2}}){_ORD}(?!\d){_YEAR}", re.I)
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_NUMERIC = re.compile(r"(?<![\d.:/])(\d{1,2})([./\-])(\d{1,2})(?:\2(\d{4}|\d{2}))?(?![\d:])(?!\.\d)")

# Words after which the return date follows; they win over "until" words (the last day away).
_BACK_WORDS = re.compile(
    r"back|return|returning|resume|available again|reachable again|"
    r"zurück|wieder|ab dem|ab|"
    r"retour|à partir du|"
    r"regreso|vuelta|volveré|a partir del|"
    r"rientro|rientrer|ritorno|sarò di nuovo|"
    r"terug|vanaf|weer|"
    r"tillbaka|åter|"
    r"tilbage|igen|"
    r"volta|retorno",
    re.I,
)
_UNTIL_WORDS = re.compile(
    r"until|till|through|thru|bis( zum| einschließlich)?|jusqu.?au|jusqu.?à|hasta|fino al|fino a|"
    r"tot en met|t/m|t\.m\.|tot|till och med|t\.o\.m\.|fram till|til og med|até",
    re.I,
)

_ENGLISH_HINT = re.compile(r"\b(the|office|until|back|return|will|am|and)\b", re.I)


def _build(year: int | None, month: int, day: int, sent: dt.date) -> dt.date | None:
    if year is not None and year < 100:
        year += 2000
    try:
        if year is not None:
            return dt.date(year, month, day)
        candidate = dt.date(sent.year, month, day)
        if candidate < sent - dt.timedelta(days=7):
            candidate = dt.date(sent.year + 1, month, day)
        return candidate
    except ValueError:
        return None


def _dates(text: str, sent: dt.date) -> list[tuple[int, dt.date]]:
    """(position, date) for every date in text."""
    english = len(_ENGLISH_HINT.findall(text)) >= 3
    found: list[tuple[int, dt.date]] = []
    taken: list[tuple[int, int]] = []

    def add(pos: int, end: int, value: dt.date | None) -> None:
        if value is None or any(a <= pos < b for a, b in taken):
            return
        taken.append((pos, end))
        found.append((pos, value))

    for m in _ISO.finditer(text):
        add(m.start(), m.end(), _build(int(m.group(1)), int(m.group(2)), int(m.group(3)), sent))
    for m in _MONTH_DAY.finditer(text):
        add(
            m.start(),
            m.end(),
            _build(int(m.group(3)) if m.group(3) else None, _MONTHS[m.group(1).lower()], int(m.group(2)), sent),
        )
    for m in _DAY_MONTH.finditer(text):
        add(
            m.start(),
            m.end(),
            _build(int(m.group(3)) if m.group(3) else None, _MONTHS[m.group(2).lower()], int(m.group(1)), sent),
        )
    for m in _NUMERIC.finditer(text):
        a, b = int(m.group(1)), int(m.group(3))
        year = int(m.group(4)) if m.group(4) else None
        if m.group(2) == "." and not m.group(4) and a > 12 and b > 12:
            continue
        # US month/day in English text with a slash, day/month everywhere else.
        month, day = (a, b) if (english and m.group(2) == "/" and a <= 12) else (b, a)
        if month > 12:
            month, day = day, month
        add(m.start(), m.end(), _build(year, month, day, sent))
    return sorted(found)


def find_return_date(text: str, sent: dt.date | None = None) -> dt.date | None:
    """The return date stated in text (the first 1500 characters), or None."""
    sent = sent or dt.date.today()
    head = text[:1500]
    dates = [(pos, value) for pos, value in _dates(head, sent) if value >= sent - dt.timedelta(days=1)]
    if not dates:
        return None
    for words in (_BACK_WORDS, _UNTIL_WORDS):
        for pos, value in dates:
            # The word must lead straight to the date ("back on Monday, 3 March").
            before = head[max(0, pos - 32) : pos].split("\n")[-1]
            if words.search(before):
                return value
    return max(value for _, value in dates)
