"""What the words and the enhanced status codes of a failure say: the tables behind :mod:`outbound.core.bounces`.

Pure data and two lookups (``text_reason``, ``status_reason``); the decision that weighs them is
``outbound.core.bounces.read_failure``. Rules are about wording any MTA uses, never one server's
one message.
"""

from __future__ import annotations

import re

# RFC 3463 class.subject.detail; not inside an IP address or a longer dotted number ("10.5.1.1", "5.1.1.2").
STATUS_RE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")

# Checked in order; the first match wins. More specific causes come before generic "rejected" wording.
_TEXT_RULES: list[tuple[str, str]] = [
    # Our own sending quota (Gmail "Daily user sending limit exceeded"): before "quota" reads as a full mailbox.
    (
        "exceed_limit",
        r"sending (quota|limit)|(daily|hourly) (user )?sending|(user|account) sending (quota|limit)|"
        r"(messages|recipients|mails?) per (day|hour) (limit|exceeded)|exceeded .{0,20}(send|sending) (quota|limit)",
    ),
    # RFC 7505 5.7.27: our *sender* domain publishes a null MX; before "null mx" reads as the recipient's.
    ("rejected", r"sender (address |domain )?(has|publishes) (a )?null mx"),
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
        r"host (or domain name )?(not found|unknown)|unknown host|domain (name )?(not found|does not exist|unknown)|unrouteable (address|domain|mail domain)|illegal host|no such domain|name service error|host\b.{0,20}\bnot found|domain.{0,20}could not be found|dns .{0,30}(no such|nxdomain)|nxdomain|unknown domain|bad destination system address|domain may not exist|non-?existent domain|domain .{0,20}does not exist",
    ),
    (
        "suspended",
        r"(?<!delivery )(?<!delivery temporarily )suspended|\blocked\b|account (is |has been )?(disabled|locked|inactive|frozen|deactivated|expired|blocked)|mailbox (is |has been )?(disabled|inactive|frozen|locked)|(inactive|disabled|deactivated) (account|mailbox|user|recipient)|account is locked|not (an )?active|temporarily (disabled|deactivated)|(account|mailbox) .{0,40}\bis (disabled|inactive)",
    ),
    ("virus", r"virus|malware|infected"),
    (
        "auth_failure",
        r"dmarc|\bspf\b|dkim|sender policy framework|unauthenticated (e-?)?mail|sender is unauthenticated|sender (domain )?authentication|authentication .{0,20}fail|required authentication level|authentication required for sender|fails? to pass (spf|dkim|dmarc|authentication)",
    ),
    (
        "require_ptr",
        r"reverse (dns|lookup|name)|ptr record|\brdns\b|no ptr|missing reverse|hostname does not resolve|cannot find your hostname",
    ),
    (
        "spam",
        r"spam(?!haus|cop)|junk|bulk (e-?)?mail|\buce\b|\bube\b|unsolicited|content (rejected|filter|not accepted)|message (content )?(rejected|refused) (as|because)|score too high|suspicious",
    ),
    # Before "blocked": a message blocked for its content is a content policy, not our IP's reputation.
    ("policy", r"(blocked|rejected|refused) (because|due to|as) (of )?(its|the|your|this) (message.s )?content|content (presents|poses)"),
    # Before "blocked": "Relay access denied" is a relaying verdict, not a blocklist.
    (
        "no_relaying",
        r"relay(ing)? (access )?(denied|not permitted|not allowed|prohibited)|unable to relay|not permitted to relay|we do not relay|relaying denied|mail relay denied",
    ),
    (
        "blocked",
        r"block(ed|ing| ?list)|black ?list|deny ?list|denied|\brbl\b|\bdnsbl\b|spamhaus|spamcop|barracuda|poor reputation|reputation|(?<!not )listed (in|on|at|by)|banned|client host .{0,20}rejected|(ip|host|connection) .{0,30}(rejected|refused)|not allowed to send|use the smtp server of your isp|access denied",
    ),
    (
        "message_too_big",
        r"message (size|length) exceeds|(message|mail) (is )?too (big|large)|exceeds? (the )?(maximum|max|size)|size limit|too large",
    ),
    (
        "too_many_connections",
        r"too many (connections|concurrent|sessions|simultaneous|recipients)|connection limit|try again later|throttl|too many messages|frequency limit",
    ),
    (
        "exceed_limit",
        r"rate limit|limit exceeded|exceeded (the )?(rate|limit)|sending limit|daily (sending )?(limit|quota)",
    ),
    (
        "expired",
        r"retry time(out)? (exceeded|expired)|message expired|has expired|delivery time expired|(too long|expired) in (the )?queue|in the queue too long|could not be delivered (for|within|in) \d+|unable to deliver in \d+|timeout exceeded|giving up after|gave up|not yet been delivered|delay(ed)?",
    ),
    (
        "policy",
        r"polic(y|ies)|prohibited|not permitted|administrative(ly)? prohibit|not authori[sz]ed to send|message (not accepted|rejected) (for|due to)",
    ),
    (
        "security_error",
        r"not authori[sz]ed|authori[sz]ation (required|failed)|tls (is )?required|encryption required|must issue a starttls|authentication required|smtp authentication|unauthenticated senders?|authenticate first",
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
        "network_error",
        r"mail loop|looping|loop detected|too many hops|hop count|routing loop|dns error|lookup of .{0,60}(had no|failed)|connection (timed out|refused|reset|closed|dropped)|timed out|network (error|unreachable)|no route to host|could not connect|connect to .{0,40}(failed|timed)|lost connection|unable to route",
    ),
    (
        "system_error",
        r"system error|internal (server )?error|server error|temporary failure|local error|i/o error",
    ),
    ("syntax_error", r"syntax error|command (unrecognized|not recognized)|bad command|unknown command"),
    (
        "not_compliant_rfc",
        r"rfc ?(2822|5322|822|5321)|not (rfc|standards)[ -]compliant|malformed|header .{0,20}(invalid|missing)|duplicate header|line too long|multiple addresses in (the )?from",
    ),
]

