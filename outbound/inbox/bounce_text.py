"""Bounces that are not RFC 3464 DSNs: recognise them and find the failed recipients in their prose.

General rules, no per-MTA parsers: cut the report off where the returned message begins, then
take addresses in order of confidence (DSN-style fields, an address alone on its line or right
after a "recipient" phrase, then any other address) while leaving out the sender's own and
the robots' addresses.
"""

from __future__ import annotations

import re
from email.message import Message

from outbound.inbox import mime
from outbound.inbox.addresses import ADDRESS_RE, header_addresses, is_system, normalise
from outbound.inbox.dsn import parse_fields

_SYSTEM_FROM = re.compile(
    r"mailer[-_]?daemon|postmaster|mail delivery (system|subsystem|service)|mail administrator|mdaemon|"
    r"post_master|delivery (status )?notification|system administrator|mail ?system|internet mail delivery|"
    r"nondeliver|smtp gateway|\bimss\b|mailerdaemon|microsoftexchange|mail router",
    re.I,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver(able|ed)|delivery (status notification|failure|failed|report|problem|notification)|returned mail|"
    r"failure notice|mail delivery failed|could not be delivered|non[- ]?delivery|not (been )?delivered|"
    r"delivery has failed|mail system error|returned to sender|permanent (delivery )?(failure|error)|"
    r"delivery (error|warning)|warning: (message .* )?delay|delayed mail|mail failed|message not delivered|"
    r"unzustellbar|nicht zustellbar|non remis|non recapitabile|no se (puede|pudo) entregar|onbestelbaar|"
    r"errore di consegna|impossible de remettre|processing error|rejected|address not found|delivery failure|failed mail",
    re.I,
)
_FAILURE_PHRASES = re.compile(
    r"could not be delivered|couldn.?t be delivered|was not delivered|wasn.?t delivered|not be delivered|"
    r"(unable|failed) to deliver|undeliverable|delivery (to the following|has failed|failed|problem)|"
    r"following (address|recipient)|permanent (fatal )?error|user unknown|unknown user|no such user|"
    r"returned (mail|to sender)|did not reach|error (occurred|was detected) while|not yet been delivered|"
    r"(was|were) rejected|could not deliver|couldn.?t deliver|wasn.?t able to deliver|delivery attempts|"
    r"remote host said|smtp error|error delivering|mail delivery failed|invalid (final delivery|recipient)|"
    r"not listed in|does not exist|address not found|failed recipient|intended recipient|error-for|"
    r"transcript of session|invalid (user|e-?mail )?address|error message below|zugestellt werden|pas pu être (remis|distribué)|no pudo ser entregado|non è stato possibile",
    re.I,
)
_DELAY_PHRASES = re.compile(
    r"has not yet been delivered|not been delivered yet|will (continue to )?(be )?retr(y|ied)|delivery attempts will continue|"
    r"still trying|delayed|this is (only )?a warning|no action is required on your part|will keep trying|"
    r"will continue (to try|trying)|(has been|was) postponed",
    re.I,
)
# The report says delivery goes on: this outranks a generic "could not be delivered" (not "permanent").
_STILL_TRYING = re.compile(
    r"will (continue to |keep )?(be )?(retr(y|ied|ying)|try|trying)|delivery attempts will continue|still trying|"
    r"will continue (to try|trying)|will keep trying",
    re.I,
)
# Wording that makes a message a bounce whoever sent it (a forwarded bounce, an odd robot).
_STRONG_PHRASES = re.compile(
    r"could not be delivered to|(unable|failed) to deliver (your |this )?(message|mail) to|delivery to the following recipients? failed|"
    r"following address(es)? (had permanent|failed)|permanent fatal errors?|wasn.?t able to deliver your message|"
    r"this is a permanent error|message could not be delivered|did not reach the following recipient|"
    r"delivery has failed to these recipients|your message wasn.?t delivered",
    re.I,
)
_PERMANENT_PHRASES = re.compile(r"permanent|given up|giving up|gave up|will not be retried|fatal", re.I)
_UNDELIVERED = re.compile(r"could not be delivered", re.I)

