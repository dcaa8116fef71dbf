"""The dashboard over HTTP on SQLite and PostgreSQL: the login and what it guards, every page, the
figures against the report's, and each action ending in the same function and event as the CLI's."""

from __future__ import annotations

import re

from sqlmodel import col, select

from outbound.core import events as ev
from outbound.reports import queries
from outbound.reports.html import total
from outbound.store.db import session_scope
from outbound.store.tables import Enrollment, Event, MailboxState, Prospect, Suppression
from tests.integration.dashboard.conftest import PASSWORD, Dash

PAGES = ["/", "/?window=today", "/?window=30d", "/?window=all", "/sequences", "/sequences?window=all", "/mailboxes",
         "/replies", "/replies?show=all&intent=interested", "/replies?intent=none", "/people", "/people?q=pat1",
         "/sources", "/sources?window=30d"]


def _kpi(page: str, key: str) -> str:
    found = re.search(rf'data-testid="kpi-{key}"><b>([^<]+)</b>', page)
    assert found, f"no kpi-{key} on the page"
    return found.group(1)


def test_without_a_session_pages_redirect_to_the_login_and_posts_are_refused(dash: Dash) -> None:
    for path in PAGES:
        answer = dash.client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next="), path
    refused = dash.client.post("/mailboxes/pause", data={"target": "m0@d0.test", "csrf": "x"}, follow_redirects=False)
    assert refused.status_code == 403
    assert dash.login("wrong password") == 401
    assert dash.client.get("/", follow_redirects=False).status_code == 303
    with session_scope(dash.tw.engine) as s:
        assert s.exec(select(MailboxState).where(col(MailboxState.state) == "paused")).first() is None


