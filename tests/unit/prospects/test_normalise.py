"""Address, domain, time zone and field-key normalisation."""

from __future__ import annotations

import pytest

from outbound.prospects.freemail import FREE_MAIL_DOMAINS, is_free_mail
from outbound.prospects.normalise import (
    clean_text,
    field_key,
    normalise_company_domain,
    normalise_domain,
    normalise_email,
    normalise_timezone,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Ada@Example.COM ", "ada@example.com"),
        ("ADA.LOVELACE+crm@Sub.Example.co.uk", "ada.lovelace+crm@sub.example.co.uk"),
        ("Ada Lovelace <ada@example.com>", "ada@example.com"),
        ("mailto:ada@example.com?subject=hi", "ada@example.com"),
        ("\u200bada@example.com\ufeff", "ada@example.com"),
        ("\u00a0ada@example.com\u00a0", "ada@example.com"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("ada@example.com.", "ada@example.com"),
    ],
)
def test_valid_addresses_are_normalised(text: str, expected: str) -> None:
    result = normalise_email(text)
    assert result.ok, result.reason
    assert result.value == expected
    assert result.reason == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hans@Ørsted.dk", "hans@xn--rsted-uua.dk"),
        ("info@münchen.de", "info@xn--mnchen-3ya.de"),
        ("a@bücher.example", "a@xn--bcher-kva.example"),
        ("a@xn--bcher-kva.example", "a@xn--bcher-kva.example"),
    ],
)
def test_international_domains_become_ascii(text: str, expected: str) -> None:
    assert normalise_email(text).value == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "no email address"),
        ("   ", "no email address"),
        ("ada.example.com", "no @"),
        ("ada@@example.com", "more than one @"),
        ("a@b@example.com", "more than one @"),
        ("ada lovelace@example.com", "spaces"),
        ("ada@exa mple.com", "spaces"),
        ("@example.com", "nothing before the @"),
        ("ada@", "no domain"),
        ("ada@localhost", "no top-level part"),
        ("ada@example", "no top-level part"),
        ("ada@exa_mple.com", "not allowed"),
        ("ada@-example.com", "not allowed"),
        ("ada@example..com", "empty label"),
        ("ada@1.2.3.4", "no valid top-level part"),
        ("ada@[1.2.3.4]", "IP address literal"),
        ("ada@example.c", "no valid top-level part"),
        (".ada@example.com", "not allowed"),
        ("ada..l@example.com", "not allowed"),
        ("zoë@example.com", "non-ASCII"),
        ("a" * 65 + "@example.com", "more than 64"),
        ("ada@" + "a" * 250 + ".com", "longer than"),
        ("ada@" + ("a" * 60 + ".") * 5 + "com", "longer than"),
        ("x" * 5000, "longer than"),
        ("ada@exam\u2028ple.com", "spaces"),
    ],
)
def test_invalid_addresses_are_refused_with_a_reason(text: str, fragment: str) -> None:
    result = normalise_email(text)
    assert result.value is None
    assert fragment in result.reason


def test_role_accounts_are_accepted_with_a_warning() -> None:
    result = normalise_email("Sales@Acme.com")
    assert result.value == "sales@acme.com"
    assert result.warnings and "role account" in result.warnings[0]
    assert normalise_email("salesman@acme.com").warnings == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("acme.com", "acme.com"),
        ("https://www.acme.com/about", "acme.com"),
        ("http://Acme.COM", "acme.com"),
        ("www.acme.co.uk/contact?x=1#top", "acme.co.uk"),
        ("acme.com:8443/path", "acme.com"),
        ("//acme.com/", "acme.com"),
        ("ftp://user:pw@files.acme.com/x", "files.acme.com"),
        ("bob@acme.com", "acme.com"),
        ("https://münchen.de", "xn--mnchen-3ya.de"),
        ("www.com", "www.com"),
        ("acme.com.", "acme.com"),
    ],
)
def test_domains_are_extracted_from_urls(text: str, expected: str) -> None:
    assert normalise_domain(text).value == expected


@pytest.mark.parametrize("text", ["", "acme", "https://", "not a domain", "http://acme_corp.com", "acme.c"])
def test_bad_domains_are_refused(text: str) -> None:
    result = normalise_domain(text)
    assert result.value is None
    assert result.reason


def test_company_domain_refuses_social_networks() -> None:
    result = normalise_company_domain("https://www.linkedin.com/company/acme")
    assert result.value is None
    assert "linkedin.com" in result.reason
    assert normalise_company_domain("https://acme.com").value == "acme.com"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Europe/Paris", "Europe/Paris"),
        (" europe/paris ", "Europe/Paris"),
        ("America/New York", "America/New_York"),
        ("UTC", "UTC"),
        ("america/argentina/buenos_aires", "America/Argentina/Buenos_Aires"),
    ],
)
def test_iana_time_zones_are_canonicalised(text: str, expected: str) -> None:
    assert normalise_timezone(text).value == expected


@pytest.mark.parametrize("text", ["PST", "GMT+1", "+01:00", "Paris", "Mars/Olympus", "../../etc/passwd", "localtime"])
def test_non_iana_time_zones_are_refused(text: str) -> None:
    result = normalise_timezone(text)
    assert result.value is None
    assert "IANA" in result.reason


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Pain Point", "pain_point"),
        ("pain_point", "pain_point"),
        ("PainPoint", "pain_point"),
        ("  Linked-In URL ", "linked_in_url"),
        ("Société", "societe"),
        ("2nd Touch", "f_2nd_touch"),
        ("if", "if_"),
        ("None", "none_"),
        ("self", "self_"),
        ("???", ""),
        ("日本", ""),
        ("Q3 Revenue ($)", "q3_revenue"),
    ],
)
def test_field_keys_are_jinja_identifiers(name: str, key: str) -> None:
    assert field_key(name) == key


def test_field_keys_render_in_jinja() -> None:
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    for name in ["Pain Point", "if", "None", "2nd Touch", "self", "loop", "true"]:
        key = field_key(name)
        assert env.from_string("{{ " + key + " }}").render({key: "v"}) == "v", name


@pytest.mark.parametrize("domain", ["gmail.com", "GMAIL.COM", "yahoo.co.uk", "hotmail.com.ar", "yahoo.fr", "web.de"])
def test_free_mail_domains(domain: str) -> None:
    assert is_free_mail(domain)


@pytest.mark.parametrize("domain", ["acme.com", "gmail.acme.com", "live.nation.com", "outlook-consulting.com"])
def test_company_domains_are_not_free_mail(domain: str) -> None:
    assert not is_free_mail(domain)


def test_free_mail_list_is_decent() -> None:
    assert len(FREE_MAIL_DOMAINS) >= 100
    assert all(d == d.lower() and "." in d for d in FREE_MAIL_DOMAINS)


def test_clean_text() -> None:
    assert clean_text("  Ada \n  Lovelace\t", 100, single_line=True) == ("Ada Lovelace", False)
    assert clean_text(" line1\n\nline2 ", 100, single_line=False) == ("line1\n\nline2", False)
    assert clean_text("\u200bAda\u200b", 100, single_line=True) == ("Ada", False)
    assert clean_text("x" * 50, 10, single_line=True) == ("x" * 10, True)