# Where the copy of the original message begins: everything after it is the sender's own text.
_ORIGINAL_MARKER = re.compile(
    r"^[\s\-=*|_#>]*("
    r"(-+ ?)?original message|returned (mail|message)( follows)?|(a )?copy of (the |your )?(original )?message|"
    r"below this line is a copy|message headers follow|original message follows|the header of the original message|"
    r"enclosed is a copy|this is a copy of the message|unsent message below|headers? of the (original|returned) message|"
    r"message text follows|mensaje original|rfc822 headers follow|"
    r"original message headers|--- ?message (removed|follows)|"
    r"your message reads|original text follows|message was attached|included is a copy|message header follows"
    r")",
    re.I,
)
_HEADER_START = re.compile(r"^(Received: |Return-Path: ?<|DKIM-Signature: |Message-I[dD]: ?<|MIME-Version: 1)")

# Addresses next to these words are the ones that failed.
_RECIPIENT_CONTEXT = re.compile(
    r"(rcpt to:?|recipient[s]?:?|delivering (your )?(mail|message) to|delivered to|deliver (your message |mail )?to|"
    r"message (for|to)|mail (for|to)|error-for:|userid:?|addressee|user|mailbox|address(es)?:?|generated from|"
    r"failed for|sent to|to the following|reach|addressed|expanded from)\W{0,6}$",
    re.I,
)
_SENDER_CONTEXT = re.compile(
    r"(mail from:?|(?<!expanded )(?<!generated )envelope-from|sender:?|from:|return-path:?|reply-to:?|message-id:?|references:?|in-reply-to:?)\W{0,4}$",
    re.I,
)


def looks_like_bounce(msg: Message, text: str) -> bool:
    from_value = mime.header(msg, "From")
    subject = mime.header(msg, "Subject")
    if mime.header(msg, "X-Failed-Recipients") or _STRONG_PHRASES.search(text[:3000]):
        return True
    system_from = bool(_SYSTEM_FROM.search(from_value)) or not from_value.strip() or from_value.strip() == "<>"
    subject_says = bool(_BOUNCE_SUBJECT.search(subject))
    body_says = bool(_FAILURE_PHRASES.search(text[:6000])) or bool(_DELAY_PHRASES.search(text[:3000]))
    if system_from and (subject_says or body_says or _has_address_line(text)):
        return True
    return subject_says and body_says


def _has_address_line(text: str) -> bool:
    return any(
        _alone_on_line(m.group(0).strip().strip(">*-|").strip(), m.group(1))
        for m in _LINE_WITH_ADDRESS.finditer(text[:4000])
    )


_LINE_WITH_ADDRESS = re.compile(r"^.*?(" + ADDRESS_RE.pattern + r").*$", re.M)


def report_text(msg: Message) -> str:
    """The MTA's own words: inline text parts outside any returned message, cut at the copy marker."""
    pieces: list[str] = []
    for part in mime.leaf_parts(msg):
        ctype = mime.content_type(part)
        if ctype.startswith("message/") or ctype == "text/rfc822-headers":
            continue
        if ctype == "text/plain" or (ctype == "text/html" and not pieces):
            text = mime.part_text(part)
            pieces.append(mime.html_to_text(text) if ctype == "text/html" else text)
    return cut_original("\n".join(pieces))


def cut_original(text: str) -> str:
    lines = text.replace("\r\n", "\n").split("\n")
    for index, line in enumerate(lines):
        if index > 0 and (_ORIGINAL_MARKER.match(line) or _HEADER_START.match(line)):
            return "\n".join(lines[:index])
    return text


def is_dsn_without_records(msg: Message) -> bool:
    """A multipart/report of type delivery-status whose status part names no recipient (Postfix does this)."""
    ctype = mime.content_type(msg)
    try:
        report_type = str(msg.get_param("report-type", "") or "").lower()
    except Exception:
        report_type = ""
    return ctype == "multipart/report" and report_type == "delivery-status"


def is_delay(text: str) -> bool:
    """A warning that delivery is late and still being tried, not a final failure."""
    if not _DELAY_PHRASES.search(text) or _PERMANENT_PHRASES.search(text):
        return False
    return bool(_STILL_TRYING.search(text)) or not _UNDELIVERED.search(text)


