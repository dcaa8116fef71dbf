"""Spintax: deterministic per seed, spread over options, Jinja blocks and lone braces left alone, unclosed
groups refused."""

from __future__ import annotations

from collections import Counter

import pytest

from outbound.render.spintax import SpintaxError, spin, spintax_error


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        ("{a|b|c}", {"a", "b", "c"}),
        ("x {a|b} y", {"x a y", "x b y"}),
        ("{a|{b|c}}", {"a", "b", "c"}),
        ("{a|}", {"a", ""}),
        ("{Hi {{ first_name }}|Hello {{ first_name | default('you') }}}",
         {"Hi {{ first_name }}", "Hello {{ first_name | default('you') }}"}),
        ("{a|b}{c|d}", {"ac", "ad", "bc", "bd"}),
        ("{ see {a|b} below", {"{ see a below", "{ see b below"}),
    ],
)
def test_spin_chooses_one_option(text: str, allowed: set[str]) -> None:
    seen = {spin(text, f"seed{i}") for i in range(200)}
    assert seen == allowed


@pytest.mark.parametrize(
    "text",
    [
        "no braces | at all",
        "{ alone",
        "a } b",
        "{single}",
        "{{ first_name | default('x') }}",
        "{% if a|length %}{{ a|join(',') }}{% endif %}",
        "{# {a|b} in a comment #}",
        "css { color: red }",
        "{{ unclosed jinja | x",
    ],
)
def test_spin_leaves_non_spintax_alone(text: str) -> None:
    assert spin(text, "seed") == text


def test_spin_is_deterministic_per_seed() -> None:
    text = "{Hi|Hello|Hey} {there|friend}, {quick|short} {question|note}"
    assert all(spin(text, f"p{i}") == spin(text, f"p{i}") for i in range(50))
    assert len({spin(text, f"p{i}") for i in range(200)}) > 10


def test_spin_distribution_is_close_to_uniform() -> None:
    n = 3000
    counts = Counter(spin("{a|b|c}", f"prospect{i}@example.com|seq|step") for i in range(n))
    for option in "abc":
        assert abs(counts[option] / n - 1 / 3) < 0.04, counts


def test_nested_choice_depends_on_outer() -> None:
    counts = Counter(spin("{a|{b|c}}", f"s{i}") for i in range(4000))
    assert abs(counts["a"] / 4000 - 0.5) < 0.05
    assert abs(counts["b"] / 4000 - 0.25) < 0.05


@pytest.mark.parametrize(
    ("text", "line", "column", "excerpt"),
    [
        ("{unclosed|group", 1, 1, "{unclosed|group"),
        ("ok\n  {bumping this|floating this back up", 2, 3, "{bumping this|floating this back up"),
        ("{Hi|Hello {{ first_name }},\n\nThanks", 1, 1, "{Hi|Hello {{ first_name }},"),
        ("{a|{b|c}", 1, 1, "{a|{b|c}"),
        ("{a|b} and {c|", 1, 11, "{c|"),
    ],
)
def test_a_group_with_a_bar_and_no_closing_brace_is_broken_and_never_spun(text: str, line: int, column: int,
                                                                           excerpt: str) -> None:
    found = spintax_error(text)
    assert found is not None and (found.line, found.column) == (line, column)
    assert f"the group '{excerpt}' is never closed" in found.detail
    assert f"(template line {line}, column {column})" in found.reason
    with pytest.raises(SpintaxError):
        spin(text, "seed")


def test_the_jinja_hint_names_the_closing_braces_that_belong_to_the_variable() -> None:
    found = spintax_error("{Hi|Hello {{ first_name }},")
    assert found is not None and "the '}}' there closes the Jinja variable, not the group" in found.detail
    assert spintax_error("{Hi|Hello} {{ first_name }}") is None
