"""Two real `outbound run` daemons share the IMAP polling of one workspace on PostgreSQL, whose
four mailboxes live on the real Dovecot. One daemon is SIGKILLed in the middle of a poll pass;
the other takes its mailboxes over once the lease runs out.

Each mailbox's IMAP traffic goes through a small proxy in this file (:class:`HoldingProxy`). It
notes which daemon process opened each session and when, and holds every new session HOLD seconds
before connecting it to Dovecot, so a poll pass lasts long enough to be seen: the test checks the
sessions against the lease rows sampled meanwhile (whoever talks to a mailbox holds its lease; no
two sessions on one mailbox at once) and kills a daemon while it is inside a pass.

The daemons run with a short ``[daemon] poll_lease`` (POLL_LEASE), renewed while a pass runs. The
test checks the survivor honours the dead daemon's lease until it really runs out (no session on
those mailboxes before), then measures how soon the survivor takes the mailboxes over and
processes the mail that waited.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import re
import selectors
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, make_msgid
from functools import partial
from itertools import pairwise
from pathlib import Path

import pytest
from sqlmodel import col, select

from outbound.store.db import session_scope
from outbound.store.tables import Event, ImapWatermark, MailboxState
from tests.fixtures.common import free_port
from tests.fixtures.mail_servers import DovecotServer, MailUser
from tests.integration.engine.daemon_proc import ALWAYS_OPEN, start_daemon, wait_started, wait_until
from tests.integration.engine.workspace import BuiltWorkspace, build, domain, three_step_sequence

MAILBOXES = 4
POLL_INTERVALS = (1.0, 1.3)  # one per daemon: with one interval for both, see _daemon_configs
HOLD = 0.5  # seconds the proxy holds each new IMAP session before connecting it to Dovecot
POLL_LEASE = 12  # seconds; renewed every third of it, so a dead daemon's lease has 8-12 s left
HONOURED = 3 * max(POLL_INTERVALS)  # the survivor must leave the dead daemon's live leases alone this long
PW_ENV = "OB_TAKEOVER_IMAP_PASSWORD"


def _settings(poll_interval: float) -> str:
    return f"""[daemon]
send_interval = 1
poll_interval = {poll_interval}
poll_lease = {POLL_LEASE}
health_checks = false
shutdown_grace = 10
"""


POLLED = re.compile(rb"poll: (\d+) fetched")


# ---------------------------------------------------------------- the proxy

@dataclass
class ImapSession:
    mailbox: str
    pid: int | None  # the daemon that opened it (None: unknown, see ``origin``)
    origin: str
    opened: float  # time.monotonic()
    connected: float | None = None  # the hold is over: connected to Dovecot
    closed: float | None = None

    def hold_end(self) -> float:
        return self.connected or self.closed or self.opened + HOLD


def _peer_pid(peer_port: int, proxy_port: int, pids: list[int]) -> tuple[int | None, str]:
    """Which of ``pids`` owns the client end (127.0.0.1:peer_port -> proxy_port) of a loopback
    connection, and how that was found out."""
    inode = None
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            cols = line.split()
            if int(cols[1].split(":")[1], 16) == peer_port and int(cols[2].split(":")[1], 16) == proxy_port:
                inode = cols[9]
    if inode is None:
        return None, "no client socket"
    if inode == "0":
        return None, "client socket already closed"  # an orphan: its process closed it or died
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                        return pid, "found"
    return None, "not a daemon's socket"


class HoldingProxy:
    """A TCP proxy to Dovecot for one mailbox that records each session and holds it HOLD s first."""

    def __init__(self, mailbox: str, upstream: tuple[str, int], pids: list[int]) -> None:
        self.mailbox, self.upstream, self.pids = mailbox, upstream, pids
        self.sessions: list[ImapSession] = []
        self.looking_up = 0  # sessions accepted whose process is still being looked up
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, peer = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            opened = time.monotonic()
            with self.lock:
                self.looking_up += 1
            session = ImapSession(self.mailbox, *_peer_pid(peer[1], self.port, list(self.pids)), opened)
            with self.lock:
                self.sessions.append(session)
                self.looking_up -= 1
            t = threading.Thread(target=self._serve, args=(conn, session), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, client: socket.socket, session: ImapSession) -> None:
        try:
            self.stopping.wait(HOLD)
            with socket.create_connection(self.upstream, timeout=5) as server:
                session.connected = time.monotonic()
                self._pump(client, server)
        except OSError:
            pass
        finally:
            client.close()
            session.closed = time.monotonic()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(client, selectors.EVENT_READ, server)
            sel.register(server, selectors.EVENT_READ, client)
            while not self.stopping.is_set():
                for key, _ in sel.select(0.1):
                    src: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = src.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)

    def all_sessions(self) -> list[ImapSession]:
        with self.lock:
            return list(self.sessions)

    def settled(self) -> bool:
        """Every session accepted so far is attributed (a process killed meanwhile could not be)."""
        with self.lock:
            return self.looking_up == 0

    def stop(self) -> None:
        self.stopping.set()
        self.sock.close()
        for t in self.threads:
            t.join(5)


# ---------------------------------------------------------------- lease sampling

@dataclass(frozen=True)
class LeaseSample:
    before: float  # monotonic, just before the query
    after: float  # and just after it
    owners: dict[str, str | None]


class LeaseSampler:
    """Reads every mailbox's poll lease about every 20 ms in a thread, while the daemons run."""

    def __init__(self, tw: BuiltWorkspace) -> None:
        self.tw = tw
        self.samples: list[LeaseSample] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.wait(0.02):
            before = time.monotonic()
            owners = {a: owner for a, (owner, _until) in leases(self.tw).items()}
            self.samples.append(LeaseSample(before, time.monotonic(), owners))

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)