def excluded_addresses(msg: Message, text: str) -> set[str]:
    """Addresses that cannot be the failed recipient: the bounce's own parties and the original sender."""
    names = ("From", "To", "Cc", "Reply-To", "Sender", "Return-Path", "Delivered-To")
    excluded = set(header_addresses([v for name in names for v in mime.headers(msg, name)]))
    for match in ADDRESS_RE.finditer(text):
        before = text[max(0, match.start() - 24) : match.start()].split("\n")[-1]
        if _SENDER_CONTEXT.search(before.rstrip("<\"' ")):
            excluded.add(normalise(match.group(1)))
    return excluded


def failed_recipients(msg: Message, text: str) -> list[str]:
    """Failed addresses named in a non-DSN bounce, best-supported tier first."""
    header_list = header_addresses(mime.headers(msg, "X-Failed-Recipients"))
    if header_list:
        return header_list
    fields = [r.address for r in parse_fields(text) if r.address]
    excluded = excluded_addresses(msg, text)
    if fields:
        return [a for a in fields if not is_system(a)] or fields
    alone: list[str] = []
    near: list[str] = []
    anywhere: list[str] = []
    quoted_headers: list[str] = []
    previous = ""
    for line in text.split("\n"):
        stripped = line.strip().strip(">*-|").strip()
        after_list_intro = bool(_FOLLOWING_END.search(previous))
        if stripped:
            previous = stripped
        for match in ADDRESS_RE.finditer(line):
            address = normalise(match.group(1))
            if not address or address in excluded or is_system(address):
                continue
            before = line[: match.start()]
            if _alone_on_line(stripped, match.group(1)):
                alone.append(address)
            elif after_list_intro or _RECIPIENT_CONTEXT.search(before.rstrip("<\"'([ ")) or _SMTP_REPLY.search(line):
                near.append(address)
            elif _QUOTED_HEADER.match(stripped):
                quoted_headers.append(address)  # "To: list@x" of the returned message, quoted in the report
            else:
                anywhere.append(address)
    for tier in (alone, near, anywhere, quoted_headers):
        if tier:
            return list(dict.fromkeys(tier))
    return _bare_local_parts(msg, text)


_FOLLOWING = re.compile(r"following (recipient|address|user)", re.I)
_FOLLOWING_END = re.compile(r"(following|these) (recipient|address|user)\S*\s*:?$", re.I)
_SMTP_REPLY = re.compile(r"(^|\s)[45]\d\d[\s\-]")
_QUOTED_HEADER = re.compile(r"^(to|cc|bcc|subject|sent|date)\s*:", re.I)


def _bare_local_parts(msg: Message, text: str) -> list[str]:
    """AOL-style: "the following recipients could not be delivered:" then bare screen names.

    They belong to the bouncing domain, which is the domain of the bounce's From address.
    """
    match = _FOLLOWING.search(text)
    senders = header_addresses(mime.headers(msg, "From"))
    if not match or not senders:
        return []
    domain = senders[0].split("@", 1)[1]
    found: list[str] = []
    for line in text[match.end() :].split("\n")[1:8]:
        word = line.strip()
        if re.fullmatch(r"[A-Za-z0-9][\w.\-+]{0,63}", word):
            found.append(f"{word.lower()}@{domain}")
        elif word and found:
            break
    return found


def _alone_on_line(stripped: str, address: str) -> bool:
    # Transcript lines carry "<<< 550 " or "554 " before the address: not part of the sentence.
    stripped = re.sub(r"^(<<<|>>>)?\s*\d{3}[\s\-]+", "", stripped)
    if stripped.lower().startswith(address.lower()):
        return True  # "user@x on <date>", "user@x ... unknown host": the line is about that address
    rest = stripped.replace(address, "", 1)
    rest = re.sub(r"^[<\"'\[(]+|^rfc822;", "", rest.strip())
    rest = rest.strip()
    # "<user@x>:" (qmail, Postfix), "user@x ... unknown host", "user@x (generated from ...)" and the like.
    if re.match(r"^\(?(generated|expanded) from", stripped, re.I):
        return True
    return rest in ("", ">", ">:", ":", ">,", ",", ";", "]", ")") or bool(
        re.match(r"^>?\s*(:|\.\.\.|\(|-{1,2}\s|$)", rest)
    )
