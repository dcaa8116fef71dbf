"""What a verification says about one address, and about one domain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["valid", "risky", "invalid", "unknown"]
STATUSES: tuple[Status, ...] = ("valid", "risky", "invalid", "unknown")
DomainStatus = Literal["ok", "invalid", "unknown"]

# reason codes (the text before ':' in a stored reason); the risky ones are what a sequence's verify_policy names
SYNTAX = "syntax"
NXDOMAIN = "nxdomain"
NULL_MX = "null-mx"
NO_MAIL_HOST = "no-mail-host"
DNS_FAILED = "dns-failed"
REJECTED = "rejected"
ROLE = "role"
DISPOSABLE = "disposable"
CATCH_ALL = "catch-all"
FREE_MAIL = "free-mail"  # a flag for the account logic; the address stays valid
RISKY_CODES = (ROLE, DISPOSABLE, CATCH_ALL)


@dataclass(frozen=True)
class DomainVerdict:
    """The domain's mail hosts as DNS tells them: ``ok`` with the hosts in preference order (the domain
    itself for an implicit MX), ``invalid`` with why (NXDOMAIN, null MX, no host), ``unknown`` on DNS trouble."""

    domain: str
    status: DomainStatus
    hosts: tuple[str, ...] = ()
    code: str = ""
    detail: str = ""


@dataclass(frozen=True)
class ProbeVerdict:
    """What the MX said during a probe: ``catch_all`` when it took a random local part; ``refused`` holds
    the addresses it refused with a 5xx (reply text each); ``error`` when the probe could not run."""

    catch_all: bool | None = None
    refused: dict[str, str] = field(default_factory=dict)
    error: str = ""


@dataclass(frozen=True)
class Verdict:
    email: str
    status: Status
    reasons: tuple[str, ...] = ()

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.split(":", 1)[0] for r in self.reasons)
