"""Throughput of the whole prospect import (CSV parse + database upsert), then a re-import and an enroll.

Run: ``.venv/bin/python bench/bench_import.py [ROWS]`` (default 100,000 rows, 1% bad).
SQLite always (a temporary file); PostgreSQL too when ``OUTBOUND_BENCH_POSTGRES_URL`` names an empty
scratch database (``postgresql+psycopg://user@host/db``): it is refused if it already holds prospects.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine

from outbound.errors import OutboundError
from outbound.spec.sequence import Sequence
from outbound.store.db import open_store, redact
from outbound.store.enrollments import enroll
from outbound.store.importer import import_prospects
from outbound.store.prospects import count_prospects, prospect_ids

POSTGRES_ENV = "OUTBOUND_BENCH_POSTGRES_URL"
HEADER = "Email,First Name,Last Name,Company Name,Website,Job Title,Time Zone,Pain Point,Notes\n"
SEQUENCE = Sequence.model_validate({
    "name": "bench", "senders": {"domains": ["bench.example"]}, "required_fields": ["first_name"],
    "steps": [{"id": "one", "subject": "hi {{ first_name }}", "body": "hello"}],
})


def write_file(path: Path, rows: int) -> None:
    """Rows like a real export: quoted commas, accents, custom columns; 1% bad (no @, duplicate, shifted)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        for i in range(rows):
            if i % 100 == 7:
                bad = (f"person{i}.example.com,Bad,Row,Acme,,,,,", f"PERSON{i - 1}@company{(i - 1) % 20000}.com,,,,,,,,",
                       f"shifted{i}@acme.com,A,B,Acme, Inc,x,y,z,w,v")
                out.write(bad[(i // 100) % 3] + "\n")
                continue
            out.write(
                f'person{i}@company{i % 20000}.com,Fïrst{i},Last{i},"Company {i % 20000}, Inc.",'
                f"https://www.company{i % 20000}.com/about,Head of Growth,Europe/Paris,"
                f'"slow onboarding, churn",note {i}\n'
            )


class Timer:
    """Wall time and this process's CPU time (the latter is what a busy shared machine does not inflate)."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def rate(self, n: int, unit: str) -> str:
        return f"{self.wall:.2f} s = {n / self.wall:,.0f} {unit}/s (CPU {self.cpu:.2f} s)"


def run(label: str, engine: Engine, path: Path, rows: int) -> None:
    with Timer() as t:
        first = import_prospects(engine, path, source="bench")
    print(f"{label}: import {rows:,} rows in {t.rate(rows, 'rows')}: {first.inserted:,} new, "
          f"{len(first.errors):,} skipped")
    with Timer() as t:
        again = import_prospects(engine, path, source="bench")
    print(f"{label}: re-import in {t.rate(rows, 'rows')}: {again.inserted:,} new, {again.updated:,} updated, "
          f"{again.unchanged:,} unchanged")
    with Timer() as t:
        ids = prospect_ids(engine, source="bench")
        result = enroll(engine, SEQUENCE, ids)
    print(f"{label}: enroll {len(ids):,} prospects in {t.rate(len(ids), 'prospects')}: {result.enrolled:,} active")


def main() -> int:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "prospects.csv"
        write_file(path, rows)
        print(f"{path.stat().st_size / 1e6:.1f} MB CSV, {rows:,} rows (1% bad)")
        run("sqlite", open_store(f"sqlite:///{Path(tmp) / 'bench.db'}"), path, rows)
        url = os.environ.get(POSTGRES_ENV)
        if url:
            try:
                engine = open_store(url)
            except OutboundError as exc:
                print(f"postgresql: {exc}", file=sys.stderr)
                return 2
            if count_prospects(engine):
                print(f"postgresql: {redact(url)} already holds prospects; give an empty scratch database",
                      file=sys.stderr)
                return 2
            run("postgresql", engine, path, rows)
        else:
            print(f"postgresql: skipped (set {POSTGRES_ENV} to an empty scratch database)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
