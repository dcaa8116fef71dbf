"""``outbound validate``: templates that reach for Python internals are errors before any send.

Jinja's sandbox already refuses them at render time (the send is blocked with the reason); this
finds them statically so the user hears about it from ``validate``, not from blocked enrollments.
"""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import TemplateSyntaxError, nodes

from outbound.errors import Problem
from outbound.render.checks import _parts
from outbound.render.env import TEXT_ENV
from outbound.render.errors import RenderError
from outbound.render.templates import TemplateSource
from outbound.spec.workspace import LoadedSequence

# attributes that lead from any object to the interpreter; the sandbox refuses every "_" name
_INTERNALS = frozenset({"mro", "func_globals", "f_globals", "f_locals", "gi_frame", "gi_code", "cr_frame", "tb_frame"})


def unsafe_names(source: str) -> list[str]:
    """Attribute or item names in ``source`` that the sandbox refuses (``__class__``, ``_private``, ...)."""
    try:
        ast = TEXT_ENV.parse(source)
    except TemplateSyntaxError:
        return []  # reported by the syntax check
    found: list[str] = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        name: object = node.attr if isinstance(node, nodes.Getattr) else getattr(getattr(node, "arg", None), "value", None)
        if isinstance(name, str) and (name.startswith("_") or name in _INTERNALS) and name not in found:
            found.append(name)
    return found


def check_sequence(loaded: LoadedSequence) -> Iterator[Problem]:
    source_files = TemplateSource(loaded.folder)
    for loc, source, file, _html in _parts(loaded.sequence):
        where = loaded.path
        if file is not None:
            try:
                where, source = source_files.path(file), source_files.load(file)
            except RenderError:
                continue  # reported as a missing file
        names = unsafe_names(source)
        if names:
            label = ".".join(str(x) for x in loc)
            yield Problem(where, f"{label}: uses {', '.join(names)}: Python internals are refused by the template "
                                 "sandbox (every send of this step would be blocked)")
