"""key_positions: the line of each TOML table and key, without taking a value's text for a key."""

from __future__ import annotations

import tomllib

from outbound.core.toml_lines import key_positions

TEXT = '''# a comment = not a key
title = "x = 1"
[daemon]
send_interval = "30s"   # trailing = comment
  "quoted key" = 1
multi = """
fake = 1
"""
array = [
  "a = b",
  2,
]
dotted.sub = 3
[ sending . retry ]
limit = 5
'''


def test_tables_keys_and_values_that_look_like_keys() -> None:
    tomllib.loads(TEXT)  # the scanner only ever sees text tomllib accepted
    pos = key_positions(TEXT)
    assert pos[("title",)] == (2, 1)
    assert pos[("daemon",)] == (3, 1)
    assert pos[("daemon", "send_interval")] == (4, 1)
    assert pos[("daemon", "quoted key")] == (5, 3)
    assert pos[("daemon", "multi")] == (6, 1)
    assert pos[("daemon", "array")] == (9, 1)
    assert pos[("daemon", "dotted")] == pos[("daemon", "dotted", "sub")] == (13, 1)
    assert pos[("sending", "retry", "limit")] == (15, 1)
    assert ("daemon", "fake") not in pos and ("daemon", "a") not in pos and ("a comment",) not in pos
