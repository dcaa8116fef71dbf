"""The pure parts of verification: syntax, role and disposable names, DNS answers to a domain verdict,
an address's status, and what a sequence's verify_policy skips."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from outbound.spec.sequence import VerifyPolicy
from outbound.store.verification import Stored, skip_reason
from outbound.verify.classify import Parsed, classify, is_disposable, is_role, parse
from outbound.verify.domains import from_answers
from outbound.verify.model import DomainVerdict, ProbeVerdict


@dataclass
class A:
    status: str
    rdata: tuple[Any, ...] = ()
    detail: str = ""


@dataclass
class Mx:
    preference: int
    exchange: str


OK = DomainVerdict("acme.com", "ok", ("mx.acme.com",))


def test_parse_encodes_an_internationalised_domain_and_refuses_bad_syntax() -> None:
    found = parse("ann@bücher.de")
    assert isinstance(found, Parsed) and found.domain == "xn--bcher-kva.de" and found.local == "ann"
    for bad in ("ann", "ann@", "a b@acme.com", "ann@acme", "ann@@acme.com", "ann@localhost", "ann@x.invalid"):
        assert isinstance(parse(bad), str) and str(parse(bad)).startswith("syntax: "), bad


@pytest.mark.parametrize("local", ["info", "Sales", "no-reply", "noreply", "support+eu", "postmaster", "hr", "jobs",
                                   "hello", "webmaster", "abuse", "sales.de", "no_reply"])
def test_role_addresses(local: str) -> None:
    assert is_role(local)


@pytest.mark.parametrize("local", ["ann", "ann.smith", "information", "salesforce-admin-bob", "hrishikesh"])
def test_personal_addresses_are_not_roles(local: str) -> None:
    assert not is_role(local)


def test_disposable_domains_come_from_the_maintained_list_and_cover_subdomains() -> None:
    assert is_disposable("mailinator.com") and is_disposable("eu.mailinator.com")
    assert not is_disposable("acme.com") and not is_disposable("gmail.com")


def test_domain_verdicts_from_answers() -> None:
    assert from_answers("a.com", A("ok", (Mx(10, "mx.a.com."), Mx(5, "mx0.a.com.")))) == DomainVerdict(
        "a.com", "ok", ("mx0.a.com", "mx.a.com"))
    assert from_answers("a.com", A("ok", (Mx(0, "."),))).code == "null-mx"
    assert from_answers("a.com", A("ok", (Mx(0, "."), Mx(10, "mx.a.com.")))).status == "ok"  # not a null MX set
    assert from_answers("a.com", A("nxdomain")).code == "nxdomain"
    assert from_answers("a.com", A("timeout", detail="DNS query timed out")).status == "unknown"
    assert from_answers("a.com", A("error")).status == "unknown"  # SERVFAIL: the resolver's trouble
    assert from_answers("a.com", A("nodata"), A("ok", ("1.2.3.4",)), A("nodata")).hosts == ("a.com",)
    assert from_answers("a.com", A("nodata"), A("nodata"), A("nodata")).code == "no-mail-host"
    assert from_answers("a.com", A("nodata"), A("nodata"), A("timeout")).status == "unknown"


def test_status_order_invalid_before_risky_before_flags() -> None:
    ann, info = parse("ann@acme.com"), parse("info@acme.com")
    assert classify(ann, OK) == ("valid", ())
    assert classify(info, OK)[0] == "risky"
    dead = DomainVerdict("acme.com", "invalid", code="nxdomain", detail="acme.com does not exist (NXDOMAIN)")
    assert classify(info, dead) == ("invalid", ("nxdomain: acme.com does not exist (NXDOMAIN)",
                                                "role: info@ is a role address"))
    assert classify(ann, DomainVerdict("acme.com", "unknown", code="dns-failed", detail="t"))[0] == "unknown"
    assert classify(ann, OK, ProbeVerdict(catch_all=True))[0] == "risky"
    assert classify(ann, OK, ProbeVerdict(catch_all=False, refused={"ann@acme.com": "550 no"}))[0] == "invalid"
    assert classify(parse("bob@gmail.com"), OK) == ("valid", ("free-mail: gmail.com is a free-mail provider",))
    assert classify("syntax: bad", None) == ("invalid", ("syntax: bad",))


def test_skip_reason_follows_the_policy() -> None:
    default = VerifyPolicy()
    invalid = Stored("invalid", ("nxdomain: x.com does not exist (NXDOMAIN)",))
    role = Stored("risky", ("role: info@ is a role address",))
    catch_all = Stored("risky", ("catch-all: x.com accepts any address, this one cannot be confirmed",))
    assert skip_reason(invalid, VerifyPolicy(role="send")) == "address invalid: nxdomain: x.com does not exist (NXDOMAIN)"
    assert skip_reason(role, default) == "address risky (verify_policy skip): role: info@ is a role address"
    assert skip_reason(role, VerifyPolicy(role="send")) is None
    assert skip_reason(catch_all, default) is None and skip_reason(catch_all, VerifyPolicy(catch_all="skip"))
    assert skip_reason(Stored("unknown", ("dns-failed: t",)), default) is None
    assert skip_reason(Stored("unknown", ("dns-failed: t", "role: info@ is a role address")), default)
    assert skip_reason(None, default) is None


@pytest.mark.parametrize("local", ["ann", "ann.smith", "ann+tag", "o'neil", "a_b-c", "x" * 64, "zoë", '"ann smith"',
                                   "a..b", ".a", "a.", "x" * 65, "a b", "a(b)"])
def test_the_plain_local_part_fast_path_agrees_with_email_validator(local: str) -> None:
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(f"{local}@acme.com", check_deliverability=False, allow_smtputf8=True)
        expected = True
    except EmailNotValidError:
        expected = False
    assert isinstance(parse(f"{local}@acme.com"), Parsed) == expected
