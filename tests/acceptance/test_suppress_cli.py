"""`outbound suppress` goes through the rulebook like every opt-out: the entries, and every live
enrollment they reach stopped at once (status shows them stopped before any tick), on a real sink."""

from __future__ import annotations

from pathlib import Path

from tests.acceptance.conftest import write_csv
from tests.acceptance.test_unblock import _cli, _states, _workspace
from tests.fixtures.smtp_sink import SmtpSink


def test_suppressing_by_hand_stops_the_enrollments_it_reaches_at_once(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    tw = _workspace(tmp_path, smtp_sink)
    rows = ["ann@acme.test,Ann,Acme", "bob@acme.test,Bob,Acme", "cy@other.test,Cy,Other", "di@keep.test,Di,Keep"]
    _cli(tw, "prospects", "import", str(write_csv(tmp_path / "p.csv", "email,first_name,company", rows)),
         "--enroll", "seq")

    out = _cli(tw, "suppress", "@Acme.test", "--reason", "customer")
    assert "suppressed 1 new entry (0 already there); stopped 2 live enrollments" in out
    listed = write_csv(tmp_path / "dnc.csv", "email", ["cy@other.test", "ann@acme.test"])
    out = _cli(tw, "suppress", "import", str(listed), "--reason", "do not contact")
    assert "suppressed 2 new (0 already there), skipped 0; stopped 1 live enrollment" in out

    states = _states(tw)
    assert states["ann@acme.test"] == ("stopped", "suppressed by hand: customer")
    assert states["bob@acme.test"] == ("stopped", "suppressed by hand: customer")
    assert states["cy@other.test"] == ("stopped", "suppressed by hand: do not contact")
    assert states["di@keep.test"] == ("active", None)

    _cli(tw, "send", "--once")
    assert sorted(to for m in smtp_sink.messages for to in m.rcpt_tos) == ["di@keep.test"]
    # suppressing again changes nothing and says so
    assert "suppressed 0 new entries (1 already there)\n" in _cli(tw, "suppress", "ann@acme.test")
