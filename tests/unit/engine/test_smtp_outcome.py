"""Reading SMTP replies into outcomes: the hard/soft bounce table and the other kinds."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outbound.core.bounces import enhanced_status
from outbound.core.outcome import SendOutcome, local_outcome
from outbound.engine.smtp import crlf, wire_payload
from outbound.engine.smtp_outcome import classify_smtp_reply

# (code, reply text, stage, kind, reason, fault): real-world replies from the big providers and MTAs.
# The reasons are the one vocabulary of outbound.core.bounces, the same a DSN gets.
TABLE = [
    (550, "5.1.1 <a@x.test>: Recipient address rejected: User unknown in virtual mailbox table", "rcpt", "hard_bounce", "user_unknown", "recipient"),
    (550, "5.1.1 The email account that you tried to reach does not exist. Please try\n5.1.1 double-checking", "rcpt", "hard_bounce", "user_unknown", "recipient"),
    (550, "5.1.2 Host unknown (Name server: x.test: host not found)", "rcpt", "hard_bounce", "host_unknown", "recipient"),
    (556, "5.1.10 Recipient address has null MX", "rcpt", "hard_bounce", "not_accept", "recipient"),
    (551, "5.1.6 Recipient address has moved; use bob@y.test", "rcpt", "hard_bounce", "has_moved", "recipient"),
    (550, "5.4.1 Recipient address rejected: Access denied. AS(201806281)", "rcpt", "hard_bounce", "user_unknown", "recipient"),
    (550, "Requested action not taken: no such user here", "rcpt", "hard_bounce", "user_unknown", "recipient"),
    (550, "5.0.0 <a@x.test>... User unknown", "rcpt", "hard_bounce", "user_unknown", "recipient"),
    # RCPT was accepted: an unknown-user answer at DATA without an x.1.x code is a filter's (sisimai's rule).
    (550, "mailbox does not exist", "data", "soft_bounce", "filtered", "recipient"),
    (550, "5.1.1 <a@x.test>: mailbox does not exist", "message", "hard_bounce", "user_unknown", "recipient"),
    (552, "5.2.2 <a@x.test>: Mailbox full", "rcpt", "soft_bounce", "mailbox_full", "recipient"),
    (550, "5.2.2 The email account that you tried to reach is over quota", "message", "soft_bounce", "mailbox_full", "recipient"),
    (550, "5.2.1 The email account that you tried to reach is disabled", "rcpt", "soft_bounce", "suspended", "recipient"),
    (554, "5.7.1 <a@x.test>: Message rejected as spam", "message", "soft_bounce", "spam", "recipient"),
    (552, "5.3.4 Message size exceeds fixed maximum message size", "message", "soft_bounce", "message_too_big", "recipient"),
    (554, "5.4.4 Unable to route", "rcpt", "soft_bounce", "network_error", "transient"),
    (554, "5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain", "rcpt", "hard_bounce", "host_unknown", "recipient"),
    (554, "Transaction failed", "message", "soft_bounce", "undefined", "recipient"),
    (554, "5.6.0 Message content not accepted", "message", "soft_bounce", "spam", "recipient"),
    # The cause is our mailbox or our domain: never the prospect's bounce.
    (554, "5.7.1 <unknown[192.0.2.9]>: Client host rejected: Access denied", "rcpt", "sender_rejected", "blocked", "mailbox"),
    (550, "5.7.1 Service unavailable, Client host [1.2.3.4] blocked using Spamhaus", "rcpt", "sender_rejected", "blocked", "mailbox"),
    (550, "5.7.1 Relaying denied", "rcpt", "sender_rejected", "no_relaying", "mailbox"),
    (554, "5.7.1 <b@y.test>: Relay access denied", "rcpt", "sender_rejected", "no_relaying", "mailbox"),
    (550, "5.7.0 Authentication required", "rcpt", "sender_rejected", "security_error", "mailbox"),
    (550, "5.7.26 This mail is unauthenticated, which poses a security risk to the sender", "message", "sender_rejected", "auth_failure", "domain"),
    (550, "5.7.515 Access denied, sending domain [X.TEST] doesn't meet the required authentication level.", "message", "sender_rejected", "auth_failure", "domain"),
    (550, "5.7.25 [192.0.2.9] The IP address sending this message does not have a PTR record setup", "rcpt", "sender_rejected", "require_ptr", "mailbox"),
    (550, "5.7.23 The message was rejected because of Sender Policy Framework violation", "message", "sender_rejected", "auth_failure", "domain"),
    (550, "5.7.27 Sender address has null MX", "rcpt", "sender_rejected", "rejected", "domain"),
    (553, "5.1.8 <a@our.test>: Sender address rejected: Domain not found", "rcpt", "sender_rejected", "rejected", "domain"),
    (550, "5.4.5 Daily user sending quota exceeded.", "rcpt", "sender_rejected", "exceed_limit", "mailbox"),
    (451, "4.3.0 <a@x.test>: Temporary local problem", "rcpt", "temporary", "temporary_failure", "transient"),
    (450, "4.2.0 <a@x.test>: Recipient address rejected: Greylisted, see http://postgrey", "rcpt", "temporary", "greylisted", "transient"),
    (452, "4.2.2 <a@x.test>: Mailbox full, try again later", "rcpt", "temporary", "mailbox_full", "transient"),
    (421, "4.7.0 Try again later, closing connection", "mail", "temporary", "service_unavailable", "transient"),
    (421, "4.7.28 Our system has detected an unusual rate of unsolicited mail", "rcpt", "temporary", "rate_limited", "transient"),
    (450, "4.7.0 Too many messages, slow down", "mail", "temporary", "rate_limited", "transient"),
    (535, "5.7.8 Username and Password not accepted", "auth", "auth_failure", "auth_rejected", "mailbox"),
    (530, "5.7.0 Authentication required", "mail", "auth_failure", "auth_required", "mailbox"),
    (530, "5.7.0 Must issue a STARTTLS command first", "mail", "config_error", "tls_required", "mailbox"),
    (553, "5.7.1 Sender address rejected: not owned by user", "mail", "config_error", "sender_refused", "mailbox"),
    (554, "5.7.1 Your IP is blocked", "connect", "config_error", "server_refused_session", "mailbox"),
    (250, "2.0.0 OK: queued as 4Xy", "message", "delivered", "accepted", "transient"),
]


@pytest.mark.parametrize(("code", "text", "stage", "kind", "reason", "fault"), TABLE)
def test_reply_table(code: int, text: str, stage: str, kind: str, reason: str, fault: str) -> None:
    out = classify_smtp_reply(code, text, stage=stage)  # type: ignore[arg-type]
    assert (out.kind, out.reason, out.fault) == (kind, reason, fault)
    assert out.code == code and out.text == text and out.stage == stage


def test_a_sender_rejection_is_neither_a_bounce_nor_retried() -> None:
    out = classify_smtp_reply(554, "5.7.1 <unknown[192.0.2.9]>: Client host rejected: Access denied")
    assert not out.is_bounce and not out.may_have_been_delivered
    assert "sender_rejected (blocked, our mailbox) at rcpt" in out.describe()


def test_fault_defaults_from_the_kind() -> None:
    assert SendOutcome("hard_bounce", "user_unknown").fault == "recipient"
    assert SendOutcome("temporary", "timeout").fault == "transient"
    assert SendOutcome("config_error", "smtp_error").fault == "mailbox"
    assert SendOutcome("sender_rejected", "auth_failure", fault="domain").fault == "domain"
    assert local_outcome("auth_failure", "password_missing", "", "auth").fault == "mailbox"


def test_status_and_text_are_kept_for_a_bounce() -> None:
    out = classify_smtp_reply(550, "5.1.1 <a@x.test>: User unknown")
    assert out.status == "5.1.1"
    assert "550 5.1.1" in out.describe() and "hard_bounce (user_unknown)" in out.describe()
    assert out.is_bounce and not out.may_have_been_delivered


@pytest.mark.parametrize(("text", "status"), [
    ("5.1.10 null MX", "5.1.10"), ("<a@x.test>: 4.2.2 full", "4.2.2"), ("no status here 1.2.3.4", None),
    ("server 10.5.1.1 said", None), ("5.7.1\n5.7.1 more", "5.7.1"), ("status 5.1.1.", "5.1.1"), ("v5.1.1.2", None),
])
def test_enhanced_status(text: str, status: str | None) -> None:
    assert enhanced_status(text) == status


def test_ambiguous_and_delivered_may_have_been_delivered() -> None:
    assert classify_smtp_reply(250, "ok", stage="message").may_have_been_delivered
    assert not classify_smtp_reply(451, "later").may_have_been_delivered


def test_wire_payload_normalises_and_dot_stuffs() -> None:
    assert crlf(b"a\nb\rc") == b"a\r\nb\r\nc\r\n"
    assert wire_payload(b"Subject: x\n\n.hidden\nend\n") == b"Subject: x\r\n\r\n..hidden\r\nend\r\n.\r\n"


@given(st.binary().map(lambda b: bytes(b"a\r\n."[x % 4] for x in b)))
def test_crlf_and_dot_stuffing_match_the_line_rules(raw: bytes) -> None:
    """The fast bytes.replace forms agree with the plain statement of the rules (a regex)."""
    expected = re.sub(rb"\r\n|\n|\r(?!\n)", b"\r\n", raw)
    expected = expected if expected.endswith(b"\r\n") else expected + b"\r\n"
    assert crlf(raw) == expected
    assert wire_payload(raw) == re.sub(rb"(?m)^\.", b"..", expected) + b".\r\n"