# Words that say the address itself is gone; weighed after the specific causes, so a generic
# "Recipient address rejected" with a specific cause (full, rDNS, policy) is not taken for an unknown user.
USER_UNKNOWN = re.compile(
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
WEAK_USER_UNKNOWN = re.compile(
    r"address rejected|recipient (address )?rejected|rejected recipient|invalid address|recipient .{0,30} rejected|no valid recipients?"
    r"|domain may not exist|account or domain may not exist|unknown address",
    re.I,
)
# Text reasons specific enough to beat the user-unknown wording that often accompanies them.
FIRST_GROUP = frozenset(
    {
        "exceed_limit",
        "has_moved",
        "mailbox_full",
        "not_accept",
        "host_unknown",
        "suspended",
        "virus",
        "auth_failure",
        "require_ptr",
        "spam",
        "no_relaying",
        "blocked",
        "policy",
        "security_error",
        "mailer_error",
    }
)

_COMPILED = [(reason, re.compile(pattern, re.I)) for reason, pattern in _TEXT_RULES]

# Enhanced status codes (subject.detail, the class is ignored) and the reason each names.
_STATUS_REASONS: dict[str, str] = {
    "1.0": "user_unknown",
    "1.1": "user_unknown",
    "1.2": "host_unknown",
    "1.3": "user_unknown",
    "1.4": "user_unknown",
    "1.5": "user_unknown",
    "1.6": "has_moved",
    "1.7": "rejected",
    "1.8": "rejected",
    "1.10": "not_accept",
    "2.0": "filtered",
    "2.1": "suspended",
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
    "4.4": "network_error",  # unable to route: host_unknown only when the wording says the domain does not exist
    "4.5": "network_error",
    "4.6": "network_error",
    "4.7": "expired",
    "5.0": "syntax_error",
    "5.1": "syntax_error",
    "5.2": "syntax_error",
    "5.3": "too_many_connections",
    "5.4": "syntax_error",
    "5.5": "syntax_error",
    "6.0": "not_compliant_rfc",
    "7.0": "policy",
    "7.1": "policy",
    "7.2": "policy",
    "7.3": "security_error",
    "7.4": "security_error",
    "7.5": "security_error",
    "7.6": "security_error",
    "7.7": "security_error",
    "7.8": "security_error",
    "7.9": "policy",
    "7.10": "security_error",
    "7.11": "security_error",
    "7.13": "suspended",
    "7.17": "has_moved",
    "7.20": "auth_failure",
    "7.21": "auth_failure",
    "7.22": "auth_failure",
    "7.23": "auth_failure",
    "7.24": "auth_failure",
    "7.25": "require_ptr",
    "7.26": "auth_failure",
    "7.27": "rejected",  # RFC 7505: the *sender* address has a null MX
    "7.28": "blocked",
    "7.29": "auth_failure",
    "7.30": "security_error",
    "7.509": "auth_failure",  # Outlook: DMARC reject
    "7.515": "auth_failure",  # Outlook: the sending domain does not meet the required authentication level
    "7.606": "blocked",
    "7.607": "blocked",
    "7.608": "blocked",
}

# Codes unambiguous enough to beat the wording (which often repeats a generic phrase).
DECISIVE_STATUS = frozenset(
    {"1.1", "1.2", "1.6", "1.10", "2.2", "7.23", "7.24", "7.25", "7.26", "7.27", "7.509", "7.515", "1.7", "1.8", "4.7"}
)
# "Other or undefined" codes and 5.7.1: the wording outranks them, and they are the last resort.
GENERIC_STATUS = frozenset({"0.0", "1.0", "2.0", "3.0", "4.0", "5.0", "6.0", "7.0", "7.1"})


def enhanced_status(text: str) -> str | None:
    """The first RFC 3463 status code near the start of a reply text ("5.1.1"), or None."""
    m = STATUS_RE.search(text[:200])
    return ".".join(m.groups()) if m else None


def text_reason(text: str) -> str | None:
    """The reason the wording names, by the first matching rule."""
    for reason, pattern in _COMPILED:
        if pattern.search(text):
            return reason
    return None


def status_detail(status: str | None) -> str:
    """"5.1.1" -> "1.1": the part of a status that names the cause (the class says permanent or not)."""
    return status.partition(".")[2] if status else ""


def status_reason(status: str | None) -> str | None:
    return _STATUS_REASONS.get(status_detail(status))
