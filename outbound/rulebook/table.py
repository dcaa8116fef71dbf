"""The README's "What each event does" table, made from the rulebook itself (a test keeps them equal)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from outbound.core import events as ev
from outbound.core.outcome import SendOutcome
from outbound.rulebook.decide import decide
from outbound.rulebook.effects import Effects
from outbound.rulebook.facts import (
    AutoReply,
    Complaint,
    CrmOutcome,
    DomainCheck,
    Dsn,
    Fact,
    HumanReply,
    MailboxHealthVerdict,
    Observed,
    OperatorAccount,
    OperatorPause,
    OperatorProspect,
    OperatorResume,
    OperatorSuppress,
    OptOut,
    Policy,
    RuleAction,
    SecretCheck,
    SendFacts,
    SmtpResult,
    TokenRefused,
)

_AT = datetime(2026, 12, 1, 9, tzinfo=UTC)
_SEND = SendFacts(1, 1, 1, "alex@acme-mail.com", "bob@example.com", "seq", "intro", 0, company_domain="example.com")
_NO_STOP = Policy(stop_on=frozenset())
_ACCOUNT = Policy(stop_account_on_reply=True)


def _smtp(kind: str, reason: str, code: int, status: str, fault: str, policy: Policy = Policy(),
          soft: int = 0) -> SmtpResult:
    outcome = SendOutcome(kind, reason, code, status, "", "rcpt", fault=fault)  # type: ignore[arg-type]
    return SmtpResult(_SEND, outcome, _AT, policy, soft_bounces=soft)


def examples() -> list[tuple[str, str, Fact]]:
    """(event, path and condition, fact): one row of the table each."""
    until = _AT + timedelta(days=7)
    return [
        ("hard bounce", "SMTP reply (550 5.1.1 at RCPT)", _smtp("hard_bounce", "user_unknown", 550, "5.1.1", "recipient")),
        ("hard bounce", "DSN", Dsn(_SEND, True, "5.1.1", "user_unknown", _AT)),
        ("soft bounce", "SMTP reply, stop_on has bounce", _smtp("soft_bounce", "mailbox_full", 552, "5.2.2", "recipient")),
        ("soft bounce", "SMTP reply, stop_on without bounce", _smtp("soft_bounce", "mailbox_full", 552, "5.2.2",
                                                                   "recipient", _NO_STOP)),
        ("soft bounce", "SMTP or DSN, the limit reached", _smtp("soft_bounce", "mailbox_full", 552, "5.2.2",
                                                              "recipient", soft=2)),
        ("soft bounce", "DSN, stop_on without bounce", Dsn(_SEND, False, "4.4.7", "expired", _AT, policy=_NO_STOP)),
        ("soft bounce", "DSN of a send already bounced", Dsn(SendFacts(1, 1, 1, "alex@acme-mail.com", "bob@example.com",
                                                                       "seq", "intro", 0, state="bounced"),
                                                             False, "5.2.2", "mailbox_full", _AT)),
        ("sender rejected", "SMTP reply (554 5.7.1 client host rejected, relay denied)",
         _smtp("sender_rejected", "blocked", 554, "5.7.1", "mailbox")),
        ("sender rejected", "SMTP reply (550 5.7.26 DMARC, 5.7.515, 5.7.25 PTR)",
         _smtp("sender_rejected", "auth_failure", 550, "5.7.26", "domain")),
        ("sender rejected", "DSN (5.7.26 and the like)", Dsn(_SEND, False, "5.7.26", "auth_failure", _AT, fault="domain")),
        ("auth failure", "SMTP AUTH refused (535)", _smtp("auth_failure", "auth_rejected", 535, "5.7.8", "mailbox")),
        ("temporary failure", "SMTP 4xx, attempts left", _smtp("temporary", "greylisted", 451, "4.7.1", "transient")),
        ("temporary failure", "SMTP 4xx, last attempt", SmtpResult(
            SendFacts(1, 1, 1, "alex@acme-mail.com", "bob@example.com", "seq", "intro", 0, attempts=5),
            SendOutcome("temporary", "temporary_failure", 451, "4.3.0", "", "rcpt"), _AT)),
        ("unknown outcome", "connection lost after DATA", _smtp("ambiguous", "connection_lost", 0, "", "transient")),
        ("auto-reply", "inbox", AutoReply(_SEND, _AT, until, "back on 2026-12-08")),
        ("auto-reply", "inbox, stop_on has auto_reply",
         AutoReply(_SEND, _AT, until, "", policy=Policy(stop_on=frozenset({"auto_reply"})))),
        ("auto-reply", "inbox, intent left_company (\"no longer with us\"), import_referrals",
         AutoReply(_SEND, _AT, until, "", intent="left_company", referral=("jane@example.com", None),
                   policy=Policy(import_referrals=True, referral_sequence="referrals"), company_domain="example.com")),
        ("human reply", "inbox", HumanReply(_AT, 1, _SEND, "example.com", "bob@example.com")),
        ("human reply", "inbox, stop_account_on_reply", HumanReply(_AT, 1, _SEND, "example.com", "bob@example.com",
                                                                   _ACCOUNT)),
        ("human reply", "inbox, intent interested, meeting_request or information_request (positive: true; "
         "not_interested: false)", HumanReply(_AT, 1, _SEND, "example.com", "bob@example.com", intent="meeting_request")),
        ("human reply", "inbox, intent do_not_contact (as an unsubscribe by reply)",
         HumanReply(_AT, 1, _SEND, "example.com", "bob@example.com", intent="do_not_contact")),
        ("human reply", "inbox, intent later (until follow_up_on; none stated: until resumed by hand)",
         HumanReply(_AT, 1, _SEND, "example.com", "bob@example.com", intent="later", follow_up_on=date(2027, 3, 1))),
        ("human reply", "inbox, intent wrong_person or left_company naming someone, import_referrals",
         HumanReply(_AT, 1, _SEND, "example.com", "bob@example.com", intent="left_company",
                    referral=("jane@example.com", "Jane Doe"),
                    policy=Policy(import_referrals=True, referral_sequence="referrals"))),
        ("replied", "CRM or by hand (events add/import)", HumanReply(_AT, 1, via="crm")),
        ("unsubscribe", "one-click link or page", OptOut("bob@example.com", "link", _AT, 1)),
        ("unsubscribe", "reply asking to be removed", OptOut("bob@example.com", "reply", _AT, 1, _SEND)),
        ("unsubscribe", "CRM or by hand (events add/import)", OptOut("bob@example.com", "crm", _AT, 1)),
        ("unsubscribe", "reply tied to no send", OptOut("bob@example.com", "reply", _AT, matched=False)),
        ("unsubscribe", "`outbound prospects unsubscribe EMAIL`, the dashboard's Unsubscribe",
         OptOut("bob@example.com", "hand", _AT, 1, by="dashboard:admin")),
        ("complaint", "ARF feedback report", Complaint("bob@example.com", "arf", _AT, 1, _SEND, mailbox=_SEND.mailbox)),
        ("complaint", "CRM or by hand (events add/import)", Complaint("bob@example.com", "crm", _AT, 1,
                                                                      mailbox=_SEND.mailbox)),
        ("qualified (also meeting_booked, won, lost, opened, clicked, scoring.yaml's event_types)", "CRM or by hand", CrmOutcome("qualified", 1, _AT)),
        ("delivery report", "DSN of a delay or a success", Observed("delivery_report")),
        ("rule: stop", "scoring rule", RuleAction("stop", "rule", 1, _AT, enrollment_id=1)),
        ("rule: pause", "scoring rule", RuleAction("pause", "rule", 1, _AT, pause_until=until)),
        ("rule: stop_account", "scoring rule", RuleAction("stop_account", "rule", 1, _AT, account="example.com")),
        ("rule: move_to", "scoring rule", RuleAction("move", "rule", 1, _AT, move_to="nurture")),
        ("rule: pause until_event", "scoring rule (lifted when the event arrives for the prospect)",
         RuleAction("pause", "rule", 1, _AT, enrollment_id=1, until_event="job_change")),
        ("rule: pause until_event, account: true", "scoring rule (lifted when the event arrives for any contact)",
         RuleAction("pause", "rule", 1, _AT, enrollment_id=1, until_event="funding_round", account="example.com")),
        ("rule: resume", "scoring rule, or the event a pause awaits", RuleAction("resume", "rule", 1, _AT)),
        ("rule: enroll", "scoring rule, keep_current: true (enrolled after the commit)",
         RuleAction("enroll", "rule", 1, _AT, move_to="premium")),
        ("rule: enroll", "scoring rule, keep_current: false",
         RuleAction("enroll", "rule", 1, _AT, move_to="reengage", keep_current=False)),
        ("resume", "`outbound mailboxes resume` ADDRESS or @DOMAIN, the dashboard's Resume",
         OperatorResume("alex@acme-mail.com", _AT)),
        ("pause", "`outbound mailboxes pause` ADDRESS or @DOMAIN, the dashboard's Pause",
         OperatorPause("alex@acme-mail.com", "list cleanup", _AT)),
        ("person stop", "`outbound prospects stop EMAIL`, the dashboard's Stop",
         OperatorProspect(1, "stop", "asked by phone", _AT)),
        ("person pause", "`outbound prospects pause EMAIL`, the dashboard's Pause (until resumed)",
         OperatorProspect(1, "pause", "", _AT)),
        ("person resume", "`outbound prospects resume EMAIL`, the dashboard's Resume",
         OperatorProspect(1, "resume", "", _AT)),
        ("account stop", "`outbound accounts stop DOMAIN`", OperatorAccount("example.com", "stop", "manual", _AT)),
        ("account resume", "`outbound accounts resume DOMAIN` (stopped enrollments stay stopped)",
         OperatorAccount("example.com", "resume", "manual", _AT)),
        ("suppress", "`outbound suppress` ADDRESS or @DOMAIN, `suppress import`",
         OperatorSuppress(("bob@example.com", "@example.org"), "manual", _AT)),
        ("domain check fails", "the daemon's DNS health check", DomainCheck("acme-mail.com", ("alex@acme-mail.com",),
                                                                            "spf: no record", _AT)),
        ("domain check passes", "the daemon's DNS health check (lifts only its own pauses)",
         DomainCheck("acme-mail.com", ("alex@acme-mail.com",), None, _AT)),
        ("mailbox health", "bounce rate, complaint or auth failures over the limits",
         MailboxHealthVerdict("alex@acme-mail.com", "pause", "bounce rate 9% is above 5%", _AT)),
        ("mailbox health", "a timed health pause ran out (`resume_after`)",
         MailboxHealthVerdict("alex@acme-mail.com", "resume", "resumed automatically", _AT)),
        ("password missing", "send tick, before claiming: the smtp password_env is not set",
         SecretCheck("alex@acme-mail.com", ("ACME_ALEX_PASSWORD",), False, _AT)),
        ("password set again", "send tick, the mailbox paused for its missing password",
         SecretCheck("alex@acme-mail.com", (), True, _AT)),
        ("token refused", "OAuth2 refresh answered invalid_grant", TokenRefused("alex@acme-mail.com", "invalid_grant",
                                                                                _AT)),
    ]


_REACH = {"enrollment": "this one", "prospect": "every one of the prospect", "account": "every one of the account",
          "suppressed": "every one of the suppressed addresses and domains"}


def _cells(e: Effects) -> list[str]:
    send = "—" if e.send is None else e.send.state + (" (cap slot back)" if e.send.release_slot else "")
    enrollments = "; ".join(f"{c.action} {_REACH[c.reach]}"
                            + (f" except {c.keep_sequence}" if c.keep_sequence else "") for c in e.enrollments) or "—"
    if e.account is not None:
        mark = "account's stop lifted" if e.account.lift else "account marked stopped"
        enrollments = mark if enrollments == "—" else f"{enrollments}; {mark}"
    if e.referral is not None:
        enrollments += "; the person named becomes a prospect (source referral), enrolled in referral_sequence"
    suppressed = "—" if e.suppress is None else ("address (repeated soft bounces)" if "repeated" in e.suppress.reason
                                                 else "addresses and domains" if any(v.startswith("@") for v in
                                                                                    e.suppress.values) else "address")
    senders = "; ".join(f"{s.action} {s.scope}" for s in e.senders) or "—"
    noted = [ev.MAILBOX_PAUSED if s.action == "pause" else ev.MAILBOX_RESUMED for s in e.senders]  # one per mailbox
    records = ", ".join([*(r.type for r in e.records), *noted]) or "—"
    return [send, enrollments, suppressed, senders, records]


def rulebook_table() -> str:
    """The markdown table, one row per example fact, as ``decide`` answers it."""
    lines = ["| event | path | send | enrollments | suppressed | sender | recorded |",
             "|---|---|---|---|---|---|---|"]
    for event, path, fact in examples():
        lines.append("| " + " | ".join([event, path, *_cells(decide(fact))]) + " |")
    return "\n".join(lines)
