"""Template mistakes never reach a prospect: `outbound validate` names broken spintax, misspelt variables
and syntax errors at the line where they sit, and a template broken while the daemon runs blocks its
sends with the reason instead of mailing the braces."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import select

from outbound.store.db import session_scope
from outbound.store.tables import Enrollment, EnrollmentState
from tests.acceptance.conftest import Cli
from tests.acceptance.test_workspace_cli import _problems
from tests.fixtures.smtp_sink import SmtpSink
from tests.integration.engine.daemon_proc import ALWAYS_OPEN, start_daemon, wait_started, wait_until
from tests.integration.engine.workspace import add_prospects, build, domain, three_step_sequence

SEQ = "sequences/agencies-reengage.yaml"
BUMP = "sequences/founders-q3/02-bump.txt.j2"


def _break(root: Path) -> None:
    seq = root / SEQ
    text = seq.read_text()
    for old, new in (("      Hi {{ first_name }},\n", "      {Hi|Hello {{ first_name }},\n"),
                     ("      {{ first_name }}, did the DNS", "      {{ frist_name }}, did the DNS"),
                     ("      {{ sender.first_name }}\n\n  - id: last",
                      "      {bumping this|floating this back up\n      {{ sender.first_name }}\n\n  - id: last"),
                     ("      Last one from me, {{ first_name }}.", "      Last one from me,\n      {{ first_name }.")):
        assert old in text, old
        text = text.replace(old, new)
    seq.write_text(text)
    bump = root / BUMP
    bump.write_text(bump.read_text().replace("Happy to send", "{Happy|Glad to send"))


def _line_of(root: Path, file: str, needle: str) -> tuple[int, int]:
    for number, line in enumerate((root / file).read_text().splitlines(), 1):
        if needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(needle)


def test_validate_names_broken_spintax_typos_and_syntax_errors_where_they_sit(workspace: Cli) -> None:
    assert workspace.config is not None
    root = workspace.config.parent
    _break(root)
    result = workspace("validate").failed()
    found = {(f, ln, col): msg for f, ln, col, msg in _problems(result.err, root)}
    expected = [
        (SEQ, "{Hi|Hello", "steps[0].body: broken spintax: the group '{Hi|Hello {{ first_name }},' is never closed "
                           "(the '}}' there closes the Jinja variable, not the group); add the '}' after its last option"),
        (SEQ, "frist_name", "steps[1].body: undefined variable frist_name: did you mean first_name?"),
        (SEQ, "{bumping this", "steps[1].body: broken spintax: the group '{bumping this|floating this back up' is "
                               "never closed"),
        (SEQ, "{{ first_name }.", "steps[2].body: template syntax error: unexpected '}'"),
        (BUMP, "{Happy|Glad", "broken spintax: the group '{Happy|Glad to send a 2-minute video"),
    ]
    for file, needle, message in expected:
        line, col = _line_of(root, file, needle)  # Jinja knows lines only: its errors point at the text's start
        assert any(message in m for m in [found.get((file, line, col), "")]), (file, line, col, message, result.err)
    assert len(found) == len(expected), result.err
    assert "required_fields" not in found[(SEQ, *_line_of(root, SEQ, "frist_name"))]  # the name, not the list
    assert f"{len(expected)} error(s)" in result.err


def test_a_template_broken_while_the_daemon_runs_blocks_its_sends_with_the_reason(smtp_sink: SmtpSink,
                                                                                 tmp_path: Path) -> None:
    seq = three_step_sequence(window=ALWAYS_OPEN)
    seq["steps"] = seq["steps"][:1]
    tw = build(tmp_path / "ws", f"sqlite:///{tmp_path / 'db.sqlite'}", [seq],
               [domain("d0.test", smtp_sink.port, 1, daily_cap=100, gap={"min": 0, "max": 0})],
               settings="[daemon]\nsend_interval = 0.2\nhealth_checks = false\n")
    template = tw.root / "sequences" / "seq" / "intro.txt.j2"
    template.parent.mkdir()
    template.write_text("{Hi|Hello} {{ first_name }}, a note.\n")
    seq["steps"][0] = {"id": "intro", "subject": "Hello {{ first_name }}", "body_file": "seq/intro.txt.j2"}
    (tw.root / "sequences" / "seq.yaml").write_text(json.dumps(seq))
    assert Cli(config=tw.root / "config.toml")("validate").ok().out.rstrip().endswith("ok")

    log = tmp_path / "daemon.log"
    proc = start_daemon(tw.root / "config.toml", log)
    try:
        assert wait_started(log, 0), log.read_text()
        template.write_text("{Hi|Hello {{ first_name }}, a note.\n")  # the user saves a broken edit
        add_prospects(tw, 2, "seq", at=datetime.now(UTC) - timedelta(hours=1))

        def blocked() -> list[str | None]:
            with session_scope(tw.engine) as s:
                rows = s.exec(select(Enrollment)).all()
                return [e.reason for e in rows if e.state == EnrollmentState.blocked]

        assert wait_until(lambda: len(blocked()) == 2, 30), log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert smtp_sink.messages == [], "nothing is mailed with its spintax braces"
    for reason in blocked():
        assert reason is not None and "broken spintax" in reason and "{Hi|Hello {{ first_name }}," in reason, reason
    # and the next command that loads the workspace says where the mistake is
    refused = Cli(config=tw.root / "config.toml")("send", "--once").failed(2)
    assert f"{template}:1:1: broken spintax" in refused.err, refused.err
