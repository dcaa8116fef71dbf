"""Pieces shared by the benchmarks: an SMTP sink in its own process, throwaway PostgreSQL databases,
and the ``--json`` convention (``bench/__main__.py`` runs each module with ``--json`` and reads the
last line of its standard output as one JSON object of figures)."""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# ---- the sink: aiosmtpd in a child process, counting accepted messages ----

class _Counter:
    def __init__(self, count: Any) -> None:
        self.count = count

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.count.get_lock():
            self.count.value += 1
        return "250 2.0.0 OK: queued"


def _sink_main(port: int, count: Any, ready: Any, stop: Any) -> None:
    from aiosmtpd.controller import Controller

    ctl = Controller(_Counter(count), hostname="127.0.0.1", port=port, server_hostname="sink.bench")
    ctl.start()
    ready.set()
    stop.wait()
    ctl.stop()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def sink_process() -> Iterator[tuple[int, Any, Callable[[], float]]]:
    """(port, shared counter of accepted messages, the sink's CPU seconds so far) of an aiosmtpd sink
    in its own process (on a 2-core machine it still shares the CPU: its figure says how much)."""
    from tests.fixtures.common import free_port

    ctx = mp.get_context("fork")
    port, count, ready, stop = free_port(), ctx.Value("l", 0), ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_sink_main, args=(port, count, ready, stop), daemon=True)
    proc.start()
    if not ready.wait(10):
        raise RuntimeError("the SMTP sink did not start")
    pid = proc.pid
    assert pid is not None
    try:
        yield port, count, lambda: process_cpu_seconds(pid)
    finally:
        stop.set()
        proc.join(5)


# ---- PostgreSQL ----

@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """$OUTBOUND_BENCH_POSTGRES_URL (a server where databases may be created), else a throwaway
    cluster started like the test suite does."""
    given = os.environ.get("OUTBOUND_BENCH_POSTGRES_URL")
    if given:
        yield given
        return
    from tests.fixtures.postgres import _throwaway_cluster

    with _throwaway_cluster() as url:
        yield url


@contextlib.contextmanager
def postgres_database(server: str) -> Iterator[str]:
    from tests.fixtures.postgres import fresh_database

    with fresh_database(server, prefix="bench_") as url:
        yield url


@contextlib.contextmanager
def database(backend: str, server: str | None) -> Iterator[str]:
    """A fresh empty database of ``backend`` (sqlite: a temporary file)."""
    if backend == "postgresql":
        assert server is not None
        with postgres_database(server) as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="outbound-bench-db-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


# ---- output ----

def say(text: str, *, as_json: bool) -> None:
    """Human-readable progress: to stderr under ``--json`` so stdout stays one JSON line."""
    print(text, file=sys.stderr if as_json else sys.stdout, flush=True)


def emit_json(figures: dict[str, Any]) -> None:
    print(json.dumps(figures, default=str), flush=True)
