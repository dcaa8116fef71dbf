"""One function per fact: the effects it has, with their reasons. Pure: values in, values out.

Every path that brings a fact calls :func:`decide`, so an unsubscribe from a CRM has the effects of
one by link, and a bounce at SMTP time those of the same bounce in a DSN.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from outbound.core import events as ev
from outbound.rulebook.effects import (
    AddReferral,
    Effects,
    EnrollmentChange,
    Reach,
    Record,
    SendChange,
    SenderChange,
    SenderScope,
    StopAccount,
    Suppress,
)
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
from outbound.rulebook.retry import GiveUp, retry_decision

# the reason of an enrollment held while a send's outcome is not known
UNCONFIRMED = "delivery unconfirmed"
# how the domain check's pause reasons begin: a passing check lifts only those
DOMAIN_CHECK_PAUSE = "domain health check failed: "
UNSUBSCRIBE_REASONS = {
    "link": "unsubscribed via one-click link",
    "reply": "asked to unsubscribe by reply",
    "hand": "unsubscribed by hand",
    "crm": "unsubscribed (recorded from a CRM)",
}
# how a rule's pause until an event begins its reason: the event, when it arrives, lifts only those
AWAITING = "waiting for "
# the start of the reason of a mailbox paused because its password variable is not set
SECRET_MISSING = "password missing"
# outcomes at SMTP time that are our sender's problem, never the recipient's
SENDER_KINDS = frozenset({"auth_failure", "config_error", "sender_rejected"})


def decide(fact: Fact) -> Effects:
    """The effects of one fact."""
    match fact:
        case SmtpResult():
            return _smtp(fact)
        case Dsn():
            return _dsn(fact)
        case AutoReply():
            return _auto_reply(fact)
        case HumanReply():
            return _human_reply(fact)
        case OptOut():
            return _opt_out(fact)
        case Complaint():
            return _complaint(fact)
        case CrmOutcome():
            return Effects(fact.type, records=(Record(fact.type, {}, at=fact.at),))
        case Observed():
            return Effects(fact.type, records=(Record(fact.type, {}),))
        case RuleAction():
            return _rule(fact)
        case OperatorResume():
            return _resume(fact)
        case OperatorPause():
            return _pause(fact)
        case OperatorProspect():
            return _operator_prospect(fact)
        case OperatorAccount():
            return _operator_account(fact)
        case OperatorSuppress():
            return _operator_suppress(fact)
        case DomainCheck():
            return _domain_check(fact)
        case MailboxHealthVerdict():
            return _mailbox_health(fact)
        case SecretCheck():
            return _secret(fact)
        case TokenRefused():
            return _token_refused(fact)
    raise TypeError(f"not a fact: {fact!r}")


# ------------------------------------------------------------------ sending

class _Draw:
    """A fixed uniform draw where the retry policy asks a random generator for one."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