# ---------------------------------------------------------------- workspace, mail, database, logs

def _workspace(root: Path, url: str, users: list[MailUser], proxies: list[HoldingProxy]) -> BuiltWorkspace:
    """One domain, one mailbox per Dovecot user, each with its IMAP through its own proxy. No
    prospects and an unused SMTP port: the daemons only poll."""
    dom = domain("example.test", free_port(), MAILBOXES, gap={"min": 0, "max": 0})
    for box, user, proxy in zip(dom["mailboxes"], users, proxies, strict=True):
        box["address"] = user.address
        box["imap"] = {"host": "127.0.0.1", "port": proxy.port, "tls": "none", "password_env": PW_ENV,
                       "folders": ["INBOX"]}
    return build(root, url, [three_step_sequence(domains=["example.test"], window=ALWAYS_OPEN)], [dom],
                 settings=_settings(POLL_INTERVALS[0]))


def _daemon_configs(tw: BuiltWorkspace, url: str) -> list[Path]:
    """The workspace's config.toml, and a second one on the same files and database whose only
    difference is the poll interval. Two daemons started together with one interval run their
    passes in step: each pass takes every free mailbox, so the one whose pass starts first polls
    everything and the other always finds the leases taken (seen in every run of this test that
    way). Different intervals let the passes drift apart, so leases pass between live daemons."""
    other = tw.root.parent / "ws-b"
    other.mkdir()
    (other / "config.toml").write_text(
        f'[database]\nurl = "{url}"\n[workspace]\nsequences = "{tw.root / "sequences"}"\n'
        f'domains = "{tw.root / "domains"}"\n{_settings(POLL_INTERVALS[1])}')
    return [tw.root / "config.toml", other / "config.toml"]


def _reply(to: str, n: int) -> tuple[str, bytes]:
    """(Message-ID, bytes) of a unique human reply nobody can match to a send: ``unmatched_inbound``."""
    mid = make_msgid(idstring=f"r{n}", domain="remote.test")
    raw = (f"From: Pat {n} <pat{n}@remote.test>\r\nTo: {to}\r\nSubject: Re: quick question\r\n"
           f"Message-ID: {mid}\r\nDate: {format_datetime(datetime.now(UTC))}\r\n\r\n"
           f"Thanks, happy to talk next week ({n}).\r\n").encode()
    return mid, raw


