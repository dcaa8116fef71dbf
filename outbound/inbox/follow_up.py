"""When a "not now" reply asks to be written to again, resolved against the message's own date.

"in March" is the 1st of the next March; "after Q2" and "in Q3" the first day of Q3; "next year"
the 1st of January; "in 6 weeks" / "daqui a dois meses" that much after the message; "after the
summer" the 1st of September; "after August" the 1st of September. The same in German, French,
Spanish, Portuguese, Dutch and Italian.
"""

from __future__ import annotations

import datetime as dt
import re

from outbound.inbox.return_date import MONTHS

_MONTH_ALT = "|".join(sorted((re.escape(m) for m in MONTHS if len(m) >= 4 or m in ("may", "mai", "mei")),
                             key=len, reverse=True))
_AFTER = r"after|nach|après|apres|después de|despues de|después del|dopo|depois de|depois do|na"
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "six": 6, "couple of": 2, "few": 3,
    "ein": 1, "einem": 1, "zwei": 2, "drei": 3, "vier": 4, "sechs": 6, "un": 1, "une": 1, "deux": 2, "trois": 3,
    "quatre": 4, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "seis": 6, "um": 1, "uns dois": 2, "dois": 2,
    "três": 3, "quatro": 4, "due": 2, "tre": 3, "een": 1, "twee": 2, "drie": 3, "vier ": 4, "zes": 6,
}
_NUM_ALT = "|".join(sorted((re.escape(n) for n in _NUMBERS), key=len, reverse=True))
_UNITS = {
    "day": 1, "days": 1, "tag": 1, "tagen": 1, "jours": 1, "días": 1, "dias": 1, "giorni": 1, "dagen": 1,
    "week": 7, "weeks": 7, "woche": 7, "wochen": 7, "semaine": 7, "semaines": 7, "semana": 7, "semanas": 7,
    "settimana": 7, "settimane": 7, "weken": 7,
    "month": 30, "months": 30, "monat": 30, "monaten": 30, "mois": 30, "mes": 30, "meses": 30, "mese": 30,
    "mesi": 30, "maand": 30, "maanden": 30,
}
_UNIT_ALT = "|".join(sorted(_UNITS, key=len, reverse=True))
_RELATIVE = re.compile(
    rf"\b(?:in|within|dans|en|dentro de|daqui a|tra|fra|over|binnen)\s+(?:about |around |etwa |environ |unos |uns |circa )?"
    rf"(\d{{1,2}}|{_NUM_ALT})\s+({_UNIT_ALT})\b",
    re.I,
)
_QUARTER = re.compile(rf"\b(?:({_AFTER}|end of|ende)\s+(?:the\s+|dem\s+|le\s+|el\s+)?)?(?:q|quarter\s*)([1-4])\b", re.I)
_NEXT_YEAR = re.compile(
    r"\bnext year\b|\bin the new year\b|\bim (neuen|nächsten|kommenden) jahr\b|\bnächstes jahr\b|\bl.?année prochaine\b|"
    r"\bl.?an prochain\b|\bel (año|ano) que viene\b|\bel próximo año\b|\bpróximo ano\b|\bano que vem\b|"
    r"\bl.?anno prossimo\b|\bl.?anno nuovo\b|\bvolgend jaar\b|\bnieuwe jaar\b",
    re.I,
)
_NEXT_QUARTER = re.compile(r"\bnext quarter\b|\bnächsten quartal\b|\btrimestre prochain\b|\bpróximo trimestre\b|"
                           r"\bprossimo trimestre\b|\bvolgend kwartaal\b", re.I)
_SEASONS = {"spring": 3, "frühjahr": 3, "frühling": 3, "printemps": 3, "primavera": 3, "voorjaar": 3, "lente": 3,
            "autumn": 9, "fall": 9, "herbst": 9, "automne": 9, "otoño": 9, "outono": 9, "autunno": 9, "najaar": 9}
_SEASON = re.compile(r"\b(?:in|im|au|en|na|em|in de|in the|in autunno|this|next|dans le)\s+(?:the\s+|de\s+|la\s+|o\s+|l.)?("
                     + "|".join(_SEASONS) + r")\b", re.I)
_NEXT_MONTH = re.compile(r"\bnext month\b|\bnächsten monat\b|\bmois prochain\b|\bmes que viene\b|\bpróximo mês\b|"
                         r"\bmese prossimo\b|\bvolgende maand\b", re.I)
_SUMMER = re.compile(r"\b(after|nach|après|después|dopo|depois|na)\s+(the\s+|dem\s+|de\s+|l.|el\s+|del\s+|do\s+)?"
                     r"(summer|sommer|été|ete|verano|estate|verão|zomer|summer holidays|sommerferien|vacances d.été)\b", re.I)
_MONTH = re.compile(rf"(?:\b({_AFTER})\s+(?:(?:the\s+|le\s+|las\s+|le ferie di\s+|den\s+|end of\s+)?))?\b({_MONTH_ALT})\b", re.I)
_MONTH_CONTEXT = re.compile(r"\b(in|im|en|a|em|ab|from|until|after|nach|après|après les|dopo|depois|until|in early|"
                            r"early|late|end of|mid|around)\s*$|[-–]\s*$", re.I)


def _first_of_month(year: int, month: int) -> dt.date:
    while month > 12:
        month -= 12
        year += 1
    return dt.date(year, month, 1)


def _next_start(sent: dt.date, month: int) -> dt.date:
    """The 1st of ``month`` on or after the message (this year's if still to come, else next year's)."""
    return dt.date(sent.year, month, 1) if month > sent.month else dt.date(sent.year + 1, month, 1)


def follow_up_date(text: str, sent: dt.date) -> dt.date | None:
    """The date the author asks to be contacted again, or None when the text names none."""
    m = _RELATIVE.search(text)
    if m:
        count = int(m.group(1)) if m.group(1).isdigit() else _NUMBERS[m.group(1).lower()]
        unit = _UNITS[m.group(2).lower()]
        if unit == 30:
            return _add_months(sent, count)
        return sent + dt.timedelta(days=count * unit)
    m = _QUARTER.search(text)
    if m:
        quarter = int(m.group(2))
        start_month = 3 * quarter + 1 if m.group(1) else 3 * quarter - 2
        if start_month > 12:
            return dt.date(sent.year + 1, 1, 1)
        return _next_start(sent, start_month) if start_month != sent.month else dt.date(sent.year, start_month, 1)
    if _SUMMER.search(text):
        return _next_start(sent, 9)
    m = _SEASON.search(text)
    if m:
        return _next_start(sent, _SEASONS[m.group(1).lower()])
    for m in _MONTH.finditer(text):
        word = m.group(2).lower()
        after = bool(m.group(1))
        if not after and not _MONTH_CONTEXT.search(text[max(0, m.start() - 12) : m.start()]):
            continue  # a month name must follow "in", "en", "im"...: "may" is a verb too
        month = MONTHS[word]
        if after:
            nxt = _next_start(sent, month) if month != sent.month else dt.date(sent.year, month, 1)
            return _first_of_month(nxt.year, nxt.month + 1)
        return _next_start(sent, month)
    if _NEXT_YEAR.search(text):
        return dt.date(sent.year + 1, 1, 1)
    if _NEXT_QUARTER.search(text):
        return _first_of_month(sent.year, 3 * ((sent.month - 1) // 3) + 4)
    if _NEXT_MONTH.search(text):
        return _first_of_month(sent.year, sent.month + 1)
    return None


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    return dt.date(year, month, 28)
