"""Event types, each defined once: the lists the rest of outbound uses are derived from here.

Every row of the events table has a ``type``: one of the names below. Each name is a plain ``str``
constant (``SENT = "sent"``), so ``ev.SENT`` can be used as is in SQL and in comparisons, and is
made by one :func:`define` call that also records:

- ``group``: who records it (sending, mailbox, inbox, tracking, outcome, operator);
- ``fields``: the keys its ``data`` may carry;
- ``dedupe``: how its ``dedupe_key`` is formed (every event is recorded once: the key is a natural
  key of its source, such as a send id, a Message-ID or an HTTP token and action); a pattern for
  the reader, the writer forms the key;
- ``crm``: ``outbound events add`` / ``events import`` accept it (:data:`CRM_TYPES`);
- ``weighable``: ``scoring.yaml`` may give it a weight (:data:`WEIGHABLE`: the weights' keys and
  their "did you mean" suggestions, and the events the scorer reads);
- ``report``: the label of its column in ``outbound report`` (:data:`REPORT_COLUMNS`), shown as
  "<label> %" with the count, ``<type>`` and ``<label>_rate`` in ``--json``: the share of delivered
  sends it answers (of attempted sends for ``bounced``), each send counted once whatever the path.

Adding an event type is one more ``define(...)`` here (before the derived lists at the end); nothing
else needs to list it. This module imports nothing of outbound (``outbound.core`` is the bottom layer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

GROUPS = ("sending", "mailbox", "inbox", "tracking", "outcome", "operator")


@dataclass(frozen=True)
class EventType:
    name: str
    group: str
    fields: tuple[str, ...]
    dedupe: str
    crm: bool
    weighable: bool
    report: str | None
    doc: str


DEFINITIONS: dict[str, EventType] = {}


def define(name: str, group: str, *, fields: tuple[str, ...] = (), dedupe: str, crm: bool = False,
           weighable: bool = False, report: str | None = None, doc: str) -> str:
    """Registers one event type and returns its name (the module constant)."""
    if name in DEFINITIONS:
        raise ValueError(f"event type {name!r} is defined twice")
    if group not in GROUPS:
        raise ValueError(f"event type {name!r}: unknown group {group!r}; expected one of: {', '.join(GROUPS)}")
    DEFINITIONS[name] = EventType(name, group, fields, dedupe, crm, weighable, report, doc)
    return name


# Keys and data shared by several types.
_ATTEMPT = ("sequence", "step", "outcome", "reason", "code", "status", "text")  # an SMTP attempt's result
_INBOX = ("kind", "why", "via", "match", "from", "subject", "message_id", "imap", "folder", "actions",
          "sequence", "step", "step_index")                                    # a message the poller matched
_DSN = ("hard", "status", "reason", "recipients", "source")
_CRM = ("by", "note")                                                          # by: manual | import
_INBOX_KEY = "msg:{Message-ID} (raw:{sha256 of the message} without one)"
_CRM_KEY = "{by}:{email}:{type}:{at}"

# ---------------------------------------------------------------- sending engine
SENT = define("sent", "sending", fields=("sequence", "step", "variant", "message_id"), dedupe="sent:{send_id}",
              weighable=True, doc="accepted by the recipient's server")
DELIVERED = define("delivered", "sending", dedupe="the integration's own key",
                   weighable=True, doc="delivered, as a provider integration reports it (the engine records none)")
BOUNCED = define("bounced", "sending", fields=(*_ATTEMPT, *_INBOX, *_DSN, "soft_bounces"),
                 dedupe=f"at send: bounce:{{send_id}}; a DSN: {_INBOX_KEY}", weighable=True, report="bounce",
                 doc="refused at SMTP time (5xx) or reported by a DSN")
SEND_FAILED = define("send_failed", "sending", fields=_ATTEMPT, dedupe="failed:{send_id}",
                     doc="gave up after retries")
SEND_UNKNOWN = define("send_unknown", "sending", fields=_ATTEMPT, dedupe="unknown:{attempts}:{send_id}",
                      doc="may have been delivered; reconciled against the Sent folder, never resent blindly")
STEP_SKIPPED = define("step_skipped", "sending", fields=("step", "reason"), dedupe="skip:{enrollment_id}:{step}",
                      doc="a step's condition was false")

# ---------------------------------------------------------------- mailboxes
MAILBOX_PAUSED = define("mailbox_paused", "mailbox", fields=("reason", "by"), dedupe="none: one per pause",
                        doc="a mailbox stopped sending (health, domain checks, authentication)")
TOKEN_REFUSED = define("token_refused", "mailbox", fields=("error", "source"),
                       dedupe="token_refused:<mailbox>:<token generation>",
                       doc="the OAuth2 server refused a mailbox's refresh token for good (invalid_grant)")
DOMAIN_CHECKED = define("domain_checked", "mailbox", fields=("domain", "verdict", "findings"),
                        dedupe="none: one per check of a domain",
                        doc="the daemon's DNS health check of a sending domain: verdict and findings with their fixes")
MAILBOX_RESUMED = define("mailbox_resumed", "mailbox", fields=("reason", "by"), dedupe="none: one per resume",
                         doc="a paused mailbox sends again")

# ---------------------------------------------------------------- inbox
REPLIED = define("replied", "inbox", fields=(*_INBOX, "text", "positive", *_CRM), dedupe=f"{_INBOX_KEY}; CRM: {_CRM_KEY}",
                 crm=True, weighable=True, report="reply",
                 doc="a human reply (positive: true, false or null when unknown)")
AUTO_REPLIED = define("auto_replied", "inbox", fields=(*_INBOX, "return_date"), dedupe=_INBOX_KEY, weighable=True,
                      doc="an out-of-office or other auto-reply")
UNSUBSCRIBED = define("unsubscribed", "inbox",
                      fields=(*_INBOX, "how", "address", "via", "enrollments_stopped", *_CRM),
                      dedupe=f"link: unsubscribe-link:{{email}}; reply: {_INBOX_KEY}; CRM: {_CRM_KEY}",
                      crm=True, weighable=True, report="unsubscribe",
                      doc="asked to stop: by link (RFC 8058 one-click or the page), by reply, or from a CRM")
COMPLAINED = define("complained", "inbox", fields=(*_INBOX, *_CRM), dedupe=f"ARF: {_INBOX_KEY}; CRM: {_CRM_KEY}",
                    crm=True, weighable=True, report="complaint",
                    doc="a spam complaint: an ARF feedback report, or recorded from a CRM")
DELIVERY_REPORT = define("delivery_report", "inbox", fields=(*_INBOX, *_DSN), dedupe=_INBOX_KEY,
                         doc="a delay or success DSN: recorded, nothing else happens")
INBOUND_OTHER = define("inbound_other", "inbox", fields=_INBOX, dedupe=_INBOX_KEY,
                       doc="tied to a send but neither reply, bounce nor report")
UNMATCHED_INBOUND = define("unmatched_inbound", "inbox", fields=(*_INBOX, "classified_as"), dedupe=_INBOX_KEY,
                           doc="tied to no send of ours (no prospect): kept so nothing is lost")

REPLY_HANDLED = define("reply_handled", "inbox", fields=("reply", "how", "by"), dedupe="handled:{reply event id}",
                       doc="a reply was worked: answered or marked done (`outbound replies answer/done`)")
REPLY_ANSWERED = define("reply_answered", "inbox", fields=("reply", "subject", "message_id", "text", "in_reply_to", "by"),
                        dedupe="answer:{Message-ID of our answer}",
                        doc="our answer to a reply, sent in its thread (`outbound replies answer`)")
REPLY_FORWARDED = define("reply_forwarded", "inbox",
                         fields=("reply", "to", "outcome", "reason", "attempts", "message_id", "next_at", "lease_until",
                                 "original"),
                         dedupe="forward:{reply event id}",
                         doc="a reply's forward to [inbox] forward_to, its outbox row (outcome: sending, retry, sent, "
                             "failed); the original is kept base64 until sent")

# ---------------------------------------------------------------- tracking (optional, off by default)
OPENED = define("opened", "tracking", fields=("machine", "why", "user_agent", "sequence", *_CRM),
                dedupe=f"open:{{send_id}}:{{person|machine}}; CRM: {_CRM_KEY}", crm=True, weighable=True,
                doc="the tracking pixel was fetched (machine: true for proxies and scanners)")
CLICKED = define("clicked", "tracking", fields=("machine", "why", "user_agent", "url", "sequence", *_CRM),
                 dedupe=f"click:{{send_id}}:{{sha256(url)[:16]}}:{{person|machine}}; CRM: {_CRM_KEY}",
                 crm=True, weighable=True, doc="a tracked link was followed")

# ---------------------------------------------------------------- outcomes from a CRM or by hand
QUALIFIED = define("qualified", "outcome", fields=_CRM, dedupe=_CRM_KEY, crm=True, weighable=True,
                   doc="a sales-qualified lead")
MQL = define("mql", "outcome", fields=_CRM, dedupe=_CRM_KEY, crm=True, weighable=True,
             doc="a marketing-qualified lead (a funnel stage)")
SQL = define("sql", "outcome", fields=_CRM, dedupe=_CRM_KEY, crm=True, weighable=True,
             doc="a sales-qualified lead, accepted by sales (a funnel stage)")
MEETING_BOOKED = define("meeting_booked", "outcome", fields=_CRM, dedupe=_CRM_KEY, crm=True, weighable=True,
                        doc="a meeting was booked")
WON = define("won", "outcome", fields=_CRM, dedupe=_CRM_KEY, crm=True, weighable=True, doc="a deal was won")
LOST = define("lost", "outcome", fields=_CRM, dedupe=_CRM_KEY, crm=True, weighable=True, doc="a deal was lost")

# ---------------------------------------------------------------- what a person did by hand
OPERATOR_ACTION = define("operator_action", "operator", fields=("action", "reason", "by", "actions",
                                                                "enrollments_changed"),
                         dedupe="none: one per action",
                         doc="a person's enrollments stopped, paused or resumed by hand (CLI or dashboard; by: who)")


# ---------------------------------------------------------------- derived (names no type)

@dataclass(frozen=True)
class Catalogue:
    """What the rest of outbound reads, in definition order."""

    all: tuple[str, ...]
    crm_types: tuple[str, ...]
    weighable: tuple[str, ...]
    report_columns: dict[str, str]   # type -> column label


def catalogue(definitions: Mapping[str, EventType]) -> Catalogue:
    types = list(definitions.values())
    return Catalogue(tuple(t.name for t in types), tuple(t.name for t in types if t.crm),
                     tuple(t.name for t in types if t.weighable),
                     {t.name: t.report for t in types if t.report is not None})


def custom_type(name: str, fields: tuple[str, ...], doc: str = "") -> EventType:
    """A type a workspace declares (a CRM signal such as ``job_change``): ``events add/import`` accept it and
    ``scoring.yaml`` may weigh it and name it in rules, like a built-in outcome."""
    return EventType(name, "outcome", (*fields, *_CRM), _CRM_KEY, crm=True, weighable=True, report=None,
                     doc=doc or "declared in scoring.yaml")


def with_custom(custom: Mapping[str, EventType]) -> Catalogue:
    """The derived lists with a workspace's own types after the built-in ones (which they may not redefine)."""
    clash = sorted(set(custom) & set(DEFINITIONS))
    if clash:
        raise ValueError(f"event type {clash[0]!r} is built in")
    return catalogue({**DEFINITIONS, **custom})


_CATALOGUE = catalogue(DEFINITIONS)
CATALOGUE = _CATALOGUE
ALL = _CATALOGUE.all
CRM_TYPES = _CATALOGUE.crm_types
WEIGHABLE = _CATALOGUE.weighable
REPORT_COLUMNS = _CATALOGUE.report_columns
