"""The claim skips addresses verified after their enrollment: invalid ones always, risky ones as the
sequence's verify_policy says; the enrollment is blocked with the reason (what `status` shows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import select

from outbound.engine.smtp import SmtpPool
from outbound.engine.tick import run_tick
from outbound.store.db import session_scope
from outbound.store.enrollments import unblock
from outbound.store.prospects import prospect_ids
from outbound.store.tables import Enrollment, Prospect
from outbound.store.verification import save_results
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.workspace import add_prospects, build, domain, three_step_sequence

START = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
ALWAYS = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "23:59", "timezone": "UTC"}


async def test_invalid_and_skipped_risky_addresses_are_blocked_at_claim(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}",
               [three_step_sequence(window=ALWAYS), three_step_sequence("lax", window=ALWAYS, verify_policy="send")],
               [domain("d0.test", smtp_sink.port, 1, gap={"min": 0, "max": 0})])
    strict = [p.email for p in add_prospects(tw, 4, "seq", seed=1, source="strict")]
    lax = [p.email for p in add_prospects(tw, 2, "lax", seed=2, source="lax")]
    ids = dict(zip(strict + lax, prospect_ids(tw.engine, source="strict") + prospect_ids(tw.engine, source="lax"),
                   strict=True))
    results = [(ids[strict[0]], "invalid", ["nxdomain: x does not exist (NXDOMAIN)"]),
               (ids[strict[1]], "risky", ["role: info@ is a role address"]),
               (ids[strict[2]], "risky", ["catch-all: x accepts any address, this one cannot be confirmed"]),
               (ids[strict[3]], "valid", []),
               (ids[lax[0]], "risky", ["role: info@ is a role address"]),
               (ids[lax[1]], "invalid", ["null-mx: x accepts no mail (null MX, RFC 7505)"])]
    save_results(tw.engine, results, START)
    pool = SmtpPool()
    try:
        for i in range(6):
            await run_tick(tw.ctx, pool, START + timedelta(hours=1, minutes=i))
    finally:
        await pool.close_all()
    mailed = {m.rcpt_tos[0] for m in smtp_sink.messages}
    assert mailed == {strict[2], strict[3], lax[0]}  # catch-all is sent by default; "send" sends the role address
    with session_scope(tw.engine) as s:
        reasons = {email: (state, reason) for email, state, reason in s.exec(
            select(Prospect.email, Enrollment.state, Enrollment.reason).join(Enrollment, Enrollment.prospect_id == Prospect.id))}
    assert reasons[strict[0]] == ("blocked", "address invalid: nxdomain")
    assert reasons[strict[1]] == ("blocked", "address risky (verify_policy skip): role")
    assert reasons[lax[1]] == ("blocked", "address invalid: null-mx")
    # a new check finds strict[0] valid: unblock lets it go on; strict[1] is still a role address the policy skips
    save_results(tw.engine, [(ids[strict[0]], "valid", [])], START + timedelta(days=1))
    sequences = {n: s.sequence for n, s in tw.ctx.workspace.sequences.items()}
    result = unblock(tw.engine, sequences)
    assert (result.address_ok, result.address_still, result.unblocked, result.other) == (1, 2, 0, [])
    with session_scope(tw.engine) as s:
        states = {email: state for email, state in s.exec(
            select(Prospect.email, Enrollment.state).join(Enrollment, Enrollment.prospect_id == Prospect.id))}
    assert states[strict[0]] == "active" and states[strict[1]] == states[lax[1]] == "blocked"
    assert unblock(tw.engine, sequences, force=True).forced == 2  # --force makes them active whatever the check says
