"""Spintax ``{a|b|c}``: one option chosen per prospect and step, stable across runs.

Spinning runs on the template *source* before Jinja, so prospect values are never spun (they are
data). Jinja's own ``{{ }}``, ``{% %}`` and ``{# #}`` are copied through untouched, also inside an
option: ``{Hi {{ first_name }}|Hello}``. A ``{...}`` without ``|`` (CSS, ``{single}``) stays literal;
a ``{`` followed by a ``|`` and never closed (``{Hi|Hello {{ first_name }},``) is broken spintax:
``spin`` raises SpintaxError rather than mail the braces to a prospect, and ``spintax_error`` finds it
for ``outbound validate``. Known limit: a group that starts with a nested group, ``{{a|b}|c}``, reads
as Jinja's ``{{``; write ``{x {a|b}|c}`` style groups instead.
"""

from __future__ import annotations

import functools
import hashlib

from outbound.render.errors import RenderError

_JINJA_CLOSERS = {"{": "}}", "%": "%}", "#": "#}"}


class SpintaxError(RenderError):
    """A group opened at ``offset`` (0-based, in the template source) has a ``|`` but no closing ``}``."""

    def __init__(self, text: str, offset: int) -> None:
        self.offset = offset
        self.line = text.count("\n", 0, offset) + 1
        self.column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        excerpt = text[offset:].split("\n", 1)[0]
        excerpt = excerpt if len(excerpt) <= 40 else excerpt[:39] + "…"
        hint = " (the '}}' there closes the Jinja variable, not the group)" if "}}" in excerpt else ""
        # ``detail`` has no position: validate reports it at file:line:col
        self.detail = f"broken spintax: the group '{excerpt}' is never closed{hint}; add the '}}' after its last option"
        super().__init__(f"{self.detail} (template line {self.line}, column {self.column})")


def spintax_error(text: str) -> SpintaxError | None:
    """The first broken group of ``text``, or None (what ``spin`` would raise, without choosing)."""
    try:
        spin(text, "")
    except SpintaxError as exc:
        return exc
    return None


def spin(text: str, seed: str) -> str:
    """``text`` with every spintax group replaced by one option chosen from ``seed`` and its position.

    SpintaxError when a group is never closed: the braces must never reach a prospect."""
    if "|" not in text or "{" not in text or not _has_groups(text):
        return text
    return _spin(text, seed)


@functools.lru_cache(maxsize=1024)
def _has_groups(text: str) -> bool:
    # most templates hold a `|` only inside Jinja (`{{ x | default(..) }}`): scanning them char by
    # char on every send cost more than rendering them. A chosen group always drops its braces.
    return _spin(text, "") != text


def _spin(text: str, seed: str) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "{":
            end = _jinja_end(text, i)
            if end is not None:
                out.append(text[i:end])
                i = end
                continue
            group = _group(text, i, seed)
            if group is not None:
                out.append(group[0])
                i = group[1]
                continue
        out.append(c)
        i += 1
    return "".join(out)


def _jinja_end(text: str, i: int) -> int | None:
    """End of the Jinja block opening at ``i`` (or the end of text if unclosed); None if none opens there."""
    closer = _JINJA_CLOSERS.get(text[i + 1]) if i + 1 < len(text) else None
    if closer is None:
        return None
    j = text.find(closer, i + 2)
    return len(text) if j < 0 else j + 2


def _group(text: str, start: int, seed: str) -> tuple[str, int] | None:
    """The chosen option of the group opening at ``start`` and the index after it, or None if no group."""
    options: list[str] = []
    cur: list[str] = []
    j, n = start + 1, len(text)
    while j < n:
        c = text[j]
        if c == "{":
            end = _jinja_end(text, j)
            if end is not None:
                cur.append(text[j:end])
                j = end
                continue
            inner = _group(text, j, seed)
            if inner is None:
                cur.append(c)
                j += 1
            else:
                cur.append(inner[0])
                j = inner[1]
            continue
        if c == "|":
            options.append("".join(cur))
            cur = []
        elif c == "}":
            options.append("".join(cur))
            if len(options) < 2:
                return None
            return options[pick(seed, start, len(options))], j + 1
        else:
            cur.append(c)
        j += 1
    if options:  # a '|' was seen: a group meant as spintax, whose '}' is missing
        raise SpintaxError(text, start)
    return None


def pick(seed: str, position: int, count: int) -> int:
    """A stable index in ``range(count)`` for this seed and group position (not Python's salted hash())."""
    digest = hashlib.blake2b(f"{seed}\x00{position}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count
