"""``--log-json`` lines carry their facts as keys, not a message with a Python dict in it."""

from __future__ import annotations

import json
import logging

from outbound.cli.logs import JsonFormatter, TextFormatter
from outbound.core.logline import counted, fields


def _record(message: str, *args: object, extra: dict[str, object] | None = None) -> logging.LogRecord:
    logger = logging.getLogger("outbound.test")
    return logger.makeRecord(logger.name, logging.INFO, __file__, 1, message, args, None, extra=extra)


def test_json_lines_carry_the_fields_and_the_text_line_reads_as_before() -> None:
    counts = {"delivered": 3, "retry": 1}
    record = _record("tick: %s; planned %d", counted(counts), 2,
                     extra=fields(job="send", counts=counts, planned=2, mailbox=None))
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "tick: delivered 3, retry 1; planned 2"
    assert line["counts"] == counts and line["planned"] == 2 and line["job"] == "send"
    assert "mailbox" not in line, "a field that is None is left out"
    assert "{" not in line["message"]
    assert TextFormatter().format(record).endswith("outbound.test: tick: delivered 3, retry 1; planned 2")


def test_a_field_never_overwrites_the_lines_own_keys() -> None:
    record = _record("sent", extra=fields(level="spoofed", message="spoofed", mailbox="a@b.example", send_id=7))
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "info" and line["message"] == "sent"
    assert line["mailbox"] == "a@b.example" and line["send_id"] == 7
