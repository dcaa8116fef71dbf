"""`outbound preview --raw` as a subprocess: each step rendered as it would be sent, and clear errors."""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import Parser
from pathlib import Path

import pytest

from tests.acceptance.conftest import SECRET, Cli, Result, copy_workspace, write_csv

RULE = re.compile(r"^─+ step (\S+) ─+$", re.M)
NOW = "2026-12-01T09:30:00Z"


@pytest.fixture(scope="module")
def cli(initialised: Path, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    root = tmp_path_factory.mktemp("preview")
    cli = Cli(config=copy_workspace(initialised, root / "ws"), cwd=root)
    people = write_csv(root / "people.csv", "email,first_name,last_name,company,pain_point,timezone", [
        "ann@acme.com,Ann,Lee,Acme,slow onboarding,Europe/Berlin",
        "nofirst@acme.com,,,Acme,,",
    ])
    cli("prospects", "import", str(people)).ok()
    return cli


def _messages(result: Result) -> dict[str, EmailMessage]:
    parts = RULE.split(result.out)
    assert parts[0].strip() == "", parts[0]
    out: dict[str, EmailMessage] = {}
    for step, text in zip(parts[1::2], parts[2::2], strict=True):
        msg = Parser(policy=policy.default).parsestr(text.strip("\n"))
        assert isinstance(msg, EmailMessage)
        out[step] = msg
    return out


def test_every_step_is_rendered_with_headers_and_body(cli: Cli) -> None:
    result = cli("preview", "founders-q3", "--prospect", "Ann@Acme.com", "--now", NOW, "--raw").ok()
    messages = _messages(result)
    assert list(messages) == ["intro", "bump", "case-study", "breakup"]
    for step, msg in messages.items():
        assert msg["To"] == "Ann Lee <ann@acme.com>", step
        assert msg["From"].addresses[0].domain in ("acme-mail.com", "tryacme.io")
        assert msg["Date"] == "Tue, 01 Dec 2026 09:30:00 +0000"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        links = re.findall(r"<([^>]+)>", str(msg["List-Unsubscribe"]))
        assert links[0].startswith("https://") and links[1].startswith("mailto:"), msg["List-Unsubscribe"]
        body = msg.get_content()
        assert "Ann" in body and "{{" not in body and "{%" not in body
        assert links[0] in body  # the footer's unsubscribe link is the header's
    intro, bump, case, breakup = messages.values()
    assert "Acme" in intro["Subject"]
    # Follow-ups thread under the previous message; the breakup starts a new subject.
    assert bump["Subject"] == "Re: " + intro["Subject"] and bump["In-Reply-To"] == intro["Message-ID"]
    assert case["In-Reply-To"] == bump["Message-ID"]
    assert breakup["Subject"] == "closing the loop, Ann"
    assert "slow onboarding" in case.get_content()  # a custom CSV column reaches the template
    assert SECRET not in result.text


def test_one_step_and_the_signing_secret(cli: Cli) -> None:
    first = _messages(cli("preview", "agencies-reengage", "--prospect", "ann@acme.com", "--step", "nudge", "--raw").ok())
    assert list(first) == ["nudge"] and first["nudge"]["Subject"].startswith("Re: ")
    other = _messages(cli("preview", "agencies-reengage", "--prospect", "ann@acme.com", "--step", "nudge", "--raw",
                          env={"OUTBOUND_SECRET": "another-signing-secret"}).ok())
    # The unsubscribe link is signed with the secret: another secret, another link.
    assert first["nudge"]["List-Unsubscribe"] != other["nudge"]["List-Unsubscribe"]
    # Without the secret there is no link to show: a clear error, never a link signed with a stand-in.
    missing = cli("preview", "agencies-reengage", "--prospect", "ann@acme.com", "--step", "nudge",
                  env={"OUTBOUND_SECRET": ""}).failed()
    assert "set OUTBOUND_SECRET" in missing.err and "List-Unsubscribe" not in missing.out


def test_a_missing_variable_is_a_clear_error_naming_it(cli: Cli) -> None:
    result = cli("preview", "founders-q3", "--prospect", "nofirst@acme.com", "--step", "bump").failed()
    assert "first_name" in result.err and "no value" in result.err
    assert "From:" not in result.out


def test_unknown_names_are_clear_errors(cli: Cli) -> None:
    cases = [
        (("nope", "--prospect", "ann@acme.com"), "no sequence named 'nope' (known: agencies-reengage, founders-q3)"),
        (("founders-q3", "--prospect", "ann@acme.com", "--step", "nope"), "has no step 'nope' (steps: intro, bump"),
        (("founders-q3", "--prospect", "zed@acme.com"), "no prospect zed@acme.com"),
        (("founders-q3", "--prospect", "ann@acme.com", "--now", "tomorrow"), "--now 'tomorrow' is not an ISO 8601 time"),
    ]
    results = cli.many(*(("preview", *args) for args, _ in cases))
    for result, (_, message) in zip(results, cases, strict=True):
        assert message in result.failed().err, result.err
        assert "From:" not in result.out
