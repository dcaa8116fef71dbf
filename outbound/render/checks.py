"""Template checks for ``outbound validate``: syntax errors with line numbers, variables not covered."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path

from jinja2 import TemplateSyntaxError, meta, nodes

from outbound.errors import Problem
from outbound.prospects.values import STANDARD_FIELDS
from outbound.render.context import ALWAYS_PRESENT, NAMESPACE_KEYS, PROSPECT_FIELD_OF_ACCOUNT
from outbound.render.env import HTML_ENV, TEXT_ENV
from outbound.render.errors import RenderError
from outbound.render.spintax import spintax_error
from outbound.render.templates import TemplateSource
from outbound.spec.sequence import Sequence

Loc = tuple[int | str, ...]
Position = Callable[[Loc], tuple[int | None, int | None]]
# (location, line, column inside the template) -> (line, column) in the sequence file, None if unknown
TextPosition = Callable[[Loc, int, int], tuple[int, int] | None]
_GUARD_FILTERS = frozenset({"default", "d"})
_GUARD_TESTS = frozenset({"defined", "undefined", "none"})


def template_variables(template_source: str) -> set[str]:
    """Top-level variables the template reads from its context (jinja2.meta), globals such as range left out."""
    try:
        ast = TEXT_ENV.parse(template_source)
    except TemplateSyntaxError as exc:
        raise RenderError(f"template syntax error on line {exc.lineno}: {exc.message}") from None
    return set(meta.find_undeclared_variables(ast)) - set(TEXT_ENV.globals)


def variable_uses(ast: nodes.Template) -> dict[str, bool]:
    """``name`` or ``namespace.key`` -> True when every use is guarded (``| default``, ``is defined``)."""
    top = set(meta.find_undeclared_variables(ast))
    guarded: dict[str, bool] = {}
    tested: set[str] = set()

    def visit(node: nodes.Node, guard: bool) -> None:
        if isinstance(node, (nodes.Filter, nodes.Test)) and node.node is not None and (
                node.name in (_GUARD_TESTS if isinstance(node, nodes.Test) else _GUARD_FILTERS)):
            visit(node.node, True)
            if isinstance(node, nodes.Test) and node.name != "none" and (path := _path(node.node)):
                tested.add(path)
            for child in node.iter_child_nodes(exclude=("node",)):
                visit(child, False)
            return
        path = _path(node)
        if path is not None and path.partition(".")[0] in top:
            guarded[path] = guarded.get(path, True) and guard
            return
        for child in node.iter_child_nodes():
            visit(child, False)

    visit(ast, False)
    return {path: ok or path in tested for path, ok in guarded.items()}


def _path(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Name) and node.ctx == "load":
        return node.name
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
        return f"{node.node.name}.{node.attr}"
    if isinstance(node, nodes.Getitem) and isinstance(node.node, nodes.Name) and isinstance(node.arg, nodes.Const) \
            and isinstance(node.arg.value, str):
        return f"{node.node.name}.{node.arg.value}"
    return None


def check_templates(sequence: Sequence, templates: TemplateSource, *, sequence_path: Path | str | None = None,
                    position: Position | None = None, text_position: TextPosition | None = None) -> list[Problem]:
    """Compile every subject, body and HTML template of the sequence and report what is wrong.

    Errors: syntax errors and broken spintax (file:line for template files, the line in the sequence file
    for inline templates), missing files, unknown ``sender.x``/``step.x``, variables outside
    ``required_fields`` used without a default (those sends would be blocked), with a "did you mean".
    ``position`` maps a YAML location such as ("steps", 0, "body") to (line, column) in the sequence file;
    ``text_position`` a line and column inside that location's string.
    """
    where_seq = sequence_path if sequence_path is not None else f"sequence {sequence.name}"
    covered = set(sequence.required_fields) | ALWAYS_PRESENT
    problems: list[Problem] = []
    warned: set[str] = set()
    for loc, source, file, html in _parts(sequence):
        label = _dotted(loc)
        line, col = position(loc) if position else (None, None)
        path: Path | str = where_seq
        if file is not None:
            try:
                path = templates.path(file)
                source = templates.load(file)
            except RenderError as exc:
                problems.append(Problem(where_seq, f"{label}: {exc.reason}", line, col))
                continue
        at = functools.partial(_place, text_position, loc, file is None, (line, col))
        prefix = "" if file is not None else f"{label}: "
        broken = spintax_error(source)
        if broken is not None:
            b_line, b_col, exact = at(broken.line, broken.column)
            problems.append(Problem(path, prefix + (broken.detail if exact else broken.reason), b_line, b_col))
        try:
            ast = (HTML_ENV if html else TEXT_ENV).parse(source)
        except TemplateSyntaxError as exc:
            s_line = exc.lineno or 1
            e_line, e_col, exact = at(s_line, _indent(source, s_line) + 1)
            where = "" if exact else f" on template line {s_line}"
            problems.append(Problem(path, f"{prefix}template syntax error{where}: {exc.message}", e_line, e_col))
            continue
        known = sorted(covered | set(STANDARD_FIELDS))
        for var, safe in sorted(variable_uses(ast).items()):
            message = _variable_problem(var, safe, covered, known)
            if message is None or var in warned:
                continue
            warned.add(var)  # one finding per variable, at its first use
            v_line, v_col, _ = at(*_first_use(ast, source, var))
            # an unguarded variable outside required_fields would block sends at run time: an error now
            problems.append(Problem(path, f"{label}: {message}", v_line, v_col))
    return problems


def _place(text_position: TextPosition | None, loc: Loc, inline: bool, fallback: tuple[int | None, int | None],
           t_line: int, t_col: int) -> tuple[int | None, int | None, bool]:
    """(line, column, exact) of a spot in a template: in its own file, or mapped into the sequence file
    (not exact: the location's key, when the value's lines are not the file's)."""
    if not inline:
        return t_line, t_col, True
    mapped = text_position(loc, t_line, t_col) if text_position else None
    return (*mapped, True) if mapped is not None else (*fallback, False)


def _indent(source: str, line: int) -> int:
    lines = source.splitlines()
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    return len(text) - len(text.lstrip())


def _first_use(ast: nodes.Template, source: str, var: str) -> tuple[int, int]:
    """Template line and column of the first ``var`` (Jinja knows lines only; the column is found in the text)."""
    head = var.partition(".")[0]
    lines = [n.lineno for n in ast.find_all(nodes.Name) if n.name == head]
    line = min(lines) if lines else 1
    text = source.splitlines()[line - 1] if 0 < line <= len(source.splitlines()) else ""
    return line, max(text.find(head), 0) + 1


def _variable_problem(var: str, safe: bool, covered: set[str], known: list[str]) -> str | None:
    head, dot, key = var.partition(".")
    if dot and head in NAMESPACE_KEYS and key not in NAMESPACE_KEYS[head]:
        return f"unknown variable {var}{_did_you_mean(key, NAMESPACE_KEYS[head], head + '.')} " \
               f"({head} has {', '.join(NAMESPACE_KEYS[head])})"
    if safe or head in TEXT_ENV.globals or head in ("sender", "step", "unsubscribe_url"):
        return None
    if head == "prospect":
        field = key if dot else None
    elif head == "account":
        field = PROSPECT_FIELD_OF_ACCOUNT.get(key) if dot else None
    else:
        field = head
    if field is None or field in covered:
        return None
    guess = difflib.get_close_matches(field, [k for k in known if k != field], n=1, cutoff=0.75)
    if guess and head != "account":  # a typo of a known field: the fix is the name, not required_fields
        return f"undefined variable {var}: did you mean {var.replace(field, guess[0], 1)}?"
    return (f"undefined variable {var}: add '{field}' to required_fields or write "
            f"{{{{ {var} | default('...') }}}} (a prospect without it could not be sent this step)")


def _did_you_mean(word: str, known: tuple[str, ...], prefix: str = "") -> str:
    guess = difflib.get_close_matches(word, list(known), n=1, cutoff=0.75)
    return f": did you mean {prefix}{guess[0]}?" if guess else ""


def _parts(sequence: Sequence) -> Iterator[tuple[Loc, str, str | None, bool]]:
    """(location, inline source, file name, is_html) for every template of every step and variant."""
    for i, step in enumerate(sequence.steps):
        owners: list[tuple[Loc, object]] = [(("steps", i), step)]
        owners += [(("steps", i, "variants", j), v) for j, v in enumerate(step.variants)]
        for base, owner in owners:
            for key, html in (("subject", False), ("body", False), ("body_file", False), ("html", True),
                              ("html_file", True)):
                value = getattr(owner, key)
                if not value:
                    continue
                if key.endswith("_file"):
                    yield (*base, key), "", value, html
                else:
                    yield (*base, key), value, None, html


def _dotted(loc: Loc) -> str:
    return ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in loc).replace(".[", "[")