def _smtp(f: SmtpResult) -> Effects:
    o, s = f.outcome, f.send
    error = o.describe()[:1000]
    data: dict[str, Any] = {"sequence": s.sequence, "step": s.step_id, "outcome": o.kind, "reason": o.reason,
                            "code": o.code, "status": o.status, "text": o.text[:500], "fault": o.fault,
                            "source": "smtp"}
    # lease recovery may have marked the send unknown meanwhile; its owner knows the outcome
    released = (EnrollmentChange("release_hold", "enrollment", "outcome known"),) if s.state == "unknown" else ()
    if o.kind == "ambiguous":
        hold = EnrollmentChange("hold", "enrollment", f"{UNCONFIRMED} ({o.reason}): message {s.message_id} may have "
                                "been accepted; it is never resent unless the Sent folder shows it was not")
        # one per SMTP attempt: a send reconciled as "not sent" may go unknown again on its next try
        return Effects("unknown", send=SendChange("unknown", error), enrollments=(hold,),
                       records=(Record(ev.SEND_UNKNOWN, data, key=f"unknown:{s.attempts}:{s.send_id}"),))
    if o.kind in ("hard_bounce", "soft_bounce"):
        what = f"{o.status or o.code} {o.reason}"
        bounce = _bounce(s, o.kind == "hard_bounce", what, "at send", f.policy, f.soft_bounces, smtp=True)
        return _with(bounce, released, Record(ev.BOUNCED, {**data, "hard": o.kind == "hard_bounce"},
                                              key=f"bounce:{s.send_id}"))
    if o.kind in SENDER_KINDS:
        scope, target = _sender_scope(s.mailbox, o.fault)
        reason = f"{o.kind.replace('_', ' ')}: {o.reason}" + (f" ({o.code}{' ' + o.status if o.status else ''})"
                                                              if o.code else "")
        return Effects(f"{scope} paused", send=SendChange("retry", error, not_before=f.at, release_slot=True),
                       enrollments=(*released, EnrollmentChange("due", "enrollment", f"moved off paused {scope} "
                                                                f"{target}", at=f.at)),
                       senders=(SenderChange("pause", scope, target, reason),))
    decision = retry_decision(s.attempts, o, _Draw(f.jitter), f.policy.retry)  # type: ignore[arg-type]
    if isinstance(decision, GiveUp):
        return Effects("failed", send=SendChange("failed", error, release_slot=True),
                       enrollments=(*released, EnrollmentChange("block", "enrollment", decision.reason)),
                       records=(Record(ev.SEND_FAILED, data, key=f"failed:{s.send_id}"),))
    at = f.at + timedelta(seconds=decision.delay)
    return Effects("retry", send=SendChange("retry", error, not_before=at, release_slot=True),
                   enrollments=(*released, EnrollmentChange("due", "enrollment",
                                                            f"retry at {at:%Y-%m-%d %H:%M}Z: {decision.reason}", at=at)))


def _sender_scope(mailbox: str, fault: str) -> tuple[SenderScope, str]:
    if fault == "domain":
        return "domain", mailbox.rsplit("@", 1)[-1]
    return "mailbox", mailbox


def _with(effects: Effects, first: tuple[EnrollmentChange, ...], record: Record) -> Effects:
    return Effects(effects.outcome, effects.send, (*first, *effects.enrollments), effects.suppress, effects.senders,
                   effects.account, (record, *effects.records))


def _bounce(s: SendFacts, hard: bool, what: str, source: str, policy: Policy, soft_bounces: int, *,
            smtp: bool) -> Effects:
    """A bounce the recipient's side caused, by either path: the same reasons, the same reach."""
    mark = SendChange("bounced", f"bounced {source}: {what}"[:1000], only_if_sent=not smtp)
    if hard:
        return Effects("hard_bounce", send=mark, suppress=Suppress((s.to_address,), f"hard bounce: {what} ({source})"),
                       enrollments=(EnrollmentChange("stop", "prospect",
                                                     f"hard bounce {what} for {s.to_address} ({source})"),))
    if s.state == "bounced":  # this send's bounce was counted already (at SMTP time, or by an earlier DSN)
        return Effects("soft_bounce")
    count = soft_bounces + 1
    suppress = (Suppress((s.to_address,), f"repeated soft bounce: {count} bounced sends, last {what}")
                if count >= policy.soft_bounce_limit else None)
    if "bounce" in policy.stop_on:
        change = EnrollmentChange("stop", "enrollment", f"soft bounce {what} {source} (stop_on: bounce)")
    elif smtp:
        # a soft bounce that does not stop the sequence moves it on: the step is never resent
        change = EnrollmentChange("advance", "enrollment", f"step {s.step_id} soft-bounced ({what})")
    else:
        return Effects("soft_bounce", send=mark, suppress=suppress)
    return Effects("soft_bounce", send=mark, suppress=suppress, enrollments=(change,))


# ------------------------------------------------------------------ inbound mail

def _dsn(f: Dsn) -> Effects:
    what = f"{f.status or 'no status'} {f.reason or ''}".strip()
    record = Record(ev.BOUNCED, {"hard": f.hard and f.fault == "recipient", "status": f.status, "reason": f.reason,
                                 "fault": f.fault, "source": "dsn"})
    if f.fault in ("mailbox", "domain"):
        scope, target = _sender_scope(f.send.mailbox, f.fault)
        return Effects(f"{scope} paused", records=(record,),
                       senders=(SenderChange("pause", scope, target, f"receivers refuse our {scope}: {what} (DSN)"),))
    return _with(_bounce(f.send, f.hard, what, "(DSN)", f.policy, f.soft_bounces, smtp=False), (), record)


