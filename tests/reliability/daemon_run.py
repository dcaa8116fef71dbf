"""A real ``outbound run`` daemon against a :class:`FaultySmtp`, with a fault applied to its database
while it works: the daemon must keep running, lose and duplicate nothing, and finish once the
fault clears. Also the throwaway PostgreSQL cluster that can be restarted mid-run."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from outbound.store.db import session_scope
from outbound.store.tables import Enrollment, EnrollmentState, Send
from tests.fixtures.common import free_port, unavailable
from tests.fixtures.postgres import _as_postgres, _pg_bin
from tests.integration.engine.daemon_proc import UNSETTLED, start_daemon, wait_started, wait_until
from tests.integration.engine.workspace import add_prospects, build
from tests.reliability.faults import FaultySmtp
from tests.reliability.harness import Simulation, check_invariants, fault_domain, marked_sequence

SETTINGS = """[daemon]
send_interval = 0.2
lease = 3
batch_size = {batch}
shutdown_grace = 10
health_checks = false
[sending]
retry_base = "1s"
"""


@dataclass
class DaemonRun:
    sim: Simulation
    log: Path
    lives: int = 0
    alive_during_fault: bool = False
    during_fault: int = 0  # messages the server kept while the fault was on
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def summary(self) -> str:
        text = self.log_text
        return (f"{self.during_fault} sent during the fault; {text.count(' job failed')} failed jobs logged; "
                f"{text.count('Traceback')} tracebacks; unknown reconciled {dict(self.sim.reconciled)}; "
                f"{len(self.sim.server.delivered)} delivered")


def _delivered(sim: Simulation) -> int:
    with sim.server.lock:
        return len(sim.server.delivered)


def _settled(sim: Simulation) -> bool:
    with session_scope(sim.tw.engine) as s:
        active = s.exec(select(Enrollment.id).where(col(Enrollment.state) == EnrollmentState.active)).first()
        unsettled = s.exec(select(Send.id).where(col(Send.state).in_(UNSETTLED))).first()
    return active is None and unsettled is None


def _stuck(sim: Simulation) -> list[tuple[str, str, str | None, str | None]]:
    with session_scope(sim.tw.engine) as s:
        rows = s.exec(select(Enrollment, Send).join(Send, col(Send.enrollment_id) == col(Enrollment.id), isouter=True)
                      .where(col(Enrollment.state) != EnrollmentState.completed))
        return [(e.state, str(x.state) if x else "-", e.reason, x.last_error if x else None) for e, x in rows][:10]


def _completed(sim: Simulation) -> bool:
    with session_scope(sim.tw.engine) as s:
        return {e for e in s.exec(select(Enrollment.state))} == {EnrollmentState.completed}


def run_daemon_through(root: Path, url: str, fault: Callable[[], AbstractContextManager[object]], *,
                       prospects: int = 30, hold: float = 4.0, until_before: float = 0.3, batch: int = 5) -> DaemonRun:
    """Starts the daemon, applies ``fault`` for ``hold`` seconds once a share of the mail is out,
    then waits for the run to finish (settling ``unknown`` sends against the server)."""
    server = FaultySmtp().start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        tw = build(root / "ws", url, [marked_sequence(waits=("1s", "1s"))],
                   [fault_domain("d0.test", server.port, 3, cap=100000)], settings=SETTINGS.format(batch=batch))
        sim = Simulation(tw, server)
        add_prospects(tw, prospects, "seq", at=datetime.now(UTC) - timedelta(hours=1))
        run = DaemonRun(sim, root / "daemon.log", procs=procs)
        proc = start_daemon(tw.root / "config.toml", run.log)
        procs.append(proc)
        assert wait_started(run.log, 0), f"the daemon did not start: {run.log_text[-2000:]}"
        total = prospects * 3
        assert wait_until(lambda: _delivered(sim) >= total * until_before, 60), "no progress before the fault"
        before = _delivered(sim)
        with fault():
            deadline = time.monotonic() + hold
            while time.monotonic() < deadline:
                assert proc.poll() is None, f"the daemon died during the fault:\n{run.log_text[-3000:]}"
                time.sleep(0.1)
            run.during_fault = _delivered(sim) - before
        run.alive_during_fault = proc.poll() is None
        for _ in range(20):  # finish: settle unknown sends against the server (the Sent folder's role)
            assert proc.poll() is None, f"the daemon died after the fault:\n{run.log_text[-3000:]}"
            if wait_until(lambda: _completed(sim), 3):
                break
            if _settled(sim):
                sim.now = datetime.now(UTC)
                sim.settle()
        assert _completed(sim), (f"the run did not finish after the fault cleared: {_stuck(sim)}\n"
                                 f"{run.log_text[-3000:]}")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, run.log_text[-3000:]
        violations = check_invariants(sim, cap=100000)
        assert violations == [], violations
        assert _delivered(sim) == total, f"{_delivered(sim)} of {total} messages delivered"
        return run
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        server.stop()


# ------------------------------------------------------------------ PostgreSQL


@dataclass
class PgCluster:
    url: str
    data: Path
    log: Path
    bindir: Path
    port: int

    def restart(self, mode: str = "fast") -> None:
        done = subprocess.run(_as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                                            "-m", mode, "-w", "-t", "30", "restart"]),
                              capture_output=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr.decode(errors="replace")

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(_as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]),
                       capture_output=True, timeout=60, check=False)

    def start(self) -> None:
        done = subprocess.run(_as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                                            "-w", "-t", "30", "start"]), capture_output=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr.decode(errors="replace")


@contextlib.contextmanager
def pg_cluster() -> Iterator[PgCluster]:
    """A throwaway cluster of our own (the session's shared one must not be restarted under other tests)."""
    bindir = _pg_bin()
    if bindir is None:
        unavailable("PostgreSQL binaries (initdb, pg_ctl) not found; install the postgresql package")
    assert bindir is not None
    root = Path(tempfile.mkdtemp(prefix="outbound-pgr-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        root.chmod(0o755)
        for p in (root, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    port = free_port()
    log = root / "server.log"
    init = subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                                        "--no-sync", "-E", "UTF8"]), capture_output=True, check=False)
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        unavailable(f"initdb failed: {init.stderr.decode(errors='replace')[-500:]}")
    # the options live in the cluster's config, so `pg_ctl restart` keeps them
    with (data / "postgresql.auto.conf").open("a") as conf:
        conf.write(f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{sock}'\n"
                   "fsync = off\nmax_connections = 100\n")
    cluster = PgCluster(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", data, log, bindir, port)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
