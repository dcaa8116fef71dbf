"""Why a delivery failed, from the diagnostic text and the enhanced status code, and whether that is hard.

Reasons (sisimai's vocabulary in snake_case):

=====================  =========================================================  ==========
reason                 meaning                                                    hard?
=====================  =========================================================  ==========
user_unknown           the mailbox does not exist                                 yes
host_unknown           the domain does not exist or has no route                  yes
has_moved              the address moved, no forwarding                           yes
not_accept             the domain accepts no mail (null MX, no SMTP service)      with a 5xx
mailbox_full           over quota                                                 no
suspended              the account exists but is disabled or locked               no
blocked                our IP or domain is refused (RBL, reputation, rDNS)        no
spam                   the content was judged spam                                no
policy                 refused by the receiver's policy                           no
auth_failure           SPF, DKIM or DMARC failed                                  no
require_ptr            our sending IP has no reverse DNS                          no
filtered               refused by a recipient-side filter                         no
rejected               our envelope sender was refused                            no
expired                gave up after retrying                                     no
message_too_big        the message exceeds a size limit                           no
exceed_limit           a sending or receiving rate was exceeded                   no
too_many_connections   too many connections or messages at once                   no
virus                  malware found                                              no
security_error         TLS or authorisation required                              no
network_error          connection, DNS lookup or routing failure                  no
system_error           the receiving system failed (loops, internal errors)       no
mailer_error           a local delivery program failed                            no
syntax_error           an SMTP command was malformed                              no
no_relaying            the server refused to relay                                no
not_compliant_rfc      the message broke an RFC (headers, line length)            no
on_hold                the failure is known but its cause is not                  no
undefined              nothing recognised                                         no
delivered / delayed    success or delay notices (delivery_report)                 n/a
=====================  =========================================================  ==========

"Hard" follows sisimai: the *address* is gone and must be suppressed. A 5xx for spam, policy,
a full mailbox or a suspended account is soft because the address is real.
"""

from __future__ import annotations

import re

HARD_REASONS = frozenset({"user_unknown", "host_unknown", "has_moved"})

