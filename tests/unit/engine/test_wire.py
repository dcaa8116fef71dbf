"""The fast message writer gives exactly the bytes of ``RenderedMessage.as_bytes()``."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from outbound.engine.wire import fast_path, message_bytes
from outbound.render import ThreadInfo
from outbound.render.errors import RenderError
from tests.unit.render.helpers import links, prospect, render

PRINTABLE = string.ascii_letters + string.digits + " .,;:'\"()<>[]@!?&=-_/\\%+*#~`|{}^$"
names = st.text(alphabet=st.sampled_from([*PRINTABLE, "é", "Ω", "\t"]), min_size=1, max_size=40)
bodies = st.text(alphabet=st.sampled_from([*(string.ascii_letters + " .,\n\r"), "é"]), max_size=300)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(first=names, company=names, sender=names, subject=names, body=bodies, threaded=st.booleans(),
       refs=st.integers(0, 8))
def test_same_bytes_as_the_email_package(first: str, company: str, sender: str, subject: str, body: str,
                                         threaded: bool, refs: int) -> None:
    step = {"id": "a", "subject": subject + " {{ first_name }}", "body": body + "\nHi {{ first_name }} at {{ company }}"}
    steps: list[dict[str, Any]] = [step, {"id": "b", "thread": True, "body": body + " again {{ first_name }}"}]
    thread = None
    if threaded:
        thread = ThreadInfo(subject="Hello " + subject, message_id="<prev-0@acme.io>",
                            references=tuple(f"<ref-{i}-{'x' * 20}@acme.io>" for i in range(refs)))
    try:
        msg = render(steps, step=1 if threaded else 0, who=prospect(first_name=first.strip() or "X", company=company),
                     thread=thread, unsubscribe=links(), display_name=sender.strip() or "S")
    except (RenderError, ValidationError):  # the renderer refuses some hostile values; not this module's business
        assume(False)
        return
    assert fast_path(msg) == msg.text.isascii()  # hostile names and subjects stay on the fast path
    assert message_bytes(msg) == msg.as_bytes()


def test_plain_message_takes_the_fast_path_and_html_does_not() -> None:
    plain = render([{"id": "a", "subject": "Hi {{ first_name }}", "body": "Hello {{ first_name }}"}],
                   unsubscribe=links(), display_name="Alex Miller")
    assert fast_path(plain) and message_bytes(plain) == plain.as_bytes()
    html = render([{"id": "a", "subject": "Hi", "body": "Hello", "html": "<p>Hello</p>"}], unsubscribe=links())
    assert not fast_path(html) and b"multipart/alternative" in message_bytes(html)  # the slow path


url_chars = st.text(alphabet=st.sampled_from([*string.ascii_letters, *string.digits, *"@.:/?=&%-_+~ ,<>\t"]),
                    min_size=1, max_size=120)


@settings(max_examples=400, deadline=None)
@given(value=url_chars)
def test_list_unsubscribe_written_directly_folds_as_the_registry_does(value: str) -> None:
    from outbound.engine.wire import _header
    from outbound.render.headers import SMTP_POLICY

    expected = SMTP_POLICY.header_factory("List-Unsubscribe", value).fold(policy=SMTP_POLICY).encode("ascii")
    assert _header("List-Unsubscribe", value) == expected


def test_list_unsubscribe_of_a_real_send_is_one_line_per_url() -> None:
    from outbound.engine.wire import _header

    value = links("jo.o'neil+x@example.com").header
    folded = _header("List-Unsubscribe", value).decode("ascii")
    https, mailto = folded.removeprefix("List-Unsubscribe: ").removesuffix("\r\n").split(",\r\n ")
    assert https.startswith("<https://") and mailto.startswith("<mailto:") and mailto.endswith(">")
