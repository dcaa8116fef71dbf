"""Template checks for ``outbound validate``: syntax errors with lines, uncovered and unknown variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from outbound.errors import Problem
from outbound.render import RenderError, TemplateSource, check_templates, template_variables
from tests.unit.render.helpers import TEMPLATES, sequence


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Hi {{ first_name }}", {"first_name"}),
        ("{{ prospect.title }} {{ sender.name }}", {"prospect", "sender"}),
        ("{% set x = 1 %}{{ x }}{% for i in range(3) %}{{ i }}{% endfor %}", set()),
        ("{{ a | default(b) }}", {"a", "b"}),
        ("{Hi|Hello} {{ company }}", {"company"}),
        ("plain text", set()),
    ],
)
def test_template_variables(source: str, expected: set[str]) -> None:
    assert template_variables(source) == expected


def test_template_variables_syntax_error() -> None:
    with pytest.raises(RenderError) as err:
        template_variables("a\n{{ b")
    assert "line 2" in err.value.reason


def check(steps: list[dict[str, Any]], **extra: Any) -> list[Problem]:
    return check_templates(sequence(steps, **extra), TemplateSource(TEMPLATES), sequence_path="seq.yaml",
                           position=lambda loc: (10 + len(loc), 3))


def test_clean_sequence_has_no_problems() -> None:
    steps: list[dict[str, Any]] = [{"id": "a", "subject": "Hi {{ first_name | default('there') }}", "body_file": "intro.txt",
              "html_file": "intro.html"},
             {"id": "b", "thread": True, "body": "{% if title is defined %}{{ title }}{% endif %} {{ sender.name }}"}]
    assert check(steps, required_fields=["company"]) == []


def test_syntax_error_in_file_reports_file_and_line() -> None:
    problems = check([{"id": "a", "subject": "s", "body_file": "broken.txt"}])
    assert len(problems) == 1
    p = problems[0]
    assert p.severity == "error" and str(p.path).endswith("broken.txt")
    assert p.line == 4 and "endif" in p.message  # Jinja reports the end of the file for an unclosed block


def test_syntax_error_inline_reports_location_and_template_line() -> None:
    problems = check([{"id": "a", "subject": "s", "body": "ok\n{{ first_name"}])
    assert [(p.path, p.line, p.severity) for p in problems] == [("seq.yaml", 13, "error")]
    assert "steps[0].body" in problems[0].message and "template line 2" in problems[0].message


def test_missing_file_is_an_error_naming_it() -> None:
    problems = check([{"id": "a", "subject": "s", "body": "b", "variants": [{"id": "v", "body_file": "gone.txt"}]}])
    assert len(problems) == 1 and problems[0].severity == "error"
    assert "gone.txt" in problems[0].message and "steps[0].variants[0].body_file" in problems[0].message


@pytest.mark.parametrize(
    ("body", "required", "warned"),
    [
        ("Hi {{ first_name }}", [], ["first_name"]),
        ("Hi {{ first_name }}", ["first_name"], []),
        ("Hi {{ first_name | default('x') }} {{ first_name }}", [], ["first_name"]),
        ("{{ prospect.city }}", [], ["prospect.city"]),
        ("{{ prospect.city }}", ["city"], []),
        ("{{ account.domain }}", [], ["account.domain"]),
        ("{{ account.domain }}", ["company_domain"], []),
        ("{{ email }} {{ unsubscribe_url }} {{ step.number }} {{ sender.address }}", [], []),
        ("{{ (city ~ '!') | default('x') }}", [], ["city"]),
        ("{% for x in range(2) %}{{ x }}{% endfor %}", [], []),
    ],
)
def test_uncovered_variables_warned(body: str, required: list[str], warned: list[str]) -> None:
    problems = check([{"id": "a", "subject": "s", "body": body}], required_fields=required)
    assert all(p.severity == "error" for p in problems)
    assert [p.message.split("variable ")[1].split(":")[0] for p in problems] == warned


def test_unknown_namespace_keys_are_errors_and_one_finding_per_variable() -> None:
    steps = [{"id": "a", "subject": "{{ sender.phone }}", "body": "{{ sender.phone }} {{ step.name }} {{ city }}"},
             {"id": "b", "subject": "{{ city }}", "body": "x"}]
    problems = check(steps)
    found = sorted((p.severity, p.message.split(": ", 1)[1].split(" (")[0]) for p in problems)
    assert found == [("error", "undefined variable city: add 'city' to required_fields or write "
                                "{{ city | default('...') }}"),
                     ("error", "unknown variable sender.phone"), ("error", "unknown variable step.name")]


def test_template_outside_folder_reported() -> None:
    problems = check([{"id": "a", "subject": "s", "body_file": "../outside.txt"}])
    assert len(problems) == 1 and "outside the sequence folder" in problems[0].message


def test_a_misspelt_variable_gets_the_nearest_known_name_not_required_fields() -> None:
    problems = check([{"id": "a", "subject": "s", "body": "{{ frist_name }} {{ prospect.compnay }} {{ sender.frist_name }}"}],
                     required_fields=["first_name"])
    messages = sorted(p.message for p in problems)
    assert messages == ["steps[0].body: undefined variable frist_name: did you mean first_name?",
                        "steps[0].body: undefined variable prospect.compnay: did you mean prospect.company?",
                        "steps[0].body: unknown variable sender.frist_name: did you mean sender.first_name? "
                        "(sender has name, first_name, address)"]
    # a name close to nothing known keeps the advice to declare it
    far = check([{"id": "a", "subject": "s", "body": "{{ city }}"}])
    assert "add 'city' to required_fields" in far[0].message


def _mapped(loc: tuple[int | str, ...], line: int, col: int) -> tuple[int, int]:
    return 100 + line, 10 + col  # as YamlDocument.text_position does for a literal block


def test_inline_problems_are_placed_at_their_own_line_when_the_text_can_be_mapped() -> None:
    body = "Hi {{ first_name }},\n  {bumping this|floating this\n{{ frist_name }}\n  {% if x %}"
    problems = check_templates(sequence([{"id": "a", "subject": "s", "body": body}], required_fields=["first_name"]),
                               TemplateSource(TEMPLATES), sequence_path="seq.yaml",
                               position=lambda loc: (10, 3), text_position=_mapped)
    found = sorted((p.line, p.column, p.message.split(": ", 1)[1].split(";")[0][:60]) for p in problems)
    assert found == [(102, 13, "broken spintax: the group '{bumping this|floating this' is n"),
                     (104, 13, "template syntax error: Unexpected end of template. Jinja was")]
    # unmapped (a folded value), the message still names the template line
    unmapped = check([{"id": "a", "subject": "s", "body": body}], required_fields=["first_name"])
    assert sorted((p.line, p.message.split(": ", 2)[1]) for p in unmapped) == [
        (13, "broken spintax"), (13, "template syntax error on template line 4")]


def test_broken_spintax_in_a_template_file_points_into_the_file(tmp_path: Path) -> None:
    (tmp_path / "bump.txt").write_text("Hi,\n\n{Happy|Glad to help.\n")
    problems = check_templates(sequence([{"id": "a", "subject": "{quick|short", "body_file": "bump.txt"}]),
                               TemplateSource(tmp_path), sequence_path="seq.yaml", position=lambda loc: (10, 3))
    placed = sorted((str(p.path), p.line, p.column, p.message.split(";")[0]) for p in problems)
    assert placed == [
        (str(tmp_path / "bump.txt"), 3, 1, "broken spintax: the group '{Happy|Glad to help.' is never closed"),
        ("seq.yaml", 10, 3, "steps[0].subject: broken spintax: the group '{quick|short' is never closed"),
    ]
