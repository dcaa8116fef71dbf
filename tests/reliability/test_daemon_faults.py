"""Faults of the database under a running ``outbound run`` daemon: SQLite locked by another process,
a full disk (a small tmpfs), PostgreSQL restarted mid-run. The daemon keeps running, reports the
error, loses and duplicates nothing, and finishes once the fault clears."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.fixtures.common import unavailable
from tests.reliability.daemon_run import pg_cluster, run_daemon_through

HOLD_LOCK = """import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
c.execute("COMMIT")
"""


def test_sqlite_locked_by_another_process(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"

    @contextlib.contextmanager
    def locked() -> Iterator[None]:
        holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db), "4"], stdout=subprocess.PIPE)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
            yield
        finally:
            assert holder.wait(timeout=30) == 0

    run = run_daemon_through(tmp_path, f"sqlite:///{db}", locked, hold=3.5)
    assert run.alive_during_fault
    # only the batch already marked sending goes out; its outcome is recorded once the lock is gone
    assert run.during_fault <= 5, "the daemon kept claiming sends while another process held the database"
    assert "Traceback" not in run.log_text
    print(f"\nsqlite locked: {run.summary()}")


@contextlib.contextmanager
def _tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    if os.geteuid() != 0:
        unavailable("the full-disk test mounts a small tmpfs, which needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True,
                          check=False)
    if done.returncode != 0:
        unavailable(f"cannot mount a tmpfs: {done.stderr.decode(errors='replace')}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def test_full_disk(tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "disk", "16m") as disk:
        filler = disk / "filler"

        @contextlib.contextmanager
        def full() -> Iterator[None]:
            with contextlib.suppress(OSError), filler.open("wb", buffering=0) as f:
                while True:  # until ENOSPC
                    f.write(b"\0" * (1 << 16))
            try:
                yield
            finally:
                filler.unlink()

        # batches of 5 writes: a commit failing inside a batch must not report another write as done
        # (it once did, and messages went out twice here; see test_recorder_faults.py)
        run = run_daemon_through(tmp_path, f"sqlite:///{disk / 'db.sqlite'}", full, hold=4.0, prospects=15, batch=5)
    assert run.alive_during_fault
    assert "job failed: OperationalError: database or disk is full" in run.log_text, "the error was not reported"
    assert "Traceback" not in run.log_text, "an operational error is one log line, not a traceback"
    print(f"\nfull disk: {run.summary()}")


def test_postgresql_restarted_mid_run(tmp_path: Path) -> None:
    with pg_cluster() as pg:
        @contextlib.contextmanager
        def restarted() -> Iterator[None]:
            pg.stop("fast")
            try:
                yield
            finally:
                pg.start()

        # batches of 5 writes, as in test_full_disk: a commit dying with the connection fails them all
        run = run_daemon_through(tmp_path, pg.url, restarted, hold=3.0, prospects=15, batch=5)
    assert run.alive_during_fault
    assert run.during_fault <= 1
    assert "job failed: OperationalError: connection failed" in run.log_text, "the error was not reported"
    assert "Traceback" not in run.log_text, "an operational error is one log line, not a traceback"
    print(f"\npostgresql restart: {run.summary()}")
