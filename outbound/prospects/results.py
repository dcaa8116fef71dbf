"""What the file readers yield per row, and counters over those results."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from outbound.prospects.values import ProspectData

# RowError.code values, stable for summaries and the error report.
CODE_EMAIL = "email"  # missing or invalid address
CODE_DUPLICATE = "duplicate"  # same address (or suppression entry) as an earlier row
CODE_SHAPE = "shape"  # more non-blank cells than the header has columns
CODE_MALFORMED = "malformed"  # not parseable as CSV (unclosed quote...)
CODE_TOO_LONG = "too_long"  # a physical line over the cap
CODE_VALUE = "value"  # a suppression entry that is neither an address nor a domain


# RowWarning.code values: what was changed on a row that was imported.
WARN_TIMEZONE = "timezone"  # not a zone name: dropped
WARN_COMPANY_DOMAIN = "company_domain"  # not a usable domain: dropped
WARN_CUT = "cut"  # a value longer than its limit
WARN_SHORT_ROW = "short_row"  # fewer cells than the header
WARN_ROLE = "role_account"  # info@, sales@...


@dataclass(frozen=True)
class RowWarning:
    """Something changed on an imported row: what and why (``message``), and what the prospect got instead."""

    code: str
    message: str
    used: str

    def __str__(self) -> str:
        return f"{self.message}; used instead: {self.used}"


@dataclass(frozen=True)
class ParsedRow:
    """A row that becomes a prospect; ``warnings`` say what was dropped, cut or guessed; ``raw`` is its text."""

    line: int
    prospect: ProspectData
    warnings: tuple[RowWarning, ...] = ()
    raw: str = ""


@dataclass(frozen=True)
class RowError:
    """A skipped row: its first physical line, why, and its text as in the file."""

    line: int
    reason: str
    raw: str
    code: str = CODE_EMAIL


RowResult = ParsedRow | RowError


@dataclass
class ImportSummary:
    """Counters to print after an import; feed every result to ``add``."""

    imported: int = 0
    skipped: int = 0
    with_warnings: int = 0
    skipped_by_code: Counter[str] = field(default_factory=Counter)

    def add(self, result: object) -> None:
        if isinstance(result, RowError):
            self.skipped += 1
            self.skipped_by_code[result.code] += 1
        elif isinstance(result, ParsedRow):
            self.imported += 1
            if result.warnings:
                self.with_warnings += 1

    @property
    def duplicates(self) -> int:
        return self.skipped_by_code[CODE_DUPLICATE]

    def describe(self) -> str:
        text = f"{self.imported} imported, {self.skipped} skipped"
        if self.skipped_by_code:
            text += " (" + ", ".join(f"{n} {code}" for code, n in sorted(self.skipped_by_code.items())) + ")"
        if self.with_warnings:
            text += f", {self.with_warnings} with warnings"
        return text
