"""Log output of ``outbound run``: plain lines or JSON, with operational errors on one line.

A database that is down, locked or full, or a network error, is expected weather for a daemon: it
is logged as one line with its reason (every tick would otherwise print a 60-line traceback).
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

from sqlalchemy.exc import DBAPIError, OperationalError

from outbound.core.logline import FIELDS
from outbound.errors import OutboundError

OPERATIONAL: tuple[type[BaseException], ...] = (OperationalError, DBAPIError, OSError, TimeoutError, OutboundError)


def reason_of(exc: BaseException) -> str:
    """A one-line reason: the driver's own message for database errors, without the SQL and parameters."""
    inner = getattr(exc, "orig", None) or exc
    text = " ".join(str(inner).split()) or type(inner).__name__
    return f"{type(inner).__name__}: {text}"[:500]


def _split(record: logging.LogRecord) -> tuple[str, str | None, str | None]:
    """(message, one-line error, traceback or None) of a record."""
    message = record.getMessage()
    if not record.exc_info or record.exc_info[1] is None:
        return message, None, None
    exc = record.exc_info[1]
    if isinstance(exc, OPERATIONAL):
        return message, reason_of(exc), None
    return message, reason_of(exc), logging.Formatter().formatException(record.exc_info)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        message, error, trace = _split(record)
        line = f"{self.formatTime(record)} {record.levelname} {record.name}: {message}"
        if error:
            line += f": {error}"
        return line + ("\n" + trace if trace else "")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message, error, trace = _split(record)
        out: dict[str, object] = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                                  "level": record.levelname.lower(), "logger": record.name, "message": message}
        # the facts of the line as keys (mailbox, sequence, step, send_id, outcome, counts); never the base keys
        extra = getattr(record, FIELDS, None)
        if isinstance(extra, dict):
            out |= {k: v for k, v in extra.items() if k not in out}
        if error:
            out["error"] = error
        if trace:
            out["traceback"] = trace
        return json.dumps(out, default=str)


def configure(as_json: bool) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    root = logging.getLogger("outbound")
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("OUTBOUND_LOG_LEVEL", "INFO").upper())
