"""`outbound replies set-intent EVENT_ID INTENT` through the CLI on a fresh workspace."""

from __future__ import annotations

from tests.acceptance.conftest import Cli, sqlite_rows, write_csv


def test_set_intent_corrects_the_event_and_do_not_contact_suppresses(workspace: Cli) -> None:
    assert workspace.config is not None
    people = write_csv(workspace.config.parent / "people.csv", "email,first_name", ["ida@acme.test,Ida"])
    workspace("prospects", "import", str(people)).ok()
    workspace("events", "add", "ida@acme.test", "replied", "--at", "2026-11-30T09:00:00Z").ok()
    ((event_id,),) = sqlite_rows(workspace.config, "SELECT id FROM events WHERE type = 'replied'")
    done, unknown, missing = workspace.many(("replies", "set-intent", str(event_id), "do_not_contact"),
                                            ("replies", "set-intent", str(event_id), "keen"),
                                            ("replies", "set-intent", "99999", "interested"))
    assert f"event {event_id}: intent none -> do_not_contact" in done.ok().out
    assert "unknown intent 'keen'; expected one of: interested" in unknown.failed().err
    assert "no event 99999" in missing.failed().err
    ((data,),) = sqlite_rows(workspace.config, "SELECT data FROM events WHERE id = ?", event_id)
    assert '"intent": "do_not_contact"' in data and '"positive": false' in data and '"intent_set_by": "hand"' in data
    assert sqlite_rows(workspace.config, "SELECT value FROM suppressions") == [("ida@acme.test",)]
