"""``[daemon] poll_lease``: how long a daemon holds an IMAP mailbox's poll lease (renewed while it polls)."""

from datetime import timedelta
from pathlib import Path

import pytest

from outbound.config import DaemonSettings, Settings, load_config
from outbound.errors import ConfigError
from tests.fixtures.common import ROOT


def _load(tmp_path: Path, value: str) -> timedelta:
    path = tmp_path / "config.toml"
    path.write_text(f"[daemon]\npoll_lease = {value}\n")
    return load_config(path).settings.daemon.poll_lease


def test_default_and_shipped_value() -> None:
    assert Settings().daemon.poll_lease == DaemonSettings().poll_lease == timedelta(minutes=2)
    assert load_config(ROOT / "config.toml").settings.daemon.poll_lease == timedelta(minutes=2)
    assert load_config(ROOT / "outbound" / "workspace_template" / "config.toml").settings.daemon.poll_lease == \
        timedelta(minutes=2)


@pytest.mark.parametrize(("value", "expected"), [
    ('"90s"', timedelta(seconds=90)),
    ('"5m"', timedelta(minutes=5)),
    ('"1h30m"', timedelta(hours=1, minutes=30)),
    ("45", timedelta(seconds=45)),
    ("2.5", timedelta(seconds=2.5)),
])
def test_durations_are_read_like_the_other_daemon_durations(tmp_path: Path, value: str, expected: timedelta) -> None:
    assert _load(tmp_path, value) == expected


@pytest.mark.parametrize(("value", "message"), [
    ('"soon"', r"\[daemon\.poll_lease\] cannot read 'soon' as a duration"),
    ("-3", r"\[daemon\.poll_lease\] a duration cannot be negative"),
    ("true", r"\[daemon\.poll_lease\] expected a duration such as"),
    ('"0s"', r"\[daemon\.poll_lease\] must be a positive duration such as '2m'"),
    ("0", r"\[daemon\.poll_lease\] must be a positive duration such as '2m'"),
])
def test_invalid_values_name_the_setting(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"config\.toml:2:1: " + message):  # the setting's line
        _load(tmp_path, value)


def test_a_misspelt_name_is_an_unknown_setting(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[daemon]\npoll_leases = '2m'\n")
    with pytest.raises(ConfigError, match=r"\[daemon\.poll_leases\] unknown setting"):
        load_config(path)
