"""Intent, referral and follow-up date of replies, on sentences written for these tests (not the corpus)."""

from __future__ import annotations

import datetime as dt

import pytest

from outbound.inbox.classify import classify
from outbound.inbox.follow_up import follow_up_date
from outbound.inbox.intent import read_intent

SENT = dt.date(2025, 10, 15)


def _reply(body: str, subject: str = "Re: our idea", headers: str = "") -> bytes:
    return (f"From: Pat Doe <pat@client.example>\r\nTo: alex@acme-mail.com\r\nSubject: {subject}\r\n"
            f"Date: Wed, 15 Oct 2025 10:00:00 +0000\r\nIn-Reply-To: <a1@acme-mail.com>\r\nMessage-ID: <r1@client.example>"
            f"\r\n{headers}\r\n{body}\r\n\r\nPat\r\n\r\nOn Tue, 14 Oct 2025 at 09:00, Alex <alex@acme-mail.com> wrote:\r\n"
            "> Would a call help? Unsubscribe: https://acme-mail.com/u/1\r\n").encode()


@pytest.mark.parametrize(("text", "intent"), [
    ("Sure, send me a calendar invite for Monday at 2pm.", "meeting_request"),
    ("Können wir am Donnerstag um 15 Uhr telefonieren?", "meeting_request"),
    ("How much does it cost per seat? Do you have an annual plan?", "information_request"),
    ("Quanto costa per 5 utenti?", "information_request"),
    ("This looks interesting, tell me more.", "interested"),
    ("Me interesa, cuéntame más por favor.", "interested"),
    ("No thanks, we are all set.", "not_interested"),
    ("Merci, mais nous avons déjà un prestataire.", "not_interested"),
    ("Please do not contact me again.", "do_not_contact"),
    ("Verwijder mij uit uw bestand, geen mails meer graag.", "do_not_contact"),
    ("I'm not the right person, please contact sam.lee@client.example instead.", "wrong_person"),
    ("I left the company last month; my successor is Ana Ruiz (ana.ruiz@client.example).", "left_company"),
    ("Not now - reach out again in January.", "later"),
    ("Thanks.", "other"),
    ("Interesting. Let me think about it.", "other"),
])
def test_intent_of_phrases(text: str, intent: str) -> None:
    assert read_intent(text, kind="human_reply", sent=SENT).intent == intent


def test_referral_address_and_name() -> None:
    reading = read_intent("I left Client Co in May. Please contact my successor Ana Ruiz at ana.ruiz@client.example.",
                          kind="human_reply", sent=SENT, own_address="pat@client.example")
    assert reading.intent == "left_company"
    assert reading.referral is not None and reading.referral.as_json() == {"email": "ana.ruiz@client.example",
                                                                           "name": "Ana Ruiz"}
    # the author's own address in a signature is no referral
    assert read_intent("Not my area, sorry.\nPat Doe\npat@client.example", kind="human_reply",
                       own_address="pat@client.example").referral is None


@pytest.mark.parametrize(("text", "date"), [
    ("reach out again in March", dt.date(2026, 3, 1)),
    ("ping me after Q4", dt.date(2026, 1, 1)),
    ("maybe in Q1", dt.date(2026, 1, 1)),
    ("try again in 3 weeks", dt.date(2025, 11, 5)),
    ("melden Sie sich im nächsten Jahr", dt.date(2026, 1, 1)),
    ("recontactez-moi après l'été", dt.date(2026, 9, 1)),
    ("escríbeme en noviembre", dt.date(2025, 11, 1)),
    ("nothing to say about when", None),
])
def test_follow_up_dates(text: str, date: dt.date | None) -> None:
    assert follow_up_date(text, SENT) == date


def test_keep_me_on_the_list_is_no_unsubscribe() -> None:
    result = classify(_reply("Please don't take me off your list, try me in March."))
    assert result.kind == "human_reply"
    assert result.intent == "later" and result.follow_up_on == dt.date(2026, 3, 1)


def test_away_but_proposing_a_time_is_a_person() -> None:
    result = classify(_reply("I'm out of the office until Wednesday, but how about a call on Thursday at 3 pm?"))
    assert (result.kind, result.intent) == ("human_reply", "meeting_request")
    machine = classify(_reply("I am out of the office until Wednesday 22 October.", headers="Auto-Submitted: auto-replied\r\n"))
    assert (machine.kind, machine.intent) == ("auto_reply", "out_of_office")


def test_classify_json_prints_intent() -> None:
    row = classify(_reply("Not my area - better ask jo.kim@client.example.")).as_json()
    assert row["intent"] == "wrong_person"
    assert row["referral"] == {"email": "jo.kim@client.example", "name": None}
    assert "follow_up_on" in row
    assert classify(_reply("unsubscribe")).as_json()["intent"] == "do_not_contact"