def _deliver(dovecot: DovecotServer, user: MailUser, count: int, first: int) -> dict[str, int]:
    """APPENDs ``count`` replies to the user's INBOX straight on Dovecot; {Message-ID: UID}."""
    out: dict[str, int] = {}
    with imaplib.IMAP4(dovecot.host, dovecot.port) as imap:
        imap.login(user.address, user.password)
        for n in range(first, first + count):
            mid, raw = _reply(user.address, n)
            typ, data = imap.append("INBOX", None, None, raw)
            assert typ == "OK", data
            found = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            assert found, data
            out[mid] = int(found.group(1))
    return out


def leases(tw: BuiltWorkspace) -> dict[str, tuple[str | None, datetime | None]]:
    with session_scope(tw.engine) as s:
        return {m.address: (m.lease_owner, m.lease_until) for m in s.exec(select(MailboxState))}


def _events(tw: BuiltWorkspace, mids: list[str]) -> list[Event]:
    with session_scope(tw.engine) as s:
        return list(s.exec(select(Event).where(col(Event.dedupe_key).in_([f"msg:{m}" for m in mids]))))


def _all_recorded(tw: BuiltWorkspace, mids: list[str]) -> bool:
    return len(_events(tw, mids)) == len(mids)


def _fetched(log: Path, offset: int = 0) -> int:
    """Messages a daemon reports handing to the inbox pipeline (its ``poll: N fetched`` lines, which
    count duplicates too), in its log after ``offset``."""
    return sum(int(n) for n in POLLED.findall(log.read_bytes()[offset:]))


def _worker(log: Path) -> str:
    found = re.search(rb"outbound daemon (\S+) started", log.read_bytes())
    assert found, f"no start line in {log}"
    return found.group(1).decode()


# ---------------------------------------------------------------- the test

def test_imap_mailboxes_are_polled_by_one_daemon_at_a_time_and_taken_over_after_a_sigkill(
        tmp_path: Path, postgres_url: str, dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PW_ENV, "testpw")  # cli_env() hands the environment to the daemons
    users = [dovecot.make_user() for _ in range(MAILBOXES)]
    assert {u.password for u in users} == {"testpw"}
    pids: list[int] = []
    proxies = [HoldingProxy(u.address, (dovecot.host, dovecot.port), pids) for u in users]
    procs: list[subprocess.Popen[bytes]] = []
    samplers: list[LeaseSampler] = []
    try:
        _run(tmp_path, postgres_url, dovecot, users, proxies, pids, procs, samplers)
    finally:  # a failing assertion must not leave daemons, threads or sockets behind
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        for sampler in samplers:
            sampler.stop()
        for proxy in proxies:
            proxy.stop()


