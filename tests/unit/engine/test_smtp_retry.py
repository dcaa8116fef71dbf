"""The retry policy: bounded, growing, jittered, final for everything but temporary failures."""

from __future__ import annotations

import itertools
import random

import pytest

from outbound.core.outcome import SendOutcome, local_outcome
from outbound.engine.smtp_outcome import classify_smtp_reply
from outbound.rulebook.retry import GiveUp, Retry, RetryPolicy, retry_decision

TEMP = local_outcome("temporary", "connection_refused", "refused", "connect")
POLICY = RetryPolicy(max_attempts=6, base_delay=60, factor=2, max_delay=10_000, jitter=0.25)


def delays(seed: int, outcome: SendOutcome = TEMP, policy: RetryPolicy = POLICY) -> list[float]:
    rng = random.Random(seed)
    out = []
    for attempt in range(1, policy.max_attempts):
        d = retry_decision(attempt, outcome, rng, policy)
        assert isinstance(d, Retry), d
        out.append(d.delay)
    return out


def test_delays_grow_within_jitter_bounds() -> None:
    ds = delays(1)
    for i, d in enumerate(ds):
        nominal = 60 * 2**i
        assert nominal * 0.75 <= d <= nominal * 1.25
    assert all(a < b for a, b in itertools.pairwise(ds))


def test_jitter_differs_between_seeds_and_repeats_per_seed() -> None:
    assert delays(1) == delays(1)
    assert delays(1) != delays(2)
    firsts = {round(delays(s)[0], 6) for s in range(20)}
    assert len(firsts) == 20


def test_gives_up_at_the_limit() -> None:
    d = retry_decision(POLICY.max_attempts, TEMP, random.Random(0), POLICY)
    assert isinstance(d, GiveUp) and "6 attempts" in d.reason


def test_delay_is_capped() -> None:
    policy = RetryPolicy(max_attempts=30, base_delay=60, max_delay=600, jitter=0.1)
    d = retry_decision(20, TEMP, random.Random(0), policy)
    assert isinstance(d, Retry) and d.delay <= 660


def test_greylisting_waits_at_least_the_greylist_period() -> None:
    grey = classify_smtp_reply(450, "4.2.0 Greylisted, see http://postgrey")
    d = retry_decision(1, grey, random.Random(3))
    assert isinstance(d, Retry) and d.delay >= 300 * 0.75


@pytest.mark.parametrize("outcome", [
    local_outcome("ambiguous", "no_reply_after_data", "lost", "message"),
    classify_smtp_reply(250, "ok", stage="message"),
    classify_smtp_reply(550, "5.1.1 user unknown"),
    classify_smtp_reply(552, "5.2.2 mailbox full"),
    classify_smtp_reply(535, "5.7.8 bad credentials", stage="auth"),
    local_outcome("config_error", "starttls_unsupported", "no", "tls"),
])
def test_only_temporary_outcomes_are_retried(outcome: SendOutcome) -> None:
    d = retry_decision(1, outcome, random.Random(0))
    assert isinstance(d, GiveUp)
    if outcome.kind == "ambiguous":
        assert "never resend" in d.reason


def test_bad_policy_is_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(jitter=1.5)
