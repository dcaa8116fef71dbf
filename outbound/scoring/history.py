"""The store's answers to what a rule asks of a prospect's past (``rules.History``), within the batch's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlmodel import Session

from outbound.core import events as ev
from outbound.scoring.rules import EnrollmentView, EventView, is_person
from outbound.store import rule_history as store

_ENGAGED = [ev.REPLIED, ev.CLICKED]


class StoreHistory:
    def __init__(self, session: Session, steps: Mapping[str, int]) -> None:
        self.session, self.steps = session, steps
        self._enrollments: dict[int, EnrollmentView | None] = {}

    def count(self, prospect_id: int, types: list[str], since: datetime | None, upto: EventView) -> int:
        rows = store.events_of(self.session, prospect_id, types, since, upto.id)
        return sum(1 for t, _, data in rows if is_person(t, data))

    def contacts(self, account: str, types: list[str], since: datetime | None, upto: EventView) -> int:
        rows = store.account_events(self.session, account, types, since, upto.id)
        return len({pid for pid, t, data in rows if is_person(t, data)})

    def enrollment(self, enrollment_id: int) -> EnrollmentView | None:
        if enrollment_id not in self._enrollments:
            self._enrollments[enrollment_id] = self._look_up(enrollment_id)
        return self._enrollments[enrollment_id]

    def _look_up(self, enrollment_id: int) -> EnrollmentView | None:
        facts = store.enrollment_facts(self.session, enrollment_id)
        if facts is None:
            return None
        engaged = store.events_of(self.session, facts.prospect_id, _ENGAGED, facts.created_at, 2 ** 62)
        # the last step's send is the end: the engine marks the enrollment completed at its next tick
        steps = self.steps.get(facts.sequence)
        done = facts.state == "completed" or (steps is not None and facts.steps_done >= steps)
        return EnrollmentView(facts.sequence, "completed" if done else facts.state, facts.steps_sent,
                              any(is_person(t, data) for t, _, data in engaged))
