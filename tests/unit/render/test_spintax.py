"""Spintax: deterministic per seed, spread over options, Jinja blocks and lone braces left alone."""

from __future__ import annotations

from collections import Counter

import pytest

from outbound.render.spintax import spin


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
        "{unclosed|group",
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
