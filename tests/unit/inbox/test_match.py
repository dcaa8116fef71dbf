"""The pure matching rules: which send an inbound message answers, from plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from outbound.core.sends import Found, SendRef
from outbound.inbox.match import Inbound, best, effective_kind, lookup_for, match, read_inbound
from outbound.inbox.poller import FetchedMessage
from outbound.inbox.result import Classification

MAILBOX = "alex@sender.test"
T0 = datetime(2026, 11, 23, 10, tzinfo=UTC)


def ref(send_id: int, to: str = "bob@acme.test", mailbox: str = MAILBOX, hours: int = 0) -> SendRef:
    return SendRef(send_id, 100 + send_id, 200 + send_id, mailbox, to, f"<s{send_id}@sender.test>", "seq", "intro", 0,
                   T0 + timedelta(hours=hours))


def inbound(kind: str = "human_reply", *, sender: str | None = "bob@acme.test", message_id: str | None = "<in@x.test>",
            **fields: object) -> Inbound:
    return Inbound(MAILBOX, "INBOX", 7, 1, message_id, sender, "Re: hello",
                   Classification(kind=kind, **fields))  # type: ignore[arg-type]


def by_id(*refs: SendRef) -> dict[str, SendRef]:
    return {r.message_id or "": r for r in refs}


def test_in_reply_to_wins_over_references_and_sender() -> None:
    a, b, c = ref(1), ref(2), ref(3)
    msg = inbound(in_reply_to=a.message_id, references=(b.message_id,))
    m = match(msg, Found(by_id(a, b), by_sender=(c,)))
    assert (m.via, m.send) == ("in_reply_to", a)
    assert "<s1@sender.test>" in m.reason


def test_references_take_the_newest_of_ours() -> None:
    a, b = ref(1), ref(2)
    msg = inbound(in_reply_to="<theirs@acme.test>", references=(a.message_id, b.message_id, "<other@acme.test>"))
    m = match(msg, Found(by_id(a, b)))
    assert (m.via, m.send) == ("references", b)


def test_sender_is_the_last_resort_and_prefers_this_mailbox() -> None:
    here_old, elsewhere_new = ref(1, hours=0), ref(2, mailbox="other@sender.test", hours=5)
    m = match(inbound(kind="auto_reply"), Found(by_sender=(elsewhere_new, here_old)))
    assert (m.via, m.send) == ("sender", here_old)
    assert match(inbound(kind="auto_reply"), Found()).via == "none"


def test_bounces_use_the_quoted_original_before_the_recipient() -> None:
    original, latest_to_recipient = ref(1, to="gone@acme.test"), ref(2, to="gone@acme.test", hours=3)
    bounce = inbound("hard_bounce", sender="mailer-daemon@mx.test", original_message_id=original.message_id,
                     recipients=("Gone@Acme.test",))
    m = match(bounce, Found(by_id(original), {"gone@acme.test": [latest_to_recipient, original]}))
    assert (m.via, m.send) == ("original_message_id", original)
    # without the original inside, the latest send to the failed recipient
    m = match(bounce, Found({}, {"gone@acme.test": [original, latest_to_recipient]}))
    assert (m.via, m.send) == ("recipient", latest_to_recipient)


def test_bounces_never_match_by_sender() -> None:
    bounce = inbound("soft_bounce", sender="bob@acme.test", recipients=("x@nowhere.test",))
    m = match(bounce, Found(by_sender=(ref(1),)))
    assert m.via == "none" and m.send is None
    assert "x@nowhere.test" in m.reason


def test_own_mail_and_copies_of_our_messages_are_never_replies() -> None:
    mine = inbound(sender=MAILBOX.upper(), in_reply_to="<s1@sender.test>")
    assert match(mine, Found(by_id(ref(1)))).via == "own"
    copy = inbound(sender="bob@acme.test", message_id="<s1@sender.test>", in_reply_to="<s1@sender.test>")
    m = match(copy, Found(by_id(ref(1))))
    assert m.own and m.send == ref(1) and "copy" in m.reason


def test_lookup_collects_ids_and_lowercases_addresses() -> None:
    msg = inbound("hard_bounce", sender="MAILER-DAEMON@MX.test", in_reply_to="<a@x>", references=("<b@x>", "<a@x>"),
                  original_message_id="<c@x>", recipients=("Bob@Acme.TEST",))
    look = lookup_for(msg)
    assert look.message_ids == ("<in@x.test>", "<a@x>", "<b@x>", "<c@x>")
    assert look.recipients == ("bob@acme.test",)
    assert look.sender == "mailer-daemon@mx.test"


def test_best_prefers_same_mailbox_then_latest() -> None:
    assert best([], MAILBOX) is None
    assert best([ref(1, hours=1), ref(2, hours=9)], MAILBOX) == ref(2, hours=9)
    assert best([ref(1, hours=1), ref(2, mailbox="x@sender.test", hours=9)], MAILBOX) == ref(1, hours=1)


def test_unrecognised_mail_from_the_prospect_counts_as_a_reply() -> None:
    other = inbound("other", reason="unrecognised", sender="bob@acme.test")
    kind, why = effective_kind(other, match(other, Found(by_sender=(ref(1),))))
    assert kind == "human_reply" and "bob@acme.test" in why
    stranger = inbound("other", reason="unrecognised", sender="carol@acme.test")
    assert effective_kind(stranger, match(stranger, Found()))[0] == "other"


def test_read_inbound_and_keys_are_stable_across_folders() -> None:
    raw = (b"From: Bob <Bob@Acme.test>\r\nSubject: =?utf-8?q?R=C3=A9:_hi?=\r\nMessage-ID: <m1@acme.test>\r\n\r\nok\r\n")
    a = read_inbound(FetchedMessage(MAILBOX, "INBOX", 1, 5, raw), Classification(kind="human_reply"))
    b = read_inbound(FetchedMessage(MAILBOX, "Junk", 9, 77, raw), Classification(kind="human_reply"))
    assert (a.sender, a.message_id, a.subject) == ("bob@acme.test", "<m1@acme.test>", "Ré: hi")
    assert a.dedupe_key == b.dedupe_key == "msg:<m1@acme.test>"
    assert a.imap_key != b.imap_key
    no_id = raw.replace(b"Message-ID: <m1@acme.test>\r\n", b"")
    c = read_inbound(FetchedMessage(MAILBOX, "INBOX", 1, 6, no_id), Classification(kind="other"))
    d = read_inbound(FetchedMessage(MAILBOX, "INBOX", 2, 1, no_id), Classification(kind="other"))
    assert c.message_id is None and c.dedupe_key == d.dedupe_key and c.dedupe_key.startswith("raw:")
