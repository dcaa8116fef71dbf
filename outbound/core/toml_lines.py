"""Where each table and key of a TOML text sits (tomllib keeps no positions), for errors naming a line.

A line scanner, not a parser: it runs only on text tomllib has already accepted, and knows just enough
(comments, quoted keys, multi-line strings and arrays) not to take a value's text for a key.
"""

from __future__ import annotations

import re

Key = tuple[str, ...]
_BARE = re.compile(r"[A-Za-z0-9_-]+")


def key_positions(text: str) -> dict[Key, tuple[int, int]]:
    """Dotted key path (table prefix included) -> 1-based (line, column) of its first appearance."""
    out: dict[Key, tuple[int, int]] = {}
    table: Key = ()
    open_string: str | None = None  # the closing quotes of a multi-line string we are inside
    depth = 0  # brackets still open in a multi-line array or inline table
    for number, line in enumerate(text.splitlines(), 1):
        if open_string is not None or depth:
            open_string, depth = _scan_value(line, 0, open_string, depth)
            continue
        stripped = line.lstrip()
        col = len(line) - len(stripped) + 1
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            keys, _ = _keys(stripped, 2 if stripped.startswith("[[") else 1)
            table = tuple(keys)
            out.setdefault(table, (number, col))
            continue
        keys, end = _keys(stripped, 0)
        if not keys or end >= len(stripped) or stripped[end] != "=":
            continue
        for i in range(1, len(keys) + 1):  # a.b = 1 also defines a
            out.setdefault((*table, *keys[:i]), (number, col))
        open_string, depth = _scan_value(stripped, end + 1, None, 0)
    return out


def _keys(text: str, i: int) -> tuple[list[str], int]:
    """The dotted key starting at ``text[i]`` and the index of what follows it (``=`` or ``]``)."""
    keys: list[str] = []
    while i < len(text):
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] in "\"'":
            quote = text[i]
            end = text.find(quote, i + 1)
            if end < 0:
                return keys, len(text)
            keys.append(text[i + 1:end])
            i = end + 1
        else:
            m = _BARE.match(text, i)
            if m is None:
                return keys, i
            keys.append(m.group())
            i = m.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == ".":
            i += 1
            continue
        return keys, i
    return keys, i


def _scan_value(text: str, i: int, open_string: str | None, depth: int) -> tuple[str | None, int]:
    """Walks a value's text: whether it ends inside a multi-line string, and how many brackets stay open."""
    while i < len(text):
        if open_string is not None:
            end = text.find(open_string, i)
            if end < 0:
                return open_string, depth
            i, open_string = end + 3, None
            continue
        c = text[i]
        if c == "#":
            break
        if text.startswith(('"""', "'''"), i):
            open_string, i = text[i:i + 3], i + 3
            continue
        if c in "\"'":
            end = i + 1
            while end < len(text) and text[end] != c:
                end += 2 if c == '"' and text[end] == "\\" else 1
            i = end + 1
            continue
        if c in "[{":
            depth += 1
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return open_string, depth
