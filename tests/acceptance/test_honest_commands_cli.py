"""Commands that tell the truth, through the CLI on temporary workspaces: ``send --once`` exit
codes, ``preview`` in the prospect's words (``--raw`` for the wire), ``status`` while the window is shut."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.conftest import Cli, copy_workspace, write_csv
from tests.fixtures.common import free_port
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.daemon_proc import ALWAYS_OPEN
from tests.integration.engine.workspace import add_prospects, build, domain, three_step_sequence

NOW = "2026-11-24T10:00:00Z"  # a Tuesday


def _engine_workspace(tmp_path: Path, port: int) -> Cli:
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [three_step_sequence(window=ALWAYS_OPEN)],
               [domain("d0.test", port, 1, gap={"min": 0, "max": 0}, smtp={"host": "127.0.0.1", "port": port,
                                                                            "tls": "none", "timeout": 3})],
               settings="[daemon]\nhealth_checks = false\n[sending]\nretry_base = \"1m\"\n")
    add_prospects(tw, 2, "seq")
    return Cli(config=tw.root / "config.toml", cwd=tmp_path)


def test_send_once_exits_1_when_sends_fail_0_when_they_go_and_2_on_a_config_error(smtp_sink: SmtpSink,
                                                                                    tmp_path: Path) -> None:
    down = _engine_workspace(tmp_path / "down", free_port())  # nothing listens there
    failed = down("send", "--once", "--now", NOW).failed(1)
    assert "2 send(s) did not go out" in failed.err, failed.text
    fine = _engine_workspace(tmp_path / "up", smtp_sink.port)
    assert "delivered" in fine("send", "--once", "--now", NOW).ok().out
    assert len(smtp_sink.messages) == 2
    config = tmp_path / "up" / "ws" / "config.toml"
    config.write_text(config.read_text() + "[inbox]\nsoft_bounce_limitt = 3\n")
    broken = fine("send", "--once", "--now", NOW).failed(2)
    assert "soft_bounce_limitt" in broken.err
    assert fine("send", "--now", NOW).failed(2).err  # without --once: a usage error
    assert len(smtp_sink.messages) == 2


def _preview_workspace(initialised: Path, tmp_path: Path) -> Cli:
    cli = Cli(config=copy_workspace(initialised, tmp_path / "ws"), cwd=tmp_path)
    people = write_csv(tmp_path / "people.csv", "email,first_name,last_name,company,pain_point,timezone",
                       ["zoe@mueller.de,Zoë,Brandt,Müller Straße GmbH,lange Einarbeitung,Europe/Berlin"])
    cli("prospects", "import", str(people)).ok()
    return cli


def test_preview_shows_what_the_prospect_reads_and_raw_the_wire(initialised: Path, tmp_path: Path) -> None:
    cli = _preview_workspace(initialised, tmp_path)
    text = cli("preview", "founders-q3", "--prospect", "zoe@mueller.de", "--step", "intro",
               "--now", "2026-12-01T09:30:00Z").ok().out
    assert "Subject: question about Müller Straße GmbH" in text, text
    assert "To: Zoë Brandt <zoe@mueller.de>" in text
    assert "Variant: " in text and "Scheduled: Tue 2026-12-01 10:30 CET" in text and "Europe/Berlin" in text
    assert "Hi Zoë," in text
    assert "=?utf-8?" not in text and "Content-Transfer-Encoding" not in text and "MIME-Version" not in text
    raw = cli("preview", "founders-q3", "--prospect", "zoe@mueller.de", "--step", "intro", "--raw",
              "--now", "2026-12-01T09:30:00Z").ok().out
    head = raw.split("\n\n", 1)[0]
    subject = next(line for line in head.splitlines() if line.startswith("Subject:"))
    assert "=?utf-8?" in subject.lower() and "MIME-Version: 1.0" in head and "Müller" not in head, head


def test_status_says_the_window_is_closed_and_when_it_opens(initialised: Path, tmp_path: Path) -> None:
    cli = Cli(config=copy_workspace(initialised, tmp_path / "ws"), cwd=tmp_path, env={"COLUMNS": "200"})
    saturday = "2026-12-05T12:00:00Z"
    shut, open_ = cli.many(("status", "--now", saturday), ("status", "--json", "--now", "2026-12-01T15:00:00Z"))
    assert "window closed, next opening Mon 2026-12-07" in shut.ok().out
    mailboxes = shut.out.split("Queued steps")[0]
    assert mailboxes.count("window closed") == 5 and "│ now " not in mailboxes, mailboxes
    boxes = json.loads(cli("status", "--json", "--now", saturday).ok().out)["mailboxes"]
    assert boxes and all(b["window_open"] is False and b["next_opening"].startswith("2026-12-07") for b in boxes)
    assert all(b["window_open"] is True and b["next_opening"] is None
               for b in json.loads(open_.ok().out)["mailboxes"])
