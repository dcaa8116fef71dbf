"""Header values: control characters removed, addresses checked, Re: subjects, Message-IDs, folding.

Everything here is applied to values that may come from prospect data, so nothing a prospect wrote
can start a new header line (CR/LF/NUL and friends never reach a header).
"""

from __future__ import annotations

import functools
import re
import uuid
from datetime import datetime, timedelta
from email import policy
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime
from typing import Any

from outbound.render.errors import RenderError

# C0/C1 controls, DEL, line/paragraph separators, bidi overrides, invisible marks (spoofing aids) and
# lone surrogates (not encodable, they would crash serialisation).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")
_SPACES = re.compile(r"\s+")
_ANY_SPACE = re.compile(r"\s")  # the characters str.isspace() accepts
_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|sv|antw)\s*(?:\[\d+\])?\s*:\s*", re.IGNORECASE)
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+)*$")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_MESSAGE_ID = re.compile(r"^<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+>$")
MAX_REFERENCES = 20


def clean_header_text(value: str) -> str:
    """One line of text: unsafe characters become spaces, runs of white space collapse to one."""
    return _SPACES.sub(" ", _UNSAFE.sub(" ", value)).strip()


def clean_body_text(value: str) -> str:
    """Body text with CRLF/CR made LF and other C0 controls (NUL, ESC...) removed; tabs kept."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]", "", value)


def reply_subject(previous: str) -> str:
    """``Re: <previous>``, never ``Re: Re:`` (also folds ``AW:``/``SV:`` prefixes of other clients)."""
    subject = clean_header_text(previous)
    while (m := _REPLY_PREFIX.match(subject)) is not None:
        subject = subject[m.end():]
    return f"Re: {subject}" if subject else "Re:"


def collapse_reply_prefixes(subject: str) -> str:
    """A subject that already starts with Re: keeps exactly one."""
    if _REPLY_PREFIX.match(subject):
        return reply_subject(subject)
    return subject


def recipient_address(email: str, name: str = "") -> tuple[Address, bool]:
    """The To address and whether it needs SMTPUTF8 (non-ASCII local part); RenderError if unusable."""
    raw = email.strip()
    if _UNSAFE.search(raw) or _ANY_SPACE.search(raw):
        raise RenderError("the prospect's email address contains control characters or spaces")
    local, at, domain = raw.rpartition("@")
    if not at or not local or not _LOCAL.match(local) or len(local) > 64:
        raise RenderError(f"the prospect's email address {raw!r} is not a valid address")
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise RenderError(f"the domain of {raw!r} is not a valid domain name") from None
    labels = ascii_domain.rstrip(".").split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise RenderError(f"the domain of {raw!r} is not a valid domain name")
    try:
        address = Address(display_name=display_name_text(name), username=local, domain=".".join(labels))
    except (ValueError, IndexError) as exc:
        raise RenderError(f"the prospect's email address {raw!r} is not usable: {exc}") from None
    return address, not local.isascii()


@functools.lru_cache(maxsize=1024)  # a handful of mailboxes send thousands of messages: Address objects are immutable
def sender_address(address: str, display_name: str) -> Address:
    local, _, domain = address.rpartition("@")
    return Address(display_name=display_name_text(display_name), username=local, domain=domain)


def date_header(now: datetime) -> str:
    """The Date header of a message written at ``now`` (RFC 5322, in ``now``'s own offset)."""
    return _date_header(now, now.utcoffset())


@functools.lru_cache(maxsize=64)
def _date_header(now: datetime, offset: timedelta | None) -> str:
    # the offset is part of the key: equal instants in other zones compare equal but print differently;
    # cached because a whole batch of sends shares one ``now`` (~10 µs a format)
    return format_datetime(now)


MAX_DISPLAY_NAME = 100


def display_name_text(name: str) -> str:
    """A display name safe for an address header: no control characters, at most 100 characters,
    and no word longer than 70 (a long unbroken word cannot be folded under the 998-character line
    limit, and servers refuse the message for it)."""
    text = clean_header_text(name)
    if len(text) > MAX_DISPLAY_NAME:
        text = text[:MAX_DISPLAY_NAME].rsplit(" ", 1)[0] if " " in text[:MAX_DISPLAY_NAME] else text[:MAX_DISPLAY_NAME]
    return " ".join(word[:70] for word in text.split(" ")).strip()


def make_message_id(domain: str) -> str:
    """A fresh ``<uuid@domain>`` Message-ID on the sending domain (the form common mail clients use)."""
    return f"<{uuid.uuid4()}@{domain}>"


def check_message_id(value: str, what: str = "Message-ID") -> str:
    value = value.strip()
    if not _MESSAGE_ID.match(value):
        raise RenderError(f"{what} {value!r} is not of the form <id@domain>")
    return value


def references(previous_id: str, previous_references: tuple[str, ...] | list[str]) -> list[str]:
    """The References chain for a reply (RFC 5322 3.6.4): theirs plus the parent, the root kept if trimmed."""
    chain = [check_message_id(r, "a References entry") for r in previous_references]
    chain = [r for r in dict.fromkeys([*chain, previous_id])]
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1):]]
    return chain


URL_LIST_SEPARATOR = re.compile(r",\s*(?=<)")  # where a List-Unsubscribe value may fold


class _UrlListHeader(UnstructuredHeader):
    """List-Unsubscribe: folded between its <URL>s only, never turned into RFC 2047 encoded-words
    (the stdlib encodes any over-long unstructured word, which breaks the URL for receivers)."""

    def fold(self, *, policy: Any) -> str:
        parts = URL_LIST_SEPARATOR.split(str(self))
        name: str = self.name  # type: ignore[attr-defined]  # BaseHeader is mixed in by the registry
        linesep: str = policy.linesep
        return f"{name}: " + ("," + linesep + " ").join(parts) + linesep


def _policy(base: EmailPolicy[EmailMessage]) -> EmailPolicy[EmailMessage]:
    registry = HeaderRegistry()
    registry.map_to_type("list-unsubscribe", _UrlListHeader)  # type: ignore[arg-type]
    return base.clone(header_factory=registry)


SMTP_POLICY = _policy(policy.SMTP)
SMTPUTF8_POLICY = _policy(policy.SMTPUTF8)
