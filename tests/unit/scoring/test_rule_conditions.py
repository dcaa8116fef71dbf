"""Rule conditions over a prospect's past (counts in a window, ghosted, completed) and the new actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from outbound.core import events as ev
from outbound.rulebook.decide import decide
from outbound.rulebook.facts import RuleAction
from outbound.scoring.rules import EnrollmentView, EventView, ProspectChange, evaluate, is_person
from outbound.scoring.spec import ScoringSpec

T0 = datetime(2026, 12, 1, tzinfo=UTC)


class FakeHistory:
    """The prospect's past as a list of events; enrollments by id."""

    def __init__(self, past: list[EventView], enrollments: dict[int, EnrollmentView] | None = None) -> None:
        self.past, self.enrollments = past, enrollments or {}

    def count(self, prospect_id: int, types: list[str], since: datetime | None, upto: EventView) -> int:
        return sum(1 for e in self.past if e.type in types and e.id <= upto.id and (since is None or e.at >= since)
                   and is_person(e.type, e.data))

    def enrollment(self, enrollment_id: int) -> EnrollmentView | None:
        return self.enrollments.get(enrollment_id)

    def contacts(self, account: str, types: list[str], since: datetime | None, upto: EventView) -> int:
        return len({e.prospect_id for e in self.past if e.type in types and e.id <= upto.id
                    and (since is None or e.at >= since)})


def _spec(*rules: dict[str, object]) -> ScoringSpec:
    return ScoringSpec.model_validate({"rules": list(rules)})


def _opens(days: list[float], machine: set[int] = frozenset()) -> list[EventView]:  # type: ignore[assignment]
    return [EventView(i + 1, ev.OPENED, T0 + timedelta(days=d), 7, 70, {"machine": True} if i in machine else {})
            for i, d in enumerate(days)]


PREMIUM = {"name": "engaged", "when": {"event": "opened", "at_least": 3, "within": "14d"}, "enroll": "premium"}


def test_three_opens_within_the_window_enroll_once_machine_opens_never_count() -> None:
    spec = _spec(PREMIUM)
    two = _opens([0, 1])
    assert evaluate(spec.rules, ProspectChange(7, None, events=two, history=FakeHistory(two))) == []
    # a third open, but 20 days after the first: only two within 14 days
    late = _opens([0, 10, 20])
    assert evaluate(spec.rules, ProspectChange(7, None, events=late[2:], history=FakeHistory(late))) == []
    # three opens, one of them a machine's: not enough
    machine = _opens([0, 1, 2], machine={1})
    assert evaluate(spec.rules, ProspectChange(7, None, events=machine, history=FakeHistory(machine))) == []
    three = _opens([0, 1, 2, 3])
    decisions = evaluate(spec.rules, ProspectChange(7, None, events=three[2:], history=FakeHistory(three)))
    assert [(d.kind, d.move_to, d.event.id, d.keep_current) for d in decisions] == [("enroll", "premium", 3, True)]
    assert decisions[0].key == "engaged:enroll:prospect:7"  # once per prospect: a later open gives the same key
    assert "3 opened within 14d >= 3" in decisions[0].reason
    fourth = evaluate(spec.rules, ProspectChange(7, None, events=three[3:], history=FakeHistory(three)))
    assert [d.key for d in fourth] == [decisions[0].key]


def _sent(i: int, enrollment: int = 70) -> EventView:
    return EventView(i, ev.SENT, T0, 7, enrollment, {})


def test_ghosted_after_steps_or_completion_and_not_when_engaged() -> None:
    spec = _spec({"name": "quiet", "when": {"ghosted": {"steps": 2}}, "pause": {"until_event": "qualified"}},
                 {"name": "done", "when": {"completed": "intro"}, "hot": True},
                 {"name": "gone", "when": {"ghosted": True}, "stop": True})
    one = FakeHistory([], {70: EnrollmentView("intro", "active", 1, False)})
    assert evaluate(spec.rules, ProspectChange(7, None, events=[_sent(1)], history=one)) == []
    two = FakeHistory([], {70: EnrollmentView("intro", "active", 2, False)})
    [pause] = evaluate(spec.rules, ProspectChange(7, None, events=[_sent(2)], history=two))
    assert (pause.rule, pause.kind, pause.until_event, pause.pause_for) == ("quiet", "pause", "qualified", None)
    assert "ghosted: intro 2 steps sent with no reply and no click" in pause.reason
    replied = FakeHistory([], {70: EnrollmentView("intro", "active", 2, True)})
    assert evaluate(spec.rules, ProspectChange(7, None, events=[_sent(2)], history=replied)) == []
    done = FakeHistory([], {70: EnrollmentView("intro", "completed", 3, False)})
    kinds = {(d.rule, d.kind) for d in evaluate(spec.rules, ProspectChange(7, None, events=[_sent(3)], history=done))}
    assert kinds == {("quiet", "pause"), ("done", "hot"), ("gone", "stop")}
    other = FakeHistory([], {70: EnrollmentView("other", "completed", 3, True)})
    assert evaluate(spec.rules, ProspectChange(7, None, events=[_sent(3)], history=other)) == []