# Checked in order; the first match wins. More specific causes come before generic "rejected" wording.
_TEXT_RULES: list[tuple[str, str]] = [
    (
        "has_moved",
        r"(address|mailbox|recipient|user) has moved|no longer on (this )?server|not our (user|customer)|moved permanently|no forwarding address",
    ),
    (
        "mailbox_full",
        r"mailbox (is )?full|mailbox.{0,20}(over|exceed\w*) (its |the )?(quota|limit|size)|over ?quota|quota (exceeded|violation|full)|exceeded (storage|quota)|insufficient (disk |system )?(space|storage)|not enough (disk |storage )?space|mailbox size limit|disk (is )?full|storage (allocation|limit|quota)|user.s mailbox is full|postfach (ist )?voll|boîte (aux lettres )?pleine|quota",
    ),
    (
        "not_accept",
        r"does not accept (e-?)?mail|no smtp service|null mx|couldn.?t find a mail exchanger|no mx (record|host)|accepts no mail",
    ),
    (
        "host_unknown",
        r"host (or domain name )?(not found|unknown)|unknown host|domain (name )?(not found|does not exist|unknown)|unrouteable (address|domain|mail domain)|illegal host|no such domain|name service error|host\b.{0,20}\bnot found|domain.{0,20}could not be found|dns .{0,30}(no such|nxdomain)|nxdomain|unknown domain|bad destination system address|domain may not exist",
    ),
    (
        "suspended",
        r"suspended|\\blocked\\b|account (is |has been )?(disabled|locked|inactive|frozen|deactivated|expired|blocked)|mailbox (is |has been )?(disabled|inactive|frozen|locked)|(inactive|disabled|deactivated) (account|mailbox|user)|account is locked|not (an )?active|temporarily (disabled|deactivated)",
    ),
    ("virus", r"virus|malware|infected"),
    (
        "auth_failure",
        r"dmarc|\bspf\b|dkim|unauthenticated (e-?)?mail|sender (domain )?authentication|authentication .{0,20}fail|authentication required for sender",
    ),
    (
        "require_ptr",
        r"reverse (dns|lookup|name)|ptr record|\brdns\b|no ptr|missing reverse|hostname does not resolve|cannot find your hostname",
    ),
    (
        "spam",
        r"spam|junk|bulk (e-?)?mail|\buce\b|unsolicited|content (rejected|filter)|message (content )?(rejected|refused) (as|because)|score too high|suspicious",
    ),
    (
        "blocked",
        r"block(ed|list|ing)|black ?list|deny ?list|denied|\brbl\b|\bdnsbl\b|spamhaus|spamcop|barracuda|poor reputation|reputation|(?<!not )listed (in|on|at|by)|banned|client host .{0,20}rejected|(ip|host|connection) .{0,30}(rejected|refused)|not allowed to send|use the smtp server of your isp|access denied",
    ),
    (
        "message_too_big",
        r"message (size|length) exceeds|(message|mail) (is )?too (big|large)|exceeds? (the )?(maximum|max|size)|size limit|too large",
    ),
    (
        "too_many_connections",
        r"too many (connections|concurrent|sessions|simultaneous)|connection limit|try again later|throttl|too many messages",
    ),
    (
        "exceed_limit",
        r"rate limit|limit exceeded|exceeded (the )?(rate|limit)|sending limit|daily (sending )?(limit|quota)",
    ),
    (
        "expired",
        r"retry time(out)? (exceeded|expired)|message expired|has expired|delivery time expired|(too long|expired) in (the )?queue|could not be delivered (for|within|in) \d+|unable to deliver in \d+|timeout exceeded|giving up after|gave up|not yet been delivered|delay(ed)?",
    ),
    (
        "policy",
        r"polic(y|ies)|prohibited|not permitted|administrative(ly)? prohibit|not authori[sz]ed to send|message (not accepted|rejected) (for|due to)",
    ),
    (
        "security_error",
        r"not authori[sz]ed|authori[sz]ation (required|failed)|tls (is )?required|encryption required|must issue a starttls|authentication required",
    ),
    (
        "no_relaying",
        r"relay(ing)? (access )?(denied|not permitted|not allowed|prohibited)|unable to relay|not permitted to relay|we do not relay|relaying denied",
    ),
    (
        "rejected",
        r"sender (address |domain )?(rejected|refused|denied|verify failed|verification)|domain of sender|bad sender|sender .{0,20}(not|does not) (exist|allowed)|mail from .{0,30}rejected|invalid sender",
    ),
    (
        "mailer_error",
        r"mailer error|procmail|command (failed|died)|pipe to|program .{0,30}(failed|exited)|local delivery failed",
    ),
    (
        "system_error",
        r"system error|internal (server )?error|mail loop|looping|loop detected|too many hops|routing loop|server error|temporary failure|local error|i/o error",
    ),
    (
        "network_error",
        r"dns error|lookup of .{0,60}(had no|failed)|connection (timed out|refused|reset|closed|dropped)|timed out|network (error|unreachable)|no route to host|could not connect|connect to .{0,40}(failed|timed)|lost connection",
    ),
    ("syntax_error", r"syntax error|command (unrecognized|not recognized)|bad command|unknown command"),
    (
        "not_compliant_rfc",
        r"rfc ?(2822|5322|822|5321)|not (rfc|standards)[ -]compliant|malformed|header .{0,20}(invalid|missing)|duplicate header|line too long",
    ),
]

# Words that say the address itself is gone; checked after the rules above, so a generic
# "Recipient address rejected" with a specific cause (full, rDNS, policy) is not taken for an unknown user.
_USER_UNKNOWN = re.compile(
    r"user(name)? unknown|unknown (user|recipient|local[- ]?part|mailbox|address|account|alias)|no such (user|mailbox|recipient|address|account|person|local user)"
    r"|user(s)? (not found|doesn.?t exist|does not exist|not exist|not listed)|recipient (not found|unknown|does not exist)|recipnotfound"
    r"|address (not found|couldn.?t be found|could not be found|does not exist|unknown)|(mailbox|account|recipient|user|address) (does not|doesn.?t|did not) exist"
    r"|invalid (recipient|mailbox|address|final delivery userid|user|e-?mail address|destination)|not listed in (the )?(domino )?directory"
    r"|mailbox (unavailable|not found|not available)|no mailbox|not a valid (user|mailbox|recipient)|(account|mailbox|address) .{0,40}does not exist"
    r"|destinataire invalide|adresse .{0,20}(invalide|inconnue)|unbekannt|existiert nicht|bad destination mailbox|doesn.t have an? .{1,40} account"
    r"|undeliverable address|addressee unknown|unknown or illegal alias|not our domain user|no such user here|user not found"
    r"|not a known user|mailbox name not allowed|user .{0,40} not (found|known|exist)|name is not recognized|unknown recipient"
    r"|invalid user address",
    re.I,
)
# Generic refusals of a recipient: user_unknown only when nothing more specific was said.
_WEAK_USER_UNKNOWN = re.compile(
    r"address rejected|recipient (address )?rejected|rejected recipient|invalid address|recipient .{0,30} rejected|no valid recipients?"
    r"|domain may not exist|account or domain may not exist|unknown address",
    re.I,
)
# The receiving server accepted RCPT and refused at DATA: the address exists, a filter said no.
_AT_DATA = re.compile(
    r"in reply to end of data|^\W*(>>> )?data\s*$|final data|after (end of )?data|following data command|error following data",
    re.I | re.M,
)
_FIRST_GROUP = frozenset(
    {
        "has_moved",
        "mailbox_full",
        "not_accept",
        "host_unknown",
        "suspended",
        "virus",
        "auth_failure",
        "require_ptr",
        "spam",
        "blocked",
        "policy",
        "security_error",
        "mailer_error",
    }
)

