"""One bounce taxonomy: the same status and text give the same reason, hardness and fault at send time and in a DSN."""

from __future__ import annotations

import pytest

from outbound.core.bounces import HARD_REASONS, REASON_FAULT, is_hard, read_failure
from outbound.engine.smtp_outcome import classify_smtp_reply
from outbound.inbox.classify import classify

# (SMTP code, reply text, reason, hard, fault). Each row is read twice: as the reply to RCPT and as
# the Status and Diagnostic-Code of a DSN, and both readings must agree with the row.
ROWS = [
    # The address does not exist: hard, the recipient's.
    (550, "5.1.1 <bob@remote.test>: Recipient address rejected: User unknown in virtual mailbox table", "user_unknown", True, "recipient"),
    (550, "5.1.1 The email account that you tried to reach does not exist.", "user_unknown", True, "recipient"),
    (550, "5.0.0 <bob@remote.test>... User unknown", "user_unknown", True, "recipient"),
    (550, "5.1.0 Address rejected", "user_unknown", True, "recipient"),
    (550, "5.1.2 We weren't able to find the recipient domain.", "host_unknown", True, "recipient"),
    (550, "5.1.2 Host unknown", "host_unknown", True, "recipient"),
    (551, "5.1.6 Recipient address has moved; use carol@remote.test", "has_moved", True, "recipient"),
    (556, "5.1.10 Recipient address has null MX", "not_accept", True, "recipient"),
    (550, "5.4.1 Recipient address rejected: Access denied. AS(201806281)", "user_unknown", True, "recipient"),
    # 5.4.4: hard only when the words say the domain does not exist.
    (554, "5.4.4 Unable to route", "network_error", False, "transient"),
    (550, "5.4.4 Host or domain name not found. Name service error for name=remote.test type=A: Host not found", "host_unknown", True, "recipient"),
    (554, "5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain", "host_unknown", True, "recipient"),
    # 5.2.1: a disabled account is soft, unless the words say the user is unknown.
    (550, "5.2.1 The email account that you tried to reach is disabled.", "suspended", False, "recipient"),
    (550, "5.2.1 <bob@remote.test>: Recipient address rejected", "suspended", False, "recipient"),
    (550, "5.2.1 <bob@remote.test>... User Unknown", "user_unknown", True, "recipient"),
    # Real addresses refused for now or for this message: soft, the recipient's side.
    (552, "5.2.2 <bob@remote.test>: Mailbox full", "mailbox_full", False, "recipient"),
    (552, "5.2.3 Message size exceeds fixed maximum message size", "message_too_big", False, "recipient"),
    (550, "5.7.1 Message rejected as spam", "spam", False, "recipient"),
    (550, "5.7.1 Recipient address rejected: Account is locked", "suspended", False, "recipient"),
    (554, "5.7.9 Message not accepted for policy reasons.", "policy", False, "recipient"),
    (550, "5.7.1 Delivery not authorized, message refused", "security_error", False, "recipient"),
    (550, "5.0.0 Mailbox is frozen", "suspended", False, "recipient"),
    # The text outranks a generic code.
    (550, "5.0.0 mailbox full", "mailbox_full", False, "recipient"),
    (550, "5.7.1 Unknown user", "user_unknown", True, "recipient"),
    (550, "5.1.0 This account has been disabled or discontinued", "suspended", False, "recipient"),
    # Our mailbox's or our domain's problem, whatever the code says about the recipient.
    (554, "5.7.1 <unknown[192.0.2.9]>: Client host rejected: Access denied", "blocked", False, "mailbox"),
    (554, "5.7.1 Service unavailable; Client host [192.0.2.9] blocked using zen.spamhaus.org", "blocked", False, "mailbox"),
    (550, "5.7.606 Access denied, banned sending IP [192.0.2.9].", "blocked", False, "mailbox"),
    (550, "5.7.1 Unfortunately, messages from [192.0.2.9] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).", "blocked", False, "mailbox"),
    (554, "5.7.1 <bob@remote.test>: Relay access denied", "no_relaying", False, "mailbox"),
    (550, "5.7.0 Authentication required", "security_error", False, "mailbox"),
    (550, "5.7.26 This mail has been blocked because the sender is unauthenticated.", "auth_failure", False, "domain"),
    (550, "5.7.515 Access denied, sending domain [OUR.TEST] doesn't meet the required authentication level.", "auth_failure", False, "domain"),
    (550, "5.7.509 Access denied, sending domain [OUR.TEST] does not pass DMARC verification", "auth_failure", False, "domain"),
    (550, "5.7.23 The message was rejected because of Sender Policy Framework violation", "auth_failure", False, "domain"),
    (550, "5.7.1 Email rejected per DMARC policy for our.test", "auth_failure", False, "domain"),
    (550, "5.7.25 The IP address sending this message does not have a PTR record setup", "require_ptr", False, "mailbox"),
    (550, "5.7.27 Sender address has null MX", "rejected", False, "domain"),
    (553, "5.1.8 <alex@our.test>: Sender address rejected: Domain not found", "rejected", False, "domain"),
    (550, "5.4.5 Daily user sending quota exceeded.", "exceed_limit", False, "mailbox"),
    (550, "5.7.1 Your domain our.test is listed on the DBL", "blocked", False, "domain"),
    # Nobody's fault we know of.
    (554, "5.4.6 Too many hops", "network_error", False, "transient"),
    (554, "5.3.0 Internal server error", "system_error", False, "transient"),
]

