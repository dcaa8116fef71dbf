"""The sandbox: strict variables named when missing, defaults, escapes refused, data never evaluated."""

from __future__ import annotations

from typing import Any

import pytest

from outbound.render.context import template_context
from outbound.render.env import Namespace, render
from outbound.render.errors import MissingVariables, RenderError
from tests.unit.render.helpers import domain, prospect


def ctx(**fields: Any) -> dict[str, Any]:
    return template_context(prospect(**fields), domain().mailboxes[0], "intro", 1, "https://t.acme.io/u/x")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Hi {{ first_name }}", "Hi Bob"),
        ("Hi {{ prospect.first_name }}", "Hi Bob"),
        ("{{ title | default('there') }}", "there"),
        ("{{ prospect.title | default('friend') }}", "friend"),
        ("{{ title | d('x') }}", "x"),
        ("{{ account.company }} / {{ account.domain | default('-') }}", "Example Ltd / -"),
        ("{{ sender.name }} {{ sender.first_name }} {{ sender.address }}", "Alex Müller Alex alex@acme.io"),
        ("{{ step.id }}#{{ step.number }}", "intro#1"),
        ("{{ unsubscribe_url }}", "https://t.acme.io/u/x"),
        ("{% if title is defined %}T{% else %}none{% endif %}", "none"),
        ("{{ first_name | upper }}", "BOB"),
    ],
)
def test_variables_and_default(source: str, expected: str) -> None:
    assert render(source, ctx()) == expected


def test_blank_value_counts_as_missing_and_takes_default() -> None:
    assert render("{{ first_name | default('there') }}", ctx(first_name="  ")) == "there"
    with pytest.raises(MissingVariables) as err:
        render("Hi {{ first_name }}", ctx(first_name=""))
    assert err.value.variables == ["first_name"]


@pytest.mark.parametrize(
    ("source", "missing"),
    [
        ("Hi {{ first_name }}", ["first_name"]),
        ("{{ first_name }} at {{ title }} ({{ city }})", ["first_name", "title", "city"]),
        ("{{ prospect.city }}", ["prospect.city"]),
        ("{{ first_name.upper() }}", ["first_name"]),
        ("{% for x in hobbies %}{{ x }}{% endfor %}", ["hobbies"]),
        ("{% if title %}yes{% endif %}", ["title"]),
        ("{{ title }} {{ title }}", ["title"]),
        ("{{ title + 1 }}{{ city }}", ["title"]),  # arithmetic on the gap stops the search after naming it
    ],
)
def test_missing_variables_are_named_never_blank(source: str, missing: list[str]) -> None:
    with pytest.raises(MissingVariables) as err:
        render(source, ctx(first_name=None), where="step intro body")
    assert err.value.variables == missing
    assert all(name in err.value.reason for name in missing)
    assert "step intro body" in err.value.reason


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner.__init__.__globals__.os }}",
        "{{ prospect._data }}",
        "{{ first_name.__class__ }}",
        "{{ '{0.__class__}'.format(first_name) }}",
        "{{ 'x' * 100000000 }}",
        "{{ 2 ** 100000 }}",
        "{{ lipsum.__globals__['os'] }}",
    ],
)
def test_sandbox_refuses_escapes_with_render_error(source: str) -> None:
    with pytest.raises(RenderError) as err:
        render(source, ctx())
    assert not isinstance(err.value, MissingVariables)
    assert err.value.reason


@pytest.mark.parametrize(
    "source",
    ["{{ prospect.clear() }}", "{% set _ = prospect.update({'a': 1}) %}", "{{ [1].append(2) }}"],
)
def test_templates_cannot_mutate(source: str) -> None:
    with pytest.raises(RenderError):
        render(source, ctx())


@pytest.mark.parametrize(
    "value",
    ["{{ 7*7 }}", "{% for i in range(3) %}x{% endfor %}", "{{ ''.__class__ }}", "{a|b}", "{#c#}"],
)
def test_prospect_values_are_data_not_templates(value: str) -> None:
    assert render("Hi {{ first_name }}!", ctx(first_name=value)) == f"Hi {value}!"


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{{ first_name", "syntax error on line 1"),
        ("a\nb\n{% if x %}", "syntax error on line 3"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{{ first_name.nope }}", "has no attribute 'nope'"),
    ],
)
def test_template_errors_become_reasons(source: str, fragment: str) -> None:
    with pytest.raises(RenderError) as err:
        render(source, ctx(), where="step x body")
    assert fragment in err.value.reason
    assert err.value.reason.startswith("step x body")


def test_html_autoescapes_prospect_values_text_does_not() -> None:
    c = ctx(company="<b>A&B</b>")
    assert render("{{ company }}", c, html=True) == "&lt;b&gt;A&amp;B&lt;/b&gt;"
    assert render("{{ company }}", c) == "<b>A&B</b>"


def test_custom_fields_top_level_and_namespaced_reserved_names_win() -> None:
    c = ctx(fields={"city": "Lyon", "items": "boxes", "sender": "spoof"})
    assert render("{{ city }} {{ prospect.city }} {{ prospect.items }}", c) == "Lyon Lyon boxes"
    assert render("{{ sender.address }} {{ prospect.sender }}", c) == "alex@acme.io spoof"


def test_namespace_is_read_only_mapping() -> None:
    ns = Namespace("prospect", {"a": 1})
    assert ns["a"] == 1 and "a" in ns and list(ns) == ["a"] and len(ns) == 1
    assert "b" in ns.with_value("b", 2) and "b" not in ns


def test_sender_without_display_name_has_no_name() -> None:
    c = template_context(prospect(), domain(display_name="").mailboxes[0], "s", 1, None)
    with pytest.raises(MissingVariables) as err:
        render("{{ sender.first_name }} {{ unsubscribe_url }}", c)
    assert err.value.variables == ["sender.first_name", "unsubscribe_url"]
