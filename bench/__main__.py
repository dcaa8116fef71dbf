"""`python -m bench` (or `make bench`): runs every benchmark in turn and prints its figures.

Each benchmark prints its own table, with a baseline measured in the same process where one exists
(plain aiosmtplib for sending, flufl.bounce for classification, checkdmarc for domain checks).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHES = ["bench_send", "bench_import", "bench_import_parse", "bench_classify", "bench_domains", "bench_scoring"]


def main() -> int:
    here = Path(__file__).resolve().parent
    failed = 0
    for name in BENCHES:
        if not (here / f"{name}.py").exists():
            continue
        print(f"\n=== {name} ===", flush=True)
        code = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=here.parent)
        failed += code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