def _run(tmp_path: Path, url: str, dovecot: DovecotServer, users: list[MailUser], proxies: list[HoldingProxy],
         pids: list[int], procs: list[subprocess.Popen[bytes]], samplers: list[LeaseSampler]) -> None:
    started = time.monotonic()
    tw = _workspace(tmp_path / "ws", url, users, proxies)
    logs = [tmp_path / "daemon0.log", tmp_path / "daemon1.log"]
    for config, log in zip(_daemon_configs(tw, url), logs, strict=True):
        procs.append(start_daemon(config, log))
        pids.append(procs[-1].pid)  # before its first pass: the proxies attribute sessions by pid
    for log in logs:
        assert wait_started(log, 0), f"a daemon did not start; see {log}"
    workers = {proc.pid: _worker(log) for proc, log in zip(procs, logs, strict=True)}
    log_of = {proc.pid: log for proc, log in zip(procs, logs, strict=True)}
    assert all(f":{pid}:" in w for pid, w in workers.items()), workers
    sampler = LeaseSampler(tw)
    samplers.append(sampler)
    box_of = {u.address: u for u in users}

    # -- 1. mail arrives while both daemons poll: every message handled once, by whoever holds the lease;
    #       between two rounds of mail, both daemons take their turn at polling
    first: dict[str, dict[str, int]] = {u.address: {} for u in users}
    for round_ in range(2):
        if round_:
            assert wait_until(lambda: {s.pid for p in proxies for s in p.all_sessions()} == set(workers), 15), \
                f"only {Counter(s.pid for p in proxies for s in p.all_sessions())} polled: the mailboxes are not shared"
        for i, u in enumerate(users):
            first[u.address] |= _deliver(dovecot, u, 1, 10 * i + round_)
        first_mids = [m for got in first.values() for m in got]
        assert wait_until(partial(_all_recorded, tw, first_mids), 20, every=0.1), \
            f"only {len(_events(tw, first_mids))} of {len(first_mids)} messages were recorded"
    assert wait_until(lambda: sum(_fetched(log) for log in logs) >= len(first_mids), 10), "no poll lines in the logs"
    before_kill = {pid: _fetched(log_of[pid]) for pid in workers}

    # -- 2. SIGKILL a daemon inside a pass: it holds leases and is waiting for a session of its own
    #       (all of a pass's sessions open at once: a few ms on, they are all attributed to it)
    target: dict[str, int] = {}

    def inside_a_pass() -> bool:
        owners = leases(tw)
        if not all(p.settled() for p in proxies):
            return False
        now = time.monotonic()
        for proxy in proxies:
            for s in proxy.all_sessions():
                fresh = s.connected is None and s.closed is None and 0.03 < now - s.opened < HOLD / 2
                if fresh and s.pid is not None and owners[s.mailbox][0] == workers[s.pid]:
                    target["pid"] = s.pid
                    return True
        return False

    assert wait_until(inside_a_pass, 10, every=0.01), "never saw a daemon inside a poll pass"
    victim = next(p for p in procs if p.pid == target["pid"])
    survivor = next(p for p in procs if p is not victim)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=10) == -signal.SIGKILL
    killed_at, killed_wall = time.monotonic(), datetime.now(UTC)
    killed_offset = log_of[survivor.pid].stat().st_size
    held = {a: until for a, (owner, until) in leases(tw).items() if owner == workers[victim.pid]}
    assert held, "the victim held no lease when it died: the kill missed its pass and proved nothing"
    lease_left = min(u for u in held.values() if u is not None) - killed_wall
    assert lease_left > timedelta(seconds=HONOURED + 2), \
        f"the dead daemon's lease ends {lease_left} after the kill: too soon to check the survivor honours it"

    # -- 3. new mail for the orphaned mailboxes: the survivor must not poll them while the lease lives
    second: dict[str, dict[str, int]] = {a: _deliver(dovecot, box_of[a], 2, 100 + 10 * i)
                                         for i, a in enumerate(sorted(held))}
    second_mids = [m for got in second.values() for m in got]

    def survivor_sessions(after: float) -> list[ImapSession]:
        return [s for p in proxies if p.mailbox in held for s in p.all_sessions()
                if s.pid == survivor.pid and s.opened > after]

    assert not wait_until(lambda: bool(survivor_sessions(killed_at)), HONOURED, every=0.05), \
        "the survivor polled a mailbox whose lease the dead daemon still held"
    assert _events(tw, second_mids) == [], "mail in a mailbox under a live lease of a dead daemon was handled"
    assert survivor.poll() is None, "the survivor died"

    # -- 4. the dead daemon's lease runs out (nobody renews it now): the survivor takes over, not before
    ends = max(u for u in held.values() if u is not None)
    expired_at = time.monotonic() + max(0.0, (ends - datetime.now(UTC)).total_seconds())
    assert wait_until(lambda: len(_events(tw, second_mids)) == len(second_mids),
                      expired_at - time.monotonic() + 15, every=0.05), \
        f"the survivor did not take over: {len(_events(tw, second_mids))} of {len(second_mids)} new messages " \
        f"recorded {time.monotonic() - expired_at:.1f} s after the dead daemon's lease ran out; leases {leases(tw)}"
    early = [s for s in survivor_sessions(killed_at) if s.opened < expired_at - 0.2]
    assert early == [], f"the survivor polled {early[0].mailbox} before the dead daemon's lease ran out"
    processed_in = time.monotonic() - expired_at
    taken = {s.mailbox for s in survivor_sessions(expired_at)}
    assert taken == set(held), f"the survivor took over {sorted(taken)}, not {sorted(held)}"
    took_over_in = max(min(s.opened for s in survivor_sessions(expired_at) if s.mailbox == a) for a in held) \
        - expired_at
    assert wait_until(lambda: _fetched(log_of[survivor.pid], killed_offset) >= len(second_mids), 10), \
        "the survivor's log does not show the messages it fetched"

    # -- 5. SIGTERM: the survivor finishes its pass, gives its leases back and exits 0
    survivor.send_signal(signal.SIGTERM)
    assert survivor.wait(timeout=30) == 0, f"the survivor did not stop cleanly; see {log_of[survivor.pid]}"
    sampler.stop()
    for proxy in proxies:
        proxy.stop()
    ran = time.monotonic() - started

    # -- what happened, from the database, the proxies' sessions and the logs
    every_mid = first_mids + second_mids
    events = _events(tw, every_mid)
    per_message = Counter(str(e.data["message_id"]) for e in events)
    assert per_message == dict.fromkeys(every_mid, 1), "a message was recorded twice or never"
    mailbox_of = {mid: a for got in (first, second) for a, mids in got.items() for mid in mids}
    assert {str(e.data["message_id"]): e.mailbox for e in events} == mailbox_of
    fetched = {pid: _fetched(log) for pid, log in log_of.items()}
    assert sum(fetched.values()) == len(every_mid), \
        f"the daemons handled {fetched} messages for {len(every_mid)} delivered: a message was fetched twice"
    assert fetched[victim.pid] == before_kill[victim.pid], "the victim's log counts mail it cannot have fetched"
    assert _fetched(log_of[survivor.pid], killed_offset) == len(second_mids), \
        "the survivor's log does not account for exactly the mail that waited in the orphaned mailboxes"
    with session_scope(tw.engine) as db:
        marks = {w.mailbox: w.last_uid for w in db.exec(select(ImapWatermark)) if w.folder == "INBOX"}
    assert marks == {a: max([*first[a].values(), *second.get(a, {}).values()]) for a in box_of}
    left = {a: owner for a, (owner, _) in leases(tw).items() if owner is not None}
    assert left == {}, f"leases left behind after the survivor's clean stop: {left}"

    sessions = [s for p in proxies for s in p.all_sessions()]
    unknown = [(s, round(s.opened - killed_at, 3)) for s in sessions if s.pid not in workers]
    assert unknown == [], "IMAP sessions not opened by a daemon (with their start relative to the kill)"
    by_daemon = Counter(s.pid for s in sessions)
    before_the_kill = Counter(s.pid for s in sessions if s.opened < killed_at)
    assert by_daemon[victim.pid] > 0 and by_daemon[survivor.pid] > 0
    for proxy in proxies:  # one session at a time per mailbox, whichever daemon
        ordered = sorted(proxy.all_sessions(), key=lambda s: s.opened)
        for a, b in pairwise(ordered):
            assert a.closed is not None and a.closed <= b.opened, \
                f"{proxy.mailbox}: two IMAP sessions at once, by pids {a.pid} and {b.pid} ({a} / {b})"
    checked = 0
    for s in sessions:  # while a daemon waits for its session, it holds that mailbox's lease
        assert s.pid is not None
        for sample in sampler.samples:
            if s.opened <= sample.before and sample.after <= s.hold_end():
                checked += 1
                assert sample.owners[s.mailbox] == workers[s.pid], \
                    f"{s.mailbox}: pid {s.pid} polled it while the lease was {sample.owners[s.mailbox]!r}"
    assert checked > 20, f"only {checked} lease samples fell inside IMAP sessions: the check proved little"
    holders = Counter(owner for sample in sampler.samples for owner in sample.owners.values())
    assert set(holders) <= {None, *workers.values()}
    assert ran < 60, f"the test took {ran:.1f} s"
    print(f"\nimap takeover: {MAILBOXES} mailboxes, {len(every_mid)} messages, each recorded once; fetched before "
          f"the kill {before_kill}; IMAP sessions before the kill {dict(before_the_kill)}, in all {dict(by_daemon)} (victim {victim.pid}); victim held {len(held)} lease(s), {lease_left} left at "
          f"the kill; survivor kept off for {HONOURED:g} s, took over {took_over_in:.2f} s and processed the "
          f"waiting mail {processed_in:.2f} s after the lease ran out; {len(sampler.samples)} lease samples, "
          f"{checked} inside sessions; {ran:.1f} s")
