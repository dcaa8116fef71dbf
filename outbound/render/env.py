"""The Jinja2 sandbox: strict undefined values, compiled-template cache, errors turned into reasons.

Templates come from the user's sequence files; prospect values are data passed in the context and
never compiled. Missing values raise (never render blank) and are reported by name, all of them.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterator, Mapping
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError, TemplateRuntimeError
from jinja2.runtime import new_context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

from outbound.render.errors import MissingVariables, RenderError

MAX_OUTPUT = 1_000_000  # characters of one rendered part
_MAX_REPEAT = 100_000  # longest string/list a template may build with * (a typo, not a message)
_MAX_MISSING_PASSES = 20


class Namespace:
    """A read-only group of values (``prospect``, ``sender``...) whose misses are named ``label.key``.

    Deliberately not a dict: ``prospect.items`` must find the field "items", not the dict method.
    """

    __slots__ = ("_data", "_label")

    def __init__(self, label: str, data: Mapping[str, Any]) -> None:
        self._label = label
        self._data = dict(data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def with_value(self, key: str, value: Any) -> Namespace:
        return Namespace(self._label, {**self._data, key: value})

    def __repr__(self) -> str:
        return f"<{self._label}>"


class _Missing(UndefinedError):
    """An UndefinedError that knows which variable (``first_name``, ``prospect.title``) was missing."""

    def __init__(self, message: str | None = None, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


class _NamedStrictUndefined(StrictUndefined):
    __slots__ = ()

    def __init__(self, hint: str | None = None, obj: Any = missing, name: str | None = None,
                 exc: type[TemplateRuntimeError] = UndefinedError) -> None:
        super().__init__(hint, obj, name, exc)
        if exc is UndefinedError and hint is None:
            # Keep the sandbox's SecurityError as is; plain misses carry the variable's name.
            self._undefined_exception = functools.partial(_Missing, variable=_variable(obj, name))  # type: ignore[assignment]


def _variable(obj: Any, name: Any) -> str | None:
    if not isinstance(name, str):
        return None
    if obj is missing:
        return name
    if isinstance(obj, Namespace):
        return f"{obj._label}.{name}"
    return None  # e.g. an attribute of a string: a template bug, reported with Jinja's message


class _Sandbox(ImmutableSandboxedEnvironment):
    """Also refuses ``'x' * 10**9``-style operations that would exhaust memory."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**" and isinstance(right, (int, float)) and abs(right) > 64:
            raise SecurityError("exponent too large")
        if op == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int) and len(seq) * count > _MAX_REPEAT:
                    raise SecurityError("repetition too large")
            return operator.mul(left, right)
        return super().call_binop(context, op, left, right)


def _make_env(html: bool) -> _Sandbox:
    # trim_blocks/lstrip_blocks: a `{% if %}` on its own line leaves no blank line in plain text.
    return _Sandbox(undefined=_NamedStrictUndefined, autoescape=html, trim_blocks=True, lstrip_blocks=True,
                    keep_trailing_newline=True)


TEXT_ENV = _make_env(html=False)
HTML_ENV = _make_env(html=True)


def syntax_reason(exc: TemplateSyntaxError, where: str) -> str:
    return f"{where}: template syntax error on line {exc.lineno}: {exc.message}"


@functools.lru_cache(maxsize=1024)
def _compile(source: str, html: bool) -> Template:
    return (HTML_ENV if html else TEXT_ENV).from_string(source)


def compile_template(source: str, *, html: bool = False, where: str = "template") -> Template:
    try:
        return _compile(source, html)
    except TemplateSyntaxError as exc:
        raise RenderError(syntax_reason(exc, where)) from None


@functools.lru_cache(maxsize=1024)
def _flat_globals(template: Template) -> dict[str, Any]:
    # ``template.globals`` is a ChainMap over the environment's; Jinja copies it key by key into
    # every render's context (a fifth of a render's time). Neither changes once built.
    return dict(template.globals)


def _render_once(template: Template, context: dict[str, Any]) -> str:
    """``template.render(context)``, with the globals flattened once (same output, same exceptions)."""
    ctx = new_context(template.environment, template.name, template.blocks, context, False,
                      _flat_globals(template))
    return template.environment.concat(template.root_render_func(ctx))


def render(source: str, variables: Mapping[str, Any], *, html: bool = False, where: str = "template") -> str:
    """Render ``source`` in the sandbox; RenderError (MissingVariables for absent values) on failure."""
    template = compile_template(source, html=html, where=where)
    context = dict(variables)
    found: list[str] = []
    for _ in range(_MAX_MISSING_PASSES):
        try:
            out = _render_once(template, context)
        except _Missing as exc:
            if exc.variable is None or exc.variable in found:
                if found:
                    break
                raise RenderError(f"{where}: {exc.message}") from None
            # Fill the gap with a lenient placeholder and render again to name every missing variable.
            found.append(exc.variable)
            context = _with_placeholder(context, exc.variable)
            continue
        except SecurityError as exc:
            raise RenderError(f"{where}: refused by the template sandbox: {exc.message}") from None
        except Exception as exc:  # any runtime error in user template code becomes a reason, never a traceback
            if found:
                break
            detail = exc.message if isinstance(exc, TemplateError) else f"{type(exc).__name__}: {exc}"
            raise RenderError(f"{where}: template error: {detail}") from None
        if found:
            break
        if len(out) > MAX_OUTPUT:
            raise RenderError(f"{where}: the rendered text is longer than {MAX_OUTPUT} characters")
        return out
    raise MissingVariables(found, where)


def _with_placeholder(context: dict[str, Any], variable: str) -> dict[str, Any]:
    head, _, attr = variable.partition(".")
    placeholder = ChainableUndefined(name=variable)
    if attr and isinstance(context.get(head), Namespace):
        return {**context, head: context[head].with_value(attr, placeholder)}
    return {**context, head: placeholder}
