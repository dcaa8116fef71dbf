"""Which column of a prospect file feeds which field: a pure mapping, explainable for a preview.

Header names are matched after ``squash`` (ASCII, lower case, letters and digits only), so "E-mail",
"Email Address" and "email_address" all match. When several columns map to one standard field the
first (leftmost) is used and the others fill in when it is blank on a row. Every other column becomes
a custom field keyed by ``field_key``; a key already taken (by a standard field or an earlier column)
gets ``_2``, ``_3``... and a header with no usable characters becomes ``column_<n>`` (1-based).
"""

from __future__ import annotations

from dataclasses import dataclass

from outbound.prospects.normalise import field_key, squash
from outbound.prospects.values import STANDARD_FIELDS

FULL_NAME = "full_name"  # split into first/last name when the file has no separate columns


def _aliases() -> dict[str, str]:
    table = {
        "email": [
            "email",
            "e-mail",
            "email address",
            "e-mail address",
            "email addr",
            "mail",
            "mail address",
            "work email",
            "business email",
            "contact email",
            "email id",
            "primary email",
        ],
        "first_name": ["first name", "first", "given name", "forename", "fname", "vorname", "prénom", "nombre"],
        "last_name": [
            "last name",
            "last",
            "surname",
            "family name",
            "lname",
            "nachname",
            "nom",
            "apellido",
            "apellidos",
        ],
        FULL_NAME: ["name", "full name", "contact name", "contact person"],
        "company": [
            "company",
            "company name",
            "organization",
            "organisation",
            "organization name",
            "organisation name",
            "org",
            "employer",
            "account name",
            "firma",
            "empresa",
            "société",
            "entreprise",
        ],
        "company_domain": [
            "company domain",
            "domain",
            "website",
            "web site",
            "company website",
            "company url",
            "website url",
            "homepage",
            "company site",
        ],
        "title": ["title", "job title", "position", "role", "job role", "job position", "designation"],
        "timezone": ["timezone", "time zone", "tz", "time zone id", "iana timezone"],
        "source": ["source", "lead source"],
        "vendor": ["vendor", "lead vendor", "data vendor", "list vendor", "list name"],
    }
    return {squash(alias): target for target, names in table.items() for alias in names}


ALIASES: dict[str, str] = _aliases()


@dataclass(frozen=True)
class ColumnUse:
    """One header cell: its 0-based index, name in the file, where it goes, and a note for the preview."""

    index: int
    name: str
    target: str  # a standard field, FULL_NAME, or a custom field key
    standard: bool
    note: str = ""

    def describe(self) -> str:
        kind = "" if self.standard else "custom field "
        text = f"column {self.index + 1} {self.name!r} -> {kind}{self.target}"
        return f"{text} ({self.note})" if self.note else text


@dataclass(frozen=True)
class HeaderMapping:
    columns: tuple[ColumnUse, ...]

    @property
    def width(self) -> int:
        return len(self.columns)

    def sources(self, target: str) -> tuple[int, ...]:
        """Column indexes feeding a standard field (or FULL_NAME), in priority order."""
        return tuple(c.index for c in self.columns if c.standard and c.target == target)

    @property
    def custom(self) -> tuple[tuple[str, int], ...]:
        return tuple((c.target, c.index) for c in self.columns if not c.standard)

    @property
    def has_email(self) -> bool:
        return bool(self.sources("email"))

    def describe(self) -> list[str]:
        return [c.describe() for c in self.columns]


def map_header(columns: list[str] | tuple[str, ...]) -> HeaderMapping:
    """Map header names to prospect fields (see the module docstring for the rules)."""
    uses: list[ColumnUse] = []
    first_of: dict[str, str] = {}
    taken: set[str] = set(STANDARD_FIELDS) | {FULL_NAME}
    for index, raw_name in enumerate(columns):
        name = raw_name.strip()
        target = ALIASES.get(squash(name))
        if target is not None:
            note = f"used when {first_of[target]!r} is blank" if target in first_of else ""
            first_of.setdefault(target, name)
            if target == FULL_NAME:
                note = note or "split into first_name and last_name when those columns are absent"
            uses.append(ColumnUse(index, name, target, True, note))
            continue
        base = field_key(name) or f"column_{index + 1}"
        key, n = base, 1
        while key in taken:
            n += 1
            key = f"{base}_{n}"
        taken.add(key)
        note = f"renamed from {base!r}, already taken" if key != base else ""
        uses.append(ColumnUse(index, name, key, False, note))
    return HeaderMapping(tuple(uses))
