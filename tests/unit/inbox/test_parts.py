"""The single-job modules: return dates, reply text, unsubscribe wording, DSN fields, reasons, robustness."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outbound.core.bounces import is_hard, reason_for
from outbound.inbox.classify import classify
from outbound.inbox.dsn import parse_fields
from outbound.inbox.reply_text import extract_reply
from outbound.inbox.result import KINDS
from outbound.inbox.return_date import find_return_date
from outbound.inbox.unsubscribe_words import is_unsubscribe_request

SENT = dt.date(2025, 3, 3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm out of the office until March 14th.", dt.date(2025, 3, 14)),
        ("Back on Monday, 10 March 2025.", dt.date(2025, 3, 10)),
        ("I will return on 04/22/2025 and reply then.", dt.date(2025, 4, 22)),
        ("Ich bin bis 14.03.2025 im Urlaub.", dt.date(2025, 3, 14)),
        ("Ab dem 11. März bin ich wieder erreichbar.", dt.date(2025, 3, 11)),
        ("Je serai de retour le 17 mars.", dt.date(2025, 3, 17)),
        ("Estaré fuera hasta el 21 de marzo de 2025.", dt.date(2025, 3, 21)),
        ("Rientrerò il 13 marzo.", dt.date(2025, 3, 13)),
        ("Vanaf 10 maart ben ik weer bereikbaar.", dt.date(2025, 3, 10)),
        ("Jag är ledig till och med 2025-03-16.", dt.date(2025, 3, 16)),
        ("Away until 5 January.", dt.date(2026, 1, 5)),  # a date before the message's own is next year's
        ("I am away, no date given.", None),
    ],
)
def test_return_dates(text: str, expected: dt.date | None) -> None:
    assert find_return_date(text, SENT) == expected


def test_reply_text_cuts_gmail_and_outlook_history() -> None:
    gmail = "Sounds good.\n\nOn Mon, Mar 3, 2025 at 9:00 AM Anna <a@x.example> wrote:\n> old text\n"
    outlook = "Yes please.\n\nFrom: Anna <a@x.example>\nSent: Monday\nTo: Bob\nSubject: Hi\n\nold text\n"
    french = "D'accord.\n\nLe lun. 3 mars 2025 à 09:00, Anna <a@x.example> a écrit :\n> vieux texte\n"
    assert extract_reply(gmail) == "Sounds good."
    assert extract_reply(outlook) == "Yes please."
    assert extract_reply(french) == "D'accord."


def test_reply_text_bottom_posting_and_signature() -> None:
    bottom = "On Mon, Mar 3, 2025 at 9:00 AM Anna <a@x.example> wrote:\n> question?\n\nMy answer.\n\n-- \nBob\nCEO"
    assert extract_reply(bottom) == "My answer."


@pytest.mark.parametrize("gap", ["\n", "\n\n"])
def test_a_one_line_reply_naming_an_address_is_kept_above_the_wrote_header(gap: str) -> None:
    quoted = "On Mon, 3 Mar 2025 at 10:00, Bob <bob@x.example> wrote:\n> Who handles this?\n"
    assert extract_reply(f"Please contact jane.doe@acme.example instead.{gap}{quoted}") == (
        "Please contact jane.doe@acme.example instead.")
    assert extract_reply(f"jane@acme.example{gap}{quoted}") == "jane@acme.example"
    # a header whose address wraps to the next line is still one header
    assert extract_reply("Sure\n\nOn Mon, 3 Mar 2025 at 10:00, Bob\n<bob@x.example> wrote:\n> hi\n") == "Sure"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("unsubscribe", True),
        ("Please remove me from your list", True),
        ("Not interested. Stop emailing me.", True),
        ("Bitte abmelden.", True),
        ("Merci de me désinscrire", True),
        ("Afmelden aub", True),
        ("Please don't unsubscribe me, I'm interested!", False),
        ("Sounds great, let's talk Tuesday.", False),
        ("I got no email from you last week, can you resend?", False),
    ],
)
def test_unsubscribe_words(text: str, expected: bool) -> None:
    assert is_unsubscribe_request(text) is expected


def test_dsn_fields_out_of_order_and_original_recipient_preferred() -> None:
    text = (
        "Reporting-MTA: dns; mx.example\n\nAction: failed\nStatus: 5.0.0\n"
        "Original-recipient: rfc822;sent-to@example.ch\nFinal-recipient: rfc822;alias@host.example.ch\n\n"
        "Final-Recipient: rfc822; two@example.org\nAction: delayed\nStatus: 4.4.7\n"
    )
    records = parse_fields(text)
    assert [(r.address, r.action, r.status) for r in records] == [
        ("sent-to@example.ch", "failed", "5.0.0"),
        ("two@example.org", "delayed", "4.4.7"),
    ]


@pytest.mark.parametrize(
    ("status", "text", "reason", "hard"),
    [
        ("5.1.1", "550 5.1.1 <a@b.example>: Recipient address rejected: User unknown", "user_unknown", True),
        ("5.2.2", "552 5.2.2 Mailbox full", "mailbox_full", False),
        ("5.7.1", "554 5.7.1 Message rejected as spam", "spam", False),
        ("5.0.0", "550 Host unknown", "host_unknown", True),
        ("5.7.1", "Recipient address rejected: Reverse DNS validation failed", "require_ptr", False),
        ("5.0.0", "account has been disabled", "suspended", False),
        ("5.1.10", "Recipient address rejected: domain accepts no mail (null MX)", "not_accept", True),
        ("4.1.10", "domain accepts no mail (null MX)", "not_accept", False),
    ],
)
def test_reasons(status: str, text: str, reason: str, hard: bool) -> None:
    got = reason_for(status, text)
    assert got == reason
    assert is_hard(got, status, text) is hard


@pytest.mark.parametrize("raw", [b"", b"\x00\xff\xfe garbage", b"not an email at all", b"From: \xff\xff\r\n\r\n\xff"])
def test_garbage_is_other(raw: bytes) -> None:
    assert classify(raw).kind == "other"


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_never_raises_on_any_bytes(raw: bytes) -> None:
    assert classify(raw).kind in KINDS


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=600))
def test_never_raises_on_headerish_text(body: str) -> None:
    raw = (
        "From: MAILER-DAEMON@x.example\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\n"
        + body
    ).encode("utf-8", "surrogatepass")
    assert classify(raw).kind in {
        "hard_bounce",
        "soft_bounce",
        "delivery_report",
        "other",
        "auto_reply",
        "human_reply",
        "unsubscribe",
        "complaint",
    }
