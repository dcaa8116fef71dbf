"""Header mapping: aliases, fallbacks, custom keys and their collisions."""

from __future__ import annotations

import pytest

from outbound.prospects.header import FULL_NAME, map_header


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("email", "email"),
        ("E-mail", "email"),
        ("Email Address", "email"),
        ("EMAIL_ADDRESS", "email"),
        ("Work Email", "email"),
        ("first_name", "first_name"),
        ("First Name", "first_name"),
        ("firstname", "first_name"),
        ("Given Name", "first_name"),
        ("Prénom", "first_name"),
        ("last_name", "last_name"),
        ("Last Name", "last_name"),
        ("Surname", "last_name"),
        ("company", "company"),
        ("Company Name", "company"),
        ("Organization", "company"),
        ("organisation", "company"),
        ("company_domain", "company_domain"),
        ("Website", "company_domain"),
        ("domain", "company_domain"),
        ("title", "title"),
        ("Job Title", "title"),
        ("timezone", "timezone"),
        ("Time Zone", "timezone"),
        ("source", "source"),
        ("Lead Source", "source"),
        ("Name", FULL_NAME),
        ("Full Name", FULL_NAME),
    ],
)
def test_each_header_variant_maps_to_its_field(name: str, target: str) -> None:
    mapping = map_header(["x", f"  {name} "])
    use = mapping.columns[1]
    assert use.standard
    assert use.target == target
    assert mapping.sources(target) == (1,)


def test_no_email_column_is_visible() -> None:
    mapping = map_header(["Name", "Company"])
    assert not mapping.has_email
    assert map_header(["Company", "E-Mail"]).has_email


def test_repeated_standard_columns_become_fallbacks_in_order() -> None:
    mapping = map_header(["Work Email", "Name", "Email", "Website", "Domain"])
    assert mapping.sources("email") == (0, 2)
    assert mapping.sources("company_domain") == (3, 4)
    assert "used when 'Work Email' is blank" in mapping.columns[2].note
    assert all(c.standard for c in mapping.columns)


def test_custom_fields_get_snake_case_keys_and_collisions_are_numbered() -> None:
    mapping = map_header(["Email", "Pain Point", "pain_point", "PainPoint", "", "", "Email 2", "Full-Name?"])
    assert mapping.custom == (
        ("pain_point", 1),
        ("pain_point_2", 2),
        ("pain_point_3", 3),
        ("column_5", 4),
        ("column_6", 5),
        ("email_2", 6),
    )
    assert mapping.columns[7].target == FULL_NAME
    assert "renamed from 'pain_point'" in mapping.columns[2].note


def test_custom_key_never_shadows_a_standard_field() -> None:
    # Standard names are taken from the start, so only suffixed keys remain for look-alike columns.
    mapping = map_header(["email", "e mail 2", "company domain 2"])
    keys = [k for k, _ in mapping.custom]
    assert keys == ["e_mail_2", "company_domain_2"]
    assert not set(keys) & {"email", "company", "company_domain"}


def test_describe_explains_every_column_for_a_preview() -> None:
    lines = map_header(["E-mail", "Pain Point", "Name"]).describe()
    assert lines[0] == "column 1 'E-mail' -> email"
    assert lines[1] == "column 2 'Pain Point' -> custom field pain_point"
    assert lines[2].startswith("column 3 'Name' -> full_name (split into first_name")
