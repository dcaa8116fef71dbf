"""Throughput of the prospect CSV parser: a generated 100,000-row file with 1% bad rows.

Run: ``.venv/bin/python bench/bench_import_parse.py [ROWS]``; prints rows/second and peak RSS.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from outbound.prospects.csv_import import read_prospects
from outbound.prospects.results import ImportSummary

HEADER = "Email,First Name,Last Name,Company Name,Website,Job Title,Time Zone,Pain Point,Notes\n"


def write_file(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        for i in range(rows):
            if i % 100 == 7:  # 1% bad rows: no @
                out.write(f"person{i}.example.com,Bad,Row,Acme,,,,,\n")
                continue
            out.write(
                f'person{i}@company{i % 20000}.com,Fïrst{i},Last{i},"Company {i % 20000}, Inc.",'
                f"https://www.company{i % 20000}.com/about,Head of Growth,Europe/Paris,"
                f'"slow onboarding, churn",note {i}\n'
            )


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "prospects.csv"
        write_file(path, rows)
        size = path.stat().st_size
        start = time.perf_counter()
        summary = ImportSummary()
        for result in read_prospects(path, source="bench"):
            summary.add(result)
        elapsed = time.perf_counter() - start
    print(f"{rows} rows ({size / 1e6:.1f} MB) in {elapsed:.2f} s: {rows / elapsed:,.0f} rows/s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(f"peak RSS of the process {peak:.0f} MB (bounded: the file is streamed; addresses seen are kept)")
    print(summary.describe())


if __name__ == "__main__":
    main()
