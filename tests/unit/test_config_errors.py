"""config.toml errors name the line, and a misspelt setting or section gets a "did you mean"."""

from __future__ import annotations

from pathlib import Path

import pytest

from outbound.config import load_config
from outbound.errors import ConfigError


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value).replace(str(path), "config.toml")


def test_misspelt_keys_and_sections_get_the_nearest_name_and_their_line(tmp_path: Path) -> None:
    text = ('[database]\nurl = "sqlite:///x.db"\n\n[daemon]\nbatch_size = 5\nsend_intervall = "30s"\n'
            '[sending]\ndefault_timezone = "Europe/Berln"\n[deamon]\nlease = "5m"\n[metrics]\nzzz = 1\n')
    assert _error(tmp_path, text).splitlines() == [
        "config.toml:6:1: [daemon.send_intervall] unknown setting; did you mean send_interval?",
        "config.toml:8:1: [sending.default_timezone] unknown time zone 'Europe/Berln'; did you mean Europe/Berlin?",
        "config.toml:9:1: [deamon] unknown section; did you mean daemon?",
        "config.toml:12:1: [metrics.zzz] unknown setting",
    ]


def test_toml_syntax_errors_name_line_and_column(tmp_path: Path) -> None:
    assert _error(tmp_path, "[daemon]\nlease = \n") == "config.toml:2:9: Invalid value"
