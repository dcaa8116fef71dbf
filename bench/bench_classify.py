"""Messages classified per second on the bounce corpora, against flufl.bounce on the same files.

Run: .venv/bin/python bench/bench_classify.py [--rounds N]
Needs flufl.bounce in the virtualenv (pip install flufl.bounce) for the comparison.
"""

from __future__ import annotations

import argparse
import email
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import emit_json, say  # noqa: E402
from outbound.inbox.classify import classify  # noqa: E402


def corpus() -> list[tuple[bytes, set[str]]]:
    base = Path(os.environ.get("OUTBOUND_CORPORA", ROOT.parent / "shared" / "corpora"))
    items: list[tuple[bytes, set[str]]] = []
    for folder in ("bounces", "bounces-flufl"):
        for line in (base / folder / "labels.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("kind") == "complaint" or (folder == "bounces-flufl" and not row.get("in_expectation_table")):
                continue
            items.append(((base / folder / row["file"]).read_bytes(), {a.lower() for a in row["recipients"]}))
    return items


def ours(raw: bytes) -> set[str]:
    return set(classify(raw).recipients)


def flufl_recipients(raw: bytes) -> set[str]:
    from flufl.bounce import all_failures

    msg: Any = email.message_from_bytes(raw)
    try:
        temporary, permanent = all_failures(msg)
    except Exception:
        return set()
    return {(a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a)).lower() for a in temporary | permanent}


def measure(name: str, func: Any, items: list[tuple[bytes, set[str]]], rounds: int, *,
            as_json: bool) -> dict[str, float]:
    right = sum(func(raw) == expected for raw, expected in items)
    start = time.perf_counter()
    for _ in range(rounds):
        for raw, _expected in items:
            func(raw)
    elapsed = time.perf_counter() - start
    rate = rounds * len(items) / elapsed
    say(f"{name:14s} {rate:9.0f} msg/s   recipient accuracy {right}/{len(items)} = {right / len(items):.1%}",
        as_json=as_json)
    return {"msg_per_s": round(rate), "accuracy": round(right / len(items), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    items = corpus()
    say(f"{len(items)} bounce messages (bounces/ + bounces-flufl/), {rounds} rounds", as_json=args.json)
    figures: dict[str, Any] = {"messages": len(items), "outbound": measure("outbound", ours, items, rounds,
                                                                           as_json=args.json)}
    try:
        import flufl.bounce  # noqa: F401
    except ImportError:
        say("flufl.bounce not installed: pip install flufl.bounce", as_json=args.json)
    else:
        figures["flufl.bounce"] = measure("flufl.bounce", flufl_recipients, items, rounds, as_json=args.json)
        ratio = figures["outbound"]["msg_per_s"] / figures["flufl.bounce"]["msg_per_s"]
        figures["ratio"] = round(ratio, 2)
        say(f"ratio outbound/flufl.bounce: {ratio:.2f}x", as_json=args.json)
    if args.json:
        emit_json(figures)


if __name__ == "__main__":
    main()
