"""Prospect import: stream the CSV parser's rows into the database in batches."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from outbound.prospects.csv_import import read_prospects
from outbound.prospects.results import ParsedRow, RowError
from outbound.prospects.values import ProspectData
from outbound.spec.sequence import Sequence
from outbound.store.enrollments import unblock
from outbound.store.prospects import UpsertCounts, upsert_prospects

BATCH = 2000


@dataclass
class ImportReport:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: int = 0
    warned: list[ParsedRow] = field(default_factory=list)  # rows imported with a warning, for the report
    emails: list[str] = field(default_factory=list)  # every imported address, for --enroll
    columns: list[str] = field(default_factory=list)
    updated_ids: list[int] = field(default_factory=list)
    unblocked: int = 0      # enrollments blocked for missing fields that the update filled in
    still_blocked: int = 0  # enrollments of updated prospects that still lack a required field

    def add(self, counts: UpsertCounts) -> None:
        self.inserted += counts.inserted
        self.updated += counts.updated
        self.unchanged += counts.unchanged
        self.updated_ids.extend(counts.updated_ids)


def import_prospects(engine: Engine, path: Path, *, source: str | None = None,
                     progress: Callable[[int], None] | None = None,
                     sequences: Mapping[str, Sequence] | None = None,
                     default_timezone: str | None = None) -> ImportReport:
    """Imports every good row; bad rows are collected with their line and reason, never fatal.

    With ``sequences``, the enrollments of updated prospects that were blocked for a missing field
    are checked again against their sequence's ``required_fields`` and go on when nothing is missing.

    Raises ImportFileError for a file-level problem (unreadable, no header, no email column).
    """
    report = ImportReport()
    batch: list[ProspectData] = []
    rows = read_prospects(path, source=source, default_timezone=default_timezone)
    report.columns = rows.info.mapping.describe()
    with rows:
        for result in rows:
            report.rows += 1
            if isinstance(result, RowError):
                report.errors.append(result)
            elif isinstance(result, ParsedRow):
                if result.warnings:
                    report.warnings += 1
                    report.warned.append(result)
                batch.append(result.prospect)
                report.emails.append(result.prospect.email)
                if len(batch) >= BATCH:
                    report.add(upsert_prospects(engine, batch))
                    batch = []
            if progress is not None and report.rows % 1000 == 0:
                progress(report.rows)
    report.add(upsert_prospects(engine, batch))
    if progress is not None:
        progress(report.rows)
    if sequences is not None and report.updated_ids:
        checked = unblock(engine, sequences, prospect_ids=report.updated_ids)
        report.unblocked, report.still_blocked = checked.unblocked, checked.still_missing
    return report