def test_a_login_sets_a_strict_http_only_cookie_and_every_page_renders(dash: Dash) -> None:
    answer = dash.client.post("/login", data={"user": "admin", "password": PASSWORD, "next": "/replies"},
                              follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/replies"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=43200" in cookie
    for path in PAGES:
        page = dash.client.get(path)
        assert page.status_code == 200, path
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert "Traceback" not in page.text and "<script" not in page.text, path
    assert dash.client.get("/static/dashboard.css").headers["content-type"].startswith("text/css")
    assert dash.client.get("/replies/999999").status_code == 404
    assert dash.client.get("/people/nobody@nowhere.test").status_code == 404
    # "next" never leads off the site
    away = dash.client.post("/login", data={"user": "admin", "password": PASSWORD, "next": "//evil.test/x"},
                            follow_redirects=False)
    assert away.headers["location"] == "/"


def test_the_overview_shows_the_reports_figures_for_each_window(dash: Dash) -> None:
    dash.login()
    from outbound.dashboard.figures import window_starts

    starts = window_starts(dash.client.app.state.deps.figures.get().taken_at)  # type: ignore[attr-defined]
    for window, since in starts.items():
        report = total(queries.grouped(queries.load_facts(dash.tw.engine, since), "sequence"))
        page = dash.client.get(f"/?window={window}").text
        assert _kpi(page, "sent") == str(report.sent), window
        assert _kpi(page, "delivered") == str(report.delivered), window
        for c in queries.COLUMNS:
            rate = report.rate_of(c)
            assert _kpi(page, c.rate_key.replace("_", "-")) == ("-" if rate is None else f"{rate:.1%}"), (window, c.key)
    assert int(_kpi(dash.client.get("/?window=all").text, "sent")) == dash.history.sends


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(dash: Dash) -> None:
    dash.login()
    for data in ({"target": "m0@d0.test"}, {"target": "m0@d0.test", "csrf": "forged"}):
        answer = dash.client.post("/mailboxes/pause", data=data, follow_redirects=False)
        assert answer.status_code == 403 and "CSRF" in answer.text
    with session_scope(dash.tw.engine) as s:
        assert s.exec(select(MailboxState).where(col(MailboxState.state) == "paused")).first() is None


def test_failed_logins_are_rate_limited(dash: Dash) -> None:
    assert [dash.login("nope") for _ in range(5)] == [401] * 5
    held = dash.client.post("/login", data={"user": "admin", "password": PASSWORD}, follow_redirects=False)
    assert held.status_code == 429 and int(held.headers["retry-after"]) > 0
    assert "Too many failed logins" in held.text


def _events(dash: Dash, kind: str) -> list[dict[str, object]]:
    with session_scope(dash.tw.engine) as s:
        return [dict(d) for d in s.exec(select(Event.data).where(col(Event.type) == kind))]


def test_each_action_is_the_clis_and_records_who_did_it(dash: Dash) -> None:
    dash.login()
    token = dash.csrf("/mailboxes")
    post = dash.client.post
    assert post("/mailboxes/pause", data={"csrf": token, "target": "m1@d0.test", "reason": "warming"}).status_code == 200
    with session_scope(dash.tw.engine) as s:
        box = s.get(MailboxState, "m1@d0.test")
        assert box is not None and (box.state, box.pause_reason) == ("paused", "paused by hand: warming")
    page = dash.client.get("/mailboxes").text
    assert "paused by hand: warming" in page
    assert "not a mailbox" in post("/mailboxes/pause", data={"csrf": token, "target": "m9@d0.test"}).text
    post("/mailboxes/resume", data={"csrf": token, "target": "m1@d0.test"})
    assert [e["by"] for e in _events(dash, ev.MAILBOX_PAUSED)] == ["dashboard:admin"]
    assert [e["by"] for e in _events(dash, ev.MAILBOX_RESUMED)] == ["dashboard:admin"]

    with session_scope(dash.tw.engine) as s:
        active = s.exec(select(Prospect.email).join(Enrollment, col(Enrollment.prospect_id) == col(Prospect.id))
                        .where(col(Enrollment.state) == "active").order_by(col(Prospect.id))).all()
    one, two = active[0], active[1]
    shown = post(f"/people/{one}/change", data={"csrf": token, "action": "pause", "reason": "on leave"}).text
    assert f"{one}: paused (1 enrollment(s) changed)" in shown
    post(f"/people/{one}/change", data={"csrf": token, "action": "stop"})
    post(f"/people/{two}/change", data={"csrf": token, "action": "unsubscribe"})
    with session_scope(dash.tw.engine) as s:
        states = dict(s.exec(select(Prospect.email, Enrollment.state).join(
            Enrollment, col(Enrollment.prospect_id) == col(Prospect.id)).where(col(Prospect.email).in_([one, two]))).all())
        assert states == {one: "stopped", two: "stopped"}
        assert s.exec(select(Suppression).where(col(Suppression.value) == two)).first() is not None
    assert [(e["action"], e["by"]) for e in _events(dash, ev.OPERATOR_ACTION)] == [
        ("pause", "dashboard:admin"), ("stop", "dashboard:admin")]
    assert [(e["how"], e.get("by")) for e in _events(dash, ev.UNSUBSCRIBED) if e.get("how") == "hand"] == [
        ("hand", "dashboard:admin")]
    timeline = dash.client.get(f"/people/{one}").text
    assert "operator_action (stop)" in timeline and "dashboard:admin" in timeline


def test_a_reply_is_answered_corrected_and_marked_done(dash: Dash) -> None:
    dash.login()
    inbox = dash.client.get("/replies?show=all").text
    first = int(re.findall(r'data-testid="reply-(\d+)"', inbox)[0])
    page = dash.client.get(f"/replies/{first}").text
    assert "Can you tell me more about pricing?" in page
    token = dash.csrf(f"/replies/{first}")
    said = dash.client.post(f"/replies/{first}/answer", data={"csrf": token, "body": "Here is our pricing.\r\n"}).text
    assert "answer sent to" in said
    [answer] = dash.sink.messages
    assert "Here is our pricing." in answer.message.get_content() and answer.message["In-Reply-To"]
    assert [e["by"] for e in _events(dash, ev.REPLY_ANSWERED)] == ["dashboard:admin"]
    assert "answered" in dash.client.get(f"/replies/{first}").text
    empty = dash.client.post(f"/replies/{first}/answer", data={"csrf": token, "body": "  "}).text
    assert "not sent: the answer is empty" in empty and len(dash.sink.messages) == 1

    second = int(re.findall(r'data-testid="reply-(\d+)"', dash.client.get("/replies").text)[0])
    assert second != first, "an answered reply is no longer open"
    fixed = dash.client.post(f"/replies/{second}/intent", data={"csrf": token, "intent": "meeting_request"}).text
    assert "-&gt; meeting_request" in fixed
    assert "not changed: unknown intent" in dash.client.post(f"/replies/{second}/intent",
                                                             data={"csrf": token, "intent": "maybe"}).text
    with session_scope(dash.tw.engine) as s:
        reply = s.get(Event, second)
        assert reply is not None and (reply.data["intent"], reply.data["intent_set_by"]) == ("meeting_request",
                                                                                           "dashboard:admin")
    assert "marked done" in dash.client.post(f"/replies/{second}/done", data={"csrf": token}).text
    assert f'data-testid="reply-{second}"' not in dash.client.get("/replies").text
    assert [e["by"] for e in _events(dash, ev.REPLY_HANDLED)] == ["dashboard:admin", "dashboard:admin"]


def test_logout_ends_the_session(dash: Dash) -> None:
    dash.login()
    token = dash.csrf()
    assert dash.client.post("/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert dash.client.get("/", follow_redirects=False).status_code == 303


def test_the_mailboxes_page_shows_each_domains_last_check_with_its_fixes(dash: Dash) -> None:
    from outbound.rulebook.facts import DomainCheck
    from outbound.store.domain_health import apply_domain_checks

    dash.login()
    assert "No DNS check recorded yet" in dash.client.get("/mailboxes").text
    finding = {"check": "dmarc", "severity": "error", "code": "dmarc_missing", "message": "no DMARC record",
               "fix": "publish v=DMARC1; p=none at _dmarc.d0.test"}
    apply_domain_checks(dash.tw.engine, [DomainCheck("d0.test", ("m0@d0.test", "m1@d0.test"), "dmarc: no DMARC record",
                                                     dash.now, {"verdict": "fail", "findings": [finding]})], dash.now)
    page = dash.client.get("/mailboxes").text
    assert "publish v=DMARC1; p=none at _dmarc.d0.test" in page and ">fail</b>" in page
    assert page.count("domain health check failed: dmarc: no DMARC record") == 2  # both mailboxes, paused