def _auto_reply(f: AutoReply) -> Effects:
    record = Record(ev.AUTO_REPLIED, {})
    if f.intent == "left_company":  # the responder says the person is gone: nobody will read a next step
        return Effects("stopped", records=(record,), referral=_referral(f.referral, f.policy, f.company_domain,
                                                                         f.send.to_address, f.at),
                       enrollments=(EnrollmentChange("stop", "prospect", f"{f.send.to_address} has left the company "
                                                     f"(auto-reply on {f.at:%Y-%m-%d})"),))
    if "auto_reply" in f.policy.stop_on:
        return Effects("stopped", records=(record,), enrollments=(
            EnrollmentChange("stop", "enrollment", f"auto-reply ({f.reason}) (stop_on: auto_reply)"),))
    # an earlier auto-reply's pause is only ever extended; a stop or a manual pause stays
    return Effects("paused", records=(record,), enrollments=(EnrollmentChange(
        "pause", "enrollment", f"auto-reply: paused until {f.until:%Y-%m-%d %H:%M}Z ({f.why})", at=f.until,
        extend_only=True),))


POSITIVE_INTENTS = frozenset({"interested", "meeting_request", "information_request"})
NEGATIVE_INTENTS = frozenset({"not_interested", "do_not_contact"})


def reply_tone(intent: str | None) -> bool | None:
    """The replied event's ``positive``: what the report's positive-reply rate and the rules read."""
    return True if intent in POSITIVE_INTENTS else False if intent in NEGATIVE_INTENTS else None


def _human_reply(f: HumanReply) -> Effects:
    if f.intent == "do_not_contact" and f.who:
        # "do not contact me" in a reply is an unsubscribe by reply, whatever else the reply says
        return _opt_out(OptOut(f.who, "reply", f.at, f.prospect_id, f.send,
                               mailbox=f.send.mailbox if f.send else None))
    data: dict[str, object] = {"positive": reply_tone(f.intent)}
    if f.intent is not None:
        data |= {"intent": f.intent, "follow_up_on": f.follow_up_on.isoformat() if f.follow_up_on else None,
                 "referral": {"email": f.referral[0], "name": f.referral[1]} if f.referral else None}
    record = Record(ev.REPLIED, data, at=f.at)
    changes: list[EnrollmentChange] = []
    when = f"on {f.at:%Y-%m-%d}"
    if f.send is not None and f.intent == "later":
        until = datetime.combine(f.follow_up_on, time(0, 0), tzinfo=UTC) if f.follow_up_on else None
        if until is not None and until > f.at:
            reason = f"asked to be contacted again on {until:%Y-%m-%d} (replied {when})"
        else:
            until, reason = None, f"asked to be contacted later, no date stated (replied {when}): resume by hand"
        return Effects("paused", records=(record,), enrollments=(EnrollmentChange("pause", "enrollment", reason,
                                                                                  at=until),))
    referral = None
    if f.intent in ("wrong_person", "left_company"):
        what = "is the wrong person" if f.intent == "wrong_person" else "has left the company"
        changes.append(EnrollmentChange("stop", "prospect", f"{f.who or 'the prospect'} {what} (replied {when})"))
        referral = _referral(f.referral, f.policy, f.company_domain, f.who, f.at)
    elif f.send is None:
        changes.append(EnrollmentChange("stop", "prospect", f"replied (recorded {_by(f.via)}) {when}"))
    elif "reply" in f.policy.stop_on:
        changes.append(EnrollmentChange("stop", "enrollment", f"replied to step {f.send.step_index + 1} "
                                        f"({f.send.step_id}) {when}"))
    account = None
    if f.policy.stop_account_on_reply and f.company_domain:
        why = f"{f.who} at {f.company_domain} replied (stop_account_on_reply)"
        account = StopAccount(f.company_domain, why)
        changes.append(EnrollmentChange("stop", "account", why))
    return Effects("replied", enrollments=tuple(changes), account=account, records=(record,), referral=referral)


