"""Several daemons starting at once on a fresh database all sync the workspace's mailboxes: every
one of them must start (no unique-key error on the mailboxes' primary key), the table must end with
each mailbox once, and a row that is already there must keep its state (a pause is not undone)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import Engine, delete, update
from sqlmodel import select

from outbound.spec.workspace import Workspace
from outbound.store import mailboxes as mailbox_store
from outbound.store.db import make_engine, session_scope
from outbound.store.tables import MailboxState
from tests.fixtures.postgres import fresh_database
from tests.integration.engine.daemon_proc import one_step_sequence
from tests.integration.engine.workspace import build, domain

DAEMONS = 6    # syncs started together in each round
ROUNDS = 15    # the read-then-insert sync failed in 14 or 15 of 15 rounds on PostgreSQL (3 runs)
MAILBOXES = 8  # per domain; a longer sync widens the window between its read and its insert


def _sync_after(barrier: threading.Barrier, engine: Engine, workspace: Workspace) -> None:
    barrier.wait()
    mailbox_store.sync(engine, workspace)


def _addresses(engine: Engine) -> list[str]:
    with session_scope(engine) as s:
        return list(s.exec(select(MailboxState.address).order_by(MailboxState.address)))


def test_concurrent_syncs_on_a_fresh_database_all_start(tmp_path: Path, database_url: str) -> None:
    tw = build(tmp_path / "ws", database_url, [one_step_sequence()],
               [domain("d0.test", 1, MAILBOXES), domain("d1.test", 1, MAILBOXES)])
    workspace = tw.ctx.workspace
    wanted = sorted(workspace.mailboxes())
    # one engine per daemon, as separate processes have (each its own connections)
    engines = [make_engine(database_url) for _ in range(DAEMONS)]
    try:
        for _ in range(ROUNDS):
            with session_scope(tw.engine) as s:  # back to a fresh database's empty table
                s.execute(delete(MailboxState))
            barrier = threading.Barrier(DAEMONS)
            with ThreadPoolExecutor(DAEMONS) as pool:
                started = [pool.submit(_sync_after, barrier, e, workspace) for e in engines]
                errors = [repr(f.exception(timeout=60)) for f in started if f.exception(timeout=60) is not None]
            assert errors == [], f"{len(errors)} of {DAEMONS} syncs failed: {errors[0]}"
            assert _addresses(tw.engine) == wanted
    finally:
        for e in engines:
            e.dispose()


def test_sync_keeps_the_rows_it_finds(tmp_path: Path, database_url: str) -> None:
    tw = build(tmp_path / "ws", database_url, [one_step_sequence()], [domain("d0.test", 1, 2)])
    with session_scope(tw.engine) as s:
        s.execute(update(MailboxState).where(MailboxState.address == "m0@d0.test")  # type: ignore[arg-type]
                  .values(state="paused", pause_reason="complaint", send_days=4))
        s.execute(delete(MailboxState).where(MailboxState.address == "m1@d0.test"))  # type: ignore[arg-type]
        s.add(MailboxState(address="gone@old.test", domain="old.test"))  # a mailbox since removed from domains/
    mailbox_store.sync(tw.engine, tw.ctx.workspace)
    with session_scope(tw.engine) as s:
        rows = {r.address: r for r in s.exec(select(MailboxState))}
    assert sorted(rows) == ["gone@old.test", "m0@d0.test", "m1@d0.test"]
    assert (rows["m0@d0.test"].state, rows["m0@d0.test"].pause_reason, rows["m0@d0.test"].send_days) == \
        ("paused", "complaint", 4)
    assert (rows["m1@d0.test"].state, rows["m1@d0.test"].domain, rows["m1@d0.test"].sent_on_last_day) == \
        ("active", "d0.test", 0)


def _lock_after(barrier: threading.Barrier, engine: Engine, workspace: Workspace) -> list[str]:
    barrier.wait()
    with session_scope(engine) as s:
        return sorted(mailbox_store.lock(s, sorted(workspace.mailboxes()), workspace, for_update=True))


def test_concurrent_claims_find_the_rows_of_mailboxes_added_since_start(tmp_path: Path, database_url: str) -> None:
    """A claim locks its mailboxes' rows and creates those added to domains/ since the daemon synced."""
    tw = build(tmp_path / "ws", database_url, [one_step_sequence()], [domain("d0.test", 1, MAILBOXES)])
    workspace = tw.ctx.workspace
    wanted = sorted(workspace.mailboxes())
    engines = [make_engine(database_url) for _ in range(DAEMONS)]
    try:
        for _ in range(ROUNDS):
            with session_scope(tw.engine) as s:
                s.execute(delete(MailboxState))
            barrier = threading.Barrier(DAEMONS)
            with ThreadPoolExecutor(DAEMONS) as pool:
                locked = [pool.submit(_lock_after, barrier, e, workspace) for e in engines]
                errors = [repr(f.exception(timeout=60)) for f in locked if f.exception(timeout=60) is not None]
                assert errors == [], f"{len(errors)} of {DAEMONS} claims failed: {errors[0]}"
                assert all(f.result() == wanted for f in locked)
            assert _addresses(tw.engine) == wanted
    finally:
        for e in engines:
            e.dispose()


# `outbound --config CONFIG reconcile` starts as `outbound run` does (migrate, then sync the mailboxes) and
# exits, here with no unknown send to settle; each child runs it once the go file appears, its imports done.
_START = """
import sys, time
from pathlib import Path
from outbound.cli.app import main
config, ready, go = sys.argv[1:4]
sys.argv = ["outbound", "--config", config, "reconcile"]
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.001)
main()
"""
STARTS, PROCESS_ROUNDS = 4, 3  # each round on its own fresh database; before the migration lock, 3 of 4 starts
#                                failed in 7 of 8 rounds (the threads above are what catch the sync's own race:
#                                once migrations queue on the lock, the processes reach the sync one by one)


def test_daemons_starting_together_on_a_fresh_postgresql_database_all_start(tmp_path: Path,
                                                                          postgres_server: str) -> None:
    build(tmp_path / "ws", f"sqlite:///{tmp_path / 'unused.db'}", [one_step_sequence()], [domain("d0.test", 1, 4)])
    for n in range(PROCESS_ROUNDS):
        with fresh_database(postgres_server) as url:
            ready, go = [tmp_path / f"ready-{n}-{i}" for i in range(STARTS)], tmp_path / f"go-{n}"
            env = {**os.environ, "OUTBOUND_DATABASE_URL": url}
            children = [subprocess.Popen([sys.executable, "-c", _START, str(tmp_path / "ws" / "config.toml"), str(r),
                                          str(go)], env=env, stderr=subprocess.PIPE, text=True) for r in ready]
            deadline = time.monotonic() + 60
            while not all(r.exists() for r in ready) and time.monotonic() < deadline and \
                    all(c.poll() is None for c in children):  # one that died before the go tells why below
                time.sleep(0.01)
            go.touch()
            errors = [err for err in (_error(child) for child in children) if err]
            assert errors == [], f"round {n + 1}: {len(errors)} of {STARTS} daemons failed to start: {errors[0]}"


def _error(child: subprocess.Popen[str]) -> str:
    """The exception a failed child's traceback ends with; empty when it started."""
    _, err = child.communicate(timeout=60)
    if child.returncode == 0:
        return ""
    raised = [line for line in err.splitlines() if re.match(r"[\w.]+(Error|Exception): ", line)]
    return (raised or err.strip().splitlines() or [f"exited {child.returncode}"])[-1]
