"""Load a YAML file keeping line numbers, and turn model errors into ``file:line:col`` problems."""

from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, Union

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

from outbound.errors import Problem

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class YamlDocument:
    path: Path
    data: Any  # ruamel's CommentedMap/CommentedSeq keep positions (0-based)
    lines: tuple[str, ...] = ()  # the file's text, to place a spot inside a string value

    def position(self, loc: tuple[int | str, ...]) -> tuple[int | None, int | None]:
        """1-based line and column of the deepest node of ``loc`` that exists."""
        node, line, col = self.data, 1, 1
        if isinstance(node, (CommentedMap, CommentedSeq)):
            line, col = node.lc.line + 1, node.lc.col + 1
        for key in loc:
            if isinstance(node, CommentedMap) and key in node:
                kline, kcol = node.lc.key(key)
                line, col = kline + 1, kcol + 1
                node = node[key]
            elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
                iline, icol = node.lc.item(key)
                line, col = iline + 1, icol + 1
                node = node[key]
            else:
                break
        return line, col

    def text_position(self, loc: tuple[int | str, ...], line: int, col: int = 1) -> tuple[int, int] | None:
        """Where ``line``:``col`` (1-based) of the string value at ``loc`` sits in the file, when the value's
        lines are the file's: a literal block (``key: |``) or a one-line value; None for folded values."""
        parent: Any = self.data
        for key in loc[:-1]:
            try:
                parent = parent[key]
            except (KeyError, IndexError, TypeError):
                return None
        last = loc[-1] if loc else None
        if not isinstance(parent, (CommentedMap, CommentedSeq)) or last is None:
            return None
        try:
            value = parent[last]
            vline, vcol = parent.lc.value(last) if isinstance(parent, CommentedMap) else parent.lc.item(last)
        except (KeyError, IndexError, TypeError):
            return None
        if not isinstance(value, str):
            return None
        if isinstance(value, LiteralScalarString):
            at = vline + line  # 0-based: the block's first line follows the '|' line
            if at >= len(self.lines):
                return None
            body = [t for t in self.lines[vline + 1:] if t.strip()]
            indent = len(body[0]) - len(body[0].lstrip(" ")) if body else 0
            return at + 1, indent + col
        if "\n" in value or line != 1 or vline >= len(self.lines):
            return None
        quoted = self.lines[vline][vcol:vcol + 1] in ("'", '"')
        return vline + 1, vcol + int(quoted) + col


def read_yaml(path: Path) -> YamlDocument | Problem:
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[:exc.start]
        line, column = before.count(b"\n") + 1, exc.start - (before.rfind(b"\n") + 1) + 1
        return Problem(path, f"not UTF-8 text ({exc.reason} at byte {exc.start}); save the file as UTF-8", line, column)
    except OSError as exc:
        return Problem(path, f"cannot read: {exc.strerror}")
    yaml = YAML(typ="rt", pure=True)
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(s for s in (exc.context, exc.problem) if s) or "invalid YAML"
        return Problem(path, f"YAML syntax: {what}", mark.line + 1 if mark else None, mark.column + 1 if mark else None)
    except (YAMLError, ValueError) as exc:
        return Problem(path, f"YAML syntax: {exc}")
    if data is None:
        return Problem(path, "the file is empty", 1, 1)
    if not isinstance(data, CommentedMap):
        return Problem(path, "expected a mapping of keys to values at the top level", 1, 1)
    return YamlDocument(path, data, tuple(text.splitlines()))


def validate_document(doc: YamlDocument, model: type[M], context: dict[str, Any] | None = None) -> M | list[Problem]:
    """``context``: what the model's validators read beyond the document (a workspace's own event types)."""
    try:
        return model.model_validate(_plain(doc.data), context=context)
    except ValidationError as exc:
        return [_problem(doc, model, err) for err in exc.errors()]


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _problem(doc: YamlDocument, model: type[BaseModel], err: Any) -> Problem:
    loc: tuple[int | str, ...] = tuple(p for p in err["loc"] if not _is_union_tag(p))
    line, col = doc.position(loc)
    field = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in loc).replace(".[", "[")
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1] if loc else err["loc"][-1])
        known = _keys_at(model, loc[:-1])
        guess = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"; did you mean '{guess[0]}'?" if guess else (f"; expected one of: {', '.join(sorted(known))}" if known else "")
        return Problem(doc.path, f"unknown key '{field}'{hint}", line, col)
    if kind == "missing":
        return Problem(doc.path, f"'{field}' is required", line, col)
    msg = str(err["msg"]).removeprefix("Value error, ")
    return Problem(doc.path, f"{field}: {msg}" if field else msg, line, col)


_UNION_TAG = re.compile(r"^[a-z][a-z_-]*\[.*\]$")


def _is_union_tag(part: Any) -> bool:
    # pydantic puts the chosen union member's type name into loc (e.g. 'function-after[...]')
    return isinstance(part, str) and (bool(_UNION_TAG.match(part)) or part in {"str", "int", "float", "bool", "list", "dict"})


def _keys_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        current = _strip(current)
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[0] if args else None
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part) or next(
                (f for f in current.model_fields.values() if f.alias == part), None)
            current = field.annotation if field else None
        else:
            return []
    current = _strip(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items() if not name.endswith("_")]
    return []


def _strip(tp: Any) -> Any:
    """Optional[X] -> X; Annotated[X, ...] -> X."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp
