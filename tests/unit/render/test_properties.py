"""Property tests: whatever a prospect's data holds, the header set is ours and nothing raises unexpectedly."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outbound.render import RenderError, spin
from outbound.render.spintax import SpintaxError
from outbound.tokens import sign, verify
from tests.unit.render.helpers import links, parsed, prospect, render

EXPECTED_HEADERS = {"From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post",
                    "Content-Type", "Content-Transfer-Encoding", "MIME-Version"}
hostile = st.text(alphabet=st.sampled_from(list("\r\n\x00\t\x0b\x0c\x1b\x7f\x85\u2028 :;<>@,\"'=?Bcc-Xé😀{}|%")) | st.characters(),
                  min_size=1, max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=hostile, last=hostile, company=hostile)
def test_prospect_data_never_changes_the_header_set(first: str, last: str, company: str) -> None:
    steps = [{"id": "a", "subject": "Hi {{ first_name }} at {{ company }}", "body": "{{ first_name }} {{ last_name }}"}]
    try:
        msg = render(steps, who=prospect(first_name=first, last_name=last, company=company), unsubscribe=links())
    except RenderError as exc:  # e.g. everything blank after cleaning: refused with a reason
        assert exc.reason
        return
    back = parsed(msg)
    assert set(back.keys()) == EXPECTED_HEADERS
    assert len(back.get_all("To") or []) == 1
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", str(back["Subject"]))


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("{}|%#ab ")), max_size=30), seed=st.text(max_size=5))
def test_spin_total_and_deterministic(text: str, seed: str) -> None:
    try:
        out = spin(text, seed)
    except SpintaxError:  # an unclosed group: refused, whatever the seed
        assert spintax_error_for_any_seed(text)
        return
    assert out == spin(text, seed)
    assert len(out) <= len(text)


def spintax_error_for_any_seed(text: str) -> bool:
    try:
        spin(text, "another seed")
    except SpintaxError:
        return True
    return False


@settings(max_examples=100, deadline=None)
@given(payload=st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=10), max_size=4),
       junk=st.text(max_size=60))
def test_tokens_round_trip_and_junk_refused(payload: dict[str, object], junk: str) -> None:
    assert verify(sign(payload, b"k" * 32), b"k" * 32) == payload
    assert verify(junk, b"k" * 32) is None