def test_the_awaited_event_lifts_the_rules_own_pause_once_per_event() -> None:
    spec = _spec({"name": "quiet", "when": {"ghosted": {"steps": 2}}, "pause": {"until_event": "qualified"}},
                 {"name": "back", "when": {"event": "meeting_booked"}, "resume": True})
    q = EventView(9, ev.QUALIFIED, T0, 7, None, {})
    [resume] = evaluate(spec.rules, ProspectChange(7, None, events=[q]))
    assert (resume.kind, resume.until_event, resume.key) == ("resume", "qualified", "quiet:resume_on:prospect:7:9")
    m = EventView(10, ev.MEETING_BOOKED, T0, 7, None, {})
    [lift] = evaluate(spec.rules, ProspectChange(7, None, events=[m]))
    assert (lift.kind, lift.until_event, lift.key) == ("resume", None, "back:resume:prospect:7")


def test_rulebook_pause_until_event_is_lifted_only_by_that_event() -> None:
    pause = decide(RuleAction("pause", "rule 'quiet': ghosted", 7, T0, enrollment_id=70, until_event="job_change"))
    [change] = pause.enrollments
    assert (change.action, change.reach, change.at) == ("pause", "enrollment", None)
    assert change.reason == "waiting for job_change: rule 'quiet': ghosted"
    [lift] = decide(RuleAction("resume", "job_change arrived", 7, T0, until_event="job_change")).enrollments
    assert (lift.action, lift.reach, lift.only_reason_prefix) == ("resume", "prospect", "waiting for job_change:")
    assert change.reason.startswith(lift.only_reason_prefix or "")
    [any_pause] = decide(RuleAction("resume", "rule", 7, T0)).enrollments
    assert any_pause.only_reason_prefix is None
    assert decide(RuleAction("enroll", "r", 7, T0, move_to="premium")).enrollments == ()
    [stop] = decide(RuleAction("enroll", "r", 7, T0, move_to="premium", keep_current=False)).enrollments
    assert (stop.action, stop.reach, stop.keep_sequence) == ("stop", "prospect", "premium")


@pytest.mark.parametrize(("rule", "message"), [
    ({"when": {"event": "opened", "within": "14d"}, "hot": True}, "'within' needs 'at_least'"),
    ({"when": {"at_least": 3}, "hot": True}, "give 'event' too"),
    ({"when": {"event": "replied", "at_least": 2, "contacts_at_least": 2}, "hot": True}, "not both"),
    ({"when": {"event": "opened", "ghosted": True}, "hot": True}, "not both"),
    ({"when": {"ghosted": {"steps": 0}}, "hot": True}, "greater than 0"),
    ({"when": {"ghosted": True}, "pause": {"until_event": "job_chnage"}}, "unknown event type"),
    ({"when": {"ghosted": True}, "resume": True, "stop": True}, "either resume or pause/stop"),
    ({"when": {"ghosted": True}, "enroll": "a", "move_to": "b"}, "either enroll or move_to"),
])
def test_bad_conditions_and_actions_are_refused(rule: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _spec({"name": "r", **rule})


def test_the_rules_read_sent_events_and_the_awaited_ones() -> None:
    spec = _spec({"name": "quiet", "when": {"ghosted": True}, "pause": {"until_event": "qualified"}}, PREMIUM)
    assert spec.rule_event_types == {ev.SENT, ev.QUALIFIED, ev.OPENED}


def test_the_accounts_second_replying_contact_acts_once_for_the_account() -> None:
    spec = _spec({"name": "committee", "when": {"event": "replied", "contacts_at_least": 2, "within": "30d"},
                  "stop_account": True, "hot": True})
    first = EventView(1, ev.REPLIED, T0, 7, 70, {})
    again = EventView(2, ev.REPLIED, T0 + timedelta(days=1), 7, 70, {})   # the same contact twice: one contact
    second = EventView(3, ev.REPLIED, T0 + timedelta(days=2), 8, 80, {})
    past = [first, again, second]
    assert evaluate(spec.rules, ProspectChange(7, "acme.test", events=[first, again], history=FakeHistory(past))) == []
    decisions = evaluate(spec.rules, ProspectChange(8, "acme.test", events=[second], history=FakeHistory(past)))
    assert {(d.kind, d.key) for d in decisions} == {("stop_account", "committee:stop_account:account:acme.test"),
                                                   ("hot", "committee:hot:account:acme.test")}
    assert "2 contacts of acme.test with replied within 30d >= 2" in decisions[0].reason
    assert evaluate(spec.rules, ProspectChange(8, None, events=[second], history=FakeHistory(past))) == []


def test_an_account_pause_until_an_event_covers_every_contact_and_any_contact_lifts_it() -> None:
    spec = _spec({"name": "wait-funding", "when": {"event": "lost"}, "pause": {"until_event": "qualified",
                                                                              "account": True}})
    lost = EventView(1, ev.LOST, T0, 7, None, {})
    [pause] = evaluate(spec.rules, ProspectChange(7, "acme.test", events=[lost]))
    assert (pause.kind, pause.subject_kind, pause.subject, pause.key) == ("pause", "account", "acme.test",
                                                                          "wait-funding:pause:account:acme.test")
    assert evaluate(spec.rules, ProspectChange(7, None, events=[lost])) == []   # no company domain: no account
    q = EventView(2, ev.QUALIFIED, T0, 8, None, {})
    [resume] = evaluate(spec.rules, ProspectChange(8, "acme.test", events=[q]))
    assert (resume.kind, resume.subject_kind, resume.subject) == ("resume", "account", "acme.test")
    [change] = decide(RuleAction("pause", "r", 7, T0, until_event="qualified", account="acme.test")).enrollments
    assert change.reach == "account" and change.reason.startswith("waiting for qualified:")
    [lift] = decide(RuleAction("resume", "r", 8, T0, until_event="qualified", account="acme.test")).enrollments
    assert (lift.reach, lift.only_reason_prefix) == ("account", "waiting for qualified:")
