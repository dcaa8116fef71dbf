from datetime import time, timedelta

import pytest
from pydantic import ValidationError

from outbound.spec.domain import SendingDomain
from outbound.spec.sequence import Condition, Sequence


def _seq(**over: object) -> dict[str, object]:
    base: dict[str, object] = {"name": "s", "senders": {"domains": ["a.com"]},
                               "steps": [{"id": "one", "subject": "hi", "body": "b"}]}
    base.update(over)
    return base


def test_sequence_defaults_and_aliases() -> None:
    seq = Sequence.model_validate(_seq(steps=[
        {"id": "one", "subject": "hi", "body": "b"},
        {"id": "two", "wait": "2 business days", "thread": True, "body": "x", "if": "no_reply", "on_false": "stop"},
    ]))
    assert seq.window.start == time(9) and seq.window.weekday_numbers == frozenset(range(5))
    assert seq.steps[1].condition is Condition.no_reply and seq.steps[1].on_false == "stop"
    assert seq.steps[1].wait.business_days == 2
    assert seq.step_index("two") == 1


@pytest.mark.parametrize(("over", "needle"), [
    ({"steps": [{"id": "a", "subject": "s", "body": "b"}, {"id": "a", "subject": "s", "body": "b"}]}, "unique"),
    ({"steps": [{"id": "a", "thread": True, "body": "b"}]}, "first step cannot be threaded"),
    ({"steps": [{"id": "a", "body": "b"}]}, "needs a subject"),
    ({"steps": [{"id": "a", "subject": "s"}]}, "needs a body"),
    ({"steps": [{"id": "a", "subject": "s", "body": "b", "body_file": "f"}]}, "either body or body_file"),
    ({"window": {"start": "17:00", "end": "09:00"}}, "start must be before"),
    ({"window": {"timezone": "Mars/Olympus"}}, "unknown time zone"),
    ({"senders": {}}, "at least one sending domain or mailbox"),
    ({"name": "has space"}, "letters, digits"),
    ({"steps": []}, "at least 1"),
])
def test_sequence_rejects(over: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        Sequence.model_validate(_seq(**over))


def _domain(**over: object) -> dict[str, object]:
    base: dict[str, object] = {"domain": "a.com", "smtp": {"host": "smtp.a.com"},
                               "mailboxes": [{"address": "x@a.com"}]}
    base.update(over)
    return base


def test_domain_warmup_and_gap() -> None:
    d = SendingDomain.model_validate(_domain(mailboxes=[
        {"address": "X@A.com", "daily_cap": 30, "warmup": {"start": 5, "increase": 3, "max": 40},
         "gap": {"min": "2m", "max": 300}}]))
    mb = d.mailboxes[0]
    assert mb.address == "x@a.com"
    assert [mb.cap_on_day(n) for n in (0, 1, 5, 8, 100)] == [5, 8, 20, 29, 30]  # capped by daily_cap
    assert mb.gap.min == timedelta(minutes=2) and mb.gap.max == timedelta(minutes=5)
    assert d.smtp_for(mb).host == "smtp.a.com"


@pytest.mark.parametrize(("over", "needle"), [
    ({"mailboxes": [{"address": "x@b.com"}]}, "not on the domain"),
    ({"mailboxes": [{"address": "x@a.com"}, {"address": "X@a.com"}]}, "listed twice"),
    ({"smtp": None}, "no smtp server"),
    ({"smtp": {"host": "h", "password_env": "hunter2 secret"}}, "environment variable"),
    ({"sending_ips": ["300.1.1.1"]}, "not an IP"),
    ({"mailboxes": [{"address": "not-an-address"}]}, "not an email address"),
    ({"mailboxes": [{"address": "x@a.com", "display_name": "Evil\r\nBcc: v@x.com"}]}, "control characters"),
    ({"mailboxes": [{"address": "x@a.com", "gap": {"min": "5m", "max": "1m"}}]}, "must not exceed"),
])
def test_domain_rejects(over: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        SendingDomain.model_validate(_domain(**over))