_COMPILED = [(reason, re.compile(pattern, re.I)) for reason, pattern in _TEXT_RULES]

# Specific enhanced status codes (class.subject.detail, class ignored) that name their cause.
_STATUS_REASONS: dict[str, str] = {
    "1.1": "user_unknown",
    "1.0": "user_unknown",
    "1.2": "host_unknown",
    "1.3": "user_unknown",
    "1.4": "user_unknown",
    "1.5": "user_unknown",
    "1.6": "has_moved",
    "1.7": "rejected",
    "1.8": "rejected",
    "1.10": "not_accept",
    "2.0": "filtered",
    "2.1": "filtered",
    "2.2": "mailbox_full",
    "2.3": "message_too_big",
    "2.4": "system_error",
    "3.0": "system_error",
    "3.1": "mailbox_full",
    "3.2": "system_error",
    "3.3": "system_error",
    "3.4": "message_too_big",
    "3.5": "system_error",
    "4.0": "network_error",
    "4.1": "network_error",
    "4.2": "network_error",
    "4.3": "system_error",
    "4.4": "host_unknown",
    "4.5": "network_error",
    "4.6": "system_error",
    "4.7": "expired",
    "5.0": "syntax_error",
    "5.1": "syntax_error",
    "5.2": "syntax_error",
    "5.3": "too_many_connections",
    "5.4": "syntax_error",
    "5.5": "syntax_error",
    "6.0": "not_compliant_rfc",
    "7.0": "security_error",
    "7.1": "blocked",
    "7.2": "system_error",
    "7.3": "security_error",
    "7.4": "security_error",
    "7.5": "security_error",
    "7.6": "security_error",
    "7.7": "security_error",
    "7.8": "security_error",
    "7.9": "security_error",
    "7.13": "suspended",
    "7.23": "auth_failure",
    "7.24": "auth_failure",
    "7.25": "require_ptr",
    "7.26": "auth_failure",
    "7.27": "not_accept",
    "7.509": "auth_failure",
    "7.515": "auth_failure",
}

# These codes are unambiguous enough to beat the wording (which often repeats a generic phrase).
_DECISIVE_STATUS = frozenset(
    {"1.1", "1.2", "1.6", "1.10", "2.2", "7.25", "7.26", "7.509", "7.515", "7.23", "7.24", "1.7", "1.8", "4.7"}
)


def text_reason(text: str) -> str | None:
    for reason, pattern in _COMPILED:
        if pattern.search(text):
            return reason
    return None


def status_reason(status: str | None) -> str | None:
    if not status:
        return None
    _, _, rest = status.partition(".")
    return _STATUS_REASONS.get(rest)


def reason_for(status: str | None, text: str) -> str:
    """The most likely reason from an enhanced status code and the diagnostic wording."""
    code_part = status.partition(".")[2] if status else ""
    by_status = status_reason(status)
    user_gone = bool(_USER_UNKNOWN.search(text))
    by_text = text_reason(text)
    if by_status and code_part in _DECISIVE_STATUS:
        # A mailbox-full or moved wording still beats a generic x.1.1.
        if by_text in ("mailbox_full", "has_moved", "mailer_error") and by_status == "user_unknown":
            return by_text
        return by_status
    if by_text in _FIRST_GROUP:
        return by_text
    if user_gone:
        return "user_unknown"
    if by_text:
        return by_text
    if _WEAK_USER_UNKNOWN.search(text):
        return "user_unknown"
    if by_status:
        return by_status
    return "undefined"


def refine_for_phase(reason: str, status: str | None, transcript: str) -> str:
    """A user-unknown answer to DATA without an x.1.x status is a content filter's (sisimai's rule)."""
    if (
        reason == "user_unknown"
        and not (status and status.partition(".")[2].startswith("1."))
        and _AT_DATA.search(transcript)
    ):
        return "filtered"
    return reason


def is_hard(reason: str, status: str | None, text: str = "") -> bool:
    if reason in HARD_REASONS:
        return True
    if reason == "not_accept":
        # A prose bounce without any code is a final failure: treat it as 5xx.
        return not status or status.startswith("5") or bool(re.search(r"\b5\d\d\b", text))
    return False