def _referral(named: tuple[str, str | None] | None, policy: Policy, domain: str | None, who: str,
              at: datetime) -> AddReferral | None:
    if not named or not policy.import_referrals or not policy.referral_sequence or named[0].lower() == who.lower():
        return None
    return AddReferral(named[0], named[1], domain, policy.referral_sequence, f"referred by {who} on {at:%Y-%m-%d}")


def _by(via: str) -> str:
    return "from a CRM" if via == "crm" else "by hand" if via == "hand" else f"by {via}"


def _opt_out(f: OptOut) -> Effects:
    reason = UNSUBSCRIBE_REASONS[f.how]
    stop = (EnrollmentChange("stop", "prospect", reason),) if f.prospect_id is not None else ()
    return Effects("unsubscribed", suppress=Suppress(_addresses(f.address, f.also), reason), enrollments=stop,
                   records=(Record(ev.UNSUBSCRIBED if f.matched else ev.UNMATCHED_INBOUND,
                                   {"address": f.address, "how": f.how} | ({"by": f.by} if f.by else {}),
                                   mailbox=f.mailbox, at=f.at),))


def _complaint(f: Complaint) -> Effects:
    reason = (f"spam complaint ({f.feedback or 'feedback'} report)" if f.how == "arf"
              else f"spam complaint (recorded {_by(f.how)})")
    stop = (EnrollmentChange("stop", "prospect", f"{reason}: {f.address}"),) if f.prospect_id is not None else ()
    # the record names the mailbox the complaint counts against, so mailbox health sees it whatever the path
    return Effects("complained", suppress=Suppress(_addresses(f.address, f.also), reason), enrollments=stop,
                   records=(Record(ev.COMPLAINED if f.matched else ev.UNMATCHED_INBOUND,
                                   {"address": f.address, "how": f.how}, mailbox=f.mailbox, at=f.at),))


def _addresses(first: str, also: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({a.strip().lower() for a in (first, *also) if a and "@" in a}))


# ------------------------------------------------------------------ rules and operators

def _rule(f: RuleAction) -> Effects:
    reach: Reach = "enrollment" if f.enrollment_id is not None else "prospect"
    if f.kind == "stop_account":
        if not f.account:
            return Effects("nothing", records=())
        return Effects("account stopped", account=StopAccount(f.account, f.reason),
                       enrollments=(EnrollmentChange("stop", "account", f.reason),))
    if f.kind == "pause":  # with an account: every contact of it
        reason = f.reason if f.until_event is None else f"{AWAITING}{f.until_event}: {f.reason}"
        return Effects("paused", enrollments=(EnrollmentChange("pause", "account" if f.account else reach, reason,
                                                               at=f.pause_until),))
    if f.kind == "resume":
        prefix = None if f.until_event is None else f"{AWAITING}{f.until_event}:"
        return Effects("resumed", enrollments=(EnrollmentChange("resume", "account" if f.account else "prospect",
                                                                f.reason, only_reason_prefix=prefix),))
    if f.kind == "enroll":  # the enrollment itself is made after the commit (it opens its own transactions)
        if f.keep_current:
            return Effects("enrolling")
        return Effects("enrolling", enrollments=(EnrollmentChange("stop", "prospect", f"moved to {f.move_to} ({f.reason})",
                                                                  keep_sequence=f.move_to),))
    if f.kind == "move":
        return Effects("moved", enrollments=(EnrollmentChange("stop", reach, f"moved to {f.move_to} ({f.reason})",
                                                              keep_sequence=f.move_to),))
    return Effects("stopped", enrollments=(EnrollmentChange("stop", reach, f.reason),))


def _secret(f: SecretCheck) -> Effects:
    """A mailbox whose password is not in the environment is paused before anything is claimed for
    it (every send would fail at AUTH); once the variable is set it resumes, and only that pause lifts."""
    if f.missing:
        reason = f"{SECRET_MISSING} ({', '.join(f.missing)} not set)"
        return Effects("paused", senders=(SenderChange("pause", "mailbox", f.mailbox, reason),))
    if f.paused_for_it:
        return Effects("resumed", senders=(SenderChange("resume", "mailbox", f.mailbox, "password set again",
                                                        only_reason_prefix=SECRET_MISSING),))
    return Effects("nothing")


