"""Our own fixtures (tests/data/inbox): auto-replies in several languages, human replies that quote
out-of-office or unsubscribe wording, unsubscribe requests, Gmail/Outlook/HTML replies."""

from __future__ import annotations

import datetime as dt

import pytest

from outbound.inbox.classify import classify
from tests.fixtures.common import DATA

INBOX = DATA / "inbox"
SENT_ID = "<seq-42.step-1.7f3a@growthco.example>"

AUTO_REPLIES = {
    "ooo_de_exchange": dt.date(2025, 3, 14),
    "ooo_de_subject_only": dt.date(2025, 3, 11),
    "ooo_fr": dt.date(2025, 3, 17),
    "ooo_es": dt.date(2025, 3, 21),
    "ooo_it": dt.date(2025, 3, 13),
    "ooo_nl": dt.date(2025, 3, 10),
    "ooo_sv": dt.date(2025, 3, 16),
    "ooo_en_apple": dt.date(2025, 3, 14),
    "ooo_en_body_only": dt.date(2025, 4, 22),
    "autoack_ticket": None,
}
HUMAN_REPLIES = {
    "human_gmail_quoted_ooo": "Sure, Thursday at 3pm works for me.",
    "human_outlook": "Can you share pricing for 10 seats?",
    "human_interested_de": "Können wir nächste Woche telefonieren?",
    "human_not_unsubscribe": "no budget this quarter",
    "human_html_only": "Yes, let's talk.",
}
UNSUBSCRIBES = ["unsub_en_plain", "unsub_en_remove", "unsub_de", "unsub_fr", "unsub_es", "unsub_subject_only"]


def _load(name: str) -> bytes:
    return (INBOX / f"{name}.eml").read_bytes()


@pytest.mark.parametrize(("name", "back"), AUTO_REPLIES.items())
def test_auto_replies(name: str, back: dt.date | None) -> None:
    result = classify(_load(name))
    assert result.kind == "auto_reply", result.why
    assert result.return_date == back
    assert result.reason == ("auto_reply" if back is None else "vacation")


@pytest.mark.parametrize(("name", "phrase"), HUMAN_REPLIES.items())
def test_human_replies_are_not_taken_for_auto_replies(name: str, phrase: str) -> None:
    result = classify(_load(name))
    assert result.kind == "human_reply", result.why
    assert result.reply_text is not None and phrase in result.reply_text
    # The quoted history (with its "out of office" and "unsubscribe" words) is not the reply.
    assert "wrote:" not in result.reply_text and "From:" not in result.reply_text
    assert 'unsubscribe"' not in result.reply_text
    assert result.in_reply_to == SENT_ID
    assert result.references == (SENT_ID,)


def test_signature_dropped_from_reply_text() -> None:
    result = classify(_load("human_not_unsubscribe"))
    assert result.reply_text is not None and "Sent from my iPhone" not in result.reply_text


@pytest.mark.parametrize("name", UNSUBSCRIBES)
def test_unsubscribe_requests(name: str) -> None:
    result = classify(_load(name))
    assert result.kind == "unsubscribe", result.why
    assert result.reason == "unsubscribe_request"


def test_own_mailbox_message_is_never_a_reply() -> None:
    raw = _load("unsub_en_plain")
    assert classify(raw, mailbox="bob@shop.example").kind == "other"
    assert classify(raw, mailbox="someone@else.example").kind == "unsubscribe"
