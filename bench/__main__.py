"""`python -m bench` (or `make bench`): runs the benchmarks and prints ONE table of their figures.

Each module runs alone too (`python -m bench.bench_send`, ...); here each is run as a child with
``--json`` (and ``--quick`` under ``--quick``) and the last line of its output read as its figures.
Baselines are measured in the same run: plain aiosmtplib for sending, flufl.bounce for
classification, checkdmarc for domain checks, email-validator's own DNS check for verification,
the report computed on the request path for dashboard pages. bench_import, bench_import_parse and bench_scoring
stay separate (`python -m bench.bench_scoring`, ...).

usage: .venv/bin/python -m bench [--quick] [--only send,tick,classify,domains,verify] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCHES = {"send": "bench_send", "tick": "bench_tick", "classify": "bench_classify", "domains": "bench_domains",
           "verify": "bench_verify", "dashboard": "bench_dashboard"}


def run(module: str, quick: bool) -> tuple[dict[str, Any] | None, str]:
    """The figures a module printed as its last line, or None and why not."""
    cmd = [sys.executable, "-m", f"bench.{module}", "--json", *(["--quick"] if quick else [])]
    # the child's progress (its stderr under --json) goes straight to ours
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        return None, f"exit {proc.returncode}; see its output above"
    try:
        figures = json.loads(lines[-1])
    except json.JSONDecodeError:
        return None, f"unreadable output: {lines[-1][:80]}"
    return figures, ""


def rows(name: str, f: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(benchmark, outbound, baseline, ratio) rows of one module's figures."""
    out: list[tuple[str, str, str, str]] = []
    if name == "send":
        for backend, r in f.items():
            out.append((f"send throughput, {r['sends']:,} sends, {r['connections']} conns ({backend})",
                        f"{r['engine_per_s']:,}/s", f"aiosmtplib {r['plain_per_s']:,}/s", f"{r['ratio']:.2f}x"))
    elif name == "tick":
        sizes = f.get("sizes", [])
        for r in sizes:
            smallest = min((s for s in sizes if s["backend"] == r["backend"]), key=lambda s: s["enrollments"])
            scans = f", {len(r['full_scans'])} full scans" if r["full_scans"] else ""
            out.append((f"tick at {r['enrollments']:,} enrollments, {r['due']} due ({r['backend']})",
                        f"{r['tick_ms']:,.0f} ms (plan+claim {r['claim_ms']:,.0f} ms){scans}",
                        f"{smallest['enrollments']:,}: {smallest['tick_ms']:,.0f} ms",
                        f"{r['tick_ms'] / smallest['tick_ms']:.2f}x"))
        for backend in sorted({r["backend"] for r in sizes}):
            largest = max((s for s in sizes if s["backend"] == backend), key=lambda s: s["enrollments"])
            if largest.get("daemon_peak_mb"):
                out.append((f"daemon peak memory at {largest['enrollments']:,} enrollments ({backend})",
                            f"{largest['daemon_peak_mb']:.0f} MB", "limit 200 MB", ""))
    elif name == "classify":
        ours, theirs = f["outbound"], f.get("flufl.bounce")
        out.append((f"classification, {f['messages']} bounces", f"{ours['msg_per_s']:,} msg/s, {ours['accuracy']:.1%} right",
                    f"flufl.bounce {theirs['msg_per_s']:,} msg/s, {theirs['accuracy']:.1%}" if theirs else "flufl.bounce not installed",
                    f"{f['ratio']:.2f}x" if "ratio" in f else ""))
    elif name == "domains":
        out.append((f"domain checks, {f['domains']} domains on local NSD", f"{f['outbound_s']:.2f} s",
                    f"checkdmarc {f['checkdmarc_s']:.2f} s" if "checkdmarc_s" in f else "checkdmarc not installed",
                    f"{f['ratio']:.1f}x faster" if "ratio" in f else ""))
    elif name == "verify":
        out.append((f"address verification, {f['addresses']:,} addresses / {f['domains']:,} domains on local NSD",
                    f"{f['per_s']:,}/s, {f['dns_queries']:,} DNS queries",
                    f"email-validator {f['baseline_per_s']:,}/s", f"{f['ratio']:.1f}x"))
    elif name == "dashboard":
        out.append((f"dashboard pages, {f['prospects']:,} prospects / {f['events']:,} events (SQLite)",
                    f"slowest page {f['slowest_ms']:.0f} ms (limit {f['limit_ms']:.0f}); first figures after "
                    f"{f['first_page_ms'] / 1000:.0f} s; {f['dashboard_peak_mb']} MB peak",
                    f"report on the request path: {f['baseline_report_ms']:,} ms", f"{f['ratio']:.0f}x"))
    return out


def table(lines: list[tuple[str, str, str, str]]) -> str:
    head = ("benchmark", "outbound", "baseline", "ratio")
    widths = [max(len(r[i]) for r in [head, *lines]) for i in range(4)]
    fmt = " | ".join(f"{{:<{w}}}" for w in widths)
    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([fmt.format(*head), rule, *(fmt.format(*r) for r in lines)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller runs of each (tick: 10k and 100k only)")
    ap.add_argument("--only", default=",".join(BENCHES), help="comma-separated: " + ", ".join(BENCHES))
    ap.add_argument("--json", action="store_true", help="print every module's figures as one JSON object")
    args = ap.parse_args(argv)
    chosen = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in BENCHES]
    if unknown:
        ap.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHES)}")
    collected: dict[str, Any] = {}
    lines: list[tuple[str, str, str, str]] = []
    failed = []
    for name in chosen:
        t0 = time.monotonic()
        print(f"running {BENCHES[name]}{' --quick' if args.quick else ''} ...", file=sys.stderr, flush=True)
        figures, why = run(BENCHES[name], args.quick)
        print(f"  {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
        if figures is None:
            failed.append(name)
            lines.append((name, f"FAILED ({why})", "", ""))
            continue
        collected[name] = figures
        lines.extend(rows(name, figures))
    print(json.dumps(collected) if args.json else table(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
