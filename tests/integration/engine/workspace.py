"""Builds throwaway workspaces whose mailboxes send to a test SMTP server on loopback."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from outbound.app.context import build_context
from outbound.app.workspace import load_workspace
from outbound.engine.context import EngineContext
from outbound.prospects.values import ProspectData
from outbound.store.db import open_store
from outbound.store.enrollments import enroll
from outbound.store.prospects import prospect_ids, upsert_prospects

SECRET = b"test-secret-0123456789abcdef"
ZONES = ["America/New_York", "Europe/Berlin", "Asia/Tokyo", "America/Los_Angeles", None]


@dataclass
class BuiltWorkspace:
    root: Path
    engine: Engine
    ctx: EngineContext


def three_step_sequence(name: str = "seq", domains: list[str] | None = None, **over: Any) -> dict[str, Any]:
    seq: dict[str, Any] = {
        "name": name,
        "senders": {"domains": domains or ["d0.test"]},
        "required_fields": ["first_name"],
        "window": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00",
                   "timezone": "prospect", "fallback_timezone": "America/Chicago"},
        "steps": [
            {"id": "intro", "subject": "Hello {{ first_name }}", "body": "Hi {{ first_name }}, intro."},
            {"id": "bump", "wait": "2d", "thread": True, "body": "Bumping this, {{ first_name }}."},
            {"id": "last", "wait": "3d", "thread": True, "body": "Last note, {{ first_name }}."},
        ],
    }
    seq.update(over)
    return seq


def domain(name: str, port: int, mailboxes: int, **mailbox_over: Any) -> dict[str, Any]:
    boxes = []
    for i in range(mailboxes):
        box: dict[str, Any] = {"address": f"m{i}@{name}", "display_name": f"Sender {i}", "daily_cap": 20,
                               "gap": {"min": "1m", "max": "3m"}}
        box.update(mailbox_over)
        boxes.append(box)
    return {"domain": name, "tracking_host": f"t.{name}", "smtp": {"host": "127.0.0.1", "port": port, "tls": "none"},
            "mailboxes": boxes}


def build(root: Path, database_url: str, sequences: list[dict[str, Any]], domains: list[dict[str, Any]],
          settings: str = "") -> BuiltWorkspace:
    (root / "sequences").mkdir(parents=True)
    (root / "domains").mkdir()
    (root / "config.toml").write_text(f'[database]\nurl = "{database_url}"\n{settings}\n')
    for s in sequences:
        (root / "sequences" / f"{s['name']}.yaml").write_text(json.dumps(s, indent=1))
    for d in domains:
        (root / "domains" / f"{d['domain']}.yaml").write_text(json.dumps(d, indent=1))
    ws = load_workspace(root / "config.toml")
    engine = open_store(ws.config.database_url)
    return BuiltWorkspace(root, engine, build_context(ws, engine, secret=SECRET, rng=random.Random(7)))


def add_prospects(tw: BuiltWorkspace, count: int, sequence: str, *, seed: int = 1, source: str = "test",
                  at: datetime = datetime(2026, 11, 23, tzinfo=UTC), **fields: Any) -> list[ProspectData]:
    rng = random.Random(seed)
    people = [ProspectData(email=f"p{i}@{rng.choice(['gmail.com', 'acme.test', 'beta.test'])}".replace("@", f".{seed}@"),
                           first_name=f"P{i}", timezone=ZONES[i % len(ZONES)], source=source, **fields)
              for i in range(count)]
    upsert_prospects(tw.engine, people)
    enroll(tw.engine, tw.ctx.workspace.sequences[sequence].sequence, prospect_ids(tw.engine, source=source), now=at)
    return people