def _sender_target(target: str) -> tuple[SenderScope, str]:
    target = target.strip().lower()
    return ("domain", target[1:]) if target.startswith("@") else ("mailbox", target)


def _resume(f: OperatorResume) -> Effects:
    scope, target = _sender_target(f.target)
    return Effects("resumed", senders=(SenderChange("resume", scope, target, "resumed by hand", by=f.by),))


def _pause(f: OperatorPause) -> Effects:
    scope, target = _sender_target(f.target)
    reason = f"paused by hand: {f.reason}" if f.reason.strip() else "paused by hand"
    return Effects("paused", senders=(SenderChange("pause", scope, target, reason, by=f.by),))


def _operator_prospect(f: OperatorProspect) -> Effects:
    """Stop is for good; a pause holds until resumed by hand; a resume lifts any pause but an unconfirmed
    delivery's hold (the store's precondition), so a person resumed while a send is in doubt is not mailed twice."""
    word = {"stop": "stopped", "pause": "paused", "resume": "resumed"}[f.action]
    reason = f"{word} by hand: {f.reason}" if f.reason.strip() else f"{word} by hand"
    data = {"action": f.action, "reason": reason} | ({"by": f.by} if f.by else {})
    return Effects(word, enrollments=(EnrollmentChange(f.action, "prospect", reason),),
                   records=(Record(ev.OPERATOR_ACTION, data),))


def _operator_account(f: OperatorAccount) -> Effects:
    domain = f.domain.strip().lower().lstrip("@")
    if f.action == "stop":
        reason = f"account stopped by hand: {f.reason}"
        return Effects("account stopped", account=StopAccount(domain, reason),
                       enrollments=(EnrollmentChange("stop", "account", reason),))
    # stopped enrollments stay stopped (a stop is for good): new enrollments of the account may start again
    return Effects("account resumed", account=StopAccount(domain, f"resumed by hand: {f.reason}", lift=True))


def _operator_suppress(f: OperatorSuppress) -> Effects:
    # stopped now, not at their next due step, so ``status`` shows them stopped at once
    values = tuple(sorted({v.strip().lower() for v in f.values if v and v.strip()}))
    if not values:
        return Effects("nothing", records=())
    reason = f"suppressed by hand: {f.reason}"
    return Effects("suppressed", suppress=Suppress(values, f.reason),
                   enrollments=(EnrollmentChange("stop", "suppressed", reason),), records=())


# ------------------------------------------------------------------ health checks

def _domain_check(f: DomainCheck) -> Effects:
    # the findings are kept (the dashboard shows each domain's last check with its fixes)
    records = () if f.report is None else (Record(ev.DOMAIN_CHECKED, {"domain": f.domain, **f.report}),)
    if f.failure is not None:
        reason = f.failure if f.failure.startswith(DOMAIN_CHECK_PAUSE) else DOMAIN_CHECK_PAUSE + f.failure
        return Effects("domain paused", records=records, senders=tuple(
            SenderChange("pause", "mailbox", a, reason, by="domain check") for a in f.mailboxes))
    return Effects("domain passes", records=records, senders=tuple(
        SenderChange("resume", "mailbox", a, "domain health check passes again", only_reason_prefix=DOMAIN_CHECK_PAUSE,
                     by="domain check") for a in f.mailboxes))


def _mailbox_health(f: MailboxHealthVerdict) -> Effects:
    word = "mailbox paused" if f.action == "pause" else "mailbox resumed"
    return Effects(word, records=(), senders=(SenderChange(f.action, "mailbox", f.address, f.reason, by="health"),))
def _token_refused(f: TokenRefused) -> Effects:
    fix = ("check the service account's domain-wide delegation" if f.source == "service_account"
           else f"reconnect with `outbound mailboxes connect {f.mailbox}`")
    reason = f"OAuth2 token refused ({f.error}): {fix}, then `outbound mailboxes resume {f.mailbox}`"
    return Effects("mailbox paused", senders=(SenderChange("pause", "mailbox", f.mailbox, reason),),
                   records=(Record(ev.TOKEN_REFUSED, {"error": f.error, "source": f.source},
                                   key=f"token_refused:{f.mailbox}:{f.generation}", mailbox=f.mailbox, at=f.at),))