_DSN = """From: Mail Delivery System <MAILER-DAEMON@relay.our.test>
To: alex@our.test
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system at host relay.our.test. Your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.our.test

Final-Recipient: rfc822; bob@remote.test
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diagnostic}

--B--
"""


def dsn(status: str, diagnostic: str, action: str = "failed") -> bytes:
    return _DSN.format(status=status, diagnostic=diagnostic, action=action).replace("\n", "\r\n").encode()


def _status(text: str) -> str:
    return text.split()[0]


@pytest.mark.parametrize(("code", "text", "reason", "hard", "fault"), ROWS)
def test_smtp_and_dsn_paths_agree(code: int, text: str, reason: str, hard: bool, fault: str) -> None:
    smtp = classify_smtp_reply(code, text, stage="rcpt")
    report = classify(dsn(_status(text), f"{code} {text}"))
    sender_side = fault in ("mailbox", "domain")
    assert (smtp.reason, smtp.fault) == (reason, fault)
    assert smtp.kind == ("sender_rejected" if sender_side else "hard_bounce" if hard else "soft_bounce")
    # A DSN keeps the bounce kind (the send did bounce) and says whose fault it is.
    assert (report.kind, report.reason, report.fault) == ("hard_bounce" if hard else "soft_bounce", reason, fault)
    assert report.per_recipient[0].fault == fault and report.per_recipient[0].hard is hard


@pytest.mark.parametrize(("code", "text", "reason", "hard", "fault"), ROWS)
def test_read_failure_is_the_same_decision_everywhere(code: int, text: str, reason: str, hard: bool, fault: str) -> None:
    for where in ("rcpt", "dsn"):
        verdict = read_failure(_status(text), text, code=code, where=where)  # type: ignore[arg-type]
        assert (verdict.reason, verdict.hard, verdict.fault) == (reason, hard, fault), where
        assert verdict.sender_side is (fault in ("mailbox", "domain"))
        assert verdict.why


def test_an_unknown_user_after_rcpt_was_accepted_is_a_filter() -> None:
    assert read_failure(None, "550 mailbox does not exist", code=550, where="data").reason == "filtered"
    assert read_failure(None, "550 mailbox does not exist", code=550, where="rcpt").reason == "user_unknown"
    assert read_failure("5.1.1", "550 5.1.1 mailbox does not exist", code=550, where="message").hard


def test_a_temporary_code_reported_final() -> None:
    # The retries ran out: soft and nobody's fault, unless the receiver said the user is unknown.
    assert read_failure("4.4.7", "delivery time expired", where="dsn").reason == "expired"
    assert read_failure("4.0.0", "", where="dsn").reason == "expired"
    assert read_failure("4.4.1", "connect to mx.remote.test: Connection timed out", where="dsn").reason == "network_error"
    gone = read_failure("4.1.1", "450 4.1.1 <b@remote.test>: Recipient address rejected: User unknown", where="dsn")
    assert gone.hard and gone.reason == "user_unknown"
    dns = read_failure("4.4.3", "Host or domain name not found. Name service error: try again", where="dsn")
    assert dns.reason == "host_unknown" and not dns.hard
    assert not read_failure("4.1.10", "domain accepts no mail (null MX)", where="dsn").hard


def test_who_blocked_whom() -> None:
    assert read_failure("5.7.1", "550 5.7.1 The sender has been blocked by the recipient").fault == "recipient"
    assert read_failure("5.7.1", "554 5.7.1 <b@remote.test>: Recipient address rejected: Access denied").fault == "recipient"
    assert read_failure("5.7.1", "554 5.7.1 Access denied").fault == "mailbox"


def test_every_reason_has_a_fault_and_only_address_reasons_are_hard() -> None:
    assert set(REASON_FAULT) >= HARD_REASONS
    assert all(REASON_FAULT[r] == "recipient" for r in HARD_REASONS)
    for reason in set(REASON_FAULT) - HARD_REASONS - {"not_accept"}:
        assert not is_hard(reason, "5.0.0", code=550), reason
    assert is_hard("not_accept", "5.1.10", code=556) and not is_hard("not_accept", "4.1.10", code=450)


@pytest.mark.parametrize("action", ["delayed", "delivered", "relayed", "expanded"])
def test_report_actions_stay_delivery_reports(action: str) -> None:
    status = "4.4.7" if action == "delayed" else "2.0.0"
    result = classify(dsn(status, "250 2.0.0 ok" if status.startswith("2") else "connection timed out", action))
    assert result.kind == "delivery_report" and result.fault is None


@pytest.mark.parametrize(
    ("status", "diagnostic", "reason"),
    [("4.4.7", "delivery time expired", "expired"), ("4.4.1", "connect to mx.remote.test[192.0.2.1]:25: Connection timed out", "network_error")],
)
def test_action_failed_is_a_bounce_whatever_the_class(status: str, diagnostic: str, reason: str) -> None:
    result = classify(dsn(status, diagnostic))
    assert (result.kind, result.reason, result.fault) == ("soft_bounce", reason, "transient")


def test_an_unusual_failure_action_is_a_failure() -> None:
    assert classify(dsn("5.0.0", "550 user unknown", action="error")).kind == "hard_bounce"
    assert classify(dsn("2.1.5", "250 2.1.5 Ok", action="deliverable")).kind == "delivery_report"
